package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// portableI8 is the portable engine with the portable int8 kernel, the
// reference the vector kernels must match bit for bit. (The package does not
// use it: without VNNI, int8 would be slower than float32.)
var portableI8 = func() *engine {
	e := *portable
	e.name, e.i8 = "go+int8", goI8Kernel
	return &e
}()

// i8Engines returns the engines with an int8 kernel, the portable one last.
func i8Engines() []*engine {
	var es []*engine
	for _, e := range engines() {
		if e.i8 != nil {
			es = append(es, e)
		}
	}
	return append(es, portableI8)
}

// dequantW returns W as the int8 layer sees it: q·scale per column.
func dequantW(l *Linear) []float32 {
	p := &l.pq
	w := make([]float32, l.Out*l.In)
	for col := 0; col < l.Out; col++ {
		panel := p.panel(col / p.nr)
		for kk := 0; kk < l.In; kk++ {
			w[col*l.In+kk] = float32(panel[(kk/4*p.nr+col%p.nr)*4+kk%4]) * p.scale[col]
		}
	}
	return w
}

// dequantX returns x as the int8 layer sees it: per-row quantised.
func dequantX(x []float32, rows, in int) []float32 {
	d := make([]float32, len(x))
	q := make([]uint8, in)
	for r := 0; r < rows; r++ {
		s := quantRowGo(q, x[r*in:(r+1)*in])
		for k := range in {
			d[r*in+k] = float32(int(q[k])-128) * s
		}
	}
	return d
}

