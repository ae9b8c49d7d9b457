package nn

import (
	"fmt"
	"math"
	"slices"
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

// LastBatch runs the GRU over several sequences (each steps×Input values,
// steps = len/Input) and returns each one's final hidden state. The input
// projections of all tokens are one matrix product, and each step's
// recurrent product covers every sequence still running, longest first,
// so that a batch of captions costs a few tall products instead of one
// thin one per token.
func (g *GRU) LastBatch(seqs [][]float32) ([][]float32, error) {
	H, I := g.Hidden, g.Input
	n := len(seqs)
	out := make([][]float32, n)
	if n == 0 {
		return out, nil
	}
	lens := make([]int, n)
	order := make([]int, n) // sequence indices, longest first
	total := 0
	for i, s := range seqs {
		if len(s)%I != 0 {
			return nil, fmt.Errorf("nn: sequence %d has %d values, not a multiple of %d", i, len(s), I)
		}
		lens[i], order[i] = len(s)/I, i
		total += lens[i]
	}
	slices.SortStableFunc(order, func(a, b int) int { return lens[b] - lens[a] })
	x := make([]float32, 0, total*I)
	start := make([]int, n) // first token of each sorted sequence in x
	for r, i := range order {
		start[r] = len(x) / I
		x = append(x, seqs[i]...)
	}
	gi := make([]float32, total*3*H)
	g.ih.Forward(gi, x, total, Identity)
	h := make([]float32, n*H)
	gh := make([]float32, n*3*H)
	for t := 0; t < lens[order[0]]; t++ {
		active := 0
		for active < n && lens[order[active]] > t {
			active++
		}
		g.hh.Forward(gh[:active*3*H], h[:active*H], active, Identity)
		for r := range active {
			xi := gi[(start[r]+t)*3*H:][:3*H]
			gr := gh[r*3*H:][:3*H]
			hr := h[r*H:][:H]
			for j := range H {
				rg := sigmoid(xi[j] + gr[j])
				z := sigmoid(xi[H+j] + gr[H+j])
				nv := float32(math.Tanh(float64(xi[2*H+j] + rg*gr[2*H+j])))
				hr[j] = (1-z)*nv + z*hr[j]
			}
		}
	}
	for r, i := range order {
		out[i] = append([]float32(nil), h[r*H:(r+1)*H]...)
	}
	return out, nil
}
