// SPDX-License-Identifier: GPL-2.0
/*
 * netl - netlink test module for the netl harness
 *
 * Registers netlink protocol NETL_PROTOCOL (the seed article's NETLINK_TEST)
 * in every network namespace, with a kernel socket and counters of its own
 * in each, and answers two kinds of messages:
 *
 * - Seed requests (type NETL_SEED_TYPE, any flags), as sent by the article's
 *   user programs: the payload is logged, then reply_count replies of
 *   NETL_SEED_PAYLOAD_LEN bytes holding NETL_SEED_REPLY are sent, each
 *   after a sleep of reply_interval_ms, as the article's callback waits
 *   before each of its replies.  With reply_count=10 reply_interval_ms=3000
 *   the article's ten replies, three seconds apart, are reproduced, and
 *   sendmsg() returns after 30 s, as in the article: the sleeps happen in the
 *   input callback, so the sender's sendmsg() blocks meanwhile.
 *
 * - Typed requests (type >= NLMSG_MIN_TYPE), handled the way
 *   netlink_rcv_skb() handles them: echo, broadcast to a multicast group,
 *   delayed notification, multipart dump and statistics, each described in
 *   netl_proto.h.
 *
 * Unlike the article's module, every length is checked before it is read,
 * replies go to the port the request really came from
 * (NETLINK_CB(skb).portid), never to the nlmsg_pid the sender wrote in the
 * header, and what one user can make the module do is bounded: the sleeps
 * one datagram causes (max_sleep_ms), the notifications one port holds, the
 * lines it logs, the size of what it echoes.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/build_bug.h>
#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/netlink.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/overflow.h>
#include <linux/ratelimit.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/netns/generic.h>
#include <net/sock.h>

#include "netl_compat.h"
#include "netl_proto.h"

/* The module parameters span what an echo request may ask for. */
#define NETL_REPLY_COUNT_MIN		1
#define NETL_REPLY_COUNT_MAX		NETL_ECHO_COUNT_MAX
#define NETL_REPLY_INTERVAL_MS_MIN	0
#define NETL_REPLY_INTERVAL_MS_MAX	NETL_ECHO_INTERVAL_MS_MAX
#define NETL_MAX_SLEEP_MS_MAX		600000

/* At most this many bytes of a seed request's payload are logged. */
#define NETL_SEED_LOG_MAX		128

static unsigned int reply_count = 1;
static unsigned int reply_interval_ms;
static unsigned int max_sleep_ms = NETL_MAX_SLEEP_MS_DEFAULT;

/* The counters NETL_MSG_STATS reports, as struct netl_stats describes them. */
struct netl_counters {
	atomic64_t rx_msgs;
	atomic64_t rx_bytes;
	atomic64_t rx_malformed;
	atomic64_t tx_msgs;
	atomic64_t tx_drops;
	atomic64_t broadcasts;
	atomic64_t notifies;
	atomic64_t dumps;
};

/*
 * The module in one network namespace: its kernel socket, its counters and
 * the notifications its users asked for.  Zeroed by the pernet machinery.
 */
struct netl_net {
	struct sock *sk;
	struct netl_counters counters;
	/*
	 * Protects notifications, notifications_pending and the cancelled and
	 * armed flags of each notification.  A notification is sent with it
	 * held, so that once netl_notifications_cancel() has taken it nothing
	 * cancelled can be sent any more.
	 */
	struct mutex notify_lock;
	struct list_head notifications;
	unsigned int notifications_pending;
};

static unsigned int netl_net_id __read_mostly;

/* Set once every namespace has its netl_net (see netl_init()). */
static bool netl_ready;

static struct netl_net *netl_pernet(const struct net *net)
{
	return net_generic(net, netl_net_id);
}

/*
 * A pending notification.  It is on its namespace's list from the request
 * until its work sends it, or until netl_notifications_cancel() takes it
 * off (cancelled).  It is freed by the work after sending it, by the
 * canceller once the work cannot run any more, or, if it was cancelled
 * before it was armed, by netl_notification_arm().
 */
struct netl_notification {
	struct delayed_work work;
	struct list_head node;
	struct netl_net *nn;
	struct sock *sk;	/* the namespace's kernel socket */
	unsigned long delay;	/* in jiffies */
	u32 requester;		/* the port that asked */
	u32 portid;		/* the port it goes to */
	/*
	 * The socket that asked, held, when it notifies itself: its port may
	 * be bound by another socket between netlink_remove() and the
	 * NETLINK_URELEASE notifier, and only the dead socket's own
	 * notifications must go (netl_netlink_event()).
	 */
	struct sock *target;
	bool armed;		/* its work is queued */
	bool cancelled;
	u32 len;
	u8 data[];	/* len bytes */
};

/*
 * Notifications run on a workqueue of their own, so that netl_net_exit()
 * can wait for work functions still returning (flush_workqueue()), not
 * only for those it cancels.
 */
static struct workqueue_struct *netl_wq;

static void netl_notification_free(struct netl_notification *n)
{
	if (n->target)
		sock_put(n->target);
	kfree(n);
}

