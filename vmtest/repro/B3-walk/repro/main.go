// Command repro finds B3 without aiming: the seed's sendnlmsg() logs a
// failed alloc_skb() and then uses the NULL skb. Where B3's own reproducer
// makes one chosen allocation fail (failslab's make-it-fail, armed while
// the sender sleeps in the module), this one walks every allocation the
// sending thread makes for the article's request, with the code of the
// guest suite's TestFaultWalkRequests (internal/faultwalk): the
// request is sent again and again from a thread locked to itself, with
// /proc/thread-self/fail-nth set to 1, 2, 3, ..., each run failing one
// more failure point, until a run passes them all.
//
// Against netl_seed the walk reaches the reply's alloc_skb() within a few
// runs (the request skb's allocations come first) and the kernel oopses in
// sendnlmsg(). Against netl every run must end in a clean errno or the
// normal answer, judged against the unfailed run, and the module must
// answer after each; the program then exits 0.
//
// The case runs the seed's b1-fixed variant with interval_ms=0: B1 (a store
// into the reply's string literal, on every reply that was allocated)
// would oops at the first run whose failure the kernel absorbs before the
// module is called (on 6.12, failure point 2: the request goes through),
// before the walk reaches B3; and the
// article's 10 x 3 s between replies would make every run 30 s long.
package main

import (
	"runtime"

	"github.com/netl-dev/netl/internal/faultwalk"
	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

const max = 10000

func main() {
	mod := reprokit.MustModule()
	if err := reprokit.MountDebugFS(); err != nil {
		reprokit.Fatalf("%v", err)
	}
	if !faultwalk.FaultInjectionAvailable() {
		reprokit.Fatalf("no %s: this case needs the debug kernel (CONFIG_FAULT_INJECTION)", faultwalk.FailNthPath)
	}
	runtime.LockOSThread() // fail-nth is the thread's
	restore, err := faultwalk.SetFaultKnobs()
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	defer func() {
		if err := restore(); err != nil {
			reprokit.Fatalf("restoring the fault injection knobs: %v", err)
		}
	}()
	w, err := faultwalk.NewFaultWalker()
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	defer w.Close()

	req := faultwalk.SeedFaultRequest("type 0 (the article's request), NLM_F_REQUEST|NLM_F_ACK", netlink.Request|netlink.Acknowledge)
	base, err := w.Exchange(req, 0)
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	reprokit.Logf("%s with no failure injected: %s", req.Name, base.Summary())
	if base.SendErr != 0 || len(base.RecvErrs) > 0 || len(base.Msgs) == 0 {
		reprokit.Fatalf("the request failed with no failure injected")
	}
	reprokit.Logf("walking its failure points: fail-nth 1, 2, ... (at most %d)", max)

	tally := faultwalk.Tally{}
	points, err := w.Walk(req, max, func(ex faultwalk.Exchange) error {
		if !ex.Injected {
			return nil
		}
		outcome := ex.Summary()
		if mod == reprokit.Fixed {
			if outcome, err = faultwalk.Judge(req, ex, base); err != nil {
				return err
			}
			tally[outcome]++
		}
		reprokit.Logf("failure point %d: %s", ex.Nth, outcome)
		if mod == reprokit.Fixed {
			// The module answers the next request, unfailed.
			next, err := w.Exchange(req, 0)
			if err != nil {
				return err
			}
			if _, err := faultwalk.Judge(req, next, base); err != nil || next.Summary() != base.Summary() {
				reprokit.Fatalf("after failure point %d the next request got %s (%v)", ex.Nth, next.Summary(), err)
			}
		}
		return nil
	})
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	if mod == reprokit.Seed {
		reprokit.Logf("the walk ended after %d failure points and netl_seed survived every one: B3 not shown", points)
		return
	}
	reprokit.Logf("fault walk: %s: %d failure points, seen: %s", req.Name, points, tally)
	reprokit.Logf("%s survived every allocation failure of the request: B3 not present", mod)
}
