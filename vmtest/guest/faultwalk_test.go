//go:build netlguest

package guest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/internal/faultwalk"
	"github.com/netl-dev/netl/userspace/netlink"
)

// faultWalkMax bounds every walk: a request or a module load with more
// failure points than this is a walk that does not end.
const faultWalkMax = 10000

// faultWalkGroup is the multicast group the broadcast walk sends to.
const faultWalkGroup = 7

// startFaultWalk locks the test's goroutine to its OS thread for good (the
// thread ends with the test, and its fail-nth with it), sets the fault
// injection knobs for the test and returns a walker. On a kernel without
// fault injection it returns nil: the plain flavour has none, and says so;
// the debug flavour must have it.
func startFaultWalk(t *testing.T) *faultwalk.FaultWalker {
	t.Helper()
	if !faultwalk.FaultInjectionAvailable() {
		if os.Getenv(contract.DebugEnv) != "" {
			t.Fatalf("the debug flavour has no %s: CONFIG_FAULT_INJECTION is off, and the walk cannot run", faultwalk.FailNthPath)
		}
		t.Logf("fault walk: not run: this kernel has no fault injection (%s absent; the plain flavour); it runs on the debug flavour (netlvm test -debug)", faultwalk.FailNthPath)
		return nil
	}
	runtime.LockOSThread() // never unlocked: the thread exits with the test
	restore, err := faultwalk.SetFaultKnobs()
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := restore(); err != nil {
			t.Errorf("restoring the fault injection knobs: %v", err)
		}
	})
	w, err := faultwalk.NewFaultWalker()
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("fault walker: %v", err)
		}
	})
	return w
}

func marshal(m netlink.Message) []byte {
	b, err := m.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

func typedRequest(typ netlink.HeaderType, flags netlink.HeaderFlags, payload []byte) func(uint32) []byte {
	return func(port uint32) []byte {
		return marshal(netlink.Message{Header: netlink.Header{Type: typ, Flags: flags, Sequence: faultwalk.FaultWalkSeq, PID: port}, Data: payload})
	}
}

func payload(m interface{ MarshalBinary() ([]byte, error) }) []byte {
	b, err := m.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

// notifyAfter checks that a notification request that succeeded is
// followed by its notification (sent by netl's work function, in a
// kworker: no failure is injected there), and that one that failed is not.
func notifyAfter(req *faultwalk.FaultRequest) func(fd int, ex *faultwalk.Exchange) error {
	return func(fd int, ex *faultwalk.Exchange) error {
		_, term, err := ex.Split(*req)
		if err != nil {
			return nil // faultwalk.Judge says why
		}
		ok := ex.SendErr == 0 && ((term != nil && term.Header.Type == netlink.Error && isAck(*term)) ||
			(term == nil && slices.Contains(ex.RecvErrs, unix.ENOBUFS)))
		got := 0
		for _, m := range ex.Msgs {
			if m.Header.Type == netlink.TypeNotify {
				got++
			}
		}
		// A notification after a failed request would come within
		// milliseconds (delay 0); half a second leaves a loaded guest's
		// kworker the time.
		wait := 500 * time.Millisecond
		if ok && got == 0 {
			wait = 10 * time.Second
		}
		msgs, errs := recvFor(fd, wait, ok && got == 0)
		for _, m := range msgs {
			if m.Header.Type == netlink.TypeNotify && bytes.Equal(m.Data, []byte("fault walk")) {
				got++
			} else {
				return fmt.Errorf("%s: after the answer, an unexpected %v message", req.Name, m.Header.Type)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s: waiting for the notification: %v", req.Name, errs)
		}
		switch {
		case ok && got != 1:
			return fmt.Errorf("%s, failure point %d: the request succeeded (%s) and %d notifications came, want 1", req.Name, ex.Nth, ex, got)
		case !ok && got != 0:
			return fmt.Errorf("%s, failure point %d: the request failed (%s), yet %d notifications came", req.Name, ex.Nth, ex, got)
		}
		return nil
	}
}

// recvFor receives from fd for up to d, or only until the first datagram
// if first is set.
func recvFor(fd int, d time.Duration, first bool) ([]netlink.Message, []error) {
	var msgs []netlink.Message
	var errs []error
	deadline := time.Now().Add(d)
	buf := make([]byte, 64<<10)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return msgs, errs
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return msgs, append(errs, err)
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return msgs, append(errs, err)
		}
		m, err := netlink.ParseMessages(buf[:n])
		if err != nil {
			return msgs, append(errs, err)
		}
		msgs = append(msgs, m...)
		if first {
			return msgs, errs
		}
	}
}

// drainFD reads what is queued on fd, without waiting.
func drainFD(fd int) ([]netlink.Message, []unix.Errno, error) {
	var msgs []netlink.Message
	var errs []unix.Errno
	buf := make([]byte, 64<<10)
	for i := 0; i < 1000; i++ {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		var errno unix.Errno
		switch {
		case errors.Is(err, unix.EAGAIN):
			return msgs, errs, nil
		case errors.As(err, &errno):
			errs = append(errs, errno)
			continue
		case err != nil:
			return msgs, errs, err
		}
		m, err := netlink.ParseMessages(buf[:n])
		if err != nil {
			return msgs, errs, err
		}
		msgs = append(msgs, m...)
	}
	return msgs, errs, fmt.Errorf("fd %d never ran dry", fd)
}

// listener is a member of faultWalkGroup, with NETLINK_BROADCAST_ERROR
// (the module's broadcast fails when this member misses it) or without.
func listener(t *testing.T, broadcastError bool) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, netlink.ProtocolTest)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}))
	require.NoError(t, unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, faultWalkGroup))
	if broadcastError {
		require.NoError(t, unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_BROADCAST_ERROR, 1))
	}
	return fd
}