/* The socket a notification to itself was asked from is closed. */
static bool netl_notification_orphaned(const struct netl_notification *n)
{
	return n->target && sock_flag(n->target, SOCK_DEAD);
}

/*
 * What one user can write into the kernel log: seed requests, and replies
 * that could not be queued.  Ten lines a second each, the rest counted in
 * the kernel's "callbacks suppressed" line.
 */
static DEFINE_RATELIMIT_STATE(netl_seed_log_rs, HZ, 10);
static DEFINE_RATELIMIT_STATE(netl_drop_log_rs, HZ, 10);

/*
 * One datagram on its way through netl_rcv(): its namespace, and the sleeps
 * it has caused so far against max_sleep_ms as it was when the datagram
 * arrived.  Replies go out through the kernel socket it came to (skb->sk,
 * set before netl_net_init() can store it in nn->sk).
 */
struct netl_datagram {
	struct netl_net *nn;
	unsigned int slept_ms;
	unsigned int max_sleep_ms;
};

/* The seed reply's payload: NETL_SEED_REPLY, then zeros. */
static const char netl_seed_payload[NETL_SEED_PAYLOAD_LEN] = NETL_SEED_REPLY;

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

static int max_sleep_ms_set(const char *val, const struct kernel_param *kp)
{
	return netl_param_set_range(val, kp, 0, NETL_MAX_SLEEP_MS_MAX);
}

static const struct kernel_param_ops max_sleep_ms_ops = {
	.set = max_sleep_ms_set,
	.get = param_get_uint,
};

module_param_cb(reply_count, &reply_count_ops, &reply_count, 0644);
MODULE_PARM_DESC(reply_count,
		 "replies to a seed request, and to an echo with count 0, 1..100 (default 1)");

module_param_cb(reply_interval_ms, &reply_interval_ms_ops, &reply_interval_ms,
		0644);
MODULE_PARM_DESC(reply_interval_ms,
		 "milliseconds before each reply to a seed request, and between two replies to an echo asking for it, 0..60000 (default 0)");

module_param_cb(max_sleep_ms, &max_sleep_ms_ops, &max_sleep_ms, 0644);
MODULE_PARM_DESC(max_sleep_ms,
		 "milliseconds one datagram may keep its sender sleeping in all, 0..600000 (default 60000)");

/*
 * Builds a message from the module: nlmsg_pid 0 (the kernel), flags 0, the
 * given sequence number and type, and len bytes of data as its payload.
 *
 * nlmsg_put() sets nlmsg_len to NLMSG_LENGTH(len) and zeroes the padding
 * after the payload.  nlmsg_end() is not called: it exists for messages
 * that grow after nlmsg_put() (attributes), and would set nlmsg_len from the
 * tail pointer, padding included, so that a 5-byte payload would arrive as
 * 8 bytes, 3 of them zeros the sender never sent.
 */
static struct sk_buff *netl_build(u32 seq, int type, const void *data,
				  size_t len)
{
	struct nlmsghdr *nlh;
	struct sk_buff *skb;

	skb = nlmsg_new(len, GFP_KERNEL);
	if (!skb)
		return NULL;

	nlh = nlmsg_put(skb, 0, seq, type, len, 0);
	if (!nlh) {
		nlmsg_free(skb);
		return NULL;
	}

	memcpy(nlmsg_data(nlh), data, len);
	return skb;
}

/*
 * Sends skb (NULL: its allocation failed) from the kernel socket sk of the
 * namespace nn to portid, and counts it.
 *
 * A full receive queue is -ENOBUFS, whatever sent the message: the
 * kernel's nlmsg_unicast() says -EAGAIN (it never waits), but the receiver
 * learns of the loss as ENOBUFS from its next recvmsg() (netlink_overrun()),
 * and "try again" would be wrong for a series of replies partly sent.
 */
static int netl_unicast(struct sock *sk, struct netl_net *nn,
			struct sk_buff *skb, u32 portid)
{
	int err;

	/* nlmsg_unicast() consumes the skb whatever the outcome. */
	err = skb ? nlmsg_unicast(sk, skb, portid) : -ENOMEM;
	if (err == -EAGAIN)
		err = -ENOBUFS;
	if (err)
		atomic64_inc(&nn->counters.tx_drops);
	else
		atomic64_inc(&nn->counters.tx_msgs);
	return err;
}

/* Builds a message with netl_build() and sends it with netl_unicast(). */
static int netl_send(struct sock *sk, struct netl_net *nn, u32 portid,
		     u32 seq, int type, const void *data, size_t len)
{
	return netl_unicast(sk, nn, netl_build(seq, type, data, len), portid);
}

/* Says, within netl_drop_log_rs, that a series of replies stopped early. */
static void netl_log_stop(u32 portid, const char *what, unsigned int sent,
			  unsigned int count, int err)
{
	if (__ratelimit(&netl_drop_log_rs))
		pr_info("port %u: %s stopped after %u of %u replies: %pe\n",
			portid, what, sent, count, ERR_PTR(err));
}

/*
 * Returns the payload of a typed request if it holds at least need bytes;
 * otherwise counts the message as malformed and returns NULL.
 */
