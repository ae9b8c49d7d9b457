package clip

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// TestPooledLastBlock checks that running the last block on the pooled rows
// only gives bit for bit the states that the full block gives those rows.
func TestPooledLastBlock(t *testing.T) {
	m, err := Load(filepath.Join(fixtures, "model-a"))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name   string
		enc    *encoder
		seqs   []int
		causal bool
	}{
		{"vision", m.vision.(*visionTower).enc, []int{5, 5, 5}, false},
		{"text", m.text.enc, []int{3, 7, 1, 4}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := 0
			for _, n := range tc.seqs {
				rows += n
			}
			w := tc.enc.width
			h := make([]float32, rows*w)
			for i := range h {
				h[i] = float32(r.NormFloat64())
			}
			all := make([]int, rows)
			for i := range all {
				all[i] = i
			}
			full, err := tc.enc.forward(context.Background(), slices.Clone(h), tc.seqs, tc.causal, all)
			if err != nil {
				t.Fatal(err)
			}
			var pool []int
			end := 0
			for _, n := range tc.seqs {
				pool = append(pool, end, end+n-1) // first and last of each sequence
				end += n
			}
			pool = slices.Compact(pool)
			got, err := tc.enc.forward(context.Background(), slices.Clone(h), tc.seqs, tc.causal, pool)
			if err != nil {
				t.Fatal(err)
			}
			for i, row := range pool {
				if !slices.Equal(got[i*w:(i+1)*w], full[row*w:(row+1)*w]) {
					t.Errorf("row %d differs from the full block's", row)
				}
			}
		})
	}
}
