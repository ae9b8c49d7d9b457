package index

import "fmt"

// Recall is the fraction of the exact top-k rows (truth, best first) that
// got holds, over all queries.
func Recall(truth, got [][]Hit, k int) float64 {
	found, total := 0, 0
	for q := range truth {
		want := make(map[int]bool, k)
		for _, h := range truth[q][:min(k, len(truth[q]))] {
			want[h.Row] = true
		}
		total += len(want)
		if q < len(got) {
			for _, h := range got[q][:min(k, len(got[q]))] {
				if want[h.Row] {
					found++
				}
			}
		}
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

// Exact returns the exact top-k rows of base for each query, scoring base
// in blocks so that a large mapped matrix is never copied whole.
func Exact(base Matrix, queries [][]float32, k int) ([][]Hit, error) {
	const block = 1 << 16
	out := make([][]Hit, len(queries))
	for lo := 0; lo < base.Len(); lo += block {
		hi := min(base.Len(), lo+block)
		f := NewFlat(base.Dim)
		if err := f.AddRows(base.Data[lo*base.Dim : hi*base.Dim]); err != nil {
			return nil, err
		}
		hits, err := f.Search(queries, k, nil)
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