static const void *netl_payload(struct netl_net *nn,
				const struct nlmsghdr *nlh, size_t need,
				struct netlink_ext_ack *extack)
{
	if ((size_t)nlmsg_len(nlh) < need) {
		atomic64_inc(&nn->counters.rx_malformed);
		NL_SET_ERR_MSG_MOD(extack, "payload too short for the message type");
		return NULL;
	}
	return nlmsg_data(nlh);
}

/*
 * Sleeps at least ms milliseconds (a jiffy more, as msleep() does) for the
 * datagram dg, unless that would take its sleeps past max_sleep_ms in all
 * (-ETIME, without sleeping) or a fatal signal comes first (-EINTR; the
 * signal stays pending, and netl_rcv() stops there).  The sleep is killable: the sender is in D
 * state meanwhile, as under msleep(), but "kill -9" ends it at once, and the
 * hung-task detector leaves it alone.
 */
static int netl_sleep(struct netl_datagram *dg, unsigned int ms)
{
	long timeout = msecs_to_jiffies(ms) + 1;

	if (fatal_signal_pending(current))
		return -EINTR;
	if (ms > dg->max_sleep_ms - dg->slept_ms)
		return -ETIME;
	dg->slept_ms += ms;

	while (timeout > 0 && !fatal_signal_pending(current))
		timeout = schedule_timeout_killable(timeout);
	return fatal_signal_pending(current) ? -EINTR : 0;
}

/*
 * A seed request: log it, then answer it reply_count times, each reply
 * after a sleep of reply_interval_ms, as the article's callback sleeps
 * before each send.  The sleeps keep the sender inside sendmsg(), as in the
 * seed (claim C3, bug B6), but a sender that gets a fatal signal stops the
 * series and the datagram, and the datagram's sleeps are bounded.
 */
static int netl_seed(struct netl_datagram *dg, struct sk_buff *in_skb,
		     const struct nlmsghdr *nlh)
{
	unsigned int interval = READ_ONCE(reply_interval_ms);
	unsigned int count = READ_ONCE(reply_count);
	u32 portid = NETLINK_CB(in_skb).portid;
	const char *data = nlmsg_data(nlh);
	int len = nlmsg_len(nlh);
	u32 seq = nlh->nlmsg_seq;
	unsigned int i;
	int err;

	BUILD_BUG_ON(sizeof(NETL_SEED_REPLY) > NETL_SEED_PAYLOAD_LEN);

	/*
	 * The payload is the user's: it need not be NUL-terminated, and may
	 * hold newlines or terminal escapes.  Print at most
	 * NETL_SEED_LOG_MAX bytes of it up to its first NUL, escaped, and
	 * within netl_seed_log_rs.
	 */
	if (__ratelimit(&netl_seed_log_rs))
		pr_info("seed request from port %u (nlmsg_pid %u, seq %u, %d bytes): %*pE\n",
			portid, nlh->nlmsg_pid, seq, len,
			(int)strnlen(data, min(len, NETL_SEED_LOG_MAX)), data);

	for (i = 0; i < count; i++) {
		/*
		 * Killable, not msleep(): the sender stays in D state (C3),
		 * but the hung-task detector, which B6 shows on the seed,
		 * does not flag it, and SIGKILL ends the series.
		 */
		err = interval ? netl_sleep(dg, interval) : 0;
		if (!err)
			err = netl_send(in_skb->sk, dg->nn, portid, seq,
					NETL_SEED_TYPE, netl_seed_payload,
					sizeof(netl_seed_payload));
		if (err) {
			/*
			 * -ETIME: max_sleep_ms is spent; -ECONNREFUSED: the
			 * socket is gone; -ENOBUFS: its receive queue is full.
			 * Either way the next reply would fare no better.  A
			 * sender being killed (-EINTR) reads no log.
			 */
			if (err != -EINTR)
				netl_log_stop(portid, "seed request", i, count,
					      err);
			return err;
		}
	}

	return 0;
}

/* NETL_MSG_ECHO: send the whole payload back, count times. */
static int netl_echo(struct netl_datagram *dg, struct sk_buff *in_skb,
		     const struct nlmsghdr *nlh,
		     struct netlink_ext_ack *extack)
{
	const struct netl_echo *req = netl_payload(dg->nn, nlh, sizeof(*req),
						   extack);
	u32 portid = NETLINK_CB(in_skb).portid;
	unsigned int count, interval, i;
	int err;

