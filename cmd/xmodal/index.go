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
	fs := newFlags("index", "--data DIR --workspace WS [--model M] [--format F] [--split S] [--limit N] [--batch-size N] [--prune] [--ann] [--vectors V] [--enqueue] [--no-wait] [--json]\n       xmodal index --workspace postgres://… --status [--json]", stderr)
	data := fs.String("data", "", "dataset folder")
	format := fs.String("format", "auto", "dataset format: auto, flickr8k-kaggle, flickr8k, flickr30k-kaggle, karpathy, coco or folder")
	wsDir := fs.String("workspace", "", "workspace folder or postgres:// URL (created if missing)")
	var mf modelFlags
	mf.add(fs, true)
	split := fs.String("split", "", "index only this split (train, val, test...)")
	limit := fs.Int("limit", 0, "index at most N images (0: all)")
	batch := fs.Int("batch-size", 0, "images encoded and committed together (default 32; with --enqueue, images a job: 256)")
	prune := fs.Bool("prune", false, "remove indexed images that are no longer in the dataset")
	asJSON := fs.Bool("json", false, "print the summary as JSON on the last line of stdout")
	ann := fs.Bool("ann", false, fmt.Sprintf("build the graph index for approximate search whatever the size (by default it is built once a kind has %d vectors)", search.GraphThreshold))
	vectors := fs.String("vectors", "", "how a new database workspace stores vectors: pgvector (the default), halfvec, or local (no extension needed; each process loads them)")
	enqueue := fs.Bool("enqueue", false, "queue the work in the database workspace for `xmodal worker` processes instead of doing it (--batch-size images a job, default 256)")
	status := fs.Bool("status", false, "show the progress of the queued work and of each worker, then exit")
	noWait := fs.Bool("no-wait", false, "fail at once if another process is writing to the workspace, instead of waiting for it")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *status {
		return runIndexStatus(ctx, *wsDir, *asJSON, stdout)
	}
	if *data == "" || *wsDir == "" {
		return usagef("--data and --workspace are required")
	}
	if *enqueue && !workspace.IsDatabase(*wsDir) {
		return usagef("--enqueue needs a database workspace (postgres://…), which workers on other machines can reach")
	}
	if *ann && workspace.IsDatabase(*wsDir) {
		return usagef("--ann builds graph files beside a folder's vectors; a database workspace is searched with pgvector's HNSW index (--vectors pgvector)")
	}
	if *batch < 0 || *limit < 0 {
		return usagef("--batch-size and --limit must be at least 0")
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

	if *enqueue {
		es, err := indexer.Enqueue(ctx, ds, ws, indexer.Options{Split: *split, Limit: *limit, BatchSize: *batch, Prune: *prune})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "workspace %s: queued %d images in %d jobs (%d unchanged, %d already queued, %d pruned); start workers with\n  xmodal worker --workspace %s\n",
			ws.Location(), es.Images, es.Jobs, es.Unchanged, es.Pending, es.Pruned, ws.Location())
		if *asJSON {
			return json.NewEncoder(stdout).Encode(es)
		}
		return nil
	}

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

// runIndexStatus prints the state of a database workspace's job queue.
func runIndexStatus(ctx context.Context, loc string, asJSON bool, stdout io.Writer) error {
	if !workspace.IsDatabase(loc) {
		return usagef("--status needs a database workspace (postgres://…): its job queue is what it shows")
	}
	ws, err := workspace.Open(loc)
	if err != nil {
		return err
	}
	defer ws.Close()
	q, err := ws.Queue(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			*workspace.QueueStatus
			Rate float64 `json:"images_per_s"`
		}{q, queueRate(q)})
	}
	printQueue(stdout, ws.Location(), q)
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
