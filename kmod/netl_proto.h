/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The wire protocol shared by netl.ko and its Go tests.
 *
 * This header is included by the kernel module, compiles in user space with
 * the kernel's UAPI <linux/types.h>, and is parsed by a Go test that checks
 * the Go constants agree with it.  Keep every constant a plain
 * "#define NAME VALUE" line with a decimal or hex integer literal (no
 * expressions, no casts), or a string literal for NETL_SEED_REPLY.
 *
 * Payloads are the structs below, in the machine's native byte order, as
 * netlink headers are.  Every size is also a constant (NETL_*_LEN), which
 * the module checks with BUILD_BUG_ON and the Go side uses to encode.
 */
#ifndef _NETL_PROTO_H
#define _NETL_PROTO_H

#include <linux/types.h>

/*
 * Netlink protocol number, the seed's NETLINK_TEST (socket() protocol).
 *
 * Who may use it: any user may send requests to the module (port 0) and
 * join its multicast groups (NL_CFG_F_NONROOT_RECV).  Sending to another
 * user's port or to a group directly needs CAP_NET_ADMIN: netl.ko does not
 * set NL_CFG_F_NONROOT_SEND, which would let any user write into every
 * group member's queue messages that look like the protocol's own
 * broadcasts, and into any port bound on it.  User-to-user IPC between
 * unprivileged processes belongs on NETLINK_USERSOCK, the one protocol the
 * kernel registers with that flag (claim C10 shows both).
 */
#define NETL_PROTOCOL 25

/*
 * Network namespaces: the module has a kernel socket in every network
 * namespace, its own in each.  A request is answered in the sender's
 * namespace; broadcasts reach the group's members in that namespace (and
 * listeners elsewhere that set NETLINK_LISTEN_ALL_NSID, which needs
 * CAP_NET_BROADCAST over it);
 * a notification goes to a port of the namespace it was asked in; the
 * statistics count that namespace's traffic since the module was loaded
 * (or since the namespace was made).  Capabilities are checked against the
 * user namespace that owns the network namespace: root of a container may
 * broadcast in the container's namespace and nowhere else.  Notifications
 * still pending when a namespace goes away are dropped, and the kernel log
 * says how many.
 *
 * Limits, so that no user can make the module hold a sender, memory or
 * the kernel log for long:
 * - A datagram's sleeps (before seed replies, between echo replies) total
 *   at most the module parameter max_sleep_ms, NETL_MAX_SLEEP_MS_DEFAULT
 *   unless set: a message whose next sleep would pass it stops there with
 *   -ETIME, and the rest of the datagram is still handled.  A sender killed
 *   (SIGKILL) while the module sleeps for it wakes at once, and the rest of
 *   its datagram is dropped unread.
 * - Each seed request is logged escaped (%pE), at most 128 bytes of it, and
 *   at most 10 such lines a second; likewise the lines saying a series of
 *   replies stopped early.
 * - Echo data is at most NETL_ECHO_DATA_MAX bytes; notification data at
 *   most NETL_NOTIFY_DATA_MAX bytes.  A port may have NETL_NOTIFY_PORT_MAX
 *   notifications pending that it asked for, a namespace
 *   NETL_NOTIFY_PENDING_MAX; their memory is charged to the sender's memory
 *   cgroup.
 *
 * Errors that mean the same are one errno: a reply that found the
 * receiver's queue full is -ENOBUFS, on every path (the kernel's unicast
 * says -EAGAIN, the receiver's next recvmsg() says ENOBUFS); the series of
 * replies stops there, the loss is counted in tx_drops and logged.
 */
#define NETL_MAX_SLEEP_MS_DEFAULT 60000

/* Message type of the seed's request and of the replies to it. */
#define NETL_SEED_TYPE 0

/* Payload length of every reply to a seed request, in bytes. */
#define NETL_SEED_PAYLOAD_LEN 1024

/* NUL-terminated string at the start of each seed reply's payload. */
#define NETL_SEED_REPLY "I am from kernel!"

/* Number of multicast groups the module's kernel socket declares. */
#define NETL_GROUPS 64

/*
 * Typed protocol: message types at or above NLMSG_MIN_TYPE (0x10).  As
 * with netlink_rcv_skb(), a typed message is acted upon only with
 * NLM_F_REQUEST set; a failure is answered with an NLMSG_ERROR carrying a
 * negative errno, and success with an ack (error 0) when NLM_F_ACK is set,
 * after the replies.  A dump ends in NLMSG_DONE instead of an ack.  A
 * payload shorter than its type's struct gets -EINVAL, an unknown type
 * -EOPNOTSUPP, and a typed request whose nlmsg_len is under 16 or runs past
 * the datagram -EINVAL (the echoed header then says nlmsg_len 16), which
 * also ends the datagram.  Replies carry the request's nlmsg_seq and
 * nlmsg_pid 0, except dump parts, whose nlmsg_pid is the requester's port
 * (as the kernel's own NLMSG_DONE has).
 */

