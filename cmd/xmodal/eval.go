package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/xmodal/xmodal/eval"
	"github.com/xmodal/xmodal/workspace"
)

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--workspace WS [--split test] [--json]", stderr)
	wsDir := fs.String("workspace", "", "workspace folder")
	split := fs.String("split", "", "evaluate only this split (default: every image)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *wsDir == "" {
		return usagef("--workspace is required")
	}
	ws, err := workspace.Open(*wsDir)
	if err != nil {
		return err
	}
	defer ws.Close()
	res, err := eval.Workspace(ctx, ws, *split)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	name := *split
	if name == "" {
		name = "all"
	}
	fmt.Fprintf(stdout, "split %s: %d images, %d captions\n\n", name, res.Images, res.Captions)
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "direction\tR@1\tR@5\tR@10\tMedR\tMRR\t")
	for _, d := range []struct {
		name string
		m    eval.Metrics
	}{{"text→image", res.TextToImage}, {"image→text", res.ImageToText}} {
		fmt.Fprintf(w, "%s\t%.1f\t%.1f\t%.1f\t%.0f\t%.3f\t\n", d.name, d.m.R1, d.m.R5, d.m.R10, d.m.MedR, d.m.MRR)
	}
	return w.Flush()
}
