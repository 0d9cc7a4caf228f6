package netlink

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config sets up the socket Dial opens. A nil *Config is the zero Config.
type Config struct {
	// SocketType is unix.SOCK_RAW (the default, when 0) or
	// unix.SOCK_DGRAM: netlink treats both alike.
	SocketType int
	// PID is the port ID to bind, nl_pid. 0 lets the kernel assign one.
	PID uint32
	// Groups is the multicast group mask to bind, nl_groups: bit g-1
	// joins group g, for groups 1 to 32. Use JoinGroup for higher groups.
	Groups uint32
	// NoBind leaves the socket unbound, to observe autobind (the kernel
	// binds an unbound socket on its first send) or to set options, such
	// as SO_REUSEADDR, before calling Bind.
	NoBind bool
}

// A Conn is a netlink socket. Its methods make blocking system calls on the
// socket, as the seed's C programs do (a receive with a timeout polls to its
// deadline and then reads without blocking), and are safe for concurrent use:
// concurrent Receives each get whole datagrams, one each. The one rule:
// two Requests must not overlap, because each keeps the other's answer for
// Receive as "another sequence number" (use a Conn per concurrent Request).
//
// Close may be called from any goroutine, but it does not interrupt a
// Receive already waiting: that call returns when a message
// arrives or the receive timeout (SetReceiveTimeout) expires, and the socket
// is closed then. Set a timeout if one goroutine may close a Conn another is
// reading from.
//
// Messages a Request reads that are not its answer are kept for the next
// Receive (at most 256 datagrams, maxPending; past that the oldest go, and the
// next Receive reports ErrOverrun). They come first only if no Receive
// runs at the same time as the Request: a Receive already blocked in
// recvmsg returns the next datagram, kept or not.
type Conn struct {
	mu      sync.Mutex
	fd      int
	open    bool // set by Dial, cleared by Close
	refs    int  // system calls in flight on fd
	closing bool

	seq atomic.Uint32

	// rmu makes each receive one datagram's whole read (the peek at its
	// size and the read), so that concurrent readers never take each
	// other's datagram half-way; rbuf is its buffer, at least minRead.
	rmu  sync.Mutex
	rbuf []byte

	// rto is the receive timeout (SetReceiveTimeout), which also bounds a
	// whole Request.
	rto atomic.Int64
	// sto is the send timeout (SetSendTimeout). smu makes timed sends go
	// one at a time: a send a signal interrupted shortens SO_SNDTIMEO,
	// which is the socket's, for its retry, and no other send may start
	// with the shortened value meanwhile.
	sto atomic.Int64
	smu sync.Mutex

	// pending holds what Request read that was not its answer, for the
	// next Receive, datagram by datagram; lost counts the datagrams
	// dropped from it when it was full, reported once by Receive.
	pendingMu sync.Mutex
	pending   []datagram
	lost      int
}

// maxPending bounds the datagrams a Conn keeps for Receive: a Conn that
// joins busy groups and only ever calls Request must not grow without end.
const maxPending = 256

// datagram is the parsed messages of one datagram, their sender, and the
// multicast group it came to (0: sent to this port); err is why it did not
// parse, for Receive to return.
type datagram struct {
	msgs  []Message
	from  uint32
	group uint32
	err   error
}

// Dial opens a netlink socket for protocol (ProtocolTest for netl.ko) and,
// unless cfg.NoBind is set, binds it to cfg.PID and cfg.Groups:
// socket(AF_NETLINK, type|SOCK_CLOEXEC, protocol), then bind().
func Dial(protocol int, cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	c, err := dial(protocol, cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Bind binds an unbound socket (one dialled with Config.NoBind) to port pid
// (0 lets the kernel assign one) and the multicast group mask groups.
func (c *Conn) Bind(pid, groups uint32) error {
	fd, err := c.acquire("bind")
	if err != nil {
		return err
	}
	defer c.release()
	return bind(fd, pid, groups)
}

// PID returns the port ID the socket is bound to (getsockname), 0 if it is
// not bound yet.
func (c *Conn) PID() (uint32, error) {
	fd, err := c.acquire("pid")
	if err != nil {
		return 0, err
	}
	defer c.release()
	return sockPID(fd)
}

// Send sends m to the kernel (port 0), as is: it fills in neither the
// sequence number nor the PID. A zero m.Header.Length is computed.
func (c *Conn) Send(m Message) error {
	return c.SendTo(m, 0, 0)
}

// SendTo sends m to port pid (0 is the kernel) and to the multicast groups
// in the mask groups.
func (c *Conn) SendTo(m Message, pid, groups uint32) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return &OpError{Op: "send", Err: err}
	}
	return c.sendTo(b, pid, groups)
}

