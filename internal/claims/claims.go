// Package claims holds the seed article's claims (../shared/SEED.md) and
// turns the verdicts the guest tests record (contract.ClaimLine) into the
// claims table of one kernel.
package claims

import (
	"fmt"
	"strings"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/internal/harness"
)

// Seed are the article's sentences, one per claim the guest suite checks.
var Seed = []struct{ ID, Sentence string }{
	{"C1", "Netlink is full duplex between user space and kernel; SOCK_RAW and SOCK_DGRAM both work."},
	{"C2", "Addresses are 32-bit port ids (nl_pid), not process ids; port 0 is the kernel."},
	{"C3", "User-to-kernel sendmsg is synchronous: it returns only after the module's input callback returns."},
	{"C4", "Kernel-to-user delivery is asynchronous: replies queue on the socket and need no waiting reader."},
	{"C5", "The kernel never checks nlmsg_pid in the header: a sender can write any port there."},
	{"C6", "A module that answers to nlmsg_pid sends its replies to itself when the user writes 0 there."},
	{"C7", "Two sockets that bind the same nl_pid on one protocol: the second gets EADDRINUSE; SO_REUSEADDR does not help."},
	{"C8", "The same nl_pid on two different netlink protocols does not conflict."},
	{"C9", "The kernel does not assign a port for us, so bind is required."},
	{"C10", "Sending to nl_pid = 101 reaches the user process bound there: netlink also works as user-to-user IPC."},
	{"C11", "Up to 32 multicast groups, one bit each in nl_groups; netlink_broadcast reaches every member."},
	{"C12", "Messages are 4-byte aligned, the header is 16 bytes; NLMSG_* macros behave as written."},
	{"C13", "The kernel may send to an agreed port with no request first."},
	{"C14", "Control types NOOP=1, ERROR=2, DONE=3, OVERRUN=4, NLMSG_MIN_TYPE=0x10, and the NLM_F_* values listed."},
	{"C15", "A multipart answer sets NLM_F_MULTI on each part and ends with NLMSG_DONE."},
}

// Verdict is one claim's verdict on one kernel, and the test it came from.
type Verdict struct {
	Verdict, Evidence, Test string
}

// FromTests reads the verdicts the guest tests recorded. A claim whose
// test failed (an assertion, a kernel report, no end) is "failed" whatever
// it recorded: a verdict from a test that went wrong is no verdict.
func FromTests(tests []*harness.GuestTest) map[string]Verdict {
	got := make(map[string]Verdict)
	for _, t := range tests {
		for _, line := range strings.Split(t.Output, "\n") {
			id, verdict, evidence, ok := contract.ParseClaim(line)
			if !ok {
				continue
			}
			if t.Action != "pass" || len(t.Reports) > 0 {
				verdict, evidence = contract.Failed, fmt.Sprintf("%s failed (it had recorded %q: %s)", t.Name, verdict, evidence)
			}
			got[id] = Verdict{verdict, evidence, t.Name}
		}
	}
	return got
}

// Missing are the claims with no verdict.
func Missing(got map[string]Verdict) []string {
	var m []string
	for _, c := range Seed {
		if _, ok := got[c.ID]; !ok {
			m = append(m, c.ID)
		}
	}
	return m
}

// Table renders the verdicts as a Markdown table for one kernel.
func Table(release string, got map[string]Verdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| claim | the seed says | on %s | evidence |\n|---|---|---|---|\n", release)
	for _, c := range Seed {
		v, ok := got[c.ID]
		if !ok {
			v = Verdict{Verdict: "not checked", Evidence: "its test did not run"}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.ID, c.Sentence, v.Verdict, strings.ReplaceAll(v.Evidence, "|", `\|`))
	}
	return b.String()
}
