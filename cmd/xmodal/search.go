package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("search", "--workspace WS (--text T | --image FILE | --id N | --caption-id N) [--to images|captions|both] [--top-k K] [--offset N] [--split S] [--under FOLDER] [--add T]... [--subtract T]... [--hybrid] [--exact] [--json]", stderr)
	wsDir := fs.String("workspace", "", "workspace folder or postgres:// URL")
	var mf modelFlags
	mf.add(fs, false)
	text := fs.String("text", "", "search by this text")
	image := fs.String("image", "", "search by this image file")
	id := fs.Int64("id", 0, "search by an indexed image's id (more like this)")
	captionID := fs.Int64("caption-id", 0, "search by an indexed caption's id")
	to := fs.String("to", "", "what to find: images, captions or both (default: images for a text or an id, captions for an image)")
	topK := fs.Int("top-k", search.DefaultTopK, "number of results")
	offset := fs.Int("offset", 0, "skip the best N results (the next page: --offset 10 gives ranks 11 to 20)")
	asJSON := fs.Bool("json", false, "print one JSON object per hit")
	exact := fs.Bool("exact", false, exactUsage)
	split := fs.String("split", "", "find only images of this split (and their captions)")
	under := fs.String("under", "", "find only images whose key is under this folder (and their captions)")
	var add, subtract stringList
	fs.Var(&add, "add", "steer the query towards this text: its vector is added to the query's (repeatable)")
	fs.Var(&subtract, "subtract", "steer the query away from this text: its vector is taken from the query's (repeatable)")
	hybrid := fs.Bool("hybrid", false, "with --text: also match the words of captions and file names (BM25), fused with the model's ranking; scores are then fused scores")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *wsDir == "" {
		return usagef("--workspace is required")
	}
	q := search.Query{Text: *text, ImageID: *id, CaptionID: *captionID, TopK: *topK, Offset: *offset,
		Filter: workspace.Filter{Split: *split, Under: *under}, Hybrid: *hybrid, Add: add, Subtract: subtract}
	if *image != "" {
		q.Image = []byte{} // read below, once the flags are known to be right
	}
	if q.Kind() == "" {
		return usagef("give exactly one of --text, --image, --id and --caption-id")
	}
	if *topK < 1 {
		return usagef("--top-k must be at least 1")
	}
	if *offset < 0 {
		return usagef("--offset must be 0 or more")
	}
	if *hybrid && q.Text == "" {
		return usagef("--hybrid goes with --text: it matches words")
	}
	switch *to {
	case "":
	case "images", "image":
		q.Targets = []workspace.Kind{workspace.Images}
	case "captions", "caption", "texts", "text":
		q.Targets = []workspace.Kind{workspace.Captions}
	case "both", "all":
		q.Targets = []workspace.Kind{workspace.Images, workspace.Captions}
	default:
		return usagef("--to %q: want images, captions or both", *to)
	}

	eng, err := mf.openEngine(ctx, *wsDir, *exact, stderr)
	if err != nil {
		return err
	}
	defer eng.Close()
	eng.Limits.MaxTopK = max(*offset+*topK, search.DefaultMaxTopK) // the command line asks for what it wants
	if *image != "" {
		if q.Image, err = os.ReadFile(*image); err != nil {
			return err
		}
	}
	res, err := eng.Search(ctx, q)
	if err != nil {
		if *image != "" {
			return fmt.Errorf("%s: %w", *image, err)
		}
		return err
	}
	for _, t := range res.Targets {
		none := "no results: the workspace is empty, or the filters leave nothing"
		if *offset > 0 {
			none = fmt.Sprintf("no results after the first %d", *offset)
		}
		if err := printHits(stdout, res.Hits[t], *asJSON, none); err != nil {
			return err
		}
	}
	return nil
}

// printHits prints hits as a table, or as JSON lines; none is the line
// printed for no hits, in place of a table.
func printHits(stdout io.Writer, hits []search.Hit, asJSON bool, none string) error {
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	if asJSON {
		return writeJSONLines(out, hits)
	}
	if len(hits) == 0 {
		fmt.Fprintln(out, none)
		return nil
	}
	// A hybrid search also shows where each half ranked a hit ("-": not
	// in its first 100).
	hybrid := hits[0].Hybrid != nil
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if hybrid {
		fmt.Fprintln(w, "rank\tscore\tmodel\twords\tid\tresult")
	} else {
		fmt.Fprintln(w, "rank\tscore\tid\tresult")
	}
	for _, h := range hits {
		what := h.Path
		if h.Type == workspace.Images && len(h.Captions) > 0 {
			what += "  “" + shorten(h.Captions[0], 60) + "”"
		}
		if h.Type == workspace.Captions {
			what = "“" + shorten(h.Text, 70) + "”  (" + h.Image.Path + ")"
		}
		fmt.Fprintf(w, "%d\t%.4f\t", h.Rank, h.Score)
		if hybrid {
			fmt.Fprintf(w, "%s\t%s\t", rankOrDash(h.Hybrid.Vector), rankOrDash(h.Hybrid.Words))
		}
		fmt.Fprintf(w, "%d\t%s\n", h.ID, what)
	}
	return w.Flush()
}

func rankOrDash(r int) string {
	if r == 0 {
		return "-"
	}
	return strconv.Itoa(r)
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
