package guest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/internal/contract"
)

// Version is a kernel MAJOR.MINOR.
type Version struct{ Major, Minor int }

// ParseVersion reads "6.12", "6.12.117" or a uname release such as
// "6.12.117-netl".
func ParseVersion(s string) (Version, error) {
	f := strings.SplitN(s, ".", 3)
	if len(f) < 2 {
		return Version{}, fmt.Errorf("kernel version %q: want MAJOR.MINOR", s)
	}
	major, err1 := strconv.Atoi(f[0])
	digits := strings.IndexFunc(f[1], func(r rune) bool { return r < '0' || r > '9' })
	if digits < 0 {
		digits = len(f[1])
	}
	minor, err2 := strconv.Atoi(f[1][:digits])
	if err1 != nil || err2 != nil {
		return Version{}, fmt.Errorf("kernel version %q: want MAJOR.MINOR", s)
	}
	return Version{major, minor}, nil
}

// Less orders versions.
func (v Version) Less(w Version) bool {
	return v.Major < w.Major || (v.Major == w.Major && v.Minor < w.Minor)
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// SkipOnOldKernel skips t on kernels older than minimum, saying why: the
// one kind of skip a run with $CI set accepts. A gate above netl's newest
// pinned series is a mistake (no pinned kernel would ever run the test),
// so it fails instead of skipping.
func SkipOnOldKernel(t testing.TB, minimum, why string) {
	t.Helper()
	want, err := ParseVersion(minimum)
	if err != nil {
		t.Fatalf("SkipOnOldKernel: %v", err)
	}
	if newest, err := ParseVersion(os.Getenv(contract.MaxSeriesEnv)); err == nil && newest.Less(want) {
		t.Fatalf("SkipOnOldKernel(%q) is above the newest pinned series %s: no pinned kernel would run this test (%s)", minimum, newest, why)
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatalf("uname: %v", err)
	}
	release := unix.ByteSliceToString(uts.Release[:])
	have, err := ParseVersion(release)
	if err != nil {
		t.Fatalf("running kernel: %v", err)
	}
	if have.Less(want) {
		t.Skipf("%sneeds kernel %s for %s; running %s", contract.GateSkip, want, why, release)
	}
}
