package nn

import (
	"math"
)

// LayerNorm normalises each of rows rows of x (dim values each) to zero mean
// and unit variance, then scales by gamma and shifts by beta, into dst. dst
// may be x.
func LayerNorm(dst, x, gamma, beta []float32, rows, dim int, eps float32) {
	native.layerNorm(dst, x, gamma, beta, rows, dim, eps)
}

func (e *engine) layerNorm(dst, x, gamma, beta []float32, rows, dim int, eps float32) {
	if rows <= 0 || dim <= 0 {
		return
	}
	gamma, beta = gamma[:dim], beta[:dim]
	ParallelFor(rows, max(1, 16*1024/dim), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*dim : (r+1)*dim]
			// Two passes in float64 keep the variance accurate for wide
			// rows with large activations, as PyTorch's Welford reduction
			// does.
			mean := e.sum64(xr) / float64(dim)
			inv := 1 / math.Sqrt(e.sqDev64(xr, mean)/float64(dim)+float64(eps))
			e.normRow(dst[r*dim:(r+1)*dim], xr, gamma, beta, float32(mean), float32(inv))
		}
	})
}

func sum64Go(x []float32) float64 {
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	return sum
}

func sqDev64Go(x []float32, mean float64) float64 {
	var sq float64
	for _, v := range x {
		d := float64(v) - mean
		sq += d * d
	}
	return sq
}

func normRowGo(dst, x, gamma, beta []float32, m, s float32) {
	gamma, beta, dst = gamma[:len(x)], beta[:len(x)], dst[:len(x)]
	for i, v := range x {
		dst[i] = (v-m)*s*gamma[i] + beta[i]
	}
}

// Activate applies act to every value of x in place.
func Activate(x []float32, act Act) {
	if act == Identity || len(x) == 0 {
		return
	}
	e := native
	// Chunks of whole cache lines keep the goroutines off each other's
	// lines.
	const grain = 16 * 1024
	ParallelFor((len(x)+grain-1)/grain, 1, func(lo, hi int) {
		c := x[lo*grain : min(hi*grain, len(x))]
		e.actTile(c, len(c), 1, len(c), act)
	})
}

// activateGo is the portable reference for the activations, in float64
// where the math package works in float64.
func activateGo(x []float32, act Act) {
	switch act {
	case QuickGELU:
		for i, v := range x {
			x[i] = v / (1 + float32(math.Exp(float64(-1.702*v))))
		}
	case GELU:
		for i, v := range x {
			x[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2)))
		}
	case ReLU:
		relu(x)
	}
}

// Softmax replaces x with exp(x - max) / Σ exp(x - max).
func Softmax(x []float32) {
	native.softmax(x, len(x), 1, len(x), 1, false)
}

// softmaxGo replaces each of rows rows of n values of x (ld apart) with the
// softmax of scale·row (scale > 0). With causal set, row i is the softmax of
// its first i+1 values, followed by zeros: the attention weights of query i
// over keys 0..i.
func softmaxGo(x []float32, ld, rows, n int, scale float32, causal bool) {
	for i := 0; i < rows; i++ {
		row := x[i*ld : i*ld+n]
		keys := n
		if causal {
			keys = min(i+1, n)
		}
		softmaxRow(row[:keys], scale)
		clear(row[keys:])
	}
}

func softmaxRow(x []float32, scale float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64((v - m) * scale)))
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}

// Attention computes multi-head scaled dot-product attention for each
// sequence of a ragged batch. Each row of qkv holds the projected query, key
// and value of one token, [q | k | v], each heads·headDim wide; seqs lists the
// sequences' lengths in row order. With causal set, a token attends only to
// itself and the tokens before it. dst receives heads·headDim values per row.
func Attention(dst, qkv []float32, seqs []int, heads, headDim int, causal bool) {
	native.attention(dst, qkv, seqs, heads, headDim, causal)
}

// attention runs each (sequence, head) pair as two small matrix products
// read straight out of qkv, with the same micro-kernels as Linear: S = Q·Kᵀ
// (K is already in nn.Linear weight layout, Out = keys × In = headDim), a
// row-wise softmax of S/√headDim in place, and O = P·V, written into dst at
// the head's columns. Nothing is copied but the panel packing every product
// does; the (sequence, head) pairs are spread over GOMAXPROCS goroutines.
func (e *engine) attention(dst, qkv []float32, seqs []int, heads, headDim int, causal bool) {
	width := heads * headDim
	starts := make([]int, len(seqs))
	total := 0
	for i, n := range seqs {
		starts[i] = total
		total += n
	}
	if total == 0 || width == 0 {
		return
	}
	_ = qkv[total*3*width-1]
	_ = dst[total*width-1]
	scale := float32(1 / math.Sqrt(float64(headDim)))
	nr := e.kern.nr
	ParallelFor(len(seqs)*heads, 1, func(lo, hi int) {
		var scores []float32
		var kb, vb packedB
		for job := lo; job < hi; job++ {
			s, h := job/heads, job%heads
			n, base := seqs[s], starts[s]
			if n == 0 {
				continue
			}
			q := qkv[base*3*width+h*headDim:]
			e.kern.packWeights(&kb, qkv[base*3*width+width+h*headDim:], 3*width, n, headDim)
			packRows(&vb, qkv[base*3*width+2*width+h*headDim:], 3*width, headDim, n, nr)
			scores = grow(scores, n*n)
			e.gemm(e.kern, n, n, headDim, q, 3*width, &kb, nil, scores, n, Identity, false, false)
			e.softmax(scores, n, n, n, scale, causal)
			e.gemm(e.kern, n, headDim, n, scores, n, &vb, nil, dst[base*width+h*headDim:], width, Identity, false, false)
		}
	})
}

// Axpy adds a·x to y.
func Axpy(y, x []float32, a float32) {
	native.axpy(y, x[:len(y)], a)
}

func axpyGo(y, x []float32, a float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += a * v
	}
}

// Normalize scales x to unit L2 norm; a zero vector stays zero.
func Normalize(x []float32) {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range x {
		x[i] *= inv
	}
}

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}
