//go:build netlguest

package guest

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/userspace/netlink"
)

// The module unloaded and loaded again 200 times while four clients send
// every kind of message: echo, broadcast, notifications to themselves and
// to ports nobody binds (pending across the unload), dumps read in part,
// statistics, and seed requests that keep their sender asleep in the
// module. Every client operation ends in an answer or a clean error
// (EPROTONOSUPPORT while the module is away, ECONNREFUSED, EBUSY when the
// notification limits are reached), never in a timeout; the kernel reports
// nothing (the host's scanner), and on the debug flavour kmemleak finds
// nothing at the end (TestMain).
//
// CI runs the 200 cycles (contract.FullEnv); the edit loop makes a quick
// pass of 5, and says so. Every client gets an answer from each load of the
// module before the next unload.
func TestLifecycleTorture(t *testing.T) {
	begin(t)
	const clients = 4
	cycles := 200
	if os.Getenv(contract.FullEnv) == "" {
		cycles = 5
		t.Logf("a quick pass of %d cycles; CI (CI=1) runs 200", cycles)
	}
	const params = "reply_interval_ms=20"
	reloadModule(t, params)
	image, err := os.ReadFile(modulePath(t))
	require.NoError(t, err)

	// Clients hold gate for reading while a socket is open. rmmod succeeds
	// only when no socket of the protocol is open; when it keeps failing
	// (20 tries, a millisecond apart), the loader takes gate to let the
	// clients' sockets drain.
	var gate sync.RWMutex
	stop := make(chan struct{})
	tallies := make([]tortureTally, clients)
	var wg sync.WaitGroup
	locked := false
	// However the test ends, the clients stop and close their sockets
	// before reloadModule's cleanup unloads the module (cleanups run
	// last-registered first).
	stopClients := sync.OnceFunc(func() {
		if locked {
			gate.Unlock()
			locked = false
		}
		close(stop)
		wg.Wait()
	})
	t.Cleanup(stopClients)
	for i := range tallies {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tallies[i].run(int64(i), &gate, stop)
		}(i)
	}

	start := time.Now()
	drained, attempts := 0, 0
	for cycle := 0; cycle < cycles; cycle++ {
		for tries := 1; ; tries++ {
			attempts++
			err := unix.DeleteModule("netl", unix.O_NONBLOCK)
			if err == nil {
				break
			}
			if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EBUSY) {
				t.Fatalf("cycle %d: rmmod netl: %v", cycle, err)
			}
			switch tries {
			case 20:
				gate.Lock() // the clients close their sockets
				locked = true
				drained++
			case 5000:
				t.Fatalf("cycle %d: rmmod netl still fails after the clients closed their sockets: %v", cycle, err)
			}
			time.Sleep(time.Millisecond)
		}
		err := unix.InitModule(image, params)
		if locked {
			gate.Unlock()
			locked = false
		}
		if err != nil {
			t.Fatalf("cycle %d: insmod netl.ko %s: %v", cycle, params, err)
		}
		// Every client talks to this load of the module before the
		// next unload (or 2 s pass): unloads that come faster than
		// the clients' sockets would test nothing.
		var seen [clients]int64
		for i := range tallies {
			seen[i] = tallies[i].live.Load()
		}
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			all := true
			for i := range tallies {
				all = all && tallies[i].live.Load() > seen[i]
			}
			if all {
				break
			}
		}
	}
	stopClients()
	took := time.Since(start)

	var total tortureTally
	for i := range tallies {
		tl := &tallies[i]
		assert.NotZero(t, tl.answered, "client %d got no answer in %d cycles", i, cycles)
		total.ops += tl.ops
		total.answered += tl.answered
		for k, v := range tl.errs {
			if total.errs == nil {
				total.errs = map[string]int{}
			}
			total.errs[k] += v
		}
		total.bad = append(total.bad, tl.bad...)
	}
	for _, b := range total.bad {
		t.Errorf("%s", b)
	}
	var kinds []string
	for k, v := range total.errs {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(kinds)
	t.Logf("%d rmmod/insmod cycles in %s (%d rmmod attempts, %d cycles waited for the clients to close their sockets); %d client operations, %d answered; clean errors: %s",
		cycles, took.Round(time.Millisecond), attempts, drained, total.ops, total.answered, strings.Join(kinds, ", "))
	assertHealthy(t)
}

// tortureTally is one client's record.
type tortureTally struct {
	ops, answered int
	live          atomic.Int64   // answered, for the loader to watch
	errs          map[string]int // clean errors by errno
	bad           []string       // timeouts and unexpected errors
}

func (tl *tortureTally) run(seed int64, gate *sync.RWMutex, stop <-chan struct{}) {
	rng := rand.New(rand.NewSource(seed))
	tl.errs = map[string]int{}
	for {
		select {
		case <-stop:
			return
		default:
		}
		gate.RLock()
		op, err := tl.once(rng)
		gate.RUnlock()
		tl.ops++
		tl.note(op, err)
		time.Sleep(time.Duration(rng.Intn(2000)) * time.Microsecond)
	}
}

var tortureOps = []string{"echo", "broadcast", "notify self", "notify nobody's port", "half-read dump", "stats", "seed request"}

func (tl *tortureTally) once(rng *rand.Rand) (string, error) {
	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{})
	if err != nil {
		return "dial", err
	}
	defer c.Close()
	if err := c.SetReceiveTimeout(5 * time.Second); err != nil {
		return "set timeout", err
	}
	op := tortureOps[rng.Intn(len(tortureOps))]
	switch op {
	case "echo":
		_, err = c.Echo(netlink.EchoRequest{Count: 2, Data: []byte("torture")})
	case "broadcast":
		err = c.Broadcast(uint32(1+rng.Intn(netlink.Groups)), []byte("torture"))
	case "notify self":
		err = c.Notify(netlink.NotifyRequest{DelayMS: uint32(rng.Intn(50)), Data: []byte("torture")})
		if err == nil && rng.Intn(2) == 0 {
			_, err = c.Receive()
		}
	case "notify nobody's port":
		err = c.Notify(netlink.NotifyRequest{PortID: uint32(50000 + rng.Intn(100)), DelayMS: uint32(1000 + rng.Intn(5000)), Data: []byte("torture")})
	case "half-read dump":
		err = c.Send(netlink.Message{
			Header: netlink.Header{Type: netlink.TypeDump, Flags: netlink.Request | netlink.Dump, Sequence: 1},
			Data:   binaryDumpRequest(netlink.DumpMaxParts),
		})
		if err == nil {
			_, err = c.Receive()
		}
	case "stats":
		_, err = c.Stats()
	case "seed request":
		if err = c.Send(netlink.SeedRequest(0, "torture")); err == nil {
			_, err = c.Receive()
		}
	}
	return op, err
}

func binaryDumpRequest(parts uint32) []byte {
	b, err := netlink.DumpRequest{Parts: parts}.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

func (tl *tortureTally) note(op string, err error) {
	var errno unix.Errno
	switch {
	case err == nil:
		tl.answered++
		tl.live.Add(1)
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, unix.EAGAIN):
		tl.bad = append(tl.bad, fmt.Sprintf("%s: no answer within 5 s: %v", op, err))
	case errors.As(err, &errno) && (errno == unix.EPROTONOSUPPORT || errno == unix.ECONNREFUSED ||
		(errno == unix.EBUSY && strings.HasPrefix(op, "notify"))):
		tl.errs[errno.Error()]++
	default:
		tl.bad = append(tl.bad, fmt.Sprintf("%s: %v", op, err))
	}
}
