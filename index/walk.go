package index

import (
	"slices"

	"github.com/xmodal/xmodal/nn"
)

// visited marks the rows one walk has scored. Marks are epochs, so
// starting a walk costs nothing until the counter wraps.
type visited struct {
	mark  []uint16
	epoch uint16
}

func (v *visited) reset() {
	v.epoch++
	if v.epoch == 0 {
		clear(v.mark)
		v.epoch = 1
	}
}

// candidate is a row with its approximate score.
type candidate struct {
	row   uint32
	score float32
}

// walker is one walk's scratch space, reused across walks of a goroutine.
type walker struct {
	g     *Graph
	locks *stripes // when not nil, edge lists are read under their lock

	qu    []uint8 // the query's codes, unsigned
	q8    []int8  // and signed
	qs    float32 // its scale
	qbias int32   // 128·Σq8: what the unsigned rows add to every dot

	open   []candidate // rows to expand: a max-heap by score
	best   []candidate // the ef best rows kept: a min-heap by score
	ids    []uint32
	dots   []int32
	scores []float32
	seeds  []candidate
	nbuf   []uint32
}

// seeds is how many of the best-scoring entry nodes a walk starts from.
const seeds = 4

func (g *Graph) newWalker(locks *stripes) *walker {
	return &walker{g: g, locks: locks, qu: make([]uint8, g.dim), q8: make([]int8, g.dim)}
}

// setQuery quantises a float query.
func (w *walker) setQuery(q []float32) {
	w.qs = nn.QuantizeRow(w.qu, q)
	w.signQuery()
}

// setRow makes row r the query.
func (w *walker) setRow(r uint32) {
	copy(w.qu, w.g.codes[int(r)*w.g.dim:(int(r)+1)*w.g.dim])
	w.qs = w.g.scales[r]
	w.signQuery()
}

func (w *walker) signQuery() {
	var sum int32
	for i, u := range w.qu {
		v := int8(u ^ 0x80)
		w.q8[i] = v
		sum += int32(v)
	}
	w.qbias = 128 * sum
}

// score sets w.dots to the approximate inner products of the query with
// rows and returns them as scores in out.
func (w *walker) score(rows []uint32, out []float32) {
	if cap(w.dots) < len(rows) {
		w.dots = make([]int32, len(rows))
	}
	dots := w.dots[:len(rows)]
	nn.DotsU8S8(w.q8, w.g.codes, w.g.dim, rows, dots)
	for i, r := range rows {
		out[i] = float32(dots[i]-w.qbias) * w.qs * w.g.scales[r]
	}
}

// walk runs a best-first search for the current query from the entry
// nodes and leaves in w.best the ef best rows that keep accepts (all if
// keep is nil), skipping row skip. Rows keep rejects are still walked
// through.
func (w *walker) walk(ef int, keep func(row int) bool, skip uint32) {
	g := w.g
	vis := g.visits.Get().(*visited)
	defer g.visits.Put(vis)
	vis.reset()
	w.open, w.best = w.open[:0], w.best[:0]
	accept := func(c candidate) {
		if c.row == skip || (keep != nil && !keep(int(c.row))) {
			return
		}
		if len(w.best) < ef {
			pushMin(&w.best, c)
		} else if c.score > w.best[0].score {
			w.best[0] = c
			downMin(w.best, 0)
		}
	}
	consider := func(rows []uint32) {
		if cap(w.scores) < len(rows) {
			w.scores = make([]float32, len(rows))
		}
		s := w.scores[:len(rows)]
		w.score(rows, s)
		for i, r := range rows {
			c := candidate{r, s[i]}
			if len(w.best) < ef || c.score > w.best[0].score {
				pushMax(&w.open, c)
				accept(c)
			}
		}
	}
	// Score every entry node, then start from the best few only: the
	// others would crowd the candidate lists for nothing.
	if cap(w.scores) < len(g.entries) {
		w.scores = make([]float32, len(g.entries))
	}
	es := w.scores[:len(g.entries)]
	w.score(g.entries, es)
	top := w.seeds[:0] // best first, insertion-sorted: a handful
	for i, e := range g.entries {
		if len(top) == seeds && es[i] <= top[seeds-1].score {
			continue
		}
		if len(top) < seeds {
			top = append(top, candidate{})
		}
		j := len(top) - 1
		for ; j > 0 && top[j-1].score < es[i]; j-- {
			top[j] = top[j-1]
		}
		top[j] = candidate{e, es[i]}
	}
	w.seeds = top
	w.ids = w.ids[:0]
	for _, c := range top {
		vis.mark[c.row] = vis.epoch
		w.ids = append(w.ids, c.row)
	}
	consider(w.ids)
	for len(w.open) > 0 {
		c := popMax(&w.open)
		if len(w.best) >= ef && c.score < w.best[0].score {
			break
		}
		w.ids = w.ids[:0]
		for _, r := range w.edges(c.row) {
			if vis.mark[r] != vis.epoch {
				vis.mark[r] = vis.epoch
				w.ids = append(w.ids, r)
			}
		}
		consider(w.ids)
	}
}

