//go:build linux

package nn

import (
	"math/rand/v2"
	"runtime"

	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"testing"
	"time"
)

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
	prec, _ := ParsePrecision(os.Getenv("PREC"))
	shapes := append(benchShapes, struct{ m, n, k int }{1600, 2304, 768}, struct{ m, n, k int }{1600, 768, 768})
	for _, s := range shapes {
		l := newLinear(native, randSlice(r, s.n*s.k, 1), randSlice(r, s.n, 1), s.n, s.k)
		if err := l.SetPrecision(prec); err != nil {
			t.Fatal(err)
		}
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

// TestTuneLayer reports ViT-B/32 images per CPU-second on one thread.
// TUNE=1 go test -run TuneLayer
func TestTuneLayer(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range []Precision{F32, BF16, Int8} {
		if p == BF16 && native.bf16 == nil || p == Int8 && native.i8 == nil {
			continue
		}
		l := newViTLayer(r, p)
		for _, batch := range []int{1, 32} {
			rows := batch * 50
			seqs := repeat(50, batch)
			bufs := &layerBufs{
				h: randSlice(r, rows*768, 1), t: make([]float32, rows*768), qkv: make([]float32, rows*3*768),
				att: make([]float32, rows*768), mlp: make([]float32, rows*3072),
			}
			best := 1e9
			for it := 0; it < 5; it++ {
				t0 := threadCPU()
				reps := 0
				for threadCPU()-t0 < 0.3 {
					l.forward(bufs, seqs, rows)
					reps++
				}
				best = min(best, (threadCPU()-t0)/float64(reps))
			}
			fmt.Printf("%v batch %d: %.1f images per CPU-second (12 layers)\n", p, batch, float64(batch)/best/12)
		}
	}
}

func processCPU() float64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6
}

// TestTuneParallel runs the ViT layer with GOMAXPROCS=2 and reports wall
// images/s beside images per CPU-second of the whole process: on a busy
// machine the second is the one to trust. TUNE=1 go test -run TuneParallel
func TestTuneParallel(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range []Precision{F32, BF16, Int8} {
		if p == BF16 && native.bf16 == nil || p == Int8 && native.i8 == nil {
			continue
		}
		l := newViTLayer(r, p)
		for _, batch := range []int{1, 32} {
			rows := batch * 50
			seqs := repeat(50, batch)
			bufs := &layerBufs{
				h: randSlice(r, rows*768, 1), t: make([]float32, rows*768), qkv: make([]float32, rows*3*768),
				att: make([]float32, rows*768), mlp: make([]float32, rows*3072),
			}
			l.forward(bufs, seqs, rows)
			bestWall, bestCPU := 1e9, 1e9
			for it := 0; it < 5; it++ {
				w0, c0 := time.Now(), processCPU()
				reps := 0
				for time.Since(w0) < 300*time.Millisecond {
					l.forward(bufs, seqs, rows)
					reps++
				}
				bestWall = min(bestWall, time.Since(w0).Seconds()/float64(reps))
				bestCPU = min(bestCPU, (processCPU()-c0)/float64(reps))
			}
			fmt.Printf("%v batch %d, 2 threads: %.1f images/s wall, %.1f images per CPU-second (12 layers)\n",
				p, batch, float64(batch)/bestWall/12, float64(batch)/bestCPU/12)
		}
	}
}

// TestTuneOps reports single-thread CPU time of the layer's other kernels.
func TestTuneOps(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	best := func(f func()) float64 {
		b := 1e9
		for it := 0; it < 5; it++ {
			t0 := threadCPU()
			reps := 0
			for threadCPU()-t0 < 0.1 {
				f()
				reps++
			}
			b = min(b, (threadCPU()-t0)/float64(reps))
		}
		return b
	}
	r := rand.New(rand.NewPCG(1, 2))
	qkv := randSlice(r, 1600*3*768, 1)
	dst := make([]float32, 1600*768)
	fmt.Printf("attention 32x50: %.2f ms\n", 1e3*best(func() { Attention(dst, qkv, repeat(50, 32), 12, 64, false) }))
	fmt.Printf("attention text16 causal: %.1f µs\n", 1e6*best(func() { Attention(dst, qkv, []int{16}, 8, 64, true) }))
	g, bb := randSlice(r, 768, 1), randSlice(r, 768, 1)
	fmt.Printf("layernorm 1600x768: %.2f ms\n", 1e3*best(func() { LayerNorm(dst, qkv, g, bb, 1600, 768, 1e-5) }))
	x := randSlice(r, 1600*3072, 3)
	y := make([]float32, len(x))
	for _, act := range []Act{QuickGELU, GELU} {
		fmt.Printf("%v 1600x3072: %.2f ms\n", act, 1e3*best(func() { copy(y, x); Activate(y, act) }))
	}
	fmt.Printf("copy 1600x3072: %.2f ms\n", 1e3*best(func() { copy(y, x) }))
}

// TestTuneText reports the latency of one 16-token query on the ViT-B/32
// text tower per precision: thread CPU time on one thread (robust to a busy
// machine) and wall time, on one thread and on GOMAXPROCS=2; and for int8
// also with the AVX512_VNNI kernel, for CPUs without AMX.
// TUNE=1 go test -run TuneText
func TestTuneText(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	type run struct {
		e    *engine
		p    Precision
		name string
	}
	runs := []run{{native, F32, "f32"}}
	if native.bf16 != nil {
		runs = append(runs, run{native, BF16, "bf16"})
	}
	if native.i8 != nil {
		runs = append(runs, run{native, Int8, "int8"})
		if native.amxI8 != nil {
			vnni := *native
			vnni.amxI8 = nil
			runs = append(runs, run{&vnni, Int8, "int8 (vnni)"})
		}
	}
	for _, c := range runs {
		q := newTextTower(c.e, rand.New(rand.NewPCG(3, 4)), c.p)
		for _, procs := range []int{1, 2} {
			old := runtime.GOMAXPROCS(procs)
			bestCPU, bestWall := 1e9, 1e9
			for it := 0; it < 7; it++ {
				c0, w0 := threadCPU(), time.Now()
				p0 := processCPU()
				reps := 0
				for time.Since(w0) < 200*time.Millisecond {
					q.run()
					reps++
				}
				if procs == 1 {
					bestCPU = min(bestCPU, (threadCPU()-c0)/float64(reps))
				} else {
					bestCPU = min(bestCPU, (processCPU()-p0)/float64(reps))
				}
				bestWall = min(bestWall, time.Since(w0).Seconds()/float64(reps))
			}
			runtime.GOMAXPROCS(old)
			fmt.Printf("%s text query, %d thread(s): %.2f ms CPU, %.2f ms wall\n", c.name, procs, 1e3*bestCPU, 1e3*bestWall)
		}
	}
}
