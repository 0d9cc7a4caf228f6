package netlink

import "encoding/binary"

// The helpers below port the NLMSG_* macros of <linux/netlink.h>. Each one
// carries the C macro as a comment. The C macros compute in 32-bit unsigned
// arithmetic; the Go ports compute in int, so they agree exactly for every
// length that does not wrap a uint32 (n <= 0xffffffec), and bit for bit
// modulo 2^32 beyond that. TestMacrosMatchC compiles the C macros and checks.

// AlignTo is the alignment of netlink messages and of their headers' lengths.
//
//	#define NLMSG_ALIGNTO	4U
const AlignTo = 4

// HeaderLen is the length of a netlink message header, struct nlmsghdr.
//
//	#define NLMSG_HDRLEN	 ((int) NLMSG_ALIGN(sizeof(struct nlmsghdr)))
const HeaderLen = 16

// Align rounds n up to the next multiple of AlignTo.
//
//	#define NLMSG_ALIGN(len) ( ((len)+NLMSG_ALIGNTO-1) & ~(NLMSG_ALIGNTO-1) )
func Align(n int) int {
	return (n + AlignTo - 1) &^ (AlignTo - 1)
}

// Length returns the value of Header.Length for a message with an n-byte
// payload: the header plus the payload, without trailing padding.
//
//	#define NLMSG_LENGTH(len) ((len) + NLMSG_HDRLEN)
func Length(n int) int {
	return n + HeaderLen
}

// Space returns the number of bytes a message with an n-byte payload takes in
// a buffer: the header plus the payload, padded to AlignTo.
//
//	#define NLMSG_SPACE(len) NLMSG_ALIGN(NLMSG_LENGTH(len))
func Space(n int) int {
	return Align(Length(n))
}

// Payload returns the number of payload bytes of the message with header h
// that follow a protocol header of n bytes (n is 0 for the whole payload).
// It is negative when h.Length is shorter than Space(n), where the C macro
// wraps around to a large unsigned value.
//
//	#define NLMSG_PAYLOAD(nlh,len) ((nlh)->nlmsg_len - NLMSG_SPACE((len)))
func Payload(h Header, n int) int {
	return int(h.Length) - Space(n)
}

// OK reports whether b starts with a whole netlink message: b holds at least
// a header, and the header's length is at least a header and at most len(b).
// It is NLMSG_OK(nlh, len) with nlh pointing at b[0] and len equal to len(b).
//
//	#define NLMSG_OK(nlh,len) ((len) >= (int)sizeof(struct nlmsghdr) && \
//				   (nlh)->nlmsg_len >= sizeof(struct nlmsghdr) && \
//				   (nlh)->nlmsg_len <= (len))
func OK(b []byte) bool {
	if len(b) < HeaderLen {
		return false
	}
	l := binary.NativeEndian.Uint32(b[0:4])
	return l >= HeaderLen && uint64(l) <= uint64(len(b))
}

// Next returns the part of b that follows the first message, whose length is
// read from its header and rounded up with Align. Call it only when OK(b) is
// true; it returns nil otherwise. Where NLMSG_NEXT leaves len negative (the
// last message of b is not padded), Next returns an empty slice, on which OK
// is false as NLMSG_OK is on a negative len.
//
//	#define NLMSG_NEXT(nlh,len)	 ((len) -= NLMSG_ALIGN((nlh)->nlmsg_len), \
//					  (struct nlmsghdr *)(((char *)(nlh)) + \
//					  NLMSG_ALIGN((nlh)->nlmsg_len)))
func Next(b []byte) []byte {
	if !OK(b) {
		return nil
	}
	next := Align(int(binary.NativeEndian.Uint32(b[0:4])))
	if next > len(b) {
		return b[len(b):]
	}
	return b[next:]
}
