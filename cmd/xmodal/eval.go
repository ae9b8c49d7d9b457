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
	res, err := evaluate(ctx, ws, *split)
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

// evaluate reads the stored vectors of a split's images and captions and
// ranks them with the standard protocol; no model is needed.
func evaluate(ctx context.Context, ws *workspace.Workspace, split string) (eval.Result, error) {
	images, err := ws.ImagesInSplit(ctx, split)
	if err != nil {
		return eval.Result{}, err
	}
	if len(images) == 0 {
		return eval.Result{}, fmt.Errorf("workspace %s has no images in split %q", ws.Dir(), split)
	}
	dim := ws.Manifest().Model.Dim
	rows := func(k workspace.Kind) ([]float32, error) {
		n, err := ws.Rows(k)
		if err != nil {
			return nil, err
		}
		return ws.ReadVectors(k, 0, n)
	}
	imgVecs, err := rows(workspace.Images)
	if err != nil {
		return eval.Result{}, err
	}
	capVecs, err := rows(workspace.Captions)
	if err != nil {
		return eval.Result{}, err
	}
	var imgs, caps [][]float32
	var owner []int
	for i, im := range images {
		imgs = append(imgs, imgVecs[im.Row*dim:(im.Row+1)*dim])
		for _, c := range im.Captions {
			caps = append(caps, capVecs[c.Row*dim:(c.Row+1)*dim])
			owner = append(owner, i)
		}
	}
	return eval.Evaluate(imgs, caps, owner)
}
