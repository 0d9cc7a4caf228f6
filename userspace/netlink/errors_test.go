package netlink

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOpError(t *testing.T) {
	cause := errors.New("cause")
	err := error(&OpError{Op: "send", Err: cause})
	assert.EqualError(t, err, "netlink send: cause")
	assert.ErrorIs(t, err, cause)
	var nilErr *OpError
	assert.Equal(t, "<nil>", nilErr.Error())
}

func TestErrorWrappers(t *testing.T) {
	cause := errors.New("recvmsg: x")
	timeout := &OpError{Op: "receive", Err: &timeoutError{err: cause}}
	assert.ErrorIs(t, timeout, os.ErrDeadlineExceeded)
	assert.ErrorIs(t, timeout, cause)
	assert.NotErrorIs(t, timeout, ErrOverrun)
	var ne interface{ Timeout() bool }
	if assert.ErrorAs(t, timeout, &ne) {
		assert.True(t, ne.Timeout())
	}

	overrun := &OpError{Op: "receive", Err: &overrunError{err: cause}}
	assert.ErrorIs(t, overrun, ErrOverrun)
	assert.ErrorIs(t, overrun, cause)
	assert.NotErrorIs(t, overrun, os.ErrDeadlineExceeded)
}

func codeMessage(typ HeaderType, code int32) Message {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, uint32(code))
	return Message{Header: Header{Type: typ}, Data: b}
}

func TestCheckMessage(t *testing.T) {
	tests := []struct {
		name    string
		m       Message
		wantErr string
	}{
		{name: "data message", m: Message{Header: Header{Type: 0x10}}},
		{name: "ack", m: codeMessage(Error, 0)},
		{name: "done", m: codeMessage(Done, 0)},
		{name: "done without payload", m: Message{Header: Header{Type: Done}}},
		{name: "done with a length", m: codeMessage(Done, 40)},
		{name: "error", m: codeMessage(Error, -22), wantErr: "netlink receive: " + errno(22).Error()},
		{name: "done with error", m: codeMessage(Done, -4), wantErr: "netlink receive: " + errno(4).Error()},
		{name: "short error", m: Message{Header: Header{Type: Error}, Data: []byte{1}}, wantErr: "netlink receive: netlink: error message with a 1-byte payload has no error code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkMessage(tt.m)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestErrorCode(t *testing.T) {
	c, err := ErrorCode(codeMessage(Error, -22))
	assert.NoError(t, err)
	assert.Equal(t, int32(-22), c)
	c, err = ErrorCode(Message{Header: Header{Type: Done}})
	assert.NoError(t, err, "an empty Done")
	assert.Zero(t, c)
	_, err = ErrorCode(codeMessage(0x10, -22))
	assert.EqualError(t, err, "netlink: a 0x10 message carries no error code")
	_, err = ErrorCode(Message{Header: Header{Type: Error}, Data: []byte{1, 2}})
	assert.Error(t, err, "an Error message too short for a code")
}

// extAckMessage returns an NLMSG_ERROR message as the kernel builds it
// (netlink_ack): the code, the request's header, its payload unless capped,
// then the attributes.
func extAckMessage(capped bool, attrs ...[]byte) Message {
	b := binary.NativeEndian.AppendUint32(nil, uint32(0xffffffea)) // -EINVAL
	req := Header{Length: HeaderLen + 8, Type: 0x10, Flags: Request, Sequence: 7}
	hb, _ := Message{Header: req, Data: make([]byte, 8)}.MarshalBinary()
	flags := flagAckTLVs
	if capped {
		hb = hb[:HeaderLen]
		flags |= flagCapped
	}
	b = append(b, hb...)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return Message{Header: Header{Type: Error, Flags: flags}, Data: b}
}

// nla returns a netlink attribute, padded to 4 bytes.
func nla(typ uint16, v []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestParseExtAck(t *testing.T) {
	msg := nla(nlmsgerrAttrMsg, []byte("netl: echo count above 100\x00"))
	offs := nla(nlmsgerrAttrOffs, binary.NativeEndian.AppendUint32(nil, 16))
	for _, capped := range []bool{false, true} {
		got := parseExtAck(extAckMessage(capped, msg, offs))
		assert.Equal(t, &ExtAck{Message: "netl: echo count above 100", Offset: 16, HasOffset: true}, got, "capped %v", capped)
	}
	assert.Nil(t, parseExtAck(extAckMessage(false)), "no attributes")
	assert.Nil(t, parseExtAck(codeMessage(Error, -22)), "no NLM_F_ACK_TLVS")
	bad := extAckMessage(true, msg)
	binary.NativeEndian.PutUint16(bad.Data[4+HeaderLen:], 200) // nla_len past the end
	assert.Nil(t, parseExtAck(bad), "an attribute longer than the message")

	done := Message{Header: Header{Type: Done, Flags: Multi | flagAckTLVs},
		Data: append(binary.NativeEndian.AppendUint32(nil, uint32(0xffffffea)), msg...)}
	assert.Equal(t, &ExtAck{Message: "netl: echo count above 100"}, parseExtAck(done), "a dump's NLMSG_DONE: attributes right after the code")

	err := checkMessage(extAckMessage(false, msg))
	assert.EqualError(t, err, "netlink receive: "+errno(22).Error()+": netl: echo count above 100")
}
