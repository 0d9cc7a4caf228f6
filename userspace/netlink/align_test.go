package netlink

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAlignHelpers(t *testing.T) {
	tests := []struct {
		n                    int
		align, length, space int
	}{
		{n: 0, align: 0, length: 16, space: 16},
		{n: 1, align: 4, length: 17, space: 20},
		{n: 2, align: 4, length: 18, space: 20},
		{n: 3, align: 4, length: 19, space: 20},
		{n: 4, align: 4, length: 20, space: 20},
		{n: 5, align: 8, length: 21, space: 24},
		{n: 10, align: 12, length: 26, space: 28},
		{n: 16, align: 16, length: 32, space: 32},
		{n: 1023, align: 1024, length: 1039, space: 1040},
		{n: 1024, align: 1024, length: 1040, space: 1040},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			assert.Equal(t, tt.align, Align(tt.n), "Align\n- want: %v\n-  got: %v", tt.align, Align(tt.n))
			assert.Equal(t, tt.length, Length(tt.n), "Length\n- want: %v\n-  got: %v", tt.length, Length(tt.n))
			assert.Equal(t, tt.space, Space(tt.n), "Space\n- want: %v\n-  got: %v", tt.space, Space(tt.n))
		})
	}
}

func TestPayload(t *testing.T) {
	tests := []struct {
		length uint32
		n      int
		want   int
	}{
		{length: 16, n: 0, want: 0},
		{length: 1040, n: 0, want: 1024},
		{length: 1040, n: 16, want: 1008},
		{length: 1040, n: 17, want: 1004},
		{length: 26, n: 0, want: 10},
		{length: 16, n: 4, want: -4},
		{length: 0, n: 0, want: -16},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d-%d", tt.length, tt.n), func(t *testing.T) {
			got := Payload(Header{Length: tt.length}, tt.n)
			assert.Equal(t, tt.want, got, "- want: %v\n-  got: %v", tt.want, got)
		})
	}
}

// buf returns a buffer of n bytes whose first message header claims length l.
func buf(n int, l uint32) []byte {
	b := make([]byte, n)
	if n >= 4 {
		binary.NativeEndian.PutUint32(b, l)
	}
	return b
}

func TestOKAndNext(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		ok      bool
		nextLen int // -1: Next returns nil
	}{
		{name: "empty", b: nil, ok: false, nextLen: -1},
		{name: "short buffer", b: buf(15, 15), ok: false, nextLen: -1},
		{name: "length below header", b: buf(16, 15), ok: false, nextLen: -1},
		{name: "length beyond buffer", b: buf(16, 17), ok: false, nextLen: -1},
		{name: "header only", b: buf(16, 16), ok: true, nextLen: 0},
		{name: "two messages", b: buf(40, 20), ok: true, nextLen: 20},
		{name: "padding", b: buf(40, 17), ok: true, nextLen: 20},
		{name: "unpadded last", b: buf(17, 17), ok: true, nextLen: 0},
		{name: "huge length", b: buf(16, 0xffffffff), ok: false, nextLen: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := OK(tt.b)
			assert.Equal(t, tt.ok, ok, "OK\n- want: %v\n-  got: %v", tt.ok, ok)
			next := Next(tt.b)
			if tt.nextLen < 0 {
				assert.Nil(t, next, "Next\n- want: nil\n-  got: %v", next)
				return
			}
			if assert.NotNil(t, next, "Next\n- want: %d bytes\n-  got: nil", tt.nextLen) {
				assert.Len(t, next, tt.nextLen, "Next\n- want: %d bytes\n-  got: %d", tt.nextLen, len(next))
			}
		})
	}
}
