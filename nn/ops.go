package nn

import (
	"math"
)

// LayerNorm normalises each of rows rows of x (dim values each) to zero mean
// and unit variance, then scales by gamma and shifts by beta, into dst. dst
// may be x.
func LayerNorm(dst, x, gamma, beta []float32, rows, dim int, eps float32) {
	ParallelFor(rows, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			layerNormRow(dst[r*dim:(r+1)*dim], x[r*dim:(r+1)*dim], gamma, beta, eps)
		}
	})
}

func layerNormRow(dst, x, gamma, beta []float32, eps float32) {
	// Two passes in float64 keep the variance accurate for wide rows with
	// large activations, as PyTorch's Welford reduction does.
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	var sq float64
	for _, v := range x {
		d := float64(v) - mean
		sq += d * d
	}
	inv := 1 / math.Sqrt(sq/float64(len(x))+float64(eps))
	m, s := float32(mean), float32(inv)
	gamma, beta, dst = gamma[:len(x)], beta[:len(x)], dst[:len(x)]
	for i, v := range x {
		dst[i] = (v-m)*s*gamma[i] + beta[i]
	}
}

// Activate applies act to every value of x in place.
func Activate(x []float32, act Act) {
	switch act {
	case QuickGELU:
		for i, v := range x {
			x[i] = v / (1 + float32(math.Exp(float64(-1.702*v))))
		}
	case GELU:
		for i, v := range x {
			x[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2)))
		}
	}
}

// Softmax replaces x with exp(x - max) / Σ exp(x - max).
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
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
	width := heads * headDim
	starts := make([]int, len(seqs))
	total := 0
	for i, n := range seqs {
		starts[i] = total
		total += n
	}
	scale := float32(1 / math.Sqrt(float64(headDim)))
	ParallelFor(len(seqs)*heads, 1, func(lo, hi int) {
		var scores []float32
		for job := lo; job < hi; job++ {
			s, h := job/heads, job%heads
			n, base := seqs[s], starts[s]
			scores = grow(scores, n)
			for i := 0; i < n; i++ {
				q := qkv[(base+i)*3*width+h*headDim:][:headDim]
				keys := n
				if causal {
					keys = i + 1
				}
				row := scores[:keys]
				for j := range row {
					k := qkv[(base+j)*3*width+width+h*headDim:][:headDim]
					row[j] = Dot(q, k) * scale
				}
				Softmax(row)
				out := dst[(base+i)*width+h*headDim:][:headDim]
				clear(out)
				for j, p := range row {
					v := qkv[(base+j)*3*width+2*width+h*headDim:][:headDim]
					Axpy(out, v, p)
				}
			}
		}
	})
}

// Axpy adds a·x to y.
func Axpy(y, x []float32, a float32) {
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
