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

	// TypeEcho asks the module to send the payload, an EchoRequest, back
	// EchoRequest.Count times (NETL_MSG_ECHO).
	TypeEcho HeaderType = 0x10
	// TypeBroadcast asks the module to send data to a multicast group, with
	// a BroadcastRequest (NETL_MSG_BROADCAST); members receive a message of
	// this type.
	TypeBroadcast HeaderType = 0x11
	// TypeNotify asks the module, with a NotifyRequest, to send a message of
	// this type to a port later, with no request from that port
	// (NETL_MSG_NOTIFY).
	TypeNotify HeaderType = 0x12
	// TypeDump asks, with a DumpRequest and the Dump flag, for a multipart
	// dump of DumpPart messages ending in Done (NETL_MSG_DUMP).
	TypeDump HeaderType = 0x13
	// TypeStats asks for the module's statistics, Stats (NETL_MSG_STATS).
	TypeStats HeaderType = 0x14

	// EchoParamInterval in EchoRequest.IntervalMS stands for the module
	// parameter reply_interval_ms (NETL_ECHO_PARAM_INTERVAL).
	EchoParamInterval = 0xffffffff
	// EchoMaxCount is the largest EchoRequest.Count (NETL_ECHO_COUNT_MAX).
	EchoMaxCount = 100
	// EchoMaxIntervalMS is the largest EchoRequest.IntervalMS other than
	// EchoParamInterval (NETL_ECHO_INTERVAL_MS_MAX).
	EchoMaxIntervalMS = 60000
	// EchoMaxData is the largest EchoRequest.Data, in bytes; a request
	// beyond gets EMSGSIZE (NETL_ECHO_DATA_MAX).
	EchoMaxData = 4096
	// EchoHeaderLen is the length of struct netl_echo, the part of an
	// EchoRequest before its data (NETL_ECHO_HDR_LEN).
	EchoHeaderLen = 8

	// BroadcastHeaderLen is the length of struct netl_broadcast, the part
	// of a BroadcastRequest before its data (NETL_BROADCAST_HDR_LEN).
	BroadcastHeaderLen = 8

	// NotifyMaxDelayMS is the largest NotifyRequest.DelayMS
	// (NETL_NOTIFY_DELAY_MS_MAX).
	NotifyMaxDelayMS = 60000
	// NotifyMaxData is the largest NotifyRequest.Data, in bytes
	// (NETL_NOTIFY_DATA_MAX).
	NotifyMaxData = 4096
	// NotifyMaxPerPort is the number of pending notifications one port may
	// have asked for; a request beyond gets EBUSY (NETL_NOTIFY_PORT_MAX).
	NotifyMaxPerPort = 16
	// NotifyMaxPending is the number of notifications the module holds at
	// most in one network namespace; a request beyond gets EBUSY
	// (NETL_NOTIFY_PENDING_MAX).
	NotifyMaxPending = 256
	// NotifyHeaderLen is the length of struct netl_notify, the part of a
	// NotifyRequest before its data (NETL_NOTIFY_HDR_LEN).
	NotifyHeaderLen = 8

	// DumpMaxParts is the largest DumpRequest.Parts (NETL_DUMP_PARTS_MAX).
	DumpMaxParts = 1000
	// DumpRequestLen is the length of struct netl_dump_req
	// (NETL_DUMP_REQ_LEN).
	DumpRequestLen = 4
	// DumpPartLen is the length of struct netl_dump_part
	// (NETL_DUMP_PART_LEN).
	DumpPartLen = 8

	// StatsLen is the length of struct netl_stats (NETL_STATS_LEN).
	StatsLen = 64

	// MaxSleepMSDefault is the default of the module parameter
	// max_sleep_ms, the most milliseconds one datagram may keep its sender
	// sleeping in all; a message whose next sleep would pass it gets ETIME
	// (NETL_MAX_SLEEP_MS_DEFAULT).
	MaxSleepMSDefault = 60000

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
