package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCommand runs netlctl with args and returns its exit status and output.
func runCommand(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// Help that was asked for goes to standard output, with status 0.
func TestHelpToStdout(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-h"}, "commands:"},
		{[]string{"help"}, "commands:"},
		{[]string{"seed", "-h"}, "usage: netlctl seed"},
		{[]string{"echo", "-h"}, "usage: netlctl echo [-count N] [-interval MS|param]"},
	} {
		code, stdout, stderr := runCommand(tc.args...)
		assert.Equal(t, 0, code, "%v", tc.args)
		assert.Contains(t, stdout, tc.want, "%v: help on standard output", tc.args)
		assert.Empty(t, stderr, "%v", tc.args)
	}
}

// The exit status tells a timeout and the kernel's error from others.
func TestExitCodes(t *testing.T) {
	timeout := &netlink.OpError{Op: "receive", Err: os.ErrDeadlineExceeded}
	kernel := &netlink.OpError{Op: "receive", Err: syscall.EINVAL}
	sys := &netlink.OpError{Op: "send", Err: os.NewSyscallError("sendmsg", syscall.EPERM)}
	assert.Equal(t, exitTimeout, exitCode(fmt.Errorf("no reply within 1s: %w", timeout)))
	assert.Equal(t, exitKernel, exitCode(fmt.Errorf("echo: %w", kernel)))
	assert.Equal(t, 1, exitCode(sys), "a failed system call is not the kernel's answer")
	assert.Equal(t, 1, exitCode(errors.New("other")))
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: 2, wantStderr: "usage: netlctl <command>"},

		{name: "unknown command", args: []string{"frob"}, wantCode: 2, wantStderr: `netlctl: unknown command "frob"`},

		{name: "unknown flag", args: []string{"seed", "-frob"}, wantCode: 2, wantStderr: "netlctl: seed: flag provided but not defined: -frob"},
		{name: "bad socket type", args: []string{"seed", "-type", "stream"}, wantCode: 2, wantStderr: `netlctl: seed: invalid value "stream" for flag -type`},
		{name: "bad port", args: []string{"seed", "-port", "-1"}, wantCode: 2, wantStderr: "netlctl: seed: invalid value"},
		{name: "two messages", args: []string{"seed", "a", "b"}, wantCode: 2, wantStderr: "netlctl: seed: want at most one MESSAGE argument"},
		{name: "zero count", args: []string{"seed", "-count", "0"}, wantCode: 2, wantStderr: "netlctl: seed: -count 0 is out of range"},
		{name: "negative timeout", args: []string{"seed", "-timeout", "-1s"}, wantCode: 2, wantStderr: "netlctl: seed: -timeout -1s is negative"},
		{name: "send without type", args: []string{"send"}, wantCode: 2, wantStderr: "netlctl: send: -type is required"},
		{name: "send bad type", args: []string{"send", "-type", "frob"}, wantCode: 2, wantStderr: `invalid value "frob" for flag -type`},
		{name: "send bad flags", args: []string{"send", "-type", "echo", "-flags", "request|frob"}, wantCode: 2, wantStderr: `unknown flag "frob"`},
		{name: "send bad hex", args: []string{"send", "-type", "echo", "-hex", "zz"}, wantCode: 2, wantStderr: "netlctl: send: PAYLOAD is not hex"},
		{name: "listen group 0", args: []string{"listen", "-group", "0"}, wantCode: 2, wantStderr: "want a group number, 1 or more"},
		{name: "listen arguments", args: []string{"listen", "x"}, wantCode: 2, wantStderr: "netlctl: listen: unexpected arguments"},

		{name: "echo bad interval", args: []string{"echo", "-interval", "soon"}, wantCode: 2, wantStderr: `invalid value "soon" for flag -interval: want milliseconds or param`},
		{name: "echo bad count", args: []string{"echo", "-count", "-1"}, wantCode: 2, wantStderr: `invalid value "-1" for flag -count`},
		{name: "echo two arguments", args: []string{"echo", "a", "b"}, wantCode: 2, wantStderr: "netlctl: echo: want at most one DATA argument, got 2"},
		{name: "echo bad hex", args: []string{"echo", "-hex", "0g"}, wantCode: 2, wantStderr: "netlctl: echo: DATA is not hex"},
		{name: "broadcast without group", args: []string{"broadcast", "x"}, wantCode: 2, wantStderr: "netlctl: broadcast: -group is required"},
		{name: "broadcast bad group", args: []string{"broadcast", "-group", "x"}, wantCode: 2, wantStderr: `invalid value "x" for flag -group`},
		{name: "notify wait for another port", args: []string{"notify", "-port", "5", "-wait"}, wantCode: 2, wantStderr: "netlctl: notify: -wait needs the notification sent to netlctl's own port"},
		{name: "notify negative timeout", args: []string{"notify", "-timeout", "-1s"}, wantCode: 2, wantStderr: "netlctl: notify: -timeout -1s is negative"},
		{name: "dump without parts", args: []string{"dump"}, wantCode: 2, wantStderr: "netlctl: dump: -parts is required"},
		{name: "dump arguments", args: []string{"dump", "-parts", "3", "x"}, wantCode: 2, wantStderr: "netlctl: dump: unexpected arguments"},
		{name: "stats arguments", args: []string{"stats", "x"}, wantCode: 2, wantStderr: "netlctl: stats: unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCommand(tt.args...)
			assert.Equal(t, tt.wantCode, code, "exit status\n- want: %v\n-  got: %v\nstderr: %s", tt.wantCode, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.wantStderr, "stderr\n- want: %q in it\n-  got: %q", tt.wantStderr, stderr)
		})
	}
}

