package index

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/xmodal/xmodal/nn"
)

// Graph is an approximate index: a proximity graph walked with int8 codes
// of the vectors, whose best candidates are re-ranked with the full float32
// vectors.
//
// It is one layer, built as Vamana (DiskANN) builds its graphs: each new
// vector searches the graph for its neighbours, keeps at most Degree of
// them by the α-pruning rule (a candidate is dropped when an already kept
// neighbour is α times closer to it than the new vector is), and is linked
// back from each, re-pruning a list that overflows. With α > 1 some long
// edges survive, so the walk crosses the space in few hops without HNSW's
// upper layers; on high-dimensional embeddings the layers add little
// (Lin and Zhao, "Down with the hierarchy", 2024). Instead of one entry
// point the walk starts from the best of a few hundred spread-out entry
// nodes, which costs one batch of int8 dot products and lets a query that
// lands far from the image vectors (a text query, across the modality
// gap) begin near its answers.
//
// Vectors are compared by inner product; for unit vectors that is cosine
// similarity, and the pruning rule uses the squared Euclidean distance
// 2−2·cos. Codes are per-vector symmetric int8 (a scale and one byte a
// dimension), so the walk reads a quarter of the bytes of float32.
//
// Deleted vectors stay in the graph as waypoints; searches pass over them
// through keep, as they pass over rows a filter rejects: during the walk,
// so that k results come back whenever k rows pass. Graph is safe for
// concurrent use: searches run together, Add waits for them.
type Graph struct {
	dim int
	cfg GraphConfig

	mu      sync.RWMutex
	n       int
	codes   []uint8    // n×dim: int8 codes plus 128
	scales  []float32  // n: x ≈ scale·(code−128)
	adj     []uint32   // n×Degree neighbour rows
	deg     []uint16   // n: neighbours in use
	entries []uint32   // spread-out rows the walk starts from
	visits  *sync.Pool // *visited sized for n
}

// GraphConfig are a graph's build parameters. The zero value of a field
// takes its default.
type GraphConfig struct {
	// Degree is the most neighbours a vector keeps (default 32). More
	// edges raise recall at a given effort and cost memory and build time.
	Degree int `json:"degree"`
	// BuildEffort is the candidate list size when inserting (default 96).
	BuildEffort int `json:"build_effort"`
	// Alpha is the pruning factor, ≥ 1 (default 1.2).
	Alpha float32 `json:"alpha"`
	// Threads inserting in parallel (default GOMAXPROCS).
	Threads int `json:"threads"`
	// Entries is the number of entry nodes searches start from (default
	// and at most 256).
	Entries int `json:"entries"`
}

// maxEntries bounds the entry nodes; they are taken every n/maxEntries
// rows, so they spread over the data in the order it was added.
const maxEntries = 256

func (c GraphConfig) withDefaults() GraphConfig {
	if c.Degree <= 0 {
		c.Degree = 32
	}
	if c.BuildEffort <= 0 {
		c.BuildEffort = 96
	}
	if c.Alpha < 1 {
		c.Alpha = 1.2
	}
	if c.Threads <= 0 {
		c.Threads = runtime.GOMAXPROCS(0)
	}
	if c.Entries <= 0 || c.Entries > maxEntries {
		c.Entries = maxEntries
	}
	return c
}

// NewGraph returns an empty graph of dim-dimensional vectors.
func NewGraph(dim int, cfg GraphConfig) *Graph {
	cfg = cfg.withDefaults()
	if cfg.Degree > math.MaxUint16 {
		cfg.Degree = math.MaxUint16
	}
	return &Graph{dim: dim, cfg: cfg}
}

// Dim is the vectors' dimension.
func (g *Graph) Dim() int { return g.dim }

// Config is the graph's build parameters, defaults filled in.
func (g *Graph) Config() GraphConfig { return g.cfg }

// Len is the number of vectors in the graph, deleted ones included.
func (g *Graph) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.n
}

// Bytes is the memory the graph holds: codes, scales and edges.
func (g *Graph) Bytes() int64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return int64(len(g.codes)) + 4*int64(len(g.scales)) + 4*int64(len(g.adj)) + 2*int64(len(g.deg)) + 4*int64(len(g.entries))
}

