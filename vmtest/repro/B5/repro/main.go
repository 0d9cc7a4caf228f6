// Command repro reproduces B5: the seed module answers the port written in
// the request's nlmsg_pid instead of the port the request came from
// (NETLINK_CB(skb).portid). It runs on the b1-fixed variant of the port
// (kmod/seed/b1-fixed), where B1's oops on the first reply no longer hides
// what follows, in two steps:
//
//  1. Spoofing (claim C5): port A sends the article's request with port
//     B's number in nlmsg_pid. netl_seed sends the replies to B; netl
//     answers A, the true sender. A reply at the wrong port on netl fails
//     the program; so does the seed variant answering A (B5 would be gone).
//  2. The self-loop (claim C6): A sends the request with nlmsg_pid 0. The
//     seed variant sends its reply to port 0, its own kernel socket, whose
//     input callback is the seed's own: it re-enters nl_data_ready() from
//     inside itself, once per reply interval, for ever, in the sender's
//     sendmsg(), uninterruptibly. The program counts the entries in the
//     kernel log; after three for one request it prints "B5 loop:" and
//     waits with the sender, which never returns: the guest hangs, as the
//     article reports, and the harness kills it at the case's timeout. At
//     2 s per level the 40 s timeout comes long before the stack runs out
//     (about 65 levels). netl answers the true sender at once and the
//     program exits 0.
package main

import (
	"bufio"
	"os"
	"strings"
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

const interval = "/sys/module/netl_seed/parameters/interval_ms"

func main() {
	mod := reprokit.MustModule()
	seed := mod == reprokit.Seed
	if seed {
		if _, err := reprokit.Read(interval); err != nil {
			reprokit.Fatalf("this case needs the b1-fixed variant of the seed (interval_ms parameter): %v", err)
		}
		// Step 1 needs the ten replies quickly.
		if err := reprokit.Write(interval, "20"); err != nil {
			reprokit.Fatalf("%v", err)
		}
	}
	a, portA := reprokit.MustDial(0, 2*time.Second)
	defer a.Close()
	b, portB := reprokit.MustDial(0, 2*time.Second)
	defer b.Close()

	reprokit.Logf("step 1: port %d sends the article's request with nlmsg_pid %d (port B)", portA, portB)
	if err := a.Send(netlink.SeedRequest(portB, "Hello you!")); err != nil {
		reprokit.Fatalf("%v", err)
	}
	_, errB := b.Receive()
	_, errA := a.Receive()
	switch {
	case seed && errB == nil:
		reprokit.Logf("the reply went to port %d, the port written in nlmsg_pid, not to the sender %d (C5)", portB, portA)
	case seed:
		reprokit.Fatalf("%s answered the true sender (%v): B5 is not in this module", mod, errA)
	case errB == nil:
		reprokit.Fatalf("%s sent a reply to port %d, the spoofed nlmsg_pid", mod, portB)
	case errA != nil:
		reprokit.Fatalf("%s did not answer the sender %d: %v", mod, portA, errA)
	default:
		reprokit.Logf("%s answered the sender %d and nothing reached port %d", mod, portA, portB)
	}
	drain(a)
	drain(b)

	if seed {
		if err := reprokit.Write(interval, "2000"); err != nil {
			reprokit.Fatalf("%v", err)
		}
	}
	kmsg, err := os.Open("/dev/kmsg")
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	if _, err := kmsg.Seek(0, 2); err != nil { // only what comes from now on
		reprokit.Fatalf("%v", err)
	}
	reprokit.Logf("step 2: port %d sends the request with nlmsg_pid 0", portA)
	sender := reprokit.Go(func() error { return a.Send(netlink.SeedRequest(0, "Hello you!")) })
	entries := make(chan int)
	go countEntries(kmsg, entries)
	n := 0
	for {
		select {
		case n = <-entries:
			if n >= 3 {
				st, wchan := sender.State()
				reprokit.Logf("B5 loop: %s entered its input callback %d times for one request; the sender (thread %d, state %s, wchan %s) is still in sendmsg",
					mod, n, sender.TID, st, wchan)
				select {} // with the sender, for ever
			}
		case err := <-sender.Done():
			if err != nil {
				reprokit.Fatalf("%v", err)
			}
			msgs, from, err := a.ReceiveFrom()
			if err != nil {
				reprokit.Fatalf("no reply at port %d: %v", portA, err)
			}
			reprokit.Logf("port %d received %d message(s) from port %d: %s; the input callback ran %d time(s)",
				portA, len(msgs), from, netlink.CString(msgs[0].Data), n)
			reprokit.Logf("%s answered the true sender, not nlmsg_pid 0: B5 not present", mod)
			return
		case <-time.After(20 * time.Second):
			reprokit.Fatalf("sendmsg neither returned nor looped in 20 s (%d entries)", n)
		}
	}
}

// countEntries sends the running count of the seed's "begin data_ready"
// lines in the kernel log.
func countEntries(kmsg *os.File, out chan<- int) {
	sc := bufio.NewScanner(kmsg)
	n := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), "begin data_ready") {
			n++
			out <- n
		}
	}
}

// drain reads whatever else is queued on c.
func drain(c *netlink.Conn) {
	_ = c.SetReceiveTimeout(300 * time.Millisecond)
	for {
		if _, err := c.Receive(); err != nil {
			break
		}
	}
	_ = c.SetReceiveTimeout(2 * time.Second)
}
