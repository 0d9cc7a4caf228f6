package netlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The payloads of the netl protocol's typed messages: the structs of
// kmod/netl_proto.h, in the machine's native byte order. MarshalBinary does
// not check the values against the module's limits (EchoMaxCount, ...), so
// that tests can send what the module must refuse.

// EchoRequest is the payload of a TypeEcho request, struct netl_echo and
// the data after it. Each echo reply carries the whole request payload
// back, so it decodes as an EchoRequest too.
type EchoRequest struct {
	// Count is the number of replies, at most EchoMaxCount; 0 stands for
	// the module parameter reply_count.
	Count uint32
	// IntervalMS is the time between two replies in milliseconds, at most
	// EchoMaxIntervalMS; EchoParamInterval stands for the module parameter
	// reply_interval_ms.
	IntervalMS uint32
	// Data follows the struct.
	Data []byte
}

// MarshalBinary encodes r: Count, IntervalMS, then Data.
func (r EchoRequest) MarshalBinary() ([]byte, error) {
	return appendPayload(r.Data, r.Count, r.IntervalMS), nil
}

// UnmarshalBinary decodes an echo payload of at least EchoHeaderLen bytes.
// Data is a copy, nil when there is no data.
func (r *EchoRequest) UnmarshalBinary(b []byte) error {
	if len(b) < EchoHeaderLen {
		return shortPayload("echo", len(b), EchoHeaderLen)
	}
	ne := binary.NativeEndian
	*r = EchoRequest{
		Count:      ne.Uint32(b[0:4]),
		IntervalMS: ne.Uint32(b[4:8]),
		Data:       cloneData(b[EchoHeaderLen:]),
	}
	return nil
}

// BroadcastRequest is the payload of a TypeBroadcast request, struct
// netl_broadcast and the data after it.
type BroadcastRequest struct {
	// Group is the multicast group, 1 to Groups.
	Group uint32
	// Data is the payload of the message the group's members receive.
	Data []byte
}

// MarshalBinary encodes r: Group, a reserved zero, then Data.
func (r BroadcastRequest) MarshalBinary() ([]byte, error) {
	return appendPayload(r.Data, r.Group, 0), nil
}

// NotifyRequest is the payload of a TypeNotify request, struct netl_notify
// and the data after it.
type NotifyRequest struct {
	// PortID is the port to notify; 0 is the sender's own port. Another
	// port needs CAP_NET_ADMIN.
	PortID uint32
	// DelayMS is the time before the notification is sent, in
	// milliseconds, at most NotifyMaxDelayMS.
	DelayMS uint32
	// Data is the notification's payload, at most NotifyMaxData bytes.
	Data []byte
}

// MarshalBinary encodes r: PortID, DelayMS, then Data.
func (r NotifyRequest) MarshalBinary() ([]byte, error) {
	return appendPayload(r.Data, r.PortID, r.DelayMS), nil
}

// DumpRequest is the payload of a TypeDump request, struct netl_dump_req.
type DumpRequest struct {
	// Parts is the number of parts to dump, at most DumpMaxParts.
	Parts uint32
}

// MarshalBinary encodes r.
func (r DumpRequest) MarshalBinary() ([]byte, error) {
	return appendPayload(nil, r.Parts), nil
}

// DumpPart is the payload of each part of a dump, struct netl_dump_part.
type DumpPart struct {
	// Index counts the parts from 0.
	Index uint32
	// Total is the number of parts the request asked for.
	Total uint32
}

// UnmarshalBinary decodes a part of at least DumpPartLen bytes; bytes after
// the struct are ignored, so that a longer struct from a later module still
// decodes.
func (p *DumpPart) UnmarshalBinary(b []byte) error {
	if len(b) < DumpPartLen {
		return shortPayload("dump part", len(b), DumpPartLen)
	}
	ne := binary.NativeEndian
	*p = DumpPart{Index: ne.Uint32(b[0:4]), Total: ne.Uint32(b[4:8])}
	return nil
}

