//go:build netlguest

package guest

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/userspace/netlink"
)

// Port 0 in every place it can appear: the header's nlmsg_pid, the bind
// address, and a header naming another live socket. The module answers the
// true sender every time and the guest stays healthy.
func TestPortZeroHazards(t *testing.T) {
	beginParallel(t)
	t.Run("nlmsg_pid 0", func(t *testing.T) {
		c := dial(t, &netlink.Config{PID: 0x400900})
		replies, err := c.Echo(netlink.EchoRequest{Count: 2, Data: []byte("pid zero")}) // Echo leaves PID 0
		require.NoError(t, err)
		require.Len(t, replies, 2)
		assertHealthy(t)
	})
	t.Run("bind nl_pid 0", func(t *testing.T) {
		c := dial(t, &netlink.Config{PID: 0})
		port, err := c.PID()
		require.NoError(t, err)
		require.NotZero(t, port, "the kernel assigned a port")
		// The first autobound socket of a process gets its tgid when that
		// port is free; later ones get negative (high-bit) ids.
		t.Logf("autobind assigned port %d (%#x) to process %d", port, port, os.Getpid())
		require.NoError(t, c.Send(netlink.SeedRequest(0, "Hello you!")))
		_, from, err := c.ReceiveFrom()
		require.NoError(t, err)
		require.Zero(t, from)
	})
	t.Run("spoofed nlmsg_pid", func(t *testing.T) {
		liar := dial(t, &netlink.Config{PID: 0x400910})
		victim := dial(t, &netlink.Config{PID: 0x400911})
		m := netlink.SeedRequest(0x400911, "Hello you!") // fixed ports above pid_max: see portC7
		require.NoError(t, liar.Send(m))
		_, err := liar.Receive()
		require.NoError(t, err, "the true sender gets the reply")
		// The reply was sent inside the liar's sendmsg (C3): one to
		// the spoofed port would be queued by now.
		assertNothing(t, victim, 20*time.Millisecond, "the spoofed port")
		assertHealthy(t)
	})
}

// A reader that does not read, a flood of replies: the overrun is reported
// to the reader and counted by the module, not swallowed. In a namespace of
// its own, whose tx_drops no other test moves.
func TestReceiveBufferOverrun(t *testing.T) {
	beginParallel(t)
	conns, _ := dialInNewNetns(t, &netlink.Config{}, &netlink.Config{})
	c, counter := conns[0], conns[1]
	require.NoError(t, c.SetReceiveBuffer(4096)) // the kernel doubles it and keeps a floor
	before := statsOf(t, counter)
	// Each reply carries 1 KiB: 100 of them cannot fit.
	_, err := c.Request(netlink.Message{
		Header: netlink.Header{Type: netlink.TypeEcho, Flags: netlink.Request},
		Data:   mustMarshal(t, netlink.EchoRequest{Count: 100, IntervalMS: 0, Data: make([]byte, 1024)}),
	})
	// Whatever Request read first, the overrun must surface on this socket.
	for i := 0; err == nil && i < 200; i++ {
		_, err = c.Receive()
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, netlink.ErrOverrun)
	assert.ErrorIs(t, err, unix.ENOBUFS)
	after := statsOf(t, counter)
	assert.Greater(t, after.TxDrops, before.TxDrops, "the module counted the replies it could not queue")
}

// Sockets hold a reference on the module: rmmod fails while one is open and
// succeeds once they close; a reloaded module answers again.
func TestUnloadWithOpenSockets(t *testing.T) {
	begin(t)
	reloadModule(t, "")
	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{})
	require.NoError(t, err)
	err = unloadModule(t)
	assert.Error(t, err, "rmmod with a socket open")
	assert.True(t, errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EBUSY), "rmmod error %v", err)
	require.True(t, moduleLoaded(t))
	require.NoError(t, c.Close())
	require.NoError(t, unloadModule(t), "rmmod once the socket closed")
	require.NoError(t, loadModule(t, ""))
	assertHealthy(t)
}

