package netlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// These tests need no module: they run against NETLINK_ROUTE on the host
// (as root) or in a guest.

const (
	rtmGetLink  = 18 // RTM_GETLINK
	rtmNewLink  = 16 // RTM_NEWLINK
	ifinfomsgSz = 16 // sizeof(struct ifinfomsg)
)

// dialRoute opens a NETLINK_ROUTE socket, closed when the test ends.
func dialRoute(t *testing.T, cfg *Config) *Conn {
	t.Helper()
	c, err := Dial(unix.NETLINK_ROUTE, cfg)
	require.NoError(t, err, "opening a NETLINK_ROUTE socket: these tests need a Linux kernel with netlink")
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	require.NoError(t, c.SetReceiveTimeout(5*time.Second))
	return c
}

// getLink returns an RTM_GETLINK request for interface index (0 for all).
func getLink(flags HeaderFlags, index int32) Message {
	data := make([]byte, ifinfomsgSz)
	binary.NativeEndian.PutUint32(data[4:8], uint32(index))
	return Message{Header: Header{Type: rtmGetLink, Flags: Request | flags}, Data: data}
}

func TestDialKernelAssignsPort(t *testing.T) {
	for _, typ := range []int{0, unix.SOCK_RAW, unix.SOCK_DGRAM} {
		c := dialRoute(t, &Config{SocketType: typ})
		pid, err := c.PID()
		require.NoError(t, err)
		assert.NotZero(t, pid, "socket type %d: port after bind to 0\n- want: kernel-assigned, nonzero\n-  got: %d", typ, pid)
	}
}

func TestDialExplicitPort(t *testing.T) {
	const port = 0x7ffff001
	c := dialRoute(t, &Config{PID: port})
	pid, err := c.PID()
	require.NoError(t, err)
	assert.Equal(t, uint32(port), pid, "- want: %d\n-  got: %d", port, pid)
}

