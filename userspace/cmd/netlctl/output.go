package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/netl-dev/netl/userspace/netlink"
)

// output is where a command writes what it found: a line of text per
// record, or with -json a JSON object per line (JSON Lines), for scripts.
type output struct {
	stdout, stderr io.Writer
	json           bool
}

// record writes one record: text (one line) or, with -json, fields.
func (o *output) record(text string, fields map[string]any) {
	if !o.json {
		fmt.Fprintln(o.stdout, text)
		return
	}
	b, err := json.Marshal(fields)
	if err != nil {
		// Only numbers, strings and booleans go in: a bug, not input.
		panic(fmt.Sprintf("netlctl: encoding %v: %v", fields, err))
	}
	fmt.Fprintf(o.stdout, "%s\n", b)
}

// message writes m as a record, the text prefixed with prefix and the JSON
// object with extra's fields added.
func (o *output) message(prefix string, m netlink.Message, extra map[string]any) {
	h := m.Header
	text := fmt.Sprintf("%stype=%v flags=%v seq=%d pid=%d len=%d data=%q",
		prefix, h.Type, h.Flags, h.Sequence, h.PID, h.Length, m.Data)
	fields := messageFields(m)
	for k, v := range extra {
		fields[k] = v
	}
	o.record(text, fields)
}

// messageFields returns m's header and payload as JSON fields: type and
// flags by name and by number, the payload in hex.
func messageFields(m netlink.Message) map[string]any {
	h := m.Header
	return map[string]any{
		"type":      h.Type.String(),
		"type_num":  uint16(h.Type),
		"flags":     h.Flags.String(),
		"flags_num": uint16(h.Flags),
		"seq":       h.Sequence,
		"pid":       h.PID,
		"len":       h.Length,
		"data_hex":  hex.EncodeToString(m.Data),
	}
}

// failure writes, with -json, the error a command ended with as its last
// record: the text, the exit status, whether it was a timeout, and when
// the kernel answered with the error, its errno and extended ack.
func (o *output) failure(err error, exit int) {
	if !o.json {
		return
	}
	fields := map[string]any{"error": err.Error(), "exit": exit, "timeout": isTimeout(err)}
	if errno, ok := kernelErrno(err); ok {
		fields["errno"] = int(errno)
		fields["errno_text"] = errno.Error()
	}
	var oe *netlink.OpError
	if errors.As(err, &oe) && oe.ExtAck != nil {
		fields["ext_ack"] = oe.ExtAck.Message
		if oe.ExtAck.HasOffset {
			fields["ext_ack_offset"] = oe.ExtAck.Offset
		}
	}
	if errors.Is(err, netlink.ErrDumpInterrupted) {
		fields["dump_interrupted"] = true
	}
	o.record("", fields)
}
