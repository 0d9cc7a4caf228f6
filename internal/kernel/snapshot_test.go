package kernel

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run fetchDeb's fallback for real: apt-get against a Debian
// mirror that refuses connections, then the snapshot archive's API served by
// a local archive (httptest on 127.0.0.1) from a .deb that dpkg-deb builds
// here. Nothing goes to the network.

const (
	snapPkg     = "linux-kbuild-9.9"
	snapVersion = "9.9.1-1"
	snapSuite   = "sid"
)

// needTools skips the test when a tool is missing on a developer's machine,
// and fails it in CI, where a skip would hide that the fallback went untested.
func needTools(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed: the snapshot-archive tests need it (apt-get install apt dpkg), and CI must not skip them", p)
			}
			t.Skipf("%s is not installed (in CI this fails)", p)
		}
	}
}

// buildDeb makes a real, tiny .deb of snapPkg with dpkg-deb --build.
func buildDeb(t *testing.T) []byte {
	t.Helper()
	needTools(t, "apt-get", "apt-cache", "dpkg-deb")
	root := filepath.Join(t.TempDir(), "pkg")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "usr/share/doc", snapPkg), 0o755))
	require.NoError(t, os.Chmod(root, 0o755))
	control := "Package: " + snapPkg + "\n" +
		"Version: " + snapVersion + "\n" +
		"Architecture: amd64\n" +
		"Maintainer: netl tests <netl@example.invalid>\n" +
		"Description: a package of the netl snapshot-archive test\n"
	require.NoError(t, os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/share/doc", snapPkg, "README"), []byte("netl test package\n"), 0o644))
	out := filepath.Join(t.TempDir(), "out.deb")
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, out)
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "dpkg-deb --build: %s", msg)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	// It is a Debian package, as apt would have downloaded it.
	info, err := exec.Command("dpkg-deb", "--field", out, "Package", "Version", "Architecture").CombinedOutput()
	require.NoError(t, err, "%s", info)
	assert.Equal(t, "Package: "+snapPkg+"\nVersion: "+snapVersion+"\nArchitecture: amd64\n", string(info))
	return data
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// archive is a local snapshot archive: it knows the files of some
// package versions and records every request it is sent.
type archive struct {
	mu       sync.Mutex
	files    map[string][]byte // "pkg/version" -> the .deb it serves
	requests []string
}

func (a *archive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.requests = append(a.requests, r.Method+" "+r.URL.RequestURI())
	a.mu.Unlock()
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	// /mr/binary/PKG/VERSION/binfiles?fileinfo=1
	if f := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/"); len(f) == 5 && f[0] == "mr" && f[1] == "binary" && f[4] == "binfiles" {
		body, ok := a.files[f[2]+"/"+f[3]]
		if !ok || r.URL.Query().Get("fileinfo") != "1" {
			http.Error(w, `{"error": "No such binary package"}`, http.StatusNotFound)
			return
		}
		h := sha1Hex(body)
		type fileinfo struct {
			ArchiveName string `json:"archive_name"`
			FirstSeen   string `json:"first_seen"`
			Name        string `json:"name"`
			Path        string `json:"path"`
			Size        int    `json:"size"`
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"_comment": "foo",
			"result":   []map[string]string{{"architecture": "amd64", "hash": h}},
			"fileinfo": map[string][]fileinfo{h: {{
				ArchiveName: "debian",
				FirstSeen:   "20250101T000000Z",
				Name:        f[2] + "_" + f[3] + "_amd64.deb",
				Path:        "/pool/main/l/linux",
				Size:        len(body),
			}}},
		})
		return
	}
	// /file/SHA1
	if h, ok := strings.CutPrefix(r.URL.Path, "/file/"); ok {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, body := range a.files {
			if sha1Hex(body) == h {
				w.Header().Set("Content-Type", "application/octet-stream")
				_, _ = w.Write(body)
				return
			}
		}
	}
	http.NotFound(w, r)
}

