package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/xmodal/xmodal/dataset"
	"github.com/xmodal/xmodal/demo"
	"github.com/xmodal/xmodal/indexer"
	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/model/builtin"
	"github.com/xmodal/xmodal/model/store"
	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/server"
	"github.com/xmodal/xmodal/workspace"
)

// runDemo indexes the bundled sample set with the bundled model into a
// workspace in the user's cache (reused by later runs) and serves it.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[--addr :45678]", stderr)
	addr := fs.String("addr", ":45678", "address to listen on (host:port)")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	cache, err := store.CacheDir()
	if err != nil {
		return err
	}
	m, err := model.Load(builtin.Name, model.Options{})
	if err != nil {
		return err
	}
	defer m.Close()
	ident, err := search.Identity(m)
	if err != nil {
		return err
	}
	sampleDir := filepath.Join(cache, "demo", "sample")
	wsDir := filepath.Join(cache, "demo", "workspace-"+ident.ID[:12])
	if err := demo.Extract(sampleDir); err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := server.New(server.Options{Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	url := "http://" + displayAddr(ln.Addr())
	open := func(ctx context.Context) (*search.Engine, error) {
		if err := indexSample(ctx, sampleDir, wsDir, m, ident, stderr); err != nil {
			return nil, err
		}
		return search.Open(ctx, wsDir, search.OpenOptions{Model: builtin.Name, Wrap: srv.InstrumentEncoder})
	}
	ready := func(eng *search.Engine) {
		images, captions := eng.Counts()
		fmt.Fprintf(stderr, "\nxmodal demo: %d images and %d captions from %s\n", images, captions, sampleDir)
		fmt.Fprintf(stderr, "open %s in a browser, or try the API:\n\n", url)
		fmt.Fprintf(stderr, "  curl -s -X POST -H 'Content-Type: application/json' -d '{\"top_k\":5,\"mode\":\"search\",\"data\":[\"a red heart\"]}' %s/search\n\n", url)
		fmt.Fprintf(stderr, "or the command line, with words matched too:\n\n  xmodal search --workspace %s --text 'a dog' --hybrid\n\n", wsDir)
		fmt.Fprintf(stderr, "Press Ctrl-C to stop.\n")
	}
	return srv.Run(ctx, ln, open, ready)
}

// indexSample brings the demo workspace up to date with the sample set,
// which costs nothing when an earlier run indexed it.
func indexSample(ctx context.Context, sampleDir, wsDir string, m model.Encoder, ident workspace.Model, stderr io.Writer) error {
	ds, err := dataset.Open(sampleDir, "folder")
	if err != nil {
		return err
	}
	w, err := workspace.Create(wsDir, ident)
	if err != nil {
		return err
	}
	pp := newProgressPrinter(stderr)
	sum, err := indexer.Run(ctx, ds, m, w, indexer.Options{Prune: true, Progress: pp.update})
	w.Close()
	if err != nil {
		return err
	}
	if sum.Added > 0 {
		fmt.Fprintf(stderr, "indexed the sample set into %s in %s\n", wsDir, sum.Timing.Wall.Round(1e6))
	}
	return nil
}
