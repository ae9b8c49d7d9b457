package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// vitLayer is one ViT-B/32 encoder layer (width 768, MLP 3072, 12 heads),
// as model/clip runs it, for benchmarks of the whole hot path.
type vitLayer struct {
	ln1g, ln1b, ln2g, ln2b []float32
	qkv, out, fc1, fc2     *Linear
}

func newViTLayer(r *rand.Rand, p Precision) *vitLayer {
	const w, mlp = 768, 3072
	ones := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	l := &vitLayer{
		ln1g: ones(w), ln1b: make([]float32, w), ln2g: ones(w), ln2b: make([]float32, w),
		qkv: NewLinear(randSlice(r, 3*w*w, 0.03), randSlice(r, 3*w, 0.1), 3*w, w),
		out: NewLinear(randSlice(r, w*w, 0.03), randSlice(r, w, 0.1), w, w),
		fc1: NewLinear(randSlice(r, mlp*w, 0.03), randSlice(r, mlp, 0.1), mlp, w),
		fc2: NewLinear(randSlice(r, w*mlp, 0.02), randSlice(r, w, 0.1), w, mlp),
	}
	for _, x := range []*Linear{l.qkv, l.out, l.fc1, l.fc2} {
		if err := x.SetPrecision(p); err != nil {
			panic(err)
		}
	}
	return l
}

type layerBufs struct{ h, t, qkv, att, mlp []float32 }

func (l *vitLayer) forward(b *layerBufs, seqs []int, rows int) {
	const w = 768
	LayerNorm(b.t, b.h, l.ln1g, l.ln1b, rows, w, 1e-5)
	l.qkv.Forward(b.qkv, b.t, rows, Identity)
	Attention(b.att, b.qkv, seqs, 12, 64, false)
	l.out.ForwardAdd(b.h, b.att, rows)
	LayerNorm(b.t, b.h, l.ln2g, l.ln2b, rows, w, 1e-5)
	l.fc1.Forward(b.mlp, b.t, rows, QuickGELU)
	l.fc2.ForwardAdd(b.h, b.mlp, rows)
}

