package indexer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/xmodal/xmodal/dataset"
	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/workspace"
)

// Distributed indexing: Enqueue plans a run as Run does and records the
// work in a database workspace's job queue instead of doing it; Work,
// run by any number of processes on any number of machines, does it.

// EnqueueSummary says what Enqueue recorded.
type EnqueueSummary struct {
	Jobs      int `json:"jobs"`
	Images    int `json:"images"`
	Unchanged int `json:"unchanged"`
	Pending   int `json:"already_queued"` // images left out: queued and not done yet
	Pruned    int `json:"pruned"`
}

// Enqueue queues the images of ds that are new or changed in ws, in jobs
// of opts.BatchSize images (default 256). Images queued earlier and not yet
// done are not queued again. opts.Prune deletes the images that left the
// dataset at once.
func Enqueue(ctx context.Context, ds *dataset.Dataset, ws *workspace.Workspace, opts Options) (*EnqueueSummary, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 256
	}
	pending, err := ws.PendingKeys(ctx)
	if err != nil {
		return nil, err
	}
	sum := &Summary{}
	root, _, todo, err := plan(ctx, ds, ws, opts, sum)
	if err != nil {
		return nil, err
	}
	root.Close() // nothing is read: workers read the images
	out := &EnqueueSummary{Unchanged: sum.Unchanged, Pruned: sum.Pruned}
	var batches [][]workspace.JobItem
	var batch []workspace.JobItem
	for _, it := range todo {
		if pending[it.img.Key] {
			out.Pending++
			continue
		}
		batch = append(batch, workspace.JobItem{Key: it.img.Key, Name: it.name, Split: it.img.Split, Captions: it.img.Captions})
		if len(batch) == opts.BatchSize {
			batches, batch = append(batches, batch), nil
		}
	}
	if len(batch) > 0 {
		batches = append(batches, batch)
	}
	if out.Jobs, err = ws.Enqueue(ctx, ds.Root, batches); err != nil {
		return nil, err
	}
	for _, b := range batches {
		out.Images += len(b)
	}
	return out, nil
}

// WorkOptions tune Work.
type WorkOptions struct {
	// Name identifies the worker in the queue (default host:pid).
	Name string
	// Lease is how long a claimed job stays the worker's without news
	// (default 2 minutes); the worker renews it every third of that while
	// it works, so only a dead worker's jobs pass to others.
	Lease time.Duration
	// Follow keeps waiting for jobs when the queue is empty, instead of
	// returning.
	Follow bool
	// Poll is how often an idle worker looks for jobs (default 2 s, or
	// half the lease if shorter): new ones if it follows, and those that
	// other workers hold, whose lease may run out.
	Poll time.Duration
	// Root, if set, replaces the dataset folder recorded in each job: where
	// this machine mounts it.
	Root string
	// Workers and MaxFileSize are as in Options.
	Workers     int
	MaxFileSize int64
	// Progress, if set, is called after every job.
	Progress func(WorkProgress)
	// Logf, if set, reports jobs lost or given back.
	Logf func(format string, args ...any)
}

// WorkProgress reports a worker's progress.
type WorkProgress struct {
	Jobs, Images, Skipped int
	Elapsed               time.Duration
}

// Work claims jobs from ws's queue and indexes them with enc until the
// queue is empty, every job done or failed (or, with Follow, until ctx is
// done). A job's documents
// and its completion commit together; a job whose lease was lost is
// dropped, one that fails is given back for another attempt. On
// cancellation the job in hand is given back and ctx's error returned.
func Work(ctx context.Context, enc model.Encoder, ws *workspace.Workspace, o WorkOptions) (*WorkProgress, error) {
	if o.Name == "" {
		host, _ := os.Hostname()
		o.Name = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = min(2*time.Second, o.Lease/2)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	start := time.Now()
	p := &WorkProgress{}
	for {
		j, err := ws.Claim(ctx, o.Name, o.Lease)
		if err != nil {
			if ctx.Err() != nil {
				return p, ctx.Err()
			}
			return p, err
		}
		if j == nil {
			// Jobs that others hold are not done yet: their workers may
			// die. The queue is empty when none is left.
			left, err := ws.Unfinished(ctx)
			if err != nil {
				return p, err
			}
			if left == 0 && !o.Follow {
				return p, nil
			}
			// Held jobs usually finish in a moment: look again soon, so
			// that the last workers do not linger.
			wait := o.Poll
			if left > 0 {
				wait = min(wait, 250*time.Millisecond)
			}
			select {
			case <-ctx.Done():
				return p, ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		sum, err := workJob(ctx, enc, ws, j, o)
		switch {
		case err == nil:
			p.Jobs++
			p.Images += len(j.Items)
			p.Skipped += len(j.Items) - sum.Added
		case errors.Is(err, workspace.ErrLeaseLost):
			o.Logf("job %d: %v", j.ID, err)
		default:
			// Give the job back with the reason: the next worker (or
			// this one) tries again, up to MaxAttempts.
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			rerr := ws.Release(bg, j, o.Name, err)
			cancel()
			if ctx.Err() != nil {
				return p, ctx.Err()
			}
			if rerr != nil {
				return p, rerr
			}
			o.Logf("job %d (attempt %d) given back: %v", j.ID, j.Attempts, err)
		}
		if o.Progress != nil {
			p.Elapsed = time.Since(start)
			o.Progress(*p)
		}
	}
}

// workJob indexes one claimed job, renewing its lease meanwhile.
func workJob(ctx context.Context, enc model.Encoder, ws *workspace.Workspace, j *workspace.Job, o WorkOptions) (*Summary, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(o.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := ws.Renew(ctx, j, o.Name, o.Lease); err != nil && ctx.Err() == nil {
					cancel(err)
					return
				}
			}
		}
	}()

	rootDir := j.Root
	if o.Root != "" {
		rootDir = o.Root
	}
	var src files
	if isURL(rootDir) {
		w, err := newWeb(rootDir)
		if err != nil {
			return nil, err
		}
		src = w
	} else {
		root, err := os.OpenRoot(rootDir)
		if err != nil {
			return nil, fmt.Errorf("dataset folder %s: %w (mount it here, or pass --root)", rootDir, err)
		}
		defer root.Close()
		src = folder{root, rootDir}
	}
	items := make([]item, len(j.Items))
	for i, ji := range j.Items {
		img := dataset.Image{Key: ji.Key, Path: src.path(ji.Name), Split: ji.Split, Captions: ji.Captions}
		items[i] = item{img: img, name: ji.Name, size: -1}
		f, ok := src.(folder)
		if !ok {
			continue // sized when read
		}
		st, err := f.root.Stat(ji.Name)
		if err != nil {
			items[i].skip = "cannot read: " + errText(err)
			continue
		}
		items[i].size, items[i].mtime = st.Size(), st.ModTime().UnixNano()
	}
	opts := Options{BatchSize: len(items), Workers: o.Workers, MaxFileSize: o.MaxFileSize}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = 64 << 20
	}
	complete := func(ctx context.Context, docs []workspace.NewImage, skipped []workspace.Skip) error {
		return ws.Complete(ctx, j, o.Name, docs, skipped)
	}
	sum := &Summary{}
	err := run(ctx, src, items, nil, enc, ws, complete, opts, sum, time.Now())
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, workspace.ErrLeaseLost) {
		err = cause
	}
	return sum, err
}
