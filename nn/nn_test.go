package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Tolerances. The fast kernels sum in a different order than the reference
// (register tiles, FMA, blocked K), so they agree with a float64 reference
// only to float32 rounding: for a sum of products the error is bounded by a
// small multiple of ε·Σ|xᵢwᵢ| (ε = 2⁻²⁴ ≈ 6e-8), which the tests allow with a
// margin for long sums. Element-wise kernels use polynomial exp/erfc
// approximations accurate to a few ulp; their tolerances are stated where
// they are checked.
const (
	sumTol = 2e-6 // relative to Σ|terms| for accumulated sums
	actTol = 4e-7 // relative to max(1, |x|) for QuickGELU and GELU
)

// testEngines returns the engines to check in float32: every one this CPU
// runs, the portable reference included (bf16 variants, which differ only in
// bf16, are left to the bf16 tests).
func testEngines() []*engine {
	var es []*engine
	for _, e := range engines() {
		if e.bf16 == nil {
			es = append(es, e)
		}
	}
	if es[len(es)-1] != portable {
		es = append(es, portable)
	}
	return es
}

// bf16Engines returns the engines with a bf16 path.
func bf16Engines() []*engine {
	var es []*engine
	for _, e := range engines() {
		if e.bf16 != nil {
			es = append(es, e)
		}
	}
	return es
}

func randSlice(r *rand.Rand, n int, scale float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = (r.Float32()*2 - 1) * scale
	}
	return s
}

func actRef(v float64, act Act) float64 {
	switch act {
	case QuickGELU:
		return v / (1 + math.Exp(-1.702*v))
	case GELU:
		return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	case ReLU:
		return math.Max(v, 0)
	}
	return v
}

// linearRef computes act(x·Wᵀ + b) (+ dst0) in float64, and the scale
// Σ|xᵢwᵢ| + |b| of each output for the error bound.
func linearRef(w, b, x, dst0 []float32, rows, out, in int, act Act) (want, scale []float64) {
	want = make([]float64, rows*out)
	scale = make([]float64, rows*out)
	for r := 0; r < rows; r++ {
		for j := 0; j < out; j++ {
			var s, a float64
			if b != nil {
				s, a = float64(b[j]), math.Abs(float64(b[j]))
			}
			for k := 0; k < in; k++ {
				p := float64(x[r*in+k]) * float64(w[j*in+k])
				s += p
				a += math.Abs(p)
			}
			s = actRef(s, act)
			if dst0 != nil {
				s += float64(dst0[r*out+j])
				a += math.Abs(float64(dst0[r*out+j]))
			}
			want[r*out+j], scale[r*out+j] = s, a
		}
	}
	return want, scale
}

var testDims = []int{0, 1, 2, 3, 7, 13, 15, 16, 17, 31, 33, 47, 65}

func TestLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type shape struct{ m, n, k int }
	var shapes []shape
	for _, m := range testDims {
		for _, n := range testDims {
			for _, k := range []int{0, 1, 3, 17, 64} {
				shapes = append(shapes, shape{m, n, k})
			}
		}
	}
	// Shapes that cross the K and M cache blocks and use every tile height.
	shapes = append(shapes, shape{29, 70, 1000}, shape{183, gemmNC*32 + 40, 300}, shape{5, 2*gemmKC + 1, 2*gemmKC + 3}, shape{100, 96, 3072})
	for _, e := range testEngines() {
		for _, s := range shapes {
			for _, bias := range []bool{false, true} {
				for _, mode := range []string{"identity", "quick_gelu", "gelu", "add"} {
					checkLinear(t, r, e, s.m, s.n, s.k, bias, mode)
				}
			}
		}
	}
}

