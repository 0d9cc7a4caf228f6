package kernel

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goodSum = "9141325315c7f1eca682113d185a8c77c82814aa6e32f7e127e61d6106403835"

func TestParsePins(t *testing.T) {
	pins, err := ParsePins([]byte("# comment\n\n6.12 linux-source-6.12 6.12.117-1 trixie " + goodSum + " # trailing\n"))
	require.NoError(t, err)
	assert.Equal(t, Pin{Series: "6.12", Debs: []Deb{{Package: "linux-source-6.12", Version: "6.12.117-1", Suite: "trixie", SHA256: goodSum}}}, pins["6.12"])
	assert.False(t, pins["6.12"].Prebuilt())

	for _, tc := range []struct{ name, text, want string }{
		{"fields", "6.12 linux-source-6.12 6.12.117-1 trixie", "want 5 fields"},
		{"series", "6 linux-source-6.12 6.12.117-1 trixie " + goodSum, "not MAJOR.MINOR"},
		{"package", "6.12 linux-image-6.12 6.12.117-1 trixie " + goodSum, "not linux-source"},
		{"prebuilt package", "debian-6.12 linux-source-6.12 6.12.117-1 trixie " + goodSum, "not a package of a prebuilt kernel"},
		{"prebuilt incomplete", "debian-6.12 linux-image-6.12.117+deb13-amd64-unsigned 6.12.117-1 trixie " + goodSum, "lacks linux-headers-RELEASE, linux-headers-*-common, linux-kbuild-*, linux-libc-dev"},
		{"prebuilt versions", prebuilt612 + "debian-6.12 linux-kbuild-6.12.117+deb13 6.12.119-1 trixie " + goodSum, "one kernel is one version"},
		{"prebuilt twice", prebuilt612 + "debian-6.12 linux-image-6.12.117+deb13-cloud-amd64-unsigned 6.12.117-1 trixie " + goodSum, "two image packages"},
		{"prebuilt release", strings.Replace(prebuilt612, "linux-image-6.12.117+deb13-amd64", "linux-image-6.12.117+deb13-cloud-amd64", 1) +
			"debian-6.12 linux-kbuild-6.12.117+deb13 6.12.117-1 trixie " + goodSum, "not for the release of its headers"},
		{"mismatch", "6.12 linux-source-6.1 6.12.117-1 trixie " + goodSum, "does not match series"},
		{"version", "6.12 linux-source-6.12 6.1.117-1 trixie " + goodSum, "not in series"},
		{"sha", "6.12 linux-source-6.12 6.12.117-1 trixie abc", "not 64 hex digits"},
		{"dup", "6.12 linux-source-6.12 6.12.117-1 trixie " + goodSum + "\n6.12 linux-source-6.12 6.12.117-1 trixie " + goodSum, "pinned twice"},
		{"empty", "# nothing\n", "no series pinned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePins([]byte(tc.text))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

const prebuilt612 = "debian-6.12 linux-image-6.12.117+deb13-amd64-unsigned 6.12.117-1 trixie " + goodSum + "\n" +
	"debian-6.12 linux-headers-6.12.117+deb13-amd64 6.12.117-1 trixie " + goodSum + "\n" +
	"debian-6.12 linux-headers-6.12.117+deb13-common 6.12.117-1 trixie " + goodSum + "\n" +
	"debian-6.12 linux-libc-dev 6.12.117-1 trixie " + goodSum + "\n"

func TestParsePrebuiltPins(t *testing.T) {
	pins, err := ParsePins([]byte(prebuilt612 + "debian-6.12 linux-kbuild-6.12.117+deb13 6.12.117-1 trixie " + goodSum + "\n"))
	require.NoError(t, err)
	p := pins["debian-6.12"]
	assert.True(t, p.Prebuilt())
	assert.Len(t, p.Debs, 5)
	assert.Equal(t, "6.12.117+deb13-amd64", p.Release())
	assert.Equal(t, "6.12.117-1", p.Version())
	assert.Equal(t, "trixie", p.Suite())
	_, err = Plan(Options{Series: "debian-6.12", Debug: true})
	assert.ErrorContains(t, err, "no debug flavour")
}

func TestEmbeddedPins(t *testing.T) {
	pins, err := Pins()
	require.NoError(t, err, "kernel-config/pins.txt")
	require.Contains(t, pins, DefaultSeries, "the default series must be pinned")
	_, err = LookupPin("4.4")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown kernel series "4.4"`)
	assert.Contains(t, err.Error(), DefaultSeries, "the error lists the pinned series")
}

func TestSeriesOrder(t *testing.T) {
	got := Series(map[string]Pin{"6.12": {}, "debian-6.12": {}, "5.10": {}, "7.2": {}, "debian-5.10": {}, "6.1": {}})
	assert.Equal(t, []string{"5.10", "6.1", "6.12", "7.2", "debian-5.10", "debian-6.12"}, got)
	assert.Equal(t, "7.2", Newest(map[string]Pin{"6.12": {}, "debian-7.2": {}, "5.10": {}}))
	assert.Equal(t, "7.3", Newest(map[string]Pin{"7.2": {}, "debian-7.3": {}}))
}

func TestParseFragment(t *testing.T) {
	opts, err := ParseFragment("f", []byte("# c\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\n"))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": `"x y"`}, opts)

	_, err = ParseFragment("f", []byte("CONFIG_A=y\nA=y\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "f:2: not a config line")

	_, err = ParseFragment("f", []byte("CONFIG_A=y\nCONFIG_A=n\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "set twice")
}

func TestFragmentsAreValid(t *testing.T) {
	frags, err := Fragments(DefaultSeries)
	require.NoError(t, err)
	require.NotEmpty(t, frags)
	assert.Equal(t, "kernel-config/base.config", frags[0].Name)
	want := wantedOptions(frags)
	for _, opt := range []string{"CONFIG_MODULES", "CONFIG_9P_FS", "CONFIG_VIRTIO_PCI", "CONFIG_SERIAL_8250_CONSOLE", "CONFIG_BLK_DEV_INITRD", "CONFIG_INET"} {
		assert.Equal(t, "y", want[opt], "%s in the base fragment", opt)
	}
	// Left out on purpose (see base.config): netlinit ends the guest by
	// reboot, and waits for high-resolution timers, because of this.
	assert.Equal(t, "n", want["CONFIG_ACPI"], "CONFIG_ACPI in the base fragment")
}

func TestCheckConfigNamesDroppedOptions(t *testing.T) {
	frags := []Fragment{{Name: "f", Data: []byte("CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n")}}
	require.NoError(t, checkConfig([]byte("CONFIG_A=y\nCONFIG_B=y\n"), frags))
	err := checkConfig([]byte("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=y\n"), frags)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CONFIG_B=y (got n)")
	assert.Contains(t, err.Error(), "CONFIG_C=n (got y)")
}

func TestCacheKey(t *testing.T) {
	a := []Fragment{{Name: "base", Data: []byte("CONFIG_A=y\n")}}
	b := []Fragment{{Name: "base", Data: []byte("CONFIG_A=n\n")}}
	assert.Equal(t, cacheKey("p", a), cacheKey("p", a), "stable")
	assert.NotEqual(t, cacheKey("p", a), cacheKey("p", b), "fragment content")
	assert.NotEqual(t, cacheKey("p", a), cacheKey("q", a), "source")
}

func TestPlanUsesCacheDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NETL_CACHE", dir)
	k, err := Plan(Options{})
	require.NoError(t, err)
	assert.Equal(t, DefaultSeries, k.Series)
	assert.True(t, strings.HasPrefix(k.Dir, filepath.Join(dir, "kernels", DefaultSeries+"-")), k.Dir)
	assert.False(t, k.Built(), "nothing is built in an empty cache")
	_, err = Plan(Options{Series: "9.9"})
	assert.Error(t, err)
}

func TestVerifyRejectsMismatch(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x.deb")
	require.NoError(t, os.WriteFile(f, []byte("not a kernel"), 0o644))
	err := verify(f, Deb{Package: "linux-source-6.12", Version: "6.12.117-1", SHA256: goodSum})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "checksum mismatch")
	assert.Contains(t, err.Error(), goodSum)
}

func TestLockSerializes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.lock")
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := LockFile(path, nil)
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			inside++
			if inside > maxInside {
				maxInside = inside
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			assert.NoError(t, l.Unlock())
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, maxInside, "holders at once")
}

func TestLocalSourceErrors(t *testing.T) {
	t.Setenv("NETL_CACHE", t.TempDir())
	_, err := Plan(Options{Source: filepath.Join(t.TempDir(), "nope")})
	assert.ErrorContains(t, err, "kernel source")

	notKernel := t.TempDir()
	k, err := Plan(Options{Source: notKernel})
	require.NoError(t, err, "planning only names the cache directory")
	assert.Contains(t, k.Dir, "local-")
	err = buildLocal(t.TempDir(), k, io.Discard)
	assert.ErrorContains(t, err, "not a kernel source tree")
}

func TestDebugFlavourHasItsOwnKey(t *testing.T) {
	t.Setenv("NETL_CACHE", t.TempDir())
	plain, err := Plan(Options{})
	require.NoError(t, err)
	debug, err := Plan(Options{Debug: true})
	require.NoError(t, err)
	assert.NotEqual(t, plain.Key, debug.Key)
	assert.Contains(t, debug.Dir, "-debug-")
	frags, err := Options{Series: DefaultSeries, Debug: true}.fragments()
	require.NoError(t, err)
	assert.Equal(t, "y", wantedOptions(frags)["CONFIG_KASAN"])
}

// Only a source directory is rebuilt (incrementally) on every run; a pin
// or a tarball never changes under its key.
func TestSourceTreeIsRemade(t *testing.T) {
	dir := t.TempDir()
	tarball := filepath.Join(dir, "linux.tar.xz")
	require.NoError(t, os.WriteFile(tarball, []byte("x"), 0o644))
	assert.True(t, (&Kernel{Version: "local", Source: dir}).sourceTree())
	assert.False(t, (&Kernel{Version: "local", Source: tarball}).sourceTree())
	assert.False(t, (&Kernel{Version: "6.12.117-1", Source: dir}).sourceTree())
}

// KASAN and failslab need SLUB; tinyconfig picks SLOB on the series that
// still have it, and their series fragment must ask for SLUB, for the debug
// flavour and the plain one alike.
func TestSeriesWithSLOBAskForSLUB(t *testing.T) {
	for _, series := range []string{"5.10", "6.1"} {
		for _, debug := range []bool{false, true} {
			frags, err := Options{Series: series, Debug: debug}.fragments()
			require.NoError(t, err)
			assert.Equal(t, "y", wantedOptions(frags)["CONFIG_SLUB"], "%s debug=%v", series, debug)
		}
	}
}

func TestRewritePinKeepsTheFile(t *testing.T) {
	data := []byte("# pins\n6.1       linux-source-6.1    6.1.192-2    bookworm-security  " + strings.Repeat("a", 64) + "\n" +
		"6.12      linux-source-6.12   6.12.117-1   trixie             " + strings.Repeat("b", 64) + "\n")
	d := Deb{Package: "linux-source-6.1", Version: "6.1.192-3", Suite: "bookworm-security", SHA256: strings.Repeat("c", 64)}
	p := Pin{Series: "6.1", Debs: []Deb{d}}
	out, err := RewritePin(data, p)
	require.NoError(t, err)
	assert.Equal(t, "# pins\n6.1       linux-source-6.1    6.1.192-3    bookworm-security  "+strings.Repeat("c", 64)+"\n"+
		"6.12      linux-source-6.12   6.12.117-1   trixie             "+strings.Repeat("b", 64)+"\n", string(out))
	_, err = RewritePin(data, Pin{Series: "5.4", Debs: []Deb{d}})
	assert.ErrorContains(t, err, "no line for series 5.4")
	p.Debs[0].SHA256 = "nothex"
	_, err = RewritePin(data, p)
	assert.ErrorContains(t, err, "does not parse")
}
