package netlink

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// HeaderType is the type of a netlink message, nlmsg_type. Types below
// MinType are control messages; the rest belong to the protocol.
type HeaderType uint16

// Control message types, NLMSG_* in <linux/netlink.h>.
const (
	// Noop is NLMSG_NOOP: a message to ignore.
	Noop HeaderType = 0x1
	// Error is NLMSG_ERROR: an error, or an acknowledgement when its
	// error code is 0.
	Error HeaderType = 0x2
	// Done is NLMSG_DONE: the end of a multipart message.
	Done HeaderType = 0x3
	// Overrun is NLMSG_OVERRUN: data lost.
	Overrun HeaderType = 0x4
	// MinType is NLMSG_MIN_TYPE: types below it are reserved for control.
	MinType HeaderType = 0x10
)

// String returns the name of a control type, and other types in hex: the
// meaning of a type at or above MinType depends on the protocol.
func (t HeaderType) String() string {
	switch t {
	case Noop:
		return "noop"
	case Error:
		return "error"
	case Done:
		return "done"
	case Overrun:
		return "overrun"
	}
	return fmt.Sprintf("%#x", uint16(t))
}

// HeaderFlags are the flags of a netlink message, nlmsg_flags.
type HeaderFlags uint16

// Flags, NLM_F_* in <linux/netlink.h>. Bits 0x100 to 0x800 mean one thing in
// a GET request and another in a NEW request.
const (
	// Request is NLM_F_REQUEST: the message is a request.
	Request HeaderFlags = 0x1
	// Multi is NLM_F_MULTI: a part of a multipart message, ended by Done.
	Multi HeaderFlags = 0x2
	// Acknowledge is NLM_F_ACK: reply with an acknowledgement on success.
	Acknowledge HeaderFlags = 0x4
	// Echo is NLM_F_ECHO: echo this request.
	Echo HeaderFlags = 0x8
	// DumpInterrupted is NLM_F_DUMP_INTR: the dump was inconsistent.
	DumpInterrupted HeaderFlags = 0x10
	// DumpFiltered is NLM_F_DUMP_FILTERED: the dump was filtered as asked.
	DumpFiltered HeaderFlags = 0x20

	// Root is NLM_F_ROOT (GET): return the whole table.
	Root HeaderFlags = 0x100
	// Match is NLM_F_MATCH (GET): return all matching entries.
	Match HeaderFlags = 0x200
	// Atomic is NLM_F_ATOMIC (GET): return an atomic snapshot.
	Atomic HeaderFlags = 0x400
	// Dump is NLM_F_DUMP (GET): Root|Match.
	Dump HeaderFlags = Root | Match

	// Replace is NLM_F_REPLACE (NEW): replace an existing object.
	Replace HeaderFlags = 0x100
	// Excl is NLM_F_EXCL (NEW): do not touch an existing object.
	Excl HeaderFlags = 0x200
	// Create is NLM_F_CREATE (NEW): create the object if it does not exist.
	Create HeaderFlags = 0x400
	// Append is NLM_F_APPEND (NEW): add to the end of the object list.
	Append HeaderFlags = 0x800
)

var flagNames = []struct {
	f    HeaderFlags
	name string
}{
	{Request, "request"},
	{Multi, "multi"},
	{Acknowledge, "acknowledge"},
	{Echo, "echo"},
	{DumpInterrupted, "dump-interrupted"},
	{DumpFiltered, "dump-filtered"},
	// Dump before its two bits, so that a dump prints as one word.
	{Dump, "dump"},
	// The message alone cannot say whether it is a GET or a NEW request,
	// so the context-dependent bits print both names.
	{Root, "root/replace"},
	{Match, "match/excl"},
	{Atomic, "atomic/create"},
	{Append, "append"},
}

// String returns the names of the flags set, joined by "|", such as
// "request|acknowledge"; bits with no name are printed in hex. Bits 0x100 to
// 0x400 print with both their GET and NEW names ("root/replace"), except that
// 0x300 prints as "dump". No flags print as "0".
func (f HeaderFlags) String() string {
	if f == 0 {
		return "0"
	}
	var names []string
	left := f
	for _, n := range flagNames {
		if left&n.f == n.f {
			names = append(names, n.name)
			left &^= n.f
		}
	}
	if left != 0 {
		names = append(names, fmt.Sprintf("%#x", uint16(left)))
	}
	return strings.Join(names, "|")
}

