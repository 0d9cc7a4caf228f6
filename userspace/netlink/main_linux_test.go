package netlink

import (
	"fmt"
	"os"
	"sort"
	"testing"
)

// TestMain fails the run if the tests leave file descriptors open: every
// Conn a test dials must be closed.
func TestMain(m *testing.M) {
	// Start the runtime's poller (os/exec uses it) so that its descriptors
	// are not counted as leaks.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	before, err := openFDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "listing open file descriptors:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		after, err := openFDs()
		if err != nil {
			fmt.Fprintln(os.Stderr, "listing open file descriptors:", err)
			os.Exit(1)
		}
		var leaked []string
		for fd, target := range after {
			if _, ok := before[fd]; !ok {
				leaked = append(leaked, fmt.Sprintf("%s -> %s", fd, target))
			}
		}
		if len(leaked) > 0 {
			sort.Strings(leaked)
			fmt.Fprintf(os.Stderr, "leaked file descriptors:\n- want: none\n-  got: %v\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// openFDs maps this process's open file descriptors to what they refer to.
func openFDs() (map[string]string, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	fds := map[string]string{}
	for _, n := range names {
		target, err := os.Readlink("/proc/self/fd/" + n)
		if err != nil {
			continue // the directory's own descriptor, closed since
		}
		fds[n] = target
	}
	return fds, nil
}
