package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
)

// pinCmd shows the versions Debian serves for a pinned series and, with
// write, moves the pin in kernel-config/pins.txt to the newest one after
// downloading it and recording its checksum.
func pinCmd(series string, write bool) error {
	p, err := kernel.LookupPin(series)
	if err != nil {
		return err
	}
	cache, err := kernel.CacheDir()
	if err != nil {
		return err
	}
	served, err := kernel.ServedVersions(cache, p.Suite, p.Package, os.Stderr)
	if err != nil {
		return err
	}
	if len(served) == 0 {
		return fmt.Errorf("debian %s serves no %s: edit the suite in kernel-config/pins.txt", p.Suite, p.Package)
	}
	newest := served[0] // apt-cache madison lists newest first
	fmt.Printf("%s: pinned %s; Debian %s serves %s\n", series, p.Version, p.Suite, strings.Join(served, ", "))
	if newest == p.Version {
		fmt.Println("the pin is current")
		return nil
	}
	if !write {
		fmt.Printf("to move the pin to %s: go run ./cmd/netlvm kernel pin -write %s\n", newest, series)
		return nil
	}
	tmp, err := os.MkdirTemp("", "netl-pin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("apt-get", "download", p.Package+"="+newest)
	cmd.Args = append([]string{"apt-get"}, append(kernel.PrivateAptArgs(cache, p.Suite), "download", p.Package+"="+newest)...)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("downloading %s %s: %w\n%s", p.Package, newest, err, out)
	}
	f, err := os.Open(filepath.Join(tmp, fmt.Sprintf("%s_%s_all.deb", p.Package, newest)))
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	path := filepath.Join(root, "kernel-config", "pins.txt")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) == 5 && f[0] == series {
			lines[i] = strings.Replace(strings.Replace(l, f[2], newest, 1), f[4], sum, 1)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		return err
	}
	fmt.Printf("moved %s to %s (sha256 %s) in %s; review and commit it\n", series, newest, sum, path)
	return nil
}
