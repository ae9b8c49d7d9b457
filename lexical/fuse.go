package lexical

import (
	"cmp"
	"slices"
)

// RRFConstant is the k of reciprocal rank fusion: the rank a list's first
// place is worth as if it were below. 60 is the value of Cormack, Clarke
// and Büttcher (2009), which Elasticsearch and OpenSearch use too.
const RRFConstant = 60

// Fused is a document of fused lists with its fused score.
type Fused struct {
	ID    int64
	Score float64
}

// Fuse merges ranked lists of document ids, best first each, by reciprocal
// rank fusion: a document scores the sum of 1/(RRFConstant + rank) over
// the lists it is in, so one that two lists agree on beats one that
// only one list ranks a little higher. It needs no common scale of
// scores, which cosine similarity and BM25 do not have. Ties go to the
// document that came first in the earlier list.
func Fuse(lists ...[]int64) []Fused {
	score := map[int64]float64{}
	var order []int64
	for _, l := range lists {
		for r, id := range l {
			if _, seen := score[id]; !seen {
				order = append(order, id)
			}
			score[id] += 1 / float64(RRFConstant+r+1)
		}
	}
	out := make([]Fused, len(order))
	for i, id := range order {
		out[i] = Fused{id, score[id]}
	}
	slices.SortStableFunc(out, func(a, b Fused) int { return cmp.Compare(b.Score, a.Score) })
	return out
}
