package nn

import (
	"fmt"
	"math"
)

// GRU is a one-layer gated recurrent unit as PyTorch's nn.GRU computes it:
// with the stacked weights in gate order r, z, n,
//
//	r = σ(W_ir x + b_ir + W_hr h + b_hr)
//	z = σ(W_iz x + b_iz + W_hz h + b_hz)
//	n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//	h' = (1 − z) ⊙ n + z ⊙ h
//
// The input projections of a whole sequence are one matrix product; the
// recurrent one runs once per step.
type GRU struct {
	Input, Hidden int
	ih, hh        *Linear
}

// NewGRU makes a GRU from PyTorch's weight_ih_l0 (3H×I), weight_hh_l0
// (3H×H), bias_ih_l0 and bias_hh_l0 (3H each). The slices are kept and
// never written.
func NewGRU(wih, whh, bih, bhh []float32, input, hidden int) (*GRU, error) {
	switch {
	case len(wih) != 3*hidden*input, len(whh) != 3*hidden*hidden:
		return nil, fmt.Errorf("nn: GRU weights of %d and %d values, want 3×%d×%d and 3×%d×%d", len(wih), len(whh), hidden, input, hidden, hidden)
	case len(bih) != 3*hidden, len(bhh) != 3*hidden:
		return nil, fmt.Errorf("nn: GRU biases of %d and %d values, want %d", len(bih), len(bhh), 3*hidden)
	}
	return &GRU{Input: input, Hidden: hidden, ih: NewLinear(wih, bih, 3*hidden, input), hh: NewLinear(whh, bhh, 3*hidden, hidden)}, nil
}

// Last runs the GRU over a sequence of steps×Input values from a zero
// state and returns the final hidden state (Hidden values), which for a
// one-layer GRU is also the last output.
func (g *GRU) Last(seq []float32, steps int) []float32 {
	H := g.Hidden
	h := make([]float32, H)
	if steps == 0 {
		return h
	}
	gi := make([]float32, steps*3*H)
	g.ih.Forward(gi, seq, steps, Identity)
	gh := make([]float32, 3*H)
	for t := range steps {
		g.hh.Forward(gh, h, 1, Identity)
		x := gi[t*3*H : (t+1)*3*H]
		for j := range H {
			r := sigmoid(x[j] + gh[j])
			z := sigmoid(x[H+j] + gh[H+j])
			n := float32(math.Tanh(float64(x[2*H+j] + r*gh[2*H+j])))
			h[j] = (1-z)*n + z*h[j]
		}
	}
	return h
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }
