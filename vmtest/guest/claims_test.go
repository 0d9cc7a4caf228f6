//go:build netlguest

package guest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/userspace/netlink"

	"github.com/netl-dev/netl/internal/contract"
)

// Fixed ports of tests that run in parallel lie above the largest pid
// (pid_max is at most 2^22): a child process that autobinds gets its pid
// as its port when that is free, and must not take one of these.
const (
	portC7  = 0x400700
	portC8  = 0x400800
	portC10 = 0x400111
)

// Each TestClaimCn checks one sentence of the seed article (see
// ../../shared/SEED.md, "What the seed claims") against the kernel that runs
// it. The test asserts what the kernel really does; claim() records whether
// the seed's sentence holds, and the host gathers the verdicts into the
// claims table (internal/claims).

// claim records a verdict, holds or differs, with its evidence.
func claim(t *testing.T, id, verdict, format string, args ...any) {
	t.Helper()
	t.Log(contract.ClaimLine(id, verdict, fmt.Sprintf(format, args...)))
}

// C1: full duplex; SOCK_RAW and SOCK_DGRAM both work.
func TestClaimC1FullDuplexRawAndDgram(t *testing.T) {
	beginParallel(t)
	var got []string
	for _, tc := range []struct {
		name string
		typ  int
	}{{"SOCK_RAW", unix.SOCK_RAW}, {"SOCK_DGRAM", unix.SOCK_DGRAM}} {
		c := dial(t, &netlink.Config{SocketType: tc.typ})
		pid, err := c.PID()
		require.NoError(t, err)
		// Both directions on one socket: a request out, the kernel's
		// reply in, and an unasked kernel message in.
		require.NoError(t, c.Send(netlink.SeedRequest(pid, "Hello you!")), tc.name)
		msgs, err := c.Receive()
		require.NoError(t, err, tc.name)
		require.Len(t, msgs, 1)
		require.Equal(t, netlink.SeedReply, netlink.CString(msgs[0].Data), tc.name)
		require.NoError(t, c.Notify(netlink.NotifyRequest{DelayMS: 1, Data: []byte("unasked")}), tc.name)
		msgs, err = c.Receive()
		require.NoError(t, err, tc.name)
		require.Equal(t, "unasked", string(msgs[0].Data), tc.name)
		got = append(got, tc.name)
	}
	claim(t, "C1", "holds", "%s each sent a request and received the reply and an unasked kernel message on one socket", strings.Join(got, " and "))
}

// C2: addresses are 32-bit port ids, not process ids; port 0 is the kernel.
func TestClaimC2PortIDsNotPIDs(t *testing.T) {
	beginParallel(t)
	const port = 0xF0000001 // no process has this id
	c := dial(t, &netlink.Config{PID: port})
	require.NoError(t, c.Send(netlink.SeedRequest(port, "Hello you!")))
	_, from, err := c.ReceiveFrom()
	require.NoError(t, err)
	require.Equal(t, uint32(0), from, "the kernel's replies come from port 0")
	pid, err := c.PID()
	require.NoError(t, err)
	require.Equal(t, uint32(port), pid)
	claim(t, "C2", "holds", "bound port %#x (no such process, pid is %d); netl.ko's reply came from port %d", pid, os.Getpid(), from)
}

