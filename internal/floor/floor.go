// Package floor builds the bare-boot baseline that netl's benchmarks compare
// a harness run against: the same kernel and QEMU, with an initramfs that
// holds one static init that resets the guest.
package floor

import (
	"os"
	"path/filepath"

	"github.com/u-root/mkuimage/cpio"

	"github.com/netl-dev/netl/internal/gobuild"
)

// Initramfs builds floorinit and packs it as /init into a newc cpio at
// dir/floor.cpio, with mkuimage's cpio writer (the one u-root's images use).
func Initramfs(root, dir string) (string, error) {
	bin := filepath.Join(dir, "floorinit")
	if err := gobuild.Static(root, "build", "-o", bin, "./internal/floor/floorinit"); err != nil {
		return "", err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "floor.cpio")
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	w := cpio.Newc.Writer(f)
	if err := cpio.WriteRecordsAndDirs(w, []cpio.Record{cpio.StaticFile("init", string(data), 0o755)}); err != nil {
		f.Close()
		return "", err
	}
	if err := cpio.WriteTrailer(w); err != nil {
		f.Close()
		return "", err
	}
	return out, f.Close()
}
