//go:build netlguest

package guest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/userspace/netlink"
)

// What one user can make netl.ko do is bounded (netl_proto.h, "Limits"):
// each test here failed on the module before the bound existed.

// seedDatagram is n seed requests in one datagram, sequence numbers 1 to
// n, with flags.
func seedDatagram(t *testing.T, n int, flags netlink.HeaderFlags) []byte {
	t.Helper()
	b, err := seedRequests(n, flags)
	require.NoError(t, err)
	return b
}

// seedRequests is seedDatagram for a helper process, which has no t.
func seedRequests(n int, flags netlink.HeaderFlags) ([]byte, error) {
	var b []byte
	for i := 1; i <= n; i++ {
		m := netlink.SeedRequest(0, fmt.Sprintf("message %d", i))
		m.Header.Flags = flags
		m.Header.Sequence = uint32(i)
		data, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = append(b, data...)
	}
	return b, nil
}

// drain reads every datagram queued on c, until none comes for quiet, and
// returns their messages, error messages included.
func drain(t *testing.T, c *netlink.Conn, quiet time.Duration) []netlink.Message {
	t.Helper()
	var all []netlink.Message
	require.NoError(t, c.SetReceiveTimeout(quiet))
	for {
		buf := make([]byte, 1<<16) // the messages' Data point into it
		n, _, err := unix.Recvfrom(c.FD(), buf, 0)
		if errors.Is(err, unix.EAGAIN) {
			return all
		}
		require.NoError(t, err)
		msgs, err := netlink.ParseMessages(buf[:n])
		require.NoError(t, err)
		all = append(all, msgs...)
	}
}

// ackErrno is the errno an NLMSG_ERROR carries (0 for an ack).
func ackErrno(t *testing.T, m netlink.Message) unix.Errno {
	t.Helper()
	require.Equal(t, netlink.Error, m.Header.Type)
	require.GreaterOrEqual(t, len(m.Data), 4)
	return unix.Errno(-int32(binary.NativeEndian.Uint32(m.Data)))
}

// A sender killed while the module sleeps for it wakes at once, and the
// module does not go on through the rest of its datagram. Before: each of
// the datagram's seed requests slept in turn (uninterruptibly, with
// msleep), so that one sendmsg of thousands of messages was unkillable for
// hours; then each remaining message was still handled.
func TestKilledSenderStopsItsDatagram(t *testing.T) {
	begin(t)
	const messages = 50
	setParam(t, "reply_interval_ms", "500")
	before := stats(t)
	cmd := helperCmd(helperBinary(t), "seedflood", netlink.ProtocolTest, messages)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	// Wait until the sender sleeps in the module.
	state := ""
	for deadline := time.Now().Add(10 * time.Second); state != "D" && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		state = processState(t, cmd.Process.Pid)
	}
	require.Equal(t, "D", state, "the sender sleeps in sendmsg")
	killed := time.Now()
	require.NoError(t, cmd.Process.Kill())
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("a SIGKILLed sender still sleeps in sendmsg after 5 s (%d seed requests of %d ms)", messages, 500)
	}
	took := time.Since(killed)
	after := stats(t)
	// rx_msgs counts the messages handled; the second stats request counts
	// itself.
	handled := after.RxMsgs - before.RxMsgs - 1
	assert.LessOrEqual(t, handled, uint64(2), "messages of the killed sender's %d-message datagram the module handled", messages)
	t.Logf("SIGKILL ended the sender %s after it; the module handled %d of the datagram's %d messages", took.Round(time.Millisecond), handled, messages)
}

// processState is the state letter of a process's threads from /proc: "D"
// if any thread is in D (the one in sendmsg), else the last one read.
func processState(t *testing.T, pid int) string {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	require.NoError(t, err)
	state := "?"
	for _, p := range tasks {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		if st := statState(data); st != "" {
			state = st
			if st == "D" {
				return st
			}
		}
	}
	return state
}

// The sleeps one datagram causes are bounded by max_sleep_ms: a message
// whose next sleep would pass it fails with ETIME, at once, and the
// datagram's other messages are still handled. Before: four seed requests
// slept four times, whatever the total.
func TestSleepBoundPerDatagram(t *testing.T) {
	begin(t)
	setParam(t, "reply_interval_ms", "30")
	setParam(t, "max_sleep_ms", "75")
	c := dial(t, &netlink.Config{})
	start := time.Now()
	require.NoError(t, c.SendRaw(seedDatagram(t, 4, netlink.Request|netlink.Acknowledge), 0))
	took := time.Since(start)
	// What arrived, in order: "reply N" or "ack N: errno".
	var got []string
	// Every answer is queued before sendmsg returns.
	for _, m := range drain(t, c, 20*time.Millisecond) {
		switch m.Header.Type {
		case netlink.TypeSeed:
			got = append(got, fmt.Sprintf("reply %d", m.Header.Sequence))
		case netlink.Error:
			got = append(got, fmt.Sprintf("ack %d: %v", m.Header.Sequence, ackErrno(t, m)))
		default:
			got = append(got, fmt.Sprintf("%v %d", m.Header.Type, m.Header.Sequence))
		}
	}
	ok, etime := unix.Errno(0), unix.ETIME
	assert.Equal(t, []string{
		"reply 1", fmt.Sprintf("ack 1: %v", ok),
		"reply 2", fmt.Sprintf("ack 2: %v", ok),
		fmt.Sprintf("ack 3: %v", etime), fmt.Sprintf("ack 4: %v", etime),
	}, got, "two sleeps of 30 ms fit in max_sleep_ms=75, a third does not")

	// An echo's intervals count the same way.
	_, err := c.Echo(netlink.EchoRequest{Count: 5, IntervalMS: 30, Data: []byte("bounded")})
	assert.ErrorIs(t, err, unix.ETIME, "an echo of 5 replies 30 ms apart with max_sleep_ms=75")
	t.Logf("4 seed requests (30 ms before each reply, max_sleep_ms=75): sendmsg took %s", took.Round(time.Millisecond))
}