// Stats are the module's counters since it was loaded, struct netl_stats.
type Stats struct {
	// RxMsgs counts the messages received, malformed ones included.
	RxMsgs uint64
	// RxBytes counts the bytes received, in whole datagrams.
	RxBytes uint64
	// RxMalformed counts the messages with a bad length, a payload too
	// short for their type, or an unknown type.
	RxMalformed uint64
	// TxMsgs counts the messages sent: replies, broadcasts that reached a
	// member, notifications, dump parts; not acknowledgements.
	TxMsgs uint64
	// TxDrops counts the messages that could not be sent.
	TxDrops uint64
	// Broadcasts counts the broadcasts made, with or without members.
	Broadcasts uint64
	// Notifies counts the notifications scheduled.
	Notifies uint64
	// Dumps counts the dumps started.
	Dumps uint64
}

// UnmarshalBinary decodes counters of at least StatsLen bytes; bytes after
// the struct are ignored.
func (s *Stats) UnmarshalBinary(b []byte) error {
	if len(b) < StatsLen {
		return shortPayload("stats", len(b), StatsLen)
	}
	ne := binary.NativeEndian
	u := func(i int) uint64 { return ne.Uint64(b[8*i : 8*i+8]) }
	*s = Stats{
		RxMsgs:      u(0),
		RxBytes:     u(1),
		RxMalformed: u(2),
		TxMsgs:      u(3),
		TxDrops:     u(4),
		Broadcasts:  u(5),
		Notifies:    u(6),
		Dumps:       u(7),
	}
	return nil
}

// appendPayload returns the fields, in native byte order, followed by data.
func appendPayload(data []byte, fields ...uint32) []byte {
	b := make([]byte, 0, 4*len(fields)+len(data))
	for _, f := range fields {
		b = binary.NativeEndian.AppendUint32(b, f)
	}
	return append(b, data...)
}