func TestDialSamePortInUse(t *testing.T) {
	const port = 0x7ffff002
	dialRoute(t, &Config{PID: port})

	c, err := Dial(unix.NETLINK_ROUTE, &Config{PID: port})
	if c != nil {
		c.Close()
	}
	require.Error(t, err, "second bind of port %d\n- want: EADDRINUSE\n-  got: success", port)
	assert.ErrorIs(t, err, unix.EADDRINUSE, "- want: EADDRINUSE\n-  got: %v", err)
	var opErr *OpError
	if assert.ErrorAs(t, err, &opErr) {
		assert.Equal(t, "bind", opErr.Op)
	}
	var sysErr *os.SyscallError
	assert.ErrorAs(t, err, &sysErr)

	// The same with SO_REUSEADDR set before bind.
	c = dialRoute(t, &Config{NoBind: true})
	require.NoError(t, c.SetOption(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
	err = c.Bind(port, 0)
	assert.ErrorIs(t, err, unix.EADDRINUSE, "with SO_REUSEADDR\n- want: EADDRINUSE\n-  got: %v", err)
}

func TestDialBadProtocol(t *testing.T) {
	c, err := Dial(1000, nil)
	if c != nil {
		c.Close()
	}
	assert.ErrorIs(t, err, unix.EPROTONOSUPPORT, "- want: EPROTONOSUPPORT\n-  got: %v", err)
}

func TestNoBindAutobind(t *testing.T) {
	c := dialRoute(t, &Config{NoBind: true})
	pid, err := c.PID()
	require.NoError(t, err)
	assert.Zero(t, pid, "port before any send\n- want: 0\n-  got: %d", pid)

	_, err = c.Request(getLink(Dump, 0))
	require.NoError(t, err)
	pid, err = c.PID()
	require.NoError(t, err)
	assert.NotZero(t, pid, "port after a send\n- want: autobound, nonzero\n-  got: %d", pid)
}

func TestRequestLinkDump(t *testing.T) {
	c := dialRoute(t, nil)
	pid, err := c.PID()
	require.NoError(t, err)

	msgs, err := c.Request(getLink(Dump, 0))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(msgs), 2, "a dump of at least lo, then Done")

	last := msgs[len(msgs)-1]
	assert.Equal(t, Done, last.Header.Type, "last message type\n- want: %v\n-  got: %v", Done, last.Header.Type)
	seq := msgs[0].Header.Sequence
	assert.NotZero(t, seq, "sequence number assigned")
	for i, m := range msgs {
		assert.NotZero(t, m.Header.Flags&Multi, "message %d flags\n- want: multi set\n-  got: %v", i, m.Header.Flags)
		assert.Equal(t, seq, m.Header.Sequence, "message %d sequence\n- want: %d\n-  got: %d", i, seq, m.Header.Sequence)
		assert.Equal(t, pid, m.Header.PID, "message %d PID\n- want: %d\n-  got: %d", i, pid, m.Header.PID)
		if i < len(msgs)-1 {
			assert.Equal(t, HeaderType(rtmNewLink), m.Header.Type, "message %d type\n- want: RTM_NEWLINK\n-  got: %v", i, m.Header.Type)
		}
	}

	// The next request gets the next sequence number.
	msgs, err = c.Request(getLink(Dump, 0))
	require.NoError(t, err)
	assert.Equal(t, seq+1, msgs[0].Header.Sequence, "next sequence\n- want: %d\n-  got: %d", seq+1, msgs[0].Header.Sequence)
}

func TestRequestAcknowledged(t *testing.T) {
	c := dialRoute(t, nil)
	msgs, err := c.Request(getLink(Acknowledge, 1)) // lo
	require.NoError(t, err)
	require.Len(t, msgs, 2, "a reply, then the acknowledgement")
	assert.Equal(t, HeaderType(rtmNewLink), msgs[0].Header.Type)
	ack := msgs[1]
	assert.Equal(t, Error, ack.Header.Type, "- want: %v\n-  got: %v", Error, ack.Header.Type)
	code, err := ErrorCode(ack)
	require.NoError(t, err)
	assert.Zero(t, code, "acknowledgement error code")
}

func TestRequestErrno(t *testing.T) {
	c := dialRoute(t, nil)
	msgs, err := c.Request(getLink(0, 0x7ffffff0))
	assert.Nil(t, msgs)
	assert.ErrorIs(t, err, unix.ENODEV, "GETLINK of a missing interface\n- want: ENODEV\n-  got: %v", err)
	var errno unix.Errno
	if assert.ErrorAs(t, err, &errno) {
		assert.Equal(t, unix.ENODEV, errno, "the errno is left bare, not a SyscallError")
	}
	var sysErr *os.SyscallError
	assert.False(t, errors.As(err, &sysErr), "an errno from a message is not a system call's")
}

func TestReceiveErrorMessage(t *testing.T) {
	c := dialRoute(t, nil)
	require.NoError(t, c.Send(getLink(0, 0x7ffffff0)))
	msgs, err := c.Receive()
	assert.Empty(t, msgs)
	assert.ErrorIs(t, err, unix.ENODEV, "- want: ENODEV\n-  got: %v", err)

	// An acknowledgement is a message.
	require.NoError(t, c.Send(Message{Header: Header{Type: Noop, Flags: Request | Acknowledge, Sequence: 9}}))
	msgs, err = c.Receive()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, Error, msgs[0].Header.Type)
	assert.Equal(t, uint32(9), msgs[0].Header.Sequence)
}

func TestReceiveTimeout(t *testing.T) {
	c := dialRoute(t, nil)
	require.NoError(t, c.SetReceiveTimeout(50*time.Millisecond))
	start := time.Now()
	msgs, err := c.Receive()
	elapsed := time.Since(start)
	assert.Nil(t, msgs)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "- want: a timeout\n-  got: %v", err)
	assert.ErrorIs(t, err, unix.EAGAIN)
	assert.GreaterOrEqual(t, elapsed, 40*time.Millisecond, "returned before the timeout")
	assert.Less(t, elapsed, 3*time.Second, "did not time out")

	assert.Error(t, c.SetReceiveTimeout(-time.Second))
}

func TestUserToUser(t *testing.T) {
	a := dialRoute(t, nil)
	b := dialRoute(t, &Config{SocketType: unix.SOCK_DGRAM})
	aPort, err := a.PID()
	require.NoError(t, err)
	bPort, err := b.PID()
	require.NoError(t, err)

	want := Message{Header: Header{Type: 0x42, Flags: Request, Sequence: 5, PID: 12345}, Data: []byte("hello b")}
	require.NoError(t, a.SendTo(want, bPort, 0))
	msgs, from, err := b.ReceiveFrom()
	require.NoError(t, err)
	assert.Equal(t, aPort, from, "sender port\n- want: %d\n-  got: %d", aPort, from)
	require.Len(t, msgs, 1)
	want.Header.Length = uint32(Length(len(want.Data)))
	assert.Equal(t, want, msgs[0], "- want: %+v\n-  got: %+v", want, msgs[0])
}

