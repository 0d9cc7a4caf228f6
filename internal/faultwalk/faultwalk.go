//go:build linux

// Package faultwalk fails the allocations of one request at a time, in
// turn, through the calling thread's /proc/thread-self/fail-nth: the guest
// suite's fault walk (vmtest/guest, TestFaultWalkRequests and
// TestFaultWalkModuleLoad) and repro case B3-walk run it in the guest.
package faultwalk

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/userspace/netlink"
)

// Systematic fault injection: a request is sent again and again,
// with the nth failure point of the sending thread made to fail on the nth
// run, until a run passes every failure point without a failure. The
// kernel's fail-nth interface does the counting
// (Documentation/fault-injection/fault-injection.rst, "Fault injection via
// /proc/thread-self/fail-nth"; lib/fault-inject.c, should_fail_ex(), the same
// on 5.10, 6.1, 6.12 and 7.2): writing n to /proc/thread-self/fail-nth makes
// the thread's nth call of should_fail() in task context fail, whatever the
// probability, task filter or interval; each call before it decrements the
// counter, the failing one leaves it 0. Reading it back after the request
// says what happened: 0, the failure was injected; a positive value, the
// request made fewer than n allocations that could fail, so the walk is
// complete.
//
// What counts as a failure point: a slab allocation (failslab) and a page
// allocation (fail_page_alloc) by this thread, sleeping ones included once
// the walk sets ignore-gfp-wait to N, and any order (min-order 0). Work the
// module hands to another context (a workqueue, a timer, RCU, softirq) runs
// in another task or outside task context and is not counted: a delayed
// notification's message, built by netl's work function, is never failed
// here. Failure points are the kernel's as well as the module's: the
// sendmsg path's own skb, kmemleak's and KASAN's bookkeeping, the module
// loader's copies. Each is a place where this thread's request meets an
// allocation failure, and the request must still end in a clean errno or a
// normal answer.
//
// The thread that walks must be locked to its OS thread
// (runtime.LockOSThread) for the whole walk: fail-nth belongs to a thread.
// Between arming and reading back, the walker makes raw system calls only,
// into buffers touched beforehand, with signals blocked: a page fault or a
// signal frame written to an untouched page would be a failure point of the
// Go runtime's, not of the request (and a failed user page fault ends in
// the OOM path or SIGSEGV).

// FaultDebugFS is where the fault injection knobs live.
const FaultDebugFS = contract.DebugFS

// FailNthPath is the calling thread's fail-nth file.
const FailNthPath = "/proc/thread-self/fail-nth"

// FaultInjectionAvailable says whether the running kernel has fail-nth
// (CONFIG_FAULT_INJECTION).
func FaultInjectionAvailable() bool {
	_, err := os.Stat(FailNthPath)
	return err == nil
}

// faultKnobs are set for the walk and restored after it. verbose 0: a
// failure is not announced on the console with a stack dump (thousands of
// them would flood the console the host's scanner reads; the dump is no
// report to it, but it is slow under TCG).
var faultKnobs = []struct{ file, value string }{
	{"failslab/ignore-gfp-wait", "N"},
	{"failslab/verbose", "0"},
	{"fail_page_alloc/ignore-gfp-wait", "N"},
	{"fail_page_alloc/ignore-gfp-highmem", "N"},
	{"fail_page_alloc/min-order", "0"},
	{"fail_page_alloc/verbose", "0"},
}

