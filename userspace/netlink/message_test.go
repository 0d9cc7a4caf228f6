package netlink

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHeaderTypeString(t *testing.T) {
	tests := []struct {
		t    HeaderType
		want string
	}{
		{t: 0, want: "0x0"},
		{t: Noop, want: "noop"},
		{t: Error, want: "error"},
		{t: Done, want: "done"},
		{t: Overrun, want: "overrun"},
		{t: 5, want: "0x5"},
		{t: MinType, want: "0x10"},
		{t: 0xffff, want: "0xffff"},
	}
	for _, tt := range tests {
		got := tt.t.String()
		assert.Equal(t, tt.want, got, "HeaderType(%d)\n- want: %v\n-  got: %v", uint16(tt.t), tt.want, got)
	}
}

func TestHeaderFlagsString(t *testing.T) {
	tests := []struct {
		f    HeaderFlags
		want string
	}{
		{f: 0, want: "0"},
		{f: Request, want: "request"},
		{f: Request | Acknowledge, want: "request|acknowledge"},
		{f: Multi, want: "multi"},
		{f: Echo | DumpInterrupted | DumpFiltered, want: "echo|dump-interrupted|dump-filtered"},
		{f: Request | Dump, want: "request|dump"},
		{f: Root, want: "root/replace"},
		{f: Match, want: "match/excl"},
		{f: Request | Create | Excl, want: "request|match/excl|atomic/create"},
		{f: Request | Append, want: "request|append"},
		{f: 0x40, want: "0x40"},
		{f: Request | 0x1040, want: "request|0x1040"},
		{f: 0xffff, want: "request|multi|acknowledge|echo|dump-interrupted|dump-filtered|dump|atomic/create|append|0xf0c0"},
	}
	for _, tt := range tests {
		got := tt.f.String()
		assert.Equal(t, tt.want, got, "HeaderFlags(%#x)\n- want: %v\n-  got: %v", uint16(tt.f), tt.want, got)
	}
}

func TestFlagValues(t *testing.T) {
	// The values <linux/netlink.h> gives; TestMacrosMatchC checks them
	// against the header itself where a C compiler is available.
	tests := []struct {
		name      string
		got, want uint16
	}{
		{"NLMSG_NOOP", uint16(Noop), 0x1},
		{"NLMSG_ERROR", uint16(Error), 0x2},
		{"NLMSG_DONE", uint16(Done), 0x3},
		{"NLMSG_OVERRUN", uint16(Overrun), 0x4},
		{"NLMSG_MIN_TYPE", uint16(MinType), 0x10},
		{"NLM_F_REQUEST", uint16(Request), 0x1},
		{"NLM_F_MULTI", uint16(Multi), 0x2},
		{"NLM_F_ACK", uint16(Acknowledge), 0x4},
		{"NLM_F_ECHO", uint16(Echo), 0x8},
		{"NLM_F_DUMP_INTR", uint16(DumpInterrupted), 0x10},
		{"NLM_F_DUMP_FILTERED", uint16(DumpFiltered), 0x20},
		{"NLM_F_ROOT", uint16(Root), 0x100},
		{"NLM_F_MATCH", uint16(Match), 0x200},
		{"NLM_F_ATOMIC", uint16(Atomic), 0x400},
		{"NLM_F_DUMP", uint16(Dump), 0x300},
		{"NLM_F_REPLACE", uint16(Replace), 0x100},
		{"NLM_F_EXCL", uint16(Excl), 0x200},
		{"NLM_F_CREATE", uint16(Create), 0x400},
		{"NLM_F_APPEND", uint16(Append), 0x800},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got, "%s\n- want: %#x\n-  got: %#x", tt.name, tt.want, tt.got)
	}
}

// wire returns the native-endian encoding of a header followed by data.
func wire(h Header, data ...byte) []byte {
	b := make([]byte, HeaderLen, HeaderLen+len(data))
	ne := binary.NativeEndian
	ne.PutUint32(b[0:4], h.Length)
	ne.PutUint16(b[4:6], uint16(h.Type))
	ne.PutUint16(b[6:8], uint16(h.Flags))
	ne.PutUint32(b[8:12], h.Sequence)
	ne.PutUint32(b[12:16], h.PID)
	return append(b, data...)
}

