// SPDX-License-Identifier: GPL-2.0
/*
 * netl - netlink test module for the netl harness
 *
 * Registers netlink protocol NETL_PROTOCOL (the seed article's NETLINK_TEST)
 * in the initial network namespace and answers two kinds of messages:
 *
 * - Seed requests (type NETL_SEED_TYPE, any flags), as sent by the article's
 *   user programs: the payload is logged, then reply_count replies of
 *   NETL_SEED_PAYLOAD_LEN bytes holding NETL_SEED_REPLY are sent,
 *   reply_interval_ms apart.  With reply_count=10 reply_interval_ms=3000 the
 *   article's ten replies, three seconds apart, are reproduced; the sleeps
 *   happen in the input callback, so the sender's sendmsg() blocks meanwhile,
 *   as the article describes.
 *
 * - Typed requests (type >= NLMSG_MIN_TYPE), handled the way
 *   netlink_rcv_skb() handles them: only NETL_MSG_ECHO is implemented, every
 *   other type is answered with an NLMSG_ERROR carrying -EOPNOTSUPP.
 *
 * Unlike the article's module, every length is checked before it is read,
 * and replies go to the port the request really came from
 * (NETLINK_CB(skb).portid), never to the nlmsg_pid the sender wrote in the
 * header.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/netlink.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "netl_proto.h"

#define NETL_REPLY_COUNT_MIN		1
#define NETL_REPLY_COUNT_MAX		100
#define NETL_REPLY_INTERVAL_MS_MIN	0
#define NETL_REPLY_INTERVAL_MS_MAX	60000

static struct sock *netl_sk __read_mostly;

static unsigned int reply_count = 1;
static unsigned int reply_interval_ms;

/*
 * Parameters are validated in their setter, so that an out-of-range value
 * given to insmod fails the load instead of being clamped silently, and a
 * bad write to /sys/module/netl/parameters/ fails with -EINVAL.
 */
static int netl_param_set_range(const char *val, const struct kernel_param *kp,
				unsigned int min, unsigned int max)
{
	unsigned int n;

	if (kstrtouint(val, 0, &n) || n < min || n > max) {
		pr_err("%s must be an integer from %u to %u\n",
		       kp->name, min, max);
		return -EINVAL;
	}

	WRITE_ONCE(*(unsigned int *)kp->arg, n);
	return 0;
}

static int reply_count_set(const char *val, const struct kernel_param *kp)
{
	return netl_param_set_range(val, kp, NETL_REPLY_COUNT_MIN,
				    NETL_REPLY_COUNT_MAX);
}

static int reply_interval_ms_set(const char *val,
				 const struct kernel_param *kp)
{
	return netl_param_set_range(val, kp, NETL_REPLY_INTERVAL_MS_MIN,
				    NETL_REPLY_INTERVAL_MS_MAX);
}

static const struct kernel_param_ops reply_count_ops = {
	.set = reply_count_set,
	.get = param_get_uint,
};

static const struct kernel_param_ops reply_interval_ms_ops = {
	.set = reply_interval_ms_set,
	.get = param_get_uint,
};

module_param_cb(reply_count, &reply_count_ops, &reply_count, 0644);
MODULE_PARM_DESC(reply_count,
		 "replies sent for each seed request, 1..100 (default 1)");

module_param_cb(reply_interval_ms, &reply_interval_ms_ops, &reply_interval_ms,
		0644);
MODULE_PARM_DESC(reply_interval_ms,
		 "milliseconds slept between two replies, 0..60000 (default 0)");

/* Sends one seed reply; the skb is consumed whatever the outcome. */
static int netl_seed_reply(u32 portid, u32 seq)
{
	struct nlmsghdr *rep;
	struct sk_buff *skb;

	BUILD_BUG_ON(sizeof(NETL_SEED_REPLY) > NETL_SEED_PAYLOAD_LEN);

	skb = nlmsg_new(NETL_SEED_PAYLOAD_LEN, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;

	/* nlmsg_pid 0: the reply comes from the kernel, as in the seed. */
	rep = nlmsg_put(skb, 0, seq, NETL_SEED_TYPE, NETL_SEED_PAYLOAD_LEN, 0);
	if (!rep) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}

	memset(nlmsg_data(rep), 0, NETL_SEED_PAYLOAD_LEN);
	memcpy(nlmsg_data(rep), NETL_SEED_REPLY, sizeof(NETL_SEED_REPLY));
	nlmsg_end(skb, rep);

	return nlmsg_unicast(netl_sk, skb, portid);
}

/*
 * A seed request: log it, then answer it reply_count times.  The sleeps
 * keep the sender inside sendmsg(), as in the seed (claim C3, bug B6), but
 * a sender that gets a fatal signal stops the series.
 */
