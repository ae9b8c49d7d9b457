package search

import (
	"context"

	"github.com/xmodal/xmodal/index"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/workspace"
)

// exactFraction is the share of a kind's rows below which a filtered
// search scores the selected rows one by one instead of walking the
// graph: a walk must pass through rows the filter rejects to reach the
// few it accepts, and scoring a few thousand rows directly is cheaper.
const exactFraction = 0.02

// searchFiltered searches only the rows the filter selects. keep (live,
// not excluded) still applies.
func (e *Engine) searchFiltered(ctx context.Context, s *snapshot, queries [][]float32, target workspace.Kind, k int, keep func(int) bool, filter workspace.Filter) ([][]index.Hit, error) {
	idx := s.indexes[target]
	selected, err := e.ws.FilterRows(ctx, target, filter)
	if err != nil {
		return nil, err
	}
	n := idx.Len()
	// Rows committed after this snapshot are not searched yet.
	for len(selected) > 0 && selected[len(selected)-1] >= n {
		selected = selected[:len(selected)-1]
	}
	if _, isGraph := idx.(*annIndex); isGraph && float64(len(selected)) >= exactFraction*float64(n) {
		in := make([]bool, n)
		for _, r := range selected {
			in[r] = true
		}
		return idx.Search(queries, k, func(r int) bool { return in[r] && keep(r) })
	}
	out := make([][]index.Hit, len(queries))
	scores := make([]float32, len(selected))
	for q, vec := range queries {
		for i, r := range selected {
			scores[i] = nn.Dot(vec, idx.Row(r))
		}
		hits := index.TopK(scores, k, func(i int) bool { return keep(selected[i]) })
		for i := range hits {
			hits[i].Row = selected[hits[i].Row]
		}
		out[q] = hits
	}
	return out, nil
}
