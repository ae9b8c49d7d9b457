package index

import (
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
)

func TestTopK(t *testing.T) {
	scores := []float32{0.1, 0.9, 0.5, 0.9, -1, 0.7}
	tests := []struct {
		k    int
		keep func(int) bool
		want []int
	}{
		{3, nil, []int{1, 3, 5}}, // equal scores keep row order
		{10, nil, []int{1, 3, 5, 2, 0, 4}},
		{2, func(r int) bool { return r != 1 }, []int{3, 5}},
		{0, nil, nil},
	}
	for _, tc := range tests {
		var rows []int
		for _, h := range TopK(scores, tc.k, tc.keep) {
			rows = append(rows, h.Row)
		}
		if !slices.Equal(rows, tc.want) {
			t.Errorf("TopK(k=%d) = %v, want %v", tc.k, rows, tc.want)
		}
	}
}

func TestFlatMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const dim, n = 37, 1001
	f := NewFlat(dim)
	vecs := make([][]float32, n)
	for i := range vecs {
		vecs[i] = make([]float32, dim)
		for j := range vecs[i] {
			vecs[i][j] = float32(rng.NormFloat64())
		}
	}
	if err := f.Add(vecs[:500]...); err != nil {
		t.Fatal(err)
	}
	var flat []float32
	for _, v := range vecs[500:] {
		flat = append(flat, v...)
	}
	if err := f.AddRows(flat); err != nil {
		t.Fatal(err)
	}
	if f.Len() != n {
		t.Fatalf("Len = %d", f.Len())
	}
	queries := vecs[:7]
	res, err := f.Search(queries, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	for q, hits := range res {
		type scored struct {
			row int
			s   float64
		}
		all := make([]scored, n)
		for i, v := range vecs {
			var s float64
			for j := range v {
				s += float64(v[j]) * float64(queries[q][j])
			}
			all[i] = scored{i, s}
		}
		sort.SliceStable(all, func(a, b int) bool { return all[a].s > all[b].s })
		for i, h := range hits {
			if h.Row != all[i].row || abs(float64(h.Score)-all[i].s) > 1e-4 {
				t.Errorf("query %d hit %d: row %d score %v, want row %d score %v", q, i, h.Row, h.Score, all[i].row, all[i].s)
			}
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestFlatErrorsAndEmpty(t *testing.T) {
	f := NewFlat(3)
	if res, err := f.Search([][]float32{{1, 0, 0}}, 5, nil); err != nil || len(res[0]) != 0 {
		t.Errorf("empty index: %v, %v", res, err)
	}
	if err := f.Add([]float32{1, 2}); err == nil {
		t.Error("wrong dimension added")
	}
	if err := f.AddRows([]float32{1, 2, 3, 4}); err == nil {
		t.Error("partial row added")
	}
	f.Add([]float32{1, 0, 0})
	if _, err := f.Search([][]float32{{1, 0}}, 1, nil); err == nil {
		t.Error("wrong query dimension accepted")
	}
}

// Searches may run while vectors are added.
func TestFlatConcurrent(t *testing.T) {
	f := NewFlat(4)
	f.Add([]float32{1, 0, 0, 0})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if g == 0 {
					f.Add([]float32{float32(i), 1, 0, 0})
					continue
				}
				res, err := f.Search([][]float32{{1, 0, 0, 0}}, 3, nil)
				if err != nil || len(res[0]) == 0 {
					t.Errorf("search: %v %v", res, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if f.Len() != 51 {
		t.Errorf("Len = %d", f.Len())
	}
}
