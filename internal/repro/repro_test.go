package repro

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeCase(t *testing.T, dir, id, body string, withProgram bool) {
	t.Helper()
	d := filepath.Join(dir, id)
	require.NoError(t, os.MkdirAll(filepath.Join(d, "repro"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d, "case.json"), []byte(body), 0o644))
	if withProgram {
		require.NoError(t, os.WriteFile(filepath.Join(d, "repro", "main.go"), []byte("package main\nfunc main() {}\n"), 0o644))
	}
}

func TestLoadValidates(t *testing.T) {
	dir := t.TempDir()
	writeCase(t, dir, "B1", `{"id":"B1","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"report","pattern":"BUG: unable to handle"}}`, true)
	cases, err := Load(dir, "")
	require.NoError(t, err)
	require.Len(t, cases, 1)
	assert.Equal(t, "B1", cases[0].ID)

	for name, body := range map[string]string{
		"module":  `{"id":"X","module":"other","program":"repro","timeout":"60s","expect":{"kind":"hang"}}`,
		"timeout": `{"id":"X","module":"seed","program":"repro","timeout":"soon","expect":{"kind":"hang"}}`,
		"kind":    `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"crash"}}`,
		"pattern": `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"report"}}`,
		"regexp":  `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"report","pattern":"("}}`,
		"json":    `{"id":`,
	} {
		d := t.TempDir()
		writeCase(t, d, "X", body, true)
		_, err := Load(d, "")
		assert.Error(t, err, name)
	}
	d := t.TempDir()
	writeCase(t, d, "X", `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"hang"}}`, false)
	_, err = Load(d, "")
	assert.ErrorContains(t, err, "program", "a case without its reproducer")

	_, err = Load(dir, "B9")
	assert.ErrorContains(t, err, `no repro case "B9"`)
}

func TestRepositoryCasesLoad(t *testing.T) {
	cases, err := Load(filepath.Join("..", "..", "vmtest", "repro"), "")
	require.NoError(t, err, "every vmtest/repro case is valid")
	assert.NotEmpty(t, cases)
}
