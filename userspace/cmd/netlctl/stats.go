package main

import (
	"fmt"
	"strings"
	"syscall"

	"github.com/netl-dev/netl/userspace/netlink"
)

func statsCommand(o *output) *command {
	fs := newFlagSet("stats", "[-timeout D]", `
Ask netl.ko for its counters since it was loaded (NETL_MSG_STATS) and print
them one per line, "name value", named as in struct netl_stats. The counters
include this request, not its reply.`)
	timeout := fs.Duration("timeout", defaultTimeout, "how long to wait for the reply (0: forever)")

	return &command{fs: fs, run: func(args []string) error {
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

		st, err := c.Stats()
		if isTimeout(err) {
			return fmt.Errorf("no reply within %v: %w", *timeout, err)
		}
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		printStats(o, st)
		return nil
	}}
}

// printStats prints the counters one per line, with struct netl_stats's
// field names, or with -json as one object.
func printStats(o *output, st netlink.Stats) {
	fields := map[string]any{}
	var text []string
	for _, c := range []struct {
		name  string
		value uint64
	}{
		{"rx_msgs", st.RxMsgs},
		{"rx_bytes", st.RxBytes},
		{"rx_malformed", st.RxMalformed},
		{"tx_msgs", st.TxMsgs},
		{"tx_drops", st.TxDrops},
		{"broadcasts", st.Broadcasts},
		{"notifies", st.Notifies},
		{"dumps", st.Dumps},
	} {
		fields[c.name] = c.value
		text = append(text, fmt.Sprintf("%s %d", c.name, c.value))
	}
	o.record(strings.Join(text, "\n"), fields)
}
