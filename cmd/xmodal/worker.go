package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xmodal/xmodal/indexer"
	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

// runWorker encodes jobs that `index --enqueue` queued in a database
// workspace, until the queue is empty (or, with --follow, until stopped).
func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("worker", "--workspace postgres://… [--model M] [--root DIR|URL] [--follow] [--lease D] [--name N] [--json]", stderr)
	wsURL := fs.String("workspace", "", "the database workspace's postgres:// URL")
	var mf modelFlags
	mf.add(fs, true)
	root := fs.String("root", "", "where this machine reads the dataset, if not where `index --enqueue` saw it: a folder (its mount here), or an http(s) URL the files are under (an object store's, a web server's)")
	follow := fs.Bool("follow", false, "keep waiting for jobs when the queue is empty")
	lease := fs.Duration("lease", 2*time.Minute, "how long a job stays this worker's without news; renewed while it works")
	name := fs.String("name", "", "the worker's name in `index --status` (default host:pid)")
	asJSON := fs.Bool("json", false, "print a summary as JSON")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if !workspace.IsDatabase(*wsURL) {
		return usagef("--workspace must be a postgres:// URL: workers share a database workspace")
	}
	if *lease < time.Second {
		return usagef("--lease must be at least 1s")
	}
	probe, err := workspace.Open(*wsURL)
	if err != nil {
		return err
	}
	want := probe.Manifest().Model
	probe.Close()
	if mf.name == "" {
		mf.name = want.Name
	}
	opts, err := mf.options()
	if err != nil {
		return err
	}
	opts.NoEXIF = want.NoEXIF
	enc, err := model.Load(mf.name, opts)
	if err != nil {
		return err
	}
	defer enc.Close()
	ident, err := search.Identity(enc)
	if err != nil {
		return err
	}
	// Create refuses a model other than the workspace's.
	ws, err := workspace.CreateWith(ctx, *wsURL, ident, workspace.Options{})
	if err != nil {
		return err
	}
	defer ws.Close()
	q, err := ws.Queue(ctx)
	if err != nil {
		return err
	}
	remaining := q.Images - q.ImagesDone - q.ImagesFailed
	fmt.Fprintf(stderr, "worker: %d images in %d jobs to do in %s\n", remaining, q.Jobs-q.JobsDone-q.JobsFailed, ws.Location())
	rep := newRateReporter(stderr, "images", remaining)
	start := time.Now()
	p, err := indexer.Work(ctx, enc, ws, indexer.WorkOptions{
		Name: *name, Lease: *lease, Follow: *follow, Root: *root,
		Progress: func(p indexer.WorkProgress) { rep.update(p.Images) },
		Logf:     func(format string, args ...any) { fmt.Fprintf(stderr, "worker: "+format+"\n", args...) },
	})
	// Stopping (Ctrl-C, SIGTERM from a scheduler) is how a --follow
	// worker ends: Work has given back the job in hand, if any.
	stopped := errors.Is(err, context.Canceled) && p != nil
	if err != nil && !stopped {
		return err
	}
	elapsed := time.Since(start)
	rate := float64(p.Images) / elapsed.Seconds()
	if stopped {
		fmt.Fprintln(stderr, "worker: stopped; a job in hand was given back to the queue")
	}
	fmt.Fprintf(stderr, "worker: %d jobs, %d images (%d skipped) in %s, %.1f images/s\n", p.Jobs, p.Images, p.Skipped, elapsed.Round(time.Millisecond), rate)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			Jobs    int     `json:"jobs"`
			Images  int     `json:"images"`
			Skipped int     `json:"skipped"`
			Seconds float64 `json:"seconds"`
			Rate    float64 `json:"images_per_s"`
		}{p.Jobs, p.Images, p.Skipped, elapsed.Seconds(), rate})
	}
	return nil
}

// printQueue writes `index --status`.
func printQueue(w io.Writer, loc string, q *workspace.QueueStatus) {
	todo := q.Images - q.ImagesDone - q.ImagesFailed
	pct := 0.0
	if q.Images > 0 {
		pct = 100 * float64(q.ImagesDone) / float64(q.Images)
	}
	fmt.Fprintf(w, "workspace %s\n", loc)
	fmt.Fprintf(w, "queue: %d of %d images done (%.1f%%), %d to do; jobs: %d done, %d being worked on, %d failed, of %d\n",
		q.ImagesDone, q.Images, pct, todo, q.JobsDone, q.JobsLeased, q.JobsFailed, q.Jobs)
	rate := queueRate(q)
	if todo > 0 {
		fmt.Fprintf(w, "rate: %.1f images/s by the workers seen in the last minute; ETA %s\n", rate, etaString(float64(todo), rate))
	}
	if len(q.Workers) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WORKER\tJOBS\tIMAGES\tIMAGES/S\tHOLDING\tLAST SEEN")
		for _, ws := range q.Workers {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%d\t%s ago\n", ws.Name, ws.Jobs, ws.Images, ws.Rate(), ws.Leased, time.Since(ws.Seen).Round(time.Second))
		}
		tw.Flush()
	}
	if len(q.Failures) > 0 {
		fmt.Fprintf(w, "failed jobs (run `index --enqueue` again to retry their images):\n  %s\n", strings.Join(q.Failures, "\n  "))
	}
}

// queueRate sums the rates of the workers heard from in the last minute.
func queueRate(q *workspace.QueueStatus) float64 {
	var rate float64
	for _, ws := range q.Workers {
		if time.Since(ws.Seen) < time.Minute {
			rate += ws.Rate()
		}
	}
	return rate
}
