package contract

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarksRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Mark
	}{
		{MarkStart("TestA/sub"), Mark{"start", "TestA/sub"}},
		{"[    1.000000][    T9] " + MarkEnd("TestA"), Mark{"end", "TestA"}},
		{"[    2.000000] " + MarkProgram(), Mark{Kind: "program"}},
		{MarkArmed("kmemleak cleared"), Mark{"armed", "kmemleak cleared"}},
	} {
		got, ok := ParseMark(tc.line)
		require.True(t, ok, tc.line)
		assert.Equal(t, tc.want, got, tc.line)
	}
	_, ok := ParseMark("netl-test: RESTART TestA")
	assert.False(t, ok)
	_, ok = ParseMark("[    1.000000] netl: loaded")
	assert.False(t, ok)
}

func TestClaimLineRoundTrip(t *testing.T) {
	id, verdict, evidence, ok := ParseClaim("    claims_test.go:31: " + ClaimLine("C12", Holds, "two messages | one datagram"))
	require.True(t, ok)
	assert.Equal(t, []string{"C12", Holds, "two messages | one datagram"}, []string{id, verdict, evidence})
	_, _, _, ok = ParseClaim("NETL-CLAIM C3 maybe: x")
	assert.False(t, ok, "only holds and differs are verdicts a test records")
	_, _, _, ok = ParseClaim("NETL-CLAIM C6 n/a: about another module")
	assert.False(t, ok, "n/a is not a verdict")
}

func TestSpecAndStatusThroughTheShare(t *testing.T) {
	share := t.TempDir()
	require.NoError(t, WriteSpec(share, RunSpec{Module: "netl.ko", Program: "bin/x", Args: []string{"-v"}}))
	_, err := os.Stat(filepath.Join(share, RunFile))
	require.NoError(t, err)
	_, err = ReadStatus(share)
	assert.ErrorContains(t, err, "wrote no status")
	require.NoError(t, os.WriteFile(filepath.Join(share, StatusFile), []byte(`{"stage":"done","exit_code":3,"tainted_after":512}`), 0o644))
	st, err := ReadStatus(share)
	require.NoError(t, err)
	assert.Equal(t, Status{Stage: StageDone, ExitCode: 3, TaintedAfter: 512}, *st)
	require.NoError(t, os.WriteFile(filepath.Join(share, StatusFile), []byte(`{"stage":`), 0o644))
	_, err = ReadStatus(share)
	assert.ErrorContains(t, err, "reading guest status")
	assert.Equal(t, "/netl/netl.ko", GuestPath("netl.ko"))
}
