package eval

import (
	"errors"
	"fmt"
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
	rec := resample(tallies(qs, cluster, n), n, samples, seed)
	iv := Intervals{Samples: samples, Clusters: n}
	for d, out := range []*RecallIntervals{&iv.TextToImage, &iv.ImageToText} {
		for j, dst := range []*Interval{&out.R1, &out.R5, &out.R10} {
			*dst = interval95(rec[d][j])
		}
	}
	return iv, nil
}

// cutoffs are the k of the recalls that Bootstrap and Compare report.
var cutoffs = [3]int{1, 5, 10}

// tally is one cluster's queries of one direction and their hits at each
// cut-off.
type tally struct {
	n    int
	hits [3]int
}

// tallies counts qs by direction (text→image first) and cluster.
func tallies(qs []QueryRank, cluster []int, n int) [][]tally {
	count := [][]tally{make([]tally, n), make([]tally, n)}
	for i, q := range qs {
		d := 0
		if q.Direction == "image_to_text" {
			d = 1
		}
		c := &count[d][cluster[i]]
		c.n++
		for j, k := range cutoffs {
			if q.Rank >= 1 && q.Rank <= k {
				c.hits[j]++
			}
		}
	}
	return count
}

// resample draws n clusters with replacement, samples times, and returns
// for each series of count (a direction, of one model) and cut-off the
// recall in percent of every draw: NaN where a draw has no query of that
// series. Every series sees the same draws, so two models' recalls can be
// subtracted draw by draw.
func resample(count [][]tally, n, samples int, seed uint64) [][3][]float64 {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	out := make([][3][]float64, len(count))
	tot := make([]int, len(count))
	hit := make([][3]int, len(count))
	for s := 0; s < samples; s++ {
		clear(tot)
		clear(hit)
		for range n {
			c := rng.IntN(n)
			for d := range count {
				tot[d] += count[d][c].n
				for j := range cutoffs {
					hit[d][j] += count[d][c].hits[j]
				}
			}
		}
		for d := range count {
			for j := range cutoffs {
				r := math.NaN()
				if tot[d] > 0 {
					r = 100 * float64(hit[d][j]) / float64(tot[d])
				}
				out[d][j] = append(out[d][j], r)
			}
		}
	}
	return out
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
// a direction); a zero Interval when nothing is left. It reorders v.
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

// Comparison is a paired comparison of two models, A and B, ranked on the
// same queries: how much better B is, and how sure that is.
type Comparison struct {
	Samples  int `json:"samples"`
	Clusters int `json:"clusters"`
	// A direction is nil when the queries have none of it.
	TextToImage *DirectionComparison `json:"text_to_image,omitempty"`
	ImageToText *DirectionComparison `json:"image_to_text,omitempty"`
}

// DirectionComparison is one direction of a Comparison.
type DirectionComparison struct {
	Queries int `json:"queries"`
	// Recalls are R@1, R@5 and R@10.
	Recalls []Difference `json:"recalls"`
}

// Difference compares two models' recall at one cut-off, in percent.
type Difference struct {
	K   int      `json:"k"`
	A   float64  `json:"a"`
	ACI Interval `json:"a_ci95"`
	B   float64  `json:"b"`
	BCI Interval `json:"b_ci95"`
	// Diff is B − A in points, and DiffCI its paired 95 % interval: one
	// that holds 0 means these queries cannot tell the models apart at k.
	Diff   float64  `json:"diff"`
	DiffCI Interval `json:"diff_ci95"`
}

// Compare bootstraps the difference between two models' ranks of the same
// queries in the same order (two WorkspaceRanks of one split). The
// resampling is Bootstrap's, by concept, and paired: each draw weighs both
// models' queries alike, so the interval of the difference is much
// narrower than the two recalls' own intervals suggest.
func Compare(a, b []QueryRank, samples int, seed uint64) (Comparison, error) {
	if samples < 1 {
		return Comparison{}, errors.New("compare: samples must be at least 1")
	}
	if len(a) == 0 {
		return Comparison{}, errors.New("compare: no queries")
	}
	if len(a) != len(b) {
		return Comparison{}, fmt.Errorf("compare: %d queries against %d: not the same evaluation", len(a), len(b))
	}
	for i := range a {
		if a[i].Direction != b[i].Direction || a[i].Query != b[i].Query || a[i].Image != b[i].Image {
			return Comparison{}, fmt.Errorf("compare: query %d differs (%s %q of %q against %s %q of %q): not the same evaluation",
				i+1, a[i].Direction, a[i].Query, a[i].Image, b[i].Direction, b[i].Query, b[i].Image)
		}
	}
	cluster, n := concepts(a)
	ta, tb := tallies(a, cluster, n), tallies(b, cluster, n)
	// series: A text→image, A image→text, B text→image, B image→text
	rec := resample(append(ta, tb...), n, samples, seed)
	cmp := Comparison{Samples: samples, Clusters: n}
	for d, dst := range []**DirectionComparison{&cmp.TextToImage, &cmp.ImageToText} {
		queries := 0
		var hitA, hitB [3]int
		for c := range n {
			queries += ta[d][c].n
			for j := range cutoffs {
				hitA[j] += ta[d][c].hits[j]
				hitB[j] += tb[d][c].hits[j]
			}
		}
		if queries == 0 {
			continue
		}
		dc := &DirectionComparison{Queries: queries}
		for j, k := range cutoffs {
			ra, rb := rec[d][j], rec[2+d][j]
			diff := make([]float64, len(ra))
			for s := range ra {
				diff[s] = rb[s] - ra[s] // NaN stays NaN
			}
			pa, pb := 100*float64(hitA[j])/float64(queries), 100*float64(hitB[j])/float64(queries)
			dc.Recalls = append(dc.Recalls, Difference{K: k, A: pa, ACI: interval95(ra), B: pb, BCI: interval95(rb), Diff: pb - pa, DiffCI: interval95(diff)})
		}
		*dst = dc
	}
	return cmp, nil
}