	if (!req)
		return -EINVAL;
	if (req->count > NETL_ECHO_COUNT_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "echo count above 100");
		return -EINVAL;
	}
	if (req->interval_ms != NETL_ECHO_PARAM_INTERVAL &&
	    req->interval_ms > NETL_ECHO_INTERVAL_MS_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "echo interval above 60000 ms");
		return -EINVAL;
	}
	/* Each reply is a copy of the request: up to 100 of them. */
	if (nlmsg_len(nlh) - sizeof(*req) > NETL_ECHO_DATA_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "echo data above 4096 bytes");
		return -EMSGSIZE;
	}

	count = req->count ? req->count : READ_ONCE(reply_count);
	interval = req->interval_ms == NETL_ECHO_PARAM_INTERVAL ?
		   READ_ONCE(reply_interval_ms) : req->interval_ms;

	for (i = 0; i < count; i++) {
		if (i && interval) {
			err = netl_sleep(dg, interval);
			if (err == -EINTR)
				return err;	/* nobody will read an ack */
			if (err) {
				NL_SET_ERR_MSG_MOD(extack, "the datagram slept max_sleep_ms");
				return err;
			}
		}

		/*
		 * The series stops at the first reply not sent, and the
		 * error is returned for the ack.
		 */
		err = netl_send(in_skb->sk, dg->nn, portid, nlh->nlmsg_seq,
				NETL_MSG_ECHO, nlmsg_data(nlh), nlmsg_len(nlh));
		if (err) {
			netl_log_stop(portid, "echo", i, count, err);
			return err;
		}
	}

	return 0;
}

/* NETL_MSG_BROADCAST: send the data to a multicast group. */
static int netl_broadcast(struct netl_net *nn, struct sk_buff *in_skb,
			  const struct nlmsghdr *nlh,
			  struct netlink_ext_ack *extack)
{
	const struct netl_broadcast *req = netl_payload(nn, nlh, sizeof(*req),
							 extack);
	struct sk_buff *skb;
	int err;

	if (!req)
		return -EINVAL;
	/*
	 * CAP_NET_ADMIN over the namespace's owner, as the kernel asks of a
	 * user socket sending to a group: root of a container may broadcast
	 * in the container's namespace, and nowhere else.
	 */
	if (!netlink_net_capable(in_skb, CAP_NET_ADMIN)) {
		NL_SET_ERR_MSG_MOD(extack, "broadcast needs CAP_NET_ADMIN");
		return -EPERM;
	}
	if (req->group < 1 || req->group > NETL_GROUPS) {
		NL_SET_ERR_MSG_MOD(extack, "broadcast group not 1 to 64");
		return -EINVAL;
	}
	if (req->reserved) {
		NL_SET_ERR_MSG_MOD(extack, "reserved field not 0");
		return -EINVAL;
	}

	atomic64_inc(&nn->counters.broadcasts);
	skb = netl_build(0, NETL_MSG_BROADCAST, req->data,
			 nlmsg_len(nlh) - sizeof(*req));
	if (!skb) {
		atomic64_inc(&nn->counters.tx_drops);
		return -ENOMEM;
	}

	/*
	 * -ESRCH: no member received it (there is none, or every one's
	 * queue was full).  That is the listeners' business, not an error
	 * of the sender's request.  -ENOBUFS comes only from members that
	 * set NETLINK_BROADCAST_ERROR.  The namespace's own socket reaches
	 * the members in that namespace, and listeners elsewhere that set
	 * NETLINK_LISTEN_ALL_NSID with CAP_NET_BROADCAST over it.
	 */
	err = nlmsg_multicast(in_skb->sk, skb, 0, req->group, GFP_KERNEL);
	if (!err) {
		atomic64_inc(&nn->counters.tx_msgs);
	} else if (err == -ESRCH) {
		err = 0;
	} else {
		atomic64_inc(&nn->counters.tx_drops);
		NL_SET_ERR_MSG_MOD(extack, "broadcast not delivered to every member");
	}
	return err;
}

static void netl_notify_work(struct work_struct *work)
{
	struct netl_notification *n =
		container_of(to_delayed_work(work), struct netl_notification,
			     work);
	struct netl_net *nn = n->nn;
	struct sk_buff *skb;
	bool owner;

	skb = netl_build(0, NETL_MSG_NOTIFY, n->data, n->len);

	mutex_lock(&nn->notify_lock);
	owner = !n->cancelled;
	if (owner) {
		list_del(&n->node);
		nn->notifications_pending--;
		if (netl_notification_orphaned(n)) {
			/* Its port may be another socket's by now. */
			atomic64_inc(&nn->counters.tx_drops);
			kfree_skb(skb);
		} else {
			netl_unicast(n->sk, nn, skb, n->portid);
		}
	}
	mutex_unlock(&nn->notify_lock);

	/*
	 * Cancelled: the canceller frees n once this function returned.  nn
	 * may go as soon as the mutex is released: netl_net_exit() waits for
	 * this function to return (flush_workqueue()) before it does.
	 */
	if (owner)
		netl_notification_free(n);
	else
		kfree_skb(skb);
}

/*
 * NETL_MSG_NOTIFY: queue a notification, to be armed by the caller with
 * netl_notification_arm() (see netl_rcv_msg()).
 */
static int netl_notify(struct netl_net *nn, struct sk_buff *in_skb,
		       const struct nlmsghdr *nlh,
		       struct netlink_ext_ack *extack,
		       struct netl_notification **queued)
{
	const struct netl_notify *req = netl_payload(nn, nlh, sizeof(*req),
						     extack);
	u32 sender = NETLINK_CB(in_skb).portid;
	struct netl_notification *n, *p;
	unsigned int mine = 0;
	size_t len;
	u32 portid;

