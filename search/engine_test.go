package search

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/workspace"
)

const fixtures = "../testdata/clip"

// setup builds a workspace of the fixture images, each captioned with its
// file name, encoded with the tiny model-a.
func setup(t *testing.T) (*Engine, *clip.Model) {
	t.Helper()
	ctx := context.Background()
	m, err := clip.Load(filepath.Join(fixtures, "model-a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	id, err := m.ID()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ident := workspace.Model{ID: id, Name: "model-a", Dim: m.Dim()}
	w, err := workspace.Create(dir, ident)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"03_tiny_17x9.png", "04_wide_900x60.png", "07_croponly_224x303.png", "08_rgb_732x672.png"}
	var docs []workspace.NewImage
	for _, f := range files {
		path, _ := filepath.Abs(filepath.Join(fixtures, "images", f))
		vec, err := m.EncodeImageFiles(ctx, []string{path})
		if err != nil {
			t.Fatal(err)
		}
		caps := []string{"a picture named " + f}
		cv, _ := m.EncodeTexts(ctx, caps)
		nn.Normalize(vec[0])
		nn.Normalize(cv[0])
		docs = append(docs, workspace.NewImage{Key: f, Path: path, SHA256: f, Vector: vec[0], Captions: caps, CaptionVectors: cv})
	}
	if err := w.Add(ctx, docs, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ws, err := workspace.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	e, err := New(ctx, m, ws)
	if err != nil {
		t.Fatal(err)
	}
	e.RefreshInterval = 0
	return e, m
}

func TestSearchDirections(t *testing.T) {
	ctx := context.Background()
	e, _ := setup(t)
	if imgs, caps := e.Counts(); imgs != 4 || caps != 4 {
		t.Fatalf("counts = %d, %d", imgs, caps)
	}
	// The caption of an image, searched for, finds that caption first.
	res, err := e.SearchTexts(ctx, []string{"a picture named 04_wide_900x60.png"}, workspace.Captions, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0]) != 2 || res[0][0].Text != "a picture named 04_wide_900x60.png" || res[0][0].Score < 0.9999 || res[0][0].Image.Key != "04_wide_900x60.png" {
		t.Errorf("text→caption = %+v", res[0])
	}
	if res[0][0].Score < res[0][1].Score || res[0][0].Rank != 1 || res[0][1].Rank != 2 {
		t.Errorf("hits not in order: %+v", res[0])
	}
	// An indexed image, searched for by its bytes, finds itself.
	data, _ := os.ReadFile(filepath.Join(fixtures, "images", "08_rgb_732x672.png"))
	imgRes, err := e.SearchImages(ctx, [][]byte{data}, workspace.Images, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgRes[0]) != 4 || imgRes[0][0].Key != "08_rgb_732x672.png" || imgRes[0][0].Score < 0.9999 || len(imgRes[0][0].Captions) != 1 {
		t.Errorf("image→image = %+v", imgRes[0])
	}
	// More like this leaves the image itself out.
	first := imgRes[0][0].ID
	similar, err := e.SimilarTo(ctx, workspace.Images, first, workspace.Images, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(similar) != 3 {
		t.Errorf("SimilarTo returned %d hits, want 3", len(similar))
	}
	for _, h := range similar {
		if h.ID == first {
			t.Errorf("SimilarTo returned the image itself")
		}
	}
}

func TestBadQueries(t *testing.T) {
	ctx := context.Background()
	e, _ := setup(t)
	if _, err := e.SearchImages(ctx, [][]byte{[]byte("not an image")}, workspace.Images, 3); !errors.Is(err, ErrBadQuery) {
		t.Errorf("bad image: %v", err)
	}
	if _, err := e.SearchTexts(ctx, []string{"x"}, workspace.Images, 0); !errors.Is(err, ErrBadQuery) {
		t.Errorf("top_k 0: %v", err)
	}
	if _, err := e.SearchTexts(ctx, []string{"x"}, "video", 3); !errors.Is(err, ErrBadQuery) {
		t.Errorf("bad target: %v", err)
	}
	if _, err := e.SimilarTo(ctx, workspace.Images, 999, workspace.Images, 3); !errors.Is(err, ErrBadQuery) {
		t.Errorf("unknown id: %v", err)
	}
}

func TestAddDeleteAndConcurrentWriter(t *testing.T) {
	ctx := context.Background()
	e, _ := setup(t)
	data, _ := os.ReadFile(filepath.Join(fixtures, "images", "05_la_250x330.png"))
	im, err := e.Add(ctx, data, []string{"  grey and see-through  ", ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Captions) != 1 || im.Captions[0].Text != "grey and see-through" {
		t.Errorf("added %+v", im)
	}
	if n, _ := e.Counts(); n != 5 {
		t.Errorf("after Add: %d images", n)
	}
	res, _ := e.SearchImages(ctx, [][]byte{data}, workspace.Images, 1)
	if res[0][0].ID != im.ID {
		t.Errorf("the added image does not find itself: %+v", res[0])
	}
	// Adding the same bytes again replaces rather than duplicates.
	if _, err := e.Add(ctx, data, []string{"again"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.Counts(); n != 5 {
		t.Errorf("after re-adding: %d images", n)
	}
	again, _ := e.Workspace().ImageByKey(ctx, im.Key)
	if err := e.Delete(ctx, again.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.Counts(); n != 4 {
		t.Errorf("after Delete: %d images", n)
	}
	if _, err := os.Stat(again.Path); !os.IsNotExist(err) {
		t.Errorf("uploaded file still there: %v", err)
	}

	// While another process holds the writer lock, edits are refused
	// and searches go on.
	w, err := workspace.Create(e.Workspace().Dir(), e.Workspace().Manifest().Model)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := e.Add(ctx, data, nil); !errors.Is(err, ErrBusy) {
		t.Errorf("Add during another writer: %v", err)
	}
	// The other writer's additions show up in searches.
	vec := make([]float32, e.Encoder().Dim())
	vec[0] = 1
	if err := w.Add(ctx, []workspace.NewImage{{Key: "other.png", Path: "/x/other.png", SHA256: "o", Vector: vec}}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	hits, err := e.SearchVectors(ctx, [][]float32{vec}, workspace.Images, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hits[0][0].Key != "other.png" {
		t.Errorf("other writer's image not found: %+v", hits[0])
	}
}
