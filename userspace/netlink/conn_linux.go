//go:build linux

package netlink

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

const (
	solSocket             = unix.SOL_SOCKET
	soRcvbuf              = unix.SO_RCVBUF
	solNetlink            = unix.SOL_NETLINK
	netlinkAddMembership  = unix.NETLINK_ADD_MEMBERSHIP
	netlinkDropMembership = unix.NETLINK_DROP_MEMBERSHIP
)

func dial(protocol int, cfg *Config) (*Conn, error) {
	typ := cfg.SocketType
	if typ == 0 {
		typ = unix.SOCK_RAW
	}
	fd, err := unix.Socket(unix.AF_NETLINK, typ|unix.SOCK_CLOEXEC, protocol)
	if err != nil {
		return nil, &OpError{Op: "dial", Err: os.NewSyscallError("socket", err)}
	}
	// Extended acknowledgements (since 4.12): an error comes with the
	// kernel's words for it (OpError.ExtAck). A kernel without them says
	// ENOPROTOOPT, and errors come with their code alone, as before.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	// The multicast group each datagram came to (ReceiveGroup), in a
	// control message (struct nl_pktinfo).
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_PKTINFO, 1)
	if !cfg.NoBind {
		if err := bind(fd, cfg.PID, cfg.Groups); err != nil {
			_ = unix.Close(fd)
			return nil, err
		}
	}
	return &Conn{fd: fd, open: true}, nil
}

func bind(fd int, pid, groups uint32) error {
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: pid, Groups: groups}
	if err := unix.Bind(fd, sa); err != nil {
		return &OpError{Op: "bind", Err: os.NewSyscallError("bind", err)}
	}
	return nil
}

func sockPID(fd int) (uint32, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, &OpError{Op: "pid", Err: os.NewSyscallError("getsockname", err)}
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		return 0, &OpError{Op: "pid", Err: fmt.Errorf("getsockname returned a %T, not a netlink address", sa)}
	}
	return nl.Pid, nil
}

// sendTo sends b, waiting at most timeout (0: forever, as SO_SNDTIMEO,
// which the Conn set to timeout, does) for room at the receiver.
func sendTo(fd int, b []byte, pid, groups uint32, timeout time.Duration) error {
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: pid, Groups: groups}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	shortened := false
	defer func() {
		if shortened {
			_ = setSendTimeout(fd, timeout)
		}
	}()
	for {
		err := unix.Sendmsg(fd, b, nil, sa, 0)
		switch {
		case err == unix.EINTR && !deadline.IsZero():
			// A signal ended the wait: wait again for what is left,
			// not for SO_SNDTIMEO afresh. The socket's option is
			// shortened for the retry, and then set back.
			left := time.Until(deadline)
			if left <= 0 {
				return &OpError{Op: "send", Err: &timeoutError{err: os.NewSyscallError("sendmsg", unix.EAGAIN)}}
			}
			if err := setSendTimeout(fd, left); err != nil {
				return err
			}
			shortened = true
			continue
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || err == unix.EWOULDBLOCK:
			return &OpError{Op: "send", Err: &timeoutError{err: os.NewSyscallError("sendmsg", err)}}
		case err != nil:
			return &OpError{Op: "send", Err: os.NewSyscallError("sendmsg", err)}
		}
		return nil
	}
}

// recvFrom reads one datagram whole into *buf, which it grows when the
// datagram is longer (the peek, MSG_PEEK|MSG_TRUNC, returns its whole
// length), and returns a copy. The caller holds the Conn's read lock: the
// peek and the read are of the same datagram. With nonblock, it returns
// errWouldBlock when no datagram is queued.
func recvFrom(fd int, buf *[]byte, nonblock bool) ([]byte, uint32, uint32, error) {
	flags := 0
	if nonblock {
		flags = unix.MSG_DONTWAIT
	}
	n, _, _, err := recvmsg(fd, *buf, flags|unix.MSG_PEEK|unix.MSG_TRUNC)
	if err != nil {
		return nil, 0, 0, err
	}
	if n > len(*buf) {
		*buf = make([]byte, n)
	}
	// MSG_TRUNC again: a datagram longer than the buffer (another process
	// sharing the descriptor read the one peeked at) is reported, not cut.
	m, from, group, err := recvmsg(fd, *buf, flags|unix.MSG_TRUNC)
	if err != nil {
		return nil, from, 0, err
	}
	if m > len(*buf) {
		return nil, from, 0, &OpError{Op: "receive", Err: fmt.Errorf("datagram of %d bytes truncated to %d", m, len(*buf))}
	}
	return append([]byte(nil), (*buf)[:m]...), from, group, nil
}

