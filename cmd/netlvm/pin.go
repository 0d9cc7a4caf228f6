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
// write, moves a source series' pin in kernel-config/pins.txt to the newest
// one, with the checksum of the file it downloaded (kernel.MovePin: the
// same fetch and checksum code a kernel build uses).
func pinCmd(series string, write bool) error {
	p, err := kernel.LookupPin(series)
	if err != nil {
		return err
	}
	cacheDir, err := kernel.CacheDir()
	if err != nil {
		return err
	}
	if !write || p.Prebuilt() {
		current := true
		for _, d := range p.Debs {
			served, err := kernel.ServedVersions(cacheDir, d.Suite, d.Package, os.Stderr)
			if err != nil {
				return err
			}
			fmt.Printf("%s: %s pinned %s; Debian %s serves %s\n", series, d.Package, d.Version, d.Suite, strings.Join(orNone(served), ", "))
			current = current && len(served) > 0 && served[0] == d.Version
		}
		switch {
		case current:
			fmt.Println("the pin is current")
		case p.Prebuilt():
			fmt.Printf("series %s is Debian's prebuilt kernel: its package names carry the ABI, so move it by hand: pick the newest linux-headers-*-amd64 the suite serves, rename every line's packages to it, and fill in the checksums from `apt-get download` (kernel-config/pins.txt)\n", series)
			if write {
				return fmt.Errorf("-write moves source series only")
			}
		default:
			fmt.Printf("to move the pin: go run ./cmd/netlvm kernel pin -write %s\n", series)
		}
		return nil
	}
	moved, served, err := kernel.MovePin(cacheDir, p, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("%s: pinned %s; Debian %s serves %s\n", series, p.Version(), p.Suite(), strings.Join(served, ", "))
	if moved.Version() == p.Version() {
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
	fmt.Printf("moved %s to %s (sha256 %s) in %s; review and commit it\n", series, moved.Version(), moved.Debs[0].SHA256, path)
	return nil
}

// pinCheck says, for every package of every series given, whether its
// suite still serves the pinned version, and if not whether Debian's
// snapshot archive has it (builds still work, through the fallback) or
// not (they fail). Any package gone from its suite is an error: the
// scheduled workflow reports it, so the pin moves before it rots.
func pinCheck(series []string) error {
	cacheDir, err := kernel.CacheDir()
	if err != nil {
		return err
	}
	var gone []string
	for _, s := range series {
		p, err := kernel.LookupPin(s)
		if err != nil {
			return err
		}
		for _, d := range p.Debs {
			from, err := kernel.Resolvable(cacheDir, d, os.Stderr)
			switch {
			case err != nil:
				fmt.Printf("%-12s %-46s %-12s UNRESOLVABLE: %v\n", s, d.Package, d.Version, err)
				gone = append(gone, fmt.Sprintf("%s %s (unresolvable)", s, d))
			case from != "debian "+d.Suite:
				fmt.Printf("%-12s %-46s %-12s gone from %s; %s has it\n", s, d.Package, d.Version, d.Suite, from)
				gone = append(gone, fmt.Sprintf("%s %s (gone from %s; %s has it)", s, d, d.Suite, from))
			default:
				fmt.Printf("%-12s %-46s %-12s served by %s\n", s, d.Package, d.Version, from)
			}
		}
	}
	if len(gone) > 0 {
		return fmt.Errorf("%d pinned package(s) no longer served by their suite; move the pins (go run ./cmd/netlvm kernel pin SERIES):\n  %s",
			len(gone), strings.Join(gone, "\n  "))
	}
	return nil
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"none"}
	}
	return s
}
