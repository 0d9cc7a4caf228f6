package vmtest

import (
	"fmt"
	"regexp"
	"strings"
)

// seedClaims are the article's sentences (../shared/SEED.md), one per claim
// the guest suite checks.
var seedClaims = []struct{ ID, Sentence string }{
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

var claimLine = regexp.MustCompile(`NETL-CLAIM (C\d+) (holds|differs|n/a): (.*)`)

type claimVerdict struct{ Verdict, Evidence string }

// parseClaims finds the verdicts the guest tests logged.
func parseClaims(output string) map[string]claimVerdict {
	got := make(map[string]claimVerdict)
	for _, line := range strings.Split(output, "\n") {
		if m := claimLine.FindStringSubmatch(line); m != nil {
			got[m[1]] = claimVerdict{m[2], strings.TrimSpace(m[3])}
		}
	}
	return got
}

// claimsTable renders the verdicts as a Markdown table for one kernel.
func claimsTable(release string, got map[string]claimVerdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| claim | the seed says | on %s | evidence |\n|---|---|---|---|\n", release)
	for _, c := range seedClaims {
		v, ok := got[c.ID]
		if !ok {
			v = claimVerdict{"not checked", "its test failed or did not run"}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.ID, c.Sentence, v.Verdict, strings.ReplaceAll(v.Evidence, "|", `\|`))
	}
	return b.String()
}