func TestSendRawLargeDatagram(t *testing.T) {
	// A user-to-user datagram far larger than a page, which Receive must
	// read whole, with two messages in it.
	a := dialRoute(t, nil)
	b := dialRoute(t, nil)
	require.NoError(t, b.SetReceiveBuffer(1<<20))
	bPort, err := b.PID()
	require.NoError(t, err)

	big := make([]byte, 100_000)
	for i := range big {
		big[i] = byte(i)
	}
	m1, err := Message{Header: Header{Type: 0x20}, Data: big}.MarshalBinary()
	require.NoError(t, err)
	m2, err := Message{Header: Header{Type: 0x21}, Data: []byte("x")}.MarshalBinary()
	require.NoError(t, err)
	require.NoError(t, a.SendRaw(append(m1, m2...), bPort))

	msgs, err := b.Receive()
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.Equal(t, big, msgs[0].Data)
	assert.Equal(t, []byte("x"), msgs[1].Data)
}

func TestReceiveMalformed(t *testing.T) {
	a := dialRoute(t, nil)
	b := dialRoute(t, nil)
	bPort, err := b.PID()
	require.NoError(t, err)

	require.NoError(t, a.SendRaw([]byte{1, 2, 3}, bPort))
	msgs, err := b.Receive()
	assert.Nil(t, msgs)
	assert.ErrorContains(t, err, "3 bytes are shorter than the 16-byte header")
}

func TestOverrun(t *testing.T) {
	c := dialRoute(t, nil)
	require.NoError(t, c.SetReceiveBuffer(1)) // the kernel's minimum
	require.NoError(t, c.SetReceiveTimeout(200*time.Millisecond))

	// The kernel's replies do not wait for room: 64 acknowledgements,
	// unread, overflow a minimal receive buffer, and the kernel drops
	// some and reports ENOBUFS on the next receive.
	for i := range 64 {
		require.NoError(t, c.Send(Message{Header: Header{Type: Noop, Flags: Request | Acknowledge, Sequence: uint32(i + 1)}}))
	}
	var gotOverrun bool
	for i := 0; i < 70; i++ {
		_, err := c.Receive()
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		assert.ErrorIs(t, err, ErrOverrun, "- want: an overrun\n-  got: %v", err)
		assert.ErrorIs(t, err, unix.ENOBUFS)
		gotOverrun = true
		break
	}
	assert.True(t, gotOverrun, "64 acknowledgements into a minimal receive buffer\n- want: ENOBUFS\n-  got: none")
}

func TestJoinLeaveGroup(t *testing.T) {
	c := dialRoute(t, nil)
	const rtnlgrpLink = 1
	require.NoError(t, c.JoinGroup(rtnlgrpLink))
	require.NoError(t, c.LeaveGroup(rtnlgrpLink))
	err := c.JoinGroup(0xffff)
	assert.ErrorIs(t, err, unix.EINVAL, "joining a group the protocol lacks\n- want: EINVAL\n-  got: %v", err)
}

func TestClose(t *testing.T) {
	c, err := Dial(unix.NETLINK_ROUTE, nil)
	require.NoError(t, err)
	fd := c.FD()
	assert.GreaterOrEqual(t, fd, 0)
	require.NoError(t, c.Close())
	assert.NoError(t, c.Close(), "second Close")
	assert.Equal(t, -1, c.FD())

	_, err = c.Receive()
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.ErrorIs(t, c.Send(Message{}), net.ErrClosed)
	_, err = c.PID()
	assert.ErrorIs(t, err, net.ErrClosed)
}

func TestCloseWhileReceiving(t *testing.T) {
	c, err := Dial(unix.NETLINK_ROUTE, nil)
	require.NoError(t, err)
	require.NoError(t, c.SetReceiveTimeout(200*time.Millisecond))

	var wg sync.WaitGroup
	wg.Add(1)
	var recvErr error
	go func() {
		defer wg.Done()
		_, recvErr = c.Receive()
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, c.Close())
	wg.Wait()
	assert.ErrorIs(t, recvErr, os.ErrDeadlineExceeded, "the blocked receive ends at its timeout")
	assert.Equal(t, -1, c.FD())
	// TestMain checks that the descriptor was closed once the receive
	// returned.
}

func TestZeroConn(t *testing.T) {
	var c Conn
	assert.NoError(t, c.Close())
	assert.ErrorIs(t, c.Send(Message{}), net.ErrClosed)
	assert.Equal(t, -1, c.FD())
}

