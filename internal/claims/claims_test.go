package claims

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/splat"
)

func TestAFailedTestsClaimIsFailed(t *testing.T) {
	line := "    claims_test.go:31: " + contract.ClaimLine("C3", contract.Holds, "sendmsg blocked 800 ms") + "\n"
	for _, tc := range []struct {
		name string
		test harness.GuestTest
		want string
	}{
		{"passed", harness.GuestTest{Name: "TestClaimC3", Action: "pass", Output: line}, contract.Holds},
		{"assertion failed after the verdict", harness.GuestTest{Name: "TestClaimC3", Action: "fail", Output: line}, contract.Failed},
		{"never finished", harness.GuestTest{Name: "TestClaimC3", Output: line}, contract.Failed},
		{"kernel report during it", harness.GuestTest{Name: "TestClaimC3", Action: "pass", Output: line,
			Reports: []splat.Report{{Kind: "WARNING", Title: "WARNING: x"}}}, contract.Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FromTests([]*harness.GuestTest{&tc.test})
			assert.Equal(t, tc.want, got["C3"].Verdict)
			assert.Contains(t, Table("6.12", got), "| C3 |")
			assert.Contains(t, Missing(got), "C1")
			assert.NotContains(t, Missing(got), "C3")
		})
	}
}

func TestReproDecidesC6(t *testing.T) {
	got := map[string]Verdict{}
	assert.Contains(t, Repros(), "B5")
	assert.NotContains(t, Missing(got), "C6", "a guest suite alone never has C6")
	assert.Contains(t, Table("6.12", got), "decided by repro case B5")

	FromRepro(got, "B5", "reproduced", "killed at the 40s timeout after: B5 loop")
	assert.Equal(t, contract.Holds, got["C6"].Verdict)
	FromRepro(got, "B5", "error", "netl.ko run: timed out")
	assert.Equal(t, contract.Failed, got["C6"].Verdict, "a broken repro run is no verdict")
	assert.Contains(t, got["C6"].Evidence, "read error")

	table := MatrixTable([]string{"6.1", "6.12"}, map[string]map[string]Verdict{
		"6.1":  {"C1": {Verdict: contract.Holds, Evidence: "old"}},
		"6.12": {"C1": {Verdict: contract.Differs, Evidence: "a | b"}},
	})
	assert.Contains(t, table, "| claim | the seed says | 6.1 | 6.12 | evidence on 6.12 |")
	assert.Contains(t, table, "| holds | differs | a \\| b |")
	assert.Contains(t, table, "| not checked | not checked |", "a claim with no verdict says so")
}
