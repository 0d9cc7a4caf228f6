/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences between the pinned series (5.10, 6.1, 6.12, 7.2),
 * each named after the change and the series that have it, so that netl.c
 * reads as written for the newest kernel.  Macros are tested for directly
 * rather than through LINUX_VERSION_CODE: that is exact on stable backports
 * and keeps checkpatch quiet; a struct or signature change, which cannot be
 * tested for, would be keyed on LINUX_VERSION_CODE here.
 *
 * Changes worked around in netl.c itself, because one spelling serves every
 * series: netlink_dump_control.extack (6.12 has it, 5.10 and 6.1 do not: the
 * dump request is checked before netlink_dump_start()), and WQ_PERCPU ("a
 * workqueue must say per-CPU or unbound", a warning on 7.2: netl asks for
 * WQ_UNBOUND, which every series has).
 */
#ifndef _NETL_COMPAT_H
#define _NETL_COMPAT_H

#include <linux/build_bug.h>
#include <linux/netlink.h>

/*
 * A dump's private state lives in netlink_callback.ctx (48 bytes on every
 * pinned series).  The check that it fits was added as
 * NL_ASSERT_DUMP_CTX_FITS (in 6.12, not in 6.1) and renamed
 * NL_ASSERT_CTX_FITS (7.2).
 */
#if defined(NL_ASSERT_CTX_FITS)
#define netl_assert_ctx_fits(type) NL_ASSERT_CTX_FITS(type)
#elif defined(NL_ASSERT_DUMP_CTX_FITS)
#define netl_assert_ctx_fits(type) NL_ASSERT_DUMP_CTX_FITS(type)
#else
#define netl_assert_ctx_fits(type) \
	BUILD_BUG_ON(sizeof(type) > sizeof_field(struct netlink_callback, ctx))
#endif

#endif /* _NETL_COMPAT_H */
