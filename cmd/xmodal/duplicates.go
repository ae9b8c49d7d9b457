package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/xmodal/xmodal/indexer"
)

func runDuplicates(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("duplicates", "--workspace WS [--threshold 0.95] [--exact] [--json]", stderr)
	wsDir := fs.String("workspace", "", "workspace folder or postgres:// URL")
	threshold := fs.Float64("threshold", 0.95, "the cosine similarity from which two images count as duplicates")
	exact := fs.Bool("exact", false, exactUsage)
	asJSON := fs.Bool("json", false, "print one JSON object per group")
	var mf modelFlags
	mf.add(fs, false)
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *wsDir == "" {
		return usagef("--workspace is required")
	}
	if *threshold <= 0 || *threshold > 1 {
		return usagef("--threshold %v: want a cosine similarity above 0, at most 1", *threshold)
	}
	eng, err := mf.openEngine(ctx, *wsDir, *exact, stderr)
	if err != nil {
		return err
	}
	defer eng.Close()
	pp := newProgressPrinter(stderr)
	pp.label = "comparing"
	start := time.Now()
	groups, err := eng.Duplicates(ctx, float32(*threshold), func(done, total int) {
		pp.update(indexer.Progress{Done: done, Total: total, Elapsed: time.Since(start)})
	})
	if err != nil {
		return err
	}

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	if *asJSON {
		return writeJSONLines(out, groups)
	}
	if len(groups) == 0 {
		fmt.Fprintf(out, "no duplicates at cosine similarity %.2f or more\n", *threshold)
		return nil
	}
	images := 0
	for i, g := range groups {
		images += len(g.Images)
		fmt.Fprintf(out, "group %d: %d images\n", i+1, len(g.Images))
		w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, h := range g.Images {
			fmt.Fprintf(w, "  %.4f\t%d\t%s\n", h.Score, h.ID, h.Path)
		}
		w.Flush()
	}
	fmt.Fprintf(out, "\n%d groups, %d images (score: the similarity to the first image of its group, its centre)\n", len(groups), images)
	return nil
}
