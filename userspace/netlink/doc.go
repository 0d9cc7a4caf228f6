// Package netlink is a small netlink client for testing netl.ko, the kernel
// module of this project, and the seed's claims about netlink. It works
// with any netlink protocol (NETLINK_ROUTE in its examples).
//
// It models the wire format (Header, Message, the NLMSG_* helpers Align,
// Length, Space, Payload, OK and Next, each beside the C macro it ports) and
// a socket, Conn, that makes the same system calls as the seed's C programs:
// sendmsg and recvmsg on an AF_NETLINK socket, blocking unless a timeout is
// set (then a receive polls to its deadline). It knows the netl
// protocol's constants and payloads (ProtocolTest, TypeEcho, EchoRequest,
// ...), which a test checks against kmod/netl_proto.h. It stays
// hand-written, rather than built on a general netlink library, because
// netl's hazard tests need what such a library hides: raw sends
// (SendRaw), a spoofed nlmsg_pid, an unbound socket (Config.NoBind).
//
// # The seed's program
//
// With netl.ko loaded:
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
// # Requests and answers
//
// Conn.Request sends a message to the kernel and reads its answer: one
// reply, a multipart dump to its NLMSG_DONE, or an acknowledgement. It
// numbers the request and takes its answer only from the kernel (port 0),
// with its sequence number. Anything else it reads (a notification, a
// multicast message, a peer's datagram) is kept for the next Receive, never
// dropped. A dump whose data changed while it ran comes whole, with an
// error matching ErrDumpInterrupted: request it again.
//
// netl.ko's own requests have typed methods: Echo, Broadcast, Notify, Dump,
// Stats. Send, SendTo and SendRaw send without reading; Receive,
// ReceiveFrom and ReceiveGroup read one datagram, with its sender's port
// and the multicast group it came to (JoinGroup).
//
// # Errors
//
// Errors are *OpError values. A failed system call wraps an
// *os.SyscallError, and an error code the kernel sends in an NLMSG_ERROR
// message is a bare unix.Errno, so errors.Is(err, unix.EADDRINUSE) works
// either way; ErrorCode reads the code of a message yourself. Dial turns on
// extended acknowledgements (NETLINK_EXT_ACK): the kernel's words for an
// error ("netl: echo count above 100") are OpError.ExtAck, and part of the
// error's text. Messages the kernel dropped for lack of buffer space
// (ENOBUFS) match ErrOverrun.
//
// # Timeouts
//
// SetReceiveTimeout bounds each Receive and each whole Request, however
// many other datagrams or signals come meanwhile; SetSendTimeout bounds a
// send to a user-space port whose buffer is full. A timeout matches
// os.ErrDeadlineExceeded, and os.IsTimeout reports it. No timeout bounds
// the time the kernel takes to handle a message: a module that sleeps while
// it answers (netl.ko's echo) keeps the send blocked, as it does the seed's
// C program, and a Request's receive timeout starts when the send returns.
//
// # Concurrency
//
// A Conn is safe for concurrent use: concurrent Receives each get whole
// datagrams, one each, and Close may come from any goroutine (the socket
// is closed when the calls in flight return). Two Requests must not
// overlap on one Conn: each would keep the other's answer for Receive. Use
// a Conn per concurrent Request.
//
// The package builds on every system; outside Linux, Dial returns an error
// saying netlink is not implemented there.
package netlink