func TestRequestKeepsOtherMessages(t *testing.T) {
	// A message from a peer waits in c's queue before the kernel's answer:
	// Request reads past it and keeps it for the next Receive (a
	// notification arriving during a request, claim C4 in the guest).
	c := dialRoute(t, nil)
	peer := dialRoute(t, nil)
	cPort, err := c.PID()
	require.NoError(t, err)
	peerPort, err := peer.PID()
	require.NoError(t, err)
	other := Message{Header: Header{Type: 0x42, Sequence: 4242}, Data: []byte("unasked")}
	require.NoError(t, peer.SendTo(other, cPort, 0))

	msgs, err := c.Request(getLink(Acknowledge, 1)) // lo
	require.NoError(t, err)
	require.NotEmpty(t, msgs)
	assert.Equal(t, Error, msgs[len(msgs)-1].Header.Type, "the answer ends with its ack")

	require.NoError(t, c.SetReceiveTimeout(time.Second))
	got, from, err := c.ReceiveFrom()
	require.NoError(t, err, "the peer's message was kept, not dropped")
	require.Len(t, got, 1)
	assert.Equal(t, peerPort, from)
	assert.Equal(t, "unasked", string(got[0].Data))
	assert.Equal(t, uint32(4242), got[0].Header.Sequence)
	_, err = c.Receive()
	assert.ErrorIs(t, err, unix.EAGAIN, "nothing else is queued")
}

func TestPendingIsBoundedAndClosed(t *testing.T) {
	c := dialRoute(t, nil)
	for i := 0; i <= maxPending; i++ {
		c.keep(datagram{msgs: []Message{{Header: Header{Sequence: uint32(i)}}}, from: 7})
	}
	_, _, err := c.ReceiveFrom()
	require.ErrorIs(t, err, ErrOverrun, "the dropped datagram is reported, not hidden")
	assert.Contains(t, err.Error(), "1 datagrams kept for Receive were dropped")
	msgs, from, err := c.ReceiveFrom()
	require.NoError(t, err)
	assert.Equal(t, uint32(1), msgs[0].Header.Sequence, "the oldest went")
	assert.Equal(t, uint32(7), from)
	require.NoError(t, c.Close())
	_, err = c.Receive()
	assert.ErrorIs(t, err, net.ErrClosed, "a closed Conn hands out nothing kept")
}

// Receive is safe for concurrent use: four readers share one socket, and
// datagrams of two sizes, small and large, arrive; none may be lost or cut
// (before: the size peek and the read were two calls another reader could
// come between, and a large datagram was read into a small buffer).
func TestConcurrentReceive(t *testing.T) {
	a := dialRoute(t, nil)
	b := dialRoute(t, nil)
	bPort, err := b.PID()
	require.NoError(t, err)
	const total, readers, window = 4000, 4, 64
	small, large := make([]byte, 16), make([]byte, 3000)
	var got sync.WaitGroup
	var mu sync.Mutex
	received, bad := 0, []error{}
	done := make(chan struct{})
	for r := 0; r < readers; r++ {
		got.Add(1)
		go func() {
			defer got.Done()
			for {
				msgs, err := b.Receive()
				mu.Lock()
				switch {
				case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
				case err != nil:
					bad = append(bad, err)
				case len(msgs) != 1 || (len(msgs[0].Data) != len(small) && len(msgs[0].Data) != len(large)):
					bad = append(bad, errors.New("a datagram that was not sent"))
				default:
					received++
				}
				mu.Unlock()
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}
	require.NoError(t, b.SetReceiveTimeout(100*time.Millisecond))
	for i := 0; i < total; i++ {
		data := small
		if i%2 == 1 {
			data = large
		}
		// At most window datagrams in flight: the test is about readers
		// racing each other, not about a full receive queue.
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return i-received-len(bad) < window
		}, 10*time.Second, time.Millisecond)
		require.NoError(t, a.SendTo(Message{Header: Header{Type: 0x42}, Data: data}, bPort, 0))
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return received+len(bad) >= total
	}, 10*time.Second, 10*time.Millisecond)
	close(done)
	got.Wait()
	assert.Empty(t, bad)
	assert.Equal(t, total, received)
}

// A timeout is a timeout to os.IsTimeout too (net.Error's Timeout()).
func TestTimeoutIsOSTimeout(t *testing.T) {
	c := dialRoute(t, nil)
	require.NoError(t, c.SetReceiveTimeout(20*time.Millisecond))
	_, err := c.Receive()
	require.Error(t, err)
	assert.True(t, os.IsTimeout(err), "os.IsTimeout(%v)", err)
	var ne net.Error
	assert.True(t, errors.As(err, &ne) && ne.Timeout(), "a net.Error with Timeout()")
}

