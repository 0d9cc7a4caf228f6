//go:build netlguest

package guest

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/netl-dev/netl/userspace/netlink"
)

// Benchmarks run in the guest when the host asks for them (go test -bench,
// `make bench`). Each netlink figure has a UDP loopback baseline measured in
// the same VM, so the ratio means something under TCG and under KVM.

// BenchmarkEchoRoundTrip: one ECHO request to netl.ko, one reply back.
func BenchmarkEchoRoundTrip(b *testing.B) {
	begin(b)
	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{})
	require.NoError(b, err)
	defer c.Close()
	require.NoError(b, c.SetReceiveTimeout(5*time.Second))
	payload := make([]byte, 64)
	m := netlink.Message{Header: netlink.Header{Type: netlink.TypeEcho, Flags: netlink.Request},
		Data: append([]byte{1, 0, 0, 0, 0, 0, 0, 0}, payload...)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		require.NoError(b, c.Send(m))
		if _, err := c.Receive(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUDPLoopbackRoundTrip is the baseline: a 72-byte datagram to a UDP
// echo server on 127.0.0.1 in the same VM and its answer back.
func BenchmarkUDPLoopbackRoundTrip(b *testing.B) {
	begin(b)
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(b, err)
	defer srv.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, addr, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteToUDP(buf[:n], addr)
		}
	}()
	cl, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
	require.NoError(b, err)
	defer cl.Close()
	msg := make([]byte, 72)
	buf := make([]byte, 2048)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cl.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := cl.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBroadcastFanout8: one BROADCAST to a group of 8 members, until
// every member has read it.
func BenchmarkBroadcastFanout8(b *testing.B) {
	begin(b)
	const group = 5
	var members []*netlink.Conn
	for i := 0; i < 8; i++ {
		m, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{Groups: 1 << (group - 1)})
		require.NoError(b, err)
		defer m.Close()
		require.NoError(b, m.SetReceiveTimeout(5*time.Second))
		members = append(members, m)
	}
	sender, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{})
	require.NoError(b, err)
	defer sender.Close()
	require.NoError(b, sender.SetReceiveTimeout(5*time.Second))
	msg := netlink.Message{Header: netlink.Header{Type: netlink.TypeBroadcast, Flags: netlink.Request},
		Data: append([]byte{group, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 64)...)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		require.NoError(b, sender.Send(msg))
		for _, m := range members {
			if _, err := m.Receive(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkUDPFanout8 is the fan-out baseline: the same 72 bytes sent to 8
// UDP sockets on loopback, until each has read it.
func BenchmarkUDPFanout8(b *testing.B) {
	begin(b)
	var members []*net.UDPConn
	for i := 0; i < 8; i++ {
		m, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(b, err)
		defer m.Close()
		members = append(members, m)
	}
	sender, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(b, err)
	defer sender.Close()
	msg := make([]byte, 72)
	buf := make([]byte, 2048)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range members {
			if _, err := sender.WriteToUDP(msg, m.LocalAddr().(*net.UDPAddr)); err != nil {
				b.Fatal(err)
			}
		}
		for _, m := range members {
			if _, err := m.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}
