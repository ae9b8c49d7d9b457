// Package index holds vector indexes: sets of embeddings that answer
// nearest-neighbour queries by inner product (cosine similarity for unit
// vectors).
package index

import (
	"container/heap"
	"fmt"
	"sync"

	"github.com/xmodal/xmodal/nn"
)

// Hit is one result: the row of the matching vector and its score.
type Hit struct {
	Row   int
	Score float32
}

// Flat is an exact index: it scores every vector, as one matrix product for
// a batch of queries. For the collections xmodal targets (up to a few
// hundred thousand vectors) this is fast and never misses a neighbour.
// It is safe for concurrent use.
type Flat struct {
	dim int

	mu   sync.RWMutex
	rows []float32  // n×dim
	lin  *nn.Linear // rows as a layer, built on first search after a change (under mu)
}

// NewFlat returns an empty index of dim-dimensional vectors.
func NewFlat(dim int) *Flat {
	return &Flat{dim: dim}
}

// Dim is the vectors' dimension.
func (f *Flat) Dim() int { return f.dim }

// Len is the number of vectors.
func (f *Flat) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.rows) / f.dim
}

// Add appends vectors; their rows follow the existing ones in order.
func (f *Flat) Add(vecs ...[]float32) error {
	for i, v := range vecs {
		if len(v) != f.dim {
			return fmt.Errorf("index: vector %d has %d values, want %d", i, len(v), f.dim)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range vecs {
		f.rows = append(f.rows, v...)
	}
	f.lin = nil
	return nil
}

// AddRows appends n vectors stored contiguously in rows.
func (f *Flat) AddRows(rows []float32) error {
	if len(rows)%f.dim != 0 {
		return fmt.Errorf("index: %d values is not a whole number of %d-dimensional rows", len(rows), f.dim)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = append(f.rows, rows...)
	f.lin = nil
	return nil
}

// Row returns row i itself, which the caller must not modify.
func (f *Flat) Row(i int) []float32 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.rows[i*f.dim : (i+1)*f.dim : (i+1)*f.dim]
}

// Vector returns a copy of row i.
func (f *Flat) Vector(i int) []float32 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return append([]float32(nil), f.rows[i*f.dim:(i+1)*f.dim]...)
}

// layer returns the rows as a linear layer, built on the first search
// after a change. Old layers stay valid: appends never write into the
// part of rows they alias.
func (f *Flat) layer() (*nn.Linear, int) {
	f.mu.RLock()
	lin := f.lin
	f.mu.RUnlock()
	if lin != nil {
		return lin, lin.Out
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.rows) / f.dim
	if f.lin == nil && n > 0 {
		f.lin = nn.NewLinear(f.rows, nil, n, f.dim)
	}
	return f.lin, n
}

// Scores returns the score of every vector for each query, as a
// len(queries)×Len() matrix, with the number of vectors scored.
func (f *Flat) Scores(queries [][]float32) ([]float32, int, error) {
	x := make([]float32, 0, len(queries)*f.dim)
	for i, q := range queries {
		if len(q) != f.dim {
			return nil, 0, fmt.Errorf("index: query %d has %d values, want %d", i, len(q), f.dim)
		}
		x = append(x, q...)
	}
	lin, n := f.layer()
	if n == 0 {
		return nil, 0, nil
	}
	scores := make([]float32, len(queries)*n)
	lin.Forward(scores, x, len(queries), nn.Identity)
	return scores, n, nil
}

// Search returns, for each query, the k best rows by descending score. Rows
// for which keep returns false are passed over; keep may be nil.
func (f *Flat) Search(queries [][]float32, k int, keep func(row int) bool) ([][]Hit, error) {
	scores, n, err := f.Scores(queries)
	if err != nil {
		return nil, err
	}
	out := make([][]Hit, len(queries))
	for q := range queries {
		if n > 0 {
			out[q] = TopK(scores[q*n:(q+1)*n], k, keep)
		}
	}
	return out, nil
}

// TopK returns the k highest scores with their rows, best first; equal
// scores keep row order. Rows for which keep returns false are passed over.
func TopK(scores []float32, k int, keep func(row int) bool) []Hit {
	if k <= 0 {
		return nil
	}
	h := make(minHeap, 0, k)
	for i, s := range scores {
		if len(h) == k && !better(Hit{i, s}, h[0]) {
			continue
		}
		if keep != nil && !keep(i) {
			continue
		}
		if len(h) < k {
			heap.Push(&h, Hit{i, s})
		} else {
			h[0] = Hit{i, s}
			heap.Fix(&h, 0)
		}
	}
	out := make([]Hit, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&h).(Hit)
	}
	return out
}

// better orders hits by score, then by lower row.
func better(a, b Hit) bool {
	return a.Score > b.Score || a.Score == b.Score && a.Row < b.Row
}

// minHeap keeps the worst of the best k at its root.
type minHeap []Hit

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(Hit)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Rows returns the vectors, n×Dim values; the slice must not be modified.
func (f *Flat) Rows() []float32 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.rows[:len(f.rows):len(f.rows)]
}
