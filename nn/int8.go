package nn

import (
	"errors"
	"math"
	"unsafe"
)

// Int8 linear layers.
//
// A text query is a product of a few rows with large weights, so its speed
// is that of streaming the weights from memory: int8 weights are a quarter
// of float32 ones. Weights are quantised once, symmetrically per output
// channel (scale max|w|/127); activations are quantised at each call,
// symmetrically per row (per token), so that one large activation spoils
// only its own row. The products are exact in int32:
//
//	y[i][j] ≈ sx[i]·sw[j]·Σₖ qx[i][k]·qw[j][k]  (+ bias, activation, residual)
//
// VPDPBUSD and AMX's TDPBUSD multiply unsigned by signed bytes, so the
// kernels see the activations as qx+128 (an unsigned byte with zero point 128) and start
// each accumulator at −128·Σₖ qw[j][k], which cancels the zero point
// exactly: Σ (qx+128)·qw − 128·Σ qw = Σ qx·qw.
//
// Sums of up to maxInt8K products of 255·127 fit an int32, so K is never
// blocked and the epilogue sees whole sums.
//
// Accuracy: on OpenAI's ViT-B/32, every block's four products in int8 keep
// the embeddings at cosine ≥ 0.9993 of float32 (model/clip's
// TestPrecisionCheckpoint). Keeping one kind of product in bf16 instead
// (qkv, out, fc1 or fc2, in every block) gained at most 3e-4, fc2 no more
// than the others, so all four run in int8.

// maxInt8K is the largest In of an Int8 layer: 255·127·k must fit an int32.
const maxInt8K = 1 << 16

// i8Steps is the step granularity of int8 B panels: AMX tiles take 16 steps
// of 4 values at a time, and the VNNI kernel any number.
const i8Steps = 16

// ErrNoInt8 is returned by SetPrecision(Int8) on CPUs without 8-bit dot
// product instructions (AVX512_VNNI); the layer then keeps its precision.
var ErrNoInt8 = errors.New("nn: this CPU has no int8 dot-product instructions")

// i8Kernel is an int8 register-tile micro-kernel.
type i8Kernel struct {
	name   string
	mr, nr int
	// tile sets C[rows×cols] (row stride ldc) to the dequantised product
	// of ks steps of the A panel a (mr rows × 4 unsigned bytes a step) and
	// the B panel b (nr columns × 4 signed bytes a step):
	//
	//	c = float32(acc)·(ascale[i]·wscale[j]) + bias[j] (+ c if load)
	//
	// where acc starts at comp[j]. comp, wscale and bias (if not nil)
	// hold nr values, ascale rows values.
	tile func(ks int, a []uint8, b []int8, c []float32, ldc, rows, cols int, comp []int32, wscale, ascale, bias []float32, load bool)
}

// packedI8 is a k×n matrix B of int8 weights in panels of nr columns: for
// each step of 4 values of k, nr groups of 4 bytes (one per column), so a
// 16-column half of a step is one vector of VPDPBUSD's operand layout.
type packedI8 struct {
	ks, n, nr int // steps (k values / 4, padded to a multiple of i8Steps), columns, panel width
	data      []int8
	scale     []float32 // per column, zero beyond n
	comp      []int32   // −128·Σₖ qw[j][k] per column
}

func (p *packedI8) panels() int { return (p.n + p.nr - 1) / p.nr }

func (p *packedI8) panel(j int) []int8 {
	return p.data[j*p.ks*p.nr*4 : (j+1)*p.ks*p.nr*4]
}

// packWeightsI8 quantises w (n rows of k values, row j at w[j*ldw]) per
// row with quant (an engine's quantRowGo) and packs it into panels of nr
// columns. The row quantiser serves both operands: its unsigned bytes are
// the signed values plus 128.
func packWeightsI8(dst *packedI8, quant func([]uint8, []float32) float32, w []float32, ldw, n, k, nr int) {
	ks := ((k+3)/4 + i8Steps - 1) / i8Steps * i8Steps
	np := (n + nr - 1) / nr
	dst.ks, dst.n, dst.nr = ks, n, nr
	dst.data = make([]int8, np*ks*nr*4)
	dst.scale = make([]float32, np*nr)
	dst.comp = make([]int32, np*nr)
	q := make([]uint8, k)
	for col := 0; col < n; col++ {
		dst.scale[col] = quant(q, w[col*ldw:col*ldw+k])
		panel := dst.data[col/nr*ks*nr*4:]
		c := col % nr
		var sum int32
		for kk, u := range q {
			v := int8(u ^ 0x80) // u − 128
			panel[(kk/4*nr+c)*4+kk%4] = v
			sum += int32(v)
		}
		dst.comp[col] = -128 * sum
	}
}

// quantI8 rounds x·inv to the nearest integer (ties to even, as the vector
// conversion does) and clamps it to [−127, 127].
func quantI8(x, inv float32) int8 {
	q := math.RoundToEven(float64(x * inv))
	return int8(max(-127, min(127, q)))
}

// quantRowGo quantises x per row: it returns the scale max|x|/127 and
// writes round(x/scale)+128 to dst (len(x) bytes; all 128 if x is zero).
func quantRowGo(dst []uint8, x []float32) float32 {
	var mx float32
	for _, v := range x {
		mx = max(mx, float32(math.Abs(float64(v))))
	}
	if mx == 0 || mx != mx {
		for i := range dst[:len(x)] {
			dst[i] = 128
		}
		return 0
	}
	inv := 127 / mx
	for i, v := range x {
		dst[i] = uint8(int(quantI8(v, inv)) + 128)
	}
	return mx / 127
}

