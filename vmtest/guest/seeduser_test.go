//go:build netlguest

package guest

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netl-dev/netl/internal/contract"
)

// The article's two user programs, in C as printed (testdata/*.c), get
// every reply from netl.ko: with reply_count=3 reply_interval_ms=20, three
// "Received message: I am from kernel!" lines each. They loop on recvmsg
// for ever, so the test reads their output on a terminal (printf is then
// line-buffered, as on the article's) and kills them once the replies are in.
func TestSeedUserPrograms(t *testing.T) {
	begin(t)
	setParam(t, "reply_count", "3")
	setParam(t, "reply_interval_ms", "20")
	for _, name := range []string{"seed-user1", "seed-user2"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(contract.GuestPath("bin/" + name))
			tty, err := pty.Start(cmd)
			require.NoError(t, err, "the harness ships %s (vmtest/guest/testdata)", name)
			defer tty.Close()
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			lines := make(chan string)
			done := make(chan struct{})
			defer close(done) // the reader stops when the test has what it needs
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(tty)
				for sc.Scan() {
					select {
					case lines <- strings.TrimRight(sc.Text(), "\r"):
					case <-done:
						return
					}
				}
			}()
			var got []string
			sent := false
			timeout := time.After(10 * time.Second)
			for len(got) < 3 {
				select {
				case l, ok := <-lines:
					require.True(t, ok, "%s ended before its replies; got %q", name, got)
					if l == "state_smg" {
						sent = true
					}
					if strings.HasPrefix(l, "Received message: ") {
						got = append(got, l)
					}
					assert.NotContains(t, l, "get error", "the article's send failed")
				case <-timeout:
					t.Fatalf("%s printed %d replies in 10 s: %q", name, len(got), got)
				}
			}
			assert.True(t, sent, "the program printed state_smg before sending")
			for _, l := range got {
				assert.Equal(t, "Received message: I am from kernel!", l)
			}
		})
	}
}
