package netlink_test

import (
	"fmt"
	"log"

	"github.com/netl-dev/netl/userspace/netlink"
	"golang.org/x/sys/unix"
)

// Dump the network interfaces with NETLINK_ROUTE: a multipart answer that
// ends with NLMSG_DONE.
func ExampleConn_Request() {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	msgs, err := c.Request(netlink.Message{
		Header: netlink.Header{
			Type:  unix.RTM_GETLINK,
			Flags: netlink.Request | netlink.Dump,
		},
		Data: make([]byte, unix.SizeofIfInfomsg),
	})
	if err != nil {
		log.Fatal(err)
	}
	last := msgs[len(msgs)-1]
	fmt.Println(last.Header.Type, last.Header.Flags)
	// Output: done multi
}
