package main

import (
	"fmt"
	"syscall"

	"github.com/netl-dev/netl/userspace/netlink"
)

func sendCommand(o *output) *command {
	fs := newFlagSet("send", "-type T [-flags F] [-ack] [-port P] [-timeout D] [PAYLOAD]", `
Send one message to the kernel and print each reply as
  type=... flags=... seq=... pid=... len=... data="..."
Replies are read as for a request: only the kernel's with this sequence
number are printed, and reading stops at a reply without the multi flag
(unless -ack is set: then at the acknowledgement), at NLMSG_DONE, or at
NLMSG_ERROR. An NLMSG_ERROR with a nonzero error code is printed as an
error, after the replies before it (exit status 4). A dump the kernel marked
interrupted (NLM_F_DUMP_INTR) is printed whole, then an error (exit status
1; with -json, "dump_interrupted": true).`)
	var typ headerTypeValue
	fs.Var(&typ, "type", "message type: a number, or noop, error, done, overrun, seed, echo, broadcast, notify, dump, stats (required)")
	flags := headerFlagsValue(netlink.Request)
	fs.Var(&flags, "flags", `message flags: a number, or names joined by "|" or ",", e.g. request|dump; the kernel ignores messages without request`)
	ack := fs.Bool("ack", false, "set the acknowledge flag and wait for the acknowledgement")
	var port uint32Value
	fs.Var(&port, "port", "port ID to bind (0: kernel-assigned)")
	timeout := fs.Duration("timeout", defaultTimeout, "how long to wait for the whole answer once sent (0: forever)")
	var seq uint32Value
	fs.Var(&seq, "seq", "sequence number (0: the next one, from 1)")
	var pid uint32Value
	pidSet := false
	fs.Func("pid", "nlmsg_pid to write in the header (default: the socket's port)", func(s string) error {
		pidSet = true
		return pid.Set(s)
	})
	isHex := fs.Bool("hex", false, "PAYLOAD is hex, e.g. 00ff10")
	protocol := fs.Int("protocol", netlink.ProtocolTest, "netlink protocol number")

	return &command{fs: fs, run: func(args []string) error {
		if !typ.set {
			return usagef("-type is required")
		}
		if err := checkTimeout(*timeout); err != nil {
			return err
		}
		data, err := payload("PAYLOAD", args, *isHex)
		if err != nil {
			return err
		}
		c, port, err := dial(*protocol, syscall.SOCK_RAW, uint32(port), *timeout)
		if err != nil {
			return err
		}
		defer c.Close()

		m := netlink.Message{
			Header: netlink.Header{
				Type:     typ.t,
				Flags:    netlink.HeaderFlags(flags),
				Sequence: uint32(seq),
				PID:      port,
			},
			Data: data,
		}
		if *ack {
			m.Header.Flags |= netlink.Acknowledge
		}
		if pidSet {
			m.Header.PID = uint32(pid)
		}
		if m.Header.Flags&netlink.Request == 0 {
			// Allowed (the hazard tests send such messages), but the
			// kernel's netlink_rcv_skb() and most modules skip a message
			// without it: no answer, and the wait ends in -timeout.
			fmt.Fprintln(o.stderr, "netlctl: send: warning: no NLM_F_REQUEST in -flags: the kernel may not answer")
		}
		msgs, err := c.Request(m)
		// The replies read before an error, too: a dump's parts before
		// its error, or a whole dump that was interrupted.
		for _, r := range msgs {
			o.message("", r, nil)
		}
		if isTimeout(err) {
			return fmt.Errorf("no reply within %v: %w", *timeout, err)
		}
		return err
	}}
}