// recvmsg returns the datagram's length, its sender's port and the
// multicast group it came to (0: it was sent to this port).
func recvmsg(fd int, b []byte, flags int) (int, uint32, uint32, error) {
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, from, err := unix.Recvmsg(fd, b, oob, flags)
		switch {
		case err == unix.EINTR:
			// Without a timeout (receive polls when it has one),
			// nothing is lost by starting again.
			continue
		case (err == unix.EAGAIN || err == unix.EWOULDBLOCK) && flags&unix.MSG_DONTWAIT != 0:
			return 0, 0, 0, errWouldBlock
		case err == unix.EAGAIN || err == unix.EWOULDBLOCK:
			return 0, 0, 0, &OpError{Op: "receive", Err: &timeoutError{err: os.NewSyscallError("recvmsg", err)}}
		case err == unix.ENOBUFS:
			return 0, 0, 0, &OpError{Op: "receive", Err: &overrunError{err: os.NewSyscallError("recvmsg", err)}}
		case err != nil:
			return 0, 0, 0, &OpError{Op: "receive", Err: os.NewSyscallError("recvmsg", err)}
		}
		var pid, group uint32
		if nl, ok := from.(*unix.SockaddrNetlink); ok {
			pid = nl.Pid
		}
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range cms {
				if cm.Header.Level == unix.SOL_NETLINK && cm.Header.Type == unix.NETLINK_PKTINFO && len(cm.Data) >= 4 {
					group = binary.NativeEndian.Uint32(cm.Data)
				}
			}
		}
		return n, pid, group, nil
	}
}

// pollIn waits until fd has a datagram to read, or deadline passes. A
// deadline already past still finds a datagram that is queued: the wait
// may end before the socket was looked at even once (a 1 ms timeout on a
// loaded machine), and a queued datagram is no timeout.
func pollIn(fd int, deadline time.Time) error {
	for {
		left := time.Until(deadline)
		ms := 0
		if left > 0 {
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return &OpError{Op: "receive", Err: os.NewSyscallError("poll", err)}
		case n > 0:
			return nil
		case left <= 0:
			return &OpError{Op: "receive", Err: &timeoutError{err: os.NewSyscallError("poll", unix.EAGAIN)}}
		}
	}
}

func setReceiveTimeout(fd int, d time.Duration) error {
	return setTimeout(fd, unix.SO_RCVTIMEO, "receive", d)
}

func setSendTimeout(fd int, d time.Duration) error {
	return setTimeout(fd, unix.SO_SNDTIMEO, "send", d)
}

func setTimeout(fd, opt int, what string, d time.Duration) error {
	if d < 0 {
		return &OpError{Op: "set-option", Err: fmt.Errorf("negative %s timeout %v", what, d)}
	}
	if d > 0 && d < time.Microsecond {
		d = time.Microsecond // a zero timeval would mean no timeout
	}
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv); err != nil {
		return &OpError{Op: "set-option", Err: os.NewSyscallError("setsockopt", err)}
	}
	return nil
}

func setsockoptInt(op string, fd, level, opt, value int) error {
	if err := unix.SetsockoptInt(fd, level, opt, value); err != nil {
		return &OpError{Op: op, Err: os.NewSyscallError("setsockopt", err)}
	}
	return nil
}

func closeFD(fd int) error {
	if err := unix.Close(fd); err != nil {
		return &OpError{Op: "close", Err: os.NewSyscallError("close", err)}
	}
	return nil
}

// errno returns the error for an errno the kernel sent in a message.
func errno(code int64) error { return unix.Errno(code) }
