// Command repro reproduces B1: the seed module's sendnlmsg() writes a NUL
// into the string literal it is given, on the first reply to any request.
//
// It is the article's user program: bind port 100, send "Hello you!" to the
// kernel in a message of NLMSG_SPACE(1024) bytes with nlmsg_pid 100, print
// the reply. On netl_seed the input callback sleeps 3 s, then builds the
// first reply and faults writing to read-only data; the guest panics
// (oops=panic) before sendmsg returns. On netl the reply arrives and the
// program exits 0.
package main

import (
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

func main() {
	mod := reprokit.MustModule()

	c, _ := reprokit.MustDial(100, 10*time.Second)
	defer c.Close()

	req := netlink.SeedRequest(100, "Hello you!")
	reprokit.Logf("bound port 100; sending the article's request: type 0, nlmsg_len %d, nlmsg_pid 100, payload %q",
		req.Header.Length, netlink.CString(req.Data))
	if mod == reprokit.Seed {
		reprokit.Logf("netl_seed sleeps 3 s, then sendnlmsg(\"I am from kernel!\", 100) writes message[17] = '\\0' into that literal")
	}
	t0 := time.Now()
	if err := c.Send(req); err != nil {
		reprokit.Fatalf("%v", err)
	}
	reprokit.Logf("sendmsg returned after %v", time.Since(t0).Round(time.Millisecond))

	msgs, err := c.Receive()
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	for _, m := range msgs {
		reprokit.Logf("Received message: %s (type %v, %d bytes of payload)", netlink.CString(m.Data), m.Header.Type, len(m.Data))
	}
	reprokit.Logf("the reply arrived and the kernel survived: B1 not present in %s", mod)
}
