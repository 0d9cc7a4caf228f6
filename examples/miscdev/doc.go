// Package miscdev is netl's example consumer: a small kernel module of its
// own (kmod/, a misc character device with an ioctl), tested in VMs with
// github.com/netl-dev/netl/kmodtest as another repository would.
package miscdev
