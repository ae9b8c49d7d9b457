package index

import (
	"fmt"
	"slices"

	"github.com/xmodal/xmodal/nn"
)

// Vectors gives full-precision rows by number, for re-ranking.
type Vectors interface {
	Row(r int) []float32
}

// Matrix is Vectors over rows stored one after another, in memory or in a
// mapped file.
type Matrix struct {
	Data []float32
	Dim  int
}

// Row returns row r.
func (m Matrix) Row(r int) []float32 { return m.Data[r*m.Dim : (r+1)*m.Dim] }

// Len is the number of rows.
func (m Matrix) Len() int { return len(m.Data) / m.Dim }

// DefaultEffort is the candidate list size of a search when none is given.
const DefaultEffort = 64

// SearchOptions tune a graph search.
type SearchOptions struct {
	// Effort is the size of the candidate list the walk keeps (at least k;
	// default DefaultEffort). Recall and time grow with it.
	Effort int
	// Rerank, if not nil, holds the float32 vectors; the candidates found
	// with int8 codes are scored again with them, so results and scores
	// are those of exact search whenever the true neighbours were found.
	Rerank Vectors
}

// Search returns, for each query, the k best rows by descending score
// among those keep accepts (keep may be nil).
func (g *Graph) Search(queries [][]float32, k int, keep func(row int) bool, o SearchOptions) ([][]Hit, error) {
	for i, q := range queries {
		if len(q) != g.dim {
			return nil, fmt.Errorf("index: query %d has %d values, want %d", i, len(q), g.dim)
		}
	}
	out := make([][]Hit, len(queries))
	if k <= 0 {
		return out, nil
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.n == 0 {
		return out, nil
	}
	ef := max(k, o.Effort)
	if o.Effort <= 0 {
		ef = max(k, DefaultEffort)
	}
	w := g.newWalker(nil)
	for i, q := range queries {
		w.setQuery(q)
		w.walk(ef, keep, ^uint32(0))
		cands := w.best
		hits := make([]Hit, len(cands))
		for j, c := range cands {
			hits[j] = Hit{Row: int(c.row), Score: c.score}
			if o.Rerank != nil {
				hits[j].Score = nn.Dot(q, o.Rerank.Row(int(c.row)))
			}
		}
		sortHits(hits)
		out[i] = hits[:min(k, len(hits))]
	}
	return out, nil
}

// sortHits orders hits best first.
func sortHits(hits []Hit) {
	slices.SortFunc(hits, func(a, b Hit) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
}
