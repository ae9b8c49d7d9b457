package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xmodal/xmodal/index"
	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/workspace"
)

// synthWorkspace fills a new workspace with n images of clustered vectors,
// each with one caption whose vector sits near its image's, shifted as
// text vectors are; it returns the directory and the model it records.
func synthWorkspace(t *testing.T, n, dim int) (string, workspace.Model) {
	t.Helper()
	dir := t.TempDir()
	ident := workspace.Model{ID: "synthetic", Name: "model-a", Dim: dim}
	w, err := workspace.Create(dir, ident)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := addSynth(w, 0, n, dim); err != nil {
		t.Fatal(err)
	}
	return dir, ident
}

// addSynth adds images from..to-1 of the synthetic collection.
func addSynth(w *workspace.Workspace, from, to, dim int) error {
	r := rand.New(rand.NewPCG(42, 0))
	centres := make([][]float32, 100)
	for i := range centres {
		centres[i] = make([]float32, dim)
		for k := range centres[i] {
			centres[i][k] = float32(r.NormFloat64())
		}
		nn.Normalize(centres[i])
	}
	shift := make([]float32, dim)
	for k := range shift {
		shift[k] = 0.05 * float32(r.NormFloat64())
	}
	var batch []workspace.NewImage
	for i := from; i < to; i++ {
		ri := rand.New(rand.NewPCG(uint64(i), 1))
		c := centres[ri.IntN(len(centres))]
		img, txt := make([]float32, dim), make([]float32, dim)
		for k := range img {
			img[k] = c[k] + 0.6*float32(ri.NormFloat64())/float32(math.Sqrt(float64(dim)))
			txt[k] = img[k] + shift[k] + 0.3*float32(ri.NormFloat64())/float32(math.Sqrt(float64(dim)))
		}
		nn.Normalize(img)
		nn.Normalize(txt)
		key := fmt.Sprintf("d%02d/img%06d.png", i%100, i)
		batch = append(batch, workspace.NewImage{Key: key, Path: key, SHA256: key, Split: []string{"train", "test"}[i%2],
			Vector: img, Captions: []string{"caption of " + key}, CaptionVectors: [][]float32{txt}})
		if len(batch) == 1000 || i == to-1 {
			if err := w.Add(context.Background(), batch, nil); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

// tinyEncoder is model-a, whose vectors the synthetic workspaces pretend
// to hold: the engine needs an encoder of the right dimension, and these
// tests search by vector.
func tinyEncoder(t *testing.T) model.Encoder {
	t.Helper()
	m, err := clip.Load(filepath.Join(fixtures, "model-a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return model.NewCLIP(m)
}

// compareEngines searches a graph engine and an exact one with the
// workspace's caption vectors (text→image) and image vectors
// (image→image), and checks recall and that every hit is live.
func compareEngines(t *testing.T, dir string, enc model.Encoder, wantGraph bool) {
	t.Helper()
	ctx := context.Background()
	ws, err := workspace.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	approx, err := NewWithConfig(ctx, enc, ws, Config{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer approx.Close()
	exact, err := NewWithConfig(ctx, enc, ws, Config{Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()
	_, isGraph := approx.snapshot().indexes[workspace.Images].(*annIndex)
	if isGraph != wantGraph {
		t.Fatalf("image index is a graph: %v, want %v", isGraph, wantGraph)
	}
	rep, err := approx.MeasureGraphs(ctx, "", 10, 300)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rep.Results {
		t.Logf("%s: recall@10 %.4f over %d vectors", m.Queries, m.Recall, m.Indexed)
		if m.Recall < 0.95 {
			t.Errorf("%s: recall@10 = %.3f, want ≥ 0.95", m.Queries, m.Recall)
		}
	}
	if wantGraph && len(rep.Results) == 0 {
		t.Error("no graph measured")
	}
	// The engines agree on documents, and deleted ones never come back.
	s := exact.snapshot()
	q := [][]float32{slices.Clone(s.indexes[workspace.Captions].Row(0)), slices.Clone(s.indexes[workspace.Captions].Row(7))}
	a, err := approx.SearchVectors(ctx, q, workspace.Images, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := exact.SearchVectors(ctx, q, workspace.Images, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			t.Fatalf("query %d: %d hits from the graph, %d exact", i, len(a[i]), len(b[i]))
		}
		if a[i][0].ID != b[i][0].ID || a[i][0].Key != b[i][0].Key {
			t.Errorf("query %d: graph's best %+v, exact best %+v", i, a[i][0], b[i][0])
		}
	}
}

func TestEngineGraph(t *testing.T) {
	const n, dim = 6000, 48
	enc := tinyEncoder(t)
	if enc.Dim() != dim {
		t.Fatalf("model-a has %d dims, the test assumes %d", enc.Dim(), dim)
	}
	dir, ident := synthWorkspace(t, n, dim)
	ctx := context.Background()

	// Small: searched exactly until a graph is asked for.
	compareEngines(t, dir, enc, false)
	w, err := workspace.Create(dir, ident)
	if err != nil {
		t.Fatal(err)
	}
	inserted, err := UpdateGraphs(ctx, w, GraphOptions{Force: true, Checkpoint: 2500})
	if err != nil || inserted != 2*n {
		t.Fatalf("UpdateGraphs = %d, %v; want %d", inserted, err, 2*n)
	}
	if !w.HasGraph(workspace.Images) || !w.HasGraph(workspace.Captions) {
		t.Fatal("no graph files")
	}
	// Deletions, and images added after the graph: the engine inserts the
	// new rows itself and passes over the deleted ones.
	var gone []string
	for i := 0; i < n; i += 3 {
		gone = append(gone, fmt.Sprintf("d%02d/img%06d.png", i%100, i))
	}
	if _, err := w.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := addSynth(w, n, n+500, dim); err != nil {
		t.Fatal(err)
	}
	w.Close()
	compareEngines(t, dir, enc, true)

	// An engine that runs while `index` adds and saves many rows takes
	// the saved graph rather than inserting them itself.
	ro, err := workspace.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	running, err := New(ctx, enc, ro)
	if err != nil {
		t.Fatal(err)
	}
	before := running.snapshot().indexes[workspace.Images].(*annIndex).g
	w, err = workspace.Create(dir, ident)
	if err != nil {
		t.Fatal(err)
	}
	if err := addSynth(w, n+500, n+500+reloadGap, dim); err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateGraphs(ctx, w, GraphOptions{}); err != nil {
		t.Fatal(err)
	}
	// That run also took the deleted third out of the graph's edges.
	ids, err := w.RowIDs(ctx, workspace.Images)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := w.LoadGraph(workspace.Images); err != nil {
		t.Fatal(err)
	} else if linked := g.Linked(func(r int) bool { return ids[r] == 0 }); linked != 0 {
		t.Errorf("%d deleted rows still linked after UpdateGraphs", linked)
	}
	w.Close()
	if err := running.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	after := running.snapshot().indexes[workspace.Images].(*annIndex)
	if after.g == before || after.g.Len() != n+500+reloadGap || before.Len() != n+500 {
		t.Errorf("after index saved %d more rows: graph replaced %v, %d rows (the old one %d)", reloadGap, after.g != before, after.g.Len(), before.Len())
	}
	running.Close()
	ro.Close()
	compareEngines(t, dir, enc, true)

	// A damaged graph file is rebuilt, by the engine in memory and by
	// UpdateGraphs on disk.
	path := filepath.Join(dir, "vectors", "image.graph")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := func() (*index.Graph, error) {
		ws, _ := workspace.Open(dir)
		defer ws.Close()
		return ws.LoadGraph(workspace.Images)
	}(); !errors.Is(err, index.ErrCorrupt) {
		t.Fatalf("LoadGraph of a damaged file = %v, want ErrCorrupt", err)
	}
	compareEngines(t, dir, enc, true)
	w, err = workspace.Create(dir, ident)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateGraphs(ctx, w, GraphOptions{}); err != nil {
		t.Fatal(err)
	}
	g, err := w.LoadGraph(workspace.Images)
	if err != nil {
		t.Fatalf("rebuilt graph: %v", err)
	}
	if g.Len() != n+500+reloadGap {
		t.Fatalf("rebuilt graph has %d rows, want %d", g.Len(), n+500+reloadGap)
	}
	w.Close()
}

// TestGraphBuildKilled kills a process building a graph (SIGKILL, between
// and during checkpoints): the workspace still opens and searches
// correctly, and the next build resumes from the last checkpoint.
func TestGraphBuildKilled(t *testing.T) {
	if dir := os.Getenv("XMODAL_GRAPH_BUILD"); dir != "" {
		// The child: build, slowly enough to be killed part way.
		w, err := workspace.Create(dir, workspace.Model{ID: "synthetic", Name: "model-a", Dim: 48})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_, err = UpdateGraphs(context.Background(), w, GraphOptions{Force: true, Checkpoint: 3000})
		fmt.Fprintln(os.Stderr, "finished", err)
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	const n, dim = 20000, 48
	enc := tinyEncoder(t)
	dir, _ := synthWorkspace(t, n, dim)
	graph := filepath.Join(dir, "vectors", "image.graph")
	for round, delay := range []time.Duration{0, 37 * time.Millisecond, 700 * time.Millisecond} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestGraphBuildKilled$")
		cmd.Env = append(os.Environ(), "XMODAL_GRAPH_BUILD="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill once a checkpoint exists (or at once in round 0), plus
		// a delay that lands inside the next stretch of inserts.
		deadline := time.Now().Add(60 * time.Second)
		for round > 0 && time.Now().Before(deadline) {
			if _, err := os.Stat(graph); err == nil {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		ws, err := workspace.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		have := 0
		if g, err := ws.LoadGraph(workspace.Images); err == nil {
			have = g.Len()
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("round %d: the graph left by a killed build: %v", round, err)
		}
		ws.Close()
		t.Logf("round %d: killed after %s with %d image rows saved", round, delay, have)
		compareEngines(t, dir, enc, have > 0)
	}
	ws, err := workspace.Create(dir, workspace.Model{ID: "synthetic", Name: "model-a", Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	inserted, err := UpdateGraphs(context.Background(), ws, GraphOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := ws.LoadGraph(workspace.Images)
	if err != nil {
		t.Fatalf("after resuming: %v", err)
	}
	if g.Len() != n {
		t.Fatalf("after resuming the graph has %d rows, want %d", g.Len(), n)
	}
	if inserted >= 2*n {
		t.Errorf("resuming inserted %d vectors: nothing was kept from the killed builds", inserted)
	}
	t.Logf("resumed with %d of %d vectors still to insert", inserted, 2*n)
}

// TestFilteredSearch filters by split (half the rows: walked in the graph)
// and by folder (1 %: scored row by row), on a graph and exactly: every
// hit passes, and the two agree.
func TestFilteredSearch(t *testing.T) {
	const n, dim = 6000, 48
	enc := tinyEncoder(t)
	dir, ident := synthWorkspace(t, n, dim)
	ctx := context.Background()
	w, err := workspace.Create(dir, ident)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateGraphs(ctx, w, GraphOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ws, err := workspace.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	approx, err := New(ctx, enc, ws)
	if err != nil {
		t.Fatal(err)
	}
	exact, err := NewWithConfig(ctx, enc, ws, Config{Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	if approx.IndexKind(workspace.Images) != "graph" || exact.IndexKind(workspace.Images) != "exact" {
		t.Fatal("the engines do not search as configured")
	}
	for _, c := range []struct {
		f    workspace.Filter
		want int
	}{{workspace.Filter{Split: "test"}, n / 2}, {workspace.Filter{Under: "d07"}, n / 100}, {workspace.Filter{Under: "d0"}, 0}, {workspace.Filter{Split: "test", Under: "d07/"}, n / 100}} {
		rows, err := ws.FilterRows(ctx, workspace.Captions, c.f)
		if err != nil || len(rows) != c.want {
			t.Fatalf("FilterRows(%+v) = %d rows, %v; want %d", c.f, len(rows), err, c.want)
		}
	}
	s := exact.snapshot()
	for _, f := range []workspace.Filter{{Split: "test"}, {Under: "d07"}, {Under: "d07/"}, {Split: "train", Under: "d07"}, {Under: "nowhere"}} {
		for _, target := range []workspace.Kind{workspace.Images, workspace.Captions} {
			q := [][]float32{slices.Clone(s.indexes[workspace.Captions].Row(3)), slices.Clone(s.indexes[workspace.Images].Row(11))}
			a, err := approx.searchVectors(ctx, q, target, 10, nil, f)
			if err != nil {
				t.Fatal(err)
			}
			b, err := exact.searchVectors(ctx, q, target, 10, nil, f)
			if err != nil {
				t.Fatal(err)
			}
			for i := range q {
				if len(a[i]) != len(b[i]) {
					t.Fatalf("%+v %s query %d: %d hits on the graph, %d exact", f, target, i, len(a[i]), len(b[i]))
				}
				for j, h := range a[i] {
					key := h.Key
					if target == workspace.Captions {
						key = h.Image.Key
					}
					if f.Under != "" && !strings.HasPrefix(key, strings.TrimSuffix(f.Under, "/")+"/") {
						t.Fatalf("%+v: hit %s is not under the folder", f, key)
					}
					if h.ID != b[i][j].ID && h.Score != b[i][j].Score {
						t.Errorf("%+v %s query %d rank %d: graph %d (%g), exact %d (%g)", f, target, i, j, h.ID, h.Score, b[i][j].ID, b[i][j].Score)
					}
				}
			}
		}
	}
}

// TestQueryRows: the sample is spread evenly over the images in the order
// given (ImagesInSplit's key order, whatever rows they were stored in) and
// takes every caption of the chosen stretch.
func TestQueryRows(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e", "f", "g"}
	for _, tc := range []struct {
		name               string
		rows               []int // rows[i]: the row of keys[i]
		n                  int
		wantImgs, wantCaps []string
	}{
		{"stored in key order", []int{0, 1, 2, 3, 4, 5, 6}, 3, []string{"a", "c", "e"}, []string{"a/0", "c/0", "e/1"}},
		{"stored reversed", []int{6, 5, 4, 3, 2, 1, 0}, 3, []string{"a", "c", "e"}, []string{"a/0", "c/0", "e/1"}},
		{"more than there are images", []int{3, 0, 6, 2, 5, 1, 4}, 10, keys,
			[]string{"a/0", "a/1", "b/0", "c/0", "c/1", "d/1", "e/0", "e/1", "f/1", "g/0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs := make([]workspace.Image, len(keys))
			keyOfImg, keyOfCap := map[int]string{}, map[int]string{}
			for i, k := range keys {
				r := tc.rows[i]
				imgs[i] = workspace.Image{Key: k, Row: r, Captions: []workspace.Caption{{Row: 2 * r}, {Row: 2*r + 1}}}
				keyOfImg[r] = k
				keyOfCap[2*r], keyOfCap[2*r+1] = k+"/0", k+"/1"
			}
			imgRows, capRows := queryRows(imgs, tc.n)
			var gotImgs, gotCaps []string
			for _, r := range imgRows {
				gotImgs = append(gotImgs, keyOfImg[r])
			}
			for _, r := range capRows {
				gotCaps = append(gotCaps, keyOfCap[r])
			}
			if !slices.Equal(gotImgs, tc.wantImgs) || !slices.Equal(gotCaps, tc.wantCaps) {
				t.Errorf("images %v, captions %v; want %v, %v", gotImgs, gotCaps, tc.wantImgs, tc.wantCaps)
			}
		})
	}
}