func cloneData(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

func shortPayload(what string, got, want int) error {
	return fmt.Errorf("netlink: %s payload of %d bytes is shorter than the %d-byte struct", what, got, want)
}

// Echo sends req in a TypeEcho request with the Acknowledge flag and
// returns the echo replies, in order, once the acknowledgement arrives: the
// module sends them all before it. An error the module reports instead
// (EINVAL for a count or interval out of range, EMSGSIZE for data above
// EchoMaxData bytes, ENOBUFS if the socket's receive buffer overflowed,
// ETIME if the sleeps would pass the module's max_sleep_ms) is returned as an *OpError matching the
// unix.Errno. The module sleeps between replies in the sender's sendmsg,
// which returns only after the last one.
func (c *Conn) Echo(req EchoRequest) ([]Message, error) {
	data, err := req.MarshalBinary()
	if err != nil {
		return nil, &OpError{Op: "echo", Err: err}
	}
	msgs, err := c.Request(Message{Header: Header{Type: TypeEcho, Flags: Request | Acknowledge}, Data: data})
	if err != nil {
		return nil, err
	}
	var replies []Message
	for _, m := range msgs {
		if m.Header.Type == TypeEcho {
			replies = append(replies, m)
		}
	}
	return replies, nil
}

// Stats asks the module for its counters. The counters count this request
// but not the reply.
func (c *Conn) Stats() (Stats, error) {
	msgs, err := c.Request(Message{Header: Header{Type: TypeStats, Flags: Request}})
	if err != nil {
		return Stats{}, err
	}
	for _, m := range msgs {
		if m.Header.Type != TypeStats {
			continue
		}
		var s Stats
		if err := s.UnmarshalBinary(m.Data); err != nil {
			return Stats{}, &OpError{Op: "stats", Err: err}
		}
		return s, nil
	}
	return Stats{}, &OpError{Op: "stats", Err: errors.New("no statistics in the answer")}
}

// Broadcast asks the module to send data to multicast group group (1 to
// Groups), and waits for the acknowledgement. It fails with EPERM without
// CAP_NET_ADMIN and with EINVAL for a group out of range; a group with no
// member is not an error. If the Conn is itself a member of the group, the
// broadcast it receives (sequence number 0) is skipped, not returned.
func (c *Conn) Broadcast(group uint32, data []byte) error {
	b, err := BroadcastRequest{Group: group, Data: data}.MarshalBinary()
	if err != nil {
		return &OpError{Op: "broadcast", Err: err}
	}
	_, err = c.Request(Message{Header: Header{Type: TypeBroadcast, Flags: Request | Acknowledge}, Data: b})
	return err
}

// Notify asks the module to send req.Data to port req.PortID (0: this
// Conn's port) after req.DelayMS milliseconds, and waits for the
// acknowledgement, which the module sends before the notification: a
// notification to this Conn is left for Receive. It fails with EPERM for
// another port without CAP_NET_ADMIN, EINVAL for a delay above
// NotifyMaxDelayMS, EMSGSIZE for data above NotifyMaxData bytes, and EBUSY
// when NotifyMaxPerPort notifications asked from this Conn's port number
// are pending (they count until sent or cancelled, even after the socket
// that asked closed), or NotifyMaxPending in the network namespace. A
// notification is cancelled when the socket it goes to closes.
func (c *Conn) Notify(req NotifyRequest) error {
	b, err := req.MarshalBinary()
	if err != nil {
		return &OpError{Op: "notify", Err: err}
	}
	_, err = c.Request(Message{Header: Header{Type: TypeNotify, Flags: Request | Acknowledge}, Data: b})
	return err
}

// Dump asks the module for a dump of parts parts (at most DumpMaxParts) and
// returns them in order. It checks that each part is a TypeDump message
// with the Multi flag, that the parts count from 0 to parts-1, and that
// NLMSG_DONE ends the dump. A dump the kernel marked interrupted is
// returned whole, with an error matching ErrDumpInterrupted.
func (c *Conn) Dump(parts uint32) ([]DumpPart, error) {
	b, err := DumpRequest{Parts: parts}.MarshalBinary()
	if err != nil {
		return nil, &OpError{Op: "dump", Err: err}
	}
	msgs, err := c.Request(Message{Header: Header{Type: TypeDump, Flags: Request | Dump}, Data: b})
	if err != nil && !errors.Is(err, ErrDumpInterrupted) {
		return nil, err
	}
	interrupted := err
	out := make([]DumpPart, 0, len(msgs))
	for i, m := range msgs {
		if m.Header.Type == Done {
			if i != len(msgs)-1 {
				return nil, &OpError{Op: "dump", Err: fmt.Errorf("NLMSG_DONE at message %d of %d", i, len(msgs))}
			}
			if len(out) != int(parts) {
				return nil, &OpError{Op: "dump", Err: fmt.Errorf("%d parts before NLMSG_DONE, want %d", len(out), parts)}
			}
			return out, interrupted
		}
		if m.Header.Type != TypeDump {
			return nil, &OpError{Op: "dump", Err: fmt.Errorf("part %d has type %v, want %v", i, m.Header.Type, TypeDump)}
		}
		if m.Header.Flags&Multi == 0 {
			return nil, &OpError{Op: "dump", Err: fmt.Errorf("part %d lacks the multi flag (flags %v)", i, m.Header.Flags)}
		}
		var p DumpPart
		if err := p.UnmarshalBinary(m.Data); err != nil {
			return nil, &OpError{Op: "dump", Err: fmt.Errorf("part %d: %w", i, err)}
		}
		if p.Index != uint32(i) || p.Total != parts {
			return nil, &OpError{Op: "dump", Err: fmt.Errorf("part %d is %d of %d, want %d of %d", i, p.Index, p.Total, i, parts)}
		}
		out = append(out, p)
	}
	return nil, &OpError{Op: "dump", Err: fmt.Errorf("the answer ended after %d parts without NLMSG_DONE", len(out))}
}
