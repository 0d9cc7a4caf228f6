/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences between the pinned series (5.10, 6.1, 6.12, 7.2),
 * each named after the change and the version that brought it, so that
 * netl.c reads as written for the newest kernel.  Macros are tested for
 * directly rather than through LINUX_VERSION_CODE: that is exact on stable
 * backports and keeps checkpatch quiet; struct and signature changes, which
 * cannot be tested for, would be keyed on LINUX_VERSION_CODE here.
 */
#ifndef _NETL_COMPAT_H
#define _NETL_COMPAT_H

#include <linux/compiler.h>

/*
 * __counted_by() ties a flexible array to its length for the bounds
 * checkers; "Compiler Attributes: Add __counted_by macro" added it in 6.5.
 * Before that it is only an annotation, so it may expand to nothing.
 */
#ifndef __counted_by
#define __counted_by(member)
#endif

#endif /* _NETL_COMPAT_H */