// Add inserts n vectors stored contiguously in rows; they get the next row
// numbers. progress, if not nil, is called now and then with the number
// inserted so far. Add stops early when ctx is done, with the vectors
// inserted so far kept: the graph stays valid.
func (g *Graph) Add(ctx context.Context, rows []float32, progress func(done int)) error {
	if len(rows)%g.dim != 0 {
		return fmt.Errorf("index: %d values is not a whole number of %d-dimensional rows", len(rows), g.dim)
	}
	add := len(rows) / g.dim
	if add == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	first := g.n
	g.grow(first + add)
	for i := range add {
		g.scales[first+i] = nn.QuantizeRow(g.codes[(first+i)*g.dim:(first+i+1)*g.dim], rows[i*g.dim:(i+1)*g.dim])
	}
	g.n = first + add
	locks := new(stripes)

	// Rows go in by rounds that at most double the graph, with the entry
	// nodes chosen again after each, so that every insert starts its walk
	// from nodes spread over what is already there. The first rows go in
	// one at a time: parallel inserts need a graph to search.
	inserted := first
	b := g.newBuilder(locks)
	for ; inserted < min(first+add, 2*g.cfg.Degree); inserted++ {
		b.insert(uint32(inserted))
		if inserted == 0 {
			g.setEntries(1)
		}
	}
	for inserted < first+add {
		end := min(first+add, max(2*inserted, inserted+1024))
		var next, done atomic.Int64
		next.Store(int64(inserted))
		done.Store(int64(inserted - first))
		var wg sync.WaitGroup
		for range g.cfg.Threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := g.newBuilder(locks)
				for ctx.Err() == nil {
					r := next.Add(1) - 1
					if r >= int64(end) {
						return
					}
					b.insert(uint32(r))
					if d := done.Add(1); progress != nil && d%1024 == 0 {
						progress(int(d))
					}
				}
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			// Claimed rows were finished; the rest were never linked.
			g.truncate(min(int(next.Load()), end))
			g.setEntries(g.n)
			return err
		}
		inserted = end
		g.setEntries(inserted)
	}
	g.setEntries(g.n)
	if progress != nil {
		progress(add)
	}
	return nil
}

// grow makes room for n vectors.
func (g *Graph) grow(n int) {
	grow := func(s []uint32, n int) []uint32 {
		if n <= cap(s) {
			return s[:n]
		}
		t := make([]uint32, n, n+n/4)
		copy(t, s)
		return t
	}
	if c := n * g.dim; c > cap(g.codes) {
		t := make([]uint8, c, c+c/4)
		copy(t, g.codes)
		g.codes = t
	} else {
		g.codes = g.codes[:c]
	}
	if n > cap(g.scales) {
		t := make([]float32, n, n+n/4)
		copy(t, g.scales)
		g.scales = t
		d := make([]uint16, n, n+n/4)
		copy(d, g.deg)
		g.deg = d
	} else {
		g.scales, g.deg = g.scales[:n], g.deg[:n]
	}
	g.adj = grow(g.adj, n*g.cfg.Degree)
	g.visits = &sync.Pool{New: func() any { return &visited{mark: make([]uint16, n)} }}
}

func (g *Graph) truncate(n int) {
	for r := n; r < len(g.deg); r++ {
		g.deg[r] = 0
	}
	g.n = n
	g.codes, g.scales, g.deg, g.adj = g.codes[:n*g.dim], g.scales[:n], g.deg[:n], g.adj[:n*g.cfg.Degree]
	// Links to dropped rows may have been made from finished rows.
	for r := range n {
		list := g.adj[r*g.cfg.Degree : r*g.cfg.Degree+int(g.deg[r])]
		k := 0
		for _, v := range list {
			if int(v) < n {
				list[k] = v
				k++
			}
		}
		g.deg[r] = uint16(k)
	}
}

// setEntries picks the entry nodes among the first n rows: every
// n/maxEntries-th, or the next row after it that has edges. Only the
// first row of a graph, and rows Consolidate took out, have none: a walk
// could not leave them.
func (g *Graph) setEntries(n int) {
	g.entries = g.entries[:0]
	step := max(1, n/g.cfg.Entries)
	for r := 0; r < n && len(g.entries) < g.cfg.Entries; r += step {
		e := r
		for n > 1 && e < n-1 && g.deg[e] == 0 {
			e++
		}
		if len(g.entries) == 0 || g.entries[len(g.entries)-1] != uint32(e) {
			g.entries = append(g.entries, uint32(e))
		}
	}
}

// neighbours returns row r's edges.
func (g *Graph) neighbours(r uint32) []uint32 {
	at := int(r) * g.cfg.Degree
	return g.adj[at : at+int(g.deg[r])]
}

// stripes are the locks of the rows' edge lists while inserting.
type stripes [4096]sync.Mutex

func (s *stripes) of(r uint32) *sync.Mutex { return &s[r%uint32(len(s))] }
