package nn

import (
	"runtime"
	"sync"
)

// ParallelFor calls fn on disjoint ranges [lo, hi) that cover [0, n), using up
// to GOMAXPROCS goroutines. Ranges hold at least grain items (except the last),
// so that tiny loops do not pay for goroutines they cannot use.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	workers := runtime.GOMAXPROCS(0)
	if max := (n + grain - 1) / grain; workers > max {
		workers = max
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	// The calling goroutine takes the first range itself: one goroutine
	// fewer to start and wait for, which matters for the many small calls
	// of a single text query.
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}
