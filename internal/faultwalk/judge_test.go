//go:build linux

package faultwalk

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/userspace/netlink"
)

// Judge runs on the host: each outcome the guest walk may meet, built by
// hand, against a baseline of two echo replies and an ack.
func TestJudge(t *testing.T) {
	reply := func(data string) netlink.Message {
		return netlink.Message{Header: netlink.Header{Type: netlink.TypeEcho, Sequence: FaultWalkSeq}, Data: []byte(data)}
	}
	final := func(typ netlink.HeaderType, errno unix.Errno) netlink.Message {
		code := -int32(errno)
		return netlink.Message{Header: netlink.Header{Type: typ, Sequence: FaultWalkSeq},
			Data: []byte{byte(code), byte(code >> 8), byte(code >> 16), byte(code >> 24)}}
	}
	ack := final(netlink.Error, 0)
	req := FaultRequest{Name: "echo"}
	base := Exchange{Msgs: []netlink.Message{reply("a"), reply("b"), ack}}
	for _, tc := range []struct {
		name string
		ex   Exchange
		want string // outcome; "" when Judge must refuse it
		why  string // part of the refusal
	}{
		{"absorbed", Exchange{Msgs: []netlink.Message{reply("a"), reply("b"), ack}}, "same answer", ""},
		{"sendmsg ENOBUFS", Exchange{SendErr: unix.ENOBUFS}, "sendmsg ENOBUFS", ""},
		{"sendmsg EPERM", Exchange{SendErr: unix.EPERM}, "", "not ENOMEM or ENOBUFS"},
		{"sendmsg failed yet answered", Exchange{SendErr: unix.ENOMEM, Msgs: []netlink.Message{ack}}, "", "yet an answer came"},
		{"one reply, then ENOMEM", Exchange{Msgs: []netlink.Message{reply("a"), final(netlink.Error, unix.ENOMEM)}}, "NLMSG_ERROR ENOMEM", ""},
		{"one reply, then an ack", Exchange{Msgs: []netlink.Message{reply("a"), ack}}, "", "after 1 of 2 data messages"},
		{"EINVAL", Exchange{Msgs: []netlink.Message{final(netlink.Error, unix.EINVAL)}}, "", "ends in NLMSG_ERROR EINVAL"},
		{"a reply differs", Exchange{Msgs: []netlink.Message{reply("x"), reply("b"), ack}}, "", "differs"},
		{"a reply too many", Exchange{Msgs: []netlink.Message{reply("a"), reply("b"), reply("c"), ack}}, "", "3 data messages"},
		{"ack lost, said", Exchange{Msgs: []netlink.Message{reply("a"), reply("b")}, RecvErrs: []unix.Errno{unix.ENOBUFS}}, "recv ENOBUFS", ""},
		{"ack lost silently", Exchange{Msgs: []netlink.Message{reply("a"), reply("b")}}, "", "stopped silently"},
		{"a receive fails otherwise", Exchange{Msgs: []netlink.Message{reply("a")}, RecvErrs: []unix.Errno{unix.EFAULT}}, "", "EFAULT"},
		{"a message after the ack", Exchange{Msgs: []netlink.Message{reply("a"), reply("b"), ack, reply("c")}}, "", "after the ack"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.ex.Nth = 3
			got, err := Judge(req, tc.ex, base)
			switch {
			case tc.want != "" && (err != nil || got != tc.want):
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			case tc.want == "" && err == nil:
				t.Errorf("accepted as %q; want a refusal saying %q", got, tc.why)
			case tc.want == "" && !strings.Contains(err.Error(), tc.why):
				t.Errorf("refused with %q; want it to say %q", err, tc.why)
			}
		})
	}

	// A dump that answers ENOBUFS and then runs anyway (netlink_dump_start).
	dump := FaultRequest{Name: "dump", ErrorThenDump: true}
	part := netlink.Message{Header: netlink.Header{Type: netlink.TypeDump, Flags: netlink.Multi, Sequence: FaultWalkSeq}, Data: []byte{0, 0, 0, 0, 1, 0, 0, 0}}
	done := final(netlink.Done, 0)
	dbase := Exchange{Msgs: []netlink.Message{part, done}}
	got, err := Judge(dump, Exchange{Nth: 1, Msgs: []netlink.Message{final(netlink.Error, unix.ENOBUFS), part, done}}, dbase)
	if err != nil || got != "NLMSG_ERROR ENOBUFS, then same answer" {
		t.Errorf("error then dump: got %q, %v", got, err)
	}
	// A dump that fails on its way: NLMSG_DONE carries the errno.
	if got, err := Judge(dump, Exchange{Nth: 2, Msgs: []netlink.Message{final(netlink.Done, unix.ENOBUFS)}}, dbase); err != nil || got != "NLMSG_DONE ENOBUFS" {
		t.Errorf("a dump ended by NLMSG_DONE ENOBUFS: got %q, %v", got, err)
	}
	if _, err := Judge(dump, Exchange{Nth: 2, Msgs: []netlink.Message{final(netlink.Done, unix.EINVAL)}}, dbase); err == nil {
		t.Error("a dump ended by NLMSG_DONE EINVAL was accepted")
	}
	if _, err := Judge(req, Exchange{Nth: 1, Msgs: []netlink.Message{final(netlink.Error, unix.ENOBUFS), reply("a"), reply("b"), ack}}, base); err == nil {
		t.Error("an echo's ENOBUFS followed by its replies was accepted: only a dump may do that")
	}
}
