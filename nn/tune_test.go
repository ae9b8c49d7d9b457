package nn

import (
	"math/rand/v2"
	"runtime"

	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"strconv"
	"testing"
)

func TestMain(m *testing.M) {
	if v, err := strconv.Atoi(os.Getenv("KC")); err == nil {
		gemmKC = v
	}
	if v, err := strconv.Atoi(os.Getenv("MC")); err == nil {
		gemmMC = v
	}
	fmt.Fprintln(os.Stderr, "kc", gemmKC, "mc", gemmMC)
	os.Exit(m.Run())
}

func threadCPU() float64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return float64(ts.Sec) + float64(ts.Nsec)*1e-9
}

// TestTune reports single-thread GFLOP/s by thread CPU time (robust to a
// busy machine). TUNE=1 go test -run Tune
func TestTune(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range benchShapes {
		l := newLinear(native, randSlice(r, s.n*s.k, 1), randSlice(r, s.n, 1), s.n, s.k)
		x := randSlice(r, s.m*s.k, 1)
		dst := make([]float32, s.m*s.n)
		best := 1e9
		for it := 0; it < 7; it++ {
			t0 := threadCPU()
			reps := 0
			for threadCPU()-t0 < 0.15 {
				l.Forward(dst, x, s.m, Identity)
				reps++
			}
			best = min(best, (threadCPU()-t0)/float64(reps))
		}
		fmt.Printf("%dx%dx%d %.1f GFLOP/s\n", s.m, s.n, s.k, 2*float64(s.m*s.n*s.k)/best/1e9)
	}
}
