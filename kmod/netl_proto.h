/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The wire protocol shared by netl.ko and its Go tests.
 *
 * This header is included by the kernel module and parsed by a Go test that
 * checks the Go constants agree with it.  Keep every constant a plain
 * "#define NAME VALUE" line with a decimal or hex integer literal (no
 * expressions, no casts), or a string literal for NETL_SEED_REPLY.
 */
#ifndef _NETL_PROTO_H
#define _NETL_PROTO_H

/* Netlink protocol number, the seed's NETLINK_TEST (socket() protocol). */
#define NETL_PROTOCOL 25

/* Message type of the seed's request and of the replies to it. */
#define NETL_SEED_TYPE 0

/* Payload length of every reply to a seed request, in bytes. */
#define NETL_SEED_PAYLOAD_LEN 1024

/* NUL-terminated string at the start of each seed reply's payload. */
#define NETL_SEED_REPLY "I am from kernel!"

/*
 * Typed protocol: message types at or above NLMSG_MIN_TYPE (0x10).
 * Only NETL_MSG_ECHO is implemented so far; the others are reserved and
 * answered with an NLMSG_ERROR carrying -EOPNOTSUPP.
 */

/* Echo request: the reply carries the request's payload back. */
#define NETL_MSG_ECHO 0x10

/* Reserved: ask the module to broadcast to a multicast group. */
#define NETL_MSG_BROADCAST 0x11

/* Reserved: event sent by the module with no request first. */
#define NETL_MSG_NOTIFY 0x12

/* Reserved: multipart dump ending in NLMSG_DONE. */
#define NETL_MSG_DUMP 0x13

/* Reserved: module statistics. */
#define NETL_MSG_STATS 0x14

/* Number of multicast groups the module's kernel socket declares. */
#define NETL_GROUPS 64

#endif /* _NETL_PROTO_H */
