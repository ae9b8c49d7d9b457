package nn

import "fmt"

// Act is an activation fused into a Linear layer's output.
type Act uint8

const (
	// Identity leaves the output as it is.
	Identity Act = iota
	// QuickGELU is x·σ(1.702x), the activation of OpenAI's CLIP models.
	QuickGELU
	// GELU is the exact 0.5·x·(1+erf(x/√2)), the activation of OpenCLIP models.
	GELU
	// ReLU is max(x, 0), the activation of CNNs.
	ReLU
)

// ParseAct maps a Hugging Face hidden_act name to an Act.
func ParseAct(name string) (Act, error) {
	switch name {
	case "quick_gelu":
		return QuickGELU, nil
	case "gelu":
		return GELU, nil
	}
	return Identity, fmt.Errorf("unsupported activation %q (want quick_gelu or gelu)", name)
}

// String returns the Hugging Face name of the activation.
func (a Act) String() string {
	switch a {
	case QuickGELU:
		return "quick_gelu"
	case GELU:
		return "gelu"
	case ReLU:
		return "relu"
	}
	return "identity"
}

// Linear is PyTorch's nn.Linear: y = x·Wᵀ + b, with W stored as Out rows of
// In values.
type Linear struct {
	In, Out int
	W       []float32 // Out×In, row-major; never written (it may be mapped read-only)
	B       []float32 // Out values, or nil for no bias

	e    *engine
	pw   packedB   // W packed for e's float32 micro-kernel
	pb   packedB   // W packed as bf16 pairs, once SetPrecision(BF16) asks for it
	pq   packedI8  // W quantised to int8, once SetPrecision(Int8) asks for it
	prec Precision // the packing Forward uses
	bias []float32 // B padded with zeros to whole panels, or nil
}

// NewLinear returns a layer over w (out×in, row-major) and b (out values or
// nil). The slices are kept and never written; the layer also holds a copy of
// w packed for the CPU's matrix kernel (the same size as w).
func NewLinear(w, b []float32, out, in int) *Linear {
	return newLinear(native, w, b, out, in)
}

func newLinear(e *engine, w, b []float32, out, in int) *Linear {
	if out < 0 || in < 0 || len(w) != out*in {
		panic(fmt.Sprintf("nn: weight has %d values, want %d×%d", len(w), out, in))
	}
	if b != nil && len(b) != out {
		panic(fmt.Sprintf("nn: bias has %d values, want %d", len(b), out))
	}
	l := &Linear{In: in, Out: out, W: w, B: b, e: e}
	nr := e.kern.nr
	e.kern.packWeights(&l.pw, w, in, out, in)
	if b != nil {
		l.bias = make([]float32, l.pw.panels()*nr)
		copy(l.bias, b)
	}
	return l
}

// Forward sets dst[rows×Out] = act(x[rows×In]·Wᵀ + b). dst and x must not
// overlap. Forward and ForwardAdd may run concurrently on one layer; each
// spreads its work over GOMAXPROCS goroutines.
func (l *Linear) Forward(dst, x []float32, rows int, act Act) {
	l.forward(dst, x, rows, act, false)
}

// ForwardAdd adds x·Wᵀ + b to dst, the residual connection of a
// transformer block.
func (l *Linear) ForwardAdd(dst, x []float32, rows int) {
	l.forward(dst, x, rows, Identity, true)
}

// ForwardAddAct sets dst = act(dst + x·Wᵀ + b), the residual connection of
// a ResNet block.
func (l *Linear) ForwardAddAct(dst, x []float32, rows int, act Act) {
	l.forward(dst, x, rows, act, true)
}

func (l *Linear) forward(dst, x []float32, rows int, act Act, accumulate bool) {
	if rows <= 0 || l.Out == 0 {
		return
	}
	if l.In > 0 {
		_ = x[rows*l.In-1]
	}
	_ = dst[rows*l.Out-1]
	kern, pw := l.e.kern, &l.pw
	switch l.prec {
	case Int8:
		if l.e.amxI8 != nil && l.In > 0 {
			l.e.amxI8(l.e, rows, l.Out, l.In, x, l.In, &l.pq, l.bias, dst, l.Out, act, accumulate)
			return
		}
		l.e.gemmI8(rows, l.Out, l.In, x, l.In, &l.pq, l.bias, dst, l.Out, act, accumulate)
		return
	case BF16:
		if l.e.amx != nil && l.In > 0 {
			l.e.amx(l.e, rows, l.Out, l.In, x, l.In, &l.pb, l.bias, dst, l.Out, act, accumulate)
			return
		}
		kern, pw = l.e.bf16, &l.pb
	}
	l.e.gemm(kern, rows, l.Out, l.In, x, l.In, pw, l.bias, dst, l.Out, act, accumulate, true)
}

// Dot returns the dot product of a and b[:len(a)].
func Dot(a, b []float32) float32 {
	return native.dot(a, b[:len(a)])
}

func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
