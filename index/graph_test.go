package index

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/xmodal/xmodal/nn"
)

// centres returns c random unit vectors.
func centres(r *rand.Rand, c, dim int) []float32 {
	out := make([]float32, c*dim)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	for i := range c {
		nn.Normalize(out[i*dim : (i+1)*dim])
	}
	return out
}

// clustered returns n unit vectors around the given centres, a rough
// stand-in for embeddings (uniform noise would make every graph look
// bad). shift, if not nil, is added to every vector before normalising:
// queries from another modality sit off the data, as CLIP's text vectors
// sit off its image vectors.
func clustered(r *rand.Rand, c []float32, n, dim int, shift []float32) []float32 {
	out := make([]float32, n*dim)
	for i := range n {
		v := out[i*dim : (i+1)*dim]
		ci := c[r.IntN(len(c)/dim)*dim:][:dim]
		for k := range v {
			v[k] = ci[k] + 0.6*float32(r.NormFloat64())/float32(math.Sqrt(float64(dim)))
			if shift != nil {
				v[k] += shift[k]
			}
		}
		nn.Normalize(v)
	}
	return out
}

// testSet returns n base vectors in clusters and nq queries drawn alike.
func testSet(seed uint64, n, nq, dim int) (base []float32, queries [][]float32, r *rand.Rand, cs []float32) {
	r = rand.New(rand.NewPCG(seed, seed+1))
	cs = centres(r, 200, dim)
	data := clustered(r, cs, n+nq, dim, nil)
	return data[:n*dim], rowsOf(data[n*dim:], dim), r, cs
}

func rowsOf(m []float32, dim int) [][]float32 {
	out := make([][]float32, len(m)/dim)
	for i := range out {
		out[i] = m[i*dim : (i+1)*dim]
	}
	return out
}

func buildGraph(t *testing.T, data []float32, dim int, batches int) *Graph {
	t.Helper()
	g := NewGraph(dim, GraphConfig{})
	n := len(data) / dim
	for b := range batches {
		lo, hi := b*n/batches, (b+1)*n/batches
		if err := g.Add(context.Background(), data[lo*dim:hi*dim], nil); err != nil {
			t.Fatal(err)
		}
	}
	if g.Len() != n {
		t.Fatalf("Len = %d, want %d", g.Len(), n)
	}
	return g
}

func TestGraphRecall(t *testing.T) {
	const n, dim, k = 20000, 64, 10
	base, imgQ, r, cs := testSet(1, n, 200, dim)
	// A shift of norm ≈ 0.4: the bundled model's caption vectors sit
	// 0.29 from its image vectors (distance of the means), and a caption's
	// best image scores 0.77 where an image's best neighbour scores 0.91.
	shift := make([]float32, dim)
	for i := range shift {
		shift[i] = 0.05 * float32(r.NormFloat64())
	}
	textQ := rowsOf(clustered(r, cs, 200, dim, shift), dim)

	flat := NewFlat(dim)
	flat.AddRows(base)
	for _, batches := range []int{1, 7} {
		g := buildGraph(t, base, dim, batches)
		for _, c := range []struct {
			name    string
			queries [][]float32
		}{{"image", imgQ}, {"text", textQ}} {
			exact, _ := flat.Search(c.queries, k, nil)
			approx, err := g.Search(c.queries, k, nil, SearchOptions{Rerank: Matrix{base, dim}})
			if err != nil {
				t.Fatal(err)
			}
			rec := Recall(exact, approx, k)
			t.Logf("%d batches, %s queries: recall@%d %.4f", batches, c.name, k, rec)
			if rec < 0.95 {
				t.Errorf("%d batches, %s queries: recall@%d = %.3f, want ≥ 0.95", batches, c.name, k, rec)
			}
			// Re-ranked scores are exact.
			for q := range approx {
				for _, h := range approx[q] {
					if want := nn.Dot(c.queries[q], base[h.Row*dim:(h.Row+1)*dim]); h.Score != want {
						t.Fatalf("score of row %d = %g, want %g", h.Row, h.Score, want)
					}
				}
			}
		}
	}
}

// TestGraphFilter checks filtered searches and deletions, which both pass
// rows over during the walk: every hit passes, and recall against exact
// search under the same filter stays high, down to a filter that keeps
// one row in a hundred.
func TestGraphFilter(t *testing.T) {
	const n, dim, k = 20000, 48, 10
	base, queries, r, _ := testSet(5, n, 100, dim)
	g := buildGraph(t, base, dim, 3)
	flat := NewFlat(dim)
	flat.AddRows(base)
	deleted := make([]bool, n)
	for i := range deleted {
		deleted[i] = r.IntN(10) < 3
	}
	for _, c := range []struct {
		name string
		keep func(int) bool
	}{
		{"none", nil},
		{"even rows", func(r int) bool { return r%2 == 0 }},
		{"30% deleted", func(r int) bool { return !deleted[r] }},
		{"1 in 100", func(r int) bool { return r%100 == 7 }},
	} {
		exact, _ := flat.Search(queries, k, c.keep)
		approx, err := g.Search(queries, k, c.keep, SearchOptions{Rerank: Matrix{base, dim}})
		if err != nil {
			t.Fatal(err)
		}
		for q := range approx {
			if len(approx[q]) != k {
				t.Fatalf("%s: query %d got %d hits, want %d", c.name, q, len(approx[q]), k)
			}
			for _, h := range approx[q] {
				if c.keep != nil && !c.keep(h.Row) {
					t.Fatalf("%s: row %d does not pass the filter", c.name, h.Row)
				}
			}
		}
		rec := Recall(exact, approx, k)
		t.Logf("%s: recall@%d %.4f", c.name, k, rec)
		if rec < 0.95 {
			t.Errorf("%s: recall@%d = %.3f, want ≥ 0.95", c.name, k, rec)
		}
	}
}