// Header is the header of a netlink message, struct nlmsghdr.
type Header struct {
	// Length is the length of the message, header included, padding
	// excluded (nlmsg_len).
	Length uint32
	// Type is the message type (nlmsg_type).
	Type HeaderType
	// Flags are the message flags (nlmsg_flags).
	Flags HeaderFlags
	// Sequence is the sequence number (nlmsg_seq).
	Sequence uint32
	// PID is the sender's port ID (nlmsg_pid). The kernel does not check
	// it: a sender may write any value here.
	PID uint32
}

// Message is a netlink message: a header and its payload.
type Message struct {
	Header Header
	Data   []byte
}

// MarshalBinary encodes m in the machine's native byte order. A zero
// Header.Length is replaced by HeaderLen+len(m.Data). A Header.Length larger
// than that is kept, and the missing payload bytes are zeros, as when C code
// fills in part of a buffer of NLMSG_SPACE(n) bytes. The result is padded
// with zeros to Align(Header.Length) bytes.
func (m Message) MarshalBinary() ([]byte, error) {
	if uint64(len(m.Data)) > math.MaxUint32-HeaderLen-AlignTo {
		return nil, fmt.Errorf("netlink: payload of %d bytes is too long for a message", len(m.Data))
	}
	need := HeaderLen + len(m.Data)
	l := int(m.Header.Length)
	switch {
	case l == 0:
		l = need
	case l < HeaderLen:
		return nil, fmt.Errorf("netlink: header length %d is shorter than the %d-byte header", l, HeaderLen)
	case l < need:
		return nil, fmt.Errorf("netlink: header length %d is shorter than the header and the %d-byte payload", l, len(m.Data))
	}
	if uint64(l) > math.MaxUint32-AlignTo {
		return nil, fmt.Errorf("netlink: header length %d cannot be padded", l)
	}
	b := make([]byte, Align(l))
	ne := binary.NativeEndian
	ne.PutUint32(b[0:4], uint32(l))
	ne.PutUint16(b[4:6], uint16(m.Header.Type))
	ne.PutUint16(b[6:8], uint16(m.Header.Flags))
	ne.PutUint32(b[8:12], m.Header.Sequence)
	ne.PutUint32(b[12:16], m.Header.PID)
	copy(b[HeaderLen:], m.Data)
	return b, nil
}

// UnmarshalBinary decodes the message at the start of b, in the machine's
// native byte order. b must hold at least a header, and the header's length
// must be at least HeaderLen and at most len(b); bytes after the message
// (padding, or further messages) are ignored. Data is a copy, nil when the
// message has no payload.
func (m *Message) UnmarshalBinary(b []byte) error {
	msg, err := parseMessage(b)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	msg.Data = bytes.Clone(msg.Data)
	*m = msg
	return nil
}

// parseMessage decodes the message at the start of b; its Data aliases b.
func parseMessage(b []byte) (Message, error) {
	if len(b) < HeaderLen {
		return Message{}, fmt.Errorf("%d bytes are shorter than the %d-byte header", len(b), HeaderLen)
	}
	ne := binary.NativeEndian
	h := Header{
		Length:   ne.Uint32(b[0:4]),
		Type:     HeaderType(ne.Uint16(b[4:6])),
		Flags:    HeaderFlags(ne.Uint16(b[6:8])),
		Sequence: ne.Uint32(b[8:12]),
		PID:      ne.Uint32(b[12:16]),
	}
	if h.Length < HeaderLen {
		return Message{}, fmt.Errorf("header length %d is shorter than the %d-byte header", h.Length, HeaderLen)
	}
	if uint64(h.Length) > uint64(len(b)) {
		return Message{}, fmt.Errorf("header length %d is longer than the %d bytes available", h.Length, len(b))
	}
	m := Message{Header: h}
	if h.Length > HeaderLen {
		m.Data = b[HeaderLen:h.Length:h.Length]
	}
	return m, nil
}

// ParseMessages splits b, a buffer of netlink messages each padded to
// AlignTo (as one datagram from the kernel), into messages. The last message
// need not be padded. It returns an error if any message is malformed; the
// messages' Data alias b (nil when a message has no payload).
func ParseMessages(b []byte) ([]Message, error) {
	var msgs []Message
	for off := 0; off < len(b); {
		m, err := parseMessage(b[off:])
		if err != nil {
			return nil, fmt.Errorf("netlink: message %d at offset %d: %w", len(msgs), off, err)
		}
		msgs = append(msgs, m)
		off += Align(int(m.Header.Length))
	}
	return msgs, nil
}