/*
 * Echo: count replies of type NETL_MSG_ECHO, interval_ms apart, each with the
 * request's whole payload (struct netl_echo and data) as its payload.  The
 * sender's sendmsg() returns once the last reply is queued.
 * count 0: the module parameter reply_count; interval_ms
 * NETL_ECHO_PARAM_INTERVAL: the module parameter reply_interval_ms.
 * Errors: -EINVAL (count > NETL_ECHO_COUNT_MAX, interval_ms >
 * NETL_ECHO_INTERVAL_MS_MAX), -EMSGSIZE (more than NETL_ECHO_DATA_MAX
 * bytes of data), -ENOBUFS (the sender's receive queue was full: the
 * replies stop there), -ETIME (the datagram's sleeps reached max_sleep_ms:
 * the replies stop there), -ENOMEM.
 */
#define NETL_MSG_ECHO 0x10
#define NETL_ECHO_PARAM_INTERVAL 0xffffffff
#define NETL_ECHO_COUNT_MAX 100
#define NETL_ECHO_INTERVAL_MS_MAX 60000
#define NETL_ECHO_DATA_MAX 4096
#define NETL_ECHO_HDR_LEN 8

struct netl_echo {
	__u32 count;
	__u32 interval_ms;
	__u8 data[];
};

/*
 * Broadcast: one message of type NETL_MSG_BROADCAST, flags 0, seq 0,
 * nlmsg_pid 0, payload data, to the multicast group named.  A group with no
 * member is not an error.
 * Errors: -EPERM (the sender lacks CAP_NET_ADMIN), -EINVAL (group not 1 to
 * NETL_GROUPS, reserved not 0), -ENOBUFS (a member's queue was full and it
 * set NETLINK_BROADCAST_ERROR), -ENOMEM.
 */
#define NETL_MSG_BROADCAST 0x11
#define NETL_BROADCAST_HDR_LEN 8

struct netl_broadcast {
	__u32 group;
	__u32 reserved;
	__u8 data[];
};

/*
 * Notify: at least delay_ms later, one message of type NETL_MSG_NOTIFY,
 * flags 0, seq 0, nlmsg_pid 0, payload data, to port portid (0: the
 * sender).  The request is acknowledged at once, and the notification
 * never reaches the sender before that ack.  When the socket bound to
 * portid is closed, its pending notifications are cancelled, so that a
 * socket binding the port number later does not get them; one being sent
 * at the very moment the port is released may still reach a socket that
 * binds it at once (the kernel frees the port number before it marks the
 * socket dead, and netlink_unicast() sends by number).  A
 * notification to a port nobody has bound goes to whoever binds it before
 * it is due, or is dropped then (and counted in tx_drops).  Notifications
 * a port asked for count against it until they are sent or cancelled,
 * even after its socket closed.
 * Errors: -EPERM (portid is another port and the sender lacks
 * CAP_NET_ADMIN), -EINVAL (delay_ms > NETL_NOTIFY_DELAY_MS_MAX), -EMSGSIZE
 * (more than NETL_NOTIFY_DATA_MAX bytes of data), -EBUSY (the sender's port
 * has NETL_NOTIFY_PORT_MAX notifications pending, or the namespace
 * NETL_NOTIFY_PENDING_MAX), -ENOMEM.
 */
#define NETL_MSG_NOTIFY 0x12
#define NETL_NOTIFY_DELAY_MS_MAX 60000
#define NETL_NOTIFY_DATA_MAX 4096
#define NETL_NOTIFY_PORT_MAX 16
#define NETL_NOTIFY_PENDING_MAX 256
#define NETL_NOTIFY_HDR_LEN 8

struct netl_notify {
	__u32 portid;
	__u32 delay_ms;
	__u8 data[];
};

/*
 * Dump: needs NLM_F_DUMP.  parts messages of type NETL_MSG_DUMP, flags
 * NLM_F_MULTI, payload struct netl_dump_part, then NLMSG_DONE, sent by the
 * kernel's dump machinery as the requester reads.
 * Errors: -EINVAL (no NLM_F_DUMP, parts > NETL_DUMP_PARTS_MAX), -EBUSY (a
 * dump is already running on the socket), -ENOBUFS (its first skb could
 * not be allocated: netlink_dump_start() keeps the dump registered, and the
 * next recvmsg() still delivers every part and NLMSG_DONE, as rtnetlink's
 * and genetlink's dumps do).
 */
#define NETL_MSG_DUMP 0x13
#define NETL_DUMP_PARTS_MAX 1000
#define NETL_DUMP_REQ_LEN 4
#define NETL_DUMP_PART_LEN 8

struct netl_dump_req {
	__u32 parts;
};

struct netl_dump_part {
	__u32 index;	/* 0 to total - 1 */
	__u32 total;	/* the parts requested */
};

/*
 * Stats: one message of type NETL_MSG_STATS with the counters of the
 * sender's network namespace since the module was loaded; any request
 * payload is ignored.  The counters include the request, not the reply.
 * rx_msgs counts the messages handled: the rest of a killed sender's
 * datagram is not.
 */
#define NETL_MSG_STATS 0x14
#define NETL_STATS_LEN 64

struct netl_stats {
	__u64 rx_msgs;		/* messages received, malformed ones included */
	__u64 rx_bytes;		/* bytes received, in whole datagrams */
	__u64 rx_malformed;	/* bad lengths, short payloads, unknown types */
	__u64 tx_msgs;		/* messages sent (acks excluded) */
	__u64 tx_drops;		/* messages that could not be sent */
	__u64 broadcasts;	/* broadcasts made, with or without listeners */
	__u64 notifies;		/* notifications scheduled */
	__u64 dumps;		/* dumps started */
};

#endif /* _NETL_PROTO_H */