func checkLinear(t *testing.T, r *rand.Rand, e *engine, m, n, k int, bias bool, mode string) {
	t.Helper()
	w := randSlice(r, n*k, 1)
	x := randSlice(r, m*k, 2)
	var b []float32
	if bias {
		b = randSlice(r, n, 1)
	}
	l := newLinear(e, w, b, n, k)
	const guard = 40
	dst := randSlice(r, m*n+guard, 3)
	orig := append([]float32(nil), dst...)
	var dst0 []float32
	act := Identity
	switch mode {
	case "add":
		dst0 = orig[:m*n]
		l.ForwardAdd(dst[:m*n], x, m)
	default:
		act, _ = ParseAct(mode)
		l.Forward(dst[:m*n], x, m, act)
	}
	want, scale := linearRef(w, b, x, dst0, m, n, k, act)
	for i := range want {
		tol := sumTol*scale[i] + actTol*max(1, math.Abs(want[i])) + 1e-30
		if d := math.Abs(float64(dst[i]) - want[i]); !(d <= tol) {
			t.Fatalf("%s %dx%dx%d bias=%v %s: [%d,%d] = %g, want %g (tol %g)", e.name, m, n, k, bias, mode, i/n, i%n, dst[i], want[i], tol)
		}
	}
	for i := m * n; i < len(dst); i++ {
		if dst[i] != orig[i] {
			t.Fatalf("%s %dx%dx%d: wrote past the end of dst at %d", e.name, m, n, k, i-m*n)
		}
	}
}

// TestActivations checks the vector activations against float64 math on a
// dense sweep and special values.
func TestActivations(t *testing.T) {
	var xs []float32
	for v := float32(-12); v <= 12; v += 0.00137 {
		xs = append(xs, v)
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-8, -1e-8, 30, -30, 80, -80, 200, -200, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)))
	for _, e := range testEngines() {
		for _, act := range []Act{QuickGELU, GELU, ReLU} {
			// Odd lengths and strides exercise the masked tails.
			for _, cols := range []int{1, 15, 16, 17, 33, len(xs)} {
				ld := cols + 3
				rows := (len(xs) + cols - 1) / cols
				c := make([]float32, rows*ld)
				for i, v := range xs {
					c[i/cols*ld+i%cols] = v
				}
				e.actTile(c, ld, rows, cols, act)
				var worst float64
				for i, v := range xs {
					got := c[i/cols*ld+i%cols]
					want := actRef(float64(v), act)
					tol := actTol * max(1, math.Abs(float64(v)))
					if math.IsNaN(want) {
						continue // -Inf/Inf in QuickGELU: any answer will do
					}
					if math.IsInf(want, 0) {
						if float64(got) != want {
							t.Fatalf("%s %v(%g) = %g, want %g", e.name, act, v, got, want)
						}
						continue
					}
					d := math.Abs(float64(got) - want)
					if !(d <= tol) {
						t.Fatalf("%s %v(%g) = %g, want %g (error %g)", e.name, act, v, got, want, d)
					}
					worst = max(worst, d/max(1, math.Abs(float64(v))))
				}
				if cols == len(xs) {
					t.Logf("%s %v: max error %.2e·max(1,|x|)", e.name, act, worst)
				}
				for i := range c {
					if i%ld >= cols && c[i] != 0 {
						t.Fatalf("%s %v: wrote outside the tile at %d", e.name, act, i)
					}
				}
			}
		}
	}
	nan := []float32{float32(math.NaN())}
	Activate(nan, GELU)
	if !math.IsNaN(float64(nan[0])) {
		t.Errorf("GELU(NaN) = %g", nan[0])
	}
}

func TestSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, e := range testEngines() {
		for _, n := range []int{1, 2, 15, 16, 17, 50, 77, 200} {
			for _, scale := range []float32{1, 0.125} {
				x := randSlice(r, n, 20)
				want := make([]float64, n)
				m := math.Inf(-1)
				for _, v := range x {
					m = math.Max(m, float64(v))
				}
				var sum float64
				for i, v := range x {
					want[i] = math.Exp((float64(v) - m) * float64(scale))
					sum += want[i]
				}
				e.softmax(x, n, 1, n, scale, false)
				for i := range x {
					if d := math.Abs(float64(x[i]) - want[i]/sum); d > 1e-6*want[i]/sum+1e-9 {
						t.Fatalf("%s n=%d: [%d] = %g, want %g", e.name, n, i, x[i], want[i]/sum)
					}
				}
			}
		}
	}
}

func TestLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, e := range testEngines() {
		for _, dim := range []int{1, 7, 8, 9, 16, 17, 33, 512, 768, 771} {
			rows := 5
			x := randSlice(r, rows*dim, 4)
			for i := range x {
				x[i] += 100 // a large mean tests the two-pass variance
			}
			g, b := randSlice(r, dim, 1), randSlice(r, dim, 1)
			dst := make([]float32, rows*dim)
			e.layerNorm(dst, x, g, b, rows, dim, 1e-5)
			for row := 0; row < rows; row++ {
				xr := x[row*dim : (row+1)*dim]
				var s, sq float64
				for _, v := range xr {
					s += float64(v)
				}
				mean := s / float64(dim)
				for _, v := range xr {
					sq += (float64(v) - mean) * (float64(v) - mean)
				}
				inv := 1 / math.Sqrt(sq/float64(dim)+1e-5)
				for i, v := range xr {
					want := (float64(v)-mean)*inv*float64(g[i]) + float64(b[i])
					got := dst[row*dim+i]
					if d := math.Abs(float64(got) - want); d > 1e-4*(math.Abs((float64(v)-mean)*inv*float64(g[i]))+math.Abs(float64(b[i])))+1e-6 {
						t.Fatalf("%s dim=%d: [%d,%d] = %g, want %g", e.name, dim, row, i, got, want)
					}
				}
			}
		}
	}
}

// attentionRef is the float64 reference for Attention.
func attentionRef(qkv []float32, seqs []int, heads, hd int, causal bool) []float64 {
	w := heads * hd
	total := 0
	for _, n := range seqs {
		total += n
	}
	out := make([]float64, total*w)
	base := 0
	for _, n := range seqs {
		for h := 0; h < heads; h++ {
			for i := 0; i < n; i++ {
				keys := n
				if causal {
					keys = i + 1
				}
				p := make([]float64, keys)
				m := math.Inf(-1)
				for j := range p {
					var s float64
					for d := 0; d < hd; d++ {
						s += float64(qkv[(base+i)*3*w+h*hd+d]) * float64(qkv[(base+j)*3*w+w+h*hd+d])
					}
					p[j] = s / math.Sqrt(float64(hd))
					m = math.Max(m, p[j])
				}
				var sum float64
				for j := range p {
					p[j] = math.Exp(p[j] - m)
					sum += p[j]
				}
				for d := 0; d < hd; d++ {
					var o float64
					for j := range p {
						o += p[j] / sum * float64(qkv[(base+j)*3*w+2*w+h*hd+d])
					}
					out[(base+i)*w+h*hd+d] = o
				}
			}
		}
		base += n
	}
	return out
}

func TestAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, e := range testEngines() {
		for _, c := range []struct {
			seqs      []int
			heads, hd int
		}{
			{[]int{1}, 1, 1},
			{[]int{3, 0, 5}, 2, 3},
			{[]int{50, 50}, 12, 64},
			{[]int{7, 77, 16}, 8, 64},
			{[]int{33}, 3, 40},
		} {
			for _, causal := range []bool{false, true} {
				total := 0
				for _, n := range c.seqs {
					total += n
				}
				w := c.heads * c.hd
				qkv := randSlice(r, total*3*w, 1.5)
				dst := randSlice(r, total*w, 1)
				e.attention(dst, qkv, c.seqs, c.heads, c.hd, causal)
				want := attentionRef(qkv, c.seqs, c.heads, c.hd, causal)
				for i := range want {
					if d := math.Abs(float64(dst[i]) - want[i]); d > 2e-6 {
						t.Fatalf("%s seqs=%v heads=%d hd=%d causal=%v: [%d] = %g, want %g", e.name, c.seqs, c.heads, c.hd, causal, i, dst[i], want[i])
					}
				}
			}
		}
	}
}

func TestDotAxpy(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, e := range testEngines() {
		for _, n := range []int{0, 1, 15, 16, 17, 63, 64, 65, 200, 512} {
			a, b := randSlice(r, n, 1), randSlice(r, n+5, 1)
			var want, scale float64
			for i := range a {
				want += float64(a[i]) * float64(b[i])
				scale += math.Abs(float64(a[i]) * float64(b[i]))
			}
			if got := e.dot(a, b[:n]); math.Abs(float64(got)-want) > sumTol*scale {
				t.Fatalf("%s dot n=%d = %g, want %g", e.name, n, got, want)
			}
			y := randSlice(r, n, 1)
			y0 := append([]float32(nil), y...)
			e.axpy(y, b[:n], 0.75)
			for i := range y {
				want := float64(y0[i]) + 0.75*float64(b[i])
				if math.Abs(float64(y[i])-want) > 2e-7*(math.Abs(float64(y0[i]))+math.Abs(0.75*float64(b[i]))) {
					t.Fatalf("%s axpy n=%d: [%d] = %g, want %g", e.name, n, i, y[i], want)
				}
			}
		}
	}
}

