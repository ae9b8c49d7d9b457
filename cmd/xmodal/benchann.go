package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xmodal/xmodal/index"
	"github.com/xmodal/xmodal/internal/mmap"
	"github.com/xmodal/xmodal/nn"
)

// annResult is what `bench ann --json` prints.
type annResult struct {
	Base          int     `json:"base"`
	QueriesFile   string  `json:"queries_file"`
	Queries       int     `json:"queries"`
	Dim           int     `json:"dim"`
	K             int     `json:"k"`
	Threads       int     `json:"threads"`
	BuildS        float64 `json:"build_s"`
	QPS           float64 `json:"qps"`
	RecallTarget  float64 `json:"recall_target"`
	RecallTuned   float64 `json:"recall_tuned"`
	TuningQueries int     `json:"tuning_queries"`
	IndexBytes    int64   `json:"index_bytes"`
	BytesPerVec   float64 `json:"index_bytes_per_vector"`

	Effort      int     `json:"effort"`
	Degree      int     `json:"degree"`
	BuildEffort int     `json:"build_effort"`
	Alpha       float32 `json:"alpha"`
	Entries     int     `json:"entries"`
	Quantised   string  `json:"quantised"`
	Rerank      string  `json:"rerank"`
	CPU         string  `json:"cpu"`
}

// tuningQueries is how many queries, spread evenly over Q, set the effort.
const tuningQueries = 500

func runBenchANN(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench ann", "--base BASE.f32 --queries Q.f32 --dim D [--k 10] [--recall 0.95] [--threads N] [--out NEIGHBORS.i32] [--degree 32] [--build-effort 96] [--entries 256] [--json]", stderr)
	basePath := fs.String("base", "", "vectors to index: row-major little-endian float32, unit length")
	queryPath := fs.String("queries", "", "query vectors, in the same format; several files, comma-separated, are measured in turn on one build")
	dim := fs.Int("dim", 0, "dimension of the vectors")
	k := fs.Int("k", 10, "neighbours per query")
	targetList := fs.String("recall", "0.95", "recall@k, against exact search on a sample of the queries, that the search effort is tuned to; several (0.9,0.95,0.99) measure each on one build, one JSON object each")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "threads building the index and answering queries")
	outPath := fs.String("out", "", "write the k neighbour row numbers of every query here, as little-endian int32 (with several query files or --recall values, to OUT.QUERYFILE.RECALL)")
	degree := fs.Int("degree", 0, "graph degree (0: the default, 32)")
	buildEffort := fs.Int("build-effort", 0, "candidate list size while building (0: the default, 96)")
	entries := fs.Int("entries", 0, "entry nodes searches start from (0: the default, 256)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	switch {
	case *basePath == "" || *queryPath == "":
		return usagef("--base and --queries are required")
	case *dim < 1:
		return usagef("--dim must be at least 1")
	case *k < 1:
		return usagef("--k must be at least 1")
	case *threads < 1:
		return usagef("--threads must be at least 1")
	}
	var targets []float64
	for _, f := range strings.Split(*targetList, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 1 {
			return usagef("--recall %q: want fractions in (0, 1], comma-separated", *targetList)
		}
		targets = append(targets, v)
	}
	base, unmapBase, err := mapVectors(*basePath, *dim)
	if err != nil {
		return err
	}
	defer unmapBase()
	prev := runtime.GOMAXPROCS(*threads)
	defer runtime.GOMAXPROCS(prev)

	res := annResult{Base: base.Len(), Dim: *dim, K: *k, Threads: *threads,
		Quantised: "int8 per vector", Rerank: "float32, mapped", CPU: nn.CPUFeatures()}
	fmt.Fprintf(stderr, "building a graph over %d vectors of %d dims with %d threads\n", base.Len(), *dim, *threads)
	g := index.NewGraph(*dim, index.GraphConfig{Degree: *degree, BuildEffort: *buildEffort, Threads: *threads, Entries: *entries})
	start := time.Now()
	report := newRateReporter(stderr, "inserted", base.Len())
	if err := g.Add(ctx, base.Data, report.update); err != nil {
		return err
	}
	res.BuildS = time.Since(start).Seconds()
	res.IndexBytes = g.Bytes()
	res.BytesPerVec = float64(res.IndexBytes) / float64(max(1, base.Len()))
	cfg := g.Config()
	res.Degree, res.BuildEffort, res.Alpha, res.Entries = cfg.Degree, cfg.BuildEffort, cfg.Alpha, cfg.Entries
	fmt.Fprintf(stderr, "built in %.1fs, %.0f bytes per vector beyond the float32 rows\n", res.BuildS, res.BytesPerVec)

	paths := strings.Split(*queryPath, ",")
	for _, path := range paths {
		qm, unmapQ, err := mapVectors(path, *dim)
		if err != nil {
			return err
		}
		queries := make([][]float32, qm.Len())
		for i := range queries {
			queries[i] = qm.Row(i)
		}
		res.QueriesFile, res.Queries = path, len(queries)
		sample := spread(queries, tuningQueries)
		res.TuningQueries = len(sample)
		truth, err := index.Exact(base, sample, *k, nil)
		if err != nil {
			unmapQ()
			return err
		}
		for _, target := range targets {
			res.RecallTarget = target
			out := *outPath
			if out != "" && len(paths) > 1 {
				out += "." + filepath.Base(path)
			}
			if out != "" && len(targets) > 1 {
				out += "." + strconv.FormatFloat(target, 'f', -1, 64)
			}
			if err == nil {
				err = answerANN(ctx, g, base, queries, sample, truth, *k, *threads, out, &res, stderr)
			}
			if err == nil {
				err = printANN(res, *asJSON, stdout)
			}
		}
		unmapQ()
		if err != nil {
			return err
		}
	}
	return nil
}

