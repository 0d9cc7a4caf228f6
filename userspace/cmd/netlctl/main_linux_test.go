package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// These tests run against NETLINK_ROUTE (-protocol 0), which every Linux
// kernel has, except TestSeedAgainstModule, which adapts to whether netl.ko
// is loaded.

func TestSendLinkDump(t *testing.T) {
	code, stdout, stderr := runCommand("send", "-protocol", "0", "-type", "18", "-flags", "request|dump",
		"-timeout", "5s", "-hex", "00000000 00000000 00000000 00000000")
	require.Equal(t, 0, code, "exit status\n- want: 0\n-  got: %d\nstderr: %s", code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.GreaterOrEqual(t, len(lines), 2, "stdout: %s", stdout)
	for _, l := range lines[:len(lines)-1] {
		assert.True(t, strings.HasPrefix(l, "type=0x10 flags=multi seq=1 pid="), "a part of the dump\n- want: type=0x10 flags=multi seq=1 pid=...\n-  got: %.60s", l)
	}
	last := lines[len(lines)-1]
	assert.True(t, strings.HasPrefix(last, "type=done flags=multi seq=1 pid="), "the last line\n- want: type=done ...\n-  got: %s", last)
	assert.Contains(t, last, `len=20 data="\x00\x00\x00\x00"`)
}

func TestSendAck(t *testing.T) {
	code, stdout, stderr := runCommand("send", "-protocol", "0", "-type", "noop", "-ack", "-seq", "77", "-timeout", "5s")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Regexp(t, `^type=error flags=\S+ seq=77 pid=\d+ len=36 data="\\x00\\x00\\x00\\x00`, stdout)
}

func TestSendErrno(t *testing.T) {
	// RTM_GETLINK of interface index 0x7ffffff0, which does not exist.
	code, stdout, stderr := runCommand("send", "-protocol", "0", "-type", "18", "-timeout", "5s",
		"-hex", "00000000f0ffff7f0000000000000000")
	assert.Equal(t, exitKernel, code, "exit status: the kernel's error")
	assert.Empty(t, stdout)
	want := "netlctl: netlink receive: " + unix.ENODEV.Error() + "\n"
	assert.Equal(t, want, stderr, "- want: %q\n-  got: %q", want, stderr)
}

func TestSendTimeout(t *testing.T) {
	// Without the request flag the kernel ignores the message.
	code, _, stderr := runCommand("send", "-protocol", "0", "-type", "18", "-flags", "0", "-timeout", "100ms")
	assert.Equal(t, exitTimeout, code)
	warning, rest, _ := strings.Cut(stderr, "\n")
	assert.Equal(t, "netlctl: send: warning: no NLM_F_REQUEST in -flags: the kernel may not answer", warning)
	assert.True(t, strings.HasPrefix(rest, "netlctl: no reply within 100ms: "), "stderr: %q", stderr)
}

func TestSeedTimeout(t *testing.T) {
	// NETLINK_ROUTE ignores the seed's message (type 0, no request flag):
	// no reply comes.
	code, stdout, stderr := runCommand("seed", "-protocol", "0", "-port", "0", "-timeout", "100ms")
	assert.Equal(t, exitTimeout, code)
	assert.Empty(t, stdout)
	assert.True(t, strings.HasPrefix(stderr, "netlctl: no reply 1 of 1 within 100ms: "), "stderr: %q", stderr)
}

func TestSeedAgainstModule(t *testing.T) {
	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{NoBind: true})
	if err != nil {
		// No netl.ko: seed must say so.
		require.ErrorIs(t, err, unix.EPROTONOSUPPORT)
		code, stdout, stderr := runCommand("seed", "-port", "0", "-timeout", "1s")
		assert.Equal(t, 1, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "(is netl.ko loaded?)")
		return
	}
	c.Close()
	code, stdout, stderr := runCommand("seed", "-port", "0", "-timeout", "10s")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	want := "Received message: " + netlink.SeedReply + "\n"
	assert.Equal(t, want, stdout, "- want: %q\n-  got: %q", want, stdout)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestListen(t *testing.T) {
	const port = 0x7ffff101
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run([]string{"listen", "-protocol", "0", "-port", fmt.Sprint(port), "-count", "2", "-timeout", "5s"}, &stdout, &stderr)
	}()

	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	require.NoError(t, err)
	defer c.Close()
	from, err := c.PID()
	require.NoError(t, err)
	m := netlink.Message{Header: netlink.Header{Type: 0x42, Flags: netlink.Request, Sequence: 3, PID: 9}, Data: []byte("hi")}
	// Until the listener has bound its port, sending to it is refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = c.SendTo(m, port, 0)
		if !errors.Is(err, unix.ECONNREFUSED) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, err)
	require.NoError(t, c.SendTo(m, port, 0))

	select {
	case code := <-done:
		require.Equal(t, 0, code, "stderr: %s", stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not return")
	}
	line := fmt.Sprintf("from=%d type=0x42 flags=request seq=3 pid=9 len=18 data=\"hi\"\n", from)
	assert.Equal(t, line+line, stdout.String())
	assert.Contains(t, stderr.String(), fmt.Sprintf("netlctl: listening on port %d", port))
}

