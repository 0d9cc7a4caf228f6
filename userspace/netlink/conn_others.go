//go:build !linux

package netlink

import (
	"fmt"
	"runtime"
	"time"
)

// errNotImplemented is returned on systems without netlink.
var errNotImplemented = fmt.Errorf("netlink: not implemented on %s/%s", runtime.GOOS, runtime.GOARCH)

// Placeholder option numbers: no socket ever reaches a system call here.
const (
	solSocket = iota
	soRcvbuf
	solNetlink
	netlinkAddMembership
	netlinkDropMembership
)

func dial(int, *Config) (*Conn, error) {
	return nil, &OpError{Op: "dial", Err: errNotImplemented}
}

func bind(int, uint32, uint32) error {
	return &OpError{Op: "bind", Err: errNotImplemented}
}

func sockPID(int) (uint32, error) {
	return 0, &OpError{Op: "pid", Err: errNotImplemented}
}

func sendTo(int, []byte, uint32, uint32, time.Duration) error {
	return &OpError{Op: "send", Err: errNotImplemented}
}

func recvFrom(int, *[]byte, bool) ([]byte, uint32, uint32, error) {
	return nil, 0, 0, &OpError{Op: "receive", Err: errNotImplemented}
}

func pollIn(int, time.Time) error {
	return &OpError{Op: "receive", Err: errNotImplemented}
}

func setReceiveTimeout(int, time.Duration) error {
	return &OpError{Op: "set-option", Err: errNotImplemented}
}

func setSendTimeout(int, time.Duration) error {
	return &OpError{Op: "set-option", Err: errNotImplemented}
}

func setsockoptInt(op string, _, _, _, _ int) error {
	return &OpError{Op: op, Err: errNotImplemented}
}

func closeFD(int) error {
	return &OpError{Op: "close", Err: errNotImplemented}
}

// errno returns the error for an errno the kernel sent in a message.
func errno(code int64) error { return fmt.Errorf("errno %d", code) }
