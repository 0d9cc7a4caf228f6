package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckModParams(t *testing.T) {
	for _, ok := range []string{"", "reply_count=3", "reply_count=10 reply_interval_ms=3000", "s=\"a\""} {
		assert.NoError(t, CheckModParams(ok), "%q", ok)
	}
	for _, bad := range []string{"reply_count", "=3", "a/b=1", "reply_count=1 oops"} {
		err := CheckModParams(bad)
		if assert.Error(t, err, "%q", bad) {
			assert.Contains(t, err.Error(), "want key=value")
		}
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "kmod", "netl.c"))
	assert.NoError(t, err, "the root holds kmod/")

	wd, _ := os.Getwd()
	t.Cleanup(func() { _ = os.Chdir(wd) })
	require.NoError(t, os.Chdir(t.TempDir()))
	_, err = RepoRoot()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not inside the netl repository")
}

func TestPrepareRejectsBadInputEarly(t *testing.T) {
	t.Setenv("NETL_CACHE", t.TempDir())
	_, err := Prepare(Options{ModParams: "reply_count"})
	assert.ErrorContains(t, err, "want key=value")
	_, err = Prepare(Options{Series: "2.6"})
	assert.ErrorContains(t, err, `unknown kernel series "2.6"`)
	_, err = Prepare(Options{Module: "notamodule"})
	assert.ErrorContains(t, err, "want netl, seed, none, a .ko file or a directory with a Kbuild")
	_, err = Prepare(Options{Module: filepath.Join(t.TempDir(), "missing.ko")})
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestKbuildModule(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]string{
		"obj-m := splatgen.o\n":          "splatgen",
		"# c\nobj-m += netl_seed.o\n":    "netl_seed",
		"ccflags-y := -W\nobj-m = x.o\n": "x",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Kbuild"), []byte(text), 0o644))
		got, err := kbuildModule(dir)
		require.NoError(t, err, text)
		assert.Equal(t, want, got, text)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Kbuild"), []byte("obj-m := a.o b.o\n"), 0o644))
	_, err := kbuildModule(dir)
	assert.Error(t, err, "two modules")
}
