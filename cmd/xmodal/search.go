package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("search", "--workspace WS (--text T | --image FILE | --id N) [--to images|captions] [--top-k K] [--json]", stderr)
	wsDir := fs.String("workspace", "", "workspace folder")
	var mf modelFlags
	mf.add(fs, false)
	text := fs.String("text", "", "search by this text")
	image := fs.String("image", "", "search by this image file")
	id := fs.Int64("id", 0, "search by an indexed image's id (more like this)")
	to := fs.String("to", "", "what to find: images or captions (default: images for --text and --id, captions for --image)")
	topK := fs.Int("top-k", 10, "number of results")
	asJSON := fs.Bool("json", false, "print one JSON object per hit")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *wsDir == "" {
		return usagef("--workspace is required")
	}
	given := 0
	for _, set := range []bool{*text != "", *image != "", *id != 0} {
		if set {
			given++
		}
	}
	if given != 1 {
		return usagef("give exactly one of --text, --image and --id")
	}
	if *topK < 1 {
		return usagef("--top-k must be at least 1")
	}
	target := workspace.Images
	if *image != "" {
		target = workspace.Captions
	}
	switch *to {
	case "":
	case "images", "image":
		target = workspace.Images
	case "captions", "caption", "texts", "text":
		target = workspace.Captions
	default:
		return usagef("--to %q: want images or captions", *to)
	}

	ws, m, err := openWorkspaceModel(*wsDir, &mf)
	if err != nil {
		return err
	}
	defer ws.Close()
	defer m.Close()
	eng, err := search.New(ctx, m, ws)
	if err != nil {
		return err
	}
	var hits []search.Hit
	switch {
	case *text != "":
		res, err := eng.SearchTexts(ctx, []string{*text}, target, *topK)
		if err != nil {
			return err
		}
		hits = res[0]
	case *image != "":
		data, err := os.ReadFile(*image)
		if err != nil {
			return err
		}
		res, err := eng.SearchImages(ctx, [][]byte{data}, target, *topK)
		if err != nil {
			return fmt.Errorf("%s: %w", *image, err)
		}
		hits = res[0]
	default:
		if hits, err = eng.SimilarTo(ctx, workspace.Images, *id, target, *topK); err != nil {
			return err
		}
	}
	return printHits(stdout, hits, *asJSON)
}

func printHits(stdout io.Writer, hits []search.Hit, asJSON bool) error {
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		for _, h := range hits {
			if err := enc.Encode(h); err != nil {
				return err
			}
		}
		return nil
	}
	if len(hits) == 0 {
		fmt.Fprintln(out, "no results: the workspace is empty")
		return nil
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "rank\tscore\tid\tresult")
	for _, h := range hits {
		what := h.Path
		if h.Type == workspace.Images && len(h.Captions) > 0 {
			what += "  “" + shorten(h.Captions[0], 60) + "”"
		}
		if h.Type == workspace.Captions {
			what = "“" + shorten(h.Text, 70) + "”  (" + h.Image.Path + ")"
		}
		fmt.Fprintf(w, "%d\t%.4f\t%d\t%s\n", h.Rank, h.Score, h.ID, what)
	}
	return w.Flush()
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
