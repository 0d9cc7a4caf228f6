//go:build netlguest

package guest

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/userspace/netlink"
)

// dialInNewNetns opens one socket per cfg in a new network namespace and
// returns them with the namespace's inode number. The namespace lives as
// long as one of its sockets is open: the thread that made it goes back to
// its own namespace before it is unlocked. (Leaving it locked to die with
// its goroutine is not enough: on the process's main thread Go keeps the
// thread, and with it the namespace.)
func dialInNewNetns(t *testing.T, cfgs ...*netlink.Config) ([]*netlink.Conn, uint64) {
	t.Helper()
	type result struct {
		conns []*netlink.Conn
		inum  uint64
		err   error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var r result
		defer func() { done <- r }()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			r.err = fmt.Errorf("opening this thread's network namespace: %w", err)
			return
		}
		defer unix.Close(home)
		defer func() {
			// Back home, or the thread stays locked and Go
			// discards it (or, on the main thread, keeps it).
			if err := unix.Setns(home, unix.CLONE_NEWNET); err != nil {
				if r.err == nil {
					r.err = fmt.Errorf("setns back to the thread's namespace: %w", err)
				}
				return
			}
			runtime.UnlockOSThread()
		}()
		if r.err = unix.Unshare(unix.CLONE_NEWNET); r.err != nil {
			r.err = fmt.Errorf("unshare(CLONE_NEWNET): %w", r.err)
			return
		}
		var st unix.Stat_t
		if r.err = unix.Stat("/proc/thread-self/ns/net", &st); r.err != nil {
			return
		}
		r.inum = st.Ino
		for _, cfg := range cfgs {
			c, err := netlink.Dial(netlink.ProtocolTest, cfg)
			if err != nil {
				r.err = fmt.Errorf("dial protocol %d with %+v in the new namespace: %w", netlink.ProtocolTest, cfg, err)
				return
			}
			r.conns = append(r.conns, c)
		}
	}()
	r := <-done
	for _, c := range r.conns {
		c := c
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.SetReceiveTimeout(5*time.Second))
	}
	require.NoError(t, r.err)
	return r.conns, r.inum
}

