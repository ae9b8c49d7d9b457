package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gruRef is the GRU in float64, written from PyTorch's equations.
func gruRef(wih, whh, bih, bhh, seq []float32, input, hidden, steps int) []float64 {
	h := make([]float64, hidden)
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	for t := range steps {
		x := seq[t*input : (t+1)*input]
		gi := make([]float64, 3*hidden)
		gh := make([]float64, 3*hidden)
		for o := range 3 * hidden {
			gi[o], gh[o] = float64(bih[o]), float64(bhh[o])
			for i := range input {
				gi[o] += float64(wih[o*input+i]) * float64(x[i])
			}
			for i := range hidden {
				gh[o] += float64(whh[o*hidden+i]) * h[i]
			}
		}
		next := make([]float64, hidden)
		for j := range hidden {
			r := sig(gi[j] + gh[j])
			z := sig(gi[hidden+j] + gh[hidden+j])
			n := math.Tanh(gi[2*hidden+j] + r*gh[2*hidden+j])
			next[j] = (1-z)*n + z*h[j]
		}
		h = next
	}
	return h
}

func TestGRU(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.3)
		}
		return v
	}
	for _, c := range []struct{ input, hidden, steps int }{{16, 32, 12}, {3, 5, 1}, {7, 33, 20}, {300, 64, 3}, {4, 4, 0}} {
		wih, whh := randn(3*c.hidden*c.input), randn(3*c.hidden*c.hidden)
		bih, bhh := randn(3*c.hidden), randn(3*c.hidden)
		seq := randn(c.steps * c.input)
		g, err := NewGRU(wih, whh, bih, bhh, c.input, c.hidden)
		if err != nil {
			t.Fatal(err)
		}
		got := g.Last(seq, c.steps)
		want := gruRef(wih, whh, bih, bhh, seq, c.input, c.hidden, c.steps)
		for j := range want {
			if d := math.Abs(float64(got[j]) - want[j]); d > 2e-6 {
				t.Fatalf("%+v: h[%d] = %v, want %v", c, j, got[j], want[j])
			}
		}
	}
	if _, err := NewGRU(make([]float32, 5), nil, nil, nil, 2, 3); err == nil {
		t.Error("mismatched weights accepted")
	}
}

// A batch of sequences of different lengths gives what each gives alone.
func TestGRULastBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	randn := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.3)
		}
		return v
	}
	input, hidden := 9, 21
	g, err := NewGRU(randn(3*hidden*input), randn(3*hidden*hidden), randn(3*hidden), randn(3*hidden), input, hidden)
	if err != nil {
		t.Fatal(err)
	}
	var seqs [][]float32
	for _, steps := range []int{3, 12, 1, 7, 12, 0, 5} {
		seqs = append(seqs, randn(steps*input))
	}
	got, err := g.LastBatch(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		want := g.Last(s, len(s)/input)
		for j := range want {
			if d := math.Abs(float64(got[i][j] - want[j])); d > 1e-6 {
				t.Fatalf("sequence %d: h[%d] = %v alone, %v in the batch", i, j, want[j], got[i][j])
			}
		}
	}
	if _, err := g.LastBatch([][]float32{make([]float32, input+1)}); err == nil {
		t.Error("a ragged sequence accepted")
	}
}
