// Package netlink is a small netlink client for testing netl.ko, the kernel
// module of this project, and the seed's claims about netlink.
//
// It models the wire format (Header, Message, the NLMSG_* helpers Align,
// Length, Space, Payload, OK and Next, each beside the C macro it ports) and
// a socket, Conn, that makes the same system calls as the seed's C programs:
// blocking sendmsg and recvmsg on an AF_NETLINK socket. It knows the netl
// protocol's constants (ProtocolTest, TypeSeed, SeedRequest, ...), which a
// test checks against kmod/netl_proto.h.
//
// The seed's user program, with netl.ko loaded:
//
//	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{PID: 100})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer c.Close()
//	if err := c.Send(netlink.SeedRequest(100, "Hello you!")); err != nil {
//		log.Fatal(err)
//	}
//	msgs, err := c.Receive()
//	if err != nil {
//		log.Fatal(err)
//	}
//	for _, m := range msgs {
//		fmt.Printf("Received message: %s\n", netlink.CString(m.Data))
//	}
//
// Errors are *OpError values. A failed system call wraps an *os.SyscallError
// and an error code the kernel sends in an NLMSG_ERROR message is a bare
// unix.Errno, so errors.Is(err, unix.EADDRINUSE) works either way. Dial
// turns on extended acknowledgements (NETLINK_EXT_ACK): the kernel's words
// for an error ("netl: echo count above 100") are OpError.ExtAck, and part
// of the error's text. A receive that timed out matches
// os.ErrDeadlineExceeded, and os.IsTimeout; the receive timeout bounds a
// whole Request.
//
// The package builds on every system; outside Linux, Dial returns an error
// saying netlink is not implemented there.
package netlink
