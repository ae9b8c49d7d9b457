package eval

import (
	"errors"
	"fmt"
	"math"
)

// HitComparison compares two models' reports on the same query file: which
// queries each finds that the other misses, and whether that is more than
// chance.
type HitComparison struct {
	K       int `json:"k"`
	Queries int `json:"queries"`
	HitsA   int `json:"hits_a"`
	HitsB   int `json:"hits_b"`
	// OnlyA and OnlyB are the queries one model finds and the other misses;
	// the queries both find or both miss say nothing about which is better.
	OnlyA []string `json:"only_a"`
	OnlyB []string `json:"only_b"`
	// P is the two-sided exact McNemar test of those discordant queries:
	// the chance of a split at least this uneven if each were a coin toss
	// between A and B. It is 1 when no query tells them apart.
	P float64 `json:"p"`
}

// CompareHits pairs two QueryReports of the same query file, made with the
// same k, query by query.
func CompareHits(a, b QueryReport) (HitComparison, error) {
	if len(a.Outcomes) == 0 {
		return HitComparison{}, errors.New("compare: no queries")
	}
	if len(a.Outcomes) != len(b.Outcomes) {
		return HitComparison{}, fmt.Errorf("compare: %d queries against %d: not the same query file", len(a.Outcomes), len(b.Outcomes))
	}
	if a.K != b.K {
		return HitComparison{}, fmt.Errorf("compare: top %d against top %d: run both with the same --k", a.K, b.K)
	}
	c := HitComparison{K: a.K, Queries: len(a.Outcomes), OnlyA: []string{}, OnlyB: []string{}}
	for i, qa := range a.Outcomes {
		qb := b.Outcomes[i]
		if qa.Query != qb.Query {
			return HitComparison{}, fmt.Errorf("compare: query %d is %q in A and %q in B: not the same query file", i+1, qa.Query, qb.Query)
		}
		hitA, hitB := qa.Rank > 0, qb.Rank > 0
		if hitA {
			c.HitsA++
		}
		if hitB {
			c.HitsB++
		}
		switch {
		case hitA && !hitB:
			c.OnlyA = append(c.OnlyA, qa.Query)
		case hitB && !hitA:
			c.OnlyB = append(c.OnlyB, qa.Query)
		}
	}
	c.P = mcnemarExact(len(c.OnlyA), len(c.OnlyB))
	return c, nil
}

// mcnemarExact is the two-sided exact McNemar p-value for x and y
// discordant pairs: a binomial test of min(x, y) successes in x+y fair
// tosses, doubled and capped at 1.
func mcnemarExact(x, y int) float64 {
	n := x + y
	if n == 0 {
		return 1
	}
	m := min(x, y)
	// Sum C(n, i)/2^n for i ≤ m in log space: n may be thousands.
	var tail float64
	for i := 0; i <= m; i++ {
		tail += math.Exp(logChoose(n, i) - float64(n)*math.Ln2)
	}
	return math.Min(1, 2*tail)
}

func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}