// TestLinearInt8 checks every int8 engine against a float64 reference over
// the quantised operands (whose products are exact in int32, so only the
// float32 epilogue rounds), and the vector kernels against the portable one
// bit for bit where no activation is involved: equal outputs mean equal
// int32 sums.
func TestLinearInt8(t *testing.T) {
	if native.i8 == nil {
		if err := NewLinear(make([]float32, 4), nil, 2, 2).SetPrecision(Int8); err != ErrNoInt8 {
			t.Fatalf("SetPrecision(Int8) = %v without int8 support", err)
		}
	}
	r := rand.New(rand.NewPCG(21, 22))
	dims := []int{0, 1, 2, 3, 14, 15, 16, 31, 33, 65}
	type shape struct{ m, n, k int }
	var shapes []shape
	for _, m := range dims {
		for _, n := range dims {
			for _, k := range []int{0, 1, 3, 4, 5, 17, 64, 67} {
				shapes = append(shapes, shape{m, n, k})
			}
		}
	}
	// Shapes that cross the AMX row block (512) and use every tile height.
	shapes = append(shapes, shape{29, 70, 1001}, shape{183, 33, 300}, shape{5, 40, 3*gemmKC + 3}, shape{300, 40, 100}, shape{1100, 40, 100}, shape{530, 65, 67})
	for _, s := range shapes {
		for _, bias := range []bool{false, true} {
			for _, mode := range []string{"identity", "quick_gelu", "gelu", "add"} {
				w := randSlice(r, s.n*s.k, 1)
				x := randSlice(r, s.m*s.k, 2)
				// Some rows and columns with outliers and zeros.
				if s.m > 2 && s.k > 0 {
					x[s.k] = 50
					clear(x[2*s.k : 3*s.k])
				}
				if s.n > 2 && s.k > 0 {
					clear(w[s.k : 2*s.k])
				}
				var b []float32
				if bias {
					b = randSlice(r, s.n, 1)
				}
				dst0 := randSlice(r, s.m*s.n+40, 3)
				var ref []float32
				for _, e := range i8Engines() {
					l := newLinear(e, w, b, s.n, s.k)
					if err := l.SetPrecision(Int8); err != nil {
						t.Fatal(err)
					}
					dst := append([]float32(nil), dst0...)
					var add []float32
					act := Identity
					if mode == "add" {
						add = dst0[:s.m*s.n]
						l.ForwardAdd(dst[:s.m*s.n], x, s.m)
					} else {
						act, _ = ParseAct(mode)
						l.Forward(dst[:s.m*s.n], x, s.m, act)
					}
					want, scale := linearRef(dequantW(l), b, dequantX(x, s.m, s.k), add, s.m, s.n, s.k, act)
					for i := range want {
						tol := sumTol*scale[i] + actTol*max(1, math.Abs(want[i])) + 1e-30
						if d := math.Abs(float64(dst[i]) - want[i]); !(d <= tol) {
							t.Fatalf("%s %v bias=%v %s: [%d,%d] = %g, want %g", e.name, s, bias, mode, i/s.n, i%s.n, dst[i], want[i])
						}
					}
					for i := s.m * s.n; i < len(dst); i++ {
						if dst[i] != dst0[i] {
							t.Fatalf("%s %v: wrote past the end of dst", e.name, s)
						}
					}
					if act != Identity {
						continue
					}
					if ref == nil {
						ref = dst
					} else {
						for i := range ref {
							if math.Float32bits(ref[i]) != math.Float32bits(dst[i]) {
								t.Fatalf("%s %v bias=%v %s: [%d,%d] = %g, another int8 kernel %g", e.name, s, bias, mode, i/s.n, i%s.n, dst[i], ref[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestInt8Precision checks SetPrecision's round trips and the error of int8
// against float32 on a transformer-sized product with uniform inputs: each
// operand's rounding is at most half a step of max/127.
func TestInt8Precision(t *testing.T) {
	if p, err := ParsePrecision("int8"); err != nil || p != Int8 || p.String() != "int8" {
		t.Fatalf("ParsePrecision(int8) = %v, %v", p, err)
	}
	r := rand.New(rand.NewPCG(23, 24))
	m, n, k := 64, 256, 768
	w, x := randSlice(r, n*k, 0.05), randSlice(r, m*k, 1)
	for _, e := range i8Engines() {
		l := newLinear(e, w, nil, n, k)
		want := make([]float32, m*n)
		l.Forward(want, x, m, Identity)
		if err := l.SetPrecision(Int8); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, m*n)
		l.Forward(got, x, m, Identity)
		rel := relRMS(got, want)
		t.Logf("%s: int8 relative RMS error vs f32: %.2e", e.name, rel)
		if rel > 2e-2 {
			t.Errorf("int8 relative error %.2e, want < 2e-2", rel)
		}
		if l.Precision() != Int8 {
			t.Fatal("Precision() after SetPrecision(Int8)")
		}
		if err := l.SetPrecision(F32); err != nil {
			t.Fatal(err)
		}
		l.Forward(got, x, m, Identity)
		for i := range got {
			if got[i] != want[i] {
				t.Fatal("F32 after Int8 differs")
			}
		}
	}
	if err := newLinear(portable, w, nil, n, k).SetPrecision(Int8); err != ErrNoInt8 {
		t.Errorf("portable engine: SetPrecision(Int8) = %v, want ErrNoInt8", err)
	}
}

// BenchmarkLinearInt8 is BenchmarkLinear in int8.
func BenchmarkLinearInt8(b *testing.B) {
	if native.i8 == nil {
		b.Skip("no int8 kernel on this CPU")
	}
	for _, s := range benchShapes {
		b.Run(shapeName(s.m, s.n, s.k), func(b *testing.B) { benchLinearPrec(b, native, s.m, s.n, s.k, Int8) })
	}
}

// TestQuantRow checks each engine's row quantiser against quantRowGo, byte
// for byte, over lengths that exercise the vector loops and tails.
func TestQuantRow(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for _, e := range engines() {
		for n := 0; n <= 100; n++ {
			for _, c := range []string{"rand", "zero", "ties", "tiny"} {
				x := randSlice(r, n, 3)
				switch c {
				case "zero":
					clear(x)
				case "ties":
					// Multiples of max/254 land on halves after scaling.
					for i := range x {
						x[i] = float32(r.IntN(255)-127) / 2
					}
				case "tiny":
					for i := range x {
						x[i] *= 1e-40
					}
				}
				want, got := make([]uint8, n+8), make([]uint8, n+8)
				for i := range got {
					got[i], want[i] = 7, 7
				}
				sw, sg := quantRowGo(want, x), e.quant(got, x)
				if sw != sg {
					t.Fatalf("%s n=%d %s: scale %g, want %g", e.name, n, c, sg, sw)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s n=%d %s: [%d] = %d, want %d", e.name, n, c, i, got[i], want[i])
					}
				}
			}
		}
	}
}
