package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xmodal/xmodal/internal/pgtest"
)

var testModel = Model{ID: "abc123", Name: "test", Dim: 3}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// stores runs a test on each kind of workspace: a folder, and a database
// of Debian's PostgreSQL (without pgvector, so with vectors kept local).
// Each run gets its own empty location.
func stores(t *testing.T, test func(t *testing.T, loc string, create func(model Model) (*Workspace, error))) {
	t.Run("folder", func(t *testing.T) {
		dir := t.TempDir()
		test(t, dir, func(m Model) (*Workspace, error) { return Create(dir, m) })
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.Shared(t).NewDatabase(t)
		test(t, url, func(m Model) (*Workspace, error) {
			return CreateWith(context.Background(), url, m, Options{Vectors: VectorsLocal})
		})
	})
}

func newImage(key string, v float32, captions ...string) NewImage {
	im := NewImage{Key: key, Path: "/data/" + key, SHA256: "h-" + key, Size: 10, MTime: 1, Split: "test", Vector: []float32{v, 0, 0}, Captions: captions}
	for i := range captions {
		im.CaptionVectors = append(im.CaptionVectors, []float32{0, v, float32(i)})
	}
	return im
}

func TestAddReopenAndReplace(t *testing.T) { stores(t, testAddReopenAndReplace) }