// Every malformed shape, then random bytes: error acks where a header is
// readable, never a crash, and the module answers afterwards. In a network
// namespace of its own, whose counters no other test moves.
func TestMalformedInput(t *testing.T) {
	beginParallel(t)
	conns, _ := dialInNewNetns(t, &netlink.Config{}, &netlink.Config{}, &netlink.Config{})
	c, drain, counter := conns[0], conns[1], conns[2]
	// Error acks are queued inside sendmsg: a short wait tells "no
	// answer" apart.
	require.NoError(t, c.SetReceiveTimeout(20*time.Millisecond))
	hdr := func(length uint32, typ netlink.HeaderType, flags netlink.HeaderFlags, payload []byte) []byte {
		b, err := netlink.Message{Header: netlink.Header{Length: 16 + uint32(len(payload)), Type: typ, Flags: flags, Sequence: 77}, Data: payload}.MarshalBinary()
		require.NoError(t, err)
		binaryPutLength(b, length)
		return b
	}
	req := netlink.Request | netlink.Acknowledge
	// What the module says of an error besides its code, for the shapes
	// whose words are checked.
	inWords := map[string]string{"echo count over 100": "netl: echo count above 100"}
	// Each shape has one outcome on every pinned kernel: the error ack's
	// errno, or (EAGAIN) no answer at all; and the module counts as
	// malformed a bad length, a payload too short for its type and an
	// unknown type, and nothing else.
	for _, tc := range []struct {
		name      string
		bytes     []byte
		errno     unix.Errno // unix.EAGAIN: no answer
		malformed bool
	}{
		{"short header", []byte{1, 2, 3, 4, 5, 6, 7}, unix.EAGAIN, true},              // no header to answer
		{"nlmsg_len under 16", hdr(8, netlink.TypeEcho, req, nil), unix.EINVAL, true}, // the header is readable
		{"nlmsg_len past the buffer", hdr(4096, netlink.TypeEcho, req, []byte("x")), unix.EINVAL, true},
		{"malformed, no request flag", hdr(8, netlink.TypeEcho, netlink.Acknowledge, nil), unix.EAGAIN, true},
		{"echo payload too short", hdr(16+4, netlink.TypeEcho, req, []byte{1, 0, 0, 0}), unix.EINVAL, true},
		{"broadcast payload too short", hdr(16+2, netlink.TypeBroadcast, req, []byte{1, 0}), unix.EINVAL, true},
		{"broadcast reserved field not 0", hdr(16+8, netlink.TypeBroadcast, req, []byte{1, 0, 0, 0, 1, 0, 0, 0}), unix.EINVAL, false},
		{"notify payload too short", hdr(16+4, netlink.TypeNotify, req, []byte{0, 0, 0, 0}), unix.EINVAL, true},
		{"dump without NLM_F_DUMP", hdr(16+4, netlink.TypeDump, req, []byte{1, 0, 0, 0}), unix.EINVAL, false},
		{"echo count over 100", hdr(16+8, netlink.TypeEcho, req, []byte{101, 0, 0, 0, 0, 0, 0, 0}), unix.EINVAL, false},
		{"unknown type", hdr(16, netlink.MinType+0x30, req, nil), unix.EOPNOTSUPP, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := statsOf(t, counter).RxMalformed
			require.NoError(t, c.SendRaw(tc.bytes, 0))
			_, err := c.Receive()
			require.ErrorIs(t, err, tc.errno)
			if want, ok := inWords[tc.name]; ok {
				// The module's NL_SET_ERR_MSG_MOD, through NETLINK_EXT_ACK.
				var oe *netlink.OpError
				require.ErrorAs(t, err, &oe)
				require.NotNil(t, oe.ExtAck, "no extended ack: %v", err)
				assert.Equal(t, want, oe.ExtAck.Message)
			}
			want := before
			if tc.malformed {
				want++
			}
			assert.Equal(t, want, statsOf(t, counter).RxMalformed, "malformed counter")
		})
	}
	// An empty datagram: every pinned kernel refuses it in
	// netlink_sendmsg() before any module sees it ("Zero length message
	// leads to an empty skb").
	require.ErrorIs(t, c.SendRaw(nil, 0), unix.ENODATA, "an empty datagram")
	// A bounded random-bytes loop with a fixed seed, so a failure replays.
	rng := rand.New(rand.NewSource(25))
	buf := make([]byte, 1<<16)
	beforeRandom := statsOf(t, counter).RxMalformed
	for i := 0; i < 2000; i++ {
		b := make([]byte, 1+rng.Intn(96))
		rng.Read(b)
		if len(b) >= 16 && rng.Intn(2) == 0 {
			binaryPutLength(b, uint32(rng.Intn(len(b)+1)))
		}
		require.NoError(t, drain.SendRaw(b, 0), "random message %d", i)
		// The answers are queued inside sendmsg: read what is there.
		for {
			if _, _, err := unix.Recvfrom(drain.FD(), buf, unix.MSG_DONTWAIT); err != nil {
				break
			}
		}
	}
	assert.Greater(t, statsOf(t, counter).RxMalformed, beforeRandom, "malformed random messages counted")
	replies, err := counter.Echo(netlink.EchoRequest{Count: 1, Data: []byte("ping")})
	require.NoError(t, err, "the module answers an echo in the namespace")
	require.Len(t, replies, 1)
	assertHealthy(t)
}

