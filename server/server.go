// Package server is xmodal's HTTP front end: the REST API that the original
// Jina cross-modal example spoke (POST /search), a native JSON API under
// /api/v1 described by an OpenAPI document, the operational endpoints
// (/healthz, /readyz, /metrics) and an embedded web UI.
//
// The server is a thin shell over search.Engine: it parses requests, guards
// limits, encodes queries with the engine's encoder and turns hits into
// JSON. It can start listening before the engine is loaded; until SetEngine
// is called, /readyz and every endpoint that needs the engine answer 503.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmodal/xmodal/search"
)

// Defaults for the zero fields of Options.
const (
	DefaultMaxBodyBytes   = 20 << 20
	DefaultMaxPixels      = 40_000_000
	DefaultMaxQueries     = 64
	DefaultThumbnailCache = 64 << 20
	DefaultRequestTimeout = time.Minute
	DefaultReadTimeout    = 30 * time.Second
	DefaultIdleTimeout    = time.Minute
	DefaultMaxConns       = 512
	DefaultMaxQueue       = 64
)

// Options configure a Server. The zero value is usable: zero fields take
// the defaults above.
type Options struct {
	// Logger receives errors, panics and, with AccessLog, one line per
	// request. Nil discards everything.
	Logger *slog.Logger
	// AccessLog logs every request at Info level.
	AccessLog bool
	// ReadOnly refuses POST and DELETE on /api/v1/images.
	ReadOnly bool
	// BaseURL, if set (e.g. "https://search.example.org"), is used to build
	// the absolute image URLs of POST /search instead of the request's Host.
	BaseURL string
	// CORSOrigin is the Access-Control-Allow-Origin of the read endpoints;
	// empty means "*".
	CORSOrigin string

	// MaxBodyBytes caps request bodies (default 20 MiB).
	MaxBodyBytes int64
	// MaxPixels caps the decoded size of uploaded images, checked from the
	// header before any pixel is decoded (default 40 megapixels).
	MaxPixels int64
	// MaxQueries caps the queries of one POST /search (default 64).
	MaxQueries int
	// ThumbnailCacheBytes bounds the in-memory thumbnail cache (default
	// 64 MiB).
	ThumbnailCacheBytes int64
	// RequestTimeout bounds the work of one API request (default 1 minute).
	RequestTimeout time.Duration
	// ReadTimeout bounds the reading of a whole request, headers and body
	// (default 30 s): a client that sends a body slowly, or never finishes
	// it, loses its connection (408 when it can still read the answer).
	// Uploads of MaxBodyBytes need MaxBodyBytes/ReadTimeout of bandwidth.
	ReadTimeout time.Duration
	// IdleTimeout closes kept-alive connections idle this long (default
	// 1 minute).
	IdleTimeout time.Duration
	// MaxConns caps the open connections (default 512); one more is
	// answered 503 with Retry-After and closed.
	MaxConns int
	// MaxEncodes bounds the model calls in flight (default GOMAXPROCS, at
	// least 2), MaxQueue the requests waiting for one (default 64); one more
	// is answered 503 with Retry-After at once.
	MaxEncodes, MaxQueue int
	// ImageWorkers bounds how many uploaded images are decoded and encoded
	// at once, which bounds memory (default GOMAXPROCS, at least 2).
	ImageWorkers int
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.CORSOrigin == "" {
		o.CORSOrigin = "*"
	}
	def64 := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def64(&o.MaxBodyBytes, DefaultMaxBodyBytes)
	def64(&o.MaxPixels, DefaultMaxPixels)
	def64(&o.ThumbnailCacheBytes, DefaultThumbnailCache)
	def(&o.MaxQueries, DefaultMaxQueries)
	def(&o.ImageWorkers, max(2, runtime.GOMAXPROCS(0)))
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.RequestTimeout, DefaultRequestTimeout}, {&o.ReadTimeout, DefaultReadTimeout}, {&o.IdleTimeout, DefaultIdleTimeout}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	def(&o.MaxConns, DefaultMaxConns)
	def(&o.MaxEncodes, max(2, runtime.GOMAXPROCS(0)))
	def(&o.MaxQueue, DefaultMaxQueue)
}

// Server serves one search.Engine over HTTP. Create it with New.
type Server struct {
	opts    Options
	log     *slog.Logger
	eng     atomic.Pointer[search.Engine]
	metrics *metrics
	thumbs  *thumbCache
	// images is a semaphore bounding concurrent image decodes and encodes.
	images  chan struct{}
	encodes *gate // model calls in flight and waiting
	// dups lets one duplicate search run at a time: it compares every
	// image, and a second at once would only halve the speed of both.
	dups    sync.Mutex
	conns   atomic.Pointer[connLimiter] // set by Serve
	handler http.Handler
	static  *staticFiles
	csrf    *http.CrossOriginProtection
	started time.Time
}

// New returns a server that is not ready until SetEngine is called.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	static, err := newStaticFiles()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		metrics: newMetrics(),
		thumbs:  newThumbCache(opts.ThumbnailCacheBytes),
		images:  make(chan struct{}, opts.ImageWorkers),
		encodes: newGate(opts.MaxEncodes, opts.MaxQueue),
		static:  static,
		csrf:    http.NewCrossOriginProtection(),
		started: time.Now(),
	}
	s.handler = s.routes()
	return s, nil
}

