package netlink

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// u32s returns the values in native byte order, followed by tail.
func u32s(tail string, vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.NativeEndian.AppendUint32(b, v)
	}
	return append(b, tail...)
}

func TestRequestMarshal(t *testing.T) {
	tests := []struct {
		name string
		m    interface{ MarshalBinary() ([]byte, error) }
		want []byte
	}{
		{"echo", EchoRequest{Count: 3, IntervalMS: 250, Data: []byte("abc")}, u32s("abc", 3, 250)},
		{"echo, no data", EchoRequest{}, u32s("", 0, 0)},
		{"echo, parameters", EchoRequest{IntervalMS: EchoParamInterval}, u32s("", 0, 0xffffffff)},
		{"broadcast", BroadcastRequest{Group: 40, Data: []byte("hi")}, u32s("hi", 40, 0)},
		{"notify", NotifyRequest{PortID: 1300, DelayMS: 100, Data: []byte("event")}, u32s("event", 1300, 100)},
		{"notify, self", NotifyRequest{}, u32s("", 0, 0)},
		{"dump", DumpRequest{Parts: 300}, u32s("", 300)},
	}
	for _, tt := range tests {
		got, err := tt.m.MarshalBinary()
		if !assert.NoError(t, err, tt.name) {
			continue
		}
		assert.Equal(t, tt.want, got, "%s\n- want: % x\n-  got: % x", tt.name, tt.want, got)
	}

	// The fixed parts have the lengths the header gives.
	for _, tt := range []struct {
		name string
		m    interface{ MarshalBinary() ([]byte, error) }
		want int
	}{
		{"EchoHeaderLen", EchoRequest{}, EchoHeaderLen},
		{"BroadcastHeaderLen", BroadcastRequest{}, BroadcastHeaderLen},
		{"NotifyHeaderLen", NotifyRequest{}, NotifyHeaderLen},
		{"DumpRequestLen", DumpRequest{}, DumpRequestLen},
	} {
		b, _ := tt.m.MarshalBinary()
		assert.Len(t, b, tt.want, "%s\n- want: %d\n-  got: %d", tt.name, tt.want, len(b))
	}
}

func TestEchoRequestUnmarshal(t *testing.T) {
	in := EchoRequest{Count: 7, IntervalMS: EchoParamInterval, Data: []byte("payload")}
	b, err := in.MarshalBinary()
	require.NoError(t, err)
	var got EchoRequest
	require.NoError(t, got.UnmarshalBinary(b))
	assert.Equal(t, in, got, "round trip\n- want: %+v\n-  got: %+v", in, got)
	b[EchoHeaderLen] = 'P'
	assert.Equal(t, "payload", string(got.Data), "Data is a copy")

	require.NoError(t, got.UnmarshalBinary(u32s("", 1, 2)))
	assert.Equal(t, EchoRequest{Count: 1, IntervalMS: 2}, got, "no data: nil Data")

	err = got.UnmarshalBinary(make([]byte, EchoHeaderLen-1))
	assert.EqualError(t, err, "netlink: echo payload of 7 bytes is shorter than the 8-byte struct")
}

func TestDumpPartUnmarshal(t *testing.T) {
	tests := []struct {
		b       []byte
		want    DumpPart
		wantErr string
	}{
		{b: u32s("", 4, 10), want: DumpPart{Index: 4, Total: 10}},
		{b: u32s("more", 0, 1), want: DumpPart{Index: 0, Total: 1}},
		{b: u32s("", 4), wantErr: "netlink: dump part payload of 4 bytes is shorter than the 8-byte struct"},
		{b: nil, wantErr: "netlink: dump part payload of 0 bytes is shorter than the 8-byte struct"},
	}
	for _, tt := range tests {
		var got DumpPart
		err := got.UnmarshalBinary(tt.b)
		if tt.wantErr != "" {
			assert.EqualError(t, err, tt.wantErr, "% x", tt.b)
			continue
		}
		if assert.NoError(t, err, "% x", tt.b) {
			assert.Equal(t, tt.want, got, "% x\n- want: %+v\n-  got: %+v", tt.b, tt.want, got)
		}
	}
}

