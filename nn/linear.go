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

func (a Act) String() string {
	switch a {
	case QuickGELU:
		return "quick_gelu"
	case GELU:
		return "gelu"
	}
	return "identity"
}

// Linear is PyTorch's nn.Linear: y = x·Wᵀ + b, with W stored as Out rows of
// In values.
type Linear struct {
	In, Out int
	W       []float32 // Out×In, row-major
	B       []float32 // Out values, or nil for no bias
}

// NewLinear returns a layer over w (out×in, row-major) and b (out values or
// nil). The slices are used as they are, not copied.
func NewLinear(w, b []float32, out, in int) *Linear {
	if len(w) != out*in {
		panic(fmt.Sprintf("nn: weight has %d values, want %d×%d", len(w), out, in))
	}
	if b != nil && len(b) != out {
		panic(fmt.Sprintf("nn: bias has %d values, want %d", len(b), out))
	}
	return &Linear{In: in, Out: out, W: w, B: b}
}

// Forward sets dst[rows×Out] = act(x[rows×In]·Wᵀ + b).
func (l *Linear) Forward(dst, x []float32, rows int, act Act) {
	l.forward(dst, x, rows, act, false)
}

// ForwardAdd adds x·Wᵀ + b to dst, the residual connection of a
// transformer block.
func (l *Linear) ForwardAdd(dst, x []float32, rows int) {
	l.forward(dst, x, rows, Identity, true)
}

func (l *Linear) forward(dst, x []float32, rows int, act Act, accumulate bool) {
	if rows == 0 {
		return
	}
	in, out := l.In, l.Out
	_ = x[rows*in-1]
	_ = dst[rows*out-1]
	// Split the work by blocks of output columns so that each goroutine
	// streams its own slice of W once per row block.
	const rowBlock = 8
	ParallelFor(out, 16, func(lo, hi int) {
		for r0 := 0; r0 < rows; r0 += rowBlock {
			r1 := min(r0+rowBlock, rows)
			for j := lo; j < hi; j++ {
				w := l.W[j*in : (j+1)*in]
				var b float32
				if l.B != nil {
					b = l.B[j]
				}
				for r := r0; r < r1; r++ {
					v := Dot(x[r*in:(r+1)*in], w) + b
					if accumulate {
						dst[r*out+j] += v
					} else {
						dst[r*out+j] = v
					}
				}
			}
		}
	})
	if act != Identity {
		ParallelFor(rows, 4, func(lo, hi int) { Activate(dst[lo*out:hi*out], act) })
	}
}

// Dot returns the dot product of a and b[:len(a)].
func Dot(a, b []float32) float32 {
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
