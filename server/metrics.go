package server

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/workspace"
)

// The metrics are written in the Prometheus text exposition format by hand:
// a handful of counters and histograms do not justify a dependency.

// latencyBuckets are the upper bounds, in seconds, of the latency
// histograms: from a cached thumbnail to an image query on a slow CPU.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// histogram is a Prometheus histogram; its owner locks it.
type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(latencyBuckets, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

type requestKey struct {
	route, method string
	code          int
}

// metrics holds the server's counters.
type metrics struct {
	mu           sync.Mutex
	requests     map[requestKey]uint64
	latency      map[string]*histogram // by route
	encode       map[string]*histogram // by input kind, per call
	encodedItems map[string]uint64     // by input kind

	panics      atomic.Uint64
	thumbHits   atomic.Uint64
	thumbMisses atomic.Uint64
}

func newMetrics() *metrics {
	return &metrics{
		requests:     map[requestKey]uint64{},
		latency:      map[string]*histogram{},
		encode:       map[string]*histogram{},
		encodedItems: map[string]uint64{},
	}
}

// knownMethods bounds the method label: anything else is "OTHER", so that
// clients cannot grow the metrics without bound.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

func (m *metrics) observeRequest(route, method string, code int, d time.Duration) {
	if !knownMethods[method] {
		method = "OTHER"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{route, method, code}]++
	h := m.latency[route]
	if h == nil {
		h = newHistogram()
		m.latency[route] = h
	}
	h.observe(d.Seconds())
}

func (m *metrics) observeEncode(kind string, items int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.encode[kind]
	if h == nil {
		h = newHistogram()
		m.encode[kind] = h
	}
	h.observe(d.Seconds())
	m.encodedItems[kind] += uint64(items)
}

// timedEncoder admits encoder calls through the server's gate and reports
// their time to the metrics.
type timedEncoder struct {
	model.Encoder
	m    *metrics
	gate *gate
}

func (t timedEncoder) EncodeTexts(ctx context.Context, texts []string) ([][]float32, error) {
	release, err := t.gate.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	start := time.Now()
	v, err := t.Encoder.EncodeTexts(ctx, texts)
	t.m.observeEncode("text", len(texts), time.Since(start))
	return v, err
}

func (t timedEncoder) EncodePixels(ctx context.Context, pixels [][]float32) ([][]float32, error) {
	release, err := t.gate.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	start := time.Now()
	v, err := t.Encoder.EncodePixels(ctx, pixels)
	t.m.observeEncode("image", len(pixels), time.Since(start))
	return v, err
}

// InstrumentEncoder wraps enc so that the time it spends encoding appears
// in /metrics (xmodal_encode_duration_seconds). Build the engine given to
// SetEngine on the wrapped encoder.
func (s *Server) InstrumentEncoder(enc model.Encoder) model.Encoder {
	return timedEncoder{Encoder: enc, m: s.metrics, gate: s.encodes}
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	s.writeMetrics(r.Context(), bw)
	return bw.Flush()
}

// writeMetrics writes every metric in the text exposition format, series
// sorted so that the output is stable.
func (s *Server) writeMetrics(ctx context.Context, w io.Writer) {
	m := s.metrics
	m.mu.Lock()
	reqKeys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		reqKeys = append(reqKeys, k)
	}
	slices.SortFunc(reqKeys, func(a, b requestKey) int {
		return cmp.Or(strings.Compare(a.route, b.route), strings.Compare(a.method, b.method), cmp.Compare(a.code, b.code))
	})
	header(w, "xmodal_http_requests_total", "counter", "HTTP requests answered, by route pattern, method and status code.")
	for _, k := range reqKeys {
		fmt.Fprintf(w, "xmodal_http_requests_total{route=%s,method=%s,code=\"%d\"} %d\n", quote(k.route), quote(k.method), k.code, m.requests[k])
	}
	header(w, "xmodal_http_request_duration_seconds", "histogram", "Time to answer an HTTP request, by route pattern.")
	writeHistograms(w, "xmodal_http_request_duration_seconds", "route", m.latency)
	header(w, "xmodal_encode_duration_seconds", "histogram", "Time of one call to the model's text or image tower (a call may encode several inputs).")
	writeHistograms(w, "xmodal_encode_duration_seconds", "kind", m.encode)
	header(w, "xmodal_encoded_inputs_total", "counter", "Texts and images encoded by the model.")
	for _, kind := range sortedKeys(m.encodedItems) {
		fmt.Fprintf(w, "xmodal_encoded_inputs_total{kind=%s} %d\n", quote(kind), m.encodedItems[kind])
	}
	m.mu.Unlock()

	header(w, "xmodal_http_panics_total", "counter", "Handler panics recovered (each answered with a 500 and logged).")
	fmt.Fprintf(w, "xmodal_http_panics_total %d\n", m.panics.Load())
	if c := s.conns.Load(); c != nil {
		header(w, "xmodal_http_open_connections", "gauge", "Connections open now.")
		fmt.Fprintf(w, "xmodal_http_open_connections %d\n", c.open.Load())
		header(w, "xmodal_http_refused_connections_total", "counter", "Connections answered 503 because MaxConns were open.")
		fmt.Fprintf(w, "xmodal_http_refused_connections_total %d\n", c.refused.Load())
	}
	header(w, "xmodal_encodes_waiting", "gauge", "Requests waiting for a model call slot.")
	fmt.Fprintf(w, "xmodal_encodes_waiting %d\n", s.encodes.waiting.Load())
	header(w, "xmodal_encodes_refused_total", "counter", "Requests answered 503 because MaxQueue others were waiting for the model.")
	fmt.Fprintf(w, "xmodal_encodes_refused_total %d\n", s.encodes.refused.Load())
	header(w, "xmodal_thumbnail_cache_requests_total", "counter", "Thumbnail requests by cache result.")
	fmt.Fprintf(w, "xmodal_thumbnail_cache_requests_total{result=\"hit\"} %d\n", m.thumbHits.Load())
	fmt.Fprintf(w, "xmodal_thumbnail_cache_requests_total{result=\"miss\"} %d\n", m.thumbMisses.Load())
	entries, size := s.thumbs.usage()
	header(w, "xmodal_thumbnail_cache_bytes", "gauge", "Bytes of thumbnails held in memory.")
	fmt.Fprintf(w, "xmodal_thumbnail_cache_bytes %d\n", size)
	header(w, "xmodal_thumbnail_cache_entries", "gauge", "Thumbnails held in memory.")
	fmt.Fprintf(w, "xmodal_thumbnail_cache_entries %d\n", entries)

	ready := 0
	if e := s.engine(); e != nil {
		ready = 1
		images, captions := e.Counts()
		header(w, "xmodal_workspace_documents", "gauge", "Searchable documents in the workspace, by kind.")
		fmt.Fprintf(w, "xmodal_workspace_documents{kind=%s} %d\n", quote(string(workspace.Images)), images)
		fmt.Fprintf(w, "xmodal_workspace_documents{kind=%s} %d\n", quote(string(workspace.Captions)), captions)
		model := e.Workspace().Manifest().Model
		header(w, "xmodal_model_info", "gauge", "The model the workspace was built with (always 1).")
		fmt.Fprintf(w, "xmodal_model_info{name=%s,id=%s,dim=\"%d\"} 1\n", quote(model.Name), quote(model.ID), model.Dim)
		if ws := e.Workspace(); ws.InDatabase() {
			writeQueueMetrics(ctx, w, ws)
		}
	}
	header(w, "xmodal_ready", "gauge", "1 once the model and workspace are loaded.")
	fmt.Fprintf(w, "xmodal_ready %d\n", ready)
	header(w, "process_start_time_seconds", "gauge", "Start time of the server since the Unix epoch.")
	fmt.Fprintf(w, "process_start_time_seconds %d\n", s.started.Unix())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	header(w, "go_goroutines", "gauge", "Goroutines that currently exist.")
	fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
	header(w, "go_memstats_heap_alloc_bytes", "gauge", "Bytes of allocated heap objects.")
	fmt.Fprintf(w, "go_memstats_heap_alloc_bytes %d\n", ms.HeapAlloc)
}

// writeQueueMetrics reports a database workspace's job queue, which every
// replica sees alike: scrape one.
func writeQueueMetrics(ctx context.Context, w io.Writer, ws *workspace.Workspace) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	q, err := ws.Queue(ctx)
	if err != nil {
		return // the scrape goes on without them; serving is unaffected
	}
	header(w, "xmodal_queue_jobs", "gauge", "Jobs of the workspace's encoding queue, by state.")
	for _, st := range []struct {
		state string
		n     int
	}{{"todo", q.Jobs - q.JobsDone - q.JobsFailed - q.JobsLeased}, {"leased", q.JobsLeased}, {"done", q.JobsDone}, {"failed", q.JobsFailed}} {
		fmt.Fprintf(w, "xmodal_queue_jobs{state=%s} %d\n", quote(st.state), st.n)
	}
	header(w, "xmodal_queue_images", "gauge", "Images of the workspace's encoding queue, by state.")
	fmt.Fprintf(w, "xmodal_queue_images{state=\"queued\"} %d\n", q.Images)
	fmt.Fprintf(w, "xmodal_queue_images{state=\"done\"} %d\n", q.ImagesDone)
	fmt.Fprintf(w, "xmodal_queue_images{state=\"failed\"} %d\n", q.ImagesFailed)
	header(w, "xmodal_worker_images_total", "counter", "Images each worker has committed.")
	for _, wk := range q.Workers {
		fmt.Fprintf(w, "xmodal_worker_images_total{worker=%s} %d\n", quote(wk.Name), wk.Images)
	}
	header(w, "xmodal_worker_last_seen_seconds", "gauge", "When each worker last claimed or completed a job, since the Unix epoch.")
	for _, wk := range q.Workers {
		fmt.Fprintf(w, "xmodal_worker_last_seen_seconds{worker=%s} %d\n", quote(wk.Name), wk.Seen.Unix())
	}
}

func header(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func writeHistograms(w io.Writer, name, label string, hs map[string]*histogram) {
	for _, key := range sortedKeys(hs) {
		h := hs[key]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "%s_bucket{%s=%s,le=\"%s\"} %d\n", name, label, quote(key), formatFloat(le), cum)
		}
		fmt.Fprintf(w, "%s_bucket{%s=%s,le=\"+Inf\"} %d\n", name, label, quote(key), h.n)
		fmt.Fprintf(w, "%s_sum{%s=%s} %s\n", name, label, quote(key), formatFloat(h.sum))
		fmt.Fprintf(w, "%s_count{%s=%s} %d\n", name, label, quote(key), h.n)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// quote writes a label value: backslash, double quote and newline escaped.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func formatFloat(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