// faultWalkRequests are the requests walked: every message type netl.ko
// handles (netl_proto.h), the ones it refuses, and variants that allocate
// differently.
func faultWalkRequests() []*faultwalk.FaultRequest {
	seed := faultwalk.SeedFaultRequest("type 0 (seed request), NLM_F_REQUEST|NLM_F_ACK", netlink.Request|netlink.Acknowledge)
	seedBare := faultwalk.SeedFaultRequest("type 0 (seed request), no flags (the article's)", 0)
	big := bytes.Repeat([]byte("fault walk "), netlink.EchoMaxData/11+1)
	sameLen := func(a, b netlink.Message) bool {
		return a.Header.Type == b.Header.Type && a.Header.Flags == b.Header.Flags &&
			a.Header.Sequence == b.Header.Sequence && len(a.Data) == len(b.Data)
	}
	badLen := func(port uint32) []byte {
		b := marshal(netlink.Message{Header: netlink.Header{Type: netlink.TypeEcho, Flags: netlink.Request | netlink.Acknowledge, Sequence: faultwalk.FaultWalkSeq, PID: port}, Data: make([]byte, 8)})
		binary.NativeEndian.PutUint32(b[0:4], 100) // runs past the datagram
		return b
	}
	reqs := []*faultwalk.FaultRequest{
		&seed,
		&seedBare,
		{Name: "NLMSG_NOOP (0x1), NLM_F_ACK", Datagram: typedRequest(netlink.Noop, netlink.Request|netlink.Acknowledge, nil)},
		{Name: "NETL_MSG_ECHO (0x10), count 1", Datagram: typedRequest(netlink.TypeEcho, netlink.Request|netlink.Acknowledge,
			payload(netlink.EchoRequest{Count: 1, Data: []byte("fault walk")}))},
		{Name: "NETL_MSG_ECHO (0x10), count 3, 4096 bytes", Datagram: typedRequest(netlink.TypeEcho, netlink.Request|netlink.Acknowledge,
			payload(netlink.EchoRequest{Count: 3, Data: big[:netlink.EchoMaxData]}))},
		{Name: "NETL_MSG_BROADCAST (0x11), 2 members", Datagram: typedRequest(netlink.TypeBroadcast, netlink.Request|netlink.Acknowledge,
			payload(netlink.BroadcastRequest{Group: faultWalkGroup, Data: []byte("fault walk")}))},
		{Name: "NETL_MSG_NOTIFY (0x12), delay 0, to itself", Datagram: typedRequest(netlink.TypeNotify, netlink.Request|netlink.Acknowledge,
			payload(netlink.NotifyRequest{Data: []byte("fault walk")})), Async: []netlink.HeaderType{netlink.TypeNotify}},
		{Name: "NETL_MSG_DUMP (0x13), 1 part", Datagram: typedRequest(netlink.TypeDump, netlink.Request|netlink.Dump,
			payload(netlink.DumpRequest{Parts: 1})), ErrorThenDump: true},
		{Name: "NETL_MSG_DUMP (0x13), 300 parts (continued from recvmsg)", Datagram: typedRequest(netlink.TypeDump, netlink.Request|netlink.Dump,
			payload(netlink.DumpRequest{Parts: 300})), ErrorThenDump: true},
		{Name: "NETL_MSG_STATS (0x14)", Datagram: typedRequest(netlink.TypeStats, netlink.Request|netlink.Acknowledge, nil), Same: sameLen},
		{Name: "unknown type 0x15 (EOPNOTSUPP)", Datagram: typedRequest(0x15, netlink.Request, nil)},
		{Name: "NETL_MSG_ECHO (0x10), short payload (EINVAL)", Datagram: typedRequest(netlink.TypeEcho, netlink.Request, []byte{1, 2})},
		{Name: "bad nlmsg_len (EINVAL)", Datagram: badLen},
	}
	for _, r := range reqs {
		if r.Datagram == nil {
			panic(r.Name)
		}
		if slices.Contains(r.Async, netlink.TypeNotify) {
			r.After = notifyAfter(r)
		}
	}
	return reqs
}