// SetFaultKnobs mounts debugfs if needed and sets failslab and
// fail_page_alloc so that every slab and page allocation of a thread with
// fail-nth set counts. It returns a function that puts the old values back.
func SetFaultKnobs() (restore func() error, err error) {
	if err := contract.MountDebugFS(); err != nil {
		return nil, err
	}
	type saved struct{ path, value string }
	var old []saved
	restore = func() error {
		var errs []error
		for i := len(old) - 1; i >= 0; i-- {
			if err := os.WriteFile(old[i].path, []byte(old[i].value), 0); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, k := range faultKnobs {
		p := filepath.Join(FaultDebugFS, k.file)
		v, err := os.ReadFile(p)
		if err != nil {
			_ = restore()
			return nil, fmt.Errorf("fault injection knob: %w (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS)", err)
		}
		if err := os.WriteFile(p, []byte(k.value), 0); err != nil {
			_ = restore()
			return nil, fmt.Errorf("setting %s to %s: %w", p, k.value, err)
		}
		old = append(old, saved{p, strings.TrimSpace(string(v))})
	}
	return restore, nil
}

// FaultWalker injects one allocation failure at a time into the requests
// of the thread that made it. Make it, use it and close it on one goroutine
// locked to its OS thread.
type FaultWalker struct {
	tid    int
	failFD int
	nth    [][]byte // "n" for the write, by n, made ahead of time
	zero   []byte
	readb  []byte
	arena  []byte // receive buffer, touched
	dgrams [maxDatagrams][2]int
	errnos [maxDatagrams]unix.Errno
	sigs   unix.Sigset_t
	old    unix.Sigset_t // the mask before Arm
	armed  bool
}

const (
	maxDatagrams = 1024
	arenaSize    = 1 << 20
	recvRoom     = 64 << 10 // the least room left for one receive
)

// NewFaultWalker opens the calling thread's fail-nth file. The caller must
// have locked its goroutine to the OS thread, and keep it locked until
// Close.
func NewFaultWalker() (*FaultWalker, error) {
	fd, err := unix.Open(FailNthPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w (CONFIG_FAULT_INJECTION)", FailNthPath, err)
	}
	w := &FaultWalker{tid: unix.Gettid(), failFD: fd, zero: []byte("0"), readb: make([]byte, 32), arena: make([]byte, arenaSize)}
	for i := 0; i < len(w.arena); i += 512 {
		w.arena[i] = 1 // fault every page in now, not while armed
	}
	// The datagram table too: fresh pages from the OS are zero, and the
	// allocator does not write them.
	for i := range w.dgrams {
		w.dgrams[i] = [2]int{-1, -1}
		w.errnos[i] = unix.EAGAIN
	}
	// Every signal blocked while armed: the Go runtime's preemption
	// signal (SIGURG) would otherwise write a signal frame, maybe onto a
	// page not yet touched. Signals that come meanwhile wait.
	for i := range w.sigs.Val {
		w.sigs.Val[i] = ^uint64(0)
	}
	if _, err := w.Disarm(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return w, nil
}

// Close sets fail-nth back to 0 and closes the file.
func (w *FaultWalker) Close() error {
	_, err := w.Disarm()
	if cerr := unix.Close(w.failFD); err == nil {
		err = cerr
	}
	return err
}

func (w *FaultWalker) nthBytes(n int) []byte {
	for len(w.nth) <= n {
		w.nth = append(w.nth, []byte(strconv.Itoa(len(w.nth))))
	}
	return w.nth[n]
}

// Arm makes the calling thread's nth failure point from now on fail. Between
// Arm and the read-back, make raw system calls only (unix.RawSyscall6, no
// other function call), into memory touched before: a Go function's
// prologue is where the runtime preempts a goroutine, and what it does
// then (a new thread for the locked one's P, a bigger stack) allocates in
// this thread, taking the injected failure.
func (w *FaultWalker) Arm(n int) error {
	if unix.Gettid() != w.tid {
		return fmt.Errorf("fault walk: armed from thread %d, opened on %d: the goroutine is not locked to its thread", unix.Gettid(), w.tid)
	}
	b := w.nthBytes(n)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &w.sigs, &w.old); err != nil {
		return err
	}
	w.armed = true
	_, _, e := unix.RawSyscall6(unix.SYS_PWRITE64, uintptr(w.failFD), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	if e != 0 {
		_, _ = w.Disarm()
		return fmt.Errorf("writing %s to %s: %w", b, FailNthPath, e)
	}
	return nil
}

// Disarm reads fail-nth back and sets it to 0. left is 0 when the failure
// was injected, and positive when the thread passed fewer failure points
// than Arm asked for.
func (w *FaultWalker) Disarm() (left int, err error) {
	n, _, e := unix.RawSyscall6(unix.SYS_PREAD64, uintptr(w.failFD), uintptr(unsafe.Pointer(&w.readb[0])), uintptr(len(w.readb)), 0, 0, 0)
	_, _, e2 := unix.RawSyscall6(unix.SYS_PWRITE64, uintptr(w.failFD), uintptr(unsafe.Pointer(&w.zero[0])), 1, 0, 0, 0)
	return w.disarmed(n, e, e2)
}

// ErrStillArmed: fail-nth could not be cleared, and the thread's next
// allocations may fail. Nothing more may run on the thread.
var ErrStillArmed = errors.New("fail-nth may still be armed")

// disarmed finishes Disarm after its two raw calls, which the callers that
// run a request armed make inline (see Arm): it restores the signal mask
// and reads the count.
func (w *FaultWalker) disarmed(n uintptr, e, e2 unix.Errno) (left int, err error) {
	var serr error
	if w.armed {
		w.armed = false
		serr = unix.PthreadSigmask(unix.SIG_SETMASK, &w.old, nil)
	}
	if e2 != 0 {
		return 0, fmt.Errorf("%w: clearing %s: %v", ErrStillArmed, FailNthPath, e2)
	}
	if serr != nil {
		return 0, fmt.Errorf("restoring the signal mask: %w", serr)
	}
	if e != 0 {
		return 0, fmt.Errorf("reading %s: %w", FailNthPath, e)
	}
	left, err = strconv.Atoi(strings.TrimSpace(string(w.readb[:n])))
	if err != nil {
		return 0, fmt.Errorf("%s reads %q: %w", FailNthPath, w.readb[:n], err)
	}
	return left, nil
}

// FaultRequest is one request to walk: a datagram sent to the kernel (port
// 0) from a new socket of its own, bound by the kernel.
type FaultRequest struct {
	// Name says what it is in logs: "NETL_MSG_ECHO (0x10), count 3".
	Name string
	// Datagram returns what to send from the socket bound to port.
	Datagram func(port uint32) []byte
	// Async are message types that come from another context (netl's
	// notifications): they may arrive at any time and are not part of the
	// answer compared with the baseline.
	Async []netlink.HeaderType
	// Same compares a data message of the answer with the baseline's
	// (nil: type, flags, sequence and payload equal).
	Same func(got, base netlink.Message) bool
	// ErrorThenDump: the request starts a dump, and an NLMSG_ERROR ENOBUFS
	// may come first and the dump after it. That is the kernel's
	// netlink_dump_start() (the same on 5.10 to 7.2): when the first part's
	// skb cannot be allocated it returns -ENOBUFS, which the module (as
	// netlink_rcv_skb() for rtnetlink and genetlink) sends as the request's
	// error, yet it leaves the dump registered, and the requester's next
	// recvmsg() runs it to its NLMSG_DONE.
	ErrorThenDump bool
	// After, if set, runs once the failure point is disarmed, before the
	// socket fd is closed: to wait for what comes later (a notification).
	After func(fd int, ex *Exchange) error
}

// Exchange is what one request got: the sendmsg error, the datagrams
// received right after it (MSG_DONTWAIT: netl answers from inside the
// sender's sendmsg, and the kernel continues a dump from inside recvmsg),
// and whether the failure was injected.
type Exchange struct {
	Nth      int // the failure point aimed at; 0: none
	Injected bool
	Left     int // fail-nth read back
	Port     uint32
	SendErr  unix.Errno
	RecvErrs []unix.Errno // errors of receives, in order (ENOBUFS: a message was lost)
	Msgs     []netlink.Message
}

// Exchange sends req from a new socket with its nth failure point armed (0:
// none), receives what is there, and closes the socket. The socket is made
// and closed unarmed.
func (w *FaultWalker) Exchange(req FaultRequest, nth int) (ex Exchange, err error) {
	ex = Exchange{Nth: nth}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, netlink.ProtocolTest)
	if err != nil {
		return ex, fmt.Errorf("socket(AF_NETLINK, SOCK_RAW, %d): %w", netlink.ProtocolTest, err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return ex, fmt.Errorf("bind: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return ex, err
	}
	ex.Port = sa.(*unix.SockaddrNetlink).Pid
	dg := req.Datagram(ex.Port)
	to := unix.RawSockaddrNetlink{Family: unix.AF_NETLINK}
	nd, off := 0, 0

	if nth > 0 {
		if err := w.Arm(nth); err != nil {
			return ex, err
		}
	}
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&dg[0])), uintptr(len(dg)), 0,
		uintptr(unsafe.Pointer(&to)), unsafe.Sizeof(to))
	ex.SendErr = e
	for nd < maxDatagrams && len(w.arena)-off >= recvRoom {
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&w.arena[off])), uintptr(len(w.arena)-off),
			unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN {
			break
		}
		if e == unix.EINTR {
			continue
		}
		w.errnos[nd] = e
		w.dgrams[nd] = [2]int{off, int(n)}
		if e == 0 {
			off += int(n)
		}
		nd++
	}
	if nth > 0 {
		// Disarm's raw calls, inline: no function call before them.
		n, _, e := unix.RawSyscall6(unix.SYS_PREAD64, uintptr(w.failFD), uintptr(unsafe.Pointer(&w.readb[0])), uintptr(len(w.readb)), 0, 0, 0)
		_, _, e2 := unix.RawSyscall6(unix.SYS_PWRITE64, uintptr(w.failFD), uintptr(unsafe.Pointer(&w.zero[0])), 1, 0, 0, 0)
		left, err := w.disarmed(n, e, e2)
		if err != nil {
			return ex, err
		}
		ex.Left, ex.Injected = left, left == 0
	}
	if nd == maxDatagrams || len(w.arena)-off < recvRoom {
		return ex, fmt.Errorf("%s: the answer did not end (%d datagrams, %d bytes)", req.Name, nd, off)
	}

	defer func() {
		if err == nil && req.After != nil {
			err = req.After(fd, &ex)
		}
	}()
	for i := 0; i < nd; i++ {
		if w.errnos[i] != 0 {
			ex.RecvErrs = append(ex.RecvErrs, w.errnos[i])
			continue
		}
		d := w.arena[w.dgrams[i][0] : w.dgrams[i][0]+w.dgrams[i][1]]
		msgs, err := netlink.ParseMessages(d)
		if err != nil {
			return ex, fmt.Errorf("%s: a malformed answer (step %d): %w\n% x", req.Name, nth, err, d)
		}
		for _, m := range msgs {
			m.Data = bytes.Clone(m.Data)
			ex.Msgs = append(ex.Msgs, m)
		}
	}
	return ex, nil
}