// Privileged operations need CAP_NET_ADMIN: an unprivileged netlctl gets
// EPERM for a broadcast and for a notification to another port.
func TestPrivilegedOperations(t *testing.T) {
	beginParallel(t)
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	for _, args := range [][]string{
		{"broadcast", "-group", "1", "hello"},
		{"notify", "-port", "1", "-delay", "1", "hello"},
	} {
		cmd := exec.Command("netlctl", args...)
		cmd.SysProcAttr = nobody
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "netlctl %s as nobody:\n%s", strings.Join(args, " "), out)
		assert.Contains(t, strings.ToLower(string(out)), "operation not permitted", "netlctl %s as nobody", strings.Join(args, " "))
	}
	// Root may do both.
	c := dial(t, &netlink.Config{})
	require.NoError(t, c.Broadcast(1, []byte("root may")))
	require.NoError(t, c.Notify(netlink.NotifyRequest{PortID: 1, DelayMS: 0, Data: []byte("root may")}))
}

// stats reads the initial namespace's counters through a socket of its own.
func stats(t *testing.T) netlink.Stats {
	t.Helper()
	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReceiveTimeout(5*time.Second))
	return statsOf(t, c)
}

// statsOf reads the counters of c's namespace.
func statsOf(t *testing.T, c *netlink.Conn) netlink.Stats {
	t.Helper()
	st, err := c.Stats()
	require.NoError(t, err)
	return st
}

// assertNothing checks that nothing arrives on c within d, and leaves c
// with the 5 s timeout dial gave it.
func assertNothing(t *testing.T, c *netlink.Conn, d time.Duration, format string, args ...any) {
	t.Helper()
	require.NoError(t, c.SetReceiveTimeout(d))
	msgs, err := c.Receive()
	assert.ErrorIs(t, err, unix.EAGAIN, "%s: got %v", fmt.Sprintf(format, args...), msgs)
	require.NoError(t, c.SetReceiveTimeout(5*time.Second))
}

func mustMarshal(t *testing.T, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	require.NoError(t, err)
	return b
}

// binaryPutLength overwrites nlmsg_len, the first field of the header.
func binaryPutLength(b []byte, n uint32) {
	if len(b) >= 4 {
		copy(b, le32(n))
	}
}

// A broadcast fails with ENOBUFS only when a member that set
// NETLINK_BROADCAST_ERROR could not take it (its queue is full); a full
// member without the option is its own loss, and the sender hears nothing.
func TestBroadcastErrorFromFullMember(t *testing.T) {
	beginParallel(t)
	conns, _ := dialInNewNetns(t, &netlink.Config{}, &netlink.Config{}, &netlink.Config{}, &netlink.Config{})
	sender, quiet, strict, counter := conns[0], conns[1], conns[2], conns[3]
	const group, sends = 9, 50
	data := make([]byte, 512)
	require.NoError(t, quiet.JoinGroup(group))
	require.NoError(t, quiet.SetReceiveBuffer(1)) // the kernel's minimum
	for i := 0; i < sends; i++ {
		require.NoError(t, sender.Broadcast(group, data), "broadcast %d with a full member that did not ask for errors", i)
	}

	require.NoError(t, strict.SetOption(unix.SOL_NETLINK, unix.NETLINK_BROADCAST_ERROR, 1))
	require.NoError(t, strict.SetReceiveBuffer(1))
	require.NoError(t, strict.JoinGroup(group))
	drops := statsOf(t, counter).TxDrops
	var err error
	n := 0
	for ; n < sends && err == nil; n++ {
		err = sender.Broadcast(group, data)
	}
	require.ErrorIs(t, err, unix.ENOBUFS, "no broadcast failed in %d with a full member that set NETLINK_BROADCAST_ERROR", sends)
	assert.Greater(t, n, 1, "the first broadcast found the strict member's queue empty")
	assert.Equal(t, drops+1, statsOf(t, counter).TxDrops, "tx_drops counts the broadcast not delivered to every member")
}
