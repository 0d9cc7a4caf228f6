package harness

import (
	"os"
	"strings"
	"testing"
)

// Report shows a guest run on t: each guest test as a subtest with its
// output, result and the kernel reports placed in it; and on t itself what
// lies outside every test (a VM that did not report, init's errors,
// reports during boot, an exit status no test explains).
func Report(t *testing.T, res *Result) {
	t.Helper()
	ci := os.Getenv("CI") != ""
	// What lies outside every test, from the one list of failures; a
	// guest that died still has its tests below, the one that was running
	// when it died among them.
	ran := map[string]bool{}
	for _, g := range res.Tests {
		ran[g.Name] = true
	}
	for _, f := range res.Failures(ci) {
		switch {
		case f.Test != "" && ran[f.Test]:
			// the guest test's subtest below says it
		case f.Test != "":
			t.Errorf("%s\n%s", f, f.Detail) // its output died with the guest
		case f.Detail != "":
			t.Errorf("%s", f.Detail)
		default:
			t.Errorf("%s\noutput:\n%s\nconsole tail:\n%s", f.Reason, res.Output, strings.Join(res.Tail, "\n"))
		}
	}
	for _, g := range res.Tests {
		t.Run(g.Name, func(t *testing.T) {
			for _, r := range g.Reports {
				t.Errorf("%s", r)
			}
			out := strings.TrimRight(g.Output, "\n")
			// Skipped subtests show as skips here too; in CI a skip
			// that is not a kernel-version gate fails.
			for _, sk := range g.Skips {
				if sk.Name == g.Name {
					continue
				}
				t.Run(strings.TrimPrefix(sk.Name, g.Name+"/"), func(t *testing.T) {
					if ci && !sk.Gate() {
						t.Errorf("skipped in the guest (%s), and CI allows no skip but a kernel-version gate", sk.Reason)
						return
					}
					t.Skip(sk.Reason)
				})
			}
			switch g.Action {
			case "pass":
				t.Log("\n" + out)
			case "skip":
				if ci && (len(g.Skips) == 0 || !g.Skips[len(g.Skips)-1].Gate()) {
					t.Errorf("skipped in the guest, and CI allows no skip but a kernel-version gate:\n%s", out)
					return
				}
				t.Skip("\n" + out)
			case "fail":
				t.Error("\n" + out)
			default:
				t.Errorf("never finished in the guest (timeout or crash):\n%s", out)
			}
		})
	}
}