// TestFaultWalkRequests walks every request type through every allocation
// failure the sending thread can meet (issue 15): each run must end in a
// clean errno or in the normal answer, the module must answer a plain echo
// after it, and the kernel must report nothing (KASAN, WARN, lockdep: the
// host's scanner fails this test on any report; leaks: kmemleak, after the
// suite, TestMain). Runs on kernels with fault injection: the debug flavour.
func TestFaultWalkRequests(t *testing.T) {
	begin(t)
	w := startFaultWalk(t)
	if w == nil {
		return
	}
	probe, err := netlink.Dial(netlink.ProtocolTest, nil)
	require.NoError(t, err)
	t.Cleanup(func() { probe.Close() })
	require.NoError(t, probe.SetReceiveTimeout(10*time.Second))
	plain, withErr := listener(t, false), listener(t, true)

	// After every run: the module answers a plain echo, and the group's
	// members got at most the one broadcast, or lost it with ENOBUFS.
	check := func(req *faultwalk.FaultRequest, ex faultwalk.Exchange, outcome string) error {
		replies, err := probe.Echo(netlink.EchoRequest{Count: 1, Data: []byte("probe")})
		if err != nil {
			return fmt.Errorf("%s, failure point %d (%s): the next echo failed: %w", req.Name, ex.Nth, outcome, err)
		}
		var r netlink.EchoRequest
		if len(replies) != 1 || r.UnmarshalBinary(replies[0].Data) != nil || string(r.Data) != "probe" {
			return fmt.Errorf("%s, failure point %d (%s): the next echo got %d replies %v", req.Name, ex.Nth, outcome, len(replies), replies)
		}
		isBroadcast := strings.HasPrefix(req.Name, "NETL_MSG_BROADCAST")
		succeeded := outcome == "same answer" || strings.HasPrefix(outcome, "recv ENOBUFS")
		for _, fd := range []int{plain, withErr} {
			msgs, errs, err := drainFD(fd)
			if err != nil {
				return err
			}
			for _, e := range errs {
				if e != unix.ENOBUFS || !isBroadcast {
					return fmt.Errorf("%s, failure point %d: a group member's receive failed with %s", req.Name, ex.Nth, unix.ErrnoName(e))
				}
			}
			if !isBroadcast && len(msgs) > 0 {
				return fmt.Errorf("%s: a group member got %d messages", req.Name, len(msgs))
			}
			if len(msgs) > 1 || (len(msgs) == 1 && (msgs[0].Header.Type != netlink.TypeBroadcast || string(msgs[0].Data) != "fault walk")) {
				return fmt.Errorf("%s, failure point %d: a group member got %v", req.Name, ex.Nth, msgs)
			}
			if isBroadcast && succeeded && len(msgs) == 0 && len(errs) == 0 {
				return fmt.Errorf("%s, failure point %d: the broadcast succeeded (%s) and a member got nothing, not even ENOBUFS", req.Name, ex.Nth, outcome)
			}
		}
		return nil
	}

	start := time.Now()
	for _, req := range faultWalkRequests() {
		t0 := time.Now()
		base, err := w.Exchange(*req, 0)
		require.NoError(t, err, req.Name)
		if _, err := faultwalk.Judge(*req, base, base); err != nil || base.SendErr != 0 || len(base.RecvErrs) > 0 || len(base.Msgs) == 0 {
			t.Fatalf("%s: the baseline (no failure injected) got %s (%v)", req.Name, base, err)
		}
		if err := check(req, base, "same answer"); err != nil {
			t.Fatalf("baseline: %v", err)
		}
		tally := faultwalk.Tally{}
		points, err := w.Walk(*req, faultWalkMax, func(ex faultwalk.Exchange) error {
			outcome, err := faultwalk.Judge(*req, ex, base)
			if err != nil {
				return err
			}
			if !ex.Injected && outcome != "same answer" {
				return fmt.Errorf("%s: with no failure injected (%d failure points passed), %s", req.Name, ex.Nth-1, outcome)
			}
			if ex.Injected {
				tally[outcome]++
			}
			return check(req, ex, outcome)
		})
		if errors.Is(err, faultwalk.ErrStillArmed) {
			t.Fatalf("fault walk: %s: %v", req.Name, err)
		}
		if err == nil && points == 0 {
			err = errors.New("no failure point at all: fail-nth never took")
		}
		if err != nil {
			t.Errorf("fault walk: %s: %v", req.Name, err)
			if _, err := probe.Echo(netlink.EchoRequest{Count: 1, Data: []byte("probe")}); err != nil {
				t.Fatalf("the module does not answer any more: %v", err)
			}
			continue
		}
		t.Logf("fault walk: %s: %d failure points, seen: %s (baseline: %s; %v)", req.Name, points, tally, base.Summary(), time.Since(t0).Round(time.Millisecond))
	}
	t.Logf("fault walk: all request types in %v", time.Since(start).Round(time.Millisecond))
}

