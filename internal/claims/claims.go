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

// Claim is one sentence of the article.
type Claim struct {
	ID, Sentence string
	// Repro names the repro case whose verdict is this claim's verdict,
	// for a claim about a module that behaves as the seed does, which the
	// guest suite (netl.ko loaded) cannot show: C6's self-loop hangs its
	// sender for good.
	Repro string
}

// Seed are the article's sentences, one per claim the guest suite checks.
var Seed = []Claim{
	{ID: "C1", Sentence: "Netlink is full duplex between user space and kernel; SOCK_RAW and SOCK_DGRAM both work."},
	{ID: "C2", Sentence: "Addresses are 32-bit port ids (nl_pid), not process ids; port 0 is the kernel."},
	{ID: "C3", Sentence: "User-to-kernel sendmsg is synchronous: it returns only after the module's input callback returns."},
	{ID: "C4", Sentence: "Kernel-to-user delivery is asynchronous: replies queue on the socket and need no waiting reader."},
	{ID: "C5", Sentence: "The kernel never checks nlmsg_pid in the header: a sender can write any port there."},
	{ID: "C6", Sentence: "A module that answers to nlmsg_pid sends its replies to itself when the user writes 0 there.", Repro: "B5"},
	{ID: "C7", Sentence: "Two sockets that bind the same nl_pid on one protocol: the second gets EADDRINUSE; SO_REUSEADDR does not help."},
	{ID: "C8", Sentence: "The same nl_pid on two different netlink protocols does not conflict."},
	{ID: "C9", Sentence: "The kernel does not assign a port for us, so bind is required."},
	{ID: "C10", Sentence: "Sending to nl_pid = 101 reaches the user process bound there: netlink also works as user-to-user IPC."},
	{ID: "C11", Sentence: "Up to 32 multicast groups, one bit each in nl_groups; netlink_broadcast reaches every member."},
	{ID: "C12", Sentence: "Messages are 4-byte aligned, the header is 16 bytes; NLMSG_* macros behave as written."},
	{ID: "C13", Sentence: "The kernel may send to an agreed port with no request first."},
	{ID: "C14", Sentence: "Control types NOOP=1, ERROR=2, DONE=3, OVERRUN=4, NLMSG_MIN_TYPE=0x10, and the NLM_F_* values listed."},
	{ID: "C15", Sentence: "A multipart answer sets NLM_F_MULTI on each part and ends with NLMSG_DONE."},
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

// Missing are the claims with no verdict, but those a repro case decides
// (FromRepro), which a guest suite alone never has.
func Missing(got map[string]Verdict) []string {
	var m []string
	for _, c := range Seed {
		if _, ok := got[c.ID]; !ok && c.Repro == "" {
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
		switch {
		case !ok && c.Repro != "":
			v = Verdict{Verdict: "not checked", Evidence: "decided by repro case " + c.Repro + ": netlvm claims"}
		case !ok:
			v = Verdict{Verdict: "not checked", Evidence: "its test did not run"}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.ID, c.Sentence, v.Verdict, strings.ReplaceAll(v.Evidence, "|", `\|`))
	}
	return b.String()
}

// FromRepro sets the verdicts of the claims a repro case decides: holds
// when the case reproduced (the seed-like module did what the claim says),
// failed on any other verdict, with the case's reason.
func FromRepro(got map[string]Verdict, caseID, verdict, reason string) {
	for _, c := range Seed {
		if c.Repro != caseID {
			continue
		}
		v := Verdict{Verdict: contract.Holds, Evidence: "repro " + caseID + ", on the seed's b1-fixed variant: " + reason, Test: "repro " + caseID}
		if verdict != "reproduced" {
			v = Verdict{Verdict: contract.Failed, Evidence: "repro " + caseID + " read " + verdict + ": " + reason, Test: "repro " + caseID}
		}
		got[c.ID] = v
	}
}

// Repros are the repro cases the claims need.
func Repros() []string {
	var ids []string
	for _, c := range Seed {
		if c.Repro != "" {
			ids = append(ids, c.Repro)
		}
	}
	return ids
}

// MatrixTable is the claims table of several kernels: the article's
// sentence, a verdict per series, and the evidence on the last one.
func MatrixTable(series []string, got map[string]map[string]Verdict) string {
	var b strings.Builder
	b.WriteString("| claim | the seed says |")
	for _, s := range series {
		fmt.Fprintf(&b, " %s |", s)
	}
	fmt.Fprintf(&b, " evidence on %s |\n|---|---|", series[len(series)-1])
	for range series {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for _, c := range Seed {
		fmt.Fprintf(&b, "| %s | %s |", c.ID, c.Sentence)
		for _, s := range series {
			v, ok := got[s][c.ID]
			if !ok {
				v.Verdict = "not checked"
			}
			fmt.Fprintf(&b, " %s |", v.Verdict)
		}
		ev := got[series[len(series)-1]][c.ID].Evidence
		fmt.Fprintf(&b, " %s |\n", strings.ReplaceAll(ev, "|", `\|`))
	}
	return b.String()
}