func TestMessageMarshal(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want []byte
	}{
		{
			name: "header only, length computed",
			m:    Message{Header: Header{Type: Noop, Flags: Request, Sequence: 7, PID: 100}},
			want: wire(Header{Length: 16, Type: Noop, Flags: Request, Sequence: 7, PID: 100}),
		},
		{
			name: "payload padded",
			m:    Message{Header: Header{Type: TypeEcho}, Data: []byte("abcde")},
			want: wire(Header{Length: 21, Type: TypeEcho}, 'a', 'b', 'c', 'd', 'e', 0, 0, 0),
		},
		{
			name: "aligned payload",
			m:    Message{Header: Header{Type: TypeEcho}, Data: []byte("abcd")},
			want: wire(Header{Length: 20, Type: TypeEcho}, 'a', 'b', 'c', 'd'),
		},
		{
			name: "explicit length beyond data, zero-filled",
			m:    Message{Header: Header{Length: 22, Type: 0x20}, Data: []byte("ab")},
			want: wire(Header{Length: 22, Type: 0x20}, 'a', 'b', 0, 0, 0, 0, 0, 0),
		},
		{
			name: "all header fields",
			m: Message{Header: Header{
				Type: 0xfffe, Flags: 0xfffd, Sequence: 0xdeadbeef, PID: 0xfffffffe,
			}},
			want: wire(Header{Length: 16, Type: 0xfffe, Flags: 0xfffd, Sequence: 0xdeadbeef, PID: 0xfffffffe}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.MarshalBinary()
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "- want: %v\n-  got: %v", tt.want, got)
			assert.Zero(t, len(got)%AlignTo, "marshalled length\n- want: a multiple of %d\n-  got: %d", AlignTo, len(got))

			var back Message
			require.NoError(t, back.UnmarshalBinary(got))
			wantHeader := tt.m.Header
			wantHeader.Length = binary.NativeEndian.Uint32(tt.want)
			assert.Equal(t, wantHeader, back.Header, "round trip header\n- want: %+v\n-  got: %+v", wantHeader, back.Header)
			var wantData []byte
			if wantHeader.Length > HeaderLen {
				wantData = tt.want[HeaderLen:wantHeader.Length]
			}
			assert.Equal(t, wantData, back.Data, "round trip data\n- want: %q\n-  got: %q", wantData, back.Data)
		})
	}
}

func TestMessageMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{
			name: "length below header",
			m:    Message{Header: Header{Length: 15}},
			want: "header length 15 is shorter than the 16-byte header",
		},
		{
			name: "length below data",
			m:    Message{Header: Header{Length: 17}, Data: []byte("ab")},
			want: "header length 17 is shorter than the header and the 2-byte payload",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.m.MarshalBinary()
			assert.Nil(t, b, "- want: nil\n-  got: %v", b)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestMessageUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		want    Message
		wantErr string
	}{
		{
			name:    "empty",
			b:       nil,
			wantErr: "netlink: 0 bytes are shorter than the 16-byte header",
		},
		{
			name:    "short",
			b:       make([]byte, 15),
			wantErr: "netlink: 15 bytes are shorter than the 16-byte header",
		},
		{
			name:    "length below header",
			b:       wire(Header{Length: 12}),
			wantErr: "netlink: header length 12 is shorter than the 16-byte header",
		},
		{
			name:    "length beyond buffer",
			b:       wire(Header{Length: 21}, 1, 2, 3, 4),
			wantErr: "netlink: header length 21 is longer than the 20 bytes available",
		},
		{
			name:    "huge length",
			b:       wire(Header{Length: 0xffffffff}),
			wantErr: "netlink: header length 4294967295 is longer than the 16 bytes available",
		},
		{
			name: "trailing bytes ignored",
			b:    wire(Header{Length: 18, Type: Done, Sequence: 3}, 'h', 'i', 0, 0, 9, 9),
			want: Message{Header: Header{Length: 18, Type: Done, Sequence: 3}, Data: []byte("hi")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := m.UnmarshalBinary(tt.b)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, m, "- want: %+v\n-  got: %+v", tt.want, m)
		})
	}
}

func TestUnmarshalCopies(t *testing.T) {
	b := wire(Header{Length: 20}, 'a', 'b', 'c', 'd')
	var m Message
	require.NoError(t, m.UnmarshalBinary(b))
	b[HeaderLen] = 'X'
	assert.Equal(t, []byte("abcd"), m.Data, "Data after the input changed\n- want: %q\n-  got: %q", "abcd", m.Data)
}

