package nn

import (
	"fmt"
	"math"
)

// Images here are channels-last: an H×W×C image is H·W rows of C values,
// so that a convolution is one matrix product over its patches (im2col)
// on the GEMM kernels of Linear, and a 1×1 convolution is a Linear as it
// stands.

// Conv2D is a 2-D convolution with square stride and padding.
type Conv2D struct {
	In, Out        int
	KH, KW         int
	Stride, Pad    int
	lin            *Linear // Out × (KH·KW·In), the patch order of im2col
	pointwiseDense bool    // 1×1, stride 1, no padding: no patches needed
}

// NewConv2D makes a convolution from PyTorch's weight (out×in×kh×kw) and
// bias (out values, or nil).
func NewConv2D(w, b []float32, out, in, kh, kw, stride, pad int) (*Conv2D, error) {
	if len(w) != out*in*kh*kw || (b != nil && len(b) != out) || stride < 1 || pad < 0 {
		return nil, fmt.Errorf("nn: convolution weight of %d values, bias of %d, stride %d, padding %d for %d×%d×%d×%d", len(w), len(b), stride, pad, out, in, kh, kw)
	}
	// Reorder to out×kh×kw×in, the order of a channels-last patch.
	r := make([]float32, len(w))
	for o := range out {
		for i := range in {
			for y := range kh {
				for x := range kw {
					r[((o*kh+y)*kw+x)*in+i] = w[((o*in+i)*kh+y)*kw+x]
				}
			}
		}
	}
	return &Conv2D{
		In: in, Out: out, KH: kh, KW: kw, Stride: stride, Pad: pad,
		lin:            NewLinear(r, b, out, kh*kw*in),
		pointwiseDense: kh == 1 && kw == 1 && stride == 1 && pad == 0,
	}, nil
}

// FoldBatchNorm folds an eval-mode batch norm that follows a convolution
// into its weight (out×rest values) and bias (nil for none): the result
// computes gamma·(conv(x) − mean)/√(var + eps) + beta.
func FoldBatchNorm(w, b, gamma, beta, mean, variance []float32, out int, eps float64) (fw, fb []float32, err error) {
	if out == 0 || len(w)%out != 0 || len(gamma) != out || len(beta) != out || len(mean) != out || len(variance) != out || (b != nil && len(b) != out) {
		return nil, nil, fmt.Errorf("nn: batch norm of %d channels after a convolution of %d", len(gamma), out)
	}
	rest := len(w) / out
	fw, fb = make([]float32, len(w)), make([]float32, out)
	for o := range out {
		scale := float64(gamma[o]) / math.Sqrt(float64(variance[o])+eps)
		for j := range rest {
			fw[o*rest+j] = float32(float64(w[o*rest+j]) * scale)
		}
		bias := 0.0
		if b != nil {
			bias = float64(b[o])
		}
		fb[o] = float32((bias-float64(mean[o]))*scale + float64(beta[o]))
	}
	return fw, fb, nil
}

// SetPrecision chooses the arithmetic of the convolution's matrix product
// (see Linear.SetPrecision).
func (c *Conv2D) SetPrecision(p Precision) error { return c.lin.SetPrecision(p) }

// OutSize is the output size for an h×w input.
func (c *Conv2D) OutSize(h, w int) (int, int) {
	return (h+2*c.Pad-c.KH)/c.Stride + 1, (w+2*c.Pad-c.KW)/c.Stride + 1
}

// Forward sets dst (ho×wo×Out) to act(conv(x)) for x of h×w×In, and
// returns ho and wo. scratch, if large enough, holds the patches.
func (c *Conv2D) Forward(dst, x []float32, h, w int, act Act, scratch *[]float32) (ho, wo int) {
	return c.ForwardBatch(dst, x, 1, h, w, act, scratch)
}

// ForwardBatch is Forward on n images of h×w×In held one after the other
// in x; dst receives n images of ho×wo×Out. A batch makes the matrix
// products taller, which the deep layers' small images need to keep the
// kernels busy.
func (c *Conv2D) ForwardBatch(dst, x []float32, n, h, w int, act Act, scratch *[]float32) (ho, wo int) {
	ho, wo = c.OutSize(h, w)
	c.lin.Forward(dst, c.patches(x, n, h, w, scratch), n*ho*wo, act)
	return ho, wo
}

