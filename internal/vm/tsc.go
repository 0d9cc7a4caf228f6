package vm

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

// Under TCG a guest's RDTSC returns the host's TSC (QEMU's
// cpu_get_host_ticks), and the guest has to calibrate it. netl's kernels
// have no ACPI, so the only reference is the PIT, and under TCG that
// calibration sometimes fails outright: "tsc: Unable to calibrate against
// PIT ... No reference (HPET/PMTIMER) available ... Marking TSC unstable",
// after which the guest keeps time in 4 ms jiffies and never gets
// high-resolution timers. Measured here: once in ~30 boots. Telling the
// guest the host's TSC rate (tsc_early_khz=, Linux 5.7+) skips that
// calibration.
//
// The host's TSC is then the guest's best clock, and its jiffies the worst:
// under TCG on a busy host the timer interrupts come late, and the
// clocksource watchdog, which checks the TSC against jiffies, found the
// TSC "skewed" by 183 ms over 0.5 s and marked it unstable (measured here
// with two kernel builds beside the VM), leaving the guest on jiffies with
// no high-resolution timers; netl's init then waited its full 3 s for them.
// tsc=reliable takes the TSC off the watchdog (tsc_disable_clocksource_watchdog,
// arch/x86/kernel/tsc.c).

var hostTSC struct {
	once sync.Once
	khz  uint64
	err  error
}

// hostTSCkHz measures the host's TSC rate against CLOCK_MONOTONIC, once per
// process (3 x 20 ms, median).
func hostTSCkHz() (uint64, error) {
	hostTSC.once.Do(func() {
		hostTSC.khz, hostTSC.err = measureTSC()
	})
	return hostTSC.khz, hostTSC.err
}

func measureTSC() (uint64, error) {
	if !haveRDTSC {
		return 0, fmt.Errorf("no RDTSC on %s", runtime.GOARCH)
	}
	// An invariant TSC ticks at one rate whatever the CPU's frequency and
	// sleep state; without it there is no single rate to tell the guest.
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0, err
	}
	if !bytes.Contains(info, []byte(" constant_tsc")) || !bytes.Contains(info, []byte(" nonstop_tsc")) {
		return 0, fmt.Errorf("the host's TSC is not invariant (no constant_tsc/nonstop_tsc)")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var rates []float64
	for i := 0; i < 3; i++ {
		t0, c0 := time.Now(), rdtsc()
		time.Sleep(20 * time.Millisecond)
		c1, t1 := rdtsc(), time.Now()
		rates = append(rates, float64(c1-c0)/float64(t1.Sub(t0).Microseconds())*1000)
	}
	sort.Float64s(rates)
	khz := uint64(rates[1])
	if khz < 100_000 || khz > 10_000_000 { // 0.1-10 GHz
		return 0, fmt.Errorf("implausible host TSC rate %d kHz", khz)
	}
	return khz, nil
}
