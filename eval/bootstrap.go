package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
)

// Interval is a 95 % bootstrap interval of a recall, in percent.
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// RecallIntervals are the intervals of one direction's R@1, R@5 and R@10.
type RecallIntervals struct {
	R1  Interval `json:"r1"`
	R5  Interval `json:"r5"`
	R10 Interval `json:"r10"`
}

// Intervals says how precisely an evaluation's recalls are known: the
// spread they would have over other draws of the same kind of test set.
type Intervals struct {
	Samples int `json:"samples"`
	// Clusters is the number of units resampled: images joined by a
	// shared caption.
	Clusters    int             `json:"clusters"`
	TextToImage RecallIntervals `json:"text_to_image"`
	ImageToText RecallIntervals `json:"image_to_text"`
}

// Bootstrap computes 95 % percentile intervals of the recalls behind qs
// (WorkspaceRanks' queries) from samples resamplings with replacement,
// seeded so the same input gives the same intervals.
//
// The unit resampled is a concept, not a query: an image with all its
// captions, joined with every image that shares a caption word for word
// (one emoji drawn by three vendors, captioned alike, succeeds or fails as
// one). Captions of one picture are not independent draws, and resampling
// them one by one would make the intervals too narrow.
func Bootstrap(qs []QueryRank, samples int, seed uint64) (Intervals, error) {
	if samples < 1 {
		return Intervals{}, errors.New("bootstrap: samples must be at least 1")
	}
	if len(qs) == 0 {
		return Intervals{}, errors.New("bootstrap: no queries")
	}
	cluster, n := concepts(qs)
	ks := [3]int{1, 5, 10}
	// per direction and cluster: its queries, and their hits at each k
	type tally struct {
		n    int
		hits [3]int
	}
	count := [2][]tally{make([]tally, n), make([]tally, n)}
	for i, q := range qs {
		d := 0
		if q.Direction == "image_to_text" {
			d = 1
		}
		c := &count[d][cluster[i]]
		c.n++
		for j, k := range ks {
			if q.Rank >= 1 && q.Rank <= k {
				c.hits[j]++
			}
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var recalls [2][3][]float64
	for s := 0; s < samples; s++ {
		var tot [2]int
		var hit [2][3]int
		for range n {
			c := rng.IntN(n)
			for d := range count {
				tot[d] += count[d][c].n
				for j := range ks {
					hit[d][j] += count[d][c].hits[j]
				}
			}
		}
		for d := range count {
			for j := range ks {
				r := math.NaN()
				if tot[d] > 0 {
					r = 100 * float64(hit[d][j]) / float64(tot[d])
				}
				recalls[d][j] = append(recalls[d][j], r)
			}
		}
	}
	iv := Intervals{Samples: samples, Clusters: n}
	for d, out := range []*RecallIntervals{&iv.TextToImage, &iv.ImageToText} {
		for j, dst := range []*Interval{&out.R1, &out.R5, &out.R10} {
			*dst = interval95(recalls[d][j])
		}
	}
	return iv, nil
}

// concepts numbers the clusters of qs: images joined when one caption text
// belongs to both. Image→text queries carry no shared text and go with
// their image's cluster.
func concepts(qs []QueryRank) (cluster []int, n int) {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		p, ok := parent[x]
		if !ok {
			parent[x] = x
			return x
		}
		if p == x {
			return x
		}
		r := find(p)
		parent[x] = r
		return r
	}
	// "i" and "q" prefixes keep an image key and a caption text apart
	for _, q := range qs {
		img := find("i" + q.Image)
		if q.Direction == "text_to_image" {
			parent[find("q"+q.Query)] = img
		}
	}
	ids := map[string]int{}
	cluster = make([]int, len(qs))
	for i, q := range qs {
		root := find("i" + q.Image)
		id, ok := ids[root]
		if !ok {
			id = len(ids)
			ids[root] = id
		}
		cluster[i] = id
	}
	return cluster, len(ids)
}

// interval95 is the 2.5th and 97.5th percentile of v (linear interpolation
// between order statistics), ignoring NaN (a resample without queries of
// a direction); a zero Interval when nothing is left.
func interval95(v []float64) Interval {
	v = slices.DeleteFunc(v, math.IsNaN)
	if len(v) == 0 {
		return Interval{}
	}
	slices.Sort(v)
	at := func(q float64) float64 {
		pos := q * float64(len(v)-1)
		lo := int(pos)
		if lo+1 >= len(v) {
			return v[len(v)-1]
		}
		return v[lo] + (pos-float64(lo))*(v[lo+1]-v[lo])
	}
	return Interval{Lo: at(0.025), Hi: at(0.975)}
}
