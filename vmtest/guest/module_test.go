//go:build netlguest

package guest

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/internal/contract"
)

// modulePath is where the guest init finds netl.ko in the host share.
func modulePath(t *testing.T) string {
	t.Helper()
	p := os.Getenv(contract.ModuleEnv)
	require.NotEmpty(t, p, "%s is not set: the harness passes it to the guest", contract.ModuleEnv)
	return p
}

// moduleLoaded reports whether netl is in /proc/modules.
func moduleLoaded(t *testing.T) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/modules")
	require.NoError(t, err)
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "netl ") {
			return true
		}
	}
	return false
}

func loadModule(t *testing.T, params string) error {
	t.Helper()
	image, err := os.ReadFile(modulePath(t))
	require.NoError(t, err)
	return unix.InitModule(image, params)
}

func unloadModule(t *testing.T) error {
	t.Helper()
	return unix.DeleteModule("netl", unix.O_NONBLOCK)
}

// reloadModule replaces the loaded netl with one loaded with params, and
// puts the default one back when the test ends.
func reloadModule(t *testing.T, params string) {
	t.Helper()
	if moduleLoaded(t) {
		require.NoError(t, unloadModule(t), "rmmod netl")
	}
	require.NoError(t, loadModule(t, params), "insmod netl.ko %s", params)
	t.Cleanup(func() {
		if moduleLoaded(t) {
			if err := unloadModule(t); err != nil {
				t.Errorf("rmmod netl after the test: %v", err)
				return
			}
		}
		if err := loadModule(t, ""); err != nil {
			t.Errorf("reloading netl with defaults: %v", err)
		}
	})
}

// setParam writes a module parameter for the length of the test.
func setParam(t *testing.T, name, value string) {
	t.Helper()
	old := readParam(t, name)
	p := "/sys/module/netl/parameters/" + name
	require.NoError(t, os.WriteFile(p, []byte(value), 0), "setting %s=%s", name, value)
	t.Cleanup(func() {
		if err := os.WriteFile(p, []byte(old), 0); err != nil && moduleLoaded(t) {
			t.Errorf("restoring %s=%s: %v", name, old, err)
		}
	})
}

func readParam(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("/sys/module/netl/parameters/" + name)
	require.NoError(t, err, "reading parameter %s", name)
	return strings.TrimSpace(string(data))
}

func TestModuleLoadedByInit(t *testing.T) {
	begin(t)
	require.True(t, moduleLoaded(t), "netl is not in /proc/modules")
	require.Equal(t, "1", readParam(t, "reply_count"), "reply_count default")
	require.Equal(t, "0", readParam(t, "reply_interval_ms"), "reply_interval_ms default")
}

func TestModuleUnloadAndReload(t *testing.T) {
	begin(t)
	reloadModule(t, "reply_count=3 reply_interval_ms=10")
	require.Equal(t, "3", readParam(t, "reply_count"))
	require.Equal(t, "10", readParam(t, "reply_interval_ms"))

	require.NoError(t, unloadModule(t), "rmmod netl")
	require.False(t, moduleLoaded(t), "netl still in /proc/modules after rmmod")
	// With no kernel socket on protocol 25, a socket cannot be made for it.
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW, 25)
	if err == nil {
		unix.Close(fd)
	}
	require.ErrorIs(t, err, unix.EPROTONOSUPPORT, "socket(AF_NETLINK, SOCK_RAW, 25) without the module")
	require.NoError(t, loadModule(t, "reply_count=2"), "insmod again")
	require.Equal(t, "2", readParam(t, "reply_count"))
}

func TestModuleRejectsBadParameters(t *testing.T) {
	begin(t)
	reloadModule(t, "")
	// Written to the loaded module through sysfs: refused, value kept.
	// (A load refused for its parameters never runs the module's gcov
	// constructor, so only these writes show in netl.c's coverage.)
	for _, w := range []struct{ name, value string }{{"reply_count", "0"}, {"reply_count", "abc"}, {"reply_interval_ms", "60001"}, {"max_sleep_ms", "-1"}} {
		before := readParam(t, w.name)
		err := os.WriteFile("/sys/module/netl/parameters/"+w.name, []byte(w.value), 0)
		assert.ErrorIs(t, err, unix.EINVAL, "writing %s=%s", w.name, w.value)
		assert.Equal(t, before, readParam(t, w.name), "%s after the refused write of %s", w.name, w.value)
	}
	require.NoError(t, unloadModule(t))
	for _, params := range []string{"reply_count=0", "reply_count=101", "reply_count=abc", "reply_interval_ms=60001", "reply_interval_ms=-1"} {
		err := loadModule(t, params)
		if !errors.Is(err, unix.EINVAL) {
			t.Errorf("insmod netl.ko %s\n- want: %v\n-  got: %v", params, unix.EINVAL, err)
		}
		if moduleLoaded(t) {
			require.NoError(t, unloadModule(t))
		}
	}
}

// With protocol 25 taken by another module (the seed's netl_seed, which the
// harness ships beside the suite), loading netl.ko fails with EBUSY, and
// the kernel log says why; once the protocol is free again it loads.
func TestLoadWhenProtocolTaken(t *testing.T) {
	begin(t)
	seed, err := os.ReadFile(contract.GuestPath("bin/netl_seed.ko"))
	require.NoError(t, err, "the harness ships the seed's module (harness.RunSuite)")
	require.NoError(t, unloadModule(t), "rmmod netl")
	t.Cleanup(func() {
		if !moduleLoaded(t) {
			if err := loadModule(t, ""); err != nil {
				t.Errorf("reloading netl: %v", err)
			}
		}
	})
	require.NoError(t, unix.InitModule(seed, ""), "insmod netl_seed.ko")
	// Registered after the one above, so it runs first: whatever fails
	// below, the seed's module does not keep protocol 25 for the tests
	// that follow.
	t.Cleanup(func() {
		if err := unix.DeleteModule("netl_seed", unix.O_NONBLOCK); err != nil && !errors.Is(err, unix.ENOENT) {
			t.Errorf("rmmod netl_seed: %v", err)
		}
	})
	log := followKmsg(t)
	err = loadModule(t, "")
	require.ErrorIs(t, err, unix.EBUSY, "insmod netl.ko while netl_seed holds protocol 25")
	assert.Contains(t, log.find(t, "cannot register protocol 25", 5*time.Second), "another module holds it")
	require.NoError(t, unix.DeleteModule("netl_seed", unix.O_NONBLOCK), "rmmod netl_seed")
	require.NoError(t, loadModule(t, ""), "insmod netl.ko once the protocol is free")
}