func TestListenTimeout(t *testing.T) {
	// With -count 0, a quiet -timeout ends listening normally.
	code, stdout, stderr := runCommand("listen", "-protocol", "0", "-timeout", "100ms")
	assert.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Empty(t, stdout)

	// With -count N it is an error.
	code, _, stderr = runCommand("listen", "-protocol", "0", "-count", "1", "-timeout", "100ms")
	assert.Equal(t, exitTimeout, code)
	assert.Contains(t, stderr, "netlctl: received 0 of 1 messages, then none within 100ms")
}

func TestListenGroups(t *testing.T) {
	// RTNLGRP_LINK is group 1 of NETLINK_ROUTE; 0xffff does not exist.
	code, _, stderr := runCommand("listen", "-protocol", "0", "-group", "1", "-timeout", "10ms")
	assert.Equal(t, 0, code, "stderr: %s", stderr)
	code, _, stderr = runCommand("listen", "-protocol", "0", "-group", "1", "-group", "65535", "-timeout", "10ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "netlctl: joining group 65535: ")
}

// TestTypedCommandsAgainstModule runs echo, broadcast, notify, dump and
// stats against netl.ko where it is loaded, and checks that each says the
// module is missing where it is not.
func TestTypedCommandsAgainstModule(t *testing.T) {
	commands := [][]string{
		{"echo", "-count", "2", "-interval", "0", "twice"},
		{"broadcast", "-group", "64", "to nobody"},
		{"notify", "-delay", "10", "-wait", "soon"},
		{"dump", "-parts", "3"},
		{"stats"},
	}
	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{NoBind: true})
	if err != nil {
		require.ErrorIs(t, err, unix.EPROTONOSUPPORT)
		for _, args := range commands {
			code, stdout, stderr := runCommand(args...)
			assert.Equal(t, 1, code, "netlctl %s", strings.Join(args, " "))
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, "(is netl.ko loaded?)", "netlctl %s", strings.Join(args, " "))
		}
		return
	}
	c.Close()

	code, stdout, stderr := runCommand(commands[0]...)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Regexp(t, `^(type=0x10 flags=0 seq=1 pid=0 len=29 count=2 interval_ms=0 data="twice"\n){2}$`, stdout)

	code, stdout, stderr = runCommand(commands[1]...)
	if unix.Geteuid() == 0 {
		assert.Equal(t, 0, code, "stderr: %s", stderr)
	} else {
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "netlctl: broadcast to group 64: netlink receive: "+unix.EPERM.Error())
	}
	assert.Empty(t, stdout)

	code, stdout, stderr = runCommand(commands[2]...)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Regexp(t, `^after=\d+ms type=0x12 flags=0 seq=0 pid=0 len=20 data="soon"\n$`, stdout)

	// -timeout counts from the notification's delay, not from the request.
	code, stdout, stderr = runCommand("notify", "-delay", "2000", "-wait", "-timeout", "1s", "later")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Regexp(t, `^after=[\d.]+m?s type=0x12 .* data="later"\n$`, stdout)

	code, stdout, stderr = runCommand(commands[3]...)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Equal(t, "index=0 total=3\nindex=1 total=3\nindex=2 total=3\n", stdout)

	code, stdout, stderr = runCommand(commands[4]...)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Regexp(t, `^rx_msgs [1-9]\d*\nrx_bytes \d+\nrx_malformed \d+\ntx_msgs \d+\ntx_drops \d+\nbroadcasts \d+\nnotifies [1-9]\d*\ndumps [1-9]\d*\n$`, stdout)

	// The module's words for the error come with its code (NETLINK_EXT_ACK).
	code, _, stderr = runCommand("echo", "-count", "101")
	assert.Equal(t, exitKernel, code, "the kernel's error")
	assert.Equal(t, "netlctl: echo: netlink receive: "+unix.EINVAL.Error()+": netl: echo count above 100\n", stderr)

	// -json: the replies' fields, and the error's errno and words.
	code, stdout, stderr = runCommand("echo", "-json", "-count", "1", "once")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var reply map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &reply), "stdout: %s", stdout)
	assert.Equal(t, "once", reply["text"])
	assert.Equal(t, float64(1), reply["count"])
	code, stdout, _ = runCommand("echo", "-json", "-count", "101")
	assert.Equal(t, exitKernel, code)
	var fail map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &fail), "stdout: %s", stdout)
	assert.Equal(t, "netl: echo count above 100", fail["ext_ack"])
	assert.Equal(t, float64(unix.EINVAL), fail["errno"])

	if unix.Geteuid() == 0 {
		t.Run("listen to a group", testListenToModuleGroup)
	}
}