func TestFlagValues(t *testing.T) {
	tests := []struct {
		in   string
		want string // netlink.HeaderFlags.String of the result
	}{
		{in: "request", want: "request"},
		{in: "request|ack", want: "request|acknowledge"},
		{in: "request,dump", want: "request|dump"},
		{in: "0x5", want: "request|acknowledge"},
		{in: "request|0x100", want: "request|root/replace"},
		{in: "", want: "0"},
	}
	for _, tt := range tests {
		var v headerFlagsValue
		if !assert.NoError(t, v.Set(tt.in), "-flags %q", tt.in) {
			continue
		}
		assert.Equal(t, tt.want, v.String(), "-flags %q\n- want: %v\n-  got: %v", tt.in, tt.want, v.String())
	}

	for in, want := range map[string]string{"echo": "0x10", "ECHO": "0x10", "seed": "0x0", "18": "0x12", "0x2": "error"} {
		var v headerTypeValue
		if assert.NoError(t, v.Set(in), "-type %q", in) {
			assert.Equal(t, want, v.String(), "-type %q\n- want: %v\n-  got: %v", in, want, v.String())
		}
	}
	assert.True(t, strings.HasPrefix(usage, "usage: netlctl"))

	for _, tt := range []struct {
		in     string
		want   uint32
		String string
	}{
		{"param", netlink.EchoParamInterval, "param"},
		{"0", 0, "0"},
		{"250", 250, "250"},
		{"0x10", 16, "16"},
		{"4294967295", netlink.EchoParamInterval, "param"},
	} {
		var v intervalValue
		if assert.NoError(t, v.Set(tt.in), "-interval %q", tt.in) {
			assert.Equal(t, tt.want, uint32(v), "-interval %q\n- want: %d\n-  got: %d", tt.in, tt.want, uint32(v))
			assert.Equal(t, tt.String, v.String(), "-interval %q printed\n- want: %s\n-  got: %s", tt.in, tt.String, v.String())
		}
	}
}

// Every command is listed in the usage text and documented in main.go's
// synopsis.
func TestUsageListsCommands(t *testing.T) {
	for name := range commands {
		assert.Regexp(t, "(?m)^  "+name+" ", usage, "command %s in the usage text", name)
		code, stdout, _ := runCommand(name, "-h")
		assert.Equal(t, 0, code, "%s -h", name)
		assert.Contains(t, stdout, "usage: netlctl "+name+" ", "%s -h", name)
	}
}

func TestPrintStats(t *testing.T) {
	st := netlink.Stats{RxMsgs: 1, RxBytes: 2, RxMalformed: 3, TxMsgs: 4, TxDrops: 5, Broadcasts: 6, Notifies: 7, Dumps: 1 << 40}
	var b bytes.Buffer
	printStats(&output{stdout: &b}, st)
	want := "rx_msgs 1\nrx_bytes 2\nrx_malformed 3\ntx_msgs 4\ntx_drops 5\nbroadcasts 6\nnotifies 7\ndumps 1099511627776\n"
	assert.Equal(t, want, b.String(), "- want: %q\n-  got: %q", want, b.String())

	b.Reset()
	printStats(&output{stdout: &b, json: true}, st)
	want = `{"broadcasts":6,"dumps":1099511627776,"notifies":7,"rx_bytes":2,"rx_malformed":3,"rx_msgs":1,"tx_drops":5,"tx_msgs":4}` + "\n"
	assert.Equal(t, want, b.String(), "-json: one object")
}

// With -json, an error ends the output with an object a script can read:
// the text, the exit status, the errno and the kernel's words.
func TestJSONFailure(t *testing.T) {
	var b bytes.Buffer
	o := &output{stdout: &b, json: true}
	err := fmt.Errorf("echo: %w", &netlink.OpError{Op: "receive", Err: syscall.EINVAL,
		ExtAck: &netlink.ExtAck{Message: "netl: echo count above 100", Offset: 16, HasOffset: true}})
	o.failure(err, exitCode(err))
	got := map[string]any{}
	require.NoError(t, json.Unmarshal(b.Bytes(), &got), "%s", b.String())
	assert.Equal(t, map[string]any{
		"error":          err.Error(),
		"exit":           float64(exitKernel),
		"timeout":        false,
		"errno":          float64(syscall.EINVAL),
		"errno_text":     "invalid argument",
		"ext_ack":        "netl: echo count above 100",
		"ext_ack_offset": float64(16),
	}, got)

	// A timeout's EAGAIN and a failed system call's errno are not the
	// kernel's answer: no errno in the object.
	for _, err := range []error{
		fmt.Errorf("no reply within 1s: %w", &netlink.OpError{Op: "receive", Err: &timeoutLike{os.NewSyscallError("recvmsg", syscall.EAGAIN)}}),
		&netlink.OpError{Op: "send", Err: os.NewSyscallError("sendmsg", syscall.EPERM)},
	} {
		b.Reset()
		o.failure(err, exitCode(err))
		got := map[string]any{}
		require.NoError(t, json.Unmarshal(b.Bytes(), &got), "%s", b.String())
		assert.NotContains(t, got, "errno", "%v", err)
		assert.Equal(t, isTimeout(err), got["timeout"], "%v", err)
		assert.Equal(t, float64(exitCode(err)), got["exit"], "%v", err)
	}

	b.Reset()
	(&output{stdout: &b}).failure(err, 1)
	assert.Empty(t, b.String(), "without -json, errors go to standard error only")
}

// timeoutLike is a receive timeout as the client makes one: it wraps the
// system call's EAGAIN and matches os.ErrDeadlineExceeded.
type timeoutLike struct{ err error }

func (e *timeoutLike) Error() string        { return "timed out: " + e.err.Error() }
func (e *timeoutLike) Unwrap() error        { return e.err }
func (e *timeoutLike) Is(target error) bool { return target == os.ErrDeadlineExceeded }
