// SPDX-License-Identifier: GPL-2.0
/*
 * netl_misc - the example consumer of netl's kmodtest: a misc character
 * device that adds two numbers in an ioctl and counts the sums it made.
 * Reading the device gives the count as text.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>

#include "netl_misc.h"

static atomic64_t netl_misc_sums = ATOMIC64_INIT(0);

static long netl_misc_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct netl_misc_add add;
	u64 n;

	switch (cmd) {
	case NETL_MISC_ADD:
		if (copy_from_user(&add, uarg, sizeof(add)))
			return -EFAULT;
		if (check_add_overflow(add.a, add.b, &add.sum))
			return -EOVERFLOW;
		if (copy_to_user(uarg, &add, sizeof(add)))
			return -EFAULT;
		atomic64_inc(&netl_misc_sums);
		return 0;
	case NETL_MISC_COUNT:
		n = atomic64_read(&netl_misc_sums);
		return put_user(n, (u64 __user *)uarg);
	default:
		return -ENOTTY;
	}
}

static ssize_t netl_misc_read(struct file *file, char __user *buf,
			      size_t count, loff_t *ppos)
{
	char text[32];
	int len;

	len = scnprintf(text, sizeof(text), "%lld\n",
			(long long)atomic64_read(&netl_misc_sums));
	return simple_read_from_buffer(buf, count, ppos, text, len);
}

static const struct file_operations netl_misc_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = netl_misc_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.read = netl_misc_read,
};

static struct miscdevice netl_misc_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "netl_misc",
	.fops = &netl_misc_fops,
	.mode = 0666,
};

module_misc_device(netl_misc_dev);

MODULE_DESCRIPTION("netl's example module: a misc device that adds");
MODULE_LICENSE("GPL");
