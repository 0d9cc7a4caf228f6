// Command repro reproduces B6: the seed module's input callback, which runs
// inside the sender's sendmsg(), sleeps 10 x 3 s in
// wait_for_completion_timeout(), an uninterruptible sleep: the sender sits
// in D state, unkillable, for as long as the callback runs (the article's
// 30 s; claim C3).
//
// The hung-task detector only reports a task that stayed in D state without
// being scheduled for kernel.hung_task_timeout_secs, and each 3 s sleep
// ends with a wake-up; so the program lowers the threshold to 1 s, the
// smallest, for the duration of the request (the sysctl, when the kernel has
// the detector), sends the article's request from a thread of its own, and
// samples that thread's state until sendmsg returns. On netl_seed the
// detector reports the sender ("INFO: task ... blocked for more than 1
// seconds") within 2 s; B1 ends the guest at 3 s, so the 30 s are not
// reached. netl answers at once (reply_count=1) and the program exits 0.
package main

import (
	"os"
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

const hungTaskTimeout = "/proc/sys/kernel/hung_task_timeout_secs"

func main() {
	mod := reprokit.MustModule()

	if old, err := reprokit.Read(hungTaskTimeout); err == nil {
		if err := reprokit.Write(hungTaskTimeout, "1"); err != nil {
			reprokit.Fatalf("%v", err)
		}
		defer reprokit.Write(hungTaskTimeout, old)
	} else if os.IsNotExist(err) {
		reprokit.Logf("no %s: this kernel has no hung-task detector (CONFIG_DETECT_HUNG_TASK); the sender's state is shown instead", hungTaskTimeout)
	} else {
		reprokit.Fatalf("%v", err)
	}

	c, _ := reprokit.MustDial(100, 10*time.Second)
	defer c.Close()

	reprokit.Logf("port 100 sends the article's request from a thread of its own")
	t0 := time.Now()
	sender := reprokit.Go(func() error { return c.Send(netlink.SeedRequest(100, "Hello you!")) })
	last := ""
	for {
		returned, err := sender.Wait(250 * time.Millisecond)
		if returned {
			if err != nil {
				reprokit.Fatalf("%v", err)
			}
			break
		}
		st, wchan := sender.State()
		if now := st + " " + wchan; now != last {
			reprokit.Logf("sendmsg blocked for %v: sender thread %d in state %s (wchan %s)",
				time.Since(t0).Round(time.Millisecond), sender.TID, st, wchan)
			last = now
		}
	}
	blocked := time.Since(t0)
	reprokit.Logf("sendmsg returned after %v", blocked.Round(time.Millisecond))

	msgs, err := c.Receive()
	if err != nil {
		reprokit.Fatalf("no reply: %v", err)
	}
	for _, m := range msgs {
		reprokit.Logf("Received message: %s", netlink.CString(m.Data))
	}
	if blocked >= time.Second {
		reprokit.Logf("%s kept the sender in sendmsg for %v: B6 reproduced", mod, blocked.Round(time.Second))
		return
	}
	reprokit.Logf("%s did not keep the sender blocked: B6 not present", mod)
}