// edges returns row r's neighbours; while building, a copy taken under
// the row's lock.
func (w *walker) edges(r uint32) []uint32 {
	if w.locks == nil {
		return w.g.neighbours(r)
	}
	mu := w.locks.of(r)
	mu.Lock()
	w.nbuf = append(w.nbuf[:0], w.g.neighbours(r)...)
	mu.Unlock()
	return w.nbuf
}

// sorted returns w.best, best first.
func (w *walker) sorted() []candidate {
	slices.SortFunc(w.best, byScore)
	return w.best
}

// byScore orders candidates best first, ties by row.
func byScore(a, b candidate) int {
	switch {
	case a.score > b.score:
		return -1
	case a.score < b.score:
		return 1
	}
	return int(a.row) - int(b.row)
}

// builder inserts rows.
type builder struct {
	w      *walker // walks from the new row
	pw     *walker // scores candidates against a kept neighbour while pruning
	cands  []candidate
	list   []uint32
	linked []uint32
	scores []float32

	// prune's buffers
	kept    []uint32
	rest    []uint32
	restAt  []int
	pscores []float32
	pruned  []bool
}

func (g *Graph) newBuilder(locks *stripes) *builder {
	return &builder{w: g.newWalker(locks), pw: g.newWalker(nil)}
}

// insert links row r, whose code is in place, into the graph.
func (b *builder) insert(r uint32) {
	g := b.w.g
	if len(g.entries) == 0 {
		return // the first row: nothing to link to
	}
	b.w.setRow(r)
	b.w.walk(g.cfg.BuildEffort, nil, r)
	kept := b.prune(b.w.sorted())
	mu := b.w.locks.of(r)
	mu.Lock()
	at := int(r) * g.cfg.Degree
	copy(g.adj[at:], kept)
	g.deg[r] = uint16(len(kept))
	mu.Unlock()
	b.linked = append(b.linked[:0], kept...)
	for _, n := range b.linked {
		b.link(n, r)
	}
}

// link adds the edge n→r, pruning n's list if it is full.
func (b *builder) link(n, r uint32) {
	g := b.w.g
	mu := b.w.locks.of(n)
	mu.Lock()
	defer mu.Unlock()
	at := int(n) * g.cfg.Degree
	d := int(g.deg[n])
	list := g.adj[at : at+d]
	if slices.Contains(list, r) {
		return
	}
	if d < g.cfg.Degree {
		g.adj[at+d] = r
		g.deg[n]++
		return
	}
	b.list = append(append(b.list[:0], list...), r)
	if cap(b.scores) < len(b.list) {
		b.scores = make([]float32, len(b.list))
	}
	s := b.scores[:len(b.list)]
	b.pw.setRow(n)
	b.pw.score(b.list, s)
	b.cands = b.cands[:0]
	for i, v := range b.list {
		b.cands = append(b.cands, candidate{v, s[i]})
	}
	slices.SortFunc(b.cands, byScore)
	kept := b.prune(b.cands)
	copy(g.adj[at:], kept)
	g.deg[n] = uint16(len(kept))
}

// prune picks at most Degree neighbours from candidates sorted by
// descending score against the row being linked: a candidate c is
// dropped when a kept neighbour s is much closer to it than the row is,
// α·d(s,c) ≤ d(row,c) with d = 1−score (half the squared distance of unit
// vectors). What stays covers the directions around the row.
func (b *builder) prune(cands []candidate) []uint32 {
	g := b.w.g
	if cap(b.pruned) < len(cands) {
		b.pruned = make([]bool, len(cands))
		b.pscores = make([]float32, len(cands))
	}
	pruned := b.pruned[:len(cands)]
	clear(pruned)
	kept, rest, idx := b.kept[:0], b.rest, b.restAt
	defer func() { b.kept, b.rest, b.restAt = kept, rest, idx }()
	for i, c := range cands {
		if pruned[i] {
			continue
		}
		kept = append(kept, c.row)
		if len(kept) == g.cfg.Degree {
			break
		}
		// Score the remaining candidates against c and drop those c
		// covers.
		rest, idx = rest[:0], idx[:0]
		for j := i + 1; j < len(cands); j++ {
			if !pruned[j] {
				rest = append(rest, cands[j].row)
				idx = append(idx, j)
			}
		}
		if len(rest) == 0 {
			break
		}
		s := b.pscores[:len(rest)]
		b.pw.setRow(c.row)
		b.pw.score(rest, s)
		for x, j := range idx {
			if g.cfg.Alpha*(1-s[x]) <= 1-cands[j].score {
				pruned[j] = true
			}
		}
	}
	return kept
}

// Heaps of candidates; container/heap's interface costs more than these.

func pushMax(h *[]candidate, c candidate) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].score >= s[i].score {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func popMax(h *[]candidate) candidate {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].score > s[m].score {
			m = l
		}
		if r < len(s) && s[r].score > s[m].score {
			m = r
		}
		if m == i {
			break
		}
		s[m], s[i] = s[i], s[m]
		i = m
	}
	*h = s
	return top
}

func pushMin(h *[]candidate, c candidate) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].score <= s[i].score {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func downMin(s []candidate, i int) {
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].score < s[m].score {
			m = l
		}
		if r < len(s) && s[r].score < s[m].score {
			m = r
		}
		if m == i {
			return
		}
		s[m], s[i] = s[i], s[m]
		i = m
	}
}