func TestStatsUnmarshal(t *testing.T) {
	var b []byte
	for i := uint64(1); i <= 8; i++ {
		b = binary.NativeEndian.AppendUint64(b, i<<32|i)
	}
	var got Stats
	require.NoError(t, got.UnmarshalBinary(b))
	want := Stats{
		RxMsgs: 1<<32 | 1, RxBytes: 2<<32 | 2, RxMalformed: 3<<32 | 3, TxMsgs: 4<<32 | 4,
		TxDrops: 5<<32 | 5, Broadcasts: 6<<32 | 6, Notifies: 7<<32 | 7, Dumps: 8<<32 | 8,
	}
	assert.Equal(t, want, got, "- want: %+v\n-  got: %+v", want, got)
	assert.EqualError(t, got.UnmarshalBinary(b[:StatsLen-1]), "netlink: stats payload of 63 bytes is shorter than the 64-byte struct")
}

// layoutProgram fills each struct of netl_proto.h, compiled as user-space C,
// and prints "name hex-bytes" lines, plus "size"/"offset" lines.
const layoutProgram = `#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netl_proto.h"

static void dump(const char *name, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	printf("bytes %s ", name);
	for (i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

int main(void)
{
	struct netl_echo *echo = malloc(sizeof(*echo) + 3);
	struct netl_broadcast *bc = malloc(sizeof(*bc) + 2);
	struct netl_notify *notify = malloc(sizeof(*notify) + 5);
	struct netl_dump_req req = { .parts = 300 };
	struct netl_dump_part part = { .index = 4, .total = 10 };
	struct netl_stats st = {
		.rx_msgs = 0x100000001ULL, .rx_bytes = 0x200000002ULL,
		.rx_malformed = 0x300000003ULL, .tx_msgs = 0x400000004ULL,
		.tx_drops = 0x500000005ULL, .broadcasts = 0x600000006ULL,
		.notifies = 0x700000007ULL, .dumps = 0x800000008ULL,
	};

	if (!echo || !bc || !notify)
		return 1;
	echo->count = 3;
	echo->interval_ms = NETL_ECHO_PARAM_INTERVAL;
	memcpy(echo->data, "abc", 3);
	bc->group = 40;
	bc->reserved = 0;
	memcpy(bc->data, "hi", 2);
	notify->portid = 1300;
	notify->delay_ms = 100;
	memcpy(notify->data, "event", 5);

	dump("echo", echo, sizeof(*echo) + 3);
	dump("broadcast", bc, sizeof(*bc) + 2);
	dump("notify", notify, sizeof(*notify) + 5);
	dump("dump_req", &req, sizeof(req));
	dump("dump_part", &part, sizeof(part));
	dump("stats", &st, sizeof(st));
	printf("size netl_echo %zu\n", sizeof(struct netl_echo));
	printf("size netl_broadcast %zu\n", sizeof(struct netl_broadcast));
	printf("size netl_notify %zu\n", sizeof(struct netl_notify));
	printf("size netl_dump_req %zu\n", sizeof(struct netl_dump_req));
	printf("size netl_dump_part %zu\n", sizeof(struct netl_dump_part));
	printf("size netl_stats %zu\n", sizeof(struct netl_stats));
	printf("offset netl_echo.data %zu\n", offsetof(struct netl_echo, data));
	printf("offset netl_broadcast.data %zu\n", offsetof(struct netl_broadcast, data));
	printf("offset netl_notify.data %zu\n", offsetof(struct netl_notify, data));
	free(echo);
	free(bc);
	free(notify);
	return 0;
}
`

