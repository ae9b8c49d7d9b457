package search

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmodal/xmodal/internal/atomicfile"
	"github.com/xmodal/xmodal/model"
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
	e, err := New(ctx, model.NewCLIP(m), ws)
	if err != nil {
		t.Fatal(err)
	}
	e.RefreshInterval = 0
	return e, m
}

// hits runs a query that must succeed and returns the hits of its only
// target.
func hits(t *testing.T, e *Engine, q Query) []Hit {
	t.Helper()
	res, err := e.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	if len(res.Targets) != 1 {
		t.Fatalf("%d targets", len(res.Targets))
	}
	return res.Hits[res.Targets[0]]
}

func TestSearchDirections(t *testing.T) {
	ctx := context.Background()
	e, _ := setup(t)
	if imgs, caps := e.Counts(); imgs != 4 || caps != 4 {
		t.Fatalf("counts = %d, %d", imgs, caps)
	}
	// The caption of an image, searched for, finds that caption first.
	res := hits(t, e, Query{Text: "a picture named 04_wide_900x60.png", Targets: []workspace.Kind{workspace.Captions}, TopK: 2})
	if len(res) != 2 || res[0].Text != "a picture named 04_wide_900x60.png" || res[0].Score < 0.9999 || res[0].Image.Key != "04_wide_900x60.png" {
		t.Errorf("text→caption = %+v", res)
	}
	if res[0].Score < res[1].Score || res[0].Rank != 1 || res[1].Rank != 2 {
		t.Errorf("hits not in order: %+v", res)
	}
	// A text finds images by default, and gets DefaultTopK (all four here).
	if res := hits(t, e, Query{Text: "a picture"}); len(res) != 4 || res[0].Type != workspace.Images {
		t.Errorf("text = %+v", res)
	}
	// An indexed image, searched for by its bytes, finds itself.
	data, _ := os.ReadFile(filepath.Join(fixtures, "images", "08_rgb_732x672.png"))
	imgRes := hits(t, e, Query{Image: data, Targets: []workspace.Kind{workspace.Images}})
	if len(imgRes) != 4 || imgRes[0].Key != "08_rgb_732x672.png" || imgRes[0].Score < 0.9999 || len(imgRes[0].Captions) != 1 {
		t.Errorf("image→image = %+v", imgRes)
	}
	// By default an image finds captions.
	if res := hits(t, e, Query{Image: data, TopK: 1}); len(res) != 1 || res[0].Type != workspace.Captions {
		t.Errorf("image = %+v", res)
	}
	// More like this leaves the image itself out, and gives what its
	// bytes give.
	first := imgRes[0].ID
	similar := hits(t, e, Query{ImageID: first})
	if len(similar) != 3 {
		t.Errorf("more like this returned %d hits, want 3", len(similar))
	}
	for i, h := range similar {
		if h.ID == first || h.ID != imgRes[i+1].ID {
			t.Errorf("more like this: %+v, by bytes: %+v", similar, imgRes)
		}
	}
	// Both targets at once, in a batch with a text.
	both, err := e.SearchAll(ctx, []Query{{CaptionID: res[0].ID, Targets: []workspace.Kind{workspace.Images, workspace.Captions}}, {Text: "x", TopK: 1}})
	if err != nil || len(both) != 2 || len(both[0].Hits[workspace.Images]) != 4 || len(both[0].Hits[workspace.Captions]) != 3 || len(both[1].Hits[workspace.Images]) != 1 {
		t.Errorf("batch: %+v, %v", both, err)
	}
}