// SetEngine makes the server ready to answer queries with e. It may be
// called once the model and the workspace are loaded, while the server is
// already listening.
func (s *Server) SetEngine(e *search.Engine) { s.eng.Store(e) }

// Ready reports whether SetEngine was called.
func (s *Server) Ready() bool { return s.eng.Load() != nil }

// Handler is the server's HTTP handler, with its middleware: panic
// recovery, metrics, CORS, security headers and the body size cap.
func (s *Server) Handler() http.Handler { return s.handler }

// MaxHeaderBytes caps a request's header lines (64 KiB); more gets 431.
const MaxHeaderBytes = 64 << 10

// ShutdownTimeout is how long Serve waits for requests in flight once its
// context is cancelled.
const ShutdownTimeout = 15 * time.Second

// Serve answers requests on ln until ctx is cancelled, then stops accepting
// connections and waits up to ShutdownTimeout for requests in flight.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler: s.handler,
		// ReadTimeout covers the headers and the body: a request that
		// arrives slowly, or never ends, cannot hold its connection longer.
		ReadHeaderTimeout: min(10*time.Second, s.opts.ReadTimeout),
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.ReadTimeout + s.opts.RequestTimeout + 10*time.Second,
		IdleTimeout:       s.opts.IdleTimeout,
		// Go's own answer to oversized headers is plain text: allow more
		// here and answer limitHeaders' JSON 431 instead.
		MaxHeaderBytes: 4 * MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	limited := newConnLimiter(ln, s.opts.MaxConns)
	s.conns.Store(limited)
	ln = limited
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// engine returns the engine, or nil before SetEngine.
func (s *Server) engine() *search.Engine { return s.eng.Load() }

// errNotReady answers requests that arrive before the engine is loaded.
var errNotReady = &httpError{status: http.StatusServiceUnavailable, msg: "not ready: the model and workspace are still loading; retry shortly", retryAfter: "1"}

// routes builds the request router. Patterns carry no method so that a
// wrong method gets a JSON 405 from the handler rather than the mux's plain
// text one.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.table() {
		mux.Handle(rt.pattern, s.dispatch(rt))
	}
	// instrument is outermost so that it counts the 500s of recoverPanics.
	return s.instrument(s.recoverPanics(s.cors(securityHeaders(limitHeaders(s.limitBody(mux))))))
}

// route is one endpoint: a pattern and a handler per method.
type route struct {
	pattern string
	methods map[string]apiFunc
}

// apiFunc is a handler that returns its error instead of writing it.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// table lists every endpoint; the OpenAPI test checks it against
// openapi.json.
func (s *Server) table() []route {
	return []route{
		{"/search", map[string]apiFunc{"POST": s.compatSearch}},
		{"/api/v1/search", map[string]apiFunc{"GET": s.apiSearch, "POST": s.apiSearch}},
		{"/api/v1/images", map[string]apiFunc{"POST": s.mutating(s.apiAddImage)}},
		{"/api/v1/images/{id}", map[string]apiFunc{"GET": s.apiGetImage, "DELETE": s.mutating(s.apiDeleteImage)}},
		{"/api/v1/images/{id}/file", map[string]apiFunc{"GET": s.apiImageFile}},
		{"/api/v1/images/{id}/thumbnail", map[string]apiFunc{"GET": s.apiThumbnail}},
		{"/api/v1/stats", map[string]apiFunc{"GET": s.apiStats}},
		{"/api/v1/duplicates", map[string]apiFunc{"GET": s.apiDuplicates}},
		{"/api/v1/openapi.json", map[string]apiFunc{"GET": s.apiOpenAPI}},
		{"/healthz", map[string]apiFunc{"GET": s.healthz}},
		{"/readyz", map[string]apiFunc{"GET": s.readyz}},
		{"/metrics", map[string]apiFunc{"GET": s.serveMetrics}},
		{"/{$}", map[string]apiFunc{"GET": s.static.serveIndex}},
		{"/static/", map[string]apiFunc{"GET": s.static.serveAsset}},
		{"/", map[string]apiFunc{"GET": notFound, "POST": notFound, "PUT": notFound, "DELETE": notFound, "PATCH": notFound}},
	}
}

// dispatch calls the route's handler for the request's method and writes
// its error, if any, as JSON.
func (s *Server) dispatch(rt route) http.Handler {
	allow := allowHeader(rt.methods)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := rt.methods[r.Method]
		if !ok && r.Method == http.MethodHead {
			h, ok = rt.methods[http.MethodGet]
		}
		if !ok {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// mutating guards the endpoints that change the workspace: refused in
// read-only mode and from other origins' pages (they could otherwise post
// forms to a server on localhost).
func (s *Server) mutating(h apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.opts.ReadOnly {
			return errorf(http.StatusForbidden, "the server is read-only (started with --read-only)")
		}
		if err := s.csrf.Check(r); err != nil {
			return errorf(http.StatusForbidden, "cross-origin %s requests that change the workspace are refused: %v", r.Method, err)
		}
		return h(w, r)
	}
}

func notFound(w http.ResponseWriter, r *http.Request) error {
	return errorf(http.StatusNotFound, "no such endpoint: %s %s (see /api/v1/openapi.json)", r.Method, r.URL.Path)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if !s.Ready() {
		w.Header().Set("Retry-After", "1")
		return writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "loading"})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}
