package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/xmodal/xmodal/eval"
	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--workspace WS [--split test] [--folds N] [--ranks FILE] [--ci] [--json] | --workspace WS --queries FILE.tsv [--k 5] [--model M] [--exact] [--json] | --workspace WS --ann-recall [--split S] [--k 10] [--json] | --compare [--json] A B (two --ranks files, or two --queries --json reports)", stderr)
	wsDir := fs.String("workspace", "", "workspace folder or postgres:// URL")
	split := fs.String("split", "", "evaluate only this split (default: every image)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	folds := fs.Int("folds", 0, "split the images into N equal folds and average them (COCO 1K: 5); default: all at once, plus COCO 1K for a COCO 5K test split")
	queries := fs.String("queries", "", "instead of the retrieval protocol, run the text queries of this file (query<TAB>word|word…) and count those with a matching image in the top --k")
	k := fs.Int("k", 5, "with --queries: how many images count; with --ann-recall: the recall@k measured (default 10)")
	exact := fs.Bool("exact", false, exactUsage)
	ranks := fs.String("ranks", "", "also write every query's rank and top 5 results to this file as JSON lines (captions by text, images by key), to see what fails")
	ci := fs.Bool("ci", false, "also a 95 % bootstrap interval of each recall (10,000 resamplings of concepts: images joined by a shared caption)")
	compare := fs.Bool("compare", false, "compare two models: read two --ranks files of the same evaluation, A and B, and print B − A with a paired 95 % bootstrap interval; or two --queries --json reports of the same query file, and test the queries only one finds")
	annRecall := fs.Bool("ann-recall", false, "measure the graph index against exact search: recall@k of text→image, image→image and text→text queries made of the workspace's own vectors")
	var mf modelFlags
	mf.add(fs, false)
	if err := parse(fs, args, true); err != nil {
		return err
	}
	if *compare {
		if fs.NArg() != 2 || *wsDir != "" {
			return usagef("--compare reads two ranks files or two query reports, and no workspace: xmodal eval --compare [--json] A B")
		}
		return runEvalCompare(fs.Arg(0), fs.Arg(1), *asJSON, stdout)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *wsDir == "" {
		return usagef("--workspace is required")
	}
	if *queries != "" {
		return runEvalQueries(ctx, *wsDir, *queries, *k, &mf, *exact, *asJSON, stdout, stderr)
	}
	if *annRecall {
		kk := *k
		if !flagSet(fs, "k") {
			kk = 10
		}
		return runEvalANN(ctx, *wsDir, *split, kk, &mf, *asJSON, stdout, stderr)
	}
	ws, err := workspace.Open(*wsDir)
	if err != nil {
		return err
	}
	defer ws.Close()
	if *folds < 0 || *folds == 1 {
		return usagef("--folds must be 2 or more")
	}
	if (*ranks != "" || *ci) && *folds != 0 {
		return usagef("--ranks and --ci evaluate all images at once: leave out --folds")
	}
	var res eval.Result
	if *ranks != "" || *ci {
		var qs []eval.QueryRank
		if res, qs, err = eval.WorkspaceRanks(ctx, ws, *split, 5); err != nil {
			return err
		}
		if *ranks != "" {
			if err := writeRanks(*ranks, qs); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "wrote the ranks of %d queries to %s\n", len(qs), *ranks)
		}
		if *ci {
			iv, err := eval.Bootstrap(qs, 10000, 1)
			if err != nil {
				return err
			}
			res.CI95 = &iv
		}
	} else if res, err = eval.WorkspaceFolds(ctx, ws, *split, *folds); err != nil {
		return err
	}
	if *folds == 0 && res.Images == 5000 && isCOCO(ctx, ws, *split) {
		// COCO is reported both ways in the literature: 5K and 1K.
		oneK, err := eval.WorkspaceFolds(ctx, ws, *split, 5)
		if err != nil {
			return err
		}
		res.COCO1K = &oneK
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	name := *split
	if name == "" {
		name = "all"
	}
	printEval(stdout, fmt.Sprintf("split %s: %d images, %d captions", name, res.Images, res.Captions), res)
	if res.Folds > 0 {
		fmt.Fprintf(stdout, "(means over %d folds of %d images)\n", res.Folds, res.Images)
	}
	if r := res.COCO1K; r != nil {
		fmt.Fprintln(stdout)
		printEval(stdout, fmt.Sprintf("COCO 1K: means over %d folds of %d images", r.Folds, r.Images), *r)
	}
	return nil
}

func printEval(stdout io.Writer, title string, res eval.Result) {
	fmt.Fprintf(stdout, "%s\n\n", title)
	m1, m2 := res.TextToImage, res.ImageToText
	table(stdout, "R@1\tR@5\tR@10\tMedR\tMRR",
		fmt.Sprintf("%.1f\t%.1f\t%.1f\t%.0f\t%.3f", m1.R1, m1.R5, m1.R10, m1.MedR, m1.MRR),
		fmt.Sprintf("%.1f\t%.1f\t%.1f\t%.0f\t%.3f", m2.R1, m2.R5, m2.R10, m2.MedR, m2.MRR))
	fmt.Fprintf(stdout, "rsum %.1f\n", res.RSum)
	if iv := res.CI95; iv != nil {
		fmt.Fprintf(stdout, "\n95 %% intervals (bootstrap, %d resamplings of %d concepts)\n\n", iv.Samples, iv.Clusters)
		row := func(r eval.RecallIntervals) string {
			return fmt.Sprintf("%.1f–%.1f\t%.1f–%.1f\t%.1f–%.1f", r.R1.Lo, r.R1.Hi, r.R5.Lo, r.R5.Hi, r.R10.Lo, r.R10.Hi)
		}
		table(stdout, "R@1\tR@5\tR@10", row(iv.TextToImage), row(iv.ImageToText))
	}
}

// table prints a right-aligned table of the two directions: columns is the
// header after "direction", t2i and i2t the cells of each row, tab-separated.
func table(stdout io.Writer, columns, t2i, i2t string) {
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "direction\t%s\t\n", columns)
	fmt.Fprintf(w, "text→image\t%s\t\n", t2i)
	fmt.Fprintf(w, "image→text\t%s\t\n", i2t)
	w.Flush()
}

