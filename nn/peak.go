package nn

import (
	"runtime"
	"sync"
	"time"
)

// MeasurePeak measures the float32 FMA throughput of the machine, in
// GFLOP/s, by running a register-only FMA loop on every core at once for
// about d. It is the ceiling that matrix products are judged against. It
// returns 0 where no vector FMA kernel exists.
func MeasurePeak(d time.Duration) float64 {
	if fmaLoop(1) == 0 {
		return 0
	}
	workers := runtime.GOMAXPROCS(0)
	flops := make([]float64, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for time.Since(start) < d {
				flops[w] += fmaLoop(1 << 20)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	total := 0.0
	for _, f := range flops {
		total += f
	}
	return total / elapsed / 1e9
}
