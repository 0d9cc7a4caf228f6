package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/netl-dev/netl/userspace/netlink"
)

func echoCommand(o *output) *command {
	fs := newFlagSet("echo", "[-count N] [-interval MS|param] [-hex] [-timeout D] [DATA]", `
Ask netl.ko to send DATA back -count times, -interval milliseconds apart
(NETL_MSG_ECHO, with the acknowledge flag), and print each reply as
  type=... flags=... seq=... pid=... len=... count=... interval_ms=... data="..."
The module sleeps between replies inside the send, which returns after the
last one. -count 0 and -interval param stand for the module parameters
reply_count and reply_interval_ms. Out-of-range values are sent as given, so
that the module's EINVAL can be seen.`)
	var count uint32Value
	fs.Var(&count, "count", "number of replies, up to 100 (0: the module's reply_count)")
	interval := intervalValue(netlink.EchoParamInterval)
	fs.Var(&interval, "interval", "milliseconds between replies, up to 60000, or param (the module's reply_interval_ms)")
	isHex := fs.Bool("hex", false, "DATA is hex, e.g. 00ff10")
	timeout := fs.Duration("timeout", defaultTimeout, "how long to wait for the answer once sent, after the module's sleeps (0: forever)")

	return &command{fs: fs, run: func(args []string) error {
		c, data, err := dialWithData(args, *isHex, *timeout)
		if err != nil {
			return err
		}
		defer c.Close()

		replies, err := c.Echo(netlink.EchoRequest{Count: uint32(count), IntervalMS: uint32(interval), Data: data})
		if isTimeout(err) {
			return fmt.Errorf("no reply within %v: %w", *timeout, err)
		}
		if err != nil {
			return fmt.Errorf("echo: %w", err)
		}
		for _, r := range replies {
			var e netlink.EchoRequest
			if err := e.UnmarshalBinary(r.Data); err != nil {
				return err
			}
			h := r.Header
			fields := messageFields(r)
			fields["count"], fields["interval_ms"] = e.Count, formatInterval(e.IntervalMS)
			fields["data_hex"], fields["text"] = hex.EncodeToString(e.Data), string(e.Data)
			o.record(fmt.Sprintf("type=%v flags=%v seq=%d pid=%d len=%d count=%d interval_ms=%v data=%q",
				h.Type, h.Flags, h.Sequence, h.PID, h.Length, e.Count, formatInterval(e.IntervalMS), e.Data), fields)
		}
		return nil
	}}
}

// intervalValue is the -interval flag of echo: milliseconds, or param for
// netlink.EchoParamInterval.
type intervalValue uint32

func (v *intervalValue) String() string { return formatInterval(uint32(*v)) }

func (v *intervalValue) Set(s string) error {
	if s == "param" {
		*v = netlink.EchoParamInterval
		return nil
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return errors.New("want milliseconds or param")
	}
	*v = intervalValue(n)
	return nil
}

// formatInterval returns ms in decimal, or param for
// netlink.EchoParamInterval.
func formatInterval(ms uint32) string {
	if ms == netlink.EchoParamInterval {
		return "param"
	}
	return strconv.FormatUint(uint64(ms), 10)
}
