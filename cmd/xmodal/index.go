package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/xmodal/xmodal/dataset"
	"github.com/xmodal/xmodal/indexer"
	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

func runIndex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index", "--data DIR --workspace WS [--model M] [--format F] [--split S] [--limit N] [--batch-size N] [--prune] [--ann] [--vectors V] [--no-wait] [--json]", stderr)
	data := fs.String("data", "", "dataset folder")
	format := fs.String("format", "auto", "dataset format: auto, flickr8k-kaggle, flickr8k, flickr30k-kaggle, karpathy, coco or folder")
	wsDir := fs.String("workspace", "", "workspace folder or postgres:// URL (created if missing)")
	var mf modelFlags
	mf.add(fs, true)
	split := fs.String("split", "", "index only this split (train, val, test...)")
	limit := fs.Int("limit", 0, "index at most N images (0: all)")
	batch := fs.Int("batch-size", 32, "images encoded and committed together")
	prune := fs.Bool("prune", false, "remove indexed images that are no longer in the dataset")
	asJSON := fs.Bool("json", false, "print the summary as JSON on the last line of stdout")
	ann := fs.Bool("ann", false, fmt.Sprintf("build the graph index for approximate search whatever the size (by default it is built once a kind has %d vectors)", search.GraphThreshold))
	vectors := fs.String("vectors", "", "how a new database workspace stores vectors: pgvector (the default), halfvec, or local (no extension needed; each process loads them)")
	noWait := fs.Bool("no-wait", false, "fail at once if another process is writing to the workspace, instead of waiting for it")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *data == "" || *wsDir == "" {
		return usagef("--data and --workspace are required")
	}
	if *ann && workspace.IsDatabase(*wsDir) {
		return usagef("--ann builds graph files beside a folder's vectors; a database workspace is searched with pgvector's HNSW index (--vectors pgvector)")
	}
	if *batch < 1 || *limit < 0 {
		return usagef("--batch-size must be at least 1 and --limit at least 0")
	}
	root, err := filepath.Abs(*data)
	if err != nil {
		return err
	}
	ds, err := dataset.Open(root, *format)
	if err != nil {
		return err
	}
	for _, p := range ds.Problems {
		fmt.Fprintf(stderr, "warning: %s\n", p)
	}
	fmt.Fprintf(stderr, "dataset %s (%s): %d images, %d captions\n", root, ds.Format, len(ds.Images), ds.NumCaptions())

	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	ident, err := search.Identity(m)
	if err != nil {
		return err
	}
	ws, err := openForWriting(ctx, *wsDir, ident, workspace.Options{Vectors: *vectors}, *noWait, stderr)
	if err != nil {
		return err
	}
	defer ws.Close()

	pp := newProgressPrinter(stderr)
	sum, err := indexer.Run(ctx, ds, m, ws, indexer.Options{
		Split: *split, Limit: *limit, BatchSize: *batch, Prune: *prune, Progress: pp.update,
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; what was committed is kept, run the same command again to resume")
		}
		return err
	}
	t := sum.Timing
	fmt.Fprintf(stderr, "workspace %s: %d images, %d captions (this run: %d added, %d unchanged, %d pruned, %d skipped in all) in %s\n",
		ws.Location(), sum.ImagesIndexed, sum.CaptionsIndexed, sum.Added, sum.Unchanged, sum.Pruned, len(sum.Skipped), t.Wall.Round(time.Millisecond))
	if sum.Added > 0 {
		fmt.Fprintf(stderr, "stages: read %s, decode %s (summed over workers), encode %s, commit %s, encoder waited %s\n",
			t.Read.Round(time.Millisecond), t.Decode.Round(time.Millisecond), t.Encode.Round(time.Millisecond), t.Commit.Round(time.Millisecond), t.Waiting.Round(time.Millisecond))
	}
	for _, s := range sum.Skipped {
		fmt.Fprintf(stderr, "skipped %s: %s\n", s.Path, s.Reason)
	}

	var reporter *rateReporter
	var kind workspace.Kind
	start := time.Now()
	inserted, err := search.UpdateGraphs(ctx, ws, search.GraphOptions{Force: *ann, Progress: func(p search.GraphProgress) {
		if reporter == nil || kind != p.Kind {
			kind = p.Kind
			reporter = newRateReporter(stderr, "graph index, "+string(p.Kind)+" vectors", p.Total)
		}
		reporter.update(p.Done)
	}})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while building the graph index; what was inserted is saved, run the same command again to resume")
		}
		return err
	}
	if inserted > 0 {
		fmt.Fprintf(stderr, "graph index: %d vectors inserted in %s\n", inserted, time.Since(start).Round(time.Millisecond))
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			ImagesIndexed   int              `json:"images_indexed"`
			CaptionsIndexed int              `json:"captions_indexed"`
			GraphInserted   int              `json:"graph_vectors_inserted"`
			Skipped         []workspace.Skip `json:"skipped"`
		}{sum.ImagesIndexed, sum.CaptionsIndexed, inserted, sum.Skipped})
	}
	return nil
}

// openForWriting opens a workspace for writing. While another process
// (a server adding an upload, another index run) holds it, it waits and
// says for whom, unless noWait.
func openForWriting(ctx context.Context, dir string, model workspace.Model, o workspace.Options, noWait bool, stderr io.Writer) (*workspace.Workspace, error) {
	if noWait || workspace.IsDatabase(dir) { // a database has no writer's lock
		return workspace.CreateWith(ctx, dir, model, o)
	}
	return workspace.CreateWait(ctx, dir, model, o, func(l *workspace.LockedError) {
		holder := l.Holder
		if holder == "" {
			holder = "another process"
		}
		fmt.Fprintf(stderr, "waiting for %s to finish writing to %s... (Ctrl-C to stop; --no-wait fails at once)\n", holder, dir)
	})
}