// A request to the kernel takes its answer from the kernel only: a peer's
// forged acknowledgement with the right sequence number, queued before the
// kernel's real answer, is kept for Receive, not taken as the ack (before:
// Request returned success, and the real error came with the next
// Receive).
func TestRequestIgnoresForgedAck(t *testing.T) {
	c := dialRoute(t, nil)
	peer := dialRoute(t, nil)
	cPort, err := c.PID()
	require.NoError(t, err)
	peerPort, err := peer.PID()
	require.NoError(t, err)
	const seq = 4242
	forged := Message{Header: Header{Type: Error, Sequence: seq, PID: cPort}, Data: make([]byte, 4+16)}
	require.NoError(t, peer.SendTo(forged, cPort, 0))
	// Interface 0x7fffffff does not exist: the kernel answers ENODEV.
	_, err = c.Request(Message{Header: Header{Type: rtmGetLink, Flags: Request | Acknowledge, Sequence: seq}, Data: getLink(0, 0x7fffffff).Data})
	require.ErrorIs(t, err, unix.ENODEV, "the kernel's answer, not the peer's forged ack")
	msgs, from, err := c.ReceiveFrom()
	require.NoError(t, err, "the forged datagram is kept for Receive")
	assert.Equal(t, peerPort, from)
	require.Len(t, msgs, 1)
	assert.Equal(t, Error, msgs[0].Header.Type)
}

// The receive timeout bounds a whole Request: a stream of unrelated
// datagrams, each within the timeout of the last, does not keep it
// waiting (before: every datagram restarted SO_RCVTIMEO).
func TestRequestTimeoutDespiteOtherTraffic(t *testing.T) {
	c := dialRoute(t, nil)
	peer := dialRoute(t, nil)
	cPort, err := c.PID()
	require.NoError(t, err)
	require.NoError(t, c.SetReceiveTimeout(200*time.Millisecond))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := uint32(1); ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_ = peer.SendTo(Message{Header: Header{Type: 0x42, Sequence: 1000 + i}}, cPort, 0)
		}
	}()
	// Without NLM_F_REQUEST the kernel answers nothing.
	start := time.Now()
	_, err = c.Request(Message{Header: Header{Type: rtmGetLink}, Data: make([]byte, ifinfomsgSz)})
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.True(t, os.IsTimeout(err), "a timeout: %v", err)
	assert.Less(t, elapsed, 2*time.Second, "bounded by the 200 ms timeout, not restarted by each datagram")
}

// An error comes with the kernel's words for it (NETLINK_EXT_ACK): with
// strict checking, rtnetlink refuses a get-link request whose header has
// stray values, and says so (rtnl_valid_getlink_req).
func TestExtendedAck(t *testing.T) {
	c := dialRoute(t, nil)
	require.NoError(t, c.SetOption(unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1))
	req := getLink(Acknowledge, 1)
	req.Data[1] = 1 // __ifi_pad
	_, err := c.Request(req)
	require.ErrorIs(t, err, unix.EINVAL)
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	require.NotNil(t, oe.ExtAck, "no extended ack with %v", err)
	assert.Contains(t, oe.ExtAck.Message, "Invalid values in header")
	assert.Contains(t, err.Error(), oe.ExtAck.Message, "the message is in the error's text")
}

// ReceiveGroup names the multicast group a datagram came to
// (NETLINK_PKTINFO), 0 for one sent to the port.
func TestReceiveGroup(t *testing.T) {
	a := dialRoute(t, nil)
	b := dialRoute(t, nil)
	bPort, err := b.PID()
	require.NoError(t, err)
	const group = 5
	require.NoError(t, b.JoinGroup(group))
	require.NoError(t, a.SendTo(Message{Header: Header{Type: 0x42}, Data: []byte("to the group")}, 0, 1<<(group-1)))
	msgs, _, g, err := b.ReceiveGroup()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, uint32(group), g, "the group it was sent to")
	require.NoError(t, a.SendTo(Message{Header: Header{Type: 0x42}, Data: []byte("to the port")}, bPort, 0))
	_, _, g, err = b.ReceiveGroup()
	require.NoError(t, err)
	assert.Zero(t, g, "sent to the port")
}

