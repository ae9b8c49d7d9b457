package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testModel = Model{ID: "abc123", Name: "test", Dim: 3}

func newImage(key string, v float32, captions ...string) NewImage {
	im := NewImage{Key: key, Path: "/data/" + key, SHA256: "h-" + key, Size: 10, MTime: 1, Split: "test", Vector: []float32{v, 0, 0}, Captions: captions}
	for i := range captions {
		im.CaptionVectors = append(im.CaptionVectors, []float32{0, v, float32(i)})
	}
	return im
}

func TestAddReopenAndReplace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := Create(dir, testModel)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(ctx, []NewImage{newImage("a.jpg", 1, "an a", "another a"), newImage("b.jpg", 2, "a b")}, []Skip{{Key: "bad.jpg", Path: "/data/bad.jpg", Reason: "truncated"}}); err != nil {
		t.Fatal(err)
	}
	// Replacing a.jpg gives it new rows; the old ones become dead.
	if err := w.Add(ctx, []NewImage{newImage("a.jpg", 3, "new a")}, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()

	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, err := r.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Images != 2 || st.Captions != 2 || st.Skipped != 1 || st.Splits["test"] != 2 {
		t.Errorf("stats = %+v", st)
	}
	ids, err := r.RowIDs(ctx, Images)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids[0] != 0 || ids[1] == 0 || ids[2] == 0 {
		t.Errorf("image row ids = %v, want [0 x y]", ids)
	}
	vecs, err := r.ReadVectors(Images, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	if vecs[6] != 3 {
		t.Errorf("row 2 = %v, want the new a.jpg vector", vecs[6:9])
	}
	a, err := r.ImageByKey(ctx, "a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if a.Row != 2 || len(a.Captions) != 1 || a.Captions[0].Text != "new a" {
		t.Errorf("a.jpg = %+v", a)
	}
	states, err := r.States(ctx)
	if err != nil || len(states) != 2 || states["b.jpg"].Captions[0] != "a b" {
		t.Errorf("states = %+v, %v", states, err)
	}
}

func TestModelMismatchRefused(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, testModel)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	other := Model{ID: "zzz999", Name: "other", Dim: 3}
	if _, err := Create(dir, other); err == nil || !strings.Contains(err.Error(), "built with model test") {
		t.Errorf("Create with another model: %v", err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.CheckModel(other); err == nil {
		t.Error("CheckModel accepted another model")
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("Open of an empty directory: no error")
	}
}

func TestOneWriterAtATime(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, testModel)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Create(dir, testModel); !errors.Is(err, ErrLocked) {
		t.Errorf("second writer: %v", err)
	}
	// Readers are welcome while the writer works.
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := w.Add(context.Background(), []NewImage{newImage("a.jpg", 1, "x")}, nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.Rows(Images); n != 1 {
		t.Errorf("reader sees %d rows, want 1", n)
	}
}

func TestLeftoverRowsAreTrimmed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := Create(dir, testModel)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(ctx, []NewImage{newImage("a.jpg", 1)}, nil); err != nil {
		t.Fatal(err)
	}
	// An interrupted batch: vectors written, transaction never committed.
	if err := w.writeRows(Images, 1, []float32{9, 9, 9, 9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	path := filepath.Join(dir, "vectors", "image.f32")
	if st, _ := os.Stat(path); st.Size() != 3*3*4 {
		t.Fatalf("setup: file has %d bytes", st.Size())
	}
	w, err = Create(dir, testModel)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if st, _ := os.Stat(path); st.Size() != 3*4 {
		t.Errorf("after reopening, %d bytes, want one row (12)", st.Size())
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	w, err := Create(t.TempDir(), testModel)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Add(ctx, []NewImage{newImage("a.jpg", 1, "x", "y"), newImage("b.jpg", 2, "z")}, nil)
	n, err := w.Delete(ctx, []string{"a.jpg", "missing.jpg"})
	if err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	st, _ := w.Stats(ctx)
	if st.Images != 1 || st.Captions != 1 {
		t.Errorf("after delete: %+v", st)
	}
	ids, _ := w.RowIDs(ctx, Captions)
	if ids[0] != 0 || ids[1] != 0 || ids[2] == 0 {
		t.Errorf("caption row ids = %v", ids)
	}
}

func TestIDsAreNeverReused(t *testing.T) {
	ctx := context.Background()
	w, err := Create(t.TempDir(), testModel)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Add(ctx, []NewImage{newImage("a.jpg", 1, "x")}, nil)
	first, _ := w.ImageByKey(ctx, "a.jpg")
	w.Delete(ctx, []string{"a.jpg"})
	w.Add(ctx, []NewImage{newImage("b.jpg", 2, "y")}, nil)
	second, _ := w.ImageByKey(ctx, "b.jpg")
	if second.ID == first.ID || second.Captions[0].ID == first.Captions[0].ID {
		t.Errorf("ids reused: image %d then %d, caption %d then %d", first.ID, second.ID, first.Captions[0].ID, second.Captions[0].ID)
	}
	got, err := w.ImagesByID(ctx, []int64{first.ID, second.ID})
	if err != nil || len(got) != 1 || got[second.ID].Key != "b.jpg" {
		t.Errorf("ImagesByID = %v, %v", got, err)
	}
}

// A failed write names the workspace and the operation, once.
func TestWriteErrorsNameTheWorkspace(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, testModel)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	err = r.Add(context.Background(), []NewImage{newImage("a.jpg", 1)}, nil)
	if want := "workspace " + dir + ": add 1 image: opened read-only"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	_, err = r.Delete(context.Background(), []string{"a.jpg", "b.jpg"})
	if err == nil || strings.Count(err.Error(), dir) != 1 || !strings.Contains(err.Error(), "delete 2 images") {
		t.Errorf("error %q", err)
	}
}