// ForwardAdd sets dst to act(dst + conv(x)), the residual connection of a
// ResNet block.
func (c *Conv2D) ForwardAdd(dst, x []float32, h, w int, act Act, scratch *[]float32) (ho, wo int) {
	return c.ForwardAddBatch(dst, x, 1, h, w, act, scratch)
}

// ForwardAddBatch is ForwardAdd on n images (see ForwardBatch).
func (c *Conv2D) ForwardAddBatch(dst, x []float32, n, h, w int, act Act, scratch *[]float32) (ho, wo int) {
	ho, wo = c.OutSize(h, w)
	c.lin.ForwardAddAct(dst, c.patches(x, n, h, w, scratch), n*ho*wo, act)
	return ho, wo
}

// patches lays out the receptive fields of n images as rows (im2col),
// zero where the padding is.
func (c *Conv2D) patches(x []float32, n, h, w int, scratch *[]float32) []float32 {
	if c.pointwiseDense {
		return x[:n*h*w*c.In]
	}
	ho, wo := c.OutSize(h, w)
	rowLen := c.KH * c.KW * c.In
	size := n * ho * wo * rowLen
	var cols []float32
	if scratch != nil && cap(*scratch) >= size {
		cols = (*scratch)[:size]
	} else {
		cols = make([]float32, size)
		if scratch != nil {
			*scratch = cols
		}
	}
	ParallelFor(n*ho, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			img, oy := r/ho, r%ho
			xi := x[img*h*w*c.In:][:h*w*c.In]
			for ox := range wo {
				row := cols[((img*ho+oy)*wo+ox)*rowLen:][:rowLen]
				ix0 := ox*c.Stride - c.Pad
				// Channels-last, a kernel row's pixels are adjacent in the
				// image: one copy moves the part inside it, and the padding
				// either side is zeros.
				kx0, kx1 := max(0, -ix0), min(c.KW, w-ix0)
				for ky := range c.KH {
					iy := oy*c.Stride - c.Pad + ky
					dst := row[ky*c.KW*c.In:][:c.KW*c.In]
					if iy < 0 || iy >= h || kx0 >= kx1 {
						clear(dst)
						continue
					}
					clear(dst[:kx0*c.In])
					copy(dst[kx0*c.In:kx1*c.In], xi[(iy*w+ix0+kx0)*c.In:])
					clear(dst[kx1*c.In:])
				}
			}
		}
	})
	return cols
}

// MaxPool2D sets dst (ho×wo×ch) to the maximum of each k×k window of x
// (h×w×ch), with the given stride and padding (padding never wins).
func MaxPool2D(dst, x []float32, h, w, ch, k, stride, pad int) (ho, wo int) {
	ho, wo = (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	ParallelFor(ho, 1, func(lo, hi int) {
		for oy := lo; oy < hi; oy++ {
			for ox := range wo {
				out := dst[(oy*wo+ox)*ch:][:ch]
				for i := range out {
					out[i] = float32(math.Inf(-1))
				}
				for ky := range k {
					iy := oy*stride - pad + ky
					if iy < 0 || iy >= h {
						continue
					}
					for kx := range k {
						ix := ox*stride - pad + kx
						if ix < 0 || ix >= w {
							continue
						}
						native.maxInto(out, x[(iy*w+ix)*ch:][:ch])
					}
				}
			}
		}
	})
	return ho, wo
}

// maxIntoGo sets y[i] to x[i] where x[i] is greater (a NaN in x is
// ignored, one in y kept).
func maxIntoGo(y, x []float32) {
	x = x[:len(y)]
	for i, v := range x {
		if v > y[i] {
			y[i] = v
		}
	}
}

// AvgPoolGlobal sets dst (ch values) to the mean over the h×w positions
// of x.
func AvgPoolGlobal(dst, x []float32, h, w, ch int) {
	sums := make([]float64, ch)
	for p := range h * w {
		for i, v := range x[p*ch : (p+1)*ch] {
			sums[i] += float64(v)
		}
	}
	for i := range dst[:ch] {
		dst[i] = float32(sums[i] / float64(h*w))
	}
}

// reluTile applies ReLU to rows×cols values of c, rows ldc apart.
func reluTile(c []float32, ldc, rows, cols int) {
	for r := range rows {
		relu(c[r*ldc : r*ldc+cols])
	}
}

// relu sets negative values to zero.
func relu(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}
