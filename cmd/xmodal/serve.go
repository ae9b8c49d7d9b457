package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/server"
	"github.com/xmodal/xmodal/workspace"
)

// runServe serves a workspace over HTTP until interrupted. It listens at
// once, so that a taken port fails fast and health checks get answers,
// and loads the model and workspace in the background: /readyz turns 200
// when they are loaded. A failure to load ends the command.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "--workspace WS [--addr :45678] [--model DIR] [--exact] [--read-only]", stderr)
	wsDir := fs.String("workspace", "", "workspace folder or postgres:// URL")
	addr := fs.String("addr", ":45678", "address to listen on (host:port)")
	var mf modelFlags
	mf.add(fs, false)
	exact := fs.Bool("exact", false, exactUsage)
	readOnly := fs.Bool("read-only", false, "refuse adding and deleting images over HTTP")
	baseURL := fs.String("base-url", "", "public URL of the server (e.g. https://search.example.org), for the absolute image URLs of POST /search behind a proxy")
	corsOrigin := fs.String("cors-origin", "*", "Access-Control-Allow-Origin of the read endpoints")
	maxBody := fs.Int64("max-body", server.DefaultMaxBodyBytes, "largest request body, in bytes")
	maxPixels := fs.Int64("max-pixels", server.DefaultMaxPixels, "largest uploaded image, in pixels (width × height)")
	maxTopK := fs.Int("max-top-k", search.DefaultMaxTopK, "largest top_k a request may ask for")
	timeout := fs.Duration("timeout", server.DefaultRequestTimeout, "longest time one request may work")
	readTimeout := fs.Duration("read-timeout", server.DefaultReadTimeout, "longest time to receive one request, headers and body (uploads need max-body/read-timeout of bandwidth)")
	idleTimeout := fs.Duration("idle-timeout", server.DefaultIdleTimeout, "close kept-alive connections idle this long")
	maxConns := fs.Int("max-conns", server.DefaultMaxConns, "most connections open at once; more are answered 503")
	maxEncodes := fs.Int("max-encodes", 0, "most model calls at once (0: one per core, at least 2)")
	maxQueue := fs.Int("max-queue", server.DefaultMaxQueue, "most requests waiting for the model; more are answered 503")
	accessLog := fs.Bool("access-log", false, "log every request to standard error")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *wsDir == "" {
		return usagef("--workspace is required")
	}
	if *maxBody < 1 || *maxPixels < 1 || *maxTopK < 1 || *timeout <= 0 || *readTimeout <= 0 || *idleTimeout <= 0 || *maxConns < 1 || *maxEncodes < 0 || *maxQueue < 1 {
		return usagef("--max-body, --max-pixels, --max-top-k, --max-conns, --max-queue, --timeout, --read-timeout and --idle-timeout must be positive, --max-encodes at least 0")
	}

	// A wrong folder fails here, before anything listens; the slow part of
	// the load (the model, the vectors) runs in the background below.
	probe, err := workspace.Open(*wsDir)
	if err != nil {
		return err
	}
	probe.Close()

	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := server.New(server.Options{
		Logger: log, AccessLog: *accessLog, ReadOnly: *readOnly, BaseURL: *baseURL, CORSOrigin: *corsOrigin,
		MaxBodyBytes: *maxBody, MaxPixels: *maxPixels, RequestTimeout: *timeout,
		ReadTimeout: *readTimeout, IdleTimeout: *idleTimeout, MaxConns: *maxConns, MaxEncodes: *maxEncodes, MaxQueue: *maxQueue,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("listening", "url", "http://"+displayAddr(ln.Addr()), "workspace", workspace.Redacted(*wsDir))

	opts, err := mf.options()
	if err != nil {
		return err
	}
	// Uploads are decoded under the server's pixel cap, also by Add.
	opts.MaxPixels = *maxPixels
	err = srv.Run(ctx, ln, func(ctx context.Context) (*search.Engine, error) {
		eng, err := search.Open(ctx, *wsDir, search.OpenOptions{Model: mf.name, Load: opts, Wrap: srv.InstrumentEncoder, Engine: engineConfig(*exact, stderr)})
		if err != nil {
			return nil, err
		}
		eng.Limits.MaxTopK = *maxTopK
		return eng, nil
	}, nil)
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// displayAddr turns a listening address into one a browser can open:
// ":45678" is shown as "localhost:45678".
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