// C3: user-to-kernel sendmsg is synchronous: it returns only after the
// module's input callback returns, the sender in D state meanwhile. The
// callback sleeps in an echo request of its own (IntervalMS), not in the
// seed path's reply_interval_ms, so that no module parameter changes. Not
// parallel: the state is sampled by a goroutine of this process, which
// beside thirty others on the guest's one CPU (the debug flavour) got too
// few turns to see the sender asleep.
func TestClaimC3BlockingSendmsg(t *testing.T) {
	begin(t)
	const n, interval = 4, 80 // replies, a sleep between each two: the callback sleeps (n-1) x interval
	c := dial(t, &netlink.Config{})
	payload, err := netlink.EchoRequest{Count: n, IntervalMS: interval, Data: []byte("Hello you!")}.MarshalBinary()
	require.NoError(t, err)
	const seq = 303

	type result struct {
		took time.Duration
		tid  int
		err  error
	}
	tids := make(chan int, 1)
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid := unix.Gettid()
		tids <- tid
		start := time.Now()
		err := c.Send(netlink.Message{Header: netlink.Header{Type: netlink.TypeEcho, Flags: netlink.Request, Sequence: seq}, Data: payload})
		done <- result{time.Since(start), tid, err}
	}()
	tid := <-tids
	// While the sender sleeps in the module, its thread is in D state and
	// this thread of the same process keeps working. Poll the state: a
	// loaded host may take a while to get the sender into sendmsg at all.
	var r result
	state, otherRan := "", false
	for waiting := true; waiting; {
		select {
		case r = <-done:
			waiting = false
		case <-time.After(20 * time.Millisecond):
			if st := threadState(t, tid); st == "D" {
				state = st
			} else if state == "" {
				state = st
			}
			if !otherRan {
				other, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{})
				require.NoError(t, err, "another thread opens a socket meanwhile")
				other.Close()
				otherRan = true
			}
		}
	}
	require.NoError(t, r.err)
	require.True(t, otherRan, "another thread ran while sendmsg blocked")

	assert.Equal(t, "D", state, "the sender's state during sendmsg")
	minimum := time.Duration((n-1)*interval) * time.Millisecond
	assert.GreaterOrEqual(t, r.took, minimum, "sendmsg blocked for the callback's sleeps, one between each two replies")
	// Two sleeps per reply would be another module's timing; the bound
	// leaves TCG (two VMs on two cores, the other tests beside) a second
	// of slack.
	assert.Less(t, r.took, minimum+time.Second, "no more than one sleep per reply")
	// Every reply is already queued when sendmsg returns.
	require.NoError(t, c.SetReceiveTimeout(time.Millisecond))
	for i := 0; i < n; i++ {
		msgs, err := c.Receive()
		require.NoError(t, err, "reply %d of %d queued when sendmsg returned", i+1, n)
		require.Equal(t, uint32(seq), msgs[0].Header.Sequence, "reply %d of %d", i+1, n)
	}
	claim(t, "C3", "holds", "sendmsg took %s for an echo of %d replies, %d ms apart (the article: 3 s before each of 10); sender thread state %q meanwhile; all %d replies queued on return; another thread ran meanwhile",
		r.took.Round(time.Millisecond), n, interval, state, n)
}

// threadState reads a thread's state letter from /proc.
func threadState(t *testing.T, tid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	require.NoError(t, err)
	st := statState(data)
	require.NotEmpty(t, st, "no state in /proc/self/task/%d/stat", tid)
	return st
}

// statState is the state letter of a /proc stat file, "" if it has none:
// "tid (comm) S ...", the state after the last ')'.
func statState(data []byte) string {
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	if f := strings.Fields(s[i+1:]); len(f) > 0 {
		return f[0]
	}
	return ""
}

// C4: kernel-to-user delivery is asynchronous: replies queue on the socket
// with no reader waiting.
func TestClaimC4AsyncDelivery(t *testing.T) {
	beginParallel(t)
	c := dial(t, &netlink.Config{})
	// Nobody reads while the kernel sends three echo replies (inside the
	// sendmsg below) and, 50 ms later, a notification; then the queue is
	// read, in whatever order the kernel queued them.
	require.NoError(t, c.Notify(netlink.NotifyRequest{DelayMS: 50, Data: []byte("later")}))
	payload, err := netlink.EchoRequest{Count: 3, Data: []byte("queued")}.MarshalBinary()
	require.NoError(t, err)
	const seq = 404
	require.NoError(t, c.Send(netlink.Message{Header: netlink.Header{Type: netlink.TypeEcho, Flags: netlink.Request, Sequence: seq}, Data: payload}))
	const idle = 400 * time.Millisecond
	time.Sleep(idle)
	// Everything is queued by now: a read that would wait means something
	// arrived late, not while nobody read.
	require.NoError(t, c.SetReceiveTimeout(time.Millisecond))
	echoes, notes := 0, 0
	for echoes < 3 || notes < 1 {
		msgs, err := c.Receive()
		require.NoError(t, err, "queued while nobody read: %d echo replies and %d notifications so far", echoes, notes)
		for _, m := range msgs {
			switch {
			case m.Header.Type == netlink.TypeEcho && m.Header.Sequence == seq:
				echoes++
			case m.Header.Type == netlink.TypeNotify && string(m.Data) == "later":
				notes++
			}
		}
	}
	claim(t, "C4", contract.Holds, "%d echo replies, sent inside sendmsg, and a notification sent 50 ms later, were queued while nobody read for %s, and read afterwards without waiting", echoes, idle)
}