// TestPayloadLayoutMatchesC compiles kmod/netl_proto.h as user-space C, with
// warnings as errors, and checks that the Go encoders produce, and the Go
// decoders read, the bytes of its structs.
func TestPayloadLayoutMatchesC(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("netl_proto.h needs the Linux UAPI header <linux/types.h>")
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	cc, err := exec.LookPath(cc)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no C compiler to build netl_proto.h with: %v (CI is set: install gcc rather than skip)", err)
		}
		t.Skipf("no C compiler to build netl_proto.h with: %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "layout.c")
	bin := filepath.Join(dir, "layout")
	require.NoError(t, os.WriteFile(src, []byte(layoutProgram), 0o644))
	out, err := exec.Command(cc, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror",
		"-I", filepath.Dir(protoHeader), "-o", bin, src).CombinedOutput()
	require.NoError(t, err, "compiling netl_proto.h in user space with %s:\n%s", cc, out)
	out, err = exec.Command(bin).Output()
	require.NoError(t, err, "running the compiled program")

	cBytes := map[string][]byte{}
	cInts := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		require.Len(t, f, 3, "line %q", sc.Text())
		switch f[0] {
		case "bytes":
			b, err := hex.DecodeString(f[2])
			require.NoError(t, err, "line %q", sc.Text())
			cBytes[f[1]] = b
		default:
			n, err := strconv.Atoi(f[2])
			require.NoError(t, err, "line %q", sc.Text())
			cInts[f[0]+" "+f[1]] = n
		}
	}
	require.NoError(t, sc.Err())

	for name, want := range map[string]int{
		"size netl_echo":             EchoHeaderLen,
		"size netl_broadcast":        BroadcastHeaderLen,
		"size netl_notify":           NotifyHeaderLen,
		"size netl_dump_req":         DumpRequestLen,
		"size netl_dump_part":        DumpPartLen,
		"size netl_stats":            StatsLen,
		"offset netl_echo.data":      EchoHeaderLen,
		"offset netl_broadcast.data": BroadcastHeaderLen,
		"offset netl_notify.data":    NotifyHeaderLen,
	} {
		got, ok := cInts[name]
		if assert.True(t, ok, "%s not printed", name) {
			assert.Equal(t, want, got, "%s\n- want: %d (Go)\n-  got: %d (C)", name, want, got)
		}
	}

	marshalled := map[string]interface{ MarshalBinary() ([]byte, error) }{
		"echo":      EchoRequest{Count: 3, IntervalMS: EchoParamInterval, Data: []byte("abc")},
		"broadcast": BroadcastRequest{Group: 40, Data: []byte("hi")},
		"notify":    NotifyRequest{PortID: 1300, DelayMS: 100, Data: []byte("event")},
		"dump_req":  DumpRequest{Parts: 300},
	}
	for name, m := range marshalled {
		got, err := m.MarshalBinary()
		require.NoError(t, err, name)
		assert.Equal(t, cBytes[name], got, "struct netl_%s\n- want: % x (C)\n-  got: % x (Go)", name, cBytes[name], got)
	}

	var echo EchoRequest
	require.NoError(t, echo.UnmarshalBinary(cBytes["echo"]))
	assert.Equal(t, marshalled["echo"], echo)
	var part DumpPart
	require.NoError(t, part.UnmarshalBinary(cBytes["dump_part"]))
	assert.Equal(t, DumpPart{Index: 4, Total: 10}, part)
	var st Stats
	require.NoError(t, st.UnmarshalBinary(cBytes["stats"]))
	assert.Equal(t, Stats{
		RxMsgs: 0x100000001, RxBytes: 0x200000002, RxMalformed: 0x300000003, TxMsgs: 0x400000004,
		TxDrops: 0x500000005, Broadcasts: 0x600000006, Notifies: 0x700000007, Dumps: 0x800000008,
	}, st, "struct netl_stats decoded field by field")
}

