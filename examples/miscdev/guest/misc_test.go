//go:build netlguest

// Package guest holds the example module's tests that run inside the VM,
// with netl_misc.ko loaded: the build tag keeps go test on the host away
// from them, and kmodtest builds them with it.
package guest

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/kmodtest/guest"
)

const device = "/dev/netl_misc"

// The ioctl numbers of netl_misc.h: _IOWR('N', 1, struct netl_misc_add),
// _IOR('N', 2, __u64).
const (
	iocWrite, iocRead = 1, 2
	ioctlAdd          = (iocRead|iocWrite)<<30 | 12<<16 | 'N'<<8 | 1
	ioctlCount        = iocRead<<30 | 8<<16 | 'N'<<8 | 2
)

type add struct{ A, B, Sum uint32 }

func open(t *testing.T) *os.File {
	t.Helper()
	f, err := os.OpenFile(device, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open %s: %v (is netl_misc.ko loaded? its misc device appears in devtmpfs)", device, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func ioctl(f *os.File, cmd uintptr, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), cmd, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

func count(t *testing.T, f *os.File) uint64 {
	t.Helper()
	var n uint64
	if err := ioctl(f, ioctlCount, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("NETL_MISC_COUNT: %v", err)
	}
	return n
}

func TestAdd(t *testing.T) {
	guest.Begin(t)
	f := open(t)
	before := count(t, f)
	a := add{A: 40, B: 2}
	if err := ioctl(f, ioctlAdd, unsafe.Pointer(&a)); err != nil {
		t.Fatalf("NETL_MISC_ADD 40 + 2: %v", err)
	}
	if a.Sum != 42 {
		t.Errorf("40 + 2 = %d", a.Sum)
	}
	if got := count(t, f); got != before+1 {
		t.Errorf("count after one sum: %d, want %d", got, before+1)
	}
}

func TestAddOverflow(t *testing.T) {
	guest.Begin(t)
	f := open(t)
	before := count(t, f)
	a := add{A: 1 << 31, B: 1 << 31}
	if err := ioctl(f, ioctlAdd, unsafe.Pointer(&a)); !errors.Is(err, unix.EOVERFLOW) {
		t.Errorf("NETL_MISC_ADD 2^31 + 2^31: %v, want EOVERFLOW", err)
	}
	if got := count(t, f); got != before {
		t.Errorf("a refused sum was counted: %d, want %d", got, before)
	}
}

func TestUnknownIoctl(t *testing.T) {
	guest.Begin(t)
	var x uint64
	if err := ioctl(open(t), ioctlCount+1, unsafe.Pointer(&x)); !errors.Is(err, unix.ENOTTY) {
		t.Errorf("an unknown ioctl: %v, want ENOTTY", err)
	}
}

func TestReadCount(t *testing.T) {
	guest.Begin(t)
	f := open(t)
	want := count(t, f)
	data, err := os.ReadFile(device)
	if err != nil {
		t.Fatal(err)
	}
	got, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || got != want {
		t.Errorf("read %q, want the count %d", data, want)
	}
}