// C5: the kernel never checks nlmsg_pid: a sender can write any port there,
// even another process's.
func TestClaimC5NlmsgPIDUnchecked(t *testing.T) {
	begin(t)
	sender := dial(t, &netlink.Config{PID: 500})
	victim := dial(t, &netlink.Config{PID: 600})
	log := followKmsg(t)
	req := netlink.SeedRequest(600, "Hello you!") // claims to come from the victim
	require.NoError(t, sender.Send(req), "the kernel accepts a header naming another port")
	// The module logs each seed request with the true port and the
	// header's nlmsg_pid: what it saw, not what the test sent.
	seen := log.find(t, "seed request from port 500 (", 5*time.Second)
	require.Contains(t, seen, "(nlmsg_pid 600,", "the module received the header's nlmsg_pid unchanged")
	_, err := sender.Receive()
	require.NoError(t, err, "netl.ko answers the true sender")
	// With reply_count=1 and no interval (init's load) the module sends
	// inside the sendmsg (C3): a reply to the port in the header would be
	// queued by now.
	assertNothing(t, victim, 20*time.Millisecond, "the port named in nlmsg_pid")
	claim(t, "C5", "holds", "port 500 sent nlmsg_pid=600 (a live socket); the module logged %q; it replied to NETLINK_CB portid 500, port 600 got nothing", strings.TrimSpace(seen))
}

// C6: a module answering nlmsg_pid sends to itself when the user writes 0.
// The claim is about such a module, and its verdict comes from repro case B5
// on the seed's b1-fixed variant (netlvm claims), whose self-loop would hang
// this suite for good. Here, netl.ko's side: it answers
// NETLINK_CB(skb).portid, so the hazard does not exist.
func TestClaimC6NlmsgPIDZero(t *testing.T) {
	beginParallel(t)
	c := dial(t, &netlink.Config{})
	pid, err := c.PID()
	require.NoError(t, err)
	require.NoError(t, c.Send(netlink.SeedRequest(0, "Hello you!")))
	msgs, from, err := c.ReceiveFrom()
	require.NoError(t, err, "the reply to a request with nlmsg_pid 0")
	require.Equal(t, netlink.SeedReply, netlink.CString(msgs[0].Data))
	require.Equal(t, uint32(0), from)
	assertHealthy(t)
	t.Logf("netl.ko answered nlmsg_pid=0 at the true port %d and the guest stayed healthy", pid)
}

// C7: a second bind of one port on one protocol gets EADDRINUSE;
// SO_REUSEADDR does not help.
func TestClaimC7EADDRINUSE(t *testing.T) {
	beginParallel(t)
	first := dial(t, &netlink.Config{PID: portC7})
	_ = first
	_, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{PID: portC7})
	require.ErrorIs(t, err, unix.EADDRINUSE)
	second, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{NoBind: true})
	require.NoError(t, err)
	defer second.Close()
	require.NoError(t, second.SetOption(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
	err = second.Bind(portC7, 0)
	require.ErrorIs(t, err, unix.EADDRINUSE, "with SO_REUSEADDR")
	claim(t, "C7", "holds", "second bind to port %#x: %v; with SO_REUSEADDR: %v", portC7, unix.EADDRINUSE, unix.EADDRINUSE)
}

// C8: one port on two netlink protocols does not conflict.
func TestClaimC8PortPerProtocol(t *testing.T) {
	beginParallel(t)
	a := dial(t, &netlink.Config{PID: portC8})
	_ = a
	b, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{PID: portC8})
	require.NoError(t, err, "port %#x on NETLINK_ROUTE while bound on protocol 25", portC8)
	b.Close()
	claim(t, "C8", "holds", "port %#x bound on protocol 25 and on NETLINK_ROUTE (0) at once", portC8)
}

// C9: "the kernel does not assign a port for us, so bind is required".
// Current kernels autobind an unbound socket on its first send.
func TestClaimC9Autobind(t *testing.T) {
	beginParallel(t)
	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{NoBind: true})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReceiveTimeout(5*time.Second))
	before, err := c.PID()
	require.NoError(t, err)
	require.Zero(t, before, "port before the first send: the socket is unbound")
	// The verdict comes from what the kernel does with the send: either
	// way is recorded, and each way is checked for what follows from it.
	sendErr := c.Send(netlink.SeedRequest(0, "Hello you!"))
	after, err := c.PID()
	require.NoError(t, err)
	if sendErr != nil || after == 0 {
		assert.Zero(t, after, "a failed send binds nothing")
		claim(t, "C9", contract.Holds, "an unbound socket could not send (%v) and kept port %d: bind is required", sendErr, after)
		return
	}
	msgs, err := c.Receive()
	require.NoError(t, err, "an autobound socket gets its reply")
	require.Equal(t, netlink.SeedReply, netlink.CString(msgs[0].Data))
	claim(t, "C9", contract.Differs, "an unbound socket had port %d, sent without bind, was autobound to port %d and got the reply", before, after)
}

