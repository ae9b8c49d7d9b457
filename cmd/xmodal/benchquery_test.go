package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// bench query runs the everyday queries against a workspace and reports
// their latencies; with --hybrid, the first query's apart. It checks that
// the command measures what it says, not how fast anything is.
func TestBenchQuery(t *testing.T) {
	data := makeFlickrKaggle(t, 20)
	ws := filepath.Join(t.TempDir(), "ws")
	if code, _, errOut := xmodal(t, "index", "--data", data, "--workspace", ws, "--model", modelA); code != 0 {
		t.Fatalf("index: exit %d: %s", code, errOut)
	}
	for _, hybrid := range []bool{false, true} {
		args := []string{"bench", "query", "--workspace", ws, "--model", modelA, "--rounds", "2", "--top-k", "5", "--json"}
		if hybrid {
			args = append(args, "--hybrid")
		}
		code, out, errOut := xmodal(t, args...)
		if code != 0 {
			t.Fatalf("bench query: exit %d: %s", code, errOut)
		}
		var b queryBench
		if err := json.Unmarshal([]byte(out), &b); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if b.Images != 20 || b.Queries != len(everydayQueries) || b.Rounds != 2 || b.TopK != 5 || b.Hybrid != hybrid ||
			b.P50 <= 0 || b.P50 > b.P95 || b.P95 > b.P99 || (b.FirstHybrid > 0) != hybrid {
			t.Errorf("hybrid %v: %+v", hybrid, b)
		}
	}
}
