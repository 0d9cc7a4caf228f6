// SPDX-License-Identifier: GPL-2.0
/*
 * splatgen - makes the kernel print one report of a chosen kind, so that the
 * console scanner in internal/splat is tested on real reports from the
 * kernels netl runs (internal/splat/testdata/KIND.log), not on made-up text.
 *
 * insmod splatgen.ko kind=warn|bug|gpf|oops|kasan|ubsan|leak|lockdep|hung|softlockup|panic
 *
 * Test tooling only: every kind is a deliberate bug.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>

static char *kind = "warn";
module_param(kind, charp, 0444);
MODULE_PARM_DESC(kind, "report to cause");

static DEFINE_MUTEX(lock_a);
static DEFINE_MUTEX(lock_b);
static void *leaked;

/*
 * An index past a[] that stays inside the struct: UBSAN_BOUNDS reports it,
 * KASAN sees a valid access and stays quiet.
 */
static struct {
	int a[4];
	int after;
} splat_bounds;
static int splat_index = 4;
module_param_named(index, splat_index, int, 0444);

static noinline int splat_hung(void *unused)
{
	set_current_state(TASK_UNINTERRUPTIBLE);
	schedule_timeout(60 * HZ);
	return 0;
}

static noinline void splat_softlockup(void)
{
	unsigned long end = jiffies + 30 * HZ;

	preempt_disable();
	while (time_before(jiffies, end))
		cpu_relax();
	preempt_enable();
}

static int __init splatgen_init(void)
{
	pr_info("causing a %s report\n", kind);
	if (!strcmp(kind, "warn")) {
		WARN_ON(1);
	} else if (!strcmp(kind, "bug")) {
		BUG();
	} else if (!strcmp(kind, "gpf")) {
		volatile unsigned long *p = (unsigned long *)0xdead000000000000UL;
		(void)*p;
	} else if (!strcmp(kind, "oops")) {
		volatile int *p = NULL;
		*p = 1;
	} else if (!strcmp(kind, "kasan")) {
		char *buf = kmalloc(16, GFP_KERNEL);
		volatile char c;

		if (!buf)
			return -ENOMEM;
		c = ((volatile char *)buf)[16];
		(void)c;
		kfree(buf);
	} else if (!strcmp(kind, "ubsan")) {
		/* A plain subscript: READ_ONCE() would only take &a[4], one past the end, which is allowed. */
		volatile int v = splat_bounds.a[splat_index];

		pr_info("a[%d] = %d\n", splat_index, v);
	} else if (!strcmp(kind, "leak")) {
		leaked = kmalloc(128, GFP_KERNEL);
		leaked = NULL;
	} else if (!strcmp(kind, "lockdep")) {
		mutex_lock(&lock_a);
		mutex_lock(&lock_b);
		mutex_unlock(&lock_b);
		mutex_unlock(&lock_a);
		mutex_lock(&lock_b);
		mutex_lock(&lock_a);
		mutex_unlock(&lock_a);
		mutex_unlock(&lock_b);
	} else if (!strcmp(kind, "hung")) {
		kthread_run(splat_hung, NULL, "splatgen_hung");
	} else if (!strcmp(kind, "softlockup")) {
		splat_softlockup();
	} else if (!strcmp(kind, "panic")) {
		panic("splatgen asked for a panic");
	} else {
		pr_err("unknown kind %s\n", kind);
		return -EINVAL;
	}
	return 0;
}

static void __exit splatgen_exit(void)
{
}

module_init(splatgen_init);
module_exit(splatgen_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Causes one kernel report of a chosen kind, for netl's scanner tests");
