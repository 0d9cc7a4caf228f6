// Package floor builds the bare-boot baseline that netl's benchmarks compare
// a harness run against: the same kernel and QEMU, with an initramfs that
// holds one static init that resets the guest.
package floor

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Initramfs builds floorinit and packs it as /init into a newc cpio at
// dir/floor.cpio.
func Initramfs(root, dir string) (string, error) {
	bin := filepath.Join(dir, "floorinit")
	cmd := exec.Command("go", "build", "-o", bin, "./internal/floor/floorinit")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building floorinit: %w\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	writeEntry(&b, 1, "init", 0o100755, data)
	writeEntry(&b, 2, "TRAILER!!!", 0, nil)
	out := filepath.Join(dir, "floor.cpio")
	return out, os.WriteFile(out, b.Bytes(), 0o644)
}

// writeEntry writes one newc cpio entry (the format the kernel unpacks).
func writeEntry(b *bytes.Buffer, ino int, name string, mode uint32, data []byte) {
	fmt.Fprintf(b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	b.WriteString(name)
	b.WriteByte(0)
	pad(b)
	b.Write(data)
	pad(b)
}

func pad(b *bytes.Buffer) {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}