// isCOCO tells a COCO split by its images' names (COCO_val2014_....jpg,
// val2014/...).
func isCOCO(ctx context.Context, ws *workspace.Workspace, split string) bool {
	imgs, err := ws.ImagesInSplit(ctx, split)
	if err != nil || len(imgs) == 0 {
		return false
	}
	for _, im := range imgs {
		if !strings.Contains(im.Key, "val2014") && !strings.Contains(im.Key, "COCO_") {
			return false
		}
	}
	return true
}

// runEvalQueries is eval --queries: the hit rate of a query file, and for
// each query its rank and top images.
func runEvalQueries(ctx context.Context, wsDir, file string, k int, mf *modelFlags, exact, asJSON bool, stdout, stderr io.Writer) error {
	if k < 1 {
		return usagef("--k must be 1 or more")
	}
	cases, err := readQueryFile(file)
	if err != nil {
		return err
	}
	eng, err := mf.openEngine(ctx, wsDir, exact, stderr)
	if err != nil {
		return err
	}
	defer eng.Close()
	rep, err := eval.Queries(ctx, eng, cases, k)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "query	rank	top images")
	for _, o := range rep.Outcomes {
		rank := "-"
		if o.Rank > 0 {
			rank = strconv.Itoa(o.Rank)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", o.Query, rank, strings.Join(o.Top, ", "))
	}
	w.Flush()
	fmt.Fprintf(stdout, "\n%d of %d queries have a matching image in the top %d (%.0f%%)\n", rep.Hits, rep.Total, rep.K, 100*float64(rep.Hits)/float64(rep.Total))
	return nil
}

// runEvalANN is eval --ann-recall: the graph indexes against exact search.
func runEvalANN(ctx context.Context, wsDir, split string, k int, mf *modelFlags, asJSON bool, stdout, stderr io.Writer) error {
	if k < 1 {
		return usagef("--k must be 1 or more")
	}
	eng, err := mf.openEngine(ctx, wsDir, false, stderr)
	if err != nil {
		return err
	}
	defer eng.Close()
	rep, err := eng.MeasureGraphs(ctx, split, k, 1000)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	if len(rep.Results) == 0 {
		fmt.Fprintf(stdout, "the workspace is searched exactly: no kind has a graph index (built from %d vectors, or with index --ann)\n", search.GraphThreshold)
		return nil
	}
	effort, approx := "effort", "graph ms/query"
	if eng.Workspace().SearchesInDatabase() {
		fmt.Fprintln(stdout, "pgvector's HNSW index against an exact scan, both in the database")
		effort, approx = "ef_search", "hnsw ms/query"
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "queries\tn\tindexed\t%s\trecall@%d\t%s\texact ms/query\t\n", effort, k, approx)
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%.4f\t%.3f\t%.3f\t\n", r.Queries, r.N, r.Indexed, r.Effort, r.Recall, r.GraphMS, r.ExactMS)
	}
	return w.Flush()
}