static int netl_seed(struct sk_buff *in_skb, const struct nlmsghdr *nlh)
{
	unsigned int interval = READ_ONCE(reply_interval_ms);
	unsigned int count = READ_ONCE(reply_count);
	u32 portid = NETLINK_CB(in_skb).portid;
	const char *data = nlmsg_data(nlh);
	int len = nlmsg_len(nlh);
	u32 seq = nlh->nlmsg_seq;
	unsigned int i;
	int err;

	/* The payload need not be NUL-terminated: print at most len bytes. */
	pr_info("seed request from port %u (nlmsg_pid %u, seq %u, %d bytes): %.*s\n",
		portid, nlh->nlmsg_pid, seq, len,
		(int)strnlen(data, len), data);

	for (i = 0; i < count; i++) {
		if (i && interval) {
			msleep(interval);
			if (fatal_signal_pending(current)) {
				pr_debug("port %u: sender killed after %u of %u replies\n",
					 portid, i, count);
				return -EINTR;
			}
		}

		err = netl_seed_reply(portid, seq);
		if (err) {
			/*
			 * -ECONNREFUSED: the socket is gone; -EAGAIN or
			 * -ENOBUFS: its receive queue is full.  Either way
			 * the next reply would fare no better.
			 */
			pr_debug("port %u: reply %u of %u not sent: %d\n",
				 portid, i + 1, count, err);
			return err;
		}
	}

	return 0;
}

/* NETL_MSG_ECHO: send the request's payload back with the same type. */
static int netl_echo(struct sk_buff *in_skb, const struct nlmsghdr *nlh)
{
	u32 portid = NETLINK_CB(in_skb).portid;
	int len = nlmsg_len(nlh);
	struct nlmsghdr *rep;
	struct sk_buff *skb;

	skb = nlmsg_new(len, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;

	rep = nlmsg_put(skb, portid, nlh->nlmsg_seq, NETL_MSG_ECHO, len, 0);
	if (!rep) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}

	memcpy(nlmsg_data(rep), nlmsg_data(nlh), len);
	nlmsg_end(skb, rep);

	return nlmsg_unicast(netl_sk, skb, portid);
}

/* Handles one message whose length nlmsg_ok() has already checked. */
static void netl_rcv_msg(struct sk_buff *skb, struct nlmsghdr *nlh)
{
	u16 flags = nlh->nlmsg_flags;
	u16 type = nlh->nlmsg_type;
	int err;

	if (type == NETL_SEED_TYPE) {
		err = netl_seed(skb, nlh);
	} else if (type < NLMSG_MIN_TYPE) {
		/* NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, ...: nothing to do. */
		return;
	} else if (type == NETL_MSG_ECHO) {
		/* As in netlink_rcv_skb(), only requests are acted upon. */
		err = (flags & NLM_F_REQUEST) ? netl_echo(skb, nlh) : 0;
	} else {
		err = -EOPNOTSUPP;
	}

	/* -EINTR: the sender is being killed, nobody will read an ack. */
	if (err == -EINTR)
		return;

	if ((flags & NLM_F_ACK) || (err && (flags & NLM_F_REQUEST)))
		netlink_ack(skb, nlh, err, NULL);
}

/*
 * Input callback, run in the sender's context from its sendmsg().  The skb
 * may hold several messages; nlmsg_ok() checks, before any field past the
 * length is read, that at least NLMSG_HDRLEN bytes remain, that nlmsg_len is
 * at least NLMSG_HDRLEN and that it does not run past the skb.  The walk
 * stops at the first message that fails those checks.
 */
static void netl_rcv(struct sk_buff *skb)
{
	struct nlmsghdr *nlh;
	int rem;

	/*
	 * Port 0 is a kernel socket: answering it could loop back into this
	 * very callback (the seed's bug B5 / claim C6).
	 */
	if (!NETLINK_CB(skb).portid) {
		pr_debug("ignoring %u bytes from port 0\n", skb->len);
		return;
	}

	nlmsg_for_each_msg(nlh, nlmsg_hdr(skb), skb->len, rem)
		netl_rcv_msg(skb, nlh);

	if (rem > 0)
		pr_debug("port %u: %d bytes of malformed message ignored\n",
			 NETLINK_CB(skb).portid, rem);
}

static int __init netl_init(void)
{
	struct netlink_kernel_cfg cfg = {
		.input = netl_rcv,
		.groups = NETL_GROUPS,
	};

	netl_sk = netlink_kernel_create(&init_net, NETL_PROTOCOL, &cfg);
	if (!netl_sk) {
		pr_err("cannot create kernel socket for protocol %d\n",
		       NETL_PROTOCOL);
		return -ENOMEM;
	}

	pr_info("loaded: protocol %d, reply_count=%u reply_interval_ms=%u\n",
		NETL_PROTOCOL, reply_count, reply_interval_ms);
	return 0;
}

static void __exit netl_exit(void)
{
	netlink_kernel_release(netl_sk);
	pr_info("unloaded: protocol %d\n", NETL_PROTOCOL);
}

module_init(netl_init);
module_exit(netl_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("netl developers");
MODULE_DESCRIPTION("Netlink test module: the seed article's NETLINK_TEST protocol, fixed");