// answerANN tunes the effort to res.RecallTarget, answers every query and
// records the speed in res.
func answerANN(ctx context.Context, g *index.Graph, base index.Matrix, queries, sample [][]float32, truth [][]index.Hit, k, threads int, outPath string, res *annResult, stderr io.Writer) error {
	opts := index.SearchOptions{Rerank: base}
	var err error
	res.Effort, res.RecallTuned, err = g.TuneEffort(sample, truth, k, res.RecallTarget, opts)
	if err != nil {
		return err
	}
	opts.Effort = res.Effort
	fmt.Fprintf(stderr, "effort %d gives recall@%d %.4f on %d tuning queries\n", res.Effort, k, res.RecallTuned, len(sample))

	// Every query is answered; rounds repeat until a second has passed,
	// so that a fast index is timed over more than a few milliseconds.
	out := make([][]index.Hit, len(queries))
	answered := 0
	start := time.Now()
	for answered == 0 || time.Since(start) < time.Second {
		if err := answerAll(ctx, g, queries, k, threads, opts, out); err != nil {
			return err
		}
		answered += len(queries)
	}
	res.QPS = float64(answered) / time.Since(start).Seconds()
	fmt.Fprintf(stderr, "answered %d queries: %.0f queries/s\n", len(queries), res.QPS)

	if outPath != "" {
		if err := writeNeighbours(outPath, out, k); err != nil {
			return err
		}
	}
	return nil
}

// answerAll answers the queries with threads goroutines into out.
func answerAll(ctx context.Context, g *index.Graph, queries [][]float32, k, threads int, opts index.SearchOptions, out [][]index.Hit) error {
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	chunk := (len(queries) + threads - 1) / threads
	for lo := 0; lo < len(queries); lo += chunk {
		hi := min(len(queries), lo+chunk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Searched a few at a time so that cancelling stops soon.
			for at := lo; at < hi && ctx.Err() == nil; at += 64 {
				end := min(hi, at+64)
				hits, err := g.Search(queries[at:end], k, nil, opts)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				copy(out[at:end], hits)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// printANN prints one result of bench ann.
func printANN(res annResult, asJSON bool, stdout io.Writer) error {
	if asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "vectors    %d × %d, %d queries, k %d, %d threads, %s\n", res.Base, res.Dim, res.Queries, res.K, res.Threads, res.CPU)
	fmt.Fprintf(stdout, "graph      degree %d, build effort %d, α %.2f, built in %.1f s\n", res.Degree, res.BuildEffort, res.Alpha, res.BuildS)
	fmt.Fprintf(stdout, "memory     %.1f MB (%.0f bytes a vector) beyond the float32 rows\n", float64(res.IndexBytes)/1e6, res.BytesPerVec)
	fmt.Fprintf(stdout, "search     effort %d: recall@%d %.4f on %d tuning queries, %.0f queries/s\n", res.Effort, res.K, res.RecallTuned, res.TuningQueries, res.QPS)
	return nil
}

// mapVectors maps a file of float32 rows.
func mapVectors(path string, dim int) (index.Matrix, func() error, error) {
	b, unmap, err := mmap.File(path)
	if err != nil {
		return index.Matrix{}, nil, err
	}
	if len(b)%(4*dim) != 0 {
		unmap()
		return index.Matrix{}, nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-dimensional float32 rows", path, len(b), dim)
	}
	f, err := mmap.Float32s(b)
	if err != nil {
		unmap()
		return index.Matrix{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f) == 0 {
		unmap()
		return index.Matrix{}, nil, fmt.Errorf("%s: no vectors", path)
	}
	return index.Matrix{Data: f, Dim: dim}, unmap, nil
}

// spread picks at most n items evenly from xs.
func spread[T any](xs []T, n int) []T {
	if len(xs) <= n {
		return xs
	}
	out := make([]T, n)
	for i := range out {
		out[i] = xs[i*len(xs)/n]
	}
	return out
}

// writeNeighbours writes k row numbers per query; -1 pads a short list.
func writeNeighbours(path string, hits [][]index.Hit, k int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	var buf [4]byte
	for _, hs := range hits {
		for i := range k {
			v := int32(-1)
			if i < len(hs) {
				v = int32(hs[i].Row)
			}
			binary.LittleEndian.PutUint32(buf[:], uint32(v))
			w.Write(buf[:])
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