// runEvalCompare is eval --compare: a paired bootstrap of two ranks files,
// or an exact McNemar test of two query reports.
func runEvalCompare(pathA, pathB string, asJSON bool, stdout io.Writer) error {
	if repA, ok := readQueryReport(pathA); ok {
		repB, ok := readQueryReport(pathB)
		if !ok {
			return fmt.Errorf("%s: not an eval --queries --json report, as %s is", pathB, pathA)
		}
		return runEvalCompareHits(pathA, pathB, repA, repB, asJSON, stdout)
	}
	a, err := readRanks(pathA)
	if err != nil {
		return err
	}
	b, err := readRanks(pathB)
	if err != nil {
		return err
	}
	cmp, err := eval.Compare(a, b, 10000, 1)
	if err != nil {
		return fmt.Errorf("%s and %s: %w", pathA, pathB, err)
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(cmp)
	}
	fmt.Fprintf(stdout, "A: %s\nB: %s\n%d concepts (images joined by a shared caption) resampled %d times, both models alike\n\n", pathA, pathB, cmp.Clusters, cmp.Samples)
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "direction\tqueries\trecall\tA\t95 %\tB\t95 %\tB − A\t95 %\t")
	differs := false
	for _, d := range []struct {
		name string
		c    *eval.DirectionComparison
	}{{"text→image", cmp.TextToImage}, {"image→text", cmp.ImageToText}} {
		if d.c == nil {
			continue
		}
		for _, r := range d.c.Recalls {
			mark := ""
			if r.DiffCI.Lo > 0 || r.DiffCI.Hi < 0 {
				mark, differs = " *", true
			}
			// the mark trails its row, outside the aligned cells
			fmt.Fprintf(w, "%s\t%d\tR@%d\t%.1f\t%.1f–%.1f\t%.1f\t%.1f–%.1f\t%+.1f\t[%+.1f, %+.1f]\t%s\n",
				d.name, d.c.Queries, r.K, r.A, r.ACI.Lo, r.ACI.Hi, r.B, r.BCI.Lo, r.BCI.Hi, r.Diff, r.DiffCI.Lo, r.DiffCI.Hi, mark)
		}
	}
	w.Flush()
	if differs {
		fmt.Fprintln(stdout, "\n* the interval of B − A excludes 0: a difference these queries can tell.")
	}
	fmt.Fprintln(stdout, "Where it holds 0, these queries cannot tell A from B at that cut-off.")
	return nil
}

// runEvalCompareHits compares two reports of one query file.
func runEvalCompareHits(pathA, pathB string, a, b eval.QueryReport, asJSON bool, stdout io.Writer) error {
	cmp, err := eval.CompareHits(a, b)
	if err != nil {
		return fmt.Errorf("%s and %s: %w", pathA, pathB, err)
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(cmp)
	}
	list := func(qs []string) string {
		if len(qs) == 0 {
			return "none"
		}
		return strings.Join(qs, ", ")
	}
	fmt.Fprintf(stdout, "A: %s\nB: %s\n%d queries, a hit when a matching image is in the top %d\n\n", pathA, pathB, cmp.Queries, cmp.K)
	fmt.Fprintf(stdout, "A finds %d, B finds %d.\nonly A (%d): %s\nonly B (%d): %s\n\n", cmp.HitsA, cmp.HitsB, len(cmp.OnlyA), list(cmp.OnlyA), len(cmp.OnlyB), list(cmp.OnlyB))
	verdict := "these queries cannot tell A from B (that takes p < 0.05)"
	if cmp.P < 0.05 {
		verdict = "a difference these queries can tell (p < 0.05)"
	}
	fmt.Fprintf(stdout, "exact McNemar test of the %d queries only one finds: p = %.3g, %s.\n", len(cmp.OnlyA)+len(cmp.OnlyB), cmp.P, verdict)
	return nil
}

// readQueryReport reads a file that eval --queries --json wrote; ok is
// false for anything else, such as a ranks file.
func readQueryReport(path string) (rep eval.QueryReport, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &rep) != nil {
		return rep, false
	}
	return rep, len(rep.Outcomes) > 0 && rep.K > 0
}

// readRanks reads a file that eval --ranks wrote.
func readRanks(path string) ([]eval.QueryRank, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var qs []eval.QueryRank
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var q eval.QueryRank
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if q.Direction != "text_to_image" && q.Direction != "image_to_text" {
			return nil, fmt.Errorf("%s:%d: direction %q, want text_to_image or image_to_text: not an eval --ranks file", path, line, q.Direction)
		}
		qs = append(qs, q)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return qs, nil
}

// writeRanks writes one JSON object per query.
func writeRanks(path string, qs []eval.QueryRank) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := jsonLines(w)
	for _, q := range qs {
		enc.Encode(q) // a QueryRank always marshals; a write error sticks in w for Flush
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readQueryFile reads a query file (eval.ReadQueries).
func readQueryFile(path string) ([]eval.QueryCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return eval.ReadQueries(f, path)
}
