package netlink

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeedRequest(t *testing.T) {
	m := SeedRequest(100, "Hello you!")
	b, err := m.MarshalBinary()
	require.NoError(t, err)

	ne := binary.NativeEndian
	tests := []struct {
		name      string
		got, want any
	}{
		{"Header.Length", m.Header.Length, uint32(1040)},
		{"len(Data)", len(m.Data), 1024},
		{"marshalled length", len(b), 1040},
		{"nlmsg_len at offset 0", ne.Uint32(b[0:4]), uint32(1040)},
		{"nlmsg_type at offset 4", ne.Uint16(b[4:6]), uint16(0)},
		{"nlmsg_flags at offset 6", ne.Uint16(b[6:8]), uint16(0)},
		{"nlmsg_seq at offset 8", ne.Uint32(b[8:12]), uint32(0)},
		{"nlmsg_pid at offset 12", ne.Uint32(b[12:16]), uint32(100)},
		{"payload at offset 16", string(b[16:27]), "Hello you!\x00"},
		{"rest of the payload zero", bytes.Count(b[27:], []byte{0}), 1040 - 27},
		{"CString(Data)", CString(m.Data), "Hello you!"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got, "%s\n- want: %v\n-  got: %v", tt.name, tt.want, tt.got)
	}
}

func TestSeedRequestLongText(t *testing.T) {
	m := SeedRequest(7, strings.Repeat("x", 2000))
	require.Len(t, m.Data, SeedPayloadLen)
	got := CString(m.Data)
	assert.Len(t, got, SeedPayloadLen-1, "text cut to leave room for the NUL\n- want: %d bytes\n-  got: %d", SeedPayloadLen-1, len(got))
	assert.Equal(t, byte(0), m.Data[SeedPayloadLen-1], "last payload byte\n- want: 0\n-  got: %d", m.Data[SeedPayloadLen-1])
}

func TestCString(t *testing.T) {
	tests := []struct {
		b    []byte
		want string
	}{
		{b: nil, want: ""},
		{b: []byte{0}, want: ""},
		{b: []byte("abc"), want: "abc"},
		{b: []byte("I am from kernel!\x00\x00junk"), want: SeedReply},
		{b: []byte("a\x00b\x00"), want: "a"},
	}
	for _, tt := range tests {
		got := CString(tt.b)
		assert.Equal(t, tt.want, got, "CString(%q)\n- want: %q\n-  got: %q", tt.b, tt.want, got)
	}
}

// protoHeader is the header netl.ko and this package share, relative to the
// package directory.
var protoHeader = filepath.Join("..", "..", "kmod", "netl_proto.h")

// defineRE matches "#define NETL_NAME VALUE" with an optional trailing
// comment.
var defineRE = regexp.MustCompile(`^\s*#\s*define\s+(NETL_\w+)\s+(.*?)\s*(?:/\*.*\*/\s*|//.*)?$`)

// TestProtoHeaderAgrees checks that every NETL_* constant of
// kmod/netl_proto.h has the value of its Go counterpart, and that the header
// defines every constant the Go side mirrors.
func TestProtoHeaderAgrees(t *testing.T) {
	goValues := map[string]any{
		"NETL_PROTOCOL":         int64(ProtocolTest),
		"NETL_SEED_TYPE":        int64(TypeSeed),
		"NETL_SEED_PAYLOAD_LEN": int64(SeedPayloadLen),
		"NETL_SEED_REPLY":       SeedReply,
		"NETL_MSG_ECHO":         int64(TypeEcho),
		"NETL_MSG_BROADCAST":    int64(TypeBroadcast),
		"NETL_MSG_NOTIFY":       int64(TypeNotify),
		"NETL_MSG_DUMP":         int64(TypeDump),
		"NETL_MSG_STATS":        int64(TypeStats),
		"NETL_GROUPS":           int64(Groups),

		"NETL_ECHO_PARAM_INTERVAL":  int64(EchoParamInterval),
		"NETL_ECHO_COUNT_MAX":       int64(EchoMaxCount),
		"NETL_ECHO_INTERVAL_MS_MAX": int64(EchoMaxIntervalMS),
		"NETL_ECHO_HDR_LEN":         int64(EchoHeaderLen),
		"NETL_BROADCAST_HDR_LEN":    int64(BroadcastHeaderLen),
		"NETL_NOTIFY_DELAY_MS_MAX":  int64(NotifyMaxDelayMS),
		"NETL_NOTIFY_DATA_MAX":      int64(NotifyMaxData),
		"NETL_NOTIFY_PENDING_MAX":   int64(NotifyMaxPending),
		"NETL_NOTIFY_PORT_MAX":      int64(NotifyMaxPerPort),
		"NETL_ECHO_DATA_MAX":        int64(EchoMaxData),
		"NETL_MAX_SLEEP_MS_DEFAULT": int64(MaxSleepMSDefault),
		"NETL_NOTIFY_HDR_LEN":       int64(NotifyHeaderLen),
		"NETL_DUMP_PARTS_MAX":       int64(DumpMaxParts),
		"NETL_DUMP_REQ_LEN":         int64(DumpRequestLen),
		"NETL_DUMP_PART_LEN":        int64(DumpPartLen),
		"NETL_STATS_LEN":            int64(StatsLen),
	}

	f, err := os.Open(protoHeader)
	require.NoError(t, err, "the shared protocol header must exist (kmod/netl_proto.h)")
	defer f.Close()

	found := map[string]bool{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		mm := defineRE.FindStringSubmatch(sc.Text())
		if mm == nil {
			continue
		}
		name, raw := mm[1], mm[2]
		var cValue any
		if strings.HasPrefix(raw, `"`) {
			s, err := strconv.Unquote(raw)
			if !assert.NoError(t, err, "%s:%d: %s: string literal %s", protoHeader, line, name, raw) {
				continue
			}
			cValue = s
		} else {
			n, err := strconv.ParseInt(raw, 0, 64)
			if !assert.NoError(t, err, "%s:%d: %s: not a plain integer literal: %s", protoHeader, line, name, raw) {
				continue
			}
			cValue = n
		}
		found[name] = true
		goValue, ok := goValues[name]
		if !assert.True(t, ok, "%s:%d: %s has no Go counterpart: add a constant to proto.go and map it here", protoHeader, line, name) {
			continue
		}
		assert.Equal(t, cValue, goValue, "%s\n- want: %v (C)\n-  got: %v (Go)", name, cValue, goValue)
	}
	require.NoError(t, sc.Err())
	for name := range goValues {
		assert.True(t, found[name], "%s is not defined in %s", name, protoHeader)
	}
}