// packAI8 quantises rows [p0·mr, p1·mr) of A (m rows of k values, row i at
// a[i*lda]) and packs them into panels of mr rows × ks steps × 4 bytes,
// rows beyond m and values beyond k set to the zero point. row is scratch
// of ks·4 bytes. The row scales go to ascale[row].
func (e *engine) packAI8(dst, row []uint8, ascale []float32, a []float32, lda, m, k, ks, mr, p0, p1 int) {
	row = row[:ks*4]
	for p := p0; p < p1; p++ {
		panel := dst[p*ks*mr*4 : (p+1)*ks*mr*4]
		for i := 0; i < mr; i++ {
			r := p*mr + i
			if r >= m {
				for s := 0; s < ks; s++ {
					*(*[4]uint8)(panel[(s*mr+i)*4:]) = [4]uint8{128, 128, 128, 128}
				}
				ascale[r] = 0
				continue
			}
			ascale[r] = e.quant(row, a[r*lda:r*lda+k])
			for j := k; j < len(row); j++ {
				row[j] = 128
			}
			for s := 0; s < ks; s++ {
				*(*[4]uint8)(panel[(s*mr+i)*4:]) = *(*[4]uint8)(row[s*4:])
			}
		}
	}
}

// tileI8Go is the portable int8 kernel (4×16); it defines the arithmetic
// the vector kernels reproduce bit for bit.
func tileI8Go(ks int, a []uint8, b []int8, c []float32, ldc, rows, cols int, comp []int32, wscale, ascale, bias []float32, load bool) {
	const mr, nr = 4, 16
	a, b = a[:ks*mr*4], b[:ks*nr*4]
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			acc := comp[j]
			for s := 0; s < ks; s++ {
				av := a[(s*mr+i)*4:]
				bv := b[(s*nr+j)*4:]
				acc += int32(av[0])*int32(bv[0]) + int32(av[1])*int32(bv[1]) +
					int32(av[2])*int32(bv[2]) + int32(av[3])*int32(bv[3])
			}
			c[i*ldc+j] = dequant(acc, ascale[i], wscale[j], bias, j, load, c[i*ldc+j])
		}
	}
}

// dequant is the epilogue of the int8 kernels, in their order of
// operations (the explicit conversions keep Go from fusing a multiply-add,
// which the vector kernels do not do either).
func dequant(acc int32, as, ws float32, bias []float32, j int, load bool, c float32) float32 {
	s := float32(as * ws)
	v := float32(float32(acc) * s)
	if bias != nil {
		v = float32(v + bias[j])
	}
	if load {
		v = float32(v + c)
	}
	return v
}

var goI8Kernel = &i8Kernel{name: "go", mr: 4, nr: 16, tile: tileI8Go}

// gemmI8 is engine.gemm for Int8 layers: C = act(A·B + bias), or C += A·B +
// bias with accumulate, with B quantised in b and A quantised per row here.
func (e *engine) gemmI8(m, n, k int, a []float32, lda int, b *packedI8, bias, c []float32, ldc int, act Act, accumulate bool) {
	if m <= 0 || n <= 0 {
		return
	}
	kern := e.i8
	mr, nr, ks := kern.mr, kern.nr, b.ks
	if b.nr != nr || ks*4 < k {
		panic("nn: B packed for another kernel")
	}
	mp := (m + mr - 1) / mr

	// The quantised A (a quarter of the float32 one), its row scales and
	// a row of scratch per goroutine share one pooled float32 buffer.
	abytes := mp * mr * ks * 4
	buf := scratch.Get().(*[]float32)
	*buf = grow(*buf, (abytes+3)/4+mp*mr)
	defer scratch.Put(buf)
	pa := bytesOf((*buf)[:(abytes+3)/4])[:abytes]
	ascale := (*buf)[(abytes+3)/4:]

	ParallelFor(mp, max(1, 64*1024/(mr*k+1)), func(lo, hi int) {
		row := make([]uint8, ks*4)
		e.packAI8(pa, row, ascale, a, lda, m, k, ks, mr, lo, hi)
	})

	// For a fixed B panel the kernel sweeps the A panels of a block of
	// about 168 rows, which stays in L2 (168·k bytes); the cores split the
	// B panels.
	mcr := max(mr, 168/mr*mr)
	ParallelFor(b.panels(), max(1, (1<<20)/(2*m*ks*4*nr+1)), func(jlo, jhi int) {
		for i0 := 0; i0 < m; i0 += mcr {
			i1 := min(i0+mcr, m)
			for j := jlo; j < jhi; j++ {
				bp := b.panel(j)
				cols := min(nr, n-j*nr)
				var bias1 []float32
				if bias != nil {
					bias1 = bias[j*nr : j*nr+nr]
				}
				comp, ws := b.comp[j*nr:j*nr+nr], b.scale[j*nr:j*nr+nr]
				for i := i0; i < i1; i += mr {
					rows := min(mr, i1-i)
					ct := c[i*ldc+j*nr:]
					kern.tile(ks, pa[i/mr*ks*mr*4:], bp, ct, ldc, rows, cols, comp, ws, ascale[i:i+mr], bias1, accumulate)
					if act != Identity {
						e.actTile(ct, ldc, rows, cols, act)
					}
				}
			}
		}
	})
}

// bytesOf returns the memory of f as bytes.
func bytesOf(f []float32) []uint8 {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*uint8)(unsafe.Pointer(&f[0])), 4*len(f))
}
