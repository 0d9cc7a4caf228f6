package kernel

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// snapshotBase is Debian's snapshot archive, which keeps every version of
// every package Debian ever published: the pins' fallback when a suite has
// dropped a version (sid and the -security suites do within weeks).
// NETL_SNAPSHOT replaces it (a mirror of it, or a test's local archive).
func snapshotBase() string {
	if b := os.Getenv("NETL_SNAPSHOT"); b != "" {
		return strings.TrimRight(b, "/")
	}
	return "https://snapshot.debian.org"
}

// snapshotClient bounds each request: the archive is slow at times, and a
// hung fetch must end in an error that names it.
var snapshotClient = &http.Client{Timeout: 10 * time.Minute}

// binfiles is snapshot.debian.org's answer to
// /mr/binary/PACKAGE/VERSION/binfiles?fileinfo=1.
type binfiles struct {
	Result []struct {
		Architecture string `json:"architecture"`
		Hash         string `json:"hash"` // sha1, the name under /file/
	} `json:"result"`
	Fileinfo map[string][]struct {
		ArchiveName string `json:"archive_name"`
		Name        string `json:"name"`
		Path        string `json:"path"`
		Size        int64  `json:"size"`
	} `json:"fileinfo"`
}

var (
	debFileRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+.~_%-]*\.deb$`)
	sha1RE    = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// binfilesURL asks the snapshot archive which files hold d.
func binfilesURL(d Deb) string {
	return fmt.Sprintf("%s/mr/binary/%s/%s/binfiles?fileinfo=1", snapshotBase(), url.PathEscape(d.Package), url.PathEscape(d.Version))
}

// downloadSnapshot fetches the exact package and version d names from the
// snapshot archive, into a temporary directory of the cache, and returns
// the file and its sha256 (the caller compares it with the pin).
func downloadSnapshot(cache string, d Deb, log io.Writer) (path, sum string, cleanup func(), err error) {
	base := snapshotBase()
	q := binfilesURL(d)
	fmt.Fprintf(log, "netl: asking Debian's snapshot archive for %s\n", d)
	resp, err := snapshotClient.Get(q)
	if err != nil {
		return "", "", nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", nil, fmt.Errorf("%s: %s", q, resp.Status)
	}
	var bf binfiles
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&bf); err != nil {
		return "", "", nil, fmt.Errorf("%s: %w", q, err)
	}
	hash, name := "", ""
	for _, r := range bf.Result {
		if r.Architecture != "amd64" && r.Architecture != "all" {
			continue
		}
		for _, fi := range bf.Fileinfo[r.Hash] {
			if fi.ArchiveName == "debian" || fi.ArchiveName == "debian-security" {
				hash, name = r.Hash, fi.Name
				break
			}
		}
	}
	if hash == "" {
		return "", "", nil, fmt.Errorf("%s lists no amd64 or all file of %s", q, d)
	}
	if !debFileRE.MatchString(name) || !strings.HasPrefix(name, d.Package+"_") {
		return "", "", nil, fmt.Errorf("%s names the file %q, not a .deb of %s", q, name, d.Package)
	}
	if !sha1RE.MatchString(hash) {
		return "", "", nil, fmt.Errorf("%s gives the file hash %q, not a sha1", q, hash)
	}
	tmp, err := os.MkdirTemp(ensureDir(filepath.Join(cache, "debs")), ".download-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	path = filepath.Join(tmp, name)
	if sum, err = fetchTo(base+"/file/"+hash, path); err != nil {
		cleanup()
		return "", "", nil, err
	}
	return path, sum, cleanup, nil
}

// fetchTo writes a URL's body to path and returns its sha256.
func fetchTo(u, path string) (string, error) {
	resp, err := snapshotClient.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", u, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		f.Close()
		return "", fmt.Errorf("%s: %w", u, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Resolvable says where a pinned package can be fetched from now: its
// suite, the snapshot archive, or neither (with both errors). It downloads
// nothing large: the suite's index and the archive's file list.
func Resolvable(cache string, d Deb, log io.Writer) (from string, err error) {
	served, suiteErr := ServedVersions(cache, d.Suite, d.Package, log)
	for _, v := range served {
		if v == d.Version {
			return "debian " + d.Suite, nil
		}
	}
	if suiteErr == nil {
		suiteErr = fmt.Errorf("debian %s serves %s only in %s", d.Suite, d.Package, orNone(served))
	}
	q := binfilesURL(d)
	resp, err := snapshotClient.Get(q)
	if err != nil {
		return "", fmt.Errorf("%v; snapshot: %v", suiteErr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%v; snapshot: %s: %s", suiteErr, q, resp.Status)
	}
	return "the snapshot archive", nil
}