// The receive timeout bounds a whole Receive, however many signals
// interrupt it (before: each EINTR restarted SO_RCVTIMEO, so a thread
// signalled more often than its timeout waited forever).
func TestReceiveTimeoutDespiteSignals(t *testing.T) {
	c := dialRoute(t, nil)
	require.NoError(t, c.SetReceiveTimeout(300*time.Millisecond))
	signals, err := whileSignalled(t, c, func() error {
		_, err := c.Receive()
		return err
	})
	require.Error(t, err)
	assert.True(t, os.IsTimeout(err), "a timeout: %v", err)
	assert.Greater(t, signals, 2, "the receive was interrupted")
}

// whileSignalled runs op, which should time out within 300 ms, on a
// thread of its own, and sends that thread SIGURG every 50 ms until op
// returns; it fails the test (closing c) if op is still running after 5 s.
// SIGURG is the Go runtime's own preemption signal: handled (SA_RESTART)
// and otherwise ignored.
func whileSignalled(t *testing.T, c *Conn, op func() error) (signals int, err error) {
	t.Helper()
	tid := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		done <- op()
	}()
	id := <-tid
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(5 * time.Second)
	for {
		select {
		case err := <-done:
			return signals, err
		case <-tick.C:
			require.NoError(t, unix.Tgkill(unix.Getpid(), id, unix.SIGURG))
			signals++
		case <-giveUp:
			c.Close()
			t.Fatalf("an operation with a 300 ms timeout still waiting after 5 s and %d signals", signals)
		}
	}
}

// fillPeer returns a port whose receive buffer c's sends fill: a send to
// it blocks until the send timeout. It fills it with non-blocking sends of
// its own, so as not to depend on the send timeout under test.
func fillPeer(t *testing.T, c *Conn) uint32 {
	t.Helper()
	peer := dialRoute(t, nil)
	require.NoError(t, peer.SetReceiveBuffer(1))
	port, err := peer.PID()
	require.NoError(t, err)
	b, err := Message{Header: Header{Type: 0x42}, Data: make([]byte, 1024)}.MarshalBinary()
	require.NoError(t, err)
	to := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: port}
	for i := 0; ; i++ {
		require.Less(t, i, 1000, "1000 sends of 1 KiB did not fill a receive buffer of the least size")
		err := unix.Sendmsg(c.FD(), b, nil, to, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			return port
		}
		require.NoError(t, err, "filling the peer")
	}
}

// SetSendTimeout bounds a send to a full receiver (before: no way to,
// and a send to a peer that stopped reading blocked for ever).
func TestSendTimeout(t *testing.T) {
	c := dialRoute(t, nil)
	port := fillPeer(t, c)
	require.NoError(t, c.SetSendTimeout(300*time.Millisecond))
	signals, err := whileSignalled(t, c, func() error {
		return c.SendTo(Message{Header: Header{Type: 0x42}}, port, 0)
	})
	require.Error(t, err)
	assert.Greater(t, signals, 2, "the send was interrupted")
	assert.True(t, os.IsTimeout(err), "a timeout: %v", err)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "send", oe.Op)
	require.NoError(t, c.SetSendTimeout(0))
	require.Error(t, c.SetSendTimeout(-time.Second), "a negative timeout")
}

// dialRouteNetns opens n NETLINK_ROUTE sockets, closed when the test ends,
// in a network namespace of their own (they keep it: the thread that made
// them ends there). It needs CAP_SYS_ADMIN: as root on the host, and always
// in the guest.
func dialRouteNetns(t *testing.T, n int) []*Conn {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv("CI") == "" {
		t.Skip("needs root, for a network namespace of its own")
	}
	var conns []*Conn
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends in the namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- os.NewSyscallError("unshare(CLONE_NEWNET)", err)
			return
		}
		for range n {
			c, err := Dial(unix.NETLINK_ROUTE, nil)
			if err != nil {
				errc <- err
				return
			}
			conns = append(conns, c)
		}
		errc <- nil
	}()
	err := <-errc
	for _, c := range conns {
		t.Cleanup(func() { assert.NoError(t, c.Close()) })
		require.NoError(t, c.SetReceiveTimeout(5*time.Second))
	}
	require.NoError(t, err)
	return conns
}