// Walk runs req with failure point 1, 2, ... armed, until a run passes all
// of them with no failure injected, or max runs. step is called after each
// run (and before the next), the last one, with no failure injected,
// included; it may stop the walk with an error. Walk returns the number of
// failure points found: every one up to the last run's was failed in turn.
// (The last run may itself pass fewer, its Left above 1, when the kernel's
// own allocations on the way vary from run to run.)
func (w *FaultWalker) Walk(req FaultRequest, max int, step func(Exchange) error) (points int, err error) {
	for n := 1; n <= max; n++ {
		ex, err := w.Exchange(req, n)
		if err != nil {
			return n - 1, err
		}
		if err := step(ex); err != nil {
			return n - 1, err
		}
		if !ex.Injected {
			return n - 1, nil
		}
	}
	return max, fmt.Errorf("%s: still failing at failure point %d: the walk did not end", req.Name, max)
}

// Call makes one system call with the nth failure point armed, as Exchange
// does a request, and returns its result and what fail-nth read back.
func (w *FaultWalker) Call(nth int, trap, a1, a2, a3 uintptr) (r uintptr, e unix.Errno, left int, err error) {
	if err := w.Arm(nth); err != nil {
		return 0, 0, 0, err
	}
	r, _, e = unix.RawSyscall6(trap, a1, a2, a3, 0, 0, 0)
	n, _, e1 := unix.RawSyscall6(unix.SYS_PREAD64, uintptr(w.failFD), uintptr(unsafe.Pointer(&w.readb[0])), uintptr(len(w.readb)), 0, 0, 0)
	_, _, e2 := unix.RawSyscall6(unix.SYS_PWRITE64, uintptr(w.failFD), uintptr(unsafe.Pointer(&w.zero[0])), 1, 0, 0, 0)
	left, err = w.disarmed(n, e1, e2)
	return r, e, left, err
}

