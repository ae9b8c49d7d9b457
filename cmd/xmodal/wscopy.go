package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

// runWorkspace manages workspaces as a whole.
func runWorkspace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "copy" {
		return usagef("want a subcommand: copy SRC DST")
	}
	fs := newFlags("workspace copy", "[--vectors V] [--json] SRC DST", stderr)
	vectors := fs.String("vectors", "", "how a new database workspace stores vectors: pgvector (the default), halfvec or local")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if err := parse(fs, args[1:], true); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("want a source and a destination workspace: a folder or a postgres:// URL each")
	}
	src, err := workspace.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openForWriting(ctx, fs.Arg(1), src.Manifest().Model, workspace.Options{Vectors: *vectors}, false, stderr)
	if err != nil {
		return err
	}
	defer dst.Close()
	var rep *rateReporter
	start := time.Now()
	sum, err := workspace.Copy(ctx, src, dst, func(p workspace.CopyProgress) {
		if rep == nil {
			rep = newRateReporter(stderr, "images", p.Total)
		}
		rep.update(p.Done)
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; what was copied is kept, run the same command again to resume")
		}
		return err
	}
	// A folder gets its graph index as `index` would build it.
	if _, err := search.UpdateGraphs(ctx, dst, search.GraphOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "copied %d images and %d captions (%d were there already, %d skip records) from %s to %s in %s\n",
		sum.Images, sum.Captions, sum.Present, sum.Skipped, src.Location(), dst.Location(), time.Since(start).Round(time.Millisecond))
	if *asJSON {
		return json.NewEncoder(stdout).Encode(sum)
	}
	return nil
}
