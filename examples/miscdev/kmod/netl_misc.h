/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * netl_misc: the example consumer of netl's kmodtest, a misc character
 * device /dev/netl_misc with two ioctls.
 */
#ifndef _UAPI_NETL_MISC_H
#define _UAPI_NETL_MISC_H

#include <linux/ioctl.h>
#include <linux/types.h>

struct netl_misc_add {
	__u32 a;
	__u32 b;
	__u32 sum;	/* out: a + b; -EOVERFLOW when it does not fit */
};

#define NETL_MISC_ADD	_IOWR('N', 1, struct netl_misc_add)
#define NETL_MISC_COUNT	_IOR('N', 2, __u64)	/* sums made since load */

#endif /* _UAPI_NETL_MISC_H */
