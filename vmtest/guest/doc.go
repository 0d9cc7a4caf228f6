// Package guest holds the tests that run inside a netl VM, with netl.ko
// loaded by the guest init. Its test files build only with the netlguest
// tag: vmtest.TestGuest compiles them as a static binary and runs them in
// the guest, and reports each one on the host.
//
// To add a test, write a TestXxx in a file here that starts with
//
//	//go:build netlguest
//
// and run `go test ./vmtest/...`.
package guest
