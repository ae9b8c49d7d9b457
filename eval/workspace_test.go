package eval

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
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

// WorkspaceRanks names every query of TestWorkspaceIgnoresRowOrder's
// collection by key and caption text.
func TestWorkspaceRanks(t *testing.T) {
	ctx := context.Background()
	ws, err := workspace.Create(filepath.Join(t.TempDir(), "ws"), workspace.Model{ID: "m", Name: "m", Dim: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// rows in the order d, b, a: the answer must still be in key order
	for _, im := range []workspace.NewImage{
		{Key: "d.png", Path: "d.png", Vector: []float32{0.6, 0.8}, Captions: []string{"d"}, CaptionVectors: [][]float32{{0.6, 0.8}}},
		{Key: "b.png", Path: "b.png", Vector: []float32{0, 1}, Captions: []string{"c"}, CaptionVectors: [][]float32{{1, 0}}},
		{Key: "a.png", Path: "a.png", Vector: []float32{1, 0}, Captions: []string{"c"}, CaptionVectors: [][]float32{{1, 0}}},
	} {
		if err := ws.Add(ctx, []workspace.NewImage{im}, nil); err != nil {
			t.Fatal(err)
		}
	}
	res, got, err := WorkspaceRanks(ctx, ws, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []QueryRank{
		{Direction: "text_to_image", Query: "c", Image: "a.png", Rank: 1, Top: []string{"a.png", "d.png"}},
		{Direction: "text_to_image", Query: "c", Image: "b.png", Rank: 3, Top: []string{"a.png", "d.png"}},
		{Direction: "text_to_image", Query: "d", Image: "d.png", Rank: 1, Top: []string{"d.png", "b.png"}},
		{Direction: "image_to_text", Query: "a.png", Image: "a.png", Caption: "c", Rank: 1, Top: []string{"c", "c"}},
		{Direction: "image_to_text", Query: "b.png", Image: "b.png", Caption: "c", Rank: 3, Top: []string{"d", "c"}},
		{Direction: "image_to_text", Query: "d.png", Image: "d.png", Caption: "d", Rank: 1, Top: []string{"d", "c"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	plain, err := Workspace(ctx, ws, "")
	if err != nil {
		t.Fatal(err)
	}
	if res != plain {
		t.Errorf("WorkspaceRanks metrics %+v, Workspace %+v", res, plain)
	}
}
