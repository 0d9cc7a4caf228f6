// Command repro reproduces B2: the seed module's input callback copies 100
// bytes from the first message's payload into char str[100] whatever the
// message's length, and prints str with "%s" although nothing terminates it.
//
// It sends one datagram of 116 bytes: a message whose nlmsg_len (20) says it
// carries 4 bytes of payload, "B2!!", followed by 96 bytes of 'x' that are
// not part of it (their first four bytes, read as a header, give a length
// far beyond the datagram). netl_seed copies the 4 bytes and the 96 that
// follow, so str holds 100 bytes and no NUL, and printk() reads on past
// str's end, into the rest of the stack: on a KASAN kernel, a
// stack-out-of-bounds report; on others, garbage after the x's in the
// "Message received:" line, which the program shows from /dev/kmsg. (Three
// seconds later B1 ends the guest.)
//
// netl prints at most the 4 bytes nlmsg_len covers, answers the message,
// counts the trailing bytes as malformed, and the program exits 0.
//
// With -alone the 20-byte message is sent without the trailing bytes: the
// copy then reads 96 bytes of the skb's uninitialised tailroom, inside the
// skb's allocation, where KASAN sees nothing wrong (see ../README.md).
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"io"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

const (
	payload = "B2!!"
	// The bytes netl_seed copies: sizeof(str) in nl_data_ready().
	strSize = 100
)

func main() {
	alone := flag.Bool("alone", false, "send the short message without the trailing bytes")
	flag.Parse()
	mod := reprokit.MustModule()

	c, port := reprokit.MustDial(0, 5*time.Second)
	defer c.Close()

	msg, err := netlink.Message{
		Header: netlink.Header{Type: netlink.TypeSeed, PID: port},
		Data:   []byte(payload),
	}.MarshalBinary()
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	trailer := bytes.Repeat([]byte{'x'}, netlink.HeaderLen+strSize-len(msg))
	if *alone {
		trailer = nil
	}
	datagram := append(msg, trailer...)
	reprokit.Logf("port %d sends a %d-byte datagram: a message with nlmsg_len %d (payload %q, no NUL)",
		port, len(datagram), binary.NativeEndian.Uint32(msg), payload)
	if len(trailer) > 0 {
		reprokit.Logf("followed by %d bytes of 'x' (nlmsg_len %#x if read as a header)",
			len(trailer), binary.NativeEndian.Uint32(trailer))
	}

	// Raw system calls: an *os.File would wait in the poller at EAGAIN.
	kmsg, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		reprokit.Fatalf("open /dev/kmsg: %v", err)
	}
	defer unix.Close(kmsg)
	if _, err := unix.Seek(kmsg, 0, io.SeekEnd); err != nil {
		reprokit.Fatalf("seeking /dev/kmsg to its end: %v", err)
	}

	sender := reprokit.Go(func() error { return c.SendRaw(datagram, 0) })
	// netl_seed prints before its first 3 s sleep; B1 ends the guest after it.
	returned, err := sender.Wait(time.Second)
	if returned && err != nil {
		reprokit.Fatalf("%v", err)
	}
	showReceivedLine(kmsg, mod)
	if !returned {
		reprokit.Logf("sendmsg still blocked: the module sleeps in its input callback; waiting")
		if err := <-sender.Done(); err != nil {
			reprokit.Fatalf("%v", err)
		}
	}

	msgs, err := c.Receive()
	if err != nil {
		reprokit.Fatalf("no reply: %v", err)
	}
	for _, m := range msgs {
		reprokit.Logf("received: %s (type %v, %d bytes)", netlink.CString(m.Data), m.Header.Type, len(m.Data))
	}
	reprokit.Logf("%s read no further than nlmsg_len: B2 not present", mod)
}

// showReceivedLine prints what the module logged about the request, and how
// many bytes it printed past the 4 the message holds.
func showReceivedLine(kmsg int, mod string) {
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(kmsg, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return // EAGAIN: no more records
		}
		// "prio,seq,usec,flags;text": non-printable bytes come as \xNN.
		_, text, ok := strings.Cut(string(buf[:n]), ";")
		if !ok {
			continue
		}
		text, _, _ = strings.Cut(text, "\n")
		for _, prefix := range []string{"Message received:", "netl: seed request"} {
			if !strings.HasPrefix(text, prefix) {
				continue
			}
			reprokit.Logf("%s logged: %s", mod, text)
			if rest, ok := strings.CutPrefix(text, "Message received:"+payload); ok {
				reprokit.Logf("that is %d characters past the %d-byte payload (kmsg escapes non-printable bytes as \\xNN)", len(rest), len(payload))
			}
		}
	}
}