// newAddr returns an RTM_NEWADDR (del: RTM_DELADDR) request for 10.a.b.c/32
// on interface 1, lo.
func newAddr(ip [4]byte, del bool) Message {
	typ := HeaderType(unix.RTM_NEWADDR)
	flags := Request | Acknowledge | Create | Excl
	if del {
		typ, flags = unix.RTM_DELADDR, Request|Acknowledge
	}
	b := make([]byte, unix.SizeofIfAddrmsg+2*8)
	b[0], b[1] = unix.AF_INET, 32 // ifa_family, ifa_prefixlen
	binary.NativeEndian.PutUint32(b[4:8], 1)
	for i, attr := range []uint16{unix.IFA_LOCAL, unix.IFA_ADDRESS} {
		a := b[unix.SizeofIfAddrmsg+8*i:]
		binary.NativeEndian.PutUint16(a[0:2], 8)
		binary.NativeEndian.PutUint16(a[2:4], attr)
		copy(a[4:8], ip[:])
	}
	return Message{Header: Header{Type: typ, Flags: flags}, Data: b}
}

// A dump whose data changes while it runs comes with NLM_F_DUMP_INTR,
// and Request says so with ErrDumpInterrupted, after reading the whole
// answer (before: it returned the inconsistent dump as a success).
// rtnetlink's address dump checks its consistency (inet_dump_ifaddr,
// nl_dump_check_consistent); another socket adds and removes an address
// while the dump runs, over 2000 addresses, several datagrams.
func TestRequestDumpInterrupted(t *testing.T) {
	conns := dialRouteNetns(t, 2)
	dumper, changer := conns[0], conns[1]
	for i := 0; i < 2000; i++ {
		_, err := changer.Request(newAddr([4]byte{10, 1, byte(i >> 8), byte(i)}, false))
		require.NoError(t, err, "adding address %d", i)
	}
	getAddr := Message{Header: Header{Type: unix.RTM_GETADDR, Flags: Request | Dump}, Data: []byte{unix.AF_INET, 0, 0, 0, 0, 0, 0, 0}}
	msgs, err := dumper.Request(getAddr)
	require.NoError(t, err, "a dump while nothing changes")
	require.Greater(t, len(msgs), 2000, "every address, then Done")

	stop := make(chan struct{})
	changed := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				changed <- nil
				return
			default:
			}
			if _, err := changer.Request(newAddr([4]byte{10, 2, 0, 1}, i%2 == 1)); err != nil {
				changed <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		require.NoError(t, <-changed, "changing an address during the dumps")
	}()
	for try := 1; try <= 200; try++ {
		msgs, err := dumper.Request(getAddr)
		if err == nil {
			continue // the change fell between two dumps
		}
		require.ErrorIs(t, err, ErrDumpInterrupted, "dump %d", try)
		require.NotEmpty(t, msgs, "the answer is returned with the error")
		assert.Equal(t, Done, msgs[len(msgs)-1].Header.Type, "read to its end, NLMSG_DONE")
		t.Logf("dump %d interrupted, %d messages", try, len(msgs))
		return
	}
	t.Fatal("200 dumps while an address came and went, and not one reported as interrupted")
}

