// Command repro reproduces B4: the seed module's input callback takes a
// reference on every skb with skb_get(), and drops it only for messages of
// at least NLMSG_SPACE(0) (16) bytes; each shorter datagram leaks its skb.
//
// It has kmemleak forget what it already suspects (scan, wait for the
// objects of the boot to age, scan, clear), sends 160 8-byte datagrams from
// a thread that then exits (so that no stale pointer on its kernel stack
// keeps the skbs referenced), waits past kmemleak's 5 s minimum age, scans
// twice (an object is reported once its contents stay unchanged between
// two scans) and prints /sys/kernel/debug/kmemleak. On netl_seed the
// kernel logs "kmemleak: N new suspected memory leaks" and the list holds
// the skbs allocated by netlink_sendmsg(). netl ignores the short
// datagrams, and nothing is reported.
package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

const (
	// More than the 128 sk_buff heads 7.2 keeps per CPU for reuse
	// (NAPI_SKB_CACHE_SIZE): since 7.x, __alloc_skb() takes process
	// context allocations from that cache too, and a head taken from it
	// stays pointed to by the cache's array slot, which kmemleak scans, so
	// it is never reported. The heads beyond it come from the slab and are.
	sends = 160
	// kmemleak reports no object younger than this (jiffies_min_age).
	minAge = 5 * time.Second
)

var kmemleak = filepath.Join(reprokit.DebugFS, "kmemleak")

func main() {
	mod := reprokit.MustModule()
	if err := reprokit.MountDebugFS(); err != nil {
		reprokit.Fatalf("%v", err)
	}
	if _, err := reprokit.Read(kmemleak); err != nil {
		reprokit.Fatalf("no kmemleak in debugfs (%v): this case needs the debug kernel (CONFIG_DEBUG_KMEMLEAK)", err)
	}

	reprokit.Logf("baseline: what kmemleak suspects before the test is cleared")
	scan()
	time.Sleep(minAge + time.Second)
	scan()
	scan()
	if err := reprokit.Write(kmemleak, "clear"); err != nil {
		reprokit.Fatalf("%v", err)
	}
	// What kmemleak reports from here on is the short datagrams'.
	reprokit.Armed("kmemleak cleared; sending short datagrams")

	before := skbuffs()
	short := make([]byte, 8) // nlmsg_len 8 and nlmsg_type 0: half a header
	copy(short, []byte{8, 0, 0, 0})
	sender := reprokit.Go(func() error {
		c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{PID: 0})
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < sends; i++ {
			if err := c.SendRaw(short, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err := <-sender.Done(); err != nil {
		reprokit.Fatalf("%v", err)
	}
	reprokit.Logf("sent %d datagrams of %d bytes, shorter than NLMSG_SPACE(0) = %d, from thread %d, which has exited",
		sends, len(short), netlink.Space(0), sender.TID)

	time.Sleep(minAge + time.Second)
	// Whether the skbs are still allocated, whatever kmemleak says of
	// them: the count of live sk_buff heads, before and after.
	reprokit.Logf("live sk_buff heads (/proc/slabinfo %s): %d before the sends, %d after", skbCache, before, skbuffs())
	scan()
	scan()
	report, err := reprokit.Read(kmemleak)
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	n := strings.Count(report, "unreferenced object")
	fromSend := 0
	for _, obj := range strings.Split(report, "unreferenced object")[1:] {
		if strings.Contains(obj, "netlink_sendmsg") {
			fromSend++
		}
	}
	reprokit.Logf("%s lists %d suspected leaks, %d of them allocated by netlink_sendmsg()", kmemleak, n, fromSend)
	if objs := strings.SplitAfterN(report, "unreferenced object", 3); len(objs) == 3 {
		// The first object as kmemleak lists it, not all of them.
		fmt.Println(strings.TrimSuffix(objs[0]+objs[1], "unreferenced object"))
	} else if report != "" {
		fmt.Println(report)
	}
	if fromSend > 0 {
		reprokit.Logf("%s leaked the short datagrams' skbs: B4 reproduced", mod)
	} else {
		reprokit.Logf("no skb from netlink_sendmsg() leaked: B4 not present in %s", mod)
	}
}

// skbCache is the slab of struct sk_buff (net/core/skbuff.c).
const skbCache = "skbuff_head_cache"

// skbuffs is the number of active objects in skbCache, or -1 when the
// kernel has no /proc/slabinfo (CONFIG_SLUB_DEBUG).
func skbuffs() int {
	info, err := reprokit.Read("/proc/slabinfo")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(info, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == skbCache {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// scan makes kmemleak scan memory now.
func scan() {
	t0 := time.Now()
	if err := reprokit.Write(kmemleak, "scan"); err != nil {
		reprokit.Fatalf("%v", err)
	}
	reprokit.Logf("scan took %v", time.Since(t0).Round(time.Millisecond))
}