func (a *archive) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.requests...)
}

// snapshotEnv points netl at a fresh cache, a Debian mirror where nothing
// listens and a local snapshot archive serving files.
func snapshotEnv(t *testing.T, files map[string][]byte) (cache string, a *archive) {
	t.Helper()
	needTools(t, "apt-get", "apt-cache", "dpkg-deb") // fetchDeb runs them

	a = &archive{files: files}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(a)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)

	// A port that was just free: connections to it are refused, so apt fails
	// at once instead of timing out.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadURL := "http://" + dead.Addr().String()
	require.NoError(t, dead.Close())

	// apt retries a refused connection three times with a back-off (7 s),
	// more where apt.conf.d says so: for these tests only, APT_CONFIG (read
	// before anything else) sets no retries and an empty apt.conf.d.
	// fetch.go's own -o options still apply on top.
	aptConf := filepath.Join(t.TempDir(), "apt.conf")
	require.NoError(t, os.WriteFile(aptConf, []byte(
		"Acquire::Retries \"0\";\nDir::Etc::Parts \""+t.TempDir()+"\";\n"), 0o644))

	t.Setenv("NETL_CACHE", t.TempDir())
	t.Setenv("NETL_SNAPSHOT", srv.URL)
	t.Setenv("NETL_DEBIAN_MIRROR", deadURL)
	t.Setenv("APT_CONFIG", aptConf)
	cache, err = CacheDir()
	require.NoError(t, err)
	require.Equal(t, os.Getenv("NETL_CACHE"), cache)
	return cache, a
}

func snapDeb(sum string) Deb {
	return Deb{Package: snapPkg, Version: snapVersion, Suite: snapSuite, SHA256: sum}
}

// assertAptFailed checks that err (or its first part) is the apt step's
// failure against the dead mirror.
func assertAptFailed(t *testing.T, err error) {
	t.Helper()
	if _, statErr := os.Stat(Keyring); statErr != nil {
		// Without Debian's keyring apt is not run at all.
		assert.Contains(t, err.Error(), "debian-archive-keyring")
		return
	}
	assert.Contains(t, err.Error(), "reading Debian's "+snapSuite+" index")
	assert.Contains(t, err.Error(), "apt-get update")
	assert.Contains(t, err.Error(), os.Getenv("NETL_DEBIAN_MIRROR"))
}

func TestSnapshotFallback(t *testing.T) {
	deb := buildDeb(t)
	cache, a := snapshotEnv(t, map[string][]byte{snapPkg + "/" + snapVersion: deb})
	d := snapDeb(sha256Hex(deb))

	var log bytes.Buffer
	got, err := fetchDeb(cache, d, &log)
	require.NoError(t, err, "log:\n%s", log.String())
	assert.Equal(t, filepath.Join(cache, "debs", snapPkg+"_"+snapVersion+"_amd64.deb"), got)
	data, err := os.ReadFile(got)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(deb, data), "the cached file is not the archive's .deb")
	assert.Equal(t, []string{
		"GET /mr/binary/" + snapPkg + "/" + snapVersion + "/binfiles?fileinfo=1",
		"GET /file/" + sha1Hex(deb),
	}, a.seen())
	assert.Contains(t, log.String(), "came from the snapshot archive ("+os.Getenv("NETL_SNAPSHOT")+")")
	// Only the file is left: no temporary download directory.
	entries, err := os.ReadDir(filepath.Join(cache, "debs"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, filepath.Base(got), entries[0].Name())

	// The second time it is the cache's, verified, without a request.
	log.Reset()
	again, err := fetchDeb(cache, d, &log)
	require.NoError(t, err)
	assert.Equal(t, got, again)
	assert.Len(t, a.seen(), 2, "the cached .deb was fetched again")
	assert.Empty(t, log.String())
}

