//go:build netlguest

package guest

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/userspace/netlink"

	"github.com/netl-dev/netl/internal/contract"
)

// Each TestClaimCn checks one sentence of the seed article (see
// ../../shared/SEED.md, "What the seed claims") against the kernel that runs
// it. The test asserts what the kernel really does; claim() records whether
// the seed's sentence holds, and the host gathers the verdicts into the
// claims table (internal/claims).

// claim records a verdict: holds, differs, or n/a (the sentence is about a
// module other than netl.ko), with its evidence.
func claim(t *testing.T, id, verdict, format string, args ...any) {
	t.Helper()
	t.Log(contract.ClaimLine(id, verdict, fmt.Sprintf(format, args...)))
}

func verdict(holds bool) string {
	if holds {
		return "holds"
	}
	return "differs"
}

// C1: full duplex; SOCK_RAW and SOCK_DGRAM both work.
func TestClaimC1FullDuplexRawAndDgram(t *testing.T) {
	begin(t)
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
	begin(t)
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
// module's input callback returns, the sender in D state meanwhile.
func TestClaimC3BlockingSendmsg(t *testing.T) {
	begin(t)
	const n, interval = 5, 200 // replies, ms apart: the callback sleeps (n-1) x interval
	reloadModule(t, fmt.Sprintf("reply_count=%d reply_interval_ms=%d", n, interval))
	c := dial(t, &netlink.Config{})
	pid, err := c.PID()
	require.NoError(t, err)

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
		err := c.Send(netlink.SeedRequest(pid, "Hello you!"))
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
	assert.GreaterOrEqual(t, r.took, minimum, "sendmsg blocked for the callback's sleeps")
	// Every reply is already queued when sendmsg returns.
	require.NoError(t, c.SetReceiveTimeout(time.Millisecond))
	for i := 0; i < n; i++ {
		_, err := c.Receive()
		require.NoError(t, err, "reply %d of %d queued when sendmsg returned", i+1, n)
	}
	claim(t, "C3", "holds", "sendmsg took %s for %d replies %d ms apart; sender thread state %q meanwhile; all %d replies queued on return; another thread ran meanwhile",
		r.took.Round(time.Millisecond), n, interval, state, n)
}

// threadState reads a thread's state letter from /proc.
func threadState(t *testing.T, tid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	require.NoError(t, err)
	s := string(data)
	// "tid (comm) S ...": the state follows the last ')'.
	i := strings.LastIndexByte(s, ')')
	require.Greater(t, i, 0)
	f := strings.Fields(s[i+1:])
	require.NotEmpty(t, f)
	return f[0]
}

// C4: kernel-to-user delivery is asynchronous: replies queue on the socket
// with no reader waiting.
func TestClaimC4AsyncDelivery(t *testing.T) {
	begin(t)
	c := dial(t, &netlink.Config{})
	// Nobody reads while the kernel sends three echo replies and a
	// notification; they wait in the queue.
	require.NoError(t, c.Notify(netlink.NotifyRequest{DelayMS: 50, Data: []byte("later")}))
	replies, err := c.Echo(netlink.EchoRequest{Count: 3, Data: []byte("queued")})
	require.NoError(t, err)
	require.Len(t, replies, 3)
	time.Sleep(300 * time.Millisecond)
	msgs, err := c.Receive()
	require.NoError(t, err, "the notification queued while nobody read")
	require.Equal(t, "later", string(msgs[0].Data))
	claim(t, "C4", "holds", "3 echo replies and a notification sent 50 ms later were queued with no reader waiting and read afterwards")
}

// C5: the kernel never checks nlmsg_pid: a sender can write any port there,
// even another process's.
func TestClaimC5NlmsgPIDUnchecked(t *testing.T) {
	begin(t)
	sender := dial(t, &netlink.Config{PID: 500})
	victim := dial(t, &netlink.Config{PID: 600})
	req := netlink.SeedRequest(600, "Hello you!") // claims to come from the victim
	require.NoError(t, sender.Send(req), "the kernel accepts a header naming another port")
	_, err := sender.Receive()
	require.NoError(t, err, "netl.ko answers the true sender")
	require.NoError(t, victim.SetReceiveTimeout(200*time.Millisecond))
	_, err = victim.Receive()
	require.ErrorIs(t, err, unix.EAGAIN, "the port named in nlmsg_pid gets nothing")
	claim(t, "C5", "holds", "port 500 sent nlmsg_pid=600 (a live socket) and the kernel delivered it; netl.ko replied to NETLINK_CB portid 500, port 600 got nothing")
}

// C6: a module answering nlmsg_pid sends to itself when the user writes 0.
// netl.ko answers NETLINK_CB(skb).portid, so the hazard must not exist.
func TestClaimC6NlmsgPIDZero(t *testing.T) {
	begin(t)
	c := dial(t, &netlink.Config{})
	pid, err := c.PID()
	require.NoError(t, err)
	require.NoError(t, c.Send(netlink.SeedRequest(0, "Hello you!")))
	msgs, from, err := c.ReceiveFrom()
	require.NoError(t, err, "the reply to a request with nlmsg_pid 0")
	require.Equal(t, netlink.SeedReply, netlink.CString(msgs[0].Data))
	require.Equal(t, uint32(0), from)
	assertHealthy(t)
	claim(t, "C6", "n/a", "about modules that answer nlmsg_pid (the seed's bug B5); netl.ko answered nlmsg_pid=0 at the true port %d and the guest stayed healthy", pid)
}

// C7: a second bind of one port on one protocol gets EADDRINUSE;
// SO_REUSEADDR does not help.
func TestClaimC7EADDRINUSE(t *testing.T) {
	begin(t)
	first := dial(t, &netlink.Config{PID: 700})
	_ = first
	_, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{PID: 700})
	require.ErrorIs(t, err, unix.EADDRINUSE)
	second, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{NoBind: true})
	require.NoError(t, err)
	defer second.Close()
	require.NoError(t, second.SetOption(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
	err = second.Bind(700, 0)
	require.ErrorIs(t, err, unix.EADDRINUSE, "with SO_REUSEADDR")
	claim(t, "C7", "holds", "second bind to port 700: %v; with SO_REUSEADDR: %v", unix.EADDRINUSE, unix.EADDRINUSE)
}

// C8: one port on two netlink protocols does not conflict.
func TestClaimC8PortPerProtocol(t *testing.T) {
	begin(t)
	a := dial(t, &netlink.Config{PID: 800})
	_ = a
	b, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{PID: 800})
	require.NoError(t, err, "port 800 on NETLINK_ROUTE while bound on protocol 25")
	b.Close()
	claim(t, "C8", "holds", "port 800 bound on protocol 25 and on NETLINK_ROUTE (0) at once")
}