// TestMaxInto checks every engine's maxInto against the portable loop,
// bit for bit, with NaNs and signed zeros on either side.
func TestMaxInto(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	special := []float32{float32(math.NaN()), 0, float32(math.Copysign(0, -1)), float32(math.Inf(-1)), float32(math.Inf(1))}
	for _, e := range testEngines() {
		for _, n := range []int{0, 1, 15, 16, 17, 32, 63, 64, 65, 200} {
			y, x := randSlice(r, n, 1), randSlice(r, n+3, 1)
			for i := range y {
				if r.IntN(4) == 0 {
					y[i] = special[r.IntN(len(special))]
				}
				if r.IntN(4) == 0 {
					x[i] = special[r.IntN(len(special))]
				}
			}
			want := append([]float32(nil), y...)
			maxIntoGo(want, x[:n])
			e.maxInto(y, x[:n])
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s maxInto n=%d: [%d] = %g, want %g (x %g)", e.name, n, i, y[i], want[i], x[i])
				}
			}
		}
	}
}

func TestParseAct(t *testing.T) {
	for _, a := range []Act{QuickGELU, GELU} {
		if b, err := ParseAct(a.String()); err != nil || b != a {
			t.Errorf("ParseAct(%q) = %v, %v", a.String(), b, err)
		}
	}
	if _, err := ParseAct("relu"); err == nil {
		t.Error("ParseAct(relu) succeeded")
	}
}

func TestCPUFeatures(t *testing.T) {
	t.Log(CPUFeatures())
	if CPUFeatures() == "" {
		t.Error("empty CPUFeatures")
	}
}

func shapeName(m, n, k int) string { return fmt.Sprintf("%dx%dx%d", m, n, k) }

func benchLinearPrec(b *testing.B, e *engine, m, n, k int, p Precision) {
	r := rand.New(rand.NewPCG(1, 1))
	l := newLinear(e, randSlice(r, n*k, 1), randSlice(r, n, 1), n, k)
	if err := l.SetPrecision(p); err != nil {
		b.Fatal(err)
	}
	x := randSlice(r, m*k, 1)
	dst := make([]float32, m*n)
	b.ResetTimer()
	for b.Loop() {
		l.Forward(dst, x, m, Identity)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

var benchShapes = []struct{ m, n, k int }{
	{1600, 3072, 768}, // ViT-B/32 fc1 at batch 32
	{1600, 768, 3072}, // fc2
	{50, 2304, 768},   // fused QKV at batch 1
	{16, 2048, 512},   // text fc1, one query
}

// BenchmarkLinear measures the matrix product of Linear.Forward for the
// model's hot shapes (rows×Out×In), in GFLOP/s.
func BenchmarkLinear(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(shapeName(s.m, s.n, s.k), func(b *testing.B) { benchLinearPrec(b, native, s.m, s.n, s.k, F32) })
	}
}

var tinyDivisor float32 = 100 // a variable, so the division happens at run time

// TestDenormals checks that denormal inputs are flushed, not trapped on
// (results stay within 1e-37 of the float64 ones), and that the kernels
// restore the caller's MXCSR: Go arithmetic keeps producing denormals.
func TestDenormals(t *testing.T) {
	for _, e := range testEngines() {
		x := make([]float32, 7*33)
		for i := range x {
			x[i] = 1e-39 * float32(i%5)
		}
		w := make([]float32, 20*33)
		for i := range w {
			w[i] = 0.5
		}
		l := newLinear(e, w, nil, 20, 33)
		dst := make([]float32, 7*20)
		l.Forward(dst, x, 7, GELU)
		for i, v := range dst {
			if math.Abs(float64(v)) > 1e-37 {
				t.Fatalf("%s: [%d] = %g", e.name, i, v)
			}
		}
		if y := float32(1e-38) / tinyDivisor; y == 0 {
			t.Fatalf("%s: a kernel left flush-to-zero on", e.name)
		}
	}
}

// BenchmarkNewLinear measures packing a ViT-B MLP weight, the cost of
// loading a model that NewLinear adds.
func BenchmarkNewLinear(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range [][2]int{{3072, 768}, {768, 3072}} {
		w := randSlice(r, s[0]*s[1], 1)
		b.Run(fmt.Sprintf("%dx%d", s[0], s[1]), func(b *testing.B) {
			b.SetBytes(int64(len(w) * 4))
			for b.Loop() {
				NewLinear(w, nil, s[0], s[1])
			}
		})
	}
}
