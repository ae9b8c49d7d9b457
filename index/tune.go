package index

import "fmt"

// tieEpsilon is how far below the k-th exact score a returned score may
// be and still count as a true neighbour: float32 dot products of the
// same vectors differ by about 1e-7 between kernels.
const tieEpsilon = 1e-5

// Recall is the fraction of the exact top-k (truth, best first) that got
// found, over all queries. As in ann-benchmarks, a returned row counts if
// it is one of the exact k or scores as high as the k-th of them: among
// duplicate vectors, which of the equals comes back does not matter. The
// scores in got must be exact (re-ranked).
func Recall(truth, got [][]Hit, k int) float64 {
	found, total := 0, 0
	for q := range truth {
		want := truth[q][:min(k, len(truth[q]))]
		total += len(want)
		if q >= len(got) || len(want) == 0 {
			continue
		}
		in := make(map[int]bool, len(want))
		for _, h := range want {
			in[h.Row] = true
		}
		floor := want[len(want)-1].Score - tieEpsilon
		n := 0
		for _, h := range got[q][:min(k, len(got[q]))] {
			if in[h.Row] || h.Score >= floor {
				n++
			}
		}
		found += min(n, len(want))
	}
	if total == 0 {
		return 1
	}
	return float64(found) / float64(total)
}

// maxEffort bounds TuneEffort's search.
const maxEffort = 8192

// TuneEffort finds the smallest search effort at which the graph's
// recall@k on queries reaches target against truth, their exact
// neighbours. It doubles the effort from k until the target is met, then
// bisects down to within about 5 %. If even maxEffort falls short it
// returns that with the recall it reached.
func (g *Graph) TuneEffort(queries [][]float32, truth [][]Hit, k int, target float64, o SearchOptions) (effort int, recall float64, err error) {
	if len(queries) != len(truth) {
		return 0, 0, fmt.Errorf("index: %d queries but %d truth lists", len(queries), len(truth))
	}
	try := func(ef int) (float64, error) {
		o.Effort = ef
		got, err := g.Search(queries, k, nil, o)
		if err != nil {
			return 0, err
		}
		return Recall(truth, got, k), nil
	}
	lo, hi := 0, max(k, 1) // lo fails (0: none tried), hi is to be tried
	var hiRecall float64
	for {
		r, err := try(hi)
		if err != nil {
			return 0, 0, err
		}
		if r >= target || hi >= maxEffort {
			hiRecall = r
			break
		}
		lo, hi = hi, min(2*hi, maxEffort)
	}
	if hiRecall < target {
		return hi, hiRecall, nil
	}
	for lo > 0 && hi-lo > max(1, hi/20) {
		mid := (lo + hi) / 2
		r, err := try(mid)
		if err != nil {
			return 0, 0, err
		}
		if r >= target {
			hi, hiRecall = mid, r
		} else {
			lo = mid
		}
	}
	return hi, hiRecall, nil
}

// Exact returns the exact top-k rows of base for each query among those
// keep accepts (keep may be nil), scoring base in blocks so that a large
// mapped matrix is never copied whole.
func Exact(base Matrix, queries [][]float32, k int, keep func(row int) bool) ([][]Hit, error) {
	const block = 1 << 16
	out := make([][]Hit, len(queries))
	for lo := 0; lo < base.Len(); lo += block {
		hi := min(base.Len(), lo+block)
		f := NewFlat(base.Dim)
		if err := f.AddRows(base.Data[lo*base.Dim : hi*base.Dim]); err != nil {
			return nil, err
		}
		var blockKeep func(int) bool
		if keep != nil {
			blockKeep = func(r int) bool { return keep(lo + r) }
		}
		hits, err := f.Search(queries, k, blockKeep)
		if err != nil {
			return nil, err
		}
		for q, hs := range hits {
			for _, h := range hs {
				out[q] = append(out[q], Hit{Row: lo + h.Row, Score: h.Score})
			}
			sortHits(out[q])
			out[q] = out[q][:min(k, len(out[q]))]
		}
	}
	return out, nil
}