// C9: "the kernel does not assign a port for us, so bind is required".
// Current kernels autobind an unbound socket on its first send.
func TestClaimC9Autobind(t *testing.T) {
	begin(t)
	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{NoBind: true})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReceiveTimeout(5*time.Second))
	before, err := c.PID()
	require.NoError(t, err)
	require.NoError(t, c.Send(netlink.SeedRequest(0, "Hello you!")), "send from an unbound socket")
	msgs, err := c.Receive()
	require.NoError(t, err, "reply to the unbound socket")
	require.Equal(t, netlink.SeedReply, netlink.CString(msgs[0].Data))
	after, err := c.PID()
	require.NoError(t, err)
	require.Zero(t, before, "port before the first send")
	require.NotZero(t, after, "port after the first send")
	claim(t, "C9", verdict(after == 0), "an unbound socket had port %d, sent without bind, was autobound to port %d and got the reply", before, after)
}

// C10: netlink also works user to user: a message sent to port 101 reaches
// the process bound there.
func TestClaimC10UserToUser(t *testing.T) {
	begin(t)
	a := dial(t, &netlink.Config{PID: 100})
	b := dial(t, &netlink.Config{PID: 101})
	m := netlink.Message{Header: netlink.Header{Type: netlink.MinType + 0x40, PID: 100}, Data: []byte("hello, 101")}
	require.NoError(t, a.SendTo(m, 101, 0))
	msgs, from, err := b.ReceiveFrom()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, uint32(100), from, "sender port")
	assert.Equal(t, "hello, 101", string(msgs[0].Data))
	claim(t, "C10", "holds", "port 100 sent %q to port 101 on protocol 25, received from port %d", msgs[0].Data, from)
}