// dialModule dials netl.ko, or skips the test where it is not loaded (on
// the host; the test binary also runs in a guest, where it is).
func dialModule(t *testing.T, cfg *Config) *Conn {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("netlink is Linux only")
	}
	c, err := Dial(ProtocolTest, cfg)
	if errors.Is(err, syscall.EPROTONOSUPPORT) {
		t.Skip("netl.ko is not loaded")
	}
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetReceiveTimeout(5*time.Second))
	return c
}

// TestConnAgainstModule checks the typed requests against netl.ko, where it
// is loaded.
func TestConnAgainstModule(t *testing.T) {
	c := dialModule(t, nil)

	t.Run("echo", func(t *testing.T) {
		req := EchoRequest{Count: 3, IntervalMS: 20, Data: []byte("three times")}
		start := time.Now()
		replies, err := c.Echo(req)
		took := time.Since(start)
		require.NoError(t, err)
		require.Len(t, replies, 3)
		seq := replies[0].Header.Sequence
		for i, r := range replies {
			assert.Equal(t, TypeEcho, r.Header.Type, "reply %d type", i)
			assert.Equal(t, HeaderFlags(0), r.Header.Flags, "reply %d flags", i)
			assert.Equal(t, uint32(0), r.Header.PID, "reply %d nlmsg_pid", i)
			assert.Equal(t, seq, r.Header.Sequence, "reply %d seq", i)
			var got EchoRequest
			require.NoError(t, got.UnmarshalBinary(r.Data))
			assert.Equal(t, req, got, "reply %d payload", i)
		}
		assert.GreaterOrEqual(t, took, 40*time.Millisecond, "two intervals of 20 ms")

		for _, bad := range []EchoRequest{{Count: EchoMaxCount + 1}, {Count: 1, IntervalMS: EchoMaxIntervalMS + 1}} {
			_, err := c.Echo(bad)
			assert.ErrorIs(t, err, syscall.EINVAL, "%+v", bad)
		}
	})

	t.Run("stats", func(t *testing.T) {
		before, err := c.Stats()
		require.NoError(t, err)
		_, err = c.Echo(EchoRequest{Count: 2})
		require.NoError(t, err)
		after, err := c.Stats()
		require.NoError(t, err)
		// The echo and the second stats request; the first stats reply
		// and the two echo replies.
		assert.Equal(t, uint64(2), after.RxMsgs-before.RxMsgs, "rx_msgs")
		assert.Equal(t, uint64(HeaderLen+EchoHeaderLen+HeaderLen), after.RxBytes-before.RxBytes, "rx_bytes")
		assert.Equal(t, uint64(3), after.TxMsgs-before.TxMsgs, "tx_msgs")
	})

	t.Run("dump", func(t *testing.T) {
		for _, n := range []uint32{0, 1, 300} {
			parts, err := c.Dump(n)
			require.NoError(t, err, "%d parts", n)
			assert.Len(t, parts, int(n))
		}
		_, err := c.Dump(DumpMaxParts + 1)
		assert.ErrorIs(t, err, syscall.EINVAL)

		// The kernel sizes a dump's datagrams by the largest buffer
		// its reader has offered (max_recvmsg_len): the 32 KiB Conn
		// offers on every read (minRead) holds the 1000 parts of 24
		// bytes and NLMSG_DONE in one datagram; a buffer of the peeked
		// size would have them in NLMSG_GOODSIZE pieces.
		_, err = c.Stats() // a read first: the offer is made by recvmsg
		require.NoError(t, err)
		b, _ := DumpRequest{Parts: DumpMaxParts}.MarshalBinary()
		require.NoError(t, c.Send(Message{Header: Header{Type: TypeDump, Flags: Request | Dump, Sequence: 990}, Data: b}))
		var datagrams, parts int
		for end := false; !end; {
			msgs, err := c.Receive()
			require.NoError(t, err, "after %d datagrams", datagrams)
			datagrams++
			for _, m := range msgs {
				if m.Header.Type == Done {
					end = true
				} else {
					parts++
				}
			}
		}
		assert.Equal(t, DumpMaxParts, parts)
		assert.Equal(t, 1, datagrams, "datagrams of the dump of %d parts", DumpMaxParts)
		b, _ = DumpRequest{Parts: 1}.MarshalBinary()
		_, err = c.Request(Message{Header: Header{Type: TypeDump, Flags: Request}, Data: b})
		assert.ErrorIs(t, err, syscall.EINVAL, "without the dump flag")
	})

	t.Run("broadcast", func(t *testing.T) {
		member := dialModule(t, nil)
		require.NoError(t, member.JoinGroup(Groups))
		require.NoError(t, c.Broadcast(Groups, []byte("to the last group")))
		msgs, from, err := member.ReceiveFrom()
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		assert.Equal(t, uint32(0), from)
		assert.Equal(t, Header{Length: 16 + 17, Type: TypeBroadcast}, msgs[0].Header)
		assert.Equal(t, "to the last group", string(msgs[0].Data))

		assert.NoError(t, c.Broadcast(Groups-1, []byte("nobody")), "a group with no member")
		for _, g := range []uint32{0, Groups + 1} {
			assert.ErrorIs(t, c.Broadcast(g, nil), syscall.EINVAL, "group %d", g)
		}
	})

	t.Run("notify", func(t *testing.T) {
		start := time.Now()
		// Notify returns at the ack and leaves the notification, which
		// the module arms after the ack, to Receive. (No upper bound on
		// Notify's own time: on a loaded TCG host a round trip can take
		// longer than the delay.)
		require.NoError(t, c.Notify(NotifyRequest{DelayMS: 100, Data: []byte("later")}))
		msgs, err := c.Receive()
		require.NoError(t, err)
		assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
		require.Len(t, msgs, 1)
		assert.Equal(t, Header{Length: 16 + 5, Type: TypeNotify}, msgs[0].Header)
		assert.Equal(t, "later", string(msgs[0].Data))

		other := dialModule(t, nil)
		port, err := other.PID()
		require.NoError(t, err)
		require.NoError(t, c.Notify(NotifyRequest{PortID: port, Data: []byte("to another port")}))
		msgs, err = other.Receive()
		require.NoError(t, err)
		assert.Equal(t, "to another port", string(msgs[0].Data))

		assert.ErrorIs(t, c.Notify(NotifyRequest{DelayMS: NotifyMaxDelayMS + 1}), syscall.EINVAL)
		assert.ErrorIs(t, c.Notify(NotifyRequest{Data: make([]byte, NotifyMaxData+1)}), syscall.EMSGSIZE)
	})

	t.Run("malformed", func(t *testing.T) {
		before, err := c.Stats()
		require.NoError(t, err)
		for _, tc := range []struct {
			name  string
			m     Message
			errno syscall.Errno
		}{
			{"short echo", Message{Header: Header{Type: TypeEcho, Flags: Request, Sequence: 901}, Data: []byte{1, 0, 0, 0}}, syscall.EINVAL},
			{"short notify", Message{Header: Header{Type: TypeNotify, Flags: Request, Sequence: 902}}, syscall.EINVAL},
			{"unknown type", Message{Header: Header{Type: MinType + 0x30, Flags: Request, Sequence: 903}}, syscall.EOPNOTSUPP},
			{"nlmsg_len past the datagram", Message{Header: Header{Length: 4096, Type: TypeStats, Flags: Request, Sequence: 904}}, syscall.EINVAL},
		} {
			b, err := tc.m.MarshalBinary()
			require.NoError(t, err, tc.name)
			if tc.m.Header.Length > HeaderLen {
				b = b[:HeaderLen] // nlmsg_len says more than is sent
			}
			require.NoError(t, c.SendRaw(b, 0), tc.name)
			_, err = c.Receive()
			assert.ErrorIs(t, err, tc.errno, tc.name)
		}
		after, err := c.Stats()
		require.NoError(t, err)
		assert.Equal(t, uint64(4), after.RxMalformed-before.RxMalformed, "rx_malformed")
	})
}
