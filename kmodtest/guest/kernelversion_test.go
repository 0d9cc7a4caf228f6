package guest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netl-dev/netl/internal/contract"
)

// Host unit tests of the version gate's parsing and ordering; the gate
// itself runs in the guest.
func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{
		"6.12": {6, 12}, "6.12.117": {6, 12}, "5.10.223-netl": {5, 10}, "7.2-rc1": {7, 2},
	} {
		got, err := ParseVersion(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "6", "x.y", "6.x"} {
		_, err := ParseVersion(bad)
		assert.Error(t, err, bad)
	}
	assert.True(t, Version{5, 10}.Less(Version{6, 1}))
	assert.True(t, Version{6, 1}.Less(Version{6, 12}))
	assert.False(t, Version{7, 2}.Less(Version{6, 12}))
	assert.False(t, Version{6, 12}.Less(Version{6, 12}))
}

func TestGateAboveNewestSeriesFails(t *testing.T) {
	t.Setenv(contract.MaxSeriesEnv, "7.2")
	ft := &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		SkipOnOldKernel(ft, "7.3", "a feature no pinned kernel has")
	}()
	assert.True(t, ft.fataled, "a gate above the newest pinned series must fail")
	assert.False(t, ft.skipped)
}

// fakeTB records Fatalf/Skipf instead of ending the test.
type fakeTB struct {
	testing.TB
	fataled, skipped bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(string, ...any) {
	f.fataled = true
	panic("fatal")
}
func (f *fakeTB) Skipf(string, ...any) {
	f.skipped = true
	panic("skip")
}
