package nn

import (
	"errors"
	"math"
)

// Precision is the arithmetic a Linear layer computes in.
type Precision uint8

const (
	// F32 multiplies in float32: the reference precision.
	F32 Precision = iota
	// BF16 rounds weights and activations to bfloat16 (8 bits of
	// mantissa) and accumulates products in float32: about twice the speed
	// of F32 on CPUs with AVX512_BF16, at a relative error near 1e-2 per
	// product. Biases, activations and residual additions stay float32.
	BF16
	// Int8 quantises weights to int8 per output channel, once, and
	// activations per row at each call, and sums products exactly in
	// int32 (see int8.go): a quarter of the weight memory of F32, for
	// products bound by memory bandwidth such as a text query, on CPUs
	// with AVX512_VNNI (and AMX-INT8 tiles where Linux grants them), at a
	// relative error near 5e-3 per product. Biases, activations and
	// residual additions stay float32.
	Int8
)

// String returns "f32", "bf16" or "int8".
func (p Precision) String() string {
	switch p {
	case BF16:
		return "bf16"
	case Int8:
		return "int8"
	}
	return "f32"
}

// ParsePrecision maps "f32" (or "fp32"), "bf16" and "int8" to a Precision.
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "f32", "fp32", "float32":
		return F32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	case "int8", "i8":
		return Int8, nil
	}
	return F32, errors.New("nn: unknown precision " + s + " (want f32, bf16 or int8)")
}

// ErrNoBF16 is returned by SetPrecision(BF16) on CPUs without bfloat16
// instructions; the layer then stays in F32.
var ErrNoBF16 = errors.New("nn: this CPU has no bfloat16 matrix instructions")

// SetPrecision switches the layer to p, repacking the weights once from W:
// the packed copies of the other precisions are released, so a model in
// BF16 holds W (typically memory-mapped) and a bf16 copy of half its size,
// and one in Int8 a copy of a quarter. Activations are converted on each
// call; biases, the activation and the residual addition stay float32. On
// a CPU without bfloat16 support, SetPrecision(BF16) returns ErrNoBF16, and
// without int8 support SetPrecision(Int8) returns ErrNoInt8; the layer then
// keeps its precision. SetPrecision must not run concurrently with Forward.
func (l *Linear) SetPrecision(p Precision) error {
	switch p {
	case F32:
		if l.pw.data == nil {
			l.e.kern.packWeights(&l.pw, l.W, l.In, l.Out, l.In)
		}
		l.prec, l.pb, l.pq = F32, packedB{}, packedI8{}
		return nil
	case Int8:
		if l.e.i8 == nil {
			return ErrNoInt8
		}
		if l.In > maxInt8K {
			return errors.New("nn: layer too wide for int8")
		}
		if l.pq.data == nil {
			packWeightsI8(&l.pq, l.e.quant, l.W, l.In, l.Out, l.In, l.e.i8.nr)
		}
		if n := l.pq.panels() * l.pq.nr; l.B != nil && len(l.bias) < n {
			// The int8 kernel's panels are wider than the float32 one's.
			l.bias = make([]float32, n)
			copy(l.bias, l.B)
		}
		l.prec, l.pw, l.pb = Int8, packedB{}, packedB{}
		return nil
	case BF16:
		if l.e.bf16 == nil {
			return ErrNoBF16
		}
		if l.pb.data == nil {
			steps := 1
			if l.e.amx != nil {
				steps = amxSteps
			}
			packWeightsBF16(&l.pb, l.W, l.In, l.Out, l.In, l.e.bf16.nr, steps)
		}
		l.prec, l.pw, l.pq = BF16, packedB{}, packedI8{}
		return nil
	}
	return errors.New("nn: unknown precision")
}

// Precision returns the precision the layer computes in.
func (l *Linear) Precision() Precision { return l.prec }

// AMX tiles work on 16 pairs of k (32 values) at a time, so the B panels of
// the AMX path are padded to a multiple of 16 steps.
const amxSteps = 16

// bf16 rounds x to bfloat16, to nearest even, and returns its bits.
func bf16(x float32) uint32 {
	b := math.Float32bits(x)
	if b&0x7fffffff > 0x7f800000 {
		return (b >> 16) | 0x40 // NaN stays a quiet NaN
	}
	return (b + 0x7fff + (b>>16)&1) >> 16
}

// bf16Pair packs two values into the 32-bit layout of VDPBF16PS: x0 (the
// even k) in the low half.
func bf16Pair(x0, x1 float32) float32 {
	return math.Float32frombits(bf16(x0) | bf16(x1)<<16)
}

// packWeightsBF16 is packWeights for bf16 kernels: panels of ⌈k/2⌉ steps
// (rounded up to a multiple of steps), each step nr pairs (W[col][2s],
// W[col][2s+1]), zero-padded.
func packWeightsBF16(dst *packedB, w []float32, ldw, n, k, nr, steps int) {
	ks := ((k+1)/2 + steps - 1) / steps * steps
	np := (n + nr - 1) / nr
	dst.k, dst.n, dst.nr = ks, n, nr
	dst.data = make([]float32, np*ks*nr)
	for j := 0; j < np; j++ {
		panel := dst.data[j*ks*nr : (j+1)*ks*nr]
		for c := 0; c < nr; c++ {
			col := j*nr + c
			if col >= n {
				continue // already zero
			}
			row := w[col*ldw : col*ldw+k]
			for s := 0; 2*s < k; s++ {
				var x1 float32
				if 2*s+1 < k {
					x1 = row[2*s+1]
				}
				panel[s*nr+c] = bf16Pair(row[2*s], x1)
			}
		}
	}
}