// SendRaw sends b as is to port pid, for tests of malformed messages.
func (c *Conn) SendRaw(b []byte, pid uint32) error {
	return c.sendTo(b, pid, 0)
}

func (c *Conn) sendTo(b []byte, pid, groups uint32) error {
	fd, err := c.acquire("send")
	if err != nil {
		return err
	}
	defer c.release()
	if c.sto.Load() == 0 {
		return sendTo(fd, b, pid, groups, 0)
	}
	c.smu.Lock()
	defer c.smu.Unlock()
	return sendTo(fd, b, pid, groups, time.Duration(c.sto.Load()))
}

// Receive reads one datagram and returns the messages in it. An
// acknowledgement (an NLMSG_ERROR message with code 0) is returned as a
// message of type Error. An NLMSG_ERROR message with a nonzero code, or an
// NLMSG_DONE message with a negative one, is not returned as a message:
// Receive returns the messages before it in the datagram and an *OpError
// wrapping the unix.Errno. If the kernel dropped messages for lack of buffer
// space, the error matches ErrOverrun and unix.ENOBUFS; if the receive
// timeout expired, it matches os.ErrDeadlineExceeded and unix.EAGAIN.
func (c *Conn) Receive() ([]Message, error) {
	msgs, _, err := c.ReceiveFrom()
	return msgs, err
}

// ReceiveFrom is Receive that also returns the sender's port ID (0 for the
// kernel). Messages a Request read that were not its answer come first, in
// the order they arrived.
func (c *Conn) ReceiveFrom() ([]Message, uint32, error) {
	msgs, from, _, err := c.ReceiveGroup()
	return msgs, from, err
}

// ReceiveGroup is ReceiveFrom that also returns the multicast group the
// datagram was sent to (netlink's NETLINK_PKTINFO), 0 for a datagram sent
// to this socket's port.
func (c *Conn) ReceiveGroup() ([]Message, uint32, uint32, error) {
	if _, err := c.acquire("receive"); err != nil {
		return nil, 0, 0, err // closed: nothing kept is handed out any more
	}
	c.release()
	d, ok, lost := c.popPending()
	if lost > 0 {
		return nil, 0, 0, &OpError{Op: "receive", Err: fmt.Errorf("%w: %d datagrams kept for Receive were dropped", ErrOverrun, lost)}
	}
	if !ok {
		var err error
		if d, err = c.receive(c.receiveDeadline()); err != nil {
			return nil, d.from, 0, err
		}
	}
	if d.err != nil {
		return nil, d.from, d.group, d.err
	}
	for i, m := range d.msgs {
		if err := checkMessage(m); err != nil {
			// What follows the error in its datagram comes with the
			// next Receive.
			c.keepFirst(datagram{msgs: d.msgs[i+1:], from: d.from, group: d.group})
			return d.msgs[:i], d.from, d.group, err
		}
	}
	return d.msgs, d.from, d.group, nil
}

// minRead is the least buffer a receive offers the kernel, as libmnl's
// MNL_SOCKET_BUFFER_SIZE does: netlink sizes the datagrams of a dump by the
// largest buffer its reader has offered (netlink_recvmsg's
// max_recvmsg_len, capped at 32 KiB), so a reader that offers only what
// it peeked gets its dumps in more, smaller datagrams.
const minRead = 32 << 10

// receive reads one datagram and parses it, leaving error messages in it;
// a datagram that does not parse comes with its err set, and the error is
// only for a failed read.
// A nonzero deadline bounds the whole wait: receive polls for the datagram
// and reads it without blocking, so neither a signal (EINTR) nor a
// concurrent reader taking the datagram polled for restarts the wait, as
// each would restart SO_RCVTIMEO.
func (c *Conn) receive(deadline time.Time) (datagram, error) {
	fd, err := c.acquire("receive")
	if err != nil {
		return datagram{}, err
	}
	defer c.release()
	for {
		nonblock := !deadline.IsZero()
		if nonblock {
			if err := pollIn(fd, deadline); err != nil {
				return datagram{}, err
			}
		}
		c.rmu.Lock()
		if len(c.rbuf) < minRead {
			c.rbuf = make([]byte, minRead)
		}
		b, from, group, err := recvFrom(fd, &c.rbuf, nonblock)
		c.rmu.Unlock()
		if err == errWouldBlock {
			continue // another reader took it: wait again, for what is left
		}
		if err != nil {
			return datagram{from: from}, err
		}
		msgs, err := ParseMessages(b)
		if err != nil {
			return datagram{from: from, group: group, err: &OpError{Op: "receive", Err: err}}, nil
		}
		return datagram{msgs: msgs, from: from, group: group}, nil
	}
}