// errCode returns the error code of an NLMSG_ERROR or NLMSG_DONE message,
// 0 for any other.
func errCode(m netlink.Message) int32 {
	c, _ := netlink.ErrorCode(m)
	return c
}

func terminal(m netlink.Message) bool {
	return m.Header.Type == netlink.Error || m.Header.Type == netlink.Done
}

// Split returns the messages of the answer that are not Async, the data
// messages of it, and its final NLMSG_ERROR or NLMSG_DONE (nil: none). It
// fails if a terminal message is not the last one.
func (ex Exchange) Split(req FaultRequest) (data []netlink.Message, term *netlink.Message, err error) {
	for i, m := range ex.Msgs {
		if slices.Contains(req.Async, m.Header.Type) {
			continue
		}
		if term != nil {
			return nil, nil, fmt.Errorf("a %v message after the %s that ends the answer", m.Header.Type, Describe(*term))
		}
		if terminal(m) {
			term = &ex.Msgs[i]
			continue
		}
		data = append(data, m)
	}
	return data, term, nil
}

// Describe names an answer's final message: "ack", "NLMSG_ERROR ENOMEM",
// "NLMSG_DONE".
func Describe(m netlink.Message) string {
	code := errCode(m)
	switch {
	case m.Header.Type == netlink.Done && code == 0:
		return "NLMSG_DONE"
	case m.Header.Type == netlink.Done:
		return "NLMSG_DONE " + unix.ErrnoName(unix.Errno(-code))
	case code == 0:
		return "ack"
	case code > 0:
		return fmt.Sprintf("NLMSG_ERROR with positive code %d", code)
	}
	name := unix.ErrnoName(unix.Errno(-code))
	if name == "" {
		name = fmt.Sprintf("errno %d", -code)
	}
	return "NLMSG_ERROR " + name
}

