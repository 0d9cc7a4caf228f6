// Command repro reproduces B9: the seed module's sendnlmsg() reserves a
// payload of MAX_MSGSIZE (1024) bytes with nlmsg_put() and writes only the
// 18 bytes of "I am from kernel!" into it; alloc_skb() does not clear the
// rest, so 1006 bytes of whatever the kernel had in that memory before
// reach user space with every reply.
//
// To make "whatever was there" visible, the program first fills the slab
// the skb data comes from: it sends itself (user to user, never to the
// module) 64 datagrams of the reply's size, every byte 0xA5, and reads them
// back, which frees their data. Then it asks the module for one reply and
// counts the bytes past the string's terminator that are not zero. Any is a
// leak of kernel memory: the program prints where and exits
// contract.ReproShownExit. It runs on the b1-fixed variant of the port
// (kmod/seed/b1-fixed): on the port itself B1 faults before the reply is
// sent. netl's seed reply carries its string in a zeroed, fixed-size
// payload, nothing else, and the program exits 0.
package main

import (
	"bytes"
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

const interval = "/sys/module/netl_seed/parameters/interval_ms"

func main() {
	mod := reprokit.MustModule()
	if mod == reprokit.Seed {
		if err := reprokit.Write(interval, "0"); err != nil {
			reprokit.Fatalf("this case needs the b1-fixed variant of the seed (interval_ms parameter): %v", err)
		}
	}
	c, port := reprokit.MustDial(0, 5*time.Second)
	defer c.Close()

	fill := bytes.Repeat([]byte{0xA5}, 1024)
	for i := 0; i < 64; i++ {
		m := netlink.Message{Header: netlink.Header{Type: netlink.MinType, PID: port}, Data: fill}
		if err := c.SendTo(m, port, 0); err != nil {
			reprokit.Fatalf("%v", err)
		}
		if _, err := c.Receive(); err != nil {
			reprokit.Fatalf("port %d did not get its own datagram back: %v", port, err)
		}
	}
	reprokit.Logf("sent port %d 64 datagrams of 1024 x 0xA5 and read them back: their memory is free again", port)

	if err := c.Send(netlink.SeedRequest(port, "Hello you!")); err != nil {
		reprokit.Fatalf("%v", err)
	}
	msgs, err := c.Receive()
	if err != nil || len(msgs) == 0 {
		reprokit.Fatalf("no reply: %v", err)
	}
	data := msgs[0].Data
	end := bytes.IndexByte(data, 0)
	if end < 0 {
		reprokit.Fatalf("the reply's %d bytes hold no terminated string", len(data))
	}
	nonZero, first := 0, -1
	for i, b := range data[end+1:] {
		if b != 0 {
			nonZero++
			if first < 0 {
				first = end + 1 + i
			}
		}
	}
	reprokit.Logf("reply: %q, then %d more payload bytes, %d of them not zero", data[:end], len(data)-end-1, nonZero)
	if nonZero > 0 {
		reprokit.Shown("%s sent %d bytes of uninitialised kernel memory past its string (first at payload offset %d: % x)",
			mod, nonZero, first, data[first:min(first+16, len(data))])
	}
	reprokit.Logf("%s sent nothing but its string and zeros: B9 not present", mod)
}
