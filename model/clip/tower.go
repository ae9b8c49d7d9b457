package clip

import (
	"context"
	"fmt"
	"sync"

	"github.com/xmodal/xmodal/nn"
)

// weightSource yields float32 tensors by name after checking their shape.
// A safetensors.Set is one; random weights for benchmarks are another.
type weightSource interface {
	Float32(name string, shape ...int) ([]float32, error)
}

// loader collects the first error of a sequence of tensor reads, so that
// building a tower reads as a list of tensors rather than a list of checks.
type loader struct {
	src weightSource
	err error
}

func (l *loader) get(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	v, err := l.src.Float32(name, shape...)
	if err != nil {
		l.err = err
	}
	return v
}

// linear reads name.weight [out, in] and, when bias is set, name.bias [out].
func (l *loader) linear(name string, out, in int, bias bool) *nn.Linear {
	w := l.get(name+".weight", out, in)
	var b []float32
	if bias {
		b = l.get(name+".bias", out)
	}
	if l.err != nil {
		return nil
	}
	return nn.NewLinear(w, b, out, in)
}

type layerNorm struct {
	gamma, beta []float32
	eps         float32
}

func (l *loader) layerNorm(name string, dim int, eps float64) layerNorm {
	return layerNorm{l.get(name+".weight", dim), l.get(name+".bias", dim), float32(eps)}
}

func (n layerNorm) apply(dst, x []float32, rows int) {
	nn.LayerNorm(dst, x, n.gamma, n.beta, rows, len(n.gamma), n.eps)
}

// encoderLayer is one pre-LayerNorm transformer block.
type encoderLayer struct {
	ln1, ln2 layerNorm
	qkv      *nn.Linear // q, k and v projections fused into one product
	out      *nn.Linear
	fc1, fc2 *nn.Linear
}

// encoder is a stack of transformer blocks of one width.
type encoder struct {
	layers       []encoderLayer
	width, heads int
	mlp          int
	act          nn.Act
	// scratch recycles the activation buffers of forward (44 MB for a
	// batch of 32 images at ViT-B): fresh memory costs page faults and
	// zeroing on every batch, about 1% of an image batch.
	scratch sync.Pool
}

func (l *loader) encoder(prefix string, width, mlp, heads, layers int, act string, eps float64) *encoder {
	a, err := nn.ParseAct(act)
	if err != nil && l.err == nil {
		l.err = fmt.Errorf("%s: hidden_act: %w", prefix, err)
	}
	e := &encoder{width: width, heads: heads, mlp: mlp, act: a}
	for i := 0; i < layers; i++ {
		p := fmt.Sprintf("%s.encoder.layers.%d.", prefix, i)
		// Fusing q, k and v makes one matrix product of three times the
		// width, which keeps the GEMM kernel busier than three small ones.
		qkvW := make([]float32, 0, 3*width*width)
		qkvB := make([]float32, 0, 3*width)
		for _, m := range []string{"q_proj", "k_proj", "v_proj"} {
			qkvW = append(qkvW, l.get(p+"self_attn."+m+".weight", width, width)...)
			qkvB = append(qkvB, l.get(p+"self_attn."+m+".bias", width)...)
		}
		layer := encoderLayer{
			ln1: l.layerNorm(p+"layer_norm1", width, eps),
			ln2: l.layerNorm(p+"layer_norm2", width, eps),
			out: l.linear(p+"self_attn.out_proj", width, width, true),
			fc1: l.linear(p+"mlp.fc1", mlp, width, true),
			fc2: l.linear(p+"mlp.fc2", width, mlp, true),
		}
		if l.err != nil {
			return nil
		}
		layer.qkv = nn.NewLinear(qkvW, qkvB, 3*width, width)
		e.layers = append(e.layers, layer)
	}
	return e
}

// forward runs the blocks over the residual stream h (rows of width values,
// sequences of the given lengths stacked), in place, and returns the final
// states of the rows listed in pool, in ascending order (len(pool) rows of
// width values).
//
// Only the pooled rows are read after the last block, so it runs in full
// only up to the attention, which needs every token's key and value; its
// output projection and MLP run on the pooled rows alone. That is exact
// (each row of a matrix product depends only on its own inputs) and, for a
// ViT-B/32 image, skips 6% of the work: 49 of the 50 tokens' last MLP.
func (e *encoder) forward(ctx context.Context, h []float32, seqs []int, causal bool, pool []int) ([]float32, error) {
	rows := 0
	for _, n := range seqs {
		rows += n
	}
	w := e.width
	buf := getScratch(&e.scratch, rows*(5*w+e.mlp))
	defer e.scratch.Put(buf)
	// Every value of the buffers is written before it is read.
	normed := (*buf)[:rows*w]
	qkv := (*buf)[rows*w : rows*4*w]
	attn := (*buf)[rows*4*w : rows*5*w]
	hidden := (*buf)[rows*5*w : rows*(5*w+e.mlp)]
	out := make([]float32, len(pool)*w)
	gather := func(dst, src []float32) {
		for i, r := range pool {
			copy(dst[i*w:(i+1)*w], src[r*w:(r+1)*w])
		}
	}
	for i, l := range e.layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l.ln1.apply(normed, h, rows)
		l.qkv.Forward(qkv, normed, rows, nn.Identity)
		nn.Attention(attn, qkv, seqs, e.heads, w/e.heads, causal)
		res, n := h, rows
		if i == len(e.layers)-1 {
			// The last block goes on with the pooled rows only.
			gather(out, h)
			gather(attn, attn) // pool is ascending, so no row is overwritten before it is read
			res, n = out, len(pool)
		}
		l.out.ForwardAdd(res, attn, n)
		l.ln2.apply(normed, res, n)
		l.fc1.Forward(hidden, normed, n, e.act)
		l.fc2.ForwardAdd(res, hidden, n)
	}
	if len(e.layers) == 0 {
		gather(out, h)
	}
	return out, nil
}

// getScratch takes a buffer of at least n floats from pool (*[]float32
// values), growing it if needed; put it back when done.
func getScratch(pool *sync.Pool, n int) *[]float32 {
	buf, _ := pool.Get().(*[]float32)
	if buf == nil {
		buf = new([]float32)
	}
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return buf
}

// params counts the weights of the encoder.
func (e *encoder) params() int {
	w, m := e.width, e.mlp
	perLayer := 4*w + 3*w*w + 3*w + w*w + w + m*w + m + w*m + w
	return perLayer * len(e.layers)
}
