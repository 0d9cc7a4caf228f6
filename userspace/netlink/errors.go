package netlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// ErrOverrun matches (with errors.Is) the error Receive returns when the
// kernel reports ENOBUFS: the socket's receive buffer was full, and messages
// addressed to it were dropped. The error also matches unix.ENOBUFS.
var ErrOverrun = errors.New("netlink: receive buffer overrun, messages were dropped")

// An OpError is an error from an operation on a Conn: Op names the operation
// ("dial", "bind", "send", "receive", ...), Err is the cause. A failed system
// call is an *os.SyscallError; an error code the kernel sent in an NLMSG_ERROR
// or NLMSG_DONE message is a bare unix.Errno. Either way errors.Is(err,
// unix.EXXX) matches.
type OpError struct {
	Op  string
	Err error
}

// Error implements error.
func (e *OpError) Error() string {
	if e == nil {
		return "<nil>"
	}
	return "netlink " + e.Op + ": " + e.Err.Error()
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

// errorCode returns the error code an NLMSG_ERROR or NLMSG_DONE message
// carries in the first 4 bytes of its payload: 0 or a negative errno. A Done
// message with a short payload (some senders leave it empty) carries 0.
func errorCode(m Message) (int32, error) {
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
	code, err := errorCode(m)
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
	return &OpError{Op: "receive", Err: errno(-int64(code))}
}