// netl.ko serves every network namespace with a socket, groups, counters
// and notifications of its own. Before: it served the initial namespace
// only, and a socket in any other got ECONNREFUSED for every send.
func TestNetworkNamespaces(t *testing.T) {
	beginParallel(t)
	const port, other = 4400, 4401
	host := dial(t, &netlink.Config{PID: port})
	// The same port numbers as in the initial namespace: ports are per
	// namespace.
	conns, inum := dialInNewNetns(t, &netlink.Config{PID: port}, &netlink.Config{PID: other})
	ns, ns2 := conns[0], conns[1]
	t.Logf("network namespace %d", inum)

	t.Run("echo", func(t *testing.T) {
		replies, err := ns.Echo(netlink.EchoRequest{Count: 2, Data: []byte("in a namespace")})
		require.NoError(t, err)
		require.Len(t, replies, 2)
		assert.Equal(t, "in a namespace", string(replies[1].Data[netlink.EchoHeaderLen:]))
	})

	t.Run("stats per namespace", func(t *testing.T) {
		// Two namespaces, so that no test running in the initial one
		// moves the counters compared.
		others, _ := dialInNewNetns(t, &netlink.Config{})
		other := others[0]
		otherBefore, nsBefore := statsOf(t, other), statsOf(t, ns)
		_, err := ns.Echo(netlink.EchoRequest{Count: 3, Data: []byte("counted here")})
		require.NoError(t, err)
		nsAfter, otherAfter := statsOf(t, ns), statsOf(t, other)
		assert.Equal(t, nsBefore.RxMsgs+2, nsAfter.RxMsgs, "the namespace's rx_msgs: the echo and the second stats request")
		assert.Equal(t, nsBefore.TxMsgs+4, nsAfter.TxMsgs, "the namespace's tx_msgs: 3 echo replies and the first stats reply")
		assert.Equal(t, otherBefore.RxMsgs+1, otherAfter.RxMsgs, "another namespace's rx_msgs: its own second stats request only")
		assert.Equal(t, otherBefore.TxMsgs+1, otherAfter.TxMsgs, "another namespace's tx_msgs: its first stats reply only")

		// A dump counts in the namespace it was asked in, parts and all.
		parts, err := ns.Dump(3)
		require.NoError(t, err)
		require.Len(t, parts, 3)
		nsDumped, otherDumped := statsOf(t, ns), statsOf(t, other)
		assert.Equal(t, nsAfter.Dumps+1, nsDumped.Dumps, "the namespace's dumps")
		assert.Equal(t, nsAfter.TxMsgs+1+3, nsDumped.TxMsgs, "the namespace's tx_msgs: the stats reply and 3 dump parts")
		assert.Equal(t, otherAfter.Dumps, otherDumped.Dumps, "another namespace's dumps")
	})

	t.Run("broadcast stays in its namespace", func(t *testing.T) {
		const group = 5
		hostListener := dial(t, &netlink.Config{})
		require.NoError(t, hostListener.JoinGroup(group))
		require.NoError(t, ns2.JoinGroup(group))
		t.Cleanup(func() { ns2.LeaveGroup(group) })

		require.NoError(t, ns.Broadcast(group, []byte("namespace news")))
		msgs, err := ns2.Receive()
		require.NoError(t, err, "the member in the namespace")
		assert.Equal(t, "namespace news", string(msgs[0].Data))
		// netlink_broadcast() queues to every member inside the
		// sender's sendmsg: what the other member would get is there.
		assertNothing(t, hostListener, 20*time.Millisecond, "the member in the initial namespace, after the namespace's broadcast")

		require.NoError(t, host.Broadcast(group, []byte("host news")))
		msgs, err = hostListener.Receive()
		require.NoError(t, err, "the member in the initial namespace")
		assert.Equal(t, "host news", string(msgs[0].Data))
		assertNothing(t, ns2, 20*time.Millisecond, "the member in the namespace, after the initial namespace's broadcast")
	})

	t.Run("notify", func(t *testing.T) {
		require.NoError(t, ns.Notify(netlink.NotifyRequest{DelayMS: 50, Data: []byte("later, here")}))
		msgs, err := ns.Receive()
		require.NoError(t, err)
		assert.Equal(t, "later, here", string(msgs[0].Data))
		// To port 4400 of the namespace, not of the initial one.
		require.NoError(t, ns2.Notify(netlink.NotifyRequest{PortID: port, Data: []byte("to this namespace's 4400")}))
		msgs, err = ns.Receive()
		require.NoError(t, err)
		assert.Equal(t, "to this namespace's 4400", string(msgs[0].Data))
		// One notification, one unicast: it went to the namespace's 4400.
		assertNothing(t, host, 20*time.Millisecond, "port 4400 of the initial namespace, after the namespace's notification")
	})

	t.Run("dump", func(t *testing.T) {
		parts, err := ns.Dump(100)
		require.NoError(t, err)
		assert.Len(t, parts, 100)
	})

	t.Run("torn down with requests pending", func(t *testing.T) {
		conns, inum := dialInNewNetns(t, &netlink.Config{}, &netlink.Config{})
		notifier, dumper := conns[0], conns[1]
		// Pending until the namespace goes: no socket in it binds 4242.
		require.NoError(t, notifier.Notify(netlink.NotifyRequest{PortID: 4242, DelayMS: netlink.NotifyMaxDelayMS, Data: []byte("never")}))
		// A dump read only in part.
		require.NoError(t, dumper.Send(netlink.Message{
			Header: netlink.Header{Type: netlink.TypeDump, Flags: netlink.Request | netlink.Dump, Sequence: 1},
			Data:   mustMarshal(t, netlink.DumpRequest{Parts: netlink.DumpMaxParts}),
		}))
		_, err := dumper.Receive()
		require.NoError(t, err, "the dump's first datagram")
		log := followKmsg(t)
		require.NoError(t, notifier.Close())
		require.NoError(t, dumper.Close())
		// The namespace is freed from a workqueue (cleanup_net).
		rec := log.find(t, fmt.Sprintf("network namespace %d: 1 pending notifications cancelled", inum), 30*time.Second)
		t.Logf("the kernel logged %q", rec)
		assertHealthy(t)
	})
}

// Capabilities are those over the namespace: root of a user namespace
// that owns a network namespace may broadcast and notify another port
// there, as the kernel lets it send to a group there. Before: the module
// asked for CAP_NET_ADMIN in the initial user namespace.
func TestCapabilitiesOfTheNamespaceOwner(t *testing.T) {
	beginParallel(t)
	cmd := helperCmd(helperBinary(t), "nsadmin", netlink.ProtocolTest, 4242)
	// Root in the new user namespace is nobody outside it: the child
	// becomes uid 0 of the namespace (setuid after the maps are written),
	// so that exec leaves it the namespace's capabilities.
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 65534, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 65534, Size: 1}},
		Credential:  &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "root of a user namespace, in its network namespace:\n%s", out)
	t.Logf("%s", out)
}

// runNamespaceAdmin is the helper of TestCapabilitiesOfTheNamespaceOwner,
// run as root of a new user namespace in a network namespace it owns.
func runNamespaceAdmin(protocol, port int) int {
	c, err := netlink.Dial(protocol, &netlink.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	if err := c.SetReceiveTimeout(5 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	status := 0
	berr := c.Broadcast(1, []byte("from a container's root"))
	nerr := c.Notify(netlink.NotifyRequest{PortID: uint32(port), Data: []byte("to another port")})
	for _, r := range []struct {
		what string
		err  error
	}{{"broadcast", berr}, {"notify another port", nerr}} {
		fmt.Printf("uid %d in its user namespace (65534 outside), %s: %v\n", os.Getuid(), r.what, r.err)
		if r.err != nil {
			status = 1
		}
	}
	return status
}