func TestParseMessages(t *testing.T) {
	one := wire(Header{Length: 21, Type: 0x10, Flags: Multi, Sequence: 1}, 'a', 'b', 'c', 'd', 'e', 0, 0, 0)
	two := wire(Header{Length: 16, Type: Done, Flags: Multi, Sequence: 1})
	unpadded := wire(Header{Length: 17, Type: 0x11}, 'z')

	tests := []struct {
		name    string
		b       []byte
		want    []Message
		wantErr string
	}{
		{name: "empty", b: nil, want: nil},
		{
			name: "one",
			b:    one,
			want: []Message{{Header: Header{Length: 21, Type: 0x10, Flags: Multi, Sequence: 1}, Data: []byte("abcde")}},
		},
		{
			name: "multipart",
			b:    bytes.Join([][]byte{one, one, two}, nil),
			want: []Message{
				{Header: Header{Length: 21, Type: 0x10, Flags: Multi, Sequence: 1}, Data: []byte("abcde")},
				{Header: Header{Length: 21, Type: 0x10, Flags: Multi, Sequence: 1}, Data: []byte("abcde")},
				{Header: Header{Length: 16, Type: Done, Flags: Multi, Sequence: 1}, Data: nil},
			},
		},
		{
			name: "last message unpadded",
			b:    bytes.Join([][]byte{two, unpadded}, nil),
			want: []Message{
				{Header: Header{Length: 16, Type: Done, Flags: Multi, Sequence: 1}, Data: nil},
				{Header: Header{Length: 17, Type: 0x11}, Data: []byte("z")},
			},
		},
		{
			name:    "trailing bytes shorter than a header",
			b:       append(append([]byte{}, two...), 1, 2, 3, 4),
			wantErr: "netlink: message 1 at offset 16: 4 bytes are shorter than the 16-byte header",
		},
		{
			name:    "zero length would loop forever",
			b:       wire(Header{Length: 0}),
			wantErr: "netlink: message 0 at offset 0: header length 0 is shorter than the 16-byte header",
		},
		{
			name:    "second message overruns",
			b:       bytes.Join([][]byte{two, wire(Header{Length: 40})}, nil),
			wantErr: "netlink: message 1 at offset 16: header length 40 is longer than the 16 bytes available",
		},
		{
			name:    "unpadded message not last",
			b:       bytes.Join([][]byte{unpadded, two}, nil),
			wantErr: "netlink: message 1 at offset 20: 13 bytes are shorter than the 16-byte header",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMessages(tt.b)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				assert.Nil(t, got, "- want: nil\n-  got: %v", got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "- want: %+v\n-  got: %+v", tt.want, got)
		})
	}
}

func FuzzParseMessages(f *testing.F) {
	f.Add([]byte{})
	f.Add(wire(Header{Length: 16}))
	f.Add(wire(Header{Length: 17}, 'a', 0, 0, 0))
	f.Add(wire(Header{Length: 0xffffffff}))
	f.Add(bytes.Join([][]byte{
		wire(Header{Length: 20, Flags: Multi}, 1, 2, 3, 4),
		wire(Header{Length: 20, Type: Done, Flags: Multi}, 0, 0, 0, 0),
	}, nil))
	seed, _ := SeedRequest(100, "Hello you!").MarshalBinary()
	f.Add(seed)

	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := ParseMessages(b)
		if err != nil {
			if msgs != nil {
				t.Fatalf("messages with an error\n- want: nil\n-  got: %v", msgs)
			}
			return
		}
		off := 0
		for i, m := range msgs {
			if int(m.Header.Length) != HeaderLen+len(m.Data) {
				t.Fatalf("message %d length\n- want: %d\n-  got: %d", i, HeaderLen+len(m.Data), m.Header.Length)
			}
			enc, err := m.MarshalBinary()
			if err != nil {
				t.Fatalf("message %d does not marshal: %v", i, err)
			}
			if !bytes.Equal(enc[:m.Header.Length], b[off:off+int(m.Header.Length)]) {
				t.Fatalf("message %d re-encoded\n- want: %x\n-  got: %x", i, b[off:off+int(m.Header.Length)], enc[:m.Header.Length])
			}
			if !OK(b[off:]) {
				t.Fatalf("message %d parsed but OK is false", i)
			}
			off += Align(int(m.Header.Length))
		}
		if off < len(b) || off > Align(len(b)) {
			t.Fatalf("messages cover\n- want: %d bytes\n-  got: %d", len(b), off)
		}
	})
}
