// Package guest is what a test running inside a kmodtest guest calls. The
// guest's test files carry the build tag netlguest, so that go test on the
// host leaves them out; kmodtest builds them with it.
//
//	//go:build netlguest
//
//	package guest
//
//	func TestRead(t *testing.T) {
//		guest.Begin(t)
//		...
//	}
package guest

import (
	"os"
	"testing"

	vmguest "github.com/hugelgupf/vmtest/guest"

	"github.com/netl-dev/netl/internal/contract"
)

// Begin starts a guest test: it skips the test outside a VM, and writes
// the test's start and end into the kernel log, so that the host pins a
// kernel report on the console to the test that was running. A test that
// calls t.Parallel calls it first, then Begin.
func Begin(t testing.TB) {
	t.Helper()
	vmguest.SkipIfNotInVM(t)
	mark(t, contract.MarkStart(t.Name()))
	t.Cleanup(func() { mark(t, contract.MarkEnd(t.Name())) })
}

func mark(t testing.TB, line string) {
	if err := contract.Kmsg(line); err != nil {
		t.Fatalf("marking the kernel log: %v", err)
	}
}

// InVM tells whether this process runs in a kmodtest guest.
func InVM() bool { return os.Getenv(contract.InGuestEnv) == "1" }

// ModulePath is the guest path of the module the guest's init loaded
// (kmodtest.WithModule), for a test that unloads and loads it again; empty
// when none was.
func ModulePath() string { return os.Getenv(contract.ModuleEnv) }

// Debug tells whether the guest runs the debug flavour (KASAN, lockdep,
// kmemleak, fault injection).
func Debug() bool { return os.Getenv(contract.DebugEnv) != "" }
