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
