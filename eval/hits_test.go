package eval

import (
	"math"
	"strings"
	"testing"
)

func TestMcnemarExact(t *testing.T) {
	for _, tc := range []struct {
		x, y int
		want float64
	}{
		{0, 0, 1},
		{1, 0, 1},            // 2 × 1/2
		{4, 0, 0.125},        // 2 × 1/16
		{0, 4, 0.125},        // symmetric
		{2, 2, 1},            // capped
		{10, 1, 24.0 / 2048}, // 2 × (1 + 11)/2^11
		{6, 0, 2.0 / 64},     // the smallest all-one-way split below 0.05
		{1000, 1000, 1},      // large n stays finite
		{30, 70, 7.85013964559367e-05},
	} {
		got := mcnemarExact(tc.x, tc.y)
		if math.Abs(got-tc.want) > 1e-9*tc.want || math.IsNaN(got) {
			t.Errorf("mcnemarExact(%d, %d) = %g, want %g", tc.x, tc.y, got, tc.want)
		}
	}
}

func report(k int, ranks map[string]int, order ...string) QueryReport {
	r := QueryReport{K: k, Total: len(order)}
	for _, q := range order {
		r.Outcomes = append(r.Outcomes, QueryOutcome{Query: q, Rank: ranks[q]})
		if ranks[q] > 0 {
			r.Hits++
		}
	}
	return r
}

func TestCompareHits(t *testing.T) {
	qs := []string{"a dog", "a cat", "a fish", "a train", "a rocket"}
	a := report(5, map[string]int{"a cat": 1, "a fish": 2, "a train": 5, "a rocket": 3}, qs...)
	b := report(5, map[string]int{"a dog": 4, "a cat": 1}, qs...)
	c, err := CompareHits(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if c.K != 5 || c.Queries != 5 || c.HitsA != 4 || c.HitsB != 2 ||
		strings.Join(c.OnlyA, ",") != "a fish,a train,a rocket" || strings.Join(c.OnlyB, ",") != "a dog" {
		t.Errorf("got %+v", c)
	}
	if math.Abs(c.P-0.625) > 1e-12 { // 2 × (1 + 4)/16
		t.Errorf("p = %g, want 0.625", c.P)
	}
	if self, err := CompareHits(a, a); err != nil || self.P != 1 || len(self.OnlyA)+len(self.OnlyB) != 0 {
		t.Errorf("a model against itself: %+v, %v", self, err)
	}

	for _, tc := range []struct {
		name string
		b    QueryReport
		want string
	}{
		{"fewer queries", report(5, nil, qs[:4]...), "5 queries against 4"},
		{"other k", report(10, nil, qs...), "same --k"},
		{"other order", report(5, nil, "a cat", "a dog", "a fish", "a train", "a rocket"), `query 1 is "a dog" in A and "a cat" in B`},
	} {
		if _, err := CompareHits(a, tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := CompareHits(QueryReport{K: 5}, QueryReport{K: 5}); err == nil {
		t.Error("no queries: no error")
	}
}
