package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// convRef is a direct convolution in float64 over a CHW image, as
// PyTorch defines it; it returns CHW.
func convRef(w, b, x []float32, out, in, kh, kw, h, wd, stride, pad int) ([]float64, int, int) {
	ho, wo := (h+2*pad-kh)/stride+1, (wd+2*pad-kw)/stride+1
	y := make([]float64, out*ho*wo)
	for o := range out {
		for oy := range ho {
			for ox := range wo {
				s := 0.0
				if b != nil {
					s = float64(b[o])
				}
				for i := range in {
					for ky := range kh {
						for kx := range kw {
							iy, ix := oy*stride-pad+ky, ox*stride-pad+kx
							if iy >= 0 && iy < h && ix >= 0 && ix < wd {
								s += float64(w[((o*in+i)*kh+ky)*kw+kx]) * float64(x[(i*h+iy)*wd+ix])
							}
						}
					}
				}
				y[(o*ho+oy)*wo+ox] = s
			}
		}
	}
	return y, ho, wo
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// The im2col convolution equals the direct one on the shapes ResNet and
// VGG use and on odd ones.
func TestConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ out, in, kh, kw, h, w, stride, pad int }{
		{8, 3, 7, 7, 33, 29, 2, 3}, {5, 4, 3, 3, 9, 9, 1, 1}, {6, 4, 3, 3, 10, 7, 2, 1},
		{16, 8, 1, 1, 5, 6, 1, 0}, {16, 8, 1, 1, 7, 7, 2, 0}, {3, 2, 2, 3, 5, 4, 1, 0}, {1, 1, 1, 1, 1, 1, 1, 0},
	} {
		for _, bias := range []bool{false, true} {
			w := randVec(rng, c.out*c.in*c.kh*c.kw)
			var b []float32
			if bias {
				b = randVec(rng, c.out)
			}
			x := randVec(rng, c.in*c.h*c.w)
			want, ho, wo := convRef(w, b, x, c.out, c.in, c.kh, c.kw, c.h, c.w, c.stride, c.pad)
			conv, err := NewConv2D(w, b, c.out, c.in, c.kh, c.kw, c.stride, c.pad)
			if err != nil {
				t.Fatal(err)
			}
			hwc := make([]float32, len(x))
			for i := range c.in {
				for p := range c.h * c.w {
					hwc[p*c.in+i] = x[i*c.h*c.w+p]
				}
			}
			got := make([]float32, ho*wo*c.out)
			gh, gw := conv.Forward(got, hwc, c.h, c.w, Identity, nil)
			if gh != ho || gw != wo {
				t.Fatalf("%+v: output %d×%d, want %d×%d", c, gh, gw, ho, wo)
			}
			for o := range c.out {
				for p := range ho * wo {
					if d := math.Abs(float64(got[p*c.out+o]) - want[o*ho*wo+p]); d > 1e-4 {
						t.Fatalf("%+v bias %v: output %d at %d = %v, want %v", c, bias, o, p, got[p*c.out+o], want[o*ho*wo+p])
					}
				}
			}
		}
	}
}

// A folded batch norm computes what the convolution followed by the norm
// computes.
func TestFoldBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	out, in := 4, 3
	w, b := randVec(rng, out*in*9), randVec(rng, out)
	gamma, beta, mean := randVec(rng, out), randVec(rng, out), randVec(rng, out)
	variance := make([]float32, out)
	for i := range variance {
		variance[i] = float32(0.5 + rng.Float64())
	}
	x := randVec(rng, in*6*6)
	plain, ho, wo := convRef(w, b, x, out, in, 3, 3, 6, 6, 1, 1)
	fw, fb, err := FoldBatchNorm(w, b, gamma, beta, mean, variance, out, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	folded, _, _ := convRef(fw, fb, x, out, in, 3, 3, 6, 6, 1, 1)
	for o := range out {
		for p := range ho * wo {
			want := float64(gamma[o])*(plain[o*ho*wo+p]-float64(mean[o]))/math.Sqrt(float64(variance[o])+1e-5) + float64(beta[o])
			if d := math.Abs(folded[o*ho*wo+p] - want); d > 1e-5 {
				t.Fatalf("channel %d: %v, want %v", o, folded[o*ho*wo+p], want)
			}
		}
	}
}