// FaultErrnos are the errnos a request may end in when an allocation for it
// fails: ENOMEM (the module's own allocations, netl_proto.h), ENOBUFS (the
// kernel's netlink: a request skb not allocated, an ack or a dump part
// lost, a broadcast not delivered).
var FaultErrnos = []unix.Errno{unix.ENOMEM, unix.ENOBUFS}

// Judge compares a run with a failure injected against the baseline (the
// same request, nothing injected) and returns what the caller saw, for the
// tally: "same answer" (the failure was absorbed), "sendmsg ENOBUFS",
// "NLMSG_ERROR ENOMEM", "recv ENOBUFS", ...; or an error if the answer is
// neither the baseline's nor a clean failure. A clean failure is: sendmsg
// failing with one of FaultErrnos and nothing received; or the baseline's
// data messages cut short (a prefix of them), then an NLMSG_ERROR with one
// of FaultErrnos, or no final message where the baseline has one and a
// receive failing with ENOBUFS (the ack or the rest of a dump lost). Receive
// errors other than ENOBUFS are never clean.
func Judge(req FaultRequest, ex, base Exchange) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("%s, failure point %d: %s\n  got:      %s\n  baseline: %s", req.Name, ex.Nth, fmt.Sprintf(format, args...), ex, base)
	}
	if ex.SendErr != 0 {
		if !slices.Contains(FaultErrnos, ex.SendErr) {
			return bad("sendmsg failed with %s, not ENOMEM or ENOBUFS", unix.ErrnoName(ex.SendErr))
		}
		if len(ex.Msgs) > 0 || len(ex.RecvErrs) > 0 {
			return bad("sendmsg failed, yet an answer came")
		}
		return "sendmsg " + unix.ErrnoName(ex.SendErr), nil
	}
	if req.ErrorThenDump && len(ex.Msgs) > 1 && ex.Msgs[0].Header.Type == netlink.Error && errCode(ex.Msgs[0]) == -int32(unix.ENOBUFS) {
		rest := ex
		rest.Msgs = ex.Msgs[1:]
		req.ErrorThenDump = false
		outcome, err := Judge(req, rest, base)
		if err != nil {
			return "", err
		}
		return "NLMSG_ERROR ENOBUFS, then " + outcome, nil
	}
	lostSome := false
	for _, e := range ex.RecvErrs {
		if e != unix.ENOBUFS {
			return bad("a receive failed with %s", unix.ErrnoName(e))
		}
		lostSome = true
	}
	data, term, err := ex.Split(req)
	if err != nil {
		return bad("%v", err)
	}
	bdata, bterm, err := base.Split(req)
	if err != nil {
		return bad("baseline: %v", err)
	}
	if len(data) > len(bdata) {
		return bad("%d data messages, the baseline has %d", len(data), len(bdata))
	}
	for i, m := range data {
		same := req.Same
		if same == nil {
			same = SameMessage
		}
		if !same(m, bdata[i]) {
			return bad("data message %d differs from the baseline's", i)
		}
	}
	complete := len(data) == len(bdata)
	switch {
	case term != nil && bterm != nil && term.Header.Type == bterm.Header.Type && errCode(*term) == errCode(*bterm):
		if !complete {
			return bad("the baseline's %s after %d of %d data messages", Describe(*term), len(data), len(bdata))
		}
		if lostSome {
			return "recv ENOBUFS, answer complete", nil
		}
		return "same answer", nil
	case term != nil:
		code := errCode(*term)
		// A dump that fails on its way ends in NLMSG_DONE with the errno
		// (netlink_dump()'s dump_done_errno).
		if (term.Header.Type != netlink.Error && term.Header.Type != netlink.Done) || code >= 0 || !slices.Contains(FaultErrnos, unix.Errno(-code)) {
			return bad("ends in %s", Describe(*term))
		}
		return Describe(*term), nil
	case bterm != nil:
		if !lostSome {
			return bad("no %s and no ENOBUFS: the answer stopped silently", Describe(*bterm))
		}
		return "recv ENOBUFS", nil
	case complete && !lostSome:
		return "same answer", nil
	case lostSome:
		return "recv ENOBUFS", nil
	}
	// The baseline has no final message (a seed request without flags):
	// a failed reply is dropped silently, as netl_proto.h allows.
	return fmt.Sprintf("%d of %d replies, no error (none asked for)", len(data), len(bdata)), nil
}