// C10: netlink also works user to user: a message sent to port 101 reaches
// the process bound there. The article runs it as root, in one program; here
// also as an unprivileged user from two processes, where the kernel allows
// it only on a protocol registered with NL_CFG_F_NONROOT_SEND
// (netlink_sendmsg, net/netlink/af_netlink.c). netl.ko does not set it (see
// netl_proto.h), so protocol 25 refuses such a sender, and NETLINK_USERSOCK,
// which sets it, carries the unprivileged case.
func TestClaimC10UserToUser(t *testing.T) {
	beginParallel(t)
	a := dial(t, &netlink.Config{PID: 1100})
	b := dial(t, &netlink.Config{PID: 1101})
	m := netlink.Message{Header: netlink.Header{Type: netlink.MinType + 0x40, PID: 1100}, Data: []byte("hello, 1101")}
	require.NoError(t, a.SendTo(m, 1101, 0))
	msgs, from, err := b.ReceiveFrom()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, uint32(1100), from, "sender port")
	assert.Equal(t, "hello, 1101", string(msgs[0].Data))

	// Two processes as nobody (uid 65534): a listener and a sender.
	helper := helperBinary(t)
	listen := helperCmd(helper, "listen", unix.NETLINK_USERSOCK, portC10)
	stdout, err := listen.StdoutPipe()
	require.NoError(t, err)
	listen.Stderr = os.Stderr
	require.NoError(t, listen.Start())
	t.Cleanup(func() { _ = listen.Process.Kill(); _ = listen.Wait() })
	lines := bufio.NewScanner(stdout)
	// The listener says when it is bound: the sender must not come first.
	require.True(t, lines.Scan(), "nobody's listener ended before it bound")
	require.Equal(t, "ready", lines.Text())
	out, err := helperCmd(helper, "send", unix.NETLINK_USERSOCK, portC10).CombinedOutput()
	require.NoError(t, err, "nobody sends to port %d on NETLINK_USERSOCK:\n%s", portC10, out)
	require.True(t, lines.Scan(), "nobody's listener printed nothing more")
	got := lines.Text()
	assert.Contains(t, got, fmt.Sprintf("received \"hello from nobody\" from port %d", portC10-1))

	out, err = helperCmd(helper, "send", netlink.ProtocolTest, portC10).CombinedOutput()
	require.Error(t, err, "nobody sends to a port on protocol 25")
	assert.Contains(t, string(out), "operation not permitted", "protocol 25 has no NL_CFG_F_NONROOT_SEND")
	claim(t, "C10", contract.Holds, "as root, port 1100 sent %q to port 1101 on protocol 25, received from port %d; as nobody, two processes exchanged a message on NETLINK_USERSOCK (%s), while on protocol 25 nobody's send got EPERM: netl.ko does not set NL_CFG_F_NONROOT_SEND",
		msgs[0].Data, from, got)
}

// helperEnv names the part a re-executed test binary plays (TestMain).
const helperEnv = "NETL_GUEST_HELPER"

