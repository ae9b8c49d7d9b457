package search

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/xmodal/xmodal/index"
	"github.com/xmodal/xmodal/workspace"
)

// GraphThreshold is the number of vectors of one kind from which a
// workspace is searched with a graph index rather than exactly: below it
// an exact scan takes a few milliseconds and never misses, above it the
// scan's cost grows with every vector while the graph's barely does.
// `xmodal index` builds the graph from this size on (or always, with
// --ann); a workspace that has a graph uses it whatever its size.
const GraphThreshold = 100_000

// reloadGap is how many rows an engine's graph must lack before it reads
// the saved graph again rather than inserting them.
const reloadGap = 1000

// DefaultGraphCheckpoint is how many vectors UpdateGraphs inserts between
// saves of a graph, so that an interrupted build resumes: about a minute
// of work on two cores.
const DefaultGraphCheckpoint = 100_000

// vectorIndex is what the engine searches for one kind: exact (Flat) or
// approximate (annIndex).
type vectorIndex interface {
	Len() int
	Search(queries [][]float32, k int, keep func(row int) bool) ([][]index.Hit, error)
	Row(row int) []float32 // the stored row itself: not to be written
}

// annIndex is a graph over a mapped vector file. Rows keep rising: the
// graph and the mapping are shared by successive snapshots, each knowing
// how many rows it covers.
type annIndex struct {
	g    *index.Graph
	vecs *workspace.Mapping
	rows int
}

func (a *annIndex) Len() int { return a.rows }

func (a *annIndex) Row(row int) []float32 { return a.vecs.Row(row) }

func (a *annIndex) Search(queries [][]float32, k int, keep func(row int) bool) ([][]index.Hit, error) {
	rows := a.rows
	inRange := func(r int) bool { return r < rows && (keep == nil || keep(r)) }
	return a.g.Search(queries, k, inRange, index.SearchOptions{Effort: effortFor(k), Rerank: a.vecs.Matrix})
}

// effortFor is the engine's search effort for k results. On a million
// vectors of the bundled model, 128 finds over 97 % of the true top 10
// for captions of the concept-disjoint test split, which sit further from
// the images than most (eval --ann-recall), in about 0.5 ms; larger k
// needs a list larger than k.
func effortFor(k int) int {
	return max(128, 2*k)
}

// wantGraph says whether a kind of rows is searched with a graph.
// Graphs are files beside a folder's vectors: a database workspace with
// local vectors is searched exactly.
func wantGraph(ws *workspace.Workspace, k workspace.Kind, rows int) bool {
	return !ws.InDatabase() && rows > 0 && (rows >= GraphThreshold || ws.HasGraph(k))
}

