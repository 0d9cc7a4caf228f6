package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/netl-dev/netl/internal/cache"
	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
)

// pinCmd shows the versions Debian serves for a pinned series and, with
// write, moves the pin in kernel-config/pins.txt to the newest one, with
// the checksum of the file it downloaded (kernel.MovePin: the same fetch
// and checksum code a kernel build uses).
func pinCmd(series string, write bool) error {
	p, err := kernel.LookupPin(series)
	if err != nil {
		return err
	}
	cacheDir, err := kernel.CacheDir()
	if err != nil {
		return err
	}
	if !write {
		served, err := kernel.ServedVersions(cacheDir, p.Suite, p.Package, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Printf("%s: pinned %s; Debian %s serves %s\n", series, p.Version, p.Suite, strings.Join(served, ", "))
		if len(served) > 0 && served[0] != p.Version {
			fmt.Printf("to move the pin to %s: go run ./cmd/netlvm kernel pin -write %s\n", served[0], series)
		} else if len(served) > 0 {
			fmt.Println("the pin is current")
		}
		return nil
	}
	moved, served, err := kernel.MovePin(cacheDir, p, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("%s: pinned %s; Debian %s serves %s\n", series, p.Version, p.Suite, strings.Join(served, ", "))
	if moved == p {
		fmt.Println("the pin is current")
		return nil
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	path := filepath.Join(root, "kernel-config", "pins.txt")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := kernel.RewritePin(data, moved)
	if err != nil {
		return err
	}
	if err := cache.WriteFile(path, out, 0o644); err != nil {
		return err
	}
	fmt.Printf("moved %s to %s (sha256 %s) in %s; review and commit it\n", series, moved.Version, moved.SHA256, path)
	return nil
}