// TestGraphAddCancelled stops a build part way: the graph keeps what it
// inserted, searches correctly, and takes the rest afterwards.
func TestGraphAddCancelled(t *testing.T) {
	const n, dim, k = 30000, 32, 10
	base, queries, _, _ := testSet(7, n, 100, dim)
	g := NewGraph(dim, GraphConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	err := g.Add(ctx, base, func(done int) {
		if done >= n/2 {
			cancel()
		}
	})
	if err != context.Canceled {
		t.Fatalf("Add = %v, want context.Canceled", err)
	}
	have := g.Len()
	if have < n/2 || have >= n {
		t.Fatalf("after cancelling, Len = %d, want in [%d, %d)", have, n/2, n)
	}
	check := func(rows int) {
		t.Helper()
		m := Matrix{base[:rows*dim], dim}
		exact, _ := Exact(m, queries, k, nil)
		approx, _ := g.Search(queries, k, nil, SearchOptions{Rerank: m})
		for _, hs := range approx {
			for _, h := range hs {
				if h.Row >= rows {
					t.Fatalf("hit row %d of a graph of %d", h.Row, rows)
				}
			}
		}
		if rec := Recall(exact, approx, k); rec < 0.95 {
			t.Errorf("%d rows: recall@%d = %.3f, want ≥ 0.95", rows, k, rec)
		}
	}
	check(have)
	if err := g.Add(context.Background(), base[have*dim:], nil); err != nil {
		t.Fatal(err)
	}
	if g.Len() != n {
		t.Fatalf("Len = %d after adding the rest, want %d", g.Len(), n)
	}
	check(n)
}

func TestTuneEffort(t *testing.T) {
	const n, dim, k = 10000, 32, 10
	base, queries, _, _ := testSet(9, n, 300, dim)
	g := buildGraph(t, base, dim, 1)
	m := Matrix{base, dim}
	truth, err := Exact(m, queries, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	flat := NewFlat(dim)
	flat.AddRows(base)
	want, _ := flat.Search(queries, k, nil)
	if rec := Recall(want, truth, k); rec != 1 {
		t.Fatalf("Exact agrees with Flat on %.4f of the neighbours", rec)
	}
	for _, target := range []float64{0.9, 0.99} {
		ef, rec, err := g.TuneEffort(queries, truth, k, target, SearchOptions{Rerank: m})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := g.Search(queries, k, nil, SearchOptions{Effort: ef, Rerank: m})
		if r := Recall(truth, got, k); r < target || r != rec {
			t.Errorf("target %.2f: effort %d gives %.4f (tuning said %.4f)", target, ef, r, rec)
		}
	}
}

// TestGraphConsolidate deletes half the rows and consolidates: no live
// row links to a deleted one, deleted rows have no edges and are no entry,
// recall under the deletions stays high, and the graph still takes
// inserts and round-trips through its file.
func TestGraphConsolidate(t *testing.T) {
	const n, more, dim, k = 16000, 2000, 48, 10
	all, queries, r, _ := testSet(11, n+more, 100, dim)
	base := all[:n*dim]
	g := buildGraph(t, base, dim, 2)
	deleted := make([]bool, n+more)
	for i := range n {
		deleted[i] = r.IntN(2) == 0
	}
	dead := func(row int) bool { return deleted[row] }
	keep := func(row int) bool { return !deleted[row] }
	if linked := g.Linked(dead); linked < n/3 {
		t.Fatalf("Linked = %d before consolidating, want about %d", linked, n/2)
	}
	if changed := g.Consolidate(dead); changed < n/4 {
		t.Errorf("Consolidate changed %d rows, want most of the %d live ones", changed, n/2)
	}
	if linked := g.Linked(dead); linked != 0 {
		t.Errorf("Linked = %d after consolidating", linked)
	}
	for row := range n {
		for _, v := range g.neighbours(uint32(row)) {
			if deleted[v] {
				t.Fatalf("row %d links to deleted row %d", row, v)
			}
		}
	}
	for _, e := range g.entries {
		if deleted[e] {
			t.Fatalf("entry %d is deleted", e)
		}
	}
	check := func(what string, data []float32) {
		t.Helper()
		flat := NewFlat(dim)
		flat.AddRows(data)
		exact, _ := flat.Search(queries, k, keep)
		approx, err := g.Search(queries, k, keep, SearchOptions{Rerank: Matrix{data, dim}})
		if err != nil {
			t.Fatal(err)
		}
		rec := Recall(exact, approx, k)
		t.Logf("%s: recall@%d %.4f", what, k, rec)
		if rec < 0.95 {
			t.Errorf("%s: recall@%d = %.3f, want ≥ 0.95", what, k, rec)
		}
	}
	check("consolidated", base)
	if err := g.Add(context.Background(), all[n*dim:], nil); err != nil {
		t.Fatal(err)
	}
	check("then inserts", all)
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadGraph(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatalf("reading the consolidated graph back: %v", err)
	}
}