// helperBinary copies this test binary where an unprivileged user can run
// it: the host share is root's only.
// Written once: tests running in parallel execute it.
func helperBinary(t *testing.T) string {
	t.Helper()
	helperOnce.Do(func() {
		const p = "/tmp/netl-guest-helper"
		self, err := os.ReadFile("/proc/self/exe")
		if err == nil {
			err = os.WriteFile(p, self, 0o755)
		}
		if err == nil {
			err = os.Chmod(p, 0o755)
		}
		helperPath, helperErr = p, err
	})
	require.NoError(t, helperErr, "copying the test binary for the helper")
	return helperPath
}

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// helperCmd runs the helper as nobody: "listen" binds port and prints the
// first message, "send" binds port-1 and sends one message to port.
func helperCmd(helper, role string, protocol, port int) *exec.Cmd {
	cmd := exec.Command(helper, "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d:%d", helperEnv, role, protocol, port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Dir = "/"
	return cmd
}

// runHelper plays a helper's part and returns its exit status.
func runHelper(spec string) int {
	var role string
	var protocol, port int
	if _, err := fmt.Sscanf(strings.ReplaceAll(spec, ":", " "), "%s %d %d", &role, &protocol, &port); err != nil {
		fmt.Fprintf(os.Stderr, "helper %q: %v\n", spec, err)
		return 2
	}
	switch role {
	case "listen":
		c, err := netlink.Dial(protocol, &netlink.Config{PID: uint32(port)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer c.Close()
		if err := c.SetReceiveTimeout(30 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("ready")
		msgs, from, err := c.ReceiveFrom()
		if err != nil || len(msgs) == 0 {
			fmt.Fprintln(os.Stderr, "no message:", err)
			return 1
		}
		fmt.Printf("uid %d received %q from port %d\n", os.Getuid(), msgs[0].Data, from)
		return 0
	case "send":
		c, err := netlink.Dial(protocol, &netlink.Config{PID: uint32(port - 1)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer c.Close()
		m := netlink.Message{Header: netlink.Header{Type: netlink.MinType + 0x40, PID: uint32(port - 1)}, Data: []byte("hello from nobody")}
		if err := c.SendTo(m, uint32(port), 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "seedflood":
		// One datagram of port seed requests, sent from this process
		// so that the test can kill it while the module sleeps.
		c, err := netlink.Dial(protocol, &netlink.Config{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		b, err := seedRequests(port, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("ready")
		if err := c.SendRaw(b, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "nsadmin":
		return runNamespaceAdmin(protocol, port)
	}
	fmt.Fprintf(os.Stderr, "helper: unknown role %q\n", role)
	return 2
}

// C11: up to 32 multicast groups, one bit each in nl_groups; the kernel's
// broadcast reaches every member. Groups above 32 exist too, reached with
// NETLINK_ADD_MEMBERSHIP.
func TestClaimC11Multicast(t *testing.T) {
	beginParallel(t)
	const low, high = 3, 40
	var members []*netlink.Conn
	for i := 0; i < 3; i++ {
		members = append(members, dial(t, &netlink.Config{Groups: 1 << (low - 1)}))
	}
	outsider := dial(t, &netlink.Config{Groups: 1 << (low)}) // group 4, not 3
	highMember := dial(t, &netlink.Config{})
	require.NoError(t, highMember.JoinGroup(high), "NETLINK_ADD_MEMBERSHIP %d", high)
	sender := dial(t, &netlink.Config{})

	require.NoError(t, sender.Broadcast(low, []byte("to group 3")))
	for i, m := range members {
		msgs, err := m.Receive()
		require.NoError(t, err, "member %d of group %d", i, low)
		assert.Equal(t, "to group 3", string(msgs[0].Data))
	}
	require.NoError(t, outsider.SetReceiveTimeout(100*time.Millisecond))
	_, err := outsider.Receive()
	require.ErrorIs(t, err, unix.EAGAIN, "a member of group 4 only")

	require.NoError(t, sender.Broadcast(high, []byte("to group 40")))
	msgs, err := highMember.Receive()
	require.NoError(t, err, "member of group %d", high)
	assert.Equal(t, "to group 40", string(msgs[0].Data))
	claim(t, "C11", "differs", "3 members of group %d (nl_groups bit) got the broadcast, a group-4 member did not; but groups are not limited to 32: a member of group %d (NETLINK_ADD_MEMBERSHIP) got its broadcast", low, high)
}

// C12: messages are 4-byte aligned and the header is 16 bytes; the NLMSG_*
// macros behave as written. (The Go helpers are checked bit for bit against
// the C macros on the host; here the kernel parses and writes the bytes.)
func TestClaimC12Alignment(t *testing.T) {
	beginParallel(t)
	c := dial(t, &netlink.Config{})
	// One datagram, two echo requests with 5 and 3 bytes of data: the
	// second starts at NLMSG_ALIGN of the first's length, after 3 bytes of
	// padding. The kernel walks the datagram by those rules
	// (netlink_rcv_skb); answering both proves it found the second there.
	first, err := netlink.EchoRequest{Count: 1, Data: []byte("abcde")}.MarshalBinary()
	require.NoError(t, err)
	second, err := netlink.EchoRequest{Count: 1, Data: []byte("xyz")}.MarshalBinary()
	require.NoError(t, err)
	m1, err := netlink.Message{Header: netlink.Header{Type: netlink.TypeEcho, Flags: netlink.Request, Sequence: 1201}, Data: first}.MarshalBinary()
	require.NoError(t, err)
	m2, err := netlink.Message{Header: netlink.Header{Type: netlink.TypeEcho, Flags: netlink.Request, Sequence: 1202}, Data: second}.MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, netlink.HeaderLen+8+5, int(binary.NativeEndian.Uint32(m1)), "nlmsg_len = NLMSG_LENGTH(13), unpadded")
	require.Equal(t, netlink.Space(8+5), len(m1), "the message occupies NLMSG_SPACE(13) = 32 bytes")
	require.NoError(t, c.SendRaw(append(m1, m2...), 0))

	// The replies, read as bytes off the socket: each datagram is
	// NLMSG_ALIGN(nlmsg_len) long, the padding written by the kernel.
	require.NoError(t, c.SetReceiveTimeout(5*time.Second))
	got := map[uint32]string{}
	var lens []string
	buf := make([]byte, 65536)
	for len(got) < 2 {
		n, _, err := unix.Recvfrom(c.FD(), buf, 0)
		require.NoError(t, err, "the replies to both messages of the datagram")
		for off := 0; off < n; {
			require.GreaterOrEqual(t, n-off, netlink.HeaderLen)
			l := int(binary.NativeEndian.Uint32(buf[off:]))
			seq := binary.NativeEndian.Uint32(buf[off+8:])
			require.LessOrEqual(t, off+netlink.Align(l), n, "message %d fits its datagram", seq)
			var e netlink.EchoRequest
			require.NoError(t, e.UnmarshalBinary(buf[off+netlink.HeaderLen:off+l]))
			got[seq] = string(e.Data)
			lens = append(lens, fmt.Sprintf("nlmsg_len %d in %d bytes", l, netlink.Align(l)))
			off += netlink.Align(l)
		}
	}
	assert.Equal(t, map[uint32]string{1201: "abcde", 1202: "xyz"}, got, "both messages parsed and answered")
	claim(t, "C12", "holds", "header %d bytes; one datagram of two echo requests (nlmsg_len %d padded to %d, then the second) answered twice; replies on the wire: %s",
		netlink.HeaderLen, binary.NativeEndian.Uint32(m1), len(m1), strings.Join(lens, ", "))
}

// C13: the kernel may send to an agreed port with no request first.
func TestClaimC13KernelInitiated(t *testing.T) {
	beginParallel(t)
	agreed := dial(t, &netlink.Config{PID: 1300})
	asker := dial(t, &netlink.Config{})
	require.NoError(t, asker.Notify(netlink.NotifyRequest{PortID: 1300, DelayMS: 100, Data: []byte("event")}))
	start := time.Now()
	msgs, from, err := agreed.ReceiveFrom()
	require.NoError(t, err)
	require.Equal(t, uint32(0), from, "sent by the kernel, port 0")
	require.Equal(t, netlink.TypeNotify, msgs[0].Header.Type)
	require.Equal(t, "event", string(msgs[0].Data))
	claim(t, "C13", "holds", "port 1300 sent nothing and received a kernel message (from port %d) %s after another socket scheduled it", from, time.Since(start).Round(time.Millisecond))
}

// C14: control types NOOP=1, ERROR=2, DONE=3, OVERRUN=4, MIN_TYPE=0x10, and
// the NLM_F_* values. The values come from the booted kernel's own uapi
// headers, compiled on the host (contract.UAPIEnv): the article's numbers,
// the client's constants and the kernel's own messages are each checked
// against them, not against literals in this file.
func TestClaimC14ControlTypes(t *testing.T) {
	beginParallel(t)
	uapi := map[string]int64{}
	for _, w := range strings.Fields(os.Getenv(contract.UAPIEnv)) {
		name, v, ok := strings.Cut(w, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		require.True(t, ok && err == nil, "%s word %q", contract.UAPIEnv, w)
		uapi[name] = n
	}
	require.NotEmpty(t, uapi, "%s is not set: the harness passes the kernel's uapi values", contract.UAPIEnv)
	article := map[string]int64{"NLMSG_NOOP": 1, "NLMSG_ERROR": 2, "NLMSG_DONE": 3, "NLMSG_OVERRUN": 4, "NLMSG_MIN_TYPE": 0x10,
		"NLM_F_REQUEST": 1, "NLM_F_MULTI": 2, "NLM_F_ACK": 4, "NLM_F_ECHO": 8,
		"NLM_F_ROOT": 0x100, "NLM_F_MATCH": 0x200, "NLM_F_ATOMIC": 0x400, "NLM_F_DUMP": 0x300}
	client := map[string]int64{"NLMSG_NOOP": int64(netlink.Noop), "NLMSG_ERROR": int64(netlink.Error), "NLMSG_DONE": int64(netlink.Done),
		"NLMSG_OVERRUN": int64(netlink.Overrun), "NLMSG_MIN_TYPE": int64(netlink.MinType),
		"NLM_F_REQUEST": int64(netlink.Request), "NLM_F_MULTI": int64(netlink.Multi), "NLM_F_ACK": int64(netlink.Acknowledge),
		"NLM_F_ECHO": int64(netlink.Echo), "NLM_F_ROOT": int64(netlink.Root), "NLM_F_MATCH": int64(netlink.Match),
		"NLM_F_ATOMIC": int64(netlink.Atomic), "NLM_F_DUMP": int64(netlink.Dump),
		"NLM_F_REPLACE": int64(netlink.Replace), "NLM_F_EXCL": int64(netlink.Excl), "NLM_F_CREATE": int64(netlink.Create),
		"NLM_F_APPEND": int64(netlink.Append), "NLMSG_ALIGNTO": netlink.AlignTo, "NLMSG_HDRLEN": netlink.HeaderLen}
	for name, v := range client {
		require.Contains(t, uapi, name)
		assert.Equal(t, uapi[name], v, "the client's %s against the kernel's headers", name)
	}
	var differ []string
	for name, v := range article {
		require.Contains(t, uapi, name)
		if uapi[name] != v {
			differ = append(differ, fmt.Sprintf("%s is %#x, the article says %#x", name, uapi[name], v))
		}
	}
	sort.Strings(differ)

	c := dial(t, &netlink.Config{})
	// The kernel's ack, and its end of dump with NLM_F_MULTI on the parts
	// before it, as the headers define them.
	msgs, err := c.Request(netlink.Message{Header: netlink.Header{Type: netlink.TypeStats, Flags: netlink.Request | netlink.Acknowledge}})
	require.NoError(t, err)
	last := msgs[len(msgs)-1]
	assert.Equal(t, uapi["NLMSG_ERROR"], int64(last.Header.Type), "the ack's type is NLMSG_ERROR")
	raw := requestRaw(t, c, netlink.Message{Header: netlink.Header{Type: netlink.TypeDump, Flags: netlink.Request | netlink.Dump}, Data: le32(2)})
	require.GreaterOrEqual(t, len(raw), 3)
	assert.Equal(t, uapi["NLM_F_MULTI"], int64(raw[0].Header.Flags)&uapi["NLM_F_MULTI"], "NLM_F_MULTI on a part")
	assert.Equal(t, uapi["NLMSG_DONE"], int64(raw[len(raw)-1].Header.Type), "NLMSG_DONE ends the dump")
	if len(differ) > 0 {
		claim(t, "C14", contract.Differs, "against this kernel's uapi headers: %s", strings.Join(differ, "; "))
		return
	}
	claim(t, "C14", contract.Holds, "the kernel's own uapi headers, compiled: NOOP..OVERRUN = 1..4, MIN_TYPE = %#x, REQUEST %#x MULTI %#x ACK %#x ECHO %#x ROOT %#x MATCH %#x ATOMIC %#x DUMP %#x, as the article lists; its ack had type %d, its dump ended with type %d after parts flagged %#x",
		uapi["NLMSG_MIN_TYPE"], uapi["NLM_F_REQUEST"], uapi["NLM_F_MULTI"], uapi["NLM_F_ACK"], uapi["NLM_F_ECHO"], uapi["NLM_F_ROOT"], uapi["NLM_F_MATCH"], uapi["NLM_F_ATOMIC"], uapi["NLM_F_DUMP"],
		last.Header.Type, raw[len(raw)-1].Header.Type, uint16(raw[0].Header.Flags))
}

// C15: a multipart answer sets NLM_F_MULTI on each part and ends with
// NLMSG_DONE.
func TestClaimC15Multipart(t *testing.T) {
	beginParallel(t)
	c := dial(t, &netlink.Config{})
	const parts = 300 // more than fit in one datagram
	raw := requestRaw(t, c, netlink.Message{Header: netlink.Header{Type: netlink.TypeDump, Flags: netlink.Request | netlink.Dump}, Data: le32(parts)})
	require.Len(t, raw, parts+1, "parts and NLMSG_DONE")
	for i, m := range raw[:parts] {
		require.NotZero(t, m.Header.Flags&netlink.Multi, "part %d has NLM_F_MULTI", i)
		var p netlink.DumpPart
		require.NoError(t, p.UnmarshalBinary(m.Data))
		require.Equal(t, uint32(i), p.Index)
	}
	done := raw[parts]
	require.Equal(t, netlink.Done, done.Header.Type)
	parsed, err := c.Dump(parts)
	require.NoError(t, err, "the client's Dump")
	require.Len(t, parsed, parts)
	claim(t, "C15", "holds", "a %d-part dump: every part flagged NLM_F_MULTI (%#x), then NLMSG_DONE (flags %#x)", parts, uint16(netlink.Multi), uint16(done.Header.Flags))
}

// requestRaw sends m with the next sequence number and returns every
// message of the answer, NLMSG_DONE included, reading as many datagrams as
// it takes.
func requestRaw(t *testing.T, c *netlink.Conn, m netlink.Message) []netlink.Message {
	t.Helper()
	m.Header.Sequence = uint32(time.Now().UnixNano())
	require.NoError(t, c.Send(m))
	var all []netlink.Message
	for {
		msgs, err := c.Receive()
		require.NoError(t, err)
		for _, r := range msgs {
			if r.Header.Sequence != m.Header.Sequence {
				continue
			}
			all = append(all, r)
			if r.Header.Type == netlink.Done || r.Header.Type == netlink.Error {
				return all
			}
		}
	}
}

func le32(v uint32) []byte {
	return binary.NativeEndian.AppendUint32(nil, v)
}

// assertHealthy checks that the module still answers and the kernel took
// no harm: an echo round trip works.
func assertHealthy(t *testing.T) {
	t.Helper()
	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReceiveTimeout(5*time.Second))
	replies, err := c.Echo(netlink.EchoRequest{Count: 1, Data: []byte("ping")})
	require.NoError(t, err, "the module answers an echo")
	require.Len(t, replies, 1)
}

// kmsgFollower reads the kernel log from the moment it was opened.
type kmsgFollower struct{ f *os.File }

// followKmsg opens /dev/kmsg at its end: find sees only what the kernel
// logs from now on.
func followKmsg(t *testing.T) *kmsgFollower {
	t.Helper()
	f, err := os.OpenFile("/dev/kmsg", os.O_RDONLY|unix.O_NONBLOCK, 0)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	_, err = f.Seek(0, io.SeekEnd)
	require.NoError(t, err)
	return &kmsgFollower{f}
}

// find waits for a kernel log message containing substr and returns it.
func (k *kmsgFollower) find(t *testing.T, substr string, timeout time.Duration) string {
	t.Helper()
	found := ""
	k.each(t, timeout, func(msg string) bool {
		if strings.Contains(msg, substr) {
			found = msg
			return false
		}
		return true
	})
	if found == "" {
		t.Fatalf("the kernel logged no %q within %s", substr, timeout)
	}
	return found
}

// all returns every kernel log message containing substr logged within
// window.
func (k *kmsgFollower) all(t *testing.T, substr string, window time.Duration) []string {
	t.Helper()
	var found []string
	k.each(t, window, func(msg string) bool {
		if strings.Contains(msg, substr) {
			found = append(found, msg)
		}
		return true
	})
	return found
}

// each hands fn every kernel log message, without its record header,
// until fn returns false or timeout passes.
func (k *kmsgFollower) each(t *testing.T, timeout time.Duration, fn func(msg string) bool) {
	t.Helper()
	buf := make([]byte, 8192)
	// The file is in Go's poller (O_NONBLOCK, and /dev/kmsg polls): a
	// read waits for a record, up to the deadline.
	require.NoError(t, k.f.SetReadDeadline(time.Now().Add(timeout)))
	for {
		n, err := k.f.Read(buf) // one record per read
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		if errors.Is(err, unix.EPIPE) {
			continue // records overwritten before this reader got them
		}
		require.NoError(t, err)
		// "prio,seq,usec,flags;message"
		if _, msg, ok := strings.Cut(string(buf[:n]), ";"); ok && !fn(strings.TrimRight(msg, "\n")) {
			return
		}
	}
}
