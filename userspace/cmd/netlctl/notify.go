package main

import (
	"fmt"
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
)

func notifyCommand(o *output) *command {
	fs := newFlagSet("notify", "[-port P] [-delay MS] [-wait] [-hex] [-timeout D] [DATA]", `
Ask netl.ko to send DATA to port -port after -delay milliseconds
(NETL_MSG_NOTIFY, with the acknowledge flag), and wait for the
acknowledgement, which comes at once. Another port than netlctl's own needs
CAP_NET_ADMIN ("operation not permitted" otherwise). With -wait (and no
-port), wait for the notification too and print it as
  after=... type=... flags=... seq=... pid=... len=... data="..."
where after is the time since the request.`)
	var port uint32Value
	fs.Var(&port, "port", "port to notify (0: netlctl's own)")
	var delay uint32Value
	fs.Var(&delay, "delay", "milliseconds before the notification, up to 60000")
	wait := fs.Bool("wait", false, "wait for the notification and print it (only without -port)")
	isHex := fs.Bool("hex", false, "DATA is hex, e.g. 00ff10")
	timeout := fs.Duration("timeout", defaultTimeout, "how long to wait for each message (0: forever)")

	return &command{fs: fs, run: func(args []string) error {
		if *wait && port != 0 {
			return usagef("-wait needs the notification sent to netlctl's own port: drop -port")
		}
		c, data, err := dialWithData(args, *isHex, *timeout)
		if err != nil {
			return err
		}
		defer c.Close()

		start := time.Now()
		err = c.Notify(netlink.NotifyRequest{PortID: uint32(port), DelayMS: uint32(delay), Data: data})
		if isTimeout(err) {
			return fmt.Errorf("no acknowledgement within %v: %w", *timeout, err)
		}
		if err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		if !*wait {
			return nil
		}
		// The notification is due -delay after the request: -timeout is
		// how long to wait past that.
		if *timeout > 0 {
			if err := c.SetReceiveTimeout(time.Duration(delay)*time.Millisecond + *timeout); err != nil {
				return err
			}
		}
		msgs, err := c.Receive()
		if isTimeout(err) {
			return fmt.Errorf("no notification within %v of its delay: %w", *timeout, err)
		}
		if err != nil {
			return fmt.Errorf("waiting for the notification: %w", err)
		}
		after := time.Since(start).Round(time.Millisecond)
		for _, m := range msgs {
			o.message(fmt.Sprintf("after=%v ", after), m, map[string]any{"after_ms": after.Milliseconds()})
		}
		return nil
	}}
}
