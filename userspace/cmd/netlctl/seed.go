package main

import (
	"fmt"
	"syscall"
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
)

func seedCommand(o *output) *command {
	fs := newFlagSet("seed", "[-port 100] [-type raw|dgram] [-count N] [-timeout 10s] [MESSAGE]", `
Do what the seed's user program does: bind -port, send MESSAGE ("Hello you!"
by default) NUL-terminated in a type-0 message of NLMSG_SPACE(1024) bytes
whose nlmsg_pid is the port, and print "Received message: <payload>" for each
of -count replies.`)
	port := uint32Value(100)
	fs.Var(&port, "port", "port ID to bind, nl_pid (0: kernel-assigned)")
	socketType := socketTypeValue(syscall.SOCK_RAW)
	fs.Var(&socketType, "type", "socket type: raw or dgram")
	count := fs.Int("count", 1, "number of replies to wait for")
	timeout := fs.Duration("timeout", defaultTimeout, "how long to wait for each reply (0: forever)")
	protocol := fs.Int("protocol", netlink.ProtocolTest, "netlink protocol number")

	return &command{fs: fs, run: func(args []string) error {
		if len(args) > 1 {
			return usagef("want at most one MESSAGE argument, got %d (quote it)", len(args))
		}
		text := "Hello you!"
		if len(args) == 1 {
			text = args[0]
		}
		if err := checkCount(*count, false); err != nil {
			return err
		}
		if err := checkTimeout(*timeout); err != nil {
			return err
		}
		return seed(o, *protocol, int(socketType), uint32(port), text, *count, *timeout)
	}}
}

func seed(o *output, protocol, socketType int, port uint32, text string, count int, timeout time.Duration) error {
	c, pid, err := dial(protocol, socketType, port, timeout)
	if err != nil {
		return err
	}
	defer c.Close()

	if err := c.Send(netlink.SeedRequest(pid, text)); err != nil {
		return err
	}
	for received := 0; received < count; {
		msgs, err := c.Receive()
		if isTimeout(err) {
			return fmt.Errorf("no reply %d of %d within %v: %w", received+1, count, timeout, err)
		}
		if err != nil {
			return fmt.Errorf("waiting for reply %d of %d: %w", received+1, count, err)
		}
		for _, m := range msgs {
			if received == count {
				break
			}
			fields := messageFields(m)
			fields["message"] = netlink.CString(m.Data)
			o.record("Received message: "+netlink.CString(m.Data), fields)
			received++
		}
	}
	return nil
}
