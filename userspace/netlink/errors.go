package netlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// ErrOverrun matches (with errors.Is) the error Receive returns when the
// kernel reports ENOBUFS: the socket's receive buffer was full, and messages
// addressed to it were dropped. The error also matches unix.ENOBUFS.
var ErrOverrun = errors.New("netlink: receive buffer overrun, messages were dropped")

// ErrDumpInterrupted matches (with errors.Is) the error Request returns with
// a whole dump some of whose messages carry NLM_F_DUMP_INTR: what was
// dumped changed while the dump ran, and the answer may be inconsistent
// (miss an entry, or hold one twice). Request it again.
var ErrDumpInterrupted = errors.New("netlink: dump interrupted: what was dumped changed meanwhile; the answer may be inconsistent, request it again")

// errWouldBlock is a non-blocking receive that found no datagram: the
// caller polls again, until its deadline.
var errWouldBlock = errors.New("netlink: no datagram queued")

// An OpError is an error from an operation on a Conn: Op names the operation
// ("dial", "bind", "send", "receive", ...), Err is the cause. A failed system
// call is an *os.SyscallError; an error code the kernel sent in an NLMSG_ERROR
// or NLMSG_DONE message is a bare unix.Errno. Either way errors.Is(err,
// unix.EXXX) matches.
type OpError struct {
	Op  string
	Err error
	// ExtAck is what the kernel said of the error besides its code
	// (NETLINK_EXT_ACK, which Dial turns on): nil when it said nothing.
	ExtAck *ExtAck
}

// ExtAck is an extended acknowledgement: the kernel's words for an error
// (NL_SET_ERR_MSG in the kernel, "netl: echo count above 100") and where in
// the request it found the fault.
type ExtAck struct {
	Message string
	// Offset is the byte offset in the request (its header included) of
	// the fault, when HasOffset (NLMSGERR_ATTR_OFFS).
	Offset    uint32
	HasOffset bool
}

// Error implements error.
func (e *OpError) Error() string {
	if e == nil {
		return "<nil>"
	}
	s := "netlink " + e.Op + ": " + e.Err.Error()
	if e.ExtAck != nil && e.ExtAck.Message != "" {
		s += ": " + e.ExtAck.Message
	}
	return s
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// Timeout reports whether the operation timed out (a receive timeout), as
// net.Error's Timeout does; os.IsTimeout reads it.
func (e *OpError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Temporary is net.Error's other method: a timeout is worth retrying.
//
// Deprecated: as net.Error's, it is only here to make OpError a net.Error.
func (e *OpError) Temporary() bool { return e.Timeout() }

// timeoutError is a receive that timed out (SO_RCVTIMEO expired): it wraps
// the system call's EAGAIN and also matches os.ErrDeadlineExceeded.
type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return "timed out: " + e.err.Error() }
func (e *timeoutError) Unwrap() error { return e.err }
func (e *timeoutError) Timeout() bool { return true }
func (e *timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded
}

// overrunError is ENOBUFS from recvmsg: it wraps the system call's error and
// also matches ErrOverrun.
type overrunError struct{ err error }

func (e *overrunError) Error() string {
	return "receive buffer overrun, messages were dropped: " + e.err.Error()
}
func (e *overrunError) Unwrap() error        { return e.err }
func (e *overrunError) Is(target error) bool { return target == ErrOverrun }

// ErrorCode returns the error code an NLMSG_ERROR or NLMSG_DONE message
// carries in the first 4 bytes of its payload: 0 (an acknowledgement, or a
// dump's end) or a negative errno. A Done message with a short payload
// (some senders leave it empty) carries 0; any other message, or an Error
// message too short to carry a code, is an error.
func ErrorCode(m Message) (int32, error) {
	if m.Header.Type != Error && m.Header.Type != Done {
		return 0, fmt.Errorf("netlink: a %s message carries no error code", m.Header.Type)
	}
	if len(m.Data) < 4 {
		if m.Header.Type == Done {
			return 0, nil
		}
		return 0, fmt.Errorf("netlink: %s message with a %d-byte payload has no error code", m.Header.Type, len(m.Data))
	}
	return int32(binary.NativeEndian.Uint32(m.Data[:4])), nil
}

// checkMessage returns the error an NLMSG_ERROR or NLMSG_DONE message
// carries, nil for other messages and for acknowledgements.
func checkMessage(m Message) error {
	if m.Header.Type != Error && m.Header.Type != Done {
		return nil
	}
	code, err := ErrorCode(m)
	if err != nil {
		return &OpError{Op: "receive", Err: err}
	}
	switch {
	case code == 0:
		return nil
	case code > 0 && m.Header.Type == Done:
		// Only a negative code in a Done message is an error.
		return nil
	case code > 0:
		// The kernel sends negative errnos; keep a positive one as is
		// rather than invent a meaning for it.
		return &OpError{Op: "receive", Err: errno(int64(code))}
	}
	return &OpError{Op: "receive", Err: errno(-int64(code)), ExtAck: parseExtAck(m)}
}

// Flags of an NLMSG_ERROR message (linux/netlink.h) and the attributes
// after it (enum nlmsgerr_attrs).
const (
	flagCapped       HeaderFlags = 0x100 // NLM_F_CAPPED: the request's payload is left out
	flagAckTLVs      HeaderFlags = 0x200 // NLM_F_ACK_TLVS: attributes follow
	nlmsgerrAttrMsg              = 1     // NLMSGERR_ATTR_MSG
	nlmsgerrAttrOffs             = 2     // NLMSGERR_ATTR_OFFS
)

// parseExtAck reads the attributes of an NLMSG_ERROR message, after the
// error code and the request's header, and after the request's payload
// unless the kernel capped it (NLM_F_CAPPED); or of an NLMSG_DONE message,
// right after the error code (netlink_dump_done). Nil when there are none
// or they do not parse.
func parseExtAck(m Message) *ExtAck {
	if m.Header.Flags&flagAckTLVs == 0 || len(m.Data) < 4 {
		return nil
	}
	off := 4
	switch {
	case m.Header.Type == Done:
	case len(m.Data) < 4+HeaderLen:
		return nil
	case m.Header.Flags&flagCapped != 0:
		off = 4 + HeaderLen
	default:
		reqLen := int(binary.NativeEndian.Uint32(m.Data[4:8]))
		if reqLen < HeaderLen {
			return nil
		}
		off = 4 + Align(reqLen)
	}
	var ack ExtAck
	for off+4 <= len(m.Data) {
		l := int(binary.NativeEndian.Uint16(m.Data[off : off+2]))
		typ := binary.NativeEndian.Uint16(m.Data[off+2:off+4]) & 0x3fff // NLA_TYPE_MASK
		if l < 4 || off+l > len(m.Data) {
			break
		}
		v := m.Data[off+4 : off+l]
		switch typ {
		case nlmsgerrAttrMsg:
			if i := bytes.IndexByte(v, 0); i >= 0 {
				v = v[:i]
			}
			ack.Message = string(v)
		case nlmsgerrAttrOffs:
			if len(v) >= 4 {
				ack.Offset, ack.HasOffset = binary.NativeEndian.Uint32(v), true
			}
		}
		off += Align(l)
	}
	if ack.Message == "" && !ack.HasOffset {
		return nil
	}
	return &ack
}