// BenchmarkViTLayer runs one ViT-B/32 layer over a batch of images and
// reports images/s for the 12 layers of the image tower (the patch
// embedding and projections, about 3% of the flops, are not included).
func BenchmarkViTLayer(b *testing.B) {
	for _, p := range []Precision{F32, BF16, Int8} {
		for _, batch := range []int{1, 32} {
			b.Run(fmt.Sprintf("%v/batch%d", p, batch), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				if p == BF16 && native.bf16 == nil || p == Int8 && native.i8 == nil {
					b.Skip("not supported by this CPU")
				}
				l := newViTLayer(r, p)
				rows := batch * 50
				seqs := make([]int, batch)
				for i := range seqs {
					seqs[i] = 50
				}
				bufs := &layerBufs{
					h: randSlice(r, rows*768, 1), t: make([]float32, rows*768), qkv: make([]float32, rows*3*768),
					att: make([]float32, rows*768), mlp: make([]float32, rows*3072),
				}
				b.ResetTimer()
				for b.Loop() {
					l.forward(bufs, seqs, rows)
				}
				b.ReportMetric(float64(batch*b.N)/12/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}

func BenchmarkAttention(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name      string
		seqs      []int
		heads, hd int
		causal    bool
	}{
		{"vit32x50", repeat(50, 32), 12, 64, false},
		{"text16", []int{16}, 8, 64, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			total := 0
			for _, n := range c.seqs {
				total += n
			}
			w := c.heads * c.hd
			qkv := randSlice(r, total*3*w, 1)
			dst := make([]float32, total*w)
			for b.Loop() {
				Attention(dst, qkv, c.seqs, c.heads, c.hd, c.causal)
			}
		})
	}
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func BenchmarkLayerNorm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randSlice(r, 1600*768, 1)
	g, bb := randSlice(r, 768, 1), randSlice(r, 768, 1)
	dst := make([]float32, len(x))
	for b.Loop() {
		LayerNorm(dst, x, g, bb, 1600, 768, 1e-5)
	}
	b.SetBytes(int64(len(x) * 4))
}

func BenchmarkActivate(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, act := range []Act{QuickGELU, GELU} {
		b.Run(act.String(), func(b *testing.B) {
			src := randSlice(r, 1600*3072, 3)
			x := make([]float32, len(src))
			b.SetBytes(int64(len(x) * 4))
			for b.Loop() {
				copy(x, src) // repeated activations would decay into denormals
				Activate(x, act)
			}
		})
	}
}

// BenchmarkTextQuery runs the 12 layers of the ViT-B/32 text tower (width
// 512, MLP 2048, 8 heads, causal) on one 16-token query: the latency of a
// search query. Each layer has its own weights, as in the model, so the
// weights stream from memory as they would.
func BenchmarkTextQuery(b *testing.B) {
	for _, p := range []Precision{F32, BF16, Int8} {
		b.Run(p.String(), func(b *testing.B) {
			if p == BF16 && native.bf16 == nil || p == Int8 && native.i8 == nil {
				b.Skip("not supported by this CPU")
			}
			q := newTextTower(native, rand.New(rand.NewPCG(3, 4)), p)
			for b.Loop() {
				q.run()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/query")
		})
	}
}

// textTower is ViT-B/32's text tower (without embeddings and projection)
// and the buffers of a 16-token query.
type textTower struct {
	ls []struct {
		g, bb              []float32
		qkv, out, fc1, fc2 *Linear
	}
	h, t, qkv, att, hid []float32
}

const textW, textMLP, textN, textLayers = 512, 2048, 16, 12

func newTextTower(e *engine, r *rand.Rand, p Precision) *textTower {
	const w, mlp, n = textW, textMLP, textN
	q := &textTower{}
	q.ls = make([]struct {
		g, bb              []float32
		qkv, out, fc1, fc2 *Linear
	}, textLayers)
	for i := range q.ls {
		l := &q.ls[i]
		l.g, l.bb = randSlice(r, w, 1), randSlice(r, w, 1)
		l.qkv = newLinear(e, randSlice(r, 3*w*w, 0.03), randSlice(r, 3*w, 0.1), 3*w, w)
		l.out = newLinear(e, randSlice(r, w*w, 0.03), randSlice(r, w, 0.1), w, w)
		l.fc1 = newLinear(e, randSlice(r, mlp*w, 0.03), randSlice(r, mlp, 0.1), mlp, w)
		l.fc2 = newLinear(e, randSlice(r, w*mlp, 0.02), randSlice(r, w, 0.1), w, mlp)
		for _, x := range []*Linear{l.qkv, l.out, l.fc1, l.fc2} {
			if err := x.SetPrecision(p); err != nil {
				panic(err)
			}
		}
	}
	q.h, q.t = randSlice(r, n*w, 1), make([]float32, n*w)
	q.qkv, q.att, q.hid = make([]float32, n*3*w), make([]float32, n*w), make([]float32, n*mlp)
	return q
}

func (q *textTower) run() {
	const w, n = textW, textN
	seqs := []int{n}
	for _, l := range q.ls {
		LayerNorm(q.t, q.h, l.g, l.bb, n, w, 1e-5)
		l.qkv.Forward(q.qkv, q.t, n, Identity)
		Attention(q.att, q.qkv, seqs, 8, 64, true)
		l.out.ForwardAdd(q.h, q.att, n)
		LayerNorm(q.t, q.h, l.g, l.bb, n, w, 1e-5)
		l.fc1.Forward(q.hid, q.t, n, QuickGELU)
		l.fc2.ForwardAdd(q.h, q.hid, n)
	}
}

// BenchmarkMaxPool2D is the default model's stem pool: 32×32×32 to 16×16×32.
func BenchmarkMaxPool2D(b *testing.B) {
	x := make([]float32, 32*32*32)
	for i := range x {
		x[i] = float32((i*7919)%1000) / 1000
	}
	dst := make([]float32, 16*16*32)
	for b.Loop() {
		MaxPool2D(dst, x, 32, 32, 32, 3, 2, 1)
	}
}
