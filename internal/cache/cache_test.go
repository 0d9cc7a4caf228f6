package cache

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyParts(t *testing.T) {
	key := func(parts ...string) string {
		k := NewKey()
		k.Printf("recipe-1\n")
		for i := 0; i+1 < len(parts); i += 2 {
			k.Part(parts[i], []byte(parts[i+1]))
		}
		return k.String(16)
	}
	assert.Equal(t, key("a", "xy", "b", "z"), key("a", "xy", "b", "z"), "stable")
	assert.NotEqual(t, key("a", "xy", "b", "z"), key("a", "x", "b", "yz"), "bytes moved between parts change the key")
	assert.Len(t, key("a", "b"), 16)
}

func TestWriteFileWholeOrNot(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	require.NoError(t, WriteFile(p, []byte("one"), 0o644))
	require.NoError(t, WriteFile(p, []byte("two"), 0o600))
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "two", string(data))
	st, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	left, _ := filepath.Glob(filepath.Join(dir, ".f.tmp-*"))
	assert.Empty(t, left, "no temporary file left behind")
	assert.Error(t, WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o644))
}
