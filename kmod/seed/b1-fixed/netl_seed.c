// SPDX-License-Identifier: GPL-2.0
/*
 * netl_seed, variant b1-fixed - the port in ../netl_seed.c with one line
 * changed, so that what B1 hides can show: B5 (replies go to the port the
 * sender wrote in nlmsg_pid, and nlmsg_pid 0 loops the reply back into the
 * module) and B9 (each reply reserves MAX_MSGSIZE bytes and fills 18, so
 * the rest reaches user space uninitialised).
 *
 * The changes, both marked "b1-fixed:":
 *   - sendnlmsg() no longer writes message[slen] = '\0' into the string
 *     literal (B1); the literal is terminated already.
 *   - the 3 s between replies is the module parameter interval_ms
 *     (default 3000, the article's), so that a repro case can bound its
 *     time.
 * Everything else, B2-B7 included, is the port's.  Built and loaded under
 * the same name, netl_seed, as the port.
 *
 * This is the module of kmod/seed/original/netl_seed.c with only the kernel
 * APIs that no longer exist replaced, each marked "seed:" with what the
 * article had.  Everything else - the logic, the globals, the printk()s, the
 * counts and the bugs - is the article's.  The harness's reproducers
 * (vmtest/repro/B1..B8) trigger each bug; kmod/netl.c is the fixed module.
 * Do not fix anything here, and do not build this with -Werror.
 *
 * The bugs, and the line each lives on:
 *
 *   B1  line 80   sendnlmsg() writes message[slen] = '\0' into its argument,
 *                 the string literal "I am from kernel!" passed on line 119:
 *                 a store into the module's read-only data, on every reply.
 *   B2  line 111  memcpy(str, NLMSG_DATA(nlh), sizeof(str)) copies 100 bytes
 *                 whatever nlmsg_len says, and leaves str unterminated for
 *                 the printk("%s") on line 112.
 *   B3  line 69   alloc_skb()'s NULL is logged, then used anyway: nlmsg_put()
 *                 on line 74 dereferences it.
 *   B4  line 107  skb_get() takes a reference that only the long-message
 *                 branch drops (kfree_skb() on line 122): a message shorter
 *                 than NLMSG_SPACE(0) leaks its skb.
 *   B5  line 113  replies go to nlh->nlmsg_pid, which the sender writes
 *                 freely, instead of NETLINK_CB(__skb).portid; with 0 there
 *                 the module sends to itself (netlink_unicast() on line 84),
 *                 but B1 faults first, on line 80.
 *   B6  line 118  the input callback, which runs inside the sender's
 *                 sendmsg(), sleeps 10 x 3 s uninterruptibly (loop on lines
 *                 114-120).
 *   B7  line 152  sock_release(nl_sk->sk_socket) instead of
 *                 netlink_kernel_release(nl_sk), which on every pinned
 *                 kernel does just that.
 *   B8  lines 76-77 and 129-140: the article's NETLINK_CB(skb_1).pid and
 *                 6-argument netlink_kernel_create() do not build on any
 *                 pinned kernel (kmod/seed/original/ keeps them).
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/timer.h>
#include <linux/time.h>
#include <linux/types.h>
#include <net/sock.h>
#include <net/netlink.h>

#define NETLINK_TEST 25
#define MAX_MSGSIZE 1024

int stringlength(char *s);
int err;
struct sock *nl_sk = NULL;
int flag = 0;

/* b1-fixed: the article waits 3 * HZ between replies. */
static unsigned int interval_ms = 3000;
module_param(interval_ms, uint, 0644);
MODULE_PARM_DESC(interval_ms, "milliseconds between replies (the article: 3000)");

//向用户态进程回发消息
void sendnlmsg(char *message, int pid)
{
    struct sk_buff *skb_1;
    struct nlmsghdr *nlh;
    int len = NLMSG_SPACE(MAX_MSGSIZE);
    int slen = 0;
    if(!message || !nl_sk)
    {
        return ;
    }
    printk(KERN_ERR "pid:%d\n",pid);
    skb_1 = alloc_skb(len,GFP_KERNEL);
    if(!skb_1)
    {
        printk(KERN_ERR "my_net_link:alloc_skb error\n");
    }
    slen = stringlength(message);
    nlh = nlmsg_put(skb_1,0,0,0,MAX_MSGSIZE,0);

    /* seed: NETLINK_CB(skb_1).pid = 0; (.pid became .portid in 3.7) */
    NETLINK_CB(skb_1).portid = 0;
    NETLINK_CB(skb_1).dst_group = 0;

    /* b1-fixed: the seed had message[slen]= '\0'; here (B1). */
    memcpy(NLMSG_DATA(nlh),message,slen+1);
    printk("my_net_link:send message '%s'.\n",(char *)NLMSG_DATA(nlh));

    netlink_unicast(nl_sk,skb_1,pid,MSG_DONTWAIT);
}

int stringlength(char *s)
{
    int slen = 0;
    for(; *s; s++)
    {
        slen++;
    }
    return slen;
}

//接收用户态发来的消息
void nl_data_ready(struct sk_buff *__skb)
{
    struct sk_buff *skb;
    struct nlmsghdr *nlh;
    char str[100];
    struct completion cmpl;
    printk("begin data_ready\n");
    int i=10;
    int pid;
    skb = skb_get (__skb);
    if(skb->len >= NLMSG_SPACE(0))
    {
        nlh = nlmsg_hdr(skb);
        memcpy(str, NLMSG_DATA(nlh), sizeof(str));
        printk("Message received:%s\n",str) ;
        pid = nlh->nlmsg_pid;
        while(i--)
        {
            //我们使用completion做延时,每3秒钟向用户态回发一个消息
            init_completion(&cmpl);
            wait_for_completion_timeout(&cmpl,msecs_to_jiffies(interval_ms)); /* b1-fixed: 3 * HZ */
            sendnlmsg("I am from kernel!",pid);
        }
        flag = 1;
        kfree_skb(skb);
    }
}

// Initialize netlink
int netlink_init(void)
{
    /*
     * seed: netlink_kernel_create(&init_net, NETLINK_TEST, 1,
     *                             nl_data_ready, NULL, THIS_MODULE);
     * 3.6 moved groups, input and cb_mutex into struct netlink_kernel_cfg
     * (the "第二种API" the article describes), and 3.7 made THIS_MODULE
     * implicit.
     */
    struct netlink_kernel_cfg cfg = {
        .groups = 1,
        .input = nl_data_ready,
    };
    nl_sk = netlink_kernel_create(&init_net, NETLINK_TEST, &cfg);
    if(!nl_sk){
        printk(KERN_ERR "my_net_link: create netlink socket error.\n");
        return 1;
    }
    printk("my_net_link_4: create netlink socket ok.\n");
    return 0;
}

static void netlink_exit(void)
{
    if(nl_sk != NULL){
        sock_release(nl_sk->sk_socket);
    }
    printk("my_net_link: self module exited\n");
}

module_init(netlink_init);
module_exit(netlink_exit);
MODULE_AUTHOR("chihao");
MODULE_LICENSE("GPL");