// currentParams are netl's parameters as loaded, as insmod takes them.
func currentParams(t *testing.T) string {
	var p []string
	for _, name := range []string{"reply_count", "reply_interval_ms", "max_sleep_ms"} {
		p = append(p, name+"="+readParam(t, name))
	}
	return strings.Join(p, " ")
}

// TestFaultWalkModuleLoad walks init_module(netl.ko) through every
// allocation failure of the loading thread: the kernel's module loader's
// (the image's copy, sections, sysfs, kallsyms) and netl_init()'s (the
// workqueue, the notifier, the pernet kernel socket). A load that fails
// must fail with a clean errno and leave nothing behind: no module, no
// /sys/module/netl, no protocol 25. Then the module loads, with the
// parameters it had, and answers.
func TestFaultWalkModuleLoad(t *testing.T) {
	begin(t)
	w := startFaultWalk(t)
	if w == nil {
		return
	}
	image, err := os.ReadFile(modulePath(t))
	require.NoError(t, err)
	require.True(t, moduleLoaded(t), "netl is not loaded")
	params := currentParams(t)
	require.NoError(t, unloadModule(t), "rmmod netl")
	t.Cleanup(func() {
		if !moduleLoaded(t) {
			if err := loadModule(t, params); err != nil {
				t.Errorf("loading netl.ko %s again: %v", params, err)
			}
		}
	})
	cparams, err := unix.BytePtrFromString(params)
	require.NoError(t, err)

	// EBUSY: netl_net_init() cannot tell a failed allocation in
	// netlink_kernel_create() from protocol 25 being taken, and says
	// "another module holds it ..., or memory ran out" (netl.c).
	allowed := []unix.Errno{unix.ENOMEM, unix.EBUSY}
	answers := func() error {
		c, err := netlink.Dial(netlink.ProtocolTest, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetReceiveTimeout(10 * time.Second); err != nil {
			return err
		}
		replies, err := c.Echo(netlink.EchoRequest{Count: 1, Data: []byte("probe")})
		if err == nil && len(replies) != 1 {
			err = fmt.Errorf("%d replies to an echo", len(replies))
		}
		return err
	}
	nothingLeft := func() error {
		if moduleLoaded(t) {
			return errors.New("netl is in /proc/modules")
		}
		if _, err := os.Stat("/sys/module/netl"); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("/sys/module/netl: %v", err)
		}
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW, netlink.ProtocolTest)
		if err == nil {
			unix.Close(fd)
		}
		if !errors.Is(err, unix.EPROTONOSUPPORT) {
			return fmt.Errorf("socket(AF_NETLINK, SOCK_RAW, 25): %v, want EPROTONOSUPPORT", err)
		}
		return nil
	}

	tally := faultwalk.Tally{}
	start := time.Now()
	points := -1
	for n := 1; n <= faultWalkMax; n++ {
		_, e, left, err := w.Call(n, unix.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&image[0])), uintptr(len(image)), uintptr(unsafe.Pointer(cparams)))
		require.NoError(t, err)
		if left > 0 {
			require.Zero(t, e, "init_module with no failure injected (%d failure points passed)", n-1)
			points = n - 1
			break
		}
		if e == 0 {
			// The failure was absorbed: the module is loaded.
			tally["loaded"]++
			require.NoError(t, answers(), "failure point %d absorbed, module loaded: it must answer", n)
			require.NoError(t, unloadModule(t), "rmmod netl after failure point %d", n)
			continue
		}
		tally[unix.ErrnoName(e)]++
		if !slices.Contains(allowed, e) {
			t.Errorf("failure point %d: init_module failed with %s (%v), want ENOMEM or EBUSY", n, unix.ErrnoName(e), e)
		}
		if err := nothingLeft(); err != nil {
			t.Fatalf("failure point %d: init_module failed with %s, and left something behind: %v", n, unix.ErrnoName(e), err)
		}
	}
	if points < 0 {
		t.Fatalf("init_module still failing at failure point %d: the walk did not end", faultWalkMax)
	}
	require.Positive(t, points, "a module load with no failure point: fail-nth never took")
	require.True(t, moduleLoaded(t))
	require.Equal(t, params, currentParams(t), "the parameters after the walk")
	require.NoError(t, answers(), "after the walk")
	t.Logf("fault walk: module load (init_module, %d-byte netl.ko, %s): %d failure points, seen: %s (%v)",
		len(image), params, points, tally, time.Since(start).Round(time.Millisecond))
}

// isAck reports whether an NLMSG_ERROR message is an acknowledgement.
func isAck(m netlink.Message) bool {
	c, err := netlink.ErrorCode(m)
	return err == nil && c == 0
}
