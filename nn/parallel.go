package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// helpers counts the goroutines that ParallelFor runs beside its callers,
// over all calls at once. It stays below GOMAXPROCS, so that nested and
// concurrent calls share the cores instead of multiplying goroutines: a
// loop whose body calls ParallelFor (a batch split over the cores, each
// part a whole forward pass) runs its inner loops inline, with no barrier
// per layer, and two requests encoded at once split the cores between
// them. It is the process's one pool of threads, as GOMAXPROCS is its
// one bound on them.
var helpers atomic.Int64

// takeHelpers reserves up to want helper goroutines and returns how many
// it got.
func takeHelpers(want int) int {
	for {
		busy := helpers.Load()
		free := int64(runtime.GOMAXPROCS(0)-1) - busy
		if free <= 0 || want <= 0 {
			return 0
		}
		n := min(int64(want), free)
		if helpers.CompareAndSwap(busy, busy+n) {
			return int(n)
		}
	}
}

// ParallelFor calls fn on disjoint ranges [lo, hi) that cover [0, n), using up
// to GOMAXPROCS goroutines: the caller and the helpers free at the time.
// Ranges hold at least grain items (except the last), so that tiny loops
// do not pay for goroutines they cannot use.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	workers := 1 + takeHelpers(min(runtime.GOMAXPROCS(0), (n+grain-1)/grain)-1)
	if workers <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	// The calling goroutine takes the first range itself: one goroutine
	// fewer to start and wait for, which matters for the many small calls
	// of a single text query.
	started := 0
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		started++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer helpers.Add(-1)
			fn(lo, hi)
		}()
	}
	// Rounding may leave a reserved helper without a range.
	helpers.Add(-int64(workers - 1 - started))
	fn(0, min(chunk, n))
	wg.Wait()
}