// openGraph returns the graph of a kind covering rows rows: the one given
// (from the previous snapshot), else the saved one, else a new one; rows
// it lacks are inserted. logf reports a rebuild.
func openGraph(ctx context.Context, ws *workspace.Workspace, k workspace.Kind, rows int, prev *annIndex, maps *mappings, logf func(string, ...any)) (*annIndex, error) {
	a := &annIndex{rows: rows}
	if prev != nil {
		a.g, a.vecs = prev.g, prev.vecs
		// Many new rows usually come from `xmodal index`, which saves
		// them in the graph file: reading it is quicker than inserting,
		// and searches on the old graph do not wait for the inserts.
		if rows-prev.g.Len() >= reloadGap {
			if g, err := ws.LoadGraph(k); err == nil && g.Len() > prev.g.Len() {
				a.g = g
			}
		}
	} else {
		var err error
		if a.g, err = loadGraph(ws, k); err != nil {
			logf("%v; rebuilding it in memory", err)
		}
	}
	if a.vecs == nil || a.vecs.Capacity < rows {
		m, err := ws.MapVectors(k, rows)
		if err != nil {
			return nil, err
		}
		maps.add(m)
		a.vecs = m
	}
	if have := a.g.Len(); have < rows {
		if rows-have > 10000 {
			logf("inserting %d %s vectors into the graph index in memory (xmodal index saves them)", rows-have, k)
		}
		if err := a.g.Add(ctx, a.vecs.Data[have*a.vecs.Dim:rows*a.vecs.Dim], nil); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// loadGraph returns a kind's saved graph or, failing that, a new empty
// one, with the reason the saved one could not be used (nil if there was
// none).
func loadGraph(ws *workspace.Workspace, k workspace.Kind) (*index.Graph, error) {
	g, err := ws.LoadGraph(k)
	if err == nil {
		return g, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return index.NewGraph(ws.Manifest().Model.Dim, index.GraphConfig{}), err
}

// mappings are the vector files an engine mapped. Old snapshots may still
// be searching, so a mapping lives as long as its engine.
type mappings struct {
	mu   sync.Mutex
	list []*workspace.Mapping
}

func (m *mappings) add(x *workspace.Mapping) {
	m.mu.Lock()
	m.list = append(m.list, x)
	m.mu.Unlock()
}

func (m *mappings) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, x := range m.list {
		errs = append(errs, x.Close())
	}
	m.list = nil
	return errors.Join(errs...)
}

// GraphProgress reports a graph build: vectors inserted of total.
type GraphProgress struct {
	Kind        workspace.Kind
	Done, Total int
}

// GraphOptions adjust UpdateGraphs.
type GraphOptions struct {
	// Force builds graphs below GraphThreshold vectors.
	Force bool
	// Checkpoint is the number of vectors inserted between saves
	// (default DefaultGraphCheckpoint).
	Checkpoint int
	// Progress, if not nil, is called as vectors are inserted.
	Progress func(GraphProgress)
}

// UpdateGraphs brings the saved graph of each kind up to the workspace's
// rows, building one where the kind has GraphThreshold vectors or more (or
// already has a graph, or always with Force), and takes deleted rows out
// of its edges once they are 5 % of it. It saves every Checkpoint
// vectors, so that an interrupted build resumes where it stopped; on
// cancellation it saves what was inserted and returns ctx's error. A
// damaged graph file is rebuilt. It returns the number of vectors
// inserted. ws must be open for writing.
func UpdateGraphs(ctx context.Context, ws *workspace.Workspace, o GraphOptions) (int, error) {
	if ws.InDatabase() {
		return 0, nil // graphs are files beside a folder's vectors
	}
	if o.Checkpoint <= 0 {
		o.Checkpoint = DefaultGraphCheckpoint
	}
	total := 0
	for _, k := range []workspace.Kind{workspace.Images, workspace.Captions} {
		rows, err := ws.Rows(k)
		if err != nil {
			return total, err
		}
		if rows == 0 || !o.Force && !wantGraph(ws, k, rows) {
			continue
		}
		// A damaged graph is rebuilt: loadGraph then returns a new one.
		g, err := loadGraph(ws, k)
		if err != nil && !errors.Is(err, index.ErrCorrupt) {
			return total, err
		}
		if err := consolidate(ctx, ws, k, g); err != nil {
			return total, err
		}
		have := g.Len()
		if have == rows {
			continue
		}
		m, err := ws.MapVectors(k, rows)
		if err != nil {
			return total, err
		}
		for have < rows {
			end := min(rows, have+o.Checkpoint)
			base := have
			err := g.Add(ctx, m.Data[have*m.Dim:end*m.Dim], func(done int) {
				if o.Progress != nil {
					o.Progress(GraphProgress{Kind: k, Done: base + done, Total: rows})
				}
			})
			total += g.Len() - have
			have = g.Len()
			if serr := ws.SaveGraph(k, g); serr != nil {
				m.Close()
				return total, fmt.Errorf("save the %s graph: %w", k, serr)
			}
			if err != nil {
				m.Close()
				return total, err
			}
		}
		if err := m.Close(); err != nil {
			return total, err
		}
	}
	return total, nil
}

// consolidateShare is the share of a graph's rows that must be deleted and
// still linked before UpdateGraphs takes them out of its edges: below it,
// walking through them costs less than a pass over the graph.
const consolidateShare = 0.05

// consolidate takes deleted rows out of a kind's graph once enough have
// piled up (see index.Graph.Consolidate), and saves it.
func consolidate(ctx context.Context, ws *workspace.Workspace, k workspace.Kind, g *index.Graph) error {
	if g.Len() == 0 {
		return nil
	}
	ids, err := ws.RowIDs(ctx, k)
	if err != nil {
		return err
	}
	dead := func(r int) bool { return r < len(ids) && ids[r] == 0 }
	if float64(g.Linked(dead)) < consolidateShare*float64(g.Len()) {
		return nil
	}
	g.Consolidate(dead)
	if err := ws.SaveGraph(k, g); err != nil {
		return fmt.Errorf("save the %s graph: %w", k, err)
	}
	return nil
}

// GraphReport measures an engine's graph indexes against exact search.
type GraphReport struct {
	K       int            `json:"k"`
	Results []GraphMeasure `json:"results"`
}

// GraphMeasure is the recall of one kind of query on one graph.
type GraphMeasure struct {
	Queries   string  `json:"queries"` // "text→image" ...
	N         int     `json:"n"`       // queries measured
	Effort    int     `json:"effort"`
	Recall    float64 `json:"recall"`
	GraphMS   float64 `json:"graph_ms_per_query"`
	ExactMS   float64 `json:"exact_ms_per_query"`
	Indexed   int     `json:"indexed"` // vectors in the graph
	SelfMatch bool    `json:"self_match,omitempty"`
}

// MeasureGraphs measures recall@k of the graph indexes against exact
// search, with queries made of the workspace's own vectors from split (""
// for all): captions against images (text→image), images against images
// (image→image; each query finds itself, as "more like this" does) and
// captions against captions. At most max queries of each kind, spread
// over the split in the order of the images' keys. Kinds searched exactly
// are left out.
func (e *Engine) MeasureGraphs(ctx context.Context, split string, k, maxQueries int) (*GraphReport, error) {
	if err := e.Refresh(ctx); err != nil {
		return nil, err
	}
	s := e.snapshot()
	imgs, err := e.ws.ImagesInSplit(ctx, split)
	if err != nil {
		return nil, err
	}
	imgRows, capRows := queryRows(imgs, maxQueries)
	vectors := func(kind workspace.Kind, rows []int) ([][]float32, error) {
		out := make([][]float32, len(rows))
		for i, r := range rows {
			if s.inDB {
				v, err := e.ws.ReadVectors(kind, r, r+1)
				if err != nil {
					return nil, err
				}
				out[i] = v
				continue
			}
			out[i] = slices.Clone(s.indexes[kind].Row(r))
		}
		return out, nil
	}
	rep := &GraphReport{K: k}
	for _, c := range []struct {
		name   string
		from   workspace.Kind
		rows   []int
		target workspace.Kind
	}{
		{"text→image", workspace.Captions, capRows, workspace.Images},
		{"image→image", workspace.Images, imgRows, workspace.Images},
		{"text→text", workspace.Captions, capRows, workspace.Captions},
	} {
		if s.inDB && len(c.rows) > 0 {
			queries, err := vectors(c.from, c.rows)
			if err != nil {
				return nil, err
			}
			m, err := e.measureDB(ctx, c.name, queries, c.target, k, c.from == c.target)
			if err != nil {
				return nil, err
			}
			rep.Results = append(rep.Results, m)
			continue
		}
		a, ok := s.indexes[c.target].(*annIndex)
		if !ok || len(c.rows) == 0 {
			continue
		}
		queries, err := vectors(c.from, c.rows)
		if err != nil {
			return nil, err
		}
		ids := s.ids[c.target]
		keep := func(r int) bool { return ids[r] != 0 }
		t0 := time.Now()
		got, err := a.Search(queries, k, keep)
		if err != nil {
			return nil, err
		}
		t1 := time.Now()
		truth, err := index.Exact(index.Matrix{Data: a.vecs.Data[:a.rows*a.vecs.Dim], Dim: a.vecs.Dim}, queries, k, keep)
		if err != nil {
			return nil, err
		}
		t2 := time.Now()
		n := float64(len(queries))
		rep.Results = append(rep.Results, GraphMeasure{
			Queries: c.name, N: len(queries), Effort: effortFor(k), Recall: index.Recall(truth, got, k),
			GraphMS: t1.Sub(t0).Seconds() * 1000 / n, ExactMS: t2.Sub(t1).Seconds() * 1000 / n,
			Indexed: a.rows, SelfMatch: c.from == c.target,
		})
	}
	return rep, nil
}

// queryRows picks at most n image rows and n caption rows spread evenly
// over imgs, in the order given: ImagesInSplit's key order, so two
// indexings of the same data measure the same queries.
func queryRows(imgs []workspace.Image, n int) (imgRows, capRows []int) {
	for _, im := range imgs {
		imgRows = append(imgRows, im.Row)
		for _, c := range im.Captions {
			capRows = append(capRows, c.Row)
		}
	}
	return spreadInts(imgRows, n), spreadInts(capRows, n)
}

func spreadInts(xs []int, n int) []int {
	if len(xs) <= n {
		return xs
	}
	out := make([]int, n)
	for i := range out {
		out[i] = xs[i*len(xs)/n]
	}
	return out
}

// IndexKind names how a kind of document is searched: "graph", "exact",
// or "pgvector" (HNSW, or "pgvector exact") in the database.
func (e *Engine) IndexKind(k workspace.Kind) string {
	if e.snapshot().inDB {
		if e.cfg.Exact {
			return "pgvector exact"
		}
		return "pgvector"
	}
	if _, ok := e.snapshot().indexes[k].(*annIndex); ok {
		return "graph"
	}
	return "exact"
}