// One port may hold NotifyMaxPerPort notifications, and another port still
// gets its own. Before: 64 slots for everyone, so that one user with 60 s
// delays made every other user's notification fail with EBUSY. In a
// namespace of its own: the limit counts by port number, and a number
// another test's closed socket used may still carry its notifications.
func TestNotificationsLimitedPerPort(t *testing.T) {
	beginParallel(t)
	conns, _ := dialInNewNetns(t, &netlink.Config{}, &netlink.Config{})
	greedy, other := conns[0], conns[1]
	for i := 0; i < netlink.NotifyMaxPerPort; i++ {
		require.NoError(t, greedy.Notify(netlink.NotifyRequest{DelayMS: netlink.NotifyMaxDelayMS, Data: []byte("held")}), "notification %d", i+1)
	}
	err := greedy.Notify(netlink.NotifyRequest{DelayMS: netlink.NotifyMaxDelayMS, Data: []byte("one too many")})
	require.ErrorIs(t, err, unix.EBUSY, "notification %d of one port", netlink.NotifyMaxPerPort+1)

	// Another port of the same namespace is not held up.
	require.NoError(t, other.Notify(netlink.NotifyRequest{DelayMS: 1, Data: []byte("another port's")}),
		"a notification of another port, with %d of greedy's pending", netlink.NotifyMaxPerPort)
	msgs, err := other.Receive()
	require.NoError(t, err)
	assert.Equal(t, "another port's", string(msgs[0].Data))
}

// A namespace holds at most NotifyMaxPending notifications, however many
// ports ask; a namespace of its own, so that no other test's notifications count.
func TestNotificationsLimitedPerNamespace(t *testing.T) {
	beginParallel(t)
	ports := netlink.NotifyMaxPending / netlink.NotifyMaxPerPort
	cfgs := make([]*netlink.Config, ports+1)
	for i := range cfgs {
		cfgs[i] = &netlink.Config{}
	}
	conns, _ := dialInNewNetns(t, cfgs...)
	for p, c := range conns[:ports] {
		for i := 0; i < netlink.NotifyMaxPerPort; i++ {
			require.NoError(t, c.Notify(netlink.NotifyRequest{DelayMS: netlink.NotifyMaxDelayMS, Data: []byte("held")}), "port %d, notification %d", p, i+1)
		}
	}
	err := conns[ports].Notify(netlink.NotifyRequest{DelayMS: 1, Data: []byte("one too many")})
	require.ErrorIs(t, err, unix.EBUSY, "a port's first notification with %d pending in the namespace", netlink.NotifyMaxPending)
	// A port's closing gives its share back.
	require.NoError(t, conns[0].Close())
	require.Eventually(t, func() bool {
		return conns[ports].Notify(netlink.NotifyRequest{DelayMS: 1, Data: []byte("room again")}) == nil
	}, 2*time.Second, 20*time.Millisecond, "a notification once a port's were cancelled")
}

// A notification dies with the socket of its port: the next socket to
// bind that port number gets nothing. Before: it was delivered to whoever
// bound the port next, another user included.
func TestNotificationCancelledWithItsSocket(t *testing.T) {
	beginParallel(t)
	const port = 0x400430
	// One the socket asked for itself, and one root addressed to its
	// port from another socket: only the NETLINK_URELEASE notifier
	// cancels the second (the first also holds its socket, and a dead
	// socket's is never sent).
	first := dial(t, &netlink.Config{PID: port})
	require.NoError(t, first.Notify(netlink.NotifyRequest{DelayMS: 100, Data: []byte("for the first socket")}))
	root := dial(t, &netlink.Config{})
	require.NoError(t, root.Notify(netlink.NotifyRequest{PortID: port, DelayMS: 100, Data: []byte("to port 0x400430, for the first socket")}))
	require.NoError(t, first.Close())
	next := dialFreedPort(t, port)
	// Due 100 ms after they were asked for: half a second leaves a loaded
	// guest's workqueue time to send them, were they not cancelled.
	assertNothing(t, next, 500*time.Millisecond, "the next socket on port %#x", port)
}