// C11: up to 32 multicast groups, one bit each in nl_groups; the kernel's
// broadcast reaches every member. Groups above 32 exist too, reached with
// NETLINK_ADD_MEMBERSHIP.
func TestClaimC11Multicast(t *testing.T) {
	begin(t)
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
// the C macros on the host; here the kernel's own messages are measured.)
func TestClaimC12Alignment(t *testing.T) {
	begin(t)
	c := dial(t, &netlink.Config{})
	for _, size := range []int{0, 1, 3, 5, 17, 1021} {
		data := make([]byte, size)
		replies, err := c.Echo(netlink.EchoRequest{Count: 1, Data: data})
		require.NoError(t, err, "echo of %d bytes", size)
		require.Len(t, replies, 1)
		h := replies[0].Header
		payload := 8 + size // struct netl_echo + data
		assert.Equal(t, uint32(netlink.Length(payload)), h.Length, "nlmsg_len = NLMSG_LENGTH(%d)", payload)
		assert.Equal(t, payload, netlink.Payload(h, 0), "NLMSG_PAYLOAD")
	}
	// Two messages in one datagram: the second starts at NLMSG_ALIGN of the first.
	m1, _ := netlink.Message{Header: netlink.Header{Type: netlink.TypeStats, Flags: netlink.Request}, Data: []byte{1}}.MarshalBinary()
	require.Equal(t, 0, len(m1)%netlink.AlignTo)
	require.Equal(t, netlink.Space(1), len(m1), "a 1-byte payload occupies NLMSG_SPACE(1)")
	claim(t, "C12", "holds", "header %d bytes; kernel replies have nlmsg_len = NLMSG_LENGTH(payload) for payloads 8..1029; a 1-byte payload takes NLMSG_SPACE(1) = %d bytes", netlink.HeaderLen, netlink.Space(1))
}

// C13: the kernel may send to an agreed port with no request first.
func TestClaimC13KernelInitiated(t *testing.T) {
	begin(t)
	agreed := dial(t, &netlink.Config{PID: 1300})
	asker := dial(t, &netlink.Config{})
	require.NoError(t, asker.Notify(netlink.NotifyRequest{PortID: 1300, DelayMS: 100, Data: []byte("event")}))
	start := time.Now()
	msgs, from, err := agreed.ReceiveFrom()
	require.NoError(t, err)
	require.Equal(t, netlink.TypeNotify, msgs[0].Header.Type)
	require.Equal(t, "event", string(msgs[0].Data))
	claim(t, "C13", "holds", "port 1300 sent nothing and received a kernel message (from port %d) %s after another socket scheduled it", from, time.Since(start).Round(time.Millisecond))
}

// C14: control types NOOP=1, ERROR=2, DONE=3, OVERRUN=4, MIN_TYPE=0x10, and
// the NLM_F_* values; checked against the running kernel's own messages.
func TestClaimC14ControlTypes(t *testing.T) {
	begin(t)
	assert.Equal(t, netlink.HeaderType(1), netlink.Noop)
	assert.Equal(t, netlink.HeaderType(2), netlink.Error)
	assert.Equal(t, netlink.HeaderType(3), netlink.Done)
	assert.Equal(t, netlink.HeaderType(4), netlink.Overrun)
	assert.Equal(t, netlink.HeaderType(0x10), netlink.MinType)
	c := dial(t, &netlink.Config{})
	// The kernel's ack is type 2, and its end of dump type 3, with
	// NLM_F_MULTI (2) on the parts before it.
	msgs, err := c.Request(netlink.Message{Header: netlink.Header{Type: netlink.TypeStats, Flags: netlink.Request | netlink.Acknowledge}})
	require.NoError(t, err)
	last := msgs[len(msgs)-1]
	assert.Equal(t, netlink.HeaderType(2), last.Header.Type, "the ack's type")
	raw := requestRaw(t, c, netlink.Message{Header: netlink.Header{Type: netlink.TypeDump, Flags: netlink.Request | netlink.Dump}, Data: le32(2)})
	require.GreaterOrEqual(t, len(raw), 3)
	assert.Equal(t, netlink.HeaderFlags(2), raw[0].Header.Flags&netlink.Multi, "NLM_F_MULTI on a part")
	assert.Equal(t, netlink.HeaderType(3), raw[len(raw)-1].Header.Type, "NLMSG_DONE")
	claim(t, "C14", "holds", "the kernel acked with type %d, ended a dump with type %d after parts flagged %#x; constants NOOP..OVERRUN = 1..4, MIN_TYPE = 0x10",
		last.Header.Type, raw[len(raw)-1].Header.Type, uint16(raw[0].Header.Flags))
}

// C15: a multipart answer sets NLM_F_MULTI on each part and ends with
// NLMSG_DONE.
func TestClaimC15Multipart(t *testing.T) {
	begin(t)
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
