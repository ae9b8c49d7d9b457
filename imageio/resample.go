package imageio

import "math"

// This file ports Pillow's Resample.c (Pillow 9.x) for 8-bit images: the
// filters, the coefficient tables and the two separable passes. Every step
// that rounds in Pillow rounds here in the same way, so the results are
// bit-identical; the float64(...) conversions stop Go from fusing
// multiply-adds (it does on arm64), which C compiled for x86-64 does not do.

// precisionBits is the fixed-point precision of Pillow's 8-bit filter taps.
const precisionBits = 22

// filter is one of Pillow's resampling kernels and its support at scale 1.
type filter struct {
	support float64
	kernel  func(float64) float64
}

// filterFor returns Pillow's filter for a resample code other than Nearest.
func filterFor(code int) (filter, bool) {
	switch code {
	case Box:
		return filter{0.5, boxKernel}, true
	case Bilinear:
		return filter{1, bilinearKernel}, true
	case Hamming:
		return filter{1, hammingKernel}, true
	case Bicubic:
		return filter{2, bicubicKernel}, true
	case Lanczos:
		return filter{3, lanczosKernel}, true
	}
	return filter{}, false
}

func boxKernel(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1
	}
	return 0
}

func bilinearKernel(x float64) float64 {
	x = math.Abs(x)
	if x < 1 {
		return 1 - x
	}
	return 0
}

func hammingKernel(x float64) float64 {
	x = math.Abs(x)
	if x == 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	x = x * math.Pi
	return float64(math.Sin(x)/x) * float64(0.54+float64(0.46*math.Cos(x)))
}

// bicubicKernel is Pillow's cubic convolution with a = -0.5.
func bicubicKernel(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	if x < 1 {
		return float64(float64(float64(float64((a+2)*x)-(a+3))*x)*x) + 1
	}
	if x < 2 {
		return float64(float64(float64(float64((x-5)*x)+8)*x)-4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x = x * math.Pi
	return math.Sin(x) / x
}

func lanczosKernel(x float64) float64 {
	if -3 <= x && x < 3 {
		return sinc(x) * sinc(x/3)
	}
	return 0
}

// coeffs holds the fixed-point taps of one pass for a window of consecutive
// outputs (only the outputs that survive the centre crop are computed).
type coeffs struct {
	ksize int     // taps reserved per output
	min   []int   // first input sample of each output
	n     []int   // number of taps of each output
	k     []int32 // ksize taps per output, 22-bit fixed point
}

// newCoeffs computes the taps for outputs [first, first+count) of a pass that
// resizes inSize samples to outSize, exactly as Pillow's precompute_coeffs
// and normalize_coeffs_8bpc do.
func newCoeffs(inSize, outSize int, f filter, first, count int) *coeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := math.Max(scale, 1)
	support := f.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	ss := 1 / filterscale
	c := &coeffs{
		ksize: ksize,
		min:   make([]int, count),
		n:     make([]int, count),
		k:     make([]int32, count*ksize),
	}
	w := make([]float64, ksize)
	for o := range count {
		center := (float64(first+o) + 0.5) * scale
		// int() truncates towards zero like C's (int) cast, which is what
		// makes these "round" in Pillow.
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize)
		n := xmax - xmin
		ww := 0.0
		for x := range n {
			w[x] = f.kernel(float64(float64(float64(x+xmin)-center)+0.5) * ss)
			ww += w[x]
		}
		k := c.k[o*ksize : o*ksize+n]
		for x := range n {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			// Round half away from zero, truncating like C's (int).
			if v < 0 {
				k[x] = int32(-0.5 + float64(v*(1<<precisionBits)))
			} else {
				k[x] = int32(0.5 + float64(v*(1<<precisionBits)))
			}
		}
		c.min[o], c.n[o] = xmin, n
	}
	return c
}

// span returns the range of input samples the window reads.
func (c *coeffs) span() (lo, hi int) {
	lo, hi = c.min[0], c.min[0]+c.n[0]
	for o := range c.min {
		lo = min(lo, c.min[o])
		hi = max(hi, c.min[o]+c.n[o])
	}
	return lo, hi
}

