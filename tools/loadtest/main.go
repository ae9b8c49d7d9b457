// Command loadtest measures how many text queries per second an xmodal
// server answers, and their latency, at several concurrency levels.
//
// Against a running server:
//
//	go run ./server/loadtest -url http://localhost:45678 -c 1,8 -d 20s
//
// Or in-process, on a synthetic workspace of random unit vectors (8,000
// images with 5 captions each, the size of Flickr8k), encoded by a model
// with ViT-B/32's shapes and random weights (CPU cost is what matters, not
// the rankings) or by a model folder:
//
//	go run ./server/loadtest -images 8000 -arch ViT-B/32 -c 1,8 -d 20s
//	go run ./server/loadtest -images 8000 -model testdata/clip/model-a
//
// -workspace DIR keeps the synthetic workspace, so that `xmodal serve` can
// serve it later (with -model, the workspace records that model).
//
// Queries go to POST /search (the compatible endpoint) or, with
// -endpoint native, to POST /api/v1/search. The client runs in the same
// machine as the server, as wrk would; the report says how loaded the
// machine was.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/server"
	"github.com/xmodal/xmodal/tokenize"
	"github.com/xmodal/xmodal/workspace"
)

// queries are captions in the style of Flickr8k, sent in turn.
var queries = []string{
	"a boy playing basketball", "a dog runs across the grass", "two children playing in the sand on a beach",
	"a man riding a bicycle down a city street", "a black and white dog jumping over a log",
	"a woman in a red coat walking in the snow", "a group of people sitting at a table in a restaurant",
	"a surfer riding a large wave", "a little girl in a pink dress climbing stairs", "a brown dog swimming in a lake",
	"people walking on a busy sidewalk at night", "a climber scaling a rock face", "a child sliding down a yellow slide",
	"two men playing soccer on a field", "a skateboarder doing a trick on a ramp", "a cat sleeping on a couch",
	"a crowd watching a concert", "a man fishing from a small boat", "a girl blowing bubbles in a park",
	"a horse galloping through a field", "a snowboarder jumping in the air", "an old man reading a newspaper on a bench",
	"a family having a picnic under a tree", "a motorcyclist racing on a track", "children splashing in a fountain",
	"a woman taking a photograph of the ocean", "a dog catching a frisbee in midair", "a man in a suit talking on a phone",
	"two girls laughing together", "a hiker standing on top of a mountain",
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	url := fs.String("url", "", "server to load (e.g. http://localhost:45678); empty: start one in-process on a synthetic workspace")
	images := fs.Int("images", 8000, "in-process: images in the synthetic workspace")
	captionsPer := fs.Int("captions", 5, "in-process: captions per synthetic image")
	arch := fs.String("arch", "ViT-B/32", "in-process: random-weight model of this architecture (ViT-B/32, ViT-B/16, ViT-L/14)")
	modelDir := fs.String("model", "", "in-process: model folder to use instead of -arch")
	tokDir := fs.String("tokenizer", "testdata/clip/model-a", "in-process with -arch: folder with vocab.json and merges.txt")
	wsDir := fs.String("workspace", "", "in-process: keep the synthetic workspace in this folder (reused if it exists)")
	levels := fs.String("c", "1,8", "concurrency levels, comma-separated")
	duration := fs.Duration("d", 20*time.Second, "measuring time per level")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured time before each level")
	endpoint := fs.String("endpoint", "compat", "compat (POST /search) or native (POST /api/v1/search)")
	topK := fs.Int("top-k", 10, "results per query")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var conc []int
	for _, f := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-c %q: want positive numbers", *levels)
		}
		conc = append(conc, n)
	}
	if *endpoint != "compat" && *endpoint != "native" {
		return fmt.Errorf("-endpoint %q: want compat or native", *endpoint)
	}

	base := strings.TrimSuffix(*url, "/")
	if base == "" {
		var stopServer func()
		var err error
		base, stopServer, err = startServer(ctx, *modelDir, *arch, *tokDir, *wsDir, *images, *captionsPer)
		if err != nil {
			return err
		}
		defer stopServer()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: slices.Max(conc) * 2, MaxConnsPerHost: slices.Max(conc) * 2}}
	info, err := describeServer(ctx, client, base)
	if err != nil {
		return err
	}
	fmt.Printf("server %s: %s\n", base, info)
	fmt.Printf("client: %d CPUs, GOMAXPROCS %d; load average before: %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())
	fmt.Printf("endpoint %s, top_k %d, %v per level after %v of warm-up\n\n", *endpoint, *topK, *duration, *warmup)
	fmt.Printf("%-11s %9s %7s %9s %9s %9s %9s %9s %12s\n", "concurrency", "requests", "errors", "queries/s", "p50", "p90", "p99", "max", "text encode")
	for _, c := range conc {
		if _, err := load(ctx, client, base, *endpoint, *topK, c, *warmup); err != nil {
			return err
		}
		mid, _ := encodeStats(ctx, client, base)
		r, err := load(ctx, client, base, *endpoint, *topK, c, *duration)
		if err != nil {
			return err
		}
		after, _ := encodeStats(ctx, client, base)
		enc := "-"
		if n := after.count - mid.count; n > 0 {
			enc = fmt.Sprintf("%.2f ms", (after.sum-mid.sum)/n*1000)
		}
		fmt.Printf("%-11d %9d %7d %9.1f %9s %9s %9s %9s %12s\n", c, r.n, r.errors, float64(r.n)/r.elapsed.Seconds(),
			ms(r.percentile(50)), ms(r.percentile(90)), ms(r.percentile(99)), ms(r.percentile(100)), enc)
		if r.firstErr != nil {
			fmt.Printf("            first error: %v\n", r.firstErr)
		}
	}
	fmt.Printf("\nload average after: %s\n", loadAvg())
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// result is one level's measurements.
type result struct {
	n, errors int
	latencies []time.Duration
	elapsed   time.Duration
	firstErr  error
}

func (r *result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(r.latencies)))) - 1
	return r.latencies[max(0, min(i, len(r.latencies)-1))]
}

