package netlink_test

import (
	"errors"
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

// The kernel's words for an error (an extended acknowledgement, which
// Dial turns on) come in the error's text and in OpError.ExtAck. Here
// rtnetlink, with strict checking, refuses a get-link request whose header
// has a stray byte.
func ExampleExtAck() {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SetOption(unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1); err != nil {
		log.Fatal(err)
	}

	ifinfomsg := make([]byte, unix.SizeofIfInfomsg)
	ifinfomsg[1] = 1 // __ifi_pad, which must be 0
	_, err = c.Request(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request},
		Data:   ifinfomsg,
	})
	fmt.Println(errors.Is(err, unix.EINVAL))
	var oe *netlink.OpError
	if errors.As(err, &oe) && oe.ExtAck != nil {
		fmt.Println(oe.ExtAck.Message)
	}
	// Output:
	// true
	// Invalid values in header for get link request
}
