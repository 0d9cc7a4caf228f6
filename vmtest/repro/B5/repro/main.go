// Command repro reproduces B5: the seed module answers the port written in
// the request's nlmsg_pid instead of the port the request came from
// (NETLINK_CB(skb).portid). The article's own experiment (claim C6): write 0
// both as the bound port and as nlmsg_pid; the module then addresses its
// replies to port 0, its own kernel socket, and feeds them to its own input
// callback.
//
// The request is sent from a thread of its own while the main thread
// reports its state. Against netl the reply arrives at the port the kernel
// assigned, and the program exits 0. Against netl_seed it never returns:
// see ../README.md for what ends the guest first.
package main

import (
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

func main() {
	mod := reprokit.MustModule()

	// Bind nl_pid 0 (the article's A): the kernel assigns a port.
	c, port := reprokit.MustDial(0, 10*time.Second)
	defer c.Close()

	// nlmsg_pid 0 in the header (the article's C).
	req := netlink.SeedRequest(0, "Hello you!")
	reprokit.Logf("bound nl_pid 0, the kernel assigned port %d; sending the article's request with nlmsg_pid 0", port)
	if mod == reprokit.Seed {
		reprokit.Logf("netl_seed will send its replies to port 0: its own kernel socket, whose input callback it is")
	}
	t0 := time.Now()
	sender := reprokit.Go(func() error { return c.Send(req) })
	for {
		returned, err := sender.Wait(5 * time.Second)
		if returned {
			if err != nil {
				reprokit.Fatalf("%v", err)
			}
			break
		}
		st, wchan := sender.State()
		reprokit.Logf("sendmsg still blocked after %v: sender thread %d in state %s (wchan %s)",
			time.Since(t0).Round(time.Second), sender.TID, st, wchan)
	}
	reprokit.Logf("sendmsg returned after %v", time.Since(t0).Round(time.Millisecond))

	msgs, from, err := c.ReceiveFrom()
	if err != nil {
		reprokit.Fatalf("no reply at port %d: %v", port, err)
	}
	for _, m := range msgs {
		reprokit.Logf("port %d received from port %d: %s (type %v)", port, from, netlink.CString(m.Data), m.Header.Type)
	}
	reprokit.Logf("%s answered the true sender, not nlmsg_pid 0: B5 not present", mod)
}