	if (!req)
		return -EINVAL;
	portid = req->portid ? req->portid : sender;
	if (portid != sender && !netlink_net_capable(in_skb, CAP_NET_ADMIN)) {
		NL_SET_ERR_MSG_MOD(extack, "notifying another port needs CAP_NET_ADMIN");
		return -EPERM;
	}
	if (req->delay_ms > NETL_NOTIFY_DELAY_MS_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "notification delay above 60000 ms");
		return -EINVAL;
	}
	len = nlmsg_len(nlh) - sizeof(*req);
	if (len > NETL_NOTIFY_DATA_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "notification data above 4096 bytes");
		return -EMSGSIZE;
	}

	/* Charged to the sender's memory cgroup, as its queue would be. */
	n = kmalloc(struct_size(n, data, len), GFP_KERNEL_ACCOUNT);
	if (!n)
		return -ENOMEM;
	INIT_DELAYED_WORK(&n->work, netl_notify_work);
	n->nn = nn;
	n->sk = in_skb->sk;
	/*
	 * A jiffy more, as msleep() adds: a timer counts from the current
	 * jiffy, part of which has gone, and would fire up to a jiffy early.
	 */
	n->delay = req->delay_ms ? msecs_to_jiffies(req->delay_ms) + 1 : 0;
	n->requester = sender;
	n->portid = portid;
	n->target = NULL;
	if (portid == sender) {
		n->target = NETLINK_CB(in_skb).sk;
		sock_hold(n->target);
	}
	n->armed = false;
	n->cancelled = false;
	n->len = len;
	memcpy(n->data, req->data, len);

	mutex_lock(&nn->notify_lock);
	list_for_each_entry(p, &nn->notifications, node)
		mine += p->requester == sender;
	if (mine >= NETL_NOTIFY_PORT_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "too many notifications pending for this port");
	} else if (nn->notifications_pending >= NETL_NOTIFY_PENDING_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "too many notifications pending");
	} else {
		list_add_tail(&n->node, &nn->notifications);
		nn->notifications_pending++;
		*queued = n;
	}
	mutex_unlock(&nn->notify_lock);

	if (!*queued) {
		netl_notification_free(n);
		return -EBUSY;
	}
	atomic64_inc(&nn->counters.notifies);
	return 0;
}

/* Starts the delay of a notification queued by netl_notify(). */
static void netl_notification_arm(struct netl_notification *n)
{
	struct netl_net *nn = n->nn;
	bool cancelled;

	mutex_lock(&nn->notify_lock);
	cancelled = n->cancelled;
	if (!cancelled) {
		n->armed = true;
		queue_delayed_work(netl_wq, &n->work, n->delay);
	}
	mutex_unlock(&nn->notify_lock);

	/* Its port went away between the request and now. */
	if (cancelled)
		netl_notification_free(n);
}

/*
 * Cancels the pending notifications of a namespace that go to portid (those
 * a socket asked for itself only if that socket is dead), or all of them if
 * all is set, and waits for those being sent: none of them is sent once
 * this returns.  Returns how many were cancelled.
 */
static unsigned int netl_notifications_cancel(struct netl_net *nn,
					      u32 portid, bool all)
{
	struct netl_notification *n, *tmp;
	unsigned int cancelled = 0;
	LIST_HEAD(doomed);

	mutex_lock(&nn->notify_lock);
	list_for_each_entry_safe(n, tmp, &nn->notifications, node) {
		if (!all && (n->portid != portid ||
			     (n->target && !netl_notification_orphaned(n))))
			continue;
		/* No request is under way in a namespace going away. */
		WARN_ON_ONCE(all && !n->armed);
		n->cancelled = true;
		list_del(&n->node);
		nn->notifications_pending--;
		cancelled++;
		/* An unarmed one is freed by netl_notification_arm(). */
		if (n->armed)
			list_add_tail(&n->node, &doomed);
	}
	mutex_unlock(&nn->notify_lock);

	list_for_each_entry_safe(n, tmp, &doomed, node) {
		cancel_delayed_work_sync(&n->work);
		netl_notification_free(n);
	}
	return cancelled;
}

/*
 * A port of the protocol is released: its notifications are cancelled, so
 * that none reaches the next socket to bind that port number, whoever owns
 * it.  netlink_release() unhashes the port (netlink_remove()) and marks the
 * socket dead (sock_orphan()) before it calls this notifier, so a new
 * socket may already hold the port: a notification it asked for itself is
 * left alone, and one of the dead socket's is not sent once the socket is
 * dead.  A notification a privileged sender addressed to the port is
 * cancelled by port number alone.  Left open, for both kinds: a work that
 * checked the socket just before netlink_remove() still sends by port
 * number (netlink_unicast() has no other way), and a socket that binds the
 * port in that instant gets it.
 */
static int netl_netlink_event(struct notifier_block *nb, unsigned long event,
			      void *ptr)
{
	struct netlink_notify *n = ptr;

	if (event != NETLINK_URELEASE || n->protocol != NETL_PROTOCOL)
		return NOTIFY_DONE;
	/* netl_net_id is valid once the pernet operations are registered. */
	if (!smp_load_acquire(&netl_ready))
		return NOTIFY_DONE;

	netl_notifications_cancel(netl_pernet(n->net), n->portid, false);
	return NOTIFY_DONE;
}

