package index

import (
	"slices"
	"sync/atomic"

	"github.com/xmodal/xmodal/nn"
)

// Deleted rows stay in a graph as waypoints (see Graph), which keeps
// deletion cheap but leaves the walk paying for them: a graph that lost
// half its rows spends half its effort on rows it can never return.
// Consolidate repairs the graph around them, as FreshDiskANN does.

// Consolidate takes the deleted rows out of the graph's edges: a live row
// that links to deleted ones gets, in their place, candidates from their
// own live neighbours, pruned as an insert prunes; deleted rows lose their
// edges and stop being entry nodes. Their codes stay (rows are never
// renumbered) but no walk reaches them. It returns the number of live rows
// whose edges changed. Searches and inserts wait for it.
func (g *Graph) Consolidate(deleted func(row int) bool) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var changed atomic.Int64
	// Each live row rewrites only its own list and reads the lists of
	// deleted rows, which stay as they are until every live row is done.
	nn.ParallelFor(g.n, 1024, func(lo, hi int) {
		b := g.newBuilder(nil)
		var cands []uint32
		var scores []float32
		for r := lo; r < hi; r++ {
			if deleted(r) {
				continue
			}
			list := g.neighbours(uint32(r))
			if !slices.ContainsFunc(list, func(v uint32) bool { return deleted(int(v)) }) {
				continue
			}
			cands = cands[:0]
			add := func(v uint32) {
				if int(v) != r && !deleted(int(v)) && !slices.Contains(cands, v) {
					cands = append(cands, v)
				}
			}
			for _, v := range list {
				if !deleted(int(v)) {
					add(v)
					continue
				}
				for _, w := range g.neighbours(v) {
					add(w)
				}
			}
			if cap(scores) < len(cands) {
				scores = make([]float32, len(cands))
			}
			s := scores[:len(cands)]
			b.pw.setRow(uint32(r))
			b.pw.score(cands, s)
			b.cands = b.cands[:0]
			for i, v := range cands {
				b.cands = append(b.cands, candidate{v, s[i]})
			}
			slices.SortFunc(b.cands, byScore)
			kept := b.prune(b.cands)
			at := r * g.cfg.Degree
			copy(g.adj[at:], kept)
			g.deg[r] = uint16(len(kept))
			changed.Add(1)
		}
	})
	for r := range g.n {
		if deleted(r) {
			g.deg[r] = 0
		}
	}
	g.setEntries(g.n)
	return int(changed.Load())
}

// Linked counts the deleted rows that still have edges: what Consolidate
// would take out.
func (g *Graph) Linked(deleted func(row int) bool) int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := 0
	for r := range g.n {
		if g.deg[r] > 0 && deleted(r) {
			n++
		}
	}
	return n
}
