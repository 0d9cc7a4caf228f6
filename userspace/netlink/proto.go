package netlink

import "bytes"

// The netl protocol: the constants of kmod/netl_proto.h, shared with the
// netl.ko kernel module. TestProtoHeaderAgrees checks that they agree.
const (
	// ProtocolTest is the netlink protocol number netl.ko registers, the
	// seed's NETLINK_TEST (NETL_PROTOCOL).
	ProtocolTest = 25

	// TypeSeed is the type of the seed's request and of the module's
	// replies to it (NETL_SEED_TYPE).
	TypeSeed HeaderType = 0
	// SeedPayloadLen is the payload length of the seed's request and of
	// every reply to it (NETL_SEED_PAYLOAD_LEN).
	SeedPayloadLen = 1024
	// SeedReply is the NUL-terminated string at the start of each seed
	// reply's payload (NETL_SEED_REPLY).
	SeedReply = "I am from kernel!"

	// TypeEcho asks the module to send the payload back (NETL_MSG_ECHO).
	TypeEcho HeaderType = 0x10
	// TypeBroadcast asks the module to broadcast to a multicast group
	// (NETL_MSG_BROADCAST).
	TypeBroadcast HeaderType = 0x11
	// TypeNotify is an event the module sends with no request first
	// (NETL_MSG_NOTIFY).
	TypeNotify HeaderType = 0x12
	// TypeDump asks for a multipart dump ending in Done (NETL_MSG_DUMP).
	TypeDump HeaderType = 0x13
	// TypeStats asks for the module's statistics (NETL_MSG_STATS).
	TypeStats HeaderType = 0x14

	// Groups is the number of multicast groups the module's kernel socket
	// declares (NETL_GROUPS).
	Groups = 64
)

// SeedRequest returns the message the seed's user program sends: type 0, no
// flags, sequence 0, PID pid (the seed writes its own port there), and a
// SeedPayloadLen-byte payload holding text NUL-terminated, so that
// Header.Length is Space(SeedPayloadLen), 1040. Text longer than
// SeedPayloadLen-1 bytes is cut to leave room for the NUL.
func SeedRequest(pid uint32, text string) Message {
	data := make([]byte, Space(SeedPayloadLen)-HeaderLen)
	copy(data[:len(data)-1], text)
	return Message{
		Header: Header{
			Length: uint32(Space(SeedPayloadLen)),
			Type:   TypeSeed,
			PID:    pid,
		},
		Data: data,
	}
}

// CString returns the bytes of b up to its first NUL, or all of b if it holds
// none, as a string: what C's printf("%s") prints of a payload.
func CString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