static struct notifier_block netl_netlink_notifier = {
	.notifier_call = netl_netlink_event,
};

/* The state of a dump, kept in its netlink_callback between reads. */
struct netl_dump_ctx {
	u32 parts;	/* parts requested */
	u32 next;	/* index of the next part to send */
};

/*
 * Runs once, from netlink_dump_start(), before the first part is sent;
 * cb->nlh is the request, whose payload netl_dump_req() checked, and
 * cb->data the namespace's netl_net.
 */
static int netl_dump_start(struct netlink_callback *cb)
{
	const struct netl_dump_req *req = nlmsg_data(cb->nlh);
	struct netl_dump_ctx *ctx = (struct netl_dump_ctx *)cb->ctx;
	struct netl_net *nn = cb->data;

	netl_assert_ctx_fits(struct netl_dump_ctx);

	ctx->parts = req->parts;
	ctx->next = 0;
	atomic64_inc(&nn->counters.dumps);
	return 0;
}

/*
 * Fills skb with as many parts as fit, on the first call from
 * netlink_dump_start() and then each time the requester reads.  Returning
 * skb->len asks to be called again; returning 0 ends the dump, and the dump
 * machinery appends NLMSG_DONE, in this skb if it has room.
 */
static int netl_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct netl_dump_ctx *ctx = (struct netl_dump_ctx *)cb->ctx;
	struct netl_net *nn = cb->data;
	struct netl_dump_part *part;
	struct nlmsghdr *nlh;

	for (; ctx->next < ctx->parts; ctx->next++) {
		nlh = nlmsg_put_answer(skb, cb, NETL_MSG_DUMP, sizeof(*part),
				       NLM_F_MULTI);
		if (!nlh)
			return skb->len;

		part = nlmsg_data(nlh);
		part->index = ctx->next;
		part->total = ctx->parts;
		nlmsg_end(skb, nlh);
		atomic64_inc(&nn->counters.tx_msgs);
	}

	return 0;
}

/* NETL_MSG_DUMP: start a dump through the kernel's dump machinery. */
static int netl_dump_req(struct netl_net *nn, struct sk_buff *skb,
			 const struct nlmsghdr *nlh,
			 struct netlink_ext_ack *extack)
{
	/*
	 * Everything is checked here, where extack is at hand: the dump
	 * control's own .extack field exists in 6.12 but not in 5.10 or 6.1.
	 */
	struct netlink_dump_control c = {
		.start = netl_dump_start,
		.dump = netl_dump,
		.data = nn,
	};
	const struct netl_dump_req *req;

	req = netl_payload(nn, nlh, sizeof(*req), extack);
	if (!req)
		return -EINVAL;
	if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP) {
		NL_SET_ERR_MSG_MOD(extack, "dump request without NLM_F_DUMP");
		return -EINVAL;
	}
	if (req->parts > NETL_DUMP_PARTS_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "dump parts above 1000");
		return -EINVAL;
	}

	/*
	 * Once the dump is under way, netlink_dump_start() returns -EINTR:
	 * its NLMSG_DONE stands for the ack, and the caller sends none.
	 */
	return netlink_dump_start(skb->sk, skb, nlh, &c);
}

/* NETL_MSG_STATS: the namespace's counters, this request included. */
static int netl_stats(struct netl_net *nn, struct sk_buff *in_skb,
		      const struct nlmsghdr *nlh)
{
	struct netl_counters *c = &nn->counters;
	struct netl_stats st = {
		.rx_msgs = atomic64_read(&c->rx_msgs),
		.rx_bytes = atomic64_read(&c->rx_bytes),
		.rx_malformed = atomic64_read(&c->rx_malformed),
		.tx_msgs = atomic64_read(&c->tx_msgs),
		.tx_drops = atomic64_read(&c->tx_drops),
		.broadcasts = atomic64_read(&c->broadcasts),
		.notifies = atomic64_read(&c->notifies),
		.dumps = atomic64_read(&c->dumps),
	};

	return netl_send(in_skb->sk, nn, NETLINK_CB(in_skb).portid,
			 nlh->nlmsg_seq, NETL_MSG_STATS, &st, sizeof(st));
}

/* A typed request: NLM_F_REQUEST set, type at least NLMSG_MIN_TYPE. */
static int netl_rcv_typed(struct netl_datagram *dg, struct sk_buff *skb,
			  struct nlmsghdr *nlh,
			  struct netlink_ext_ack *extack,
			  struct netl_notification **queued)
{
	struct netl_net *nn = dg->nn;

	switch (nlh->nlmsg_type) {
	case NETL_MSG_ECHO:
		return netl_echo(dg, skb, nlh, extack);
	case NETL_MSG_BROADCAST:
		return netl_broadcast(nn, skb, nlh, extack);
	case NETL_MSG_NOTIFY:
		return netl_notify(nn, skb, nlh, extack, queued);
	case NETL_MSG_DUMP:
		return netl_dump_req(nn, skb, nlh, extack);
	case NETL_MSG_STATS:
		return netl_stats(nn, skb, nlh);
	}

