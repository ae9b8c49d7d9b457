package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

// queryBench is what `bench query --json` prints: latencies of single
// text queries, end to end, in milliseconds.
type queryBench struct {
	Workspace string `json:"workspace"`
	Images    int    `json:"images"`
	Index     string `json:"index"` // "graph" or "exact"
	Queries   int    `json:"queries"`
	Rounds    int    `json:"rounds"`
	TopK      int    `json:"top_k"`
	Hybrid    bool   `json:"hybrid,omitempty"`
	// FirstHybrid is the warm-up's first query of a hybrid run, which
	// builds the keyword index.
	FirstHybrid float64 `json:"first_hybrid_ms,omitempty"`
	P50         float64 `json:"p50_ms"`
	P95         float64 `json:"p95_ms"`
	P99         float64 `json:"p99_ms"`
	EncodeP50   float64 `json:"encode_p50_ms"`
	RestP50     float64 `json:"search_and_documents_p50_ms"`
}

func runBenchQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench query", "--workspace WS [--queries FILE.tsv] [--rounds 5] [--top-k 10] [--hybrid] [--exact] [--json]", stderr)
	wsDir := fs.String("workspace", "", "workspace folder or postgres:// URL")
	file := fs.String("queries", "", "text queries, one a line (a query file of eval --queries works: the part before a tab is the query); default: 40 everyday queries")
	rounds := fs.Int("rounds", 5, "times each query is run")
	topK := fs.Int("top-k", 10, "results per query")
	exact := fs.Bool("exact", false, exactUsage)
	hybrid := fs.Bool("hybrid", false, "hybrid queries (words matched too); the first, which builds the keyword index, is reported apart")
	asJSON := fs.Bool("json", false, "print one JSON object")
	var mf modelFlags
	mf.add(fs, false)
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *wsDir == "" {
		return usagef("--workspace is required")
	}
	if *rounds < 1 || *topK < 1 {
		return usagef("--rounds and --top-k must be at least 1")
	}
	texts := everydayQueries
	if *file != "" {
		cases, err := readQueryFile(*file)
		if err != nil {
			return err
		}
		texts = nil
		for _, c := range cases {
			texts = append(texts, c.Query)
		}
	}
	if len(texts) == 0 {
		return fmt.Errorf("%s: no queries", *file)
	}
	opts, err := mf.options()
	if err != nil {
		return err
	}
	timer := &encodeTimer{}
	eng, err := search.Open(ctx, *wsDir, search.OpenOptions{Model: mf.name, Load: opts, Engine: engineConfig(*exact, stderr),
		Wrap: func(e model.Encoder) model.Encoder { timer.Encoder = e; return timer }})
	if err != nil {
		return err
	}
	defer eng.Close()
	images, _ := eng.Counts()
	res := queryBench{Workspace: workspace.Redacted(*wsDir), Images: images, Index: eng.IndexKind(workspace.Images), Queries: len(texts), Rounds: *rounds, TopK: *topK, Hybrid: *hybrid}

	// One warm-up pass, so that the first queries do not pay for page
	// faults of the mapped files and the model's first allocations.
	for i, t := range texts {
		start := time.Now()
		if _, err := eng.Search(ctx, search.Query{Text: t, TopK: *topK, Hybrid: *hybrid}); err != nil {
			return err
		}
		if i == 0 && *hybrid {
			res.FirstHybrid = ms(time.Since(start))
		}
	}
	var total, enc, rest []float64
	for range *rounds {
		for _, t := range texts {
			timer.reset()
			start := time.Now()
			if _, err := eng.Search(ctx, search.Query{Text: t, TopK: *topK, Hybrid: *hybrid}); err != nil {
				return err
			}
			d := time.Since(start)
			e := timer.took()
			total = append(total, ms(d))
			enc = append(enc, ms(e))
			rest = append(rest, ms(d-e))
		}
	}
	res.P50, res.P95, res.P99 = percentile(total, 50), percentile(total, 95), percentile(total, 99)
	res.EncodeP50, res.RestP50 = percentile(enc, 50), percentile(rest, 50)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "workspace  %s: %d images, searched with the %s index\n", res.Workspace, res.Images, res.Index)
	kind := ""
	if res.Hybrid {
		kind = ", hybrid"
	}
	fmt.Fprintf(stdout, "queries    %d texts × %d rounds, top %d%s, one at a time\n", res.Queries, res.Rounds, res.TopK, kind)
	if res.Hybrid {
		fmt.Fprintf(stdout, "first      %.2f ms (building the keyword index)\n", res.FirstHybrid)
	}
	fmt.Fprintf(stdout, "latency    p50 %.2f ms, p95 %.2f ms, p99 %.2f ms\n", res.P50, res.P95, res.P99)
	fmt.Fprintf(stdout, "p50 parts  encode %.2f ms, search and documents %.2f ms\n", res.EncodeP50, res.RestP50)
	return nil
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

// percentile returns the p-th percentile of xs (nearest rank).
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(len(s)-1, max(0, i))]
}

// encodeTimer wraps an encoder to time its text encoding.
type encodeTimer struct {
	model.Encoder
	mu sync.Mutex
	d  time.Duration
}

func (t *encodeTimer) EncodeTexts(ctx context.Context, texts []string) ([][]float32, error) {
	start := time.Now()
	v, err := t.Encoder.EncodeTexts(ctx, texts)
	t.mu.Lock()
	t.d += time.Since(start)
	t.mu.Unlock()
	return v, err
}

func (t *encodeTimer) reset() { t.mu.Lock(); t.d = 0; t.mu.Unlock() }

func (t *encodeTimer) took() time.Duration { t.mu.Lock(); defer t.mu.Unlock(); return t.d }

// everydayQueries are what newcomers type first: the queries of
// testdata/queries/everyday.tsv.
var everydayQueries = []string{
	"a dog", "a cat", "a bird", "a fish", "a horse", "a cow", "a pizza", "a red apple", "a banana",
	"a cup of coffee", "a birthday cake", "a car", "a bicycle", "an airplane", "a train", "a boat",
	"a house", "a tree", "a flower", "the sun", "the moon", "a mountain", "a smiling face",
	"a crying face", "a red heart", "a guitar", "a clock", "a telephone", "a computer", "a book",
	"a key", "a pair of glasses", "a hat", "a shoe", "a ball", "a camera", "a musical note",
	"an umbrella", "a rocket", "a snowman",
}