// SameMessage compares type, flags, sequence number and payload.
func SameMessage(a, b netlink.Message) bool {
	return a.Header.Type == b.Header.Type && a.Header.Flags == b.Header.Flags &&
		a.Header.Sequence == b.Header.Sequence && bytes.Equal(a.Data, b.Data)
}

func (ex Exchange) String() string {
	var b strings.Builder
	if ex.SendErr != 0 {
		fmt.Fprintf(&b, "sendmsg %s; ", unix.ErrnoName(ex.SendErr))
	}
	for _, e := range ex.RecvErrs {
		fmt.Fprintf(&b, "recv %s; ", unix.ErrnoName(e))
	}
	for i, m := range ex.Msgs {
		if i == 12 {
			fmt.Fprintf(&b, "... (%d messages)", len(ex.Msgs))
			break
		}
		if terminal(m) {
			fmt.Fprintf(&b, "%s seq %d; ", Describe(m), m.Header.Sequence)
		} else {
			fmt.Fprintf(&b, "type %#x flags %v seq %d %dB; ", uint16(m.Header.Type), m.Header.Flags, m.Header.Sequence, len(m.Data))
		}
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// Summary says what an answer held, in short: "1 x type 0x10, ack",
// "300 x type 0x13, NLMSG_DONE".
func (ex Exchange) Summary() string {
	var parts []string
	last, n := "", 0
	flush := func() {
		if n == 1 {
			parts = append(parts, last)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d x %s", n, last))
		}
	}
	if ex.SendErr != 0 {
		parts = append(parts, "sendmsg "+unix.ErrnoName(ex.SendErr))
	}
	for _, e := range ex.RecvErrs {
		parts = append(parts, "recv "+unix.ErrnoName(e))
	}
	for _, m := range ex.Msgs {
		d := fmt.Sprintf("type %#x", uint16(m.Header.Type))
		if terminal(m) {
			d = Describe(m)
		}
		if d != last {
			flush()
			last, n = d, 0
		}
		n++
	}
	flush()
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// Tally counts what the steps of a walk showed.
type Tally map[string]int

// String lists the outcomes, most frequent first: "ENOMEM x5, ENOBUFS x2".
func (t Tally) String() string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if t[a] != t[b] {
			return t[b] - t[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", k, t[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// SeedFaultRequest is the article's request (type 0) with flags, from the
// socket's own port in nlmsg_pid (the seed module replies to nlmsg_pid):
// NLM_F_REQUEST|NLM_F_ACK asks netl for an ack, or an NLMSG_ERROR when a
// reply fails; the seed module ignores flags.
func SeedFaultRequest(name string, flags netlink.HeaderFlags) FaultRequest {
	return FaultRequest{
		Name: name,
		Datagram: func(port uint32) []byte {
			m := netlink.SeedRequest(port, "fault walk")
			m.Header.Flags = flags
			m.Header.Sequence = FaultWalkSeq
			b, err := m.MarshalBinary()
			if err != nil {
				panic(err)
			}
			return b
		},
	}
}

// FaultWalkSeq is the sequence number of every request a walk sends.
const FaultWalkSeq = 0x4657