// receiveDeadline returns when a receive that starts now times out (zero:
// never).
func (c *Conn) receiveDeadline() time.Time {
	if d := time.Duration(c.rto.Load()); d > 0 {
		return time.Now().Add(d)
	}
	return time.Time{}
}

// Request sends m to the kernel and returns its answer. If
// m.Header.Sequence is 0, Request assigns the Conn's next sequence number.
// It then reads until the end of the answer, from the kernel only: a
// datagram from another port (a peer's, even one that forged the right
// sequence number) is not the answer. Datagrams from other ports, messages
// with another sequence number (a notification, a multicast message,
// another request's late reply), and whatever follows the end of the
// answer in its datagram, are kept for the next Receive, never dropped.
// The receive timeout (SetReceiveTimeout) bounds the whole Request, however
// many other datagrams arrive meanwhile. The answer ends at
//   - an NLMSG_ERROR message: with a nonzero code, Request returns the
//     answer's messages read before it (a dump's parts) and an error
//     wrapping the unix.Errno; with code 0 (an acknowledgement), the
//     acknowledgement is the last message returned;
//   - an NLMSG_DONE message, returned last (for a multipart answer, whose
//     parts carry the Multi flag);
//   - a reply without the Multi flag, unless m asks for an acknowledgement
//     (Acknowledge flag), in which case Request reads on to the
//     acknowledgement.
//
// If a message of the answer carries NLM_F_DUMP_INTR (what was dumped
// changed while the dump ran), Request reads the answer to its end and
// returns it with an error matching ErrDumpInterrupted.
//
// Requests are not multiplexed: two at once on one Conn would each keep the
// other's answer for Receive (see Conn).
func (c *Conn) Request(m Message) ([]Message, error) {
	if m.Header.Sequence == 0 {
		m.Header.Sequence = c.nextSequence()
	}
	if err := c.Send(m); err != nil {
		return nil, err
	}
	deadline := c.receiveDeadline()
	var replies []Message
	interrupted := false
	for {
		d, err := c.receive(deadline)
		if err != nil {
			return replies, err
		}
		msgs, from := d.msgs, d.from
		if from != 0 || d.group != 0 {
			// A peer's datagram, or a broadcast, even one that does
			// not parse or holds nothing: never the kernel's answer.
			c.keepWhole(d)
			continue
		}
		if d.err != nil {
			return replies, d.err
		}
		var others []Message
		for i, r := range msgs {
			if r.Header.Sequence != m.Header.Sequence {
				others = append(others, r)
				continue
			}
			if err := checkMessage(r); err != nil {
				c.keep(datagram{msgs: append(others, msgs[i+1:]...), from: from})
				return replies, err
			}
			replies = append(replies, r)
			interrupted = interrupted || r.Header.Flags&DumpInterrupted != 0
			if r.Header.Type == Error || r.Header.Type == Done ||
				(r.Header.Flags&Multi == 0 && m.Header.Flags&Acknowledge == 0) {
				c.keep(datagram{msgs: append(others, msgs[i+1:]...), from: from})
				if interrupted {
					return replies, &OpError{Op: "receive", Err: ErrDumpInterrupted}
				}
				return replies, nil
			}
		}
		c.keep(datagram{msgs: others, from: from})
	}
}

// keep queues the messages of a datagram that Request did not take, if
// any, for the next Receive.
func (c *Conn) keep(d datagram) {
	if len(d.msgs) > 0 {
		c.keepWhole(d)
	}
}

// keepWhole queues a datagram for the next Receive, as it came: empty, or
// with the error it did not parse with.
func (c *Conn) keepWhole(d datagram) {
	c.pendingMu.Lock()
	defer c.pendingMu.Unlock()
	if len(c.pending) == maxPending {
		c.pending = c.pending[1:]
		c.lost++
	}
	c.pending = append(c.pending, d)
}

// keepFirst puts back, first in the queue, the messages of a datagram that
// Receive returned only up to an error.
func (c *Conn) keepFirst(d datagram) {
	if len(d.msgs) == 0 {
		return
	}
	c.pendingMu.Lock()
	defer c.pendingMu.Unlock()
	if len(c.pending) == maxPending {
		c.pending = c.pending[:maxPending-1]
		c.lost++
	}
	c.pending = append([]datagram{d}, c.pending...)
}

