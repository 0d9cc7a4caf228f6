package main

import (
	"fmt"
	"syscall"

	"github.com/netl-dev/netl/userspace/netlink"
)

func dumpCommand(o *output) *command {
	fs := newFlagSet("dump", "-parts N [-timeout D]", `
Ask netl.ko for a multipart dump of -parts parts (NETL_MSG_DUMP with the
dump flag), check that every part carries the multi flag and that
NLMSG_DONE ends it, and print each part as
  index=... total=...`)
	var parts uint32Value
	partsSet := false
	fs.Func("parts", "number of parts, up to 1000 (required)", func(s string) error {
		partsSet = true
		return parts.Set(s)
	})
	timeout := fs.Duration("timeout", defaultTimeout, "how long to wait for the whole dump (0: forever)")

	return &command{fs: fs, run: func(args []string) error {
		if !partsSet {
			return usagef("-parts is required")
		}
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if err := checkTimeout(*timeout); err != nil {
			return err
		}
		c, _, err := dial(netlink.ProtocolTest, syscall.SOCK_RAW, 0, *timeout)
		if err != nil {
			return err
		}
		defer c.Close()

		got, err := c.Dump(uint32(parts))
		if isTimeout(err) {
			return fmt.Errorf("dump incomplete after %v: %w", *timeout, err)
		}
		if err != nil {
			return fmt.Errorf("dump of %d parts: %w", parts, err)
		}
		for _, p := range got {
			o.record(fmt.Sprintf("index=%d total=%d", p.Index, p.Total), map[string]any{"index": p.Index, "total": p.Total})
		}
		return nil
	}}
}