func TestMaxPool2D(t *testing.T) {
	// 1 channel, 4×4, 3×3 windows, stride 2, padding 1: ResNet's stem pool.
	x := []float32{1, 2, 3, 4, 5, -6, 7, 8, 9, 10, -11, 12, 13, 14, 15, -16}
	dst := make([]float32, 4)
	if h, w := MaxPool2D(dst, x, 4, 4, 1, 3, 2, 1); h != 2 || w != 2 || dst[0] != 5 || dst[1] != 8 || dst[2] != 14 || dst[3] != 15 {
		t.Errorf("%d×%d %v", h, w, dst)
	}
	avg := make([]float32, 1)
	AvgPoolGlobal(avg, []float32{1, 2, 3, 6}, 2, 2, 1)
	if avg[0] != 3 {
		t.Errorf("average %v", avg[0])
	}
}

func BenchmarkConv2D(b *testing.B) {
	// A 3×3 convolution of ResNet's first stage at 224 px.
	rng := rand.New(rand.NewPCG(7, 8))
	conv, _ := NewConv2D(randVec(rng, 64*64*9), nil, 64, 64, 3, 3, 1, 1)
	x := randVec(rng, 56*56*64)
	dst := make([]float32, 56*56*64)
	var scratch []float32
	b.SetBytes(0)
	for b.Loop() {
		conv.Forward(dst, x, 56, 56, Identity, &scratch)
	}
	b.ReportMetric(2*float64(56*56*64*64*9)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// ForwardAddAct applies the activation after the residual sum, as a
// ResNet block's last ReLU does.
func TestForwardAddAct(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, e := range testEngines() {
		out, in, rows := 37, 19, 23
		w, b, x := randVec(rng, out*in), randVec(rng, out), randVec(rng, rows*in)
		dst0 := randVec(rng, rows*out)
		l := newLinear(e, w, b, out, in)
		dst := append([]float32(nil), dst0...)
		l.ForwardAddAct(dst, x, rows, ReLU)
		for r := range rows {
			for o := range out {
				s := float64(dst0[r*out+o]) + float64(b[o])
				for i := range in {
					s += float64(w[o*in+i]) * float64(x[r*in+i])
				}
				if d := math.Abs(float64(dst[r*out+o]) - math.Max(s, 0)); d > 1e-4 {
					t.Fatalf("%s: [%d,%d] = %v, want %v", e.name, r, o, dst[r*out+o], math.Max(s, 0))
				}
			}
		}
	}
}

// ForwardAdd of a stride-1 convolution (the shifted products) adds to what
// dst holds and applies the activation after the sum.
func TestConv2DForwardAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, c := range []struct{ out, in, k, h, w, pad int }{{5, 3, 3, 7, 6, 1}, {4, 2, 3, 5, 5, 0}, {3, 4, 5, 9, 8, 2}} {
		w, b := randVec(rng, c.out*c.in*c.k*c.k), randVec(rng, c.out)
		x := randVec(rng, c.in*c.h*c.w)
		want, ho, wo := convRef(w, b, x, c.out, c.in, c.k, c.k, c.h, c.w, 1, c.pad)
		conv, err := NewConv2D(w, b, c.out, c.in, c.k, c.k, 1, c.pad)
		if err != nil {
			t.Fatal(err)
		}
		hwc := make([]float32, len(x))
		for i := range c.in {
			for p := range c.h * c.w {
				hwc[p*c.in+i] = x[i*c.h*c.w+p]
			}
		}
		dst0 := randVec(rng, ho*wo*c.out)
		dst := append([]float32(nil), dst0...)
		conv.ForwardAdd(dst, hwc, c.h, c.w, ReLU, nil)
		for o := range c.out {
			for p := range ho * wo {
				exp := math.Max(want[o*ho*wo+p]+float64(dst0[p*c.out+o]), 0)
				if d := math.Abs(float64(dst[p*c.out+o]) - exp); d > 1e-4 {
					t.Fatalf("%+v: output %d at %d = %v, want %v", c, o, p, dst[p*c.out+o], exp)
				}
			}
		}
	}
}