func TestBadQueries(t *testing.T) {
	ctx := context.Background()
	e, _ := setup(t)
	e.Limits = Limits{MaxTopK: 50, MaxTextBytes: 20}
	for _, c := range []struct {
		q    Query
		want error
		msg  string
	}{
		{Query{Image: []byte("not an image")}, ErrBadQuery, "unknown image format"},
		{Query{}, ErrBadQuery, "exactly one"},
		{Query{Text: "x", ImageID: 1}, ErrBadQuery, "exactly one"},
		{Query{Text: "  "}, ErrBadQuery, "the text is empty"},
		{Query{Text: "twenty-one characters"}, ErrBadQuery, "above the limit of 20"},
		{Query{Text: "\xff\xfe"}, ErrBadQuery, "UTF-8"},
		{Query{Text: "x", TopK: -1}, ErrBadQuery, "at least 1"},
		{Query{Text: "x", TopK: 51}, ErrBadQuery, "limit of 50"},
		{Query{Text: "x", Targets: []workspace.Kind{"video"}}, ErrBadQuery, "target"},
		{Query{ImageID: 999}, ErrNotFound, "no image with id 999"},
		{Query{CaptionID: 999}, ErrNotFound, "no caption with id 999"},
	} {
		_, err := e.Search(ctx, c.q)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want %v saying %q", c.q, err, c.want, c.msg)
		}
	}
	// In a batch, the error says which query.
	_, err := e.SearchAll(ctx, []Query{{Text: "fine"}, {Text: ""}})
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Index != 1 || !errors.Is(err, ErrBadQuery) {
		t.Errorf("batch: %v", err)
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
	if res := hits(t, e, Query{Image: data, Targets: []workspace.Kind{workspace.Images}, TopK: 1}); res[0].ID != im.ID {
		t.Errorf("the added image does not find itself: %+v", res)
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
		res, err := e.Search(ctx, Query{ImageID: id, Targets: []workspace.Kind{workspace.Captions}, TopK: 1})
		if err != nil || len(res.Hits[workspace.Captions]) != 1 {
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

// A page of results is that slice of the results, ranked as there.
func TestOffset(t *testing.T) {
	e, _ := setup(t)
	e.Limits = Limits{MaxTopK: 5}
	for _, q := range []Query{{Text: "a picture"}, {Text: "a picture named 04_wide", Hybrid: true}, {ImageID: 1}} {
		all := q
		all.TopK = 4
		want := hits(t, e, all)
		for _, page := range [][2]int{{0, 2}, {1, 2}, {2, 3}, {3, 2}, {4, 1}} {
			p := q
			p.Offset, p.TopK = page[0], page[1]
			got := hits(t, e, p)
			if lo, hi := min(page[0], len(want)), min(page[0]+page[1], len(want)); !slices.EqualFunc(got, want[lo:hi], func(a, b Hit) bool {
				return a.ID == b.ID && a.Rank == b.Rank && a.Score == b.Score
			}) {
				t.Errorf("%+v: offset %d, top_k %d: %+v, want %+v", q, p.Offset, p.TopK, got, want[lo:hi])
			}
		}
	}
	for _, c := range []struct {
		q   Query
		msg string
	}{
		{Query{Text: "x", Offset: -1}, "offset must be 0 or more"},
		{Query{Text: "x", Offset: 3, TopK: 3}, "reach past the limit of 5"},
	} {
		if _, err := e.Search(context.Background(), c.q); !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want a bad query saying %q", c.q, err, c.msg)
		}
	}
}

// A steered query searches with its vector plus the added texts' and
// minus the subtracted texts', each at unit length.
func TestSteering(t *testing.T) {
	ctx := context.Background()
	e, m := setup(t)
	unit := func(text string) []float32 {
		v, err := m.EncodeTexts(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		nn.Normalize(v[0])
		return v[0]
	}
	base, plus, minus := unit("a picture"), unit("wide"), unit("tiny")
	want := slices.Clone(base)
	nn.Axpy(want, plus, 1)
	nn.Axpy(want, minus, -1)
	exp, err := e.SearchVectors(ctx, [][]float32{want}, workspace.Images, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := hits(t, e, Query{Text: "a picture", Add: []string{"wide"}, Subtract: []string{"tiny"}, TopK: 4})
	if !slices.EqualFunc(got, exp[0], func(a, b Hit) bool { return a.ID == b.ID && math.Abs(float64(a.Score-b.Score)) < 1e-6 }) {
		t.Errorf("steered: %+v, want %+v", got, exp[0])
	}
	// More like this, steered: the image itself is still left out.
	similar := hits(t, e, Query{ImageID: 1, Add: []string{"wide"}})
	if len(similar) != 3 {
		t.Errorf("steered more like this: %+v", similar)
	}
	for _, h := range similar {
		if h.ID == 1 {
			t.Errorf("the image itself came back: %+v", h)
		}
	}
	if _, err := e.Search(ctx, Query{Text: "x", Add: []string{" "}}); !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "a text to add or subtract") {
		t.Errorf("empty text to add: %v", err)
	}
	many := slices.Repeat([]string{"red"}, MaxSteerTexts)
	if _, err := e.Search(ctx, Query{Text: "x", Add: many, Subtract: []string{"blue"}}); !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "above the limit of 16") {
		t.Errorf("17 texts to steer by: %v", err)
	}
}
