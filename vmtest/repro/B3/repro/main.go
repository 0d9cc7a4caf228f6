// Command repro reproduces B3: the seed module's sendnlmsg() logs a failed
// alloc_skb() and then uses the NULL skb anyway.
//
// Allocation failures are injected with failslab (see the kernel's
// Documentation/fault-injection/fault-injection.rst), aimed at one thread
// and one allocation: the request is sent from a thread of its own; once
// that thread sleeps inside the module's input callback (D state), the
// program sets make-it-fail for it and arms failslab for a single failure
// (task-filter Y, ignore-gfp-wait N, probability 100, interval 1, times 1).
// The first slab allocation the thread makes after it wakes is the module's
// reply: netl_seed's alloc_skb() returns NULL and nlmsg_put() dereferences
// it. netl's nlmsg_new() fails the same way; netl drops that reply (and
// stops the series), counts it in tx_drops, answers the next request, and
// the program exits 0.
//
// So that netl also sleeps before it allocates a reply, as the seed does,
// the program sets netl's reply_interval_ms=3000 (netl sleeps before each
// reply, as the article's module does) and restores it afterwards.
package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

var failslab = filepath.Join(reprokit.DebugFS, "failslab")

func main() {
	mod := reprokit.MustModule()
	if err := reprokit.MountDebugFS(); err != nil {
		reprokit.Fatalf("%v", err)
	}
	if _, err := reprokit.Read(filepath.Join(failslab, "probability")); err != nil {
		reprokit.Fatalf("no failslab in debugfs (%v): this case needs the debug kernel (CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS)", err)
	}
	restore := func() {}
	if mod == reprokit.Fixed {
		restore = setParams(map[string]string{"reply_count": "1", "reply_interval_ms": "3000"})
		defer restore()
	}

	c, _ := reprokit.MustDial(100, 10*time.Second)
	defer c.Close()
	var before netlink.Stats
	if mod == reprokit.Fixed {
		var err error
		if before, err = c.Stats(); err != nil {
			reprokit.Fatalf("%v", err)
		}
	}

	reprokit.Logf("port 100 sends the article's request from a thread of its own")
	t0 := time.Now()
	sender := reprokit.Go(func() error { return c.Send(netlink.SeedRequest(100, "Hello you!")) })
	wchan, err := sender.WaitBlocked(2 * time.Second)
	if err != nil {
		if errors.Is(err, reprokit.ErrNotBlocked) {
			reprokit.Fatalf("sendmsg returned before the module slept: nothing to aim the fault at")
		}
		reprokit.Fatalf("%v", err)
	}
	reprokit.Logf("sender thread %d sleeps in the input callback (D state, wchan %s) after %v",
		sender.TID, wchan, time.Since(t0).Round(time.Millisecond))

	disarm, err := arm(sender.TID)
	if err != nil {
		disarm()
		reprokit.Fatalf("%v", err)
	}
	if mod == reprokit.Seed {
		reprokit.Logf("when it wakes, netl_seed's alloc_skb() fails and nlmsg_put(NULL, ...) follows")
	}
	returned, err := sender.Wait(15 * time.Second)
	disarm()
	if !returned {
		reprokit.Fatalf("sendmsg still blocked %v after it started", time.Since(t0).Round(time.Second))
	}
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	left, _ := reprokit.Read(filepath.Join(failslab, "times"))
	reprokit.Logf("sendmsg returned after %v; failslab times left: %s (0: the failure was injected)",
		time.Since(t0).Round(time.Millisecond), left)

	// The one reply's allocation failed: nothing is queued, the drop is
	// counted, and the module answers the next request.
	if err := c.SetReceiveTimeout(500 * time.Millisecond); err != nil {
		reprokit.Fatalf("%v", err)
	}
	if msgs, err := c.Receive(); err == nil {
		reprokit.Fatalf("a reply arrived although its allocation failed: %q", netlink.CString(msgs[0].Data))
	}
	st, err := c.Stats()
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	reprokit.Logf("%s counters: tx_drops %d -> %d (the reply whose allocation failed)", mod, before.TxDrops, st.TxDrops)
	if st.TxDrops <= before.TxDrops {
		reprokit.Fatalf("the failed reply was not counted in tx_drops")
	}
	restore()
	if err := c.SetReceiveTimeout(10 * time.Second); err != nil {
		reprokit.Fatalf("%v", err)
	}
	if err := c.Send(netlink.SeedRequest(100, "again")); err != nil {
		reprokit.Fatalf("%v", err)
	}
	msgs, err := c.Receive()
	if err != nil {
		reprokit.Fatalf("no reply to the next request: %v", err)
	}
	reprokit.Logf("next request answered: %s", netlink.CString(msgs[0].Data))
	reprokit.Logf("%s survived a failed reply allocation: B3 not present", mod)
}

// arm makes the next slab allocation of thread tid fail, once. The returned
// function disarms failslab; it is safe to call more than once.
func arm(tid int) (func(), error) {
	makeItFail := fmt.Sprintf("/proc/self/task/%d/make-it-fail", tid)
	disarm := func() {
		_ = reprokit.Write(filepath.Join(failslab, "probability"), "0")
		_ = reprokit.Write(makeItFail, "0") // fails once the thread has exited
	}
	if err := reprokit.Write(makeItFail, "1"); err != nil {
		return disarm, err
	}
	for _, kv := range [][2]string{
		{"task-filter", "Y"},     // only tasks with make-it-fail set
		{"ignore-gfp-wait", "N"}, // GFP_KERNEL allocations may sleep: do not skip them
		{"cache-filter", "N"},    // any slab cache
		{"verbose", "2"},         // log the failure with a stack trace
		{"interval", "1"},
		{"space", "0"},
		{"times", "1"},         // one failure, then nothing
		{"probability", "100"}, // last: this arms it
	} {
		if err := reprokit.Write(filepath.Join(failslab, kv[0]), kv[1]); err != nil {
			return disarm, err
		}
	}
	return disarm, nil
}

// setParams sets netl's module parameters and returns a function that
// restores their old values.
func setParams(kv map[string]string) func() {
	old := map[string]string{}
	for k, v := range kv {
		p := filepath.Join("/sys/module", reprokit.Fixed, "parameters", k)
		o, err := reprokit.Read(p)
		if err != nil {
			reprokit.Fatalf("%v", err)
		}
		old[k] = o
		if err := reprokit.Write(p, v); err != nil {
			reprokit.Fatalf("%v", err)
		}
	}
	return func() {
		for k, v := range old {
			_ = reprokit.Write(filepath.Join("/sys/module", reprokit.Fixed, "parameters", k), v)
		}
	}
}
