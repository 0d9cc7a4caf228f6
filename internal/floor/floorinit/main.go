// Command floorinit is the floor of a netl run: an init that powers the
// guest off at once. Booting it measures what any run costs before netl
// does anything (QEMU, firmware, kernel boot, power-off).
package main

import "golang.org/x/sys/unix"

func main() {
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}
