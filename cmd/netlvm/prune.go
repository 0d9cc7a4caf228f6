package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/netl-dev/netl/internal/kernel"
)

// pruneKernels removes the cached kernel trees that the current pins and
// fragments no longer name: every edit to kernel-config/ or a pin moves a
// series to a new tree and leaves the old one (1.3-2 GB) behind. Trees
// built from -kernel-src (local-*) are kept: their key depends on a source
// path this command does not know. So are temporary .build-* trees, which
// the next build of their kernel cleans under its lock.
func pruneKernels(series []string, dryRun bool) error {
	keep := map[string]bool{}
	var dir string
	for _, s := range series {
		for _, debug := range []bool{false, true} {
			k, err := kernel.Plan(kernel.Options{Series: s, Debug: debug})
			if err != nil {
				return err
			}
			keep[filepath.Base(k.Dir)] = true
			dir = filepath.Dir(k.Dir)
		}
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		fmt.Println("netl: no cached kernels")
		return nil
	}
	if err != nil {
		return err
	}
	var freed int64
	removed, kept := 0, 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		if keep[name] || strings.HasPrefix(name, "local") {
			kept++
			continue
		}
		path := filepath.Join(dir, name)
		size := treeSize(path)
		verb := "removed"
		if dryRun {
			verb = "would remove"
		} else if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("removing %s: %w", path, err)
		}
		fmt.Printf("netl: %s %s (%.1f GB)\n", verb, path, float64(size)/1e9)
		freed += size
		removed++
	}
	verb := "freed"
	if dryRun {
		verb = "would free"
	}
	fmt.Printf("netl: %d stale kernel tree(s), %s %.1f GB; kept %d\n", removed, verb, float64(freed)/1e9, kept)
	return nil
}

func treeSize(root string) int64 {
	var n int64
	_ = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