// load sends queries from c goroutines, each waiting for its answer before
// sending the next (a closed loop, as wrk does), for d.
func load(ctx context.Context, client *http.Client, base, endpoint string, topK, c int, d time.Duration) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	path := base + "/search"
	if endpoint == "native" {
		path = base + "/api/v1/search"
	}
	var mu sync.Mutex
	res := &result{}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var lat []time.Duration
			var errs int
			var firstErr error
			for ctx.Err() == nil {
				q := queries[rng.IntN(len(queries))]
				var body []byte
				if endpoint == "native" {
					body, _ = json.Marshal(map[string]any{"text": q, "top_k": topK})
				} else {
					body, _ = json.Marshal(map[string]any{"top_k": topK, "mode": "search", "data": []string{q}})
				}
				t0 := time.Now()
				err := post(ctx, client, path, body)
				if ctx.Err() != nil {
					break // cut off by the end of the level: not counted
				}
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.n = len(res.latencies)
	slices.Sort(res.latencies)
	if res.n == 0 && res.errors > 0 {
		return nil, fmt.Errorf("every request failed: %w", res.firstErr)
	}
	return res, nil
}

func post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("%s: %s", res.Status, bytes.TrimSpace(data))
	}
	return nil
}

// describeServer waits until the server is ready and summarises its
// workspace and model.
func describeServer(ctx context.Context, client *http.Client, base string) (string, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/stats", nil)
		res, err := client.Do(req)
		if err == nil {
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				var st struct {
					Searchable struct{ Images, Captions int }
					Model      workspace.Model
				}
				if err := json.Unmarshal(data, &st); err != nil {
					return "", fmt.Errorf("stats: %w", err)
				}
				return fmt.Sprintf("%d images, %d captions, model %s (%d-d)", st.Searchable.Images, st.Searchable.Captions, st.Model.Name, st.Model.Dim), nil
			}
			err = fmt.Errorf("stats: %s", res.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", fmt.Errorf("server not ready: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type encodeTotals struct{ sum, count float64 }

// encodeStats reads the text encoder's total time and calls from /metrics.
func encodeStats(ctx context.Context, client *http.Client, base string) (encodeTotals, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	res, err := client.Do(req)
	if err != nil {
		return encodeTotals{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return encodeTotals{}, err
	}
	var t encodeTotals
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch name {
		case `xmodal_encode_duration_seconds_sum{kind="text"}`:
			t.sum = v
		case `xmodal_encode_duration_seconds_count{kind="text"}`:
			t.count = v
		}
	}
	return t, nil
}

// loadAvg is the first three fields of /proc/loadavg, where there is one.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// startServer serves a synthetic workspace in-process and returns its URL.
func startServer(ctx context.Context, modelDir, arch, tokDir, wsDir string, images, captionsPer int) (string, func(), error) {
	m, err := loadModel(modelDir, arch, tokDir)
	if err != nil {
		return "", nil, err
	}
	ident, err := identity(m, arch)
	if err != nil {
		return "", nil, err
	}
	if wsDir == "" {
		tmp, err := os.MkdirTemp("", "xmodal-loadtest-")
		if err != nil {
			return "", nil, err
		}
		wsDir = tmp
		defer func() {
			if err != nil {
				os.RemoveAll(tmp)
			}
		}()
	}
	if err = synthesise(ctx, wsDir, ident, images, captionsPer); err != nil {
		return "", nil, err
	}
	ws, err := workspace.Open(wsDir)
	if err != nil {
		return "", nil, err
	}
	srv, err := server.New(server.Options{})
	if err != nil {
		return "", nil, err
	}
	eng, err := search.New(ctx, srv.InstrumentEncoder(m), ws)
	if err != nil {
		return "", nil, err
	}
	srv.SetEngine(eng)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(sctx, ln); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: server:", err)
		}
	}()
	stop := func() {
		cancel()
		<-done
		ws.Close()
		m.Close()
		if strings.HasPrefix(filepath.Base(wsDir), "xmodal-loadtest-") {
			os.RemoveAll(wsDir)
		}
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func loadModel(modelDir, arch, tokDir string) (model.Encoder, error) {
	if modelDir != "" {
		return model.Load(modelDir, model.Options{})
	}
	cfg, err := clip.Arch(arch)
	if err != nil {
		return nil, err
	}
	m, err := clip.Random(cfg, 1)
	if err != nil {
		return nil, err
	}
	if m.Tokenizer, err = tokenize.Load(tokDir); err != nil {
		return nil, fmt.Errorf("tokenizer for the random model: %w (see -tokenizer)", err)
	}
	return model.NewCLIP(m), nil
}

// identity is the model as the workspace records it; a random model is
// named by its architecture.
func identity(m model.Encoder, arch string) (workspace.Model, error) {
	ident, err := search.Identity(m)
	if err == nil && m.Name() == "" {
		ident.Name = "random " + arch
	}
	return ident, err
}

// synthesise fills a workspace with random unit vectors: images and their
// captions, in batches. A workspace that already holds enough images is
// used as it is.
func synthesise(ctx context.Context, dir string, model workspace.Model, images, captionsPer int) error {
	if ws, err := workspace.Open(dir); err == nil {
		st, err := ws.Stats(ctx)
		ws.Close()
		if err == nil && st.Images >= images {
			fmt.Fprintf(os.Stderr, "loadtest: using workspace %s (%d images)\n", dir, st.Images)
			return nil
		}
	} else if !errors.Is(err, workspace.ErrNotExist) {
		return err
	}
	w, err := workspace.Create(dir, model)
	if err != nil {
		return err
	}
	defer w.Close()
	rng := rand.New(rand.NewPCG(42, 7))
	unit := func() []float32 {
		v := make([]float32, model.Dim)
		var n float64
		for i := range v {
			v[i] = float32(rng.NormFloat64())
			n += float64(v[i]) * float64(v[i])
		}
		inv := float32(1 / math.Sqrt(n))
		for i := range v {
			v[i] *= inv
		}
		return v
	}
	start := time.Now()
	const batch = 500
	for from := 0; from < images; from += batch {
		var docs []workspace.NewImage
		for i := from; i < min(from+batch, images); i++ {
			doc := workspace.NewImage{
				Key: fmt.Sprintf("synthetic/%05d.jpg", i), Path: fmt.Sprintf("/nonexistent/synthetic/%05d.jpg", i),
				SHA256: fmt.Sprintf("%064x", i), Size: 1, Vector: unit(),
			}
			for c := range captionsPer {
				doc.Captions = append(doc.Captions, queries[(i+c)%len(queries)]+fmt.Sprintf(" (%d.%d)", i, c))
				doc.CaptionVectors = append(doc.CaptionVectors, unit())
			}
			docs = append(docs, doc)
		}
		if err := w.Add(ctx, docs, nil); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "loadtest: synthesised %d images and %d captions (%d-d) in %s in %v\n", images, images*captionsPer, model.Dim, dir, time.Since(start).Round(time.Millisecond))
	return nil
}
