package main

import (
	"fmt"
)

func broadcastCommand(_ *output) *command {
	fs := newFlagSet("broadcast", "-group G [-hex] [-timeout D] [DATA]", `
Ask netl.ko to send DATA to multicast group -group (NETL_MSG_BROADCAST, with
the acknowledge flag), and wait for the acknowledgement; print nothing on
success. Members receive it ("netlctl listen -group G" prints it). It needs
CAP_NET_ADMIN ("operation not permitted" otherwise); a group with no member
is not an error.`)
	var group uint32Value
	groupSet := false
	fs.Func("group", "multicast group, 1 to 64 (required)", func(s string) error {
		groupSet = true
		return group.Set(s)
	})
	isHex := fs.Bool("hex", false, "DATA is hex, e.g. 00ff10")
	timeout := fs.Duration("timeout", defaultTimeout, "how long to wait for the acknowledgement (0: forever)")

	return &command{fs: fs, run: func(args []string) error {
		if !groupSet {
			return usagef("-group is required")
		}
		c, data, err := dialWithData(args, *isHex, *timeout)
		if err != nil {
			return err
		}
		defer c.Close()

		err = c.Broadcast(uint32(group), data)
		if isTimeout(err) {
			return fmt.Errorf("no acknowledgement within %v: %w", *timeout, err)
		}
		if err != nil {
			return fmt.Errorf("broadcast to group %d: %w", group, err)
		}
		return nil
	}}
}
