// Command floorinit is the floor of a netl run: an init that ends the guest
// at once. Booting it measures what any run costs before netl does anything
// (QEMU, firmware, kernel boot, the final reset).
package main

import "golang.org/x/sys/unix"

func main() {
	// A reset, as netlinit ends: the kernels have no ACPI to power off
	// with, and QEMU runs with -no-reboot.
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
}
