package lexical

import (
	"cmp"
	"slices"
)

// RRFConstant is the k of reciprocal rank fusion, which damps the lead of
// a list's first places: rank r scores 1/(RRFConstant + r). 60 is the
// value of Cormack, Clarke and Büttcher (2009), which Elasticsearch and
// OpenSearch use too.
const RRFConstant = 60

// Fused is a document of fused lists with its fused score.
type Fused struct {
	ID    int64
	Score float64
	Ranks []int // its rank (from 1) in each list, 0 where it is absent
}

// Fuse merges ranked lists of distinct document ids, best first each, by
// reciprocal rank fusion: a document scores the sum of
// 1/(RRFConstant + rank) over the lists it is in, so one that two lists
// agree on beats one that only one list ranks a little higher. It needs
// no common scale of scores, which cosine similarity and BM25 do not
// have. Ties go to the document that came first in the earlier list.
func Fuse(lists ...[]int64) []Fused {
	at := map[int64]int{} // id → position in out
	var out []Fused
	for l, list := range lists {
		for r, id := range list {
			i, seen := at[id]
			if !seen {
				i = len(out)
				at[id] = i
				out = append(out, Fused{ID: id, Ranks: make([]int, len(lists))})
			}
			out[i].Score += 1 / float64(RRFConstant+r+1)
			out[i].Ranks[l] = r + 1
		}
	}
	slices.SortStableFunc(out, func(a, b Fused) int { return cmp.Compare(b.Score, a.Score) })
	return out
}
