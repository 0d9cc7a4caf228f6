package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/internal/cache"
)

// Accelerators QEMU can use.
const (
	KVM = "kvm"
	TCG = "tcg"
)

// ProbeTimeout bounds the KVM probe: a kernel that works under KVM prints
// its banner well within it, one that hangs (as on some nested hosts, where
// /dev/kvm opens but guests never run) prints nothing.
const ProbeTimeout = 6 * time.Second

// accelVerdict is cached per host kernel, QEMU binary and probe kernel.
type accelVerdict struct {
	Accel  string `json:"accel"`
	Reason string `json:"reason"`
	Key    string `json:"key"`
}

// ChooseAccel picks the accelerator: $NETL_ACCEL when set (kvm or tcg),
// else a cached verdict, else a probe that boots kernel under KVM and
// expects its banner on the console within ProbeTimeout. It returns the
// accelerator and why it was chosen.
func ChooseAccel(cacheDir, qemu, kernel string) (string, string, error) {
	switch a := os.Getenv("NETL_ACCEL"); a {
	case "":
	case KVM, TCG:
		return a, "NETL_ACCEL=" + a, nil
	default:
		return "", "", fmt.Errorf("NETL_ACCEL=%q: want kvm or tcg", a)
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return TCG, fmt.Sprintf("/dev/kvm unusable (%v)", unwrapPath(err)), nil
	}
	f.Close()

	var uts unix.Utsname
	_ = unix.Uname(&uts)
	qemuInfo, _ := os.Stat(qemu)
	key := fmt.Sprintf("%s|%s|%v|%s", unix.ByteSliceToString(uts.Release[:]), qemu, modTime(qemuInfo), kernel)
	sum := sha256.Sum256([]byte(key))
	path := filepath.Join(cacheDir, "accel", hex.EncodeToString(sum[:8])+".json")
	if data, err := os.ReadFile(path); err == nil {
		var v accelVerdict
		if json.Unmarshal(data, &v) == nil && v.Key == key {
			return v.Accel, v.Reason + " (cached)", nil
		}
	}
	v := accelVerdict{Key: key, Accel: TCG}
	if probeKVM(qemu, kernel) {
		v.Accel, v.Reason = KVM, "KVM probe booted"
	} else {
		v.Reason = fmt.Sprintf("/dev/kvm opens but a guest printed nothing within %s under KVM", ProbeTimeout)
	}
	if data, err := json.Marshal(v); err == nil {
		_ = os.MkdirAll(filepath.Dir(path), 0o755)
		_ = cache.WriteFile(path, data, 0o644) // only a cache: the probe runs again
	}
	return v.Accel, v.Reason, nil
}

// probeKVM boots kernel with no initramfs under KVM: a working guest prints
// "Linux version" at once (and then panics for want of init, which ends
// QEMU thanks to -no-reboot).
func probeKVM(qemu, kernel string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), ProbeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-nodefaults", "-no-user-config", "-display", "none",
		"-serial", "stdio", "-accel", "kvm", "-cpu", "host", "-m", "256", "-no-reboot",
		"-kernel", kernel, "-append", "console=ttyS0 panic=-1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	_ = cmd.Run()
	return strings.Contains(out.String(), "Linux version")
}

func modTime(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.ModTime().UnixNano()
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
