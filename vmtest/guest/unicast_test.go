//go:build netlguest

package guest

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/userspace/netlink"
)

func dial(t *testing.T, cfg *netlink.Config) *netlink.Conn {
	t.Helper()
	c, err := netlink.Dial(netlink.ProtocolTest, cfg)
	require.NoError(t, err, "dial protocol %d with %+v", netlink.ProtocolTest, cfg)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetReceiveTimeout(5*time.Second))
	return c
}

// dialFreedPort binds a port whose socket the test has just closed. A
// child that a parallel test forks holds a copy of every socket of the
// process until its exec closes it (close-on-exec), and the port is bound
// until then: a bind that finds it still in use tries again for a while.
func dialFreedPort(t *testing.T, port uint32) *netlink.Conn {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{PID: port})
		if err == nil {
			t.Cleanup(func() { c.Close() })
			require.NoError(t, c.SetReceiveTimeout(5*time.Second))
			return c
		}
		if !errors.Is(err, unix.EADDRINUSE) || time.Now().After(deadline) {
			require.NoError(t, err, "bind port %#x after its socket closed", port)
		}
		time.Sleep(time.Millisecond)
	}
}

// The seed's exchange as its user program does it: bind port 100, send
// "Hello you!" in a NLMSG_SPACE(1024) message to port 0, read "I am from
// kernel!" back, from the kernel (port 0), in a 1024-byte payload.
func TestSeedUnicast(t *testing.T) {
	begin(t) // port 100, the seed's, may be a child process's pid
	for _, tc := range []struct {
		name string
		typ  int
	}{{"raw", unix.SOCK_RAW}, {"dgram", unix.SOCK_DGRAM}} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, &netlink.Config{SocketType: tc.typ, PID: 100})
			require.NoError(t, c.Send(netlink.SeedRequest(100, "Hello you!")))
			msgs, from, err := c.ReceiveFrom()
			require.NoError(t, err)
			require.Len(t, msgs, 1, "replies in one datagram")
			m := msgs[0]
			assert.Equal(t, uint32(0), from, "sender port (the kernel)")
			assert.Equal(t, netlink.TypeSeed, m.Header.Type)
			assert.Equal(t, netlink.SeedPayloadLen, len(m.Data), "payload length")
			assert.Equal(t, netlink.SeedReply, netlink.CString(m.Data))
		})
	}
}

// With reply_count=3 every reply is queued, in order, and no fourth comes.
func TestSeedReplyCount(t *testing.T) {
	begin(t)
	setParam(t, "reply_count", "3")
	c := dial(t, &netlink.Config{PID: 0})
	pid, err := c.PID()
	require.NoError(t, err)
	require.NotZero(t, pid, "kernel-assigned port")
	require.NoError(t, c.Send(netlink.SeedRequest(pid, "Hello you!")))
	for i := 0; i < 3; i++ {
		msgs, err := c.Receive()
		require.NoError(t, err, "reply %d of 3", i+1)
		require.Len(t, msgs, 1)
		assert.Equal(t, netlink.SeedReply, netlink.CString(msgs[0].Data))
	}
	// Every reply is sent inside the sendmsg (C3): a fourth would be
	// queued by now.
	assertNothing(t, c, 20*time.Millisecond, "a fourth reply")
}

// C7: a second bind of the same port on one protocol fails with EADDRINUSE,
// SO_REUSEADDR or not; the port is free again once the first socket closes.
func TestBindConflict(t *testing.T) {
	beginParallel(t)
	const port = 0x400424 // above pid_max: see portC7
	first, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{PID: port})
	require.NoError(t, err)

	_, err = netlink.Dial(netlink.ProtocolTest, &netlink.Config{PID: port})
	assert.ErrorIs(t, err, unix.EADDRINUSE, "second bind to port %#x", port)

	// SO_REUSEADDR does not change that: set it before bind on a raw socket.
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, netlink.ProtocolTest)
	require.NoError(t, err)
	defer unix.Close(fd)
	require.NoError(t, unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
	err = unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: port})
	assert.ErrorIs(t, err, unix.EADDRINUSE, "bind with SO_REUSEADDR")

	require.NoError(t, first.Close())
	dialFreedPort(t, port) // the port is free again once the socket is gone
}

// netlctl, the CLI in the initramfs, does the seed's exchange from the shell.
func TestNetlctlSeed(t *testing.T) {
	beginParallel(t)
	out, err := exec.Command("netlctl", "seed", "-port", "4194406", "-timeout", "5s", "Hello you!").CombinedOutput()
	require.NoError(t, err, "netlctl seed:\n%s", out)
	assert.Equal(t, "Received message: I am from kernel!", strings.TrimSpace(string(out)))
}
