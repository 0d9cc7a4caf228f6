package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
)

// defaultTimeout is how long a command waits for a message by default.
const defaultTimeout = 10 * time.Second

// dial opens a socket on protocol bound to port (0: kernel-assigned), sets
// its receive and send timeouts, and returns it with its port.
func dial(protocol, socketType int, port uint32, timeout time.Duration) (*netlink.Conn, uint32, error) {
	c, err := netlink.Dial(protocol, &netlink.Config{SocketType: socketType, PID: port})
	if err != nil {
		if protocol == netlink.ProtocolTest && errors.Is(err, syscall.EPROTONOSUPPORT) {
			return nil, 0, fmt.Errorf("%w (is netl.ko loaded?)", err)
		}
		return nil, 0, err
	}
	if timeout > 0 {
		if err := c.SetReceiveTimeout(timeout); err != nil {
			c.Close()
			return nil, 0, err
		}
		if err := c.SetSendTimeout(timeout); err != nil {
			c.Close()
			return nil, 0, err
		}
	}
	pid, err := c.PID()
	if err != nil {
		c.Close()
		return nil, 0, err
	}
	return c, pid, nil
}

// isTimeout reports whether err is a receive timeout.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// dialWithData is the start of every typed command that sends DATA to
// netl.ko: check -timeout, read DATA (hex or text), open a socket on
// protocol 25 with a kernel-assigned port.
func dialWithData(args []string, isHex bool, timeout time.Duration) (*netlink.Conn, []byte, error) {
	if err := checkTimeout(timeout); err != nil {
		return nil, nil, err
	}
	data, err := payload("DATA", args, isHex)
	if err != nil {
		return nil, nil, err
	}
	c, _, err := dial(netlink.ProtocolTest, syscall.SOCK_RAW, 0, timeout)
	if err != nil {
		return nil, nil, err
	}
	return c, data, nil
}