func testAddReopenAndReplace(t *testing.T, dir string, create func(Model) (*Workspace, error)) {
	ctx := context.Background()
	w, err := create(testModel)
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

func TestModelMismatchRefused(t *testing.T) { stores(t, testModelMismatchRefused) }

func testModelMismatchRefused(t *testing.T, dir string, create func(Model) (*Workspace, error)) {
	w, err := create(testModel)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	other := Model{ID: "zzz999", Name: "other", Dim: 3}
	if _, err := create(other); err == nil || !strings.Contains(err.Error(), "built with model test") {
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
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open of an empty directory: %v", err)
	}
}

func TestOpenEmptyDatabase(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	if _, err := Open(url); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open of an empty database: %v", err)
	}
	// Without pgvector, the default storage is refused with what to do.
	_, err := CreateWith(context.Background(), url, testModel, Options{})
	if err != nil && !errors.Is(err, ErrNoPgvector) {
		t.Fatalf("Create without pgvector: %v", err)
	}
	if err != nil && !strings.Contains(err.Error(), "--vectors local") {
		t.Errorf("the error does not say what to do: %v", err)
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

func TestDelete(t *testing.T) { stores(t, testDelete) }

func testDelete(t *testing.T, _ string, create func(Model) (*Workspace, error)) {
	ctx := context.Background()
	w, err := create(testModel)
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

func TestIDsAreNeverReused(t *testing.T) { stores(t, testIDsAreNeverReused) }

func testIDsAreNeverReused(t *testing.T, _ string, create func(Model) (*Workspace, error)) {
	ctx := context.Background()
	w, err := create(testModel)
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

// Writers of a database workspace run at once, each with its own
// connections: their batches get gap-free rows, every document has the
// vector it was given, and filters see them all.
func TestConcurrentDatabaseWriters(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Shared(t).NewDatabase(t)
	const writers, batches, perBatch = 4, 5, 20
	errs := make(chan error, writers)
	for wr := range writers {
		go func() {
			w, err := CreateWith(ctx, url, testModel, Options{Vectors: VectorsLocal})
			if err != nil {
				errs <- err
				return
			}
			defer w.Close()
			for b := range batches {
				var batch []NewImage
				for i := range perBatch {
					n := (wr*batches+b)*perBatch + i
					im := newImage(fmt.Sprintf("w%d/%d.jpg", wr, n), float32(n), "caption")
					batch = append(batch, im)
				}
				if err := w.Add(ctx, batch, nil); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const total = writers * batches * perBatch
	for _, k := range []Kind{Images, Captions} {
		ids, err := r.RowIDs(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != total || slices.Contains(ids, 0) {
			t.Errorf("%s rows: %d, with a gap: %v; want %d without", k, len(ids), slices.Contains(ids, 0), total)
		}
	}
	imgs, err := r.ImagesInSplit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	vecs, err := r.ReadVectors(Images, 0, total)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imgs {
		var n int
		fmt.Sscanf(im.Key[strings.Index(im.Key, "/")+1:], "%d.jpg", &n)
		if got := vecs[im.Row*3]; got != float32(n) {
			t.Errorf("%s: row %d holds %v, want %d", im.Key, im.Row, got, n)
		}
	}
	rows, err := r.FilterRows(ctx, Captions, Filter{Under: "w2"})
	if err != nil || len(rows) != batches*perBatch {
		t.Errorf("captions under w2: %d rows, %v; want %d", len(rows), err, batches*perBatch)
	}
}

// Migrations run once each, in order, from whatever version a database
// is at; a database newer than this xmodal is refused.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Shared(t).NewDatabase(t)
	latest := len(migrations)
	for _, want := range [][2]int{{0, latest}, {latest, latest}} {
		from, to, err := Migrate(ctx, url)
		if err != nil || from != want[0] || to != want[1] {
			t.Fatalf("Migrate = %d → %d, %v; want %d → %d", from, to, err, want[0], want[1])
		}
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Back to version 1: the queue's tables come back.
	if _, err := db.Exec(`DROP TABLE jobs, workers, files; DELETE FROM xmodal_schema WHERE version > 1`); err != nil {
		t.Fatal(err)
	}
	if from, to, err := Migrate(ctx, url); err != nil || from != 1 || to != latest {
		t.Fatalf("Migrate from 1 = %d → %d, %v", from, to, err)
	}
	if _, err := db.Exec(`SELECT count(*) FROM jobs`); err != nil {
		t.Errorf("after migrating: %v", err)
	}
	if _, err := db.Exec(`INSERT INTO xmodal_schema (version) VALUES (99)`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Migrate(ctx, url); err == nil || !strings.Contains(err.Error(), "upgrade xmodal") {
		t.Errorf("Migrate of a newer database: %v", err)
	}
}

// Rows follow the order in which indexing finished each image; ImagesInSplit
// must not. Keys are in byte order (Go's), which a database's collation would
// not give: en_US puts "a_1" before "B" and ignores punctuation.
func TestImagesInKeyOrder(t *testing.T) {
	want := []string{"B.jpg", "Z.jpg", "a-2.jpg", "a_1.jpg", "b.jpg"}
	wantTest := []string{"B.jpg", "a-2.jpg", "a_1.jpg", "b.jpg"} // Z.jpg is in train
	for _, order := range [][]string{
		{"b.jpg", "a_1.jpg", "Z.jpg", "a-2.jpg", "B.jpg"},
		{"a-2.jpg", "B.jpg", "b.jpg", "Z.jpg", "a_1.jpg"},
		want,
	} {
		stores(t, func(t *testing.T, _ string, create func(Model) (*Workspace, error)) {
			ctx := context.Background()
			w, err := create(testModel)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			for _, key := range order { // one batch each: rows in this order
				im := newImage(key, 1, "c")
				if key == "Z.jpg" {
					im.Split = "train"
				}
				if err := w.Add(ctx, []NewImage{im}, nil); err != nil {
					t.Fatal(err)
				}
			}
			for split, want := range map[string][]string{"": want, "test": wantTest} {
				imgs, err := w.ImagesInSplit(ctx, split)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, im := range imgs {
					got = append(got, im.Key)
				}
				if !slices.Equal(got, want) {
					t.Errorf("rows in order %v, split %q: keys %v, want %v", order, split, got, want)
				}
			}
		})
	}
}

// A folder's name may hold what a URI would read as syntax.
func TestFolderNamesWithURISyntax(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	for i, name := range []string{"photos #1", "what?", "100%25 mine", "a#b?c%d"} {
		dir := filepath.Join(parent, name)
		w, err := Create(dir, testModel)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		keys := []string{fmt.Sprintf("k%d.jpg", i)}
		if err := w.Add(ctx, []NewImage{newImage(keys[0], 1, "c")}, nil); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		w.Close()
		if _, err := os.Stat(filepath.Join(dir, "docs.db")); err != nil {
			t.Errorf("%q: the database is not inside the folder: %v", name, err)
		}
		r, err := Open(dir)
		if err != nil {
			t.Fatalf("%q: reopen: %v", name, err)
		}
		imgs, err := r.ImagesInSplit(ctx, "")
		r.Close()
		var got []string
		for _, im := range imgs {
			got = append(got, im.Key)
		}
		if err != nil || !slices.Equal(got, keys) {
			t.Errorf("%q: images %v, %v; want %v", name, got, err, keys)
		}
	}
}

// Filter.Selects, which hybrid search applies in memory, agrees with
// FilterRows, which asks the database.
func TestFilterSelectsAsRowsDo(t *testing.T) { stores(t, testFilterSelectsAsRowsDo) }

func testFilterSelectsAsRowsDo(t *testing.T, _ string, create func(Model) (*Workspace, error)) {
	ctx := context.Background()
	w, err := create(Model{ID: "m", Dim: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var batch []NewImage
	for i, key := range []string{"a/x.jpg", "a%/y.jpg", "a_/z.jpg", "ab/w.jpg", "a/b/c.jpg", "top.jpg", "été/v.jpg"} {
		im := newImage(key, float32(i+1), "caption")
		if i%2 == 1 {
			im.Split = "train"
		}
		batch = append(batch, im)
	}
	if err := w.Add(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	imgs, err := w.ImagesInSplit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Filter{{}, {Under: "a"}, {Under: "a/"}, {Under: "/a/b"}, {Under: "a%"}, {Under: "a_"}, {Under: "été"}, {Split: "train"}, {Split: "test", Under: "a"}, {Under: "nowhere"}} {
		rows, err := w.FilterRows(ctx, Images, f)
		if err != nil {
			t.Fatal(err)
		}
		var want []int
		for _, im := range imgs {
			if f.Selects(im.Key, im.Split) {
				want = append(want, im.Row)
			}
		}
		slices.Sort(want)
		if !slices.Equal(rows, want) {
			t.Errorf("%+v: FilterRows gives rows %v, Selects %v", f, rows, want)
		}
	}
}
