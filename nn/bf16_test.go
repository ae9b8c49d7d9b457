package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

func roundBF16(s []float32) []float32 {
	r := make([]float32, len(s))
	for i, v := range s {
		r[i] = math.Float32frombits(bf16(v) << 16)
	}
	return r
}

// TestLinearBF16 checks the bf16 kernels exactly: against a float64
// reference over the bf16-rounded inputs, the only differences are float32
// accumulation rounding, so the fp32 tolerance applies.
func TestLinearBF16(t *testing.T) {
	if native.bf16 == nil {
		if err := NewLinear(make([]float32, 4), nil, 2, 2).SetPrecision(BF16); err != ErrNoBF16 {
			t.Fatalf("SetPrecision(BF16) = %v without bf16 support", err)
		}
		t.Skip("no bf16 kernel on this CPU")
	}
	r := rand.New(rand.NewPCG(11, 12))
	dims := []int{0, 1, 2, 3, 14, 15, 31, 33, 65}
	type shape struct{ m, n, k int }
	var shapes []shape
	for _, m := range dims {
		for _, n := range dims {
			for _, k := range []int{0, 1, 2, 3, 17, 64} {
				shapes = append(shapes, shape{m, n, k})
			}
		}
	}
	shapes = append(shapes, shape{29, 70, 1001}, shape{183, gemmNC*32 + 40, 300}, shape{5, 40, 2*2*gemmKC + 3}, shape{1100, 40, 100})
	for _, e := range bf16Engines() {
		for _, s := range shapes {
			for _, bias := range []bool{false, true} {
				for _, mode := range []string{"identity", "quick_gelu", "gelu", "add"} {
					w := randSlice(r, s.n*s.k, 1)
					x := randSlice(r, s.m*s.k, 2)
					var b []float32
					if bias {
						b = randSlice(r, s.n, 1)
					}
					l := newLinear(e, w, b, s.n, s.k)
					if err := l.SetPrecision(BF16); err != nil {
						t.Fatal(err)
					}
					dst := randSlice(r, s.m*s.n+40, 3)
					orig := append([]float32(nil), dst...)
					var dst0 []float32
					act := Identity
					if mode == "add" {
						dst0 = orig[:s.m*s.n]
						l.ForwardAdd(dst[:s.m*s.n], x, s.m)
					} else {
						act, _ = ParseAct(mode)
						l.Forward(dst[:s.m*s.n], x, s.m, act)
					}
					want, scale := linearRef(roundBF16(w), b, roundBF16(x), dst0, s.m, s.n, s.k, act)
					for i := range want {
						tol := sumTol*scale[i] + actTol*max(1, math.Abs(want[i])) + 1e-30
						if d := math.Abs(float64(dst[i]) - want[i]); !(d <= tol) {
							t.Fatalf("%s %v bias=%v %s: [%d,%d] = %g, want %g", e.name, s, bias, mode, i/s.n, i%s.n, dst[i], want[i])
						}
					}
					for i := s.m * s.n; i < len(dst); i++ {
						if dst[i] != orig[i] {
							t.Fatalf("%s %v: wrote past the end of dst", e.name, s)
						}
					}
				}
			}
		}
	}
}

// TestBF16Accuracy measures bf16 against float32 on a transformer-sized
// product: the error per output should be near 2⁻⁸ of its scale.
func TestBF16Accuracy(t *testing.T) {
	if native.bf16 == nil {
		t.Skip("no bf16 kernel on this CPU")
	}
	for _, e := range bf16Engines() {
		testBF16Accuracy(t, e)
	}
}

func testBF16Accuracy(t *testing.T, e *engine) {
	r := rand.New(rand.NewPCG(13, 14))
	m, n, k := 64, 256, 768
	w, x := randSlice(r, n*k, 0.05), randSlice(r, m*k, 1)
	l := newLinear(e, w, nil, n, k)
	want := make([]float32, m*n)
	l.Forward(want, x, m, Identity)
	if err := l.SetPrecision(BF16); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, m*n)
	l.Forward(got, x, m, Identity)
	rel := relRMS(got, want)
	t.Logf("%s: bf16 relative RMS error vs f32: %.2e", e.name, rel)
	if rel > 1e-2 {
		t.Errorf("bf16 relative error %.2e, want < 1e-2", rel)
	}
	if err := l.SetPrecision(F32); err != nil {
		t.Fatal(err)
	}
	l.Forward(got, x, m, Identity)
	for i := range got {
		if got[i] != want[i] {
			t.Fatal("F32 after BF16 differs")
		}
	}
}

func TestBF16Round(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint32
	}{
		{0x3f800000, 0x3f80},
		{0x3f808000, 0x3f80}, // tie to even
		{0x3f818000, 0x3f82}, // tie to even
		{0x3f808001, 0x3f81},
		{0x7f7fffff, 0x7f80}, // rounds to +Inf
	} {
		if got := bf16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("bf16(%#x) = %#x, want %#x", c.in, got, c.want)
		}
	}
}

// BenchmarkLinearBF16 is BenchmarkLinear in bf16.
func BenchmarkLinearBF16(b *testing.B) {
	if native.bf16 == nil {
		b.Skip("no bf16 kernel on this CPU")
	}
	for _, s := range benchShapes {
		b.Run(shapeName(s.m, s.n, s.k), func(b *testing.B) { benchLinearPrec(b, native, s.m, s.n, s.k, BF16) })
	}
}

// relRMS is the RMS of got − want relative to the RMS of want.
func relRMS(got, want []float32) float64 {
	var num, den float64
	for i := range got {
		d := float64(got[i] - want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}
