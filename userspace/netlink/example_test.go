package netlink_test

import (
	"fmt"

	"github.com/netl-dev/netl/userspace/netlink"
)

// The message the seed's user program sends, bound to port 100.
func ExampleSeedRequest() {
	m := netlink.SeedRequest(100, "Hello you!")
	b, _ := m.MarshalBinary()
	fmt.Println(m.Header.Length, len(b), m.Header.PID, netlink.CString(m.Data))
	// Output: 1040 1040 100 Hello you!
}

func ExampleHeaderFlags_String() {
	fmt.Println(netlink.Request | netlink.Acknowledge)
	fmt.Println(netlink.Request | netlink.Dump)
	// Output:
	// request|acknowledge
	// request|dump
}