// clip8 turns an accumulator (which starts at 1<<(precisionBits-1), the
// rounding half) into a byte, as Pillow's clip8.
func clip8(acc int32) uint8 {
	v := acc >> precisionBits
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// filterRow runs the horizontal pass on one row: src holds whole input pixels
// of ch channels starting at input sample base, dst receives len(c.n) pixels.
// Accumulating in int32 is what Pillow does; the taps sum to about 2^22 and
// pixels are at most 255, so it cannot overflow.
func (c *coeffs) filterRow(dst, src []uint8, base, ch int) {
	const half = 1 << (precisionBits - 1)
	switch ch {
	case 1:
		for o, x0 := range c.min {
			k := c.k[o*c.ksize : o*c.ksize+c.n[o]]
			s := src[x0-base : x0-base+len(k)]
			acc := int32(half)
			for j, w := range k {
				acc += int32(s[j]) * w
			}
			dst[o] = clip8(acc)
		}
	case 3:
		for o, x0 := range c.min {
			k := c.k[o*c.ksize : o*c.ksize+c.n[o]]
			s := src[(x0-base)*3 : (x0-base+len(k))*3]
			a0, a1, a2 := int32(half), int32(half), int32(half)
			for _, w := range k {
				a0 += int32(s[0]) * w
				a1 += int32(s[1]) * w
				a2 += int32(s[2]) * w
				s = s[3:]
			}
			d := dst[o*3 : o*3+3 : o*3+3]
			d[0], d[1], d[2] = clip8(a0), clip8(a1), clip8(a2)
		}
	case 4:
		for o, x0 := range c.min {
			k := c.k[o*c.ksize : o*c.ksize+c.n[o]]
			s := src[(x0-base)*4 : (x0-base+len(k))*4]
			a0, a1, a2, a3 := int32(half), int32(half), int32(half), int32(half)
			for j, w := range k {
				p := s[j*4 : j*4+4 : j*4+4]
				a0 += int32(p[0]) * w
				a1 += int32(p[1]) * w
				a2 += int32(p[2]) * w
				a3 += int32(p[3]) * w
			}
			d := dst[o*4 : o*4+4 : o*4+4]
			d[0], d[1], d[2], d[3] = clip8(a0), clip8(a1), clip8(a2), clip8(a3)
		}
	default:
		for o, x0 := range c.min {
			k := c.k[o*c.ksize : o*c.ksize+c.n[o]]
			for b := range ch {
				acc := int32(half)
				for j, w := range k {
					acc += int32(src[(x0-base+j)*ch+b]) * w
				}
				dst[o*ch+b] = clip8(acc)
			}
		}
	}
}

// filterRows runs the vertical pass: src holds rows of rowBytes bytes starting
// at input row base, dst receives len(c.n) rows. Every byte of a row is
// filtered the same way whatever the channel, so rows are processed as flat
// byte arrays, tap by tap, which keeps the inner loop simple and cache
// friendly.
func (c *coeffs) filterRows(dst, src []uint8, rowBytes, base int) {
	const half = 1 << (precisionBits - 1)
	acc := make([]int32, rowBytes)
	for o, y0 := range c.min {
		for i := range acc {
			acc[i] = half
		}
		k := c.k[o*c.ksize : o*c.ksize+c.n[o]]
		for j, w := range k {
			row := src[(y0-base+j)*rowBytes : (y0-base+j+1)*rowBytes]
			row = row[:len(acc)]
			for i, v := range row {
				acc[i] += int32(v) * w
			}
		}
		d := dst[o*rowBytes : (o+1)*rowBytes]
		for i, a := range acc {
			d[i] = clip8(a)
		}
	}
}

// nearestIndex returns, for outputs [first, first+count) of a NEAREST resize
// from in to out samples, the input sample each one copies. Pillow walks the
// source position in float64 from step/2, adding step for each output, and
// truncates; the sum is accumulated the same way here so that the rounding
// of the running position is identical.
func nearestIndex(in, out, first, count int) []int {
	step := float64(in) / float64(out)
	pos := step * 0.5
	idx := make([]int, count)
	for i := 0; i < first+count; i++ {
		if i >= first {
			idx[i-first] = min(int(pos), in-1)
		}
		pos += step
	}
	return idx
}

// muldiv255 is Pillow's MULDIV255: a*b/255 rounded, in integers.
func muldiv255(a, b uint32) uint32 {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

// premultiply copies src (pixels of ch channels, alpha last) into dst with
// the colour channels multiplied by alpha, as Pillow's RGBA->RGBa and
// LA->La conversions.
func premultiply(dst, src []uint8, ch int) {
	for i := 0; i+ch <= len(src); i += ch {
		a := uint32(src[i+ch-1])
		for b := 0; b < ch-1; b++ {
			dst[i+b] = uint8(muldiv255(uint32(src[i+b]), a))
		}
		dst[i+ch-1] = src[i+ch-1]
	}
}

// unpremultiply undoes premultiply in place with Pillow's RGBa->RGBA
// formula: 255*c/a truncated and clipped, colours kept where a is 0 or 255.
func unpremultiply(pix []uint8, ch int) {
	for i := 0; i+ch <= len(pix); i += ch {
		a := uint32(pix[i+ch-1])
		if a == 0 || a == 255 {
			continue
		}
		for b := 0; b < ch-1; b++ {
			pix[i+b] = uint8(min(255*uint32(pix[i+b])/a, 255))
		}
	}
}
