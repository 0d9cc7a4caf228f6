// Package initramfs assembles the u-root initramfs that every netl guest
// boots: u-root's init, netl's guest init (netlinit), the netlctl client and
// a few shell tools. Nothing in it changes from run to run; the module, the
// program and its arguments travel through the 9p share (contract.RunSpec), so
// the image is built once per content and kept in the cache.
package initramfs

import (
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/uio/llog"

	"github.com/netl-dev/netl/internal/cache"
)

// busybox commands: u-root's init, netl's uinit, and what an interactive
// `netlvm shell` user reaches for. Each u-root command is also a `tool` in
// go.mod: nothing in netl imports them, and without that `go mod tidy`
// would drop the dependencies the busybox build needs.
var busybox = []string{
	"github.com/u-root/u-root/cmds/core/init",
	"github.com/u-root/u-root/cmds/core/gosh",
	"github.com/u-root/u-root/cmds/core/cat",
	"github.com/u-root/u-root/cmds/core/dmesg",
	"github.com/u-root/u-root/cmds/core/echo",
	"github.com/u-root/u-root/cmds/core/insmod",
	"github.com/u-root/u-root/cmds/core/ls",
	"github.com/u-root/u-root/cmds/core/lsmod",
	"github.com/u-root/u-root/cmds/core/mount",
	"github.com/u-root/u-root/cmds/core/ps",
	"github.com/u-root/u-root/cmds/core/rmmod",
	"github.com/u-root/u-root/cmds/core/shutdown",
	"github.com/u-root/u-root/cmds/core/sleep",
	"github.com/netl-dev/netl/initramfs/netlinit",
}

// binaries are built as standalone programs (not busybox-rewritten).
var binaries = []string{
	"github.com/netl-dev/netl/userspace/cmd/netlctl",
}

// sources are the repository paths whose content decides the image.
var sources = []string{"go.mod", "go.sum", "initramfs", "userspace", "internal/contract"}

// Ensure returns the path of the cached initramfs for the repository at
// root, building it when its inputs changed.
func Ensure(root, cacheDir string, progress io.Writer) (string, error) {
	key, err := inputsKey(root)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, "initramfs")
	final := filepath.Join(dir, key+".cpio")
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmpDir, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmpDir)
	fmt.Fprintf(progress, "netl: building the u-root initramfs (once per change to initramfs/, userspace/, go.mod)\n")
	out := filepath.Join(tmpDir, "initramfs.cpio")
	env := golang.Default(golang.DisableCGO(), golang.WithGOARCH("amd64"), golang.WithWorkingDir(root))
	l := llog.New(slog.LevelWarn, func(format string, args ...any) {
		fmt.Fprintf(progress, "u-root: "+format+"\n", args...)
	})
	err = uimage.Create(l,
		uimage.WithReplaceEnv(env),
		uimage.WithTempDir(tmpDir),
		uimage.WithCPIOOutput(out),
		uimage.WithBusyboxCommands(busybox...),
		uimage.WithBinaryCommands(binaries...),
		uimage.WithInit("init"),
		uimage.WithUinit("netlinit"),
		uimage.WithShell("gosh"),
	)
	if err != nil {
		return "", fmt.Errorf("building initramfs: %w", err)
	}
	if err := os.Rename(out, final); err != nil {
		return "", err
	}
	return final, nil
}

// inputsKey hashes what the image is built from: the Go toolchain, the
// module graph and the sources of the commands in it.
func inputsKey(root string) (string, error) {
	h := cache.NewKey()
	h.Printf("%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, s := range sources {
		err := filepath.WalkDir(filepath.Join(root, s), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "go.mod") || strings.HasSuffix(path, "go.sum")) {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			h.Part(rel, data)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("hashing initramfs inputs: %w", err)
		}
	}
	return h.String(16), nil
}

// WithLayer returns the image base with layer (a newc cpio) appended, kept
// in the cache under both names: the kernel unpacks concatenated archives
// one after the other. A prebuilt kernel's boot modules travel this way.
func WithLayer(cacheDir, base, layer, layerKey string) (string, error) {
	final := filepath.Join(cacheDir, "initramfs", strings.TrimSuffix(filepath.Base(base), ".cpio")+"+"+layerKey+".cpio")
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	var data []byte
	for _, f := range []string{base, layer} {
		d, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("initramfs layer: %w", err)
		}
		data = append(data, d...)
	}
	if err := cache.WriteFile(final, data, 0o644); err != nil {
		return "", err
	}
	return final, nil
}
