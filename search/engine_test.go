package search

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmodal/xmodal/internal/atomicfile"
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
	if _, err := e.Add(ctx, data, nil); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("Add during another writer: %v (want ErrBusy naming the holder)", err)
	}
	assertUploads(t, e) // the refused add left no file
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

// assertUploads checks that the uploads folder holds exactly the files of
// the indexed uploads: nothing orphaned, nothing temporary, nothing missing.
func assertUploads(t *testing.T, e *Engine) {
	t.Helper()
	ctx := context.Background()
	imgs, err := e.Workspace().ImagesInSplit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, im := range imgs {
		if strings.HasPrefix(im.Key, UploadsDir+"/") {
			want[filepath.Base(im.Path)] = true
		}
	}
	entries, _ := os.ReadDir(filepath.Join(e.Workspace().Dir(), UploadsDir))
	got := map[string]bool{}
	for _, ent := range entries {
		got[ent.Name()] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("uploads folder holds %v, the indexed uploads are %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
}

// pngOf makes a distinct small PNG for each seed.
func pngOf(t *testing.T, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for i := range img.Pix {
		img.Pix[i] = byte(i*7 + seed*31)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Adds of one engine take turns instead of refusing each other.
func TestConcurrentAdds(t *testing.T) {
	ctx := context.Background()
	e, _ := setup(t)
	const workers, each = 4, 6
	var wg sync.WaitGroup
	ids := make(chan int64, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				im, err := e.Add(ctx, pngOf(t, w*each+i), []string{fmt.Sprintf("upload %d of worker %d", i, w)})
				if err != nil {
					t.Errorf("add: %v", err)
					return
				}
				ids <- im.ID
			}
		}()
	}
	wg.Wait()
	close(ids)
	n := 0
	for id := range ids {
		n++
		hits, err := e.SimilarTo(ctx, workspace.Images, id, workspace.Captions, 1)
		if err != nil || len(hits) != 1 {
			t.Errorf("image %d is not searchable: %v", id, err)
		}
	}
	if images, _ := e.Counts(); n != workers*each || images != 4+n {
		t.Errorf("%d adds confirmed, %d images indexed; want %d and %d", n, images, workers*each, 4+workers*each)
	}
	assertUploads(t, e)
}

// CleanUploads settles what a crash leaves: the committed upload still
// under its temporary name, a temporary file of an add that never
// committed, and a file no document names.
func TestCleanUploads(t *testing.T) {
	ctx := context.Background()
	e, _ := setup(t)
	kept, err := e.Add(ctx, pngOf(t, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	crashed, err := e.Add(ctx, pngOf(t, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(e.Workspace().Dir(), UploadsDir)
	// As if the process died between the commit and the rename.
	tmp := filepath.Join(dir, atomicfile.TempPrefix+filepath.Base(crashed.Path)+"-123456")
	if err := os.Rename(crashed.Path, tmp); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{atomicfile.TempPrefix + "feed.png-999", "0123abcd.png"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	recovered, removed, err := e.CleanUploads(ctx)
	if err != nil || recovered != 1 || removed != 2 {
		t.Fatalf("CleanUploads: recovered %d, removed %d, %v; want 1, 2", recovered, removed, err)
	}
	assertUploads(t, e)
	for _, im := range []*workspace.Image{kept, crashed} {
		if _, err := os.Stat(im.Path); err != nil {
			t.Errorf("upload %d: %v", im.ID, err)
		}
	}
	// A second run has nothing to do.
	if recovered, removed, err := e.CleanUploads(ctx); err != nil || recovered+removed != 0 {
		t.Errorf("second CleanUploads: %d, %d, %v", recovered, removed, err)
	}
}