	atomic64_inc(&nn->counters.rx_malformed);
	NL_SET_ERR_MSG_MOD(extack, "unknown message type");
	return -EOPNOTSUPP;
}

/*
 * Handles one message whose length nlmsg_ok() has checked.
 *
 * Typed messages get what netlink_rcv_skb() gives them: only requests are
 * acted upon, control types (NLMSG_NOOP, ...) are skipped, and each message
 * is acknowledged if it asks to be, or if it failed; -EINTR (a dump under
 * way, or a sender being killed) sends no ack.  netlink_rcv_skb() itself
 * cannot be called: it walks the whole skb and would skip (and ack) type 0,
 * the seed's type, before calling back, and it stops silently at a bad
 * length, which this module answers and counts (netl_rcv_malformed()).
 */
static void netl_rcv_msg(struct netl_datagram *dg, struct sk_buff *skb,
			 struct nlmsghdr *nlh)
{
	struct netl_notification *queued = NULL;
	struct netlink_ext_ack extack = {};
	u16 flags = nlh->nlmsg_flags;
	int err = 0;

	atomic64_inc(&dg->nn->counters.rx_msgs);

	if (nlh->nlmsg_type == NETL_SEED_TYPE) {
		/* The seed's protocol: answered whatever its flags. */
		err = netl_seed(dg, skb, nlh);
		if (err == -EINTR)
			return;
		if ((flags & NLM_F_ACK) || (err && (flags & NLM_F_REQUEST)))
			netlink_ack(skb, nlh, err, NULL);
		return;
	}

	if ((flags & NLM_F_REQUEST) && nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
		err = netl_rcv_typed(dg, skb, nlh, &extack, &queued);
		if (err == -EINTR)
			return;
	}

	if ((flags & NLM_F_ACK) || err)
		netlink_ack(skb, nlh, err, &extack);

	/*
	 * A notification is armed only now, after the ack is queued, so that
	 * a notification to the sender itself never arrives before the ack:
	 * a client reading up to the ack would otherwise skip it.
	 */
	if (queued)
		netl_notification_arm(queued);
}

/*
 * The bytes left where the walk stopped: fewer than a header, or a header
 * whose nlmsg_len is under NLMSG_HDRLEN or runs past the skb.  A typed
 * request gets -EINVAL; the ack echoes its header with nlmsg_len cut to the
 * header alone, because netlink_ack() copies nlmsg_len bytes of the request
 * and the real nlmsg_len cannot be trusted.
 */
static void netl_rcv_malformed(struct netl_net *nn, struct sk_buff *skb,
			       const struct nlmsghdr *nlh, int rem)
{
	struct netlink_ext_ack extack = {};
	struct nlmsghdr hdr;

	atomic64_inc(&nn->counters.rx_msgs);
	atomic64_inc(&nn->counters.rx_malformed);
	pr_debug("port %u: %d bytes of malformed message ignored\n",
		 NETLINK_CB(skb).portid, rem);

	if (rem < NLMSG_HDRLEN)
		return;
	if (!(nlh->nlmsg_flags & NLM_F_REQUEST) ||
	    nlh->nlmsg_type < NLMSG_MIN_TYPE)
		return;

	hdr = *nlh;
	hdr.nlmsg_len = NLMSG_HDRLEN;
	NL_SET_ERR_MSG_MOD(&extack, "bad nlmsg_len");
	netlink_ack(skb, &hdr, -EINVAL, &extack);
}

/*
 * Input callback, run in the sender's context from its sendmsg(); skb->sk
 * is the kernel socket of the sender's namespace.  The skb may hold several
 * messages; nlmsg_ok() checks, before any field past the length is read,
 * that at least NLMSG_HDRLEN bytes remain, that nlmsg_len is at least
 * NLMSG_HDRLEN and that it does not run past the skb.  The walk stops at the
 * first message that fails those checks, and when the sender is killed:
 * one sendmsg() may carry thousands of messages.
 */
static void netl_rcv(struct sk_buff *skb)
{
	struct netl_datagram dg = {
		.nn = netl_pernet(sock_net(skb->sk)),
		.max_sleep_ms = READ_ONCE(max_sleep_ms),
	};
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

	atomic64_add(skb->len, &dg.nn->counters.rx_bytes);

	nlmsg_for_each_msg(nlh, nlmsg_hdr(skb), skb->len, rem) {
		netl_rcv_msg(&dg, skb, nlh);
		if (fatal_signal_pending(current))
			return;
	}

	if (rem > 0)
		netl_rcv_malformed(dg.nn, skb, nlh, rem);
}