func TestSnapshotChecksumMismatch(t *testing.T) {
	deb := buildDeb(t)
	// The archive serves something else under the pinned name.
	bad := append(append([]byte(nil), deb...), '\n')
	cache, a := snapshotEnv(t, map[string][]byte{snapPkg + "/" + snapVersion: bad})
	d := snapDeb(sha256Hex(deb))

	_, err := fetchDeb(cache, d, &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "checksum mismatch for "+snapPkg+" "+snapVersion)
	assert.Contains(t, err.Error(), d.SHA256)
	assert.Contains(t, err.Error(), sha256Hex(bad))
	assert.Equal(t, []string{
		"GET /mr/binary/" + snapPkg + "/" + snapVersion + "/binfiles?fileinfo=1",
		"GET /file/" + sha1Hex(bad),
	}, a.seen())
	// Nothing is kept: no .deb, no .download-* directory.
	entries, err := os.ReadDir(filepath.Join(cache, "debs"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Empty(t, names, "left in $NETL_CACHE/debs")
	debs, _ := filepath.Glob(filepath.Join(cache, "debs", "*.deb"))
	assert.Empty(t, debs)
	tmps, _ := filepath.Glob(filepath.Join(cache, "debs", ".download-*"))
	assert.Empty(t, tmps)
}

func TestSnapshotMissingVersion(t *testing.T) {
	deb := buildDeb(t)
	// The archive has the package, but not in the pinned version.
	cache, a := snapshotEnv(t, map[string][]byte{snapPkg + "/9.9.0-1": deb})
	d := snapDeb(sha256Hex(deb))

	_, err := fetchDeb(cache, d, &bytes.Buffer{})
	require.Error(t, err)
	apt, snap, ok := strings.Cut(err.Error(), "\nnor from Debian's snapshot archive: ")
	require.True(t, ok, "the error does not name the snapshot archive: %v", err)
	assertAptFailed(t, errorString(apt))
	assert.Contains(t, snap, "/mr/binary/"+snapPkg+"/"+snapVersion+"/binfiles?fileinfo=1")
	assert.Contains(t, snap, "404 Not Found")
	assert.Equal(t, []string{"GET /mr/binary/" + snapPkg + "/" + snapVersion + "/binfiles?fileinfo=1"}, a.seen())
	entries, err := os.ReadDir(filepath.Join(cache, "debs"))
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestSnapshotResolvable(t *testing.T) {
	deb := buildDeb(t)
	cache, a := snapshotEnv(t, map[string][]byte{snapPkg + "/" + snapVersion: deb})

	from, err := Resolvable(cache, snapDeb(sha256Hex(deb)), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "the snapshot archive", from)

	other := snapDeb(sha256Hex(deb))
	other.Version = "9.9.2-1"
	from, err = Resolvable(cache, other, &bytes.Buffer{})
	require.Error(t, err)
	assert.Empty(t, from)
	// Both failures: the suite's index (apt) and the archive's 404.
	assert.Contains(t, err.Error(), "reading Debian's "+snapSuite+" index")
	assert.Contains(t, err.Error(), os.Getenv("NETL_DEBIAN_MIRROR"))
	assert.Contains(t, err.Error(), "; snapshot: ")
	assert.Contains(t, err.Error(), "/mr/binary/"+snapPkg+"/9.9.2-1/binfiles?fileinfo=1: 404 Not Found")
	// Resolvable downloads no file, only the file lists.
	assert.Equal(t, []string{
		"GET /mr/binary/" + snapPkg + "/" + snapVersion + "/binfiles?fileinfo=1",
		"GET /mr/binary/" + snapPkg + "/9.9.2-1/binfiles?fileinfo=1",
	}, a.seen())
	_, err = os.Stat(filepath.Join(cache, "debs"))
	assert.True(t, os.IsNotExist(err), "Resolvable made $NETL_CACHE/debs")
}

type errorString string

func (e errorString) Error() string { return string(e) }
