package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmodal/xmodal/workspace"
)

func TestHybrid(t *testing.T) {
	ctx := context.Background()
	e, _ := setup(t)
	// The fixtures' tiny model knows no words; only the caption "a
	// picture named 04_wide_900x60.png" has the word "wide".
	dense := hits(t, e, Query{Text: "wide"})
	rank := 0
	for _, h := range dense {
		if h.Key == "04_wide_900x60.png" {
			rank = h.Rank
		}
	}
	if rank == 0 {
		t.Fatalf("vector search did not rank every image: %+v", dense)
	}
	hybrid := hits(t, e, Query{Text: "wide", Hybrid: true})
	if len(hybrid) != 4 || hybrid[0].Key != "04_wide_900x60.png" || hybrid[0].Rank != 1 {
		t.Fatalf("hybrid = %+v, want 04_wide_900x60.png first of 4", hybrid)
	}
	// First by words, at rank r by vector: 1/61 + 1/(60+r).
	if want := 1.0/61 + 1/float64(60+rank); math.Abs(float64(hybrid[0].Score)-want) > 1e-6 {
		t.Errorf("fused score = %v, want %v", hybrid[0].Score, want)
	}
	if hr := hybrid[0].Hybrid; hr == nil || hr.Vector != rank || hr.Words != 1 {
		t.Errorf("hybrid ranks of the first hit = %+v, want vector %d, words 1", hr, rank)
	}
	// The others keep their vector order, each scored 1/(60+r).
	for _, h := range hybrid[1:] {
		if h.Hybrid == nil || h.Hybrid.Words != 0 || h.Hybrid.Vector == 0 {
			t.Errorf("%s: hybrid ranks %+v, want by vector only", h.Key, h.Hybrid)
		}
		for _, d := range dense {
			if d.ID == h.ID && math.Abs(float64(h.Score)-1/float64(60+d.Rank)) > 1e-6 {
				t.Errorf("%s: fused score %v at vector rank %d", h.Key, h.Score, d.Rank)
			}
		}
	}
	// Captions by their own words; a file name's words count for images.
	caps := hits(t, e, Query{Text: "wide", Hybrid: true, Targets: []workspace.Kind{workspace.Captions}, TopK: 1})
	if len(caps) != 1 || caps[0].Image.Key != "04_wide_900x60.png" {
		t.Errorf("hybrid captions = %+v", caps)
	}
	// Filters apply to both halves.
	if res := hits(t, e, Query{Text: "wide", Hybrid: true, Filter: workspace.Filter{Split: "test"}}); len(res) != 0 {
		t.Errorf("filtered out, yet found: %+v", res)
	}

	// Added documents are found by their words at once; deleted ones are not.
	data, _ := os.ReadFile(filepath.Join(fixtures, "images", "05_la_250x330.png"))
	im, err := e.Add(ctx, data, []string{"a grey kite"})
	if err != nil {
		t.Fatal(err)
	}
	if res := hits(t, e, Query{Text: "kites", Hybrid: true, TopK: 1}); res[0].ID != im.ID {
		t.Errorf("the added image is not found by its caption's word: %+v", res)
	}
	if err := e.Delete(ctx, im.ID); err != nil {
		t.Fatal(err)
	}
	for _, h := range hits(t, e, Query{Text: "kites", Hybrid: true}) {
		if h.ID == im.ID {
			t.Errorf("a deleted image was found: %+v", h)
		}
	}

	_, err = e.Search(ctx, Query{ImageID: dense[0].ID, Hybrid: true})
	if !errors.Is(err, ErrBadQuery) {
		t.Errorf("hybrid search by image id: %v, want a bad query", err)
	}
}

// Hybrid searches run while images are added and deleted (go test -race).
func TestHybridWhileWriting(t *testing.T) {
	ctx := context.Background()
	e, _ := setup(t)
	data, _ := os.ReadFile(filepath.Join(fixtures, "images", "05_la_250x330.png"))
	done := make(chan struct{})
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if _, err := e.Search(ctx, Query{Text: "kite picture", Hybrid: true, Targets: []workspace.Kind{workspace.Images, workspace.Captions}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 10 {
		im, err := e.Add(ctx, data, []string{fmt.Sprintf("kite number %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := e.Delete(ctx, im.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Only the last image added is live: re-adding the same bytes
	// replaced the ones before it.
	res := hits(t, e, Query{Text: "kite", Hybrid: true, Targets: []workspace.Kind{workspace.Captions}})
	if res[0].Text != "kite number 9" {
		t.Errorf("first caption for kite: %+v", res[0])
	}
	for _, h := range res {
		if strings.HasPrefix(h.Text, "kite number") && h.Text != "kite number 9" {
			t.Errorf("a replaced or deleted caption was found: %q", h.Text)
		}
	}
}