// BenchmarkRequestAck is a request and its acknowledgement (NLMSG_NOOP
// with NLM_F_ACK to rtnetlink), without a receive timeout (blocking
// recvmsg) and with one (poll to the deadline, then a non-blocking read):
// what the whole-operation deadline costs per request.
func BenchmarkRequestAck(b *testing.B) {
	for _, timeout := range []time.Duration{0, 5 * time.Second} {
		b.Run(fmt.Sprintf("timeout=%v", timeout), func(b *testing.B) {
			c, err := Dial(unix.NETLINK_ROUTE, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.SetReceiveTimeout(timeout); err != nil {
				b.Fatal(err)
			}
			m := Message{Header: Header{Type: Noop, Flags: Request | Acknowledge}}
			for b.Loop() {
				m.Header.Sequence = 0
				if _, err := c.Request(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A peer's datagram that does not parse, read by a Request, is kept for
// Receive as it came: it neither fails the Request nor vanishes (before:
// the Request failed with the parse error, and the kernel's ack came with
// the next Receive).
func TestRequestKeepsPeersOddDatagrams(t *testing.T) {
	c := dialRoute(t, nil)
	peer := dialRoute(t, nil)
	cPort, err := c.PID()
	require.NoError(t, err)
	peerPort, err := peer.PID()
	require.NoError(t, err)
	require.NoError(t, peer.SendRaw([]byte{1, 2, 3, 4, 5}, cPort))

	msgs, err := c.Request(Message{Header: Header{Type: Noop, Flags: Request | Acknowledge}})
	require.NoError(t, err, "the kernel's ack, past the peer's datagrams")
	require.Len(t, msgs, 1)
	assert.Equal(t, Error, msgs[0].Header.Type)

	_, from, err := c.ReceiveFrom()
	assert.ErrorContains(t, err, "shorter than", "the datagram that does not parse, kept")
	assert.Equal(t, peerPort, from)
}

// Receive returns the messages before an error in a datagram with the
// error, and those after it with the next Receive (before: dropped).
func TestReceiveKeepsMessagesAfterError(t *testing.T) {
	c := dialRoute(t, nil)
	peer := dialRoute(t, nil)
	cPort, err := c.PID()
	require.NoError(t, err)
	var b []byte
	for _, m := range []Message{
		{Header: Header{Type: 0x41}, Data: []byte("before")},
		{Header: Header{Type: Error}, Data: binary.NativeEndian.AppendUint32(nil, uint32(0xffffffea))}, // -EINVAL
		{Header: Header{Type: 0x42}, Data: []byte("after")},
	} {
		mb, err := m.MarshalBinary()
		require.NoError(t, err)
		b = append(b, mb...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	require.NoError(t, peer.SendRaw(b, cPort))
	msgs, err := c.Receive()
	require.ErrorIs(t, err, unix.EINVAL)
	require.Len(t, msgs, 1)
	assert.Equal(t, "before", string(msgs[0].Data))
	msgs, err = c.Receive()
	require.NoError(t, err, "the message after the error")
	require.Len(t, msgs, 1)
	assert.Equal(t, "after", string(msgs[0].Data))
}

// A send that a signal interrupted near the end of its timeout does not
// shorten the timeout of a send that starts meanwhile (before: the second
// send inherited the first's shortened SO_SNDTIMEO and timed out after a
// fraction of its own timeout).
func TestSendTimeoutNotShortenedByAnotherSend(t *testing.T) {
	c := dialRoute(t, nil)
	port := fillPeer(t, c)
	const timeout = time.Second
	require.NoError(t, c.SetSendTimeout(timeout))
	m := Message{Header: Header{Type: 0x42}}
	tid := make(chan int, 1)
	first := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		first <- c.SendTo(m, port, 0)
	}()
	id := <-tid
	time.Sleep(800 * time.Millisecond) // the first send has 200 ms left
	require.NoError(t, unix.Tgkill(unix.Getpid(), id, unix.SIGURG))
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	err := c.SendTo(m, port, 0)
	took := time.Since(start)
	assert.True(t, os.IsTimeout(err), "the second send times out: %v", err)
	assert.GreaterOrEqual(t, took, 9*timeout/10, "the second send waited its own timeout")
	assert.True(t, os.IsTimeout(<-first), "the first send times out")
}

// A dump that fails says why in its NLMSG_DONE, whose extended ack
// follows the error code at once (netlink_dump_done: no request header
// there, unlike NLMSG_ERROR). With strict checking, rtnetlink refuses an
// address dump whose header has a prefix length (before: ExtAck nil).
func TestExtendedAckOfDump(t *testing.T) {
	c := dialRoute(t, nil)
	require.NoError(t, c.SetOption(unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1))
	req := Message{Header: Header{Type: unix.RTM_GETADDR, Flags: Request | Dump}, Data: []byte{unix.AF_INET, 1, 0, 0, 0, 0, 0, 0}}
	_, err := c.Request(req)
	require.ErrorIs(t, err, unix.EINVAL)
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	require.NotNil(t, oe.ExtAck, "no extended ack with %v", err)
	assert.Contains(t, oe.ExtAck.Message, "Invalid values in header for address dump request")
}

// A queued datagram is read whatever the timeout, even one that ran out
// before the socket was looked at (before: a 1 ms timeout on a loaded
// guest reported a timeout with the reply queued, TestClaimC3 in CI).
func TestQueuedDatagramBeatsTimeout(t *testing.T) {
	c := dialRoute(t, nil)
	require.NoError(t, c.Send(Message{Header: Header{Type: Noop, Flags: Request | Acknowledge}}))
	time.Sleep(10 * time.Millisecond) // the kernel answers within sendmsg; this is slack only
	assert.NoError(t, pollIn(c.FD(), time.Now().Add(-time.Second)), "a deadline long past, a datagram queued")
	require.NoError(t, c.SetReceiveTimeout(time.Microsecond))
	msgs, err := c.Receive()
	require.NoError(t, err, "the queued ack, with a 1 µs timeout")
	require.Len(t, msgs, 1)
	_, err = c.Receive()
	assert.True(t, os.IsTimeout(err), "nothing queued: a timeout (%v)", err)
}
