package main

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/netl-dev/netl/userspace/netlink"
)

func listenCommand(o *output) *command {
	fs := newFlagSet("listen", "[-port P] [-group G ...] [-count N] [-timeout D]", `
Bind -port, join each -group, and print each message that arrives as
  from=... type=... flags=... seq=... pid=... len=... data="..."
where from is the sender's port (0: the kernel). With -count 0, listen until
no message arrives for -timeout (exit status 0); with -count N, a timeout
before the Nth message is an error. Dropped messages (ENOBUFS) are reported
on standard error and listening goes on.`)
	var port uint32Value
	fs.Var(&port, "port", "port ID to bind (0: kernel-assigned)")
	var groups groupsValue
	fs.Var(&groups, "group", "multicast group to join, 1 or more (repeatable)")
	count := fs.Int("count", 0, "number of messages to print (0: until -timeout)")
	timeout := fs.Duration("timeout", 0, "how long to wait for each message (0: forever)")
	protocol := fs.Int("protocol", netlink.ProtocolTest, "netlink protocol number")

	return &command{fs: fs, run: func(args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if err := checkCount(*count, true); err != nil {
			return err
		}
		if err := checkTimeout(*timeout); err != nil {
			return err
		}
		c, pid, err := dial(*protocol, syscall.SOCK_RAW, uint32(port), *timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, g := range groups {
			if err := c.JoinGroup(g); err != nil {
				return fmt.Errorf("joining group %d: %w", g, err)
			}
		}
		fmt.Fprintf(o.stderr, "netlctl: listening on port %d, groups %v\n", pid, []uint32(groups))

		for received := 0; *count == 0 || received < *count; {
			msgs, from, group, err := c.ReceiveGroup()
			where := fmt.Sprintf("from=%d ", from)
			origin := map[string]any{"from": from}
			if group != 0 {
				where += fmt.Sprintf("group=%d ", group)
				origin["group"] = group
			}
			errno, kernel := kernelErrno(err)
			switch {
			case isTimeout(err) && *count == 0:
				return nil
			case isTimeout(err):
				return fmt.Errorf("received %d of %d messages, then none within %v: %w", received, *count, *timeout, err)
			case errors.Is(err, netlink.ErrOverrun):
				fmt.Fprintf(o.stderr, "netlctl: %v\n", err)
				continue
			case kernel:
				// An NLMSG_ERROR message: print it, with the
				// messages before it, as a message.
				for _, m := range msgs {
					o.message(where, m, origin)
				}
				fields := map[string]any{"type": "error", "errno": int(errno), "errno_text": errno.Error()}
				var oe *netlink.OpError
				if errors.As(err, &oe) && oe.ExtAck != nil {
					fields["ext_ack"] = oe.ExtAck.Message
				}
				for k, v := range origin {
					fields[k] = v
				}
				o.record(fmt.Sprintf("%stype=error errno=%d (%v)", where, int(errno), errno), fields)
				received += len(msgs) + 1
				continue
			case err != nil:
				return err
			}
			for _, m := range msgs {
				o.message(where, m, origin)
				received++
			}
		}
		return nil
	}}
}