// popPending returns the oldest kept datagram, or the count of those lost
// (once) when the queue overflowed.
func (c *Conn) popPending() (d datagram, ok bool, lost int) {
	c.pendingMu.Lock()
	defer c.pendingMu.Unlock()
	if c.lost > 0 {
		lost, c.lost = c.lost, 0
		return datagram{}, false, lost
	}
	if len(c.pending) == 0 {
		return datagram{}, false, 0
	}
	d = c.pending[0]
	c.pending = c.pending[1:]
	return d, true, 0
}

// nextSequence returns the next sequence number, never 0.
func (c *Conn) nextSequence() uint32 {
	for {
		if s := c.seq.Add(1); s != 0 {
			return s
		}
	}
}

// SetSendTimeout sets SO_SNDTIMEO: a send that waits longer than d for room
// in a full receiver's buffer (a user-space port: the kernel takes its
// messages at once) returns an error matching os.ErrDeadlineExceeded. A
// signal does not restart the wait: the retry gets what is left of d. 0
// waits forever. With a send timeout, the Conn's sends go one at a time.
//
// It does not bound the time the kernel takes to handle a message: a
// module that sleeps while it answers (netl.ko's echo, -interval apart)
// keeps the send blocked for as long as it sleeps.
func (c *Conn) SetSendTimeout(d time.Duration) error {
	fd, err := c.acquire("set-option")
	if err != nil {
		return err
	}
	defer c.release()
	c.smu.Lock()
	defer c.smu.Unlock()
	if err := setSendTimeout(fd, d); err != nil {
		return err
	}
	c.sto.Store(int64(d))
	return nil
}

// SetReceiveTimeout sets SO_RCVTIMEO: a Receive that waits longer than d
// returns an error matching os.ErrDeadlineExceeded. 0 waits forever.
func (c *Conn) SetReceiveTimeout(d time.Duration) error {
	fd, err := c.acquire("set-option")
	if err != nil {
		return err
	}
	defer c.release()
	if err := setReceiveTimeout(fd, d); err != nil {
		return err
	}
	c.rto.Store(int64(d))
	return nil
}

// SetReceiveBuffer sets SO_RCVBUF, the socket's receive buffer size.
func (c *Conn) SetReceiveBuffer(bytes int) error {
	return c.SetOption(solSocket, soRcvbuf, bytes)
}

// JoinGroup joins multicast group g (1 to the protocol's number of groups)
// with NETLINK_ADD_MEMBERSHIP.
func (c *Conn) JoinGroup(g uint32) error {
	return c.setGroup("join-group", netlinkAddMembership, g)
}

// LeaveGroup leaves multicast group g with NETLINK_DROP_MEMBERSHIP.
func (c *Conn) LeaveGroup(g uint32) error {
	return c.setGroup("leave-group", netlinkDropMembership, g)
}

func (c *Conn) setGroup(op string, opt int, g uint32) error {
	fd, err := c.acquire(op)
	if err != nil {
		return err
	}
	defer c.release()
	return setsockoptInt(op, fd, solNetlink, opt, int(g))
}

// SetOption sets an integer socket option: setsockopt(fd, level, opt,
// &value, sizeof(int)), for instance unix.SOL_SOCKET, unix.SO_REUSEADDR, 1.
func (c *Conn) SetOption(level, opt, value int) error {
	fd, err := c.acquire("set-option")
	if err != nil {
		return err
	}
	defer c.release()
	return setsockoptInt("set-option", fd, level, opt, value)
}

// FD returns the socket's file descriptor, -1 once the Conn is closed. The
// descriptor stays owned by the Conn.
func (c *Conn) FD() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.open || c.closing {
		return -1
	}
	return c.fd
}

// Close closes the socket. Calling it again does nothing. If a system call
// is in flight on the socket, the descriptor is closed when it returns.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.open || c.closing {
		return nil
	}
	c.closing = true
	if c.refs > 0 {
		return nil
	}
	c.open = false
	return closeFD(c.fd)
}

// acquire returns the descriptor for a system call, which must be followed
// by release, or an error if the Conn is closed.
func (c *Conn) acquire(op string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.open || c.closing {
		return -1, &OpError{Op: op, Err: net.ErrClosed}
	}
	c.refs++
	return c.fd, nil
}

// release ends a system call; the last one after Close closes the socket.
func (c *Conn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs--
	if c.refs == 0 && c.closing && c.open {
		c.open = false
		_ = closeFD(c.fd)
	}
}