static int __net_init netl_net_init(struct net *net)
{
	/*
	 * NL_CFG_F_NONROOT_RECV lets sockets without CAP_NET_ADMIN join the
	 * multicast groups (bind() with nl_groups, NETLINK_ADD_MEMBERSHIP),
	 * so that tests can watch broadcasts as an ordinary user; without it
	 * netlink_bind() refuses them with -EPERM.  Sending to the groups
	 * stays privileged: user sockets need CAP_NET_ADMIN to send to a
	 * group (no NL_CFG_F_NONROOT_SEND), and NETL_MSG_BROADCAST checks it.
	 */
	struct netlink_kernel_cfg cfg = {
		.input = netl_rcv,
		.groups = NETL_GROUPS,
		.flags = NL_CFG_F_NONROOT_RECV,
	};
	struct netl_net *nn = netl_pernet(net);

	mutex_init(&nn->notify_lock);
	INIT_LIST_HEAD(&nn->notifications);

	/*
	 * Kernel sockets hold no reference on their namespace
	 * (sk_alloc(..., kern=1)): this one does not keep it alive.
	 */
	nn->sk = netlink_kernel_create(net, NETL_PROTOCOL, &cfg);
	if (nn->sk)
		return 0;

	if (!net_eq(net, &init_net))
		return -ENOMEM;
	/*
	 * NULL says nothing of why.  In the initial namespace, at load, it is
	 * in practice that another kernel socket holds port 0 of the protocol
	 * (netlink_insert() in __netlink_kernel_create()): another module,
	 * such as the seed's netl_seed, registered protocol 25.
	 */
	pr_err("cannot register protocol %d: another module holds it (the seed's netl_seed?), or memory ran out\n",
	       NETL_PROTOCOL);
	return -EBUSY;
}

/*
 * The namespace is going away (or the module): no user socket is left in
 * it, so no request comes in.  Its notifications go before its socket.
 */
static void __net_exit netl_net_exit(struct net *net)
{
	struct netl_net *nn = netl_pernet(net);
	unsigned int cancelled;

	cancelled = netl_notifications_cancel(nn, 0, true);
	if (cancelled)
		pr_info("network namespace %u: %u pending notifications cancelled\n",
			net->ns.inum, cancelled);
	/*
	 * A work function that sent its notification may still be releasing
	 * nn->notify_lock: nn must outlive that (mutex_unlock() touches the
	 * mutex after another task can take it).
	 */
	flush_workqueue(netl_wq);
	mutex_destroy(&nn->notify_lock);
	netlink_kernel_release(nn->sk);
}

static struct pernet_operations netl_net_ops = {
	.init = netl_net_init,
	.exit = netl_net_exit,
	.id = &netl_net_id,
	.size = sizeof(struct netl_net),
};

static int __init netl_init(void)
{
	int err;

	BUILD_BUG_ON(sizeof(struct netl_echo) != NETL_ECHO_HDR_LEN);
	BUILD_BUG_ON(sizeof(struct netl_broadcast) != NETL_BROADCAST_HDR_LEN);
	BUILD_BUG_ON(sizeof(struct netl_notify) != NETL_NOTIFY_HDR_LEN);
	BUILD_BUG_ON(sizeof(struct netl_dump_req) != NETL_DUMP_REQ_LEN);
	BUILD_BUG_ON(sizeof(struct netl_dump_part) != NETL_DUMP_PART_LEN);
	BUILD_BUG_ON(sizeof(struct netl_stats) != NETL_STATS_LEN);

	/*
	 * WQ_UNBOUND, not 0: since "workqueue: Add new WQ_PERCPU flag" a
	 * workqueue must say whether it is per-CPU or unbound, and 7.2 warns
	 * at alloc time when it says neither. WQ_UNBOUND means the same on
	 * every pinned series, and the notifications need no CPU affinity.
	 */
	netl_wq = alloc_workqueue("netl", WQ_UNBOUND, 0);
	if (!netl_wq)
		return -ENOMEM;

	/*
	 * The notifier first: a socket may use the protocol as soon as the
	 * initial namespace's kernel socket exists, and its release must
	 * cancel its notifications from then on.
	 */
	err = netlink_register_notifier(&netl_netlink_notifier);
	if (err)
		goto err_destroy_wq;

	/* A kernel socket in every namespace there is, and in every new one. */
	err = register_pernet_subsys(&netl_net_ops);
	if (err)
		goto err_unregister_notifier;
	/* Pairs with smp_load_acquire() in netl_netlink_event(). */
	smp_store_release(&netl_ready, true);

	pr_info("loaded: protocol %d, reply_count=%u reply_interval_ms=%u max_sleep_ms=%u\n",
		NETL_PROTOCOL, reply_count, reply_interval_ms, max_sleep_ms);
	return 0;

err_unregister_notifier:
	netlink_unregister_notifier(&netl_netlink_notifier);
err_destroy_wq:
	destroy_workqueue(netl_wq);
	return err;
}

/*
 * Every user socket of the protocol holds a reference on the module, so no
 * request comes in any more; a dump in progress holds one too.  Each
 * namespace's notifications are cancelled before its socket goes
 * (netl_net_exit()).
 */
static void __exit netl_exit(void)
{
	unregister_pernet_subsys(&netl_net_ops);
	netlink_unregister_notifier(&netl_netlink_notifier);
	destroy_workqueue(netl_wq);
	pr_info("unloaded: protocol %d\n", NETL_PROTOCOL);
}

module_init(netl_init);
module_exit(netl_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("netl developers");
MODULE_DESCRIPTION("Netlink test module: the seed article's NETLINK_TEST protocol, fixed");