// A seed request's payload reaches the kernel log escaped, and a flood of
// requests is logged at most 10 lines a second. Before: up to 1 KiB of raw
// user bytes per request, newlines and terminal escapes included, every
// time.
func TestSeedLogEscapedAndRateLimited(t *testing.T) {
	begin(t)
	const port = 0x400500
	log := followKmsg(t)
	line := fmt.Sprintf("seed request from port %d (", port)
	const flood = 40
	var recs []string
	var took time.Duration
	for try := 1; ; try++ {
		// A fresh rate-limit state: the module's is its own, made at
		// load; this request opens its first window.
		if try == 1 {
			reloadModule(t, "") // restores the module loaded by init afterwards
		} else {
			require.NoError(t, unloadModule(t), "rmmod netl")
			require.NoError(t, loadModule(t, ""), "insmod netl.ko")
		}
		c := dial(t, &netlink.Config{PID: port})
		start := time.Now()
		require.NoError(t, c.Send(netlink.SeedRequest(port, "line one\nnetl: forged line\x1b[2J")))
		// The flood goes into the same window: the module logs each
		// line as it handles the request, inside sendmsg.
		require.NoError(t, c.SendRaw(seedDatagram(t, flood, 0), 0))
		took = time.Since(start)
		recs = log.all(t, line, 300*time.Millisecond)
		require.NoError(t, c.Close())
		if took < 500*time.Millisecond {
			break
		}
		// Not all within one window: the count would say nothing.
		require.Less(t, try, 3, "the request and the flood took %s, three times: too long to share one rate-limit window", took)
	}
	require.NotEmpty(t, recs, "the first seed request's line in the kernel log")
	// /dev/kmsg shows a byte it must escape as \xNN: a raw newline as
	// \x0a, the backslash of the module's own escape as \x5c.
	rec := recs[0]
	assert.NotContains(t, rec, `\x0a`, "a raw newline in the log record")
	assert.NotContains(t, rec, `\x1b`, "a raw escape character in the log record")
	assert.Contains(t, rec, `line one\x5cnnetl: forged line`, "the newline, escaped by the module")
	assert.LessOrEqual(t, len(recs)-1, 9, "lines logged for %d seed requests, in the second that logged one line before them", flood)
	t.Logf("a seed request, then %d more in one datagram, within %s: %d lines logged", flood, took.Round(time.Millisecond), len(recs))
}

// An echo carries at most EchoMaxData bytes. Before: any payload a
// datagram could hold, copied up to 100 times.
func TestEchoDataBounded(t *testing.T) {
	beginParallel(t)
	c := dial(t, &netlink.Config{})
	replies, err := c.Echo(netlink.EchoRequest{Count: 1, Data: make([]byte, netlink.EchoMaxData)})
	require.NoError(t, err, "an echo of %d bytes", netlink.EchoMaxData)
	require.Len(t, replies, 1)
	_, err = c.Echo(netlink.EchoRequest{Count: 1, Data: make([]byte, netlink.EchoMaxData+1)})
	require.ErrorIs(t, err, unix.EMSGSIZE, "an echo of %d bytes", netlink.EchoMaxData+1)
}

// A full receive queue is ENOBUFS on every path, as the receiver's next
// recvmsg says, and the module logs where the replies stopped. Before: the
// seed path said EAGAIN and echo ENOBUFS, and neither was logged.
func TestFullQueueIsENOBUFS(t *testing.T) {
	begin(t)
	setParam(t, "reply_count", "100")
	for _, path := range []struct {
		what string
		send func(c *netlink.Conn) error
	}{
		{"seed request", func(c *netlink.Conn) error { return c.Send(netlink.SeedRequest(0, "flood")) }},
		{"echo", func(c *netlink.Conn) error {
			return c.Send(netlink.Message{
				Header: netlink.Header{Type: netlink.TypeEcho, Flags: netlink.Request},
				Data:   mustMarshal(t, netlink.EchoRequest{Count: 100, Data: make([]byte, 1024)}),
			})
		}},
	} {
		t.Run(path.what, func(t *testing.T) {
			c := dial(t, &netlink.Config{})
			require.NoError(t, c.SetReceiveBuffer(4096))
			port, err := c.PID()
			require.NoError(t, err)
			log := followKmsg(t)
			require.NoError(t, path.send(c))
			rec := log.find(t, fmt.Sprintf("port %d: %s stopped after", port, path.what), 5*time.Second)
			// %pe prints -ENOBUFS, or the number without
			// CONFIG_SYMBOLIC_ERRNAME.
			if !strings.HasSuffix(rec, ": -ENOBUFS") && !strings.HasSuffix(rec, fmt.Sprintf(": -%d", int(unix.ENOBUFS))) {
				t.Errorf("the module logged %q, want the replies stopped with -ENOBUFS", rec)
			}
		})
	}
}
