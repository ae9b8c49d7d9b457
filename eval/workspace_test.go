package eval

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/xmodal/xmodal/workspace"
)

// Indexing finishes images in no fixed order, so the same collection can
// land in a workspace's rows in any order. Identical captions tie, and a
// tie goes to the earlier position: the result must not depend on rows.
//
//	images:   a=(1,0)  b=(0,1)  d=(0.6,0.8)
//	captions: a: "c"=(1,0)  b: "c"=(1,0)  d: "d"=(0.6,0.8)
//
// Image→text in key order (a, b, d): a ranks its "c" first (tied with b's,
// which comes later); b ranks its "c" third, after "d" (0.8) and a's tied
// "c"; d ranks "d" first. Rows in the order b, a, d would give a rank 2.
func TestWorkspaceIgnoresRowOrder(t *testing.T) {
	ctx := context.Background()
	img := map[string]workspace.NewImage{
		"a.png": {Key: "a.png", Path: "a.png", Vector: []float32{1, 0}, Captions: []string{"c"}, CaptionVectors: [][]float32{{1, 0}}},
		"b.png": {Key: "b.png", Path: "b.png", Vector: []float32{0, 1}, Captions: []string{"c"}, CaptionVectors: [][]float32{{1, 0}}},
		"d.png": {Key: "d.png", Path: "d.png", Vector: []float32{0.6, 0.8}, Captions: []string{"d"}, CaptionVectors: [][]float32{{0.6, 0.8}}},
	}
	var results []Result
	for i, order := range [][]string{{"a.png", "b.png", "d.png"}, {"b.png", "a.png", "d.png"}, {"d.png", "b.png", "a.png"}} {
		ws, err := workspace.Create(filepath.Join(t.TempDir(), "ws"), workspace.Model{ID: "m", Name: "m", Dim: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		for _, key := range order { // one batch each: rows in this order
			if err := ws.Add(ctx, []workspace.NewImage{img[key]}, nil); err != nil {
				t.Fatal(err)
			}
		}
		r, err := Workspace(ctx, ws, "")
		if err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
		results = append(results, r)
	}
	// Image→text ranks 1, 3, 1.
	if got := results[0].ImageToText; math.Abs(got.R1-200.0/3) > 1e-9 || math.Abs(got.MRR-(1+1.0/3+1)/3) > 1e-9 {
		t.Errorf("image→text %+v, want R@1 66.7 and MRR 0.778 (ranks 1, 3, 1)", got)
	}
	for i, r := range results[1:] {
		if r != results[0] {
			t.Errorf("rows in order %d: %+v, want %+v as in key order", i+1, r, results[0])
		}
	}
}
