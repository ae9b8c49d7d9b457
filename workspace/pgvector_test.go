package workspace

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/xmodal/xmodal/internal/pgtest"
)

// TestPgvector runs the workspace on pgvector's SQL (PGlite): vectors
// stored as vector and halfvec read back as written, and Nearest, exact
// and through the HNSW index, finds what a scan in Go finds, with filters
// applied in SQL.
func TestPgvector(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PGlite")
	}
	url := pgtest.PGlite(t)
	for _, storage := range []string{VectorsPgvector, VectorsHalfvec} {
		t.Run(storage, func(t *testing.T) {
			resetDatabase(t, url)
			testPgvector(t, url, storage)
		})
	}
}

// resetDatabase drops what a workspace made: PGlite holds one database.
func resetDatabase(t *testing.T, url string) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TABLE IF EXISTS xmodal_schema, xmodal_workspace, meta, captions, images, skipped, jobs, workers, files CASCADE`); err != nil {
		t.Fatal(err)
	}
}

func testPgvector(t *testing.T, url, storage string) {
	ctx := context.Background()
	const dim, n = 16, 300
	model := Model{ID: "vec16", Name: "test16", Dim: dim}
	w, err := CreateWith(ctx, url, model, Options{Vectors: storage})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if !w.SearchesInDatabase() || w.VectorStorage() != storage {
		t.Fatalf("storage %q, in database %v", w.VectorStorage(), w.SearchesInDatabase())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	unit := func() []float32 {
		v := make([]float32, dim)
		var s float64
		for i := range v {
			v[i] = float32(rng.NormFloat64())
			s += float64(v[i] * v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(s))
		}
		return v
	}
	var batch []NewImage
	for i := range n {
		split := "train"
		if i%3 == 0 {
			split = "test"
		}
		batch = append(batch, NewImage{Key: fmt.Sprintf("f%d/%d.jpg", i%2, i), Path: "/x", SHA256: "h", Split: split,
			Vector: unit(), Captions: []string{"c"}, CaptionVectors: [][]float32{unit()}})
	}
	if err := w.Add(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Delete(ctx, []string{"f0/0.jpg"}); err != nil {
		t.Fatal(err)
	}

	tol := 1e-7
	if storage == VectorsHalfvec {
		tol = 1e-3
	}
	got, err := w.ReadVectors(Images, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	for r := 1; r < n; r++ {
		for j := range dim {
			if d := math.Abs(float64(got[r*dim+j] - batch[r].Vector[j])); d > tol {
				t.Fatalf("row %d[%d] = %v, stored %v", r, j, got[r*dim+j], batch[r].Vector[j])
			}
		}
	}

	for _, tc := range []struct {
		kind   Kind
		filter Filter
	}{{Images, Filter{}}, {Captions, Filter{}}, {Images, Filter{Split: "test"}}, {Captions, Filter{Under: "f1", Split: "train"}}} {
		q := unit()
		want := scan(batch, tc.kind, q, tc.filter)[:10]
		exact, err := w.Nearest(ctx, tc.kind, q, 10, tc.filter, true)
		if err != nil {
			t.Fatal(err)
		}
		approx, err := w.Nearest(ctx, tc.kind, q, 10, tc.filter, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(exact) != 10 || len(approx) != 10 {
			t.Fatalf("%s %+v: %d exact and %d approximate results, want 10", tc.kind, tc.filter, len(exact), len(approx))
		}
		for i, m := range exact {
			if m.Row != want[i] {
				t.Errorf("%s %+v: exact result %d is row %d, want %d", tc.kind, tc.filter, i, m.Row, want[i])
			}
		}
		// The index walk on 300 rows misses little; never a row the
		// filter rejects.
		found := 0
		for _, m := range approx {
			for _, r := range want {
				if m.Row == r {
					found++
				}
			}
		}
		if found < 8 {
			t.Errorf("%s %+v: the index found %d of the true top 10", tc.kind, tc.filter, found)
		}
	}
}

// scan ranks the live rows of a kind (row 0, deleted, excluded) by inner
// product with q, in Go.
func scan(batch []NewImage, k Kind, q []float32, f Filter) []int {
	type rs struct {
		row   int
		score float32
	}
	var all []rs
	for r, im := range batch {
		if r == 0 || f.Split != "" && im.Split != f.Split || f.Under != "" && im.Key[:len(f.Under)+1] != f.Under+"/" {
			continue
		}
		v := im.Vector
		if k == Captions {
			v = im.CaptionVectors[0]
		}
		var s float32
		for j := range v {
			s += v[j] * q[j]
		}
		all = append(all, rs{r, s})
	}
	for i := range all { // selection sort: small
		for j := i + 1; j < len(all); j++ {
			if all[j].score > all[i].score {
				all[i], all[j] = all[j], all[i]
			}
		}
	}
	out := make([]int, len(all))
	for i, x := range all {
		out[i] = x.row
	}
	return out
}