// listen -group prints what netl.ko broadcasts to the group, and names
// the group (NETLINK_PKTINFO). Broadcasting needs CAP_NET_ADMIN.
func testListenToModuleGroup(t *testing.T) {
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"listen", "-group", "63", "-count", "1", "-timeout", "10s"}, &stdout, &stderr)
	}()
	// A broadcast to a group without members is no error: send until the
	// listener, once it has joined, has one.
	for try := 0; ; try++ {
		code, _, errOut := runCommand("broadcast", "-group", "63", "to the listener")
		require.Equal(t, 0, code, "broadcast: %s", errOut)
		select {
		case code := <-done:
			require.Equal(t, 0, code, "listen: %s", stderr.String())
			assert.Regexp(t, `^from=0 group=63 type=0x11 flags=0 seq=0 pid=0 len=31 data="to the listener"\n$`, stdout.String())
			return
		case <-time.After(50 * time.Millisecond):
		}
		require.Less(t, try, 200, "listen printed nothing in 10 s of broadcasts; stderr: %s", stderr.String())
	}
}

// send -json: an object per reply; an error ends with an object that
// carries the errno and the kernel's words for it.
func TestSendJSON(t *testing.T) {
	code, stdout, stderr := runCommand("send", "-json", "-protocol", "0", "-type", "noop", "-ack", "-seq", "78", "-timeout", "5s")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var ack map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &ack), "stdout: %s", stdout)
	assert.Equal(t, "error", ack["type"])
	assert.Equal(t, float64(2), ack["type_num"])
	assert.Equal(t, float64(78), ack["seq"])
	assert.True(t, strings.HasPrefix(ack["data_hex"].(string), "00000000"), "code 0: %v", ack["data_hex"])

	// With strict checking (a flag netlctl has not), rtnetlink would
	// explain; without it, an unknown interface: ENODEV and no words.
	code, stdout, _ = runCommand("send", "-json", "-protocol", "0", "-type", "18", "-timeout", "5s",
		"-hex", "00000000f0ffff7f0000000000000000")
	assert.Equal(t, exitKernel, code)
	var fail map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &fail), "stdout: %s", stdout)
	assert.Equal(t, float64(unix.ENODEV), fail["errno"])
	assert.Equal(t, float64(exitKernel), fail["exit"])
	assert.Equal(t, false, fail["timeout"])
}
