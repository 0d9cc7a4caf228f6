package kernel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Keyring verifies Debian's archive signatures. On Debian it comes with the
// system; on Ubuntu from the debian-archive-keyring package.
const Keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// mirror returns the Debian archive that serves a suite.
func mirror(suite string) string {
	base := os.Getenv("NETL_DEBIAN_MIRROR")
	if base == "" {
		base = "http://deb.debian.org"
	}
	if strings.HasSuffix(suite, "-security") {
		return base + "/debian-security"
	}
	return base + "/debian"
}

// apt runs apt-get/apt-cache with a private configuration under dir: its
// own source list, lists and cache, so the system's package state is never
// read for sources nor changed. Adding trixie or sid to the system's sources
// would let the next apt-get install upgrade libc.
type apt struct {
	dir   string
	suite string
	log   io.Writer
}

func (a apt) args() ([]string, error) {
	list := filepath.Join(a.dir, a.suite+".list")
	line := fmt.Sprintf("deb [signed-by=%s] %s %s main\n", Keyring, mirror(a.suite), a.suite)
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(a.dir, a.suite, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(list, []byte(line), 0o644); err != nil {
		return nil, err
	}
	return []string{
		"-o", "Dir::Etc::SourceList=" + list,
		"-o", "Dir::Etc::SourceParts=/nonexistent",
		"-o", "Dir::State::Lists=" + filepath.Join(a.dir, a.suite, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(a.dir, a.suite, "cache"),
		"-o", "APT::Sandbox::User=root",
		"-o", "Debug::NoLocking=1",
		// apt-get update exits 0 when it cannot reach the mirror (a
		// warning: the lists of an earlier run, or none, are used instead);
		// the failure would then read as "the suite no longer serves it".
		"-o", "APT::Update::Error-Mode=any",
		// A mirror may serve a sid index past its Valid-Until (seen here:
		// 23 days); it is still signed, and every pinned package is
		// checked against its sha256.
		"-o", "Acquire::Check-Valid-Until=false",
		"-o", "Acquire::Languages=none",
		"-o", "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false",
	}, nil
}

// update reads the suite's index, once per process: a prebuilt kernel
// fetches four packages from one suite.
func (a apt) update() error {
	updatedMu.Lock()
	defer updatedMu.Unlock()
	key := a.dir + " " + a.suite + " " + mirror(a.suite)
	if updated[key] {
		return nil
	}
	if _, err := a.run("", "apt-get", "update"); err != nil {
		return err
	}
	updated[key] = true
	return nil
}

var (
	updatedMu sync.Mutex
	updated   = map[string]bool{}
)

func (a apt) run(dir, prog string, extra ...string) ([]byte, error) {
	args, err := a.args()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(prog, append(args, extra...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w\n%s", prog, strings.Join(extra, " "), err, lastLines(out.String(), 15))
	}
	return out.Bytes(), nil
}

// ServedVersions lists the versions of pkg that the suite serves now.
func ServedVersions(cache, suite, pkg string, log io.Writer) ([]string, error) {
	a := apt{dir: filepath.Join(cache, "apt"), suite: suite, log: log}
	if err := a.update(); err != nil {
		return nil, fmt.Errorf("reading Debian's %s index: %w", suite, err)
	}
	out, err := a.run("", "apt-cache", "madison", pkg)
	if err != nil {
		return nil, err
	}
	var vs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) >= 2 && strings.TrimSpace(f[0]) == pkg {
			vs = append(vs, strings.TrimSpace(f[1]))
		}
	}
	return vs, nil
}

// fetchDeb returns the path of the pinned .deb in the cache, downloading
// it when absent: from its suite, or, when the suite no longer serves the
// version, from Debian's snapshot archive. The file is verified against the
// pin before it is returned; a mismatch is an error and the bad file is
// removed.
func fetchDeb(cache string, d Deb, log io.Writer) (string, error) {
	dir := ensureDir(filepath.Join(cache, "debs"))
	// apt names the file package_version_arch.deb; the pin knows no arch.
	if have, _ := filepath.Glob(filepath.Join(dir, debGlob(d))); len(have) > 0 {
		if err := verify(have[0], d); err != nil {
			os.Remove(have[0])
			return "", err
		}
		return have[0], nil
	}
	got, sum, cleanup, err := download(cache, d, log)
	if err != nil {
		var snapErr error
		if got, sum, cleanup, snapErr = downloadSnapshot(cache, d, log); snapErr != nil {
			return "", fmt.Errorf("%w\nnor from Debian's snapshot archive: %v", err, snapErr)
		}
		fmt.Fprintf(log, "netl: %s came from the snapshot archive (%s)\n", d, snapshotBase())
	}
	defer cleanup()
	if sum != d.SHA256 {
		return "", checksumError(d, sum)
	}
	final := filepath.Join(dir, filepath.Base(got))
	if err := os.Rename(got, final); err != nil {
		return "", err
	}
	return final, nil
}

func debGlob(d Deb) string {
	// apt escapes ':' (epochs) as %3a in file names; Debian kernels have no epoch.
	return fmt.Sprintf("%s_%s_*.deb", d.Package, d.Version)
}

// download fetches the package and version d names from its suite into a
// temporary directory of the cache and returns the file and its sha256;
// cleanup removes what is left of the directory. A version the suite no
// longer serves is an error that lists what it serves and how to move the pin.
func download(cache string, d Deb, log io.Writer) (path, sum string, cleanup func(), err error) {
	for _, prog := range []string{"apt-get", "apt-cache", "dpkg-deb"} {
		if _, err := exec.LookPath(prog); err != nil {
			return "", "", nil, fmt.Errorf("fetching %s needs %s (Debian or Ubuntu with apt)", d.Package, prog)
		}
	}
	if _, err := os.Stat(Keyring); err != nil {
		return "", "", nil, fmt.Errorf("fetching %s needs Debian's archive keyring at %s: apt-get install debian-archive-keyring", d.Package, Keyring)
	}
	tmp, err := os.MkdirTemp(ensureDir(filepath.Join(cache, "debs")), ".download-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	fmt.Fprintf(log, "netl: fetching %s %s from Debian %s\n", d.Package, d.Version, d.Suite)
	a := apt{dir: filepath.Join(cache, "apt"), suite: d.Suite, log: log}
	if err := a.update(); err != nil {
		cleanup()
		return "", "", nil, fmt.Errorf("reading Debian's %s index: %w", d.Suite, err)
	}
	if _, err := a.run(tmp, "apt-get", "download", d.Package+"="+d.Version); err != nil {
		cleanup()
		served, _ := ServedVersions(cache, d.Suite, d.Package, log)
		return "", "", nil, fmt.Errorf("debian %s no longer serves %s %s (it serves: %s).\n"+
			"Move the pin with `go run ./cmd/netlvm kernel pin` (see kernel-config/pins.txt), review the new checksum, and commit kernel-config/pins.txt: %w",
			d.Suite, d.Package, d.Version, orNone(served), err)
	}
	got, _ := filepath.Glob(filepath.Join(tmp, debGlob(d)))
	if len(got) != 1 {
		cleanup()
		return "", "", nil, fmt.Errorf("apt-get download %s=%s wrote no %s", d.Package, d.Version, debGlob(d))
	}
	if sum, err = sha256File(got[0]); err != nil {
		cleanup()
		return "", "", nil, err
	}
	return got[0], sum, cleanup, nil
}

// MovePin downloads the newest version the pin's suite serves, records its
// checksum and keeps the file in the cache (so the next build does not
// fetch it again), and returns the moved pin; the pin is returned unchanged
// when it is current. The caller writes it (RewritePin).
func MovePin(cache string, p Pin, log io.Writer) (Pin, []string, error) {
	if p.Prebuilt() {
		return p, nil, fmt.Errorf("series %s is Debian's prebuilt kernel: its package names change with the version; edit its lines in kernel-config/pins.txt by hand", p.Series)
	}
	d := p.Debs[0]
	served, err := ServedVersions(cache, d.Suite, d.Package, log)
	if err != nil {
		return p, nil, err
	}
	if len(served) == 0 {
		return p, nil, fmt.Errorf("debian %s serves no %s: edit the suite in kernel-config/pins.txt", d.Suite, d.Package)
	}
	if served[0] == d.Version { // apt-cache madison lists newest first
		return p, served, nil
	}
	moved := d
	moved.Version, moved.SHA256 = served[0], ""
	got, sum, cleanup, err := download(cache, moved, log)
	if err != nil {
		return p, served, err
	}
	defer cleanup()
	moved.SHA256 = sum
	if err := os.Rename(got, filepath.Join(cache, "debs", filepath.Base(got))); err != nil {
		return p, served, err
	}
	return Pin{Series: p.Series, Debs: []Deb{moved}}, served, nil
}

// RewritePin replaces the series' line of a pin file with p, keeping
// every other line (comments included) as it is.
func RewritePin(data []byte, p Pin) ([]byte, error) {
	if len(p.Debs) != 1 {
		return nil, fmt.Errorf("pins: series %s has %d packages; only a source series is moved automatically", p.Series, len(p.Debs))
	}
	d := p.Debs[0]
	lines := strings.Split(string(data), "\n")
	found := false
	for i, l := range lines {
		if f := strings.Fields(l); len(f) == 5 && f[0] == p.Series {
			// In place, so that the file's columns and comments stay.
			l = strings.Replace(l, f[2], d.Version, 1)
			lines[i] = strings.Replace(l, f[4], d.SHA256, 1)
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("pins: no line for series %s", p.Series)
	}
	out := []byte(strings.Join(lines, "\n"))
	if _, err := ParsePins(out); err != nil {
		return nil, fmt.Errorf("the moved pin does not parse: %w", err)
	}
	return out, nil
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func checksumError(d Deb, got string) error {
	return fmt.Errorf("checksum mismatch for %s %s: kernel-config/pins.txt says sha256 %s, the downloaded file has %s; refusing to use it",
		d.Package, d.Version, d.SHA256, got)
}

func verify(path string, d Deb) error {
	got, err := sha256File(path)
	if err != nil {
		return err
	}
	if got != d.SHA256 {
		return checksumError(d, got)
	}
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func ensureDir(d string) string {
	_ = os.MkdirAll(d, 0o755)
	return d
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
