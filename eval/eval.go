// Package eval measures retrieval quality with the protocol of the
// image–caption retrieval literature (Karpathy and Fei-Fei; VSE++; CLIP):
// Recall@K, median rank and mean reciprocal rank in both directions.
package eval

import (
	"fmt"
	"math"
	"sort"

	"github.com/xmodal/xmodal/index"
)

// Metrics summarises the ranks of one retrieval direction. Recall is a
// percentage; MedR is the median rank, 1-based; MRR is in [0, 1].
type Metrics struct {
	R1   float64 `json:"r1"`
	R5   float64 `json:"r5"`
	R10  float64 `json:"r10"`
	MedR float64 `json:"medr"`
	MRR  float64 `json:"mrr"`
}

// Result is an evaluation in both directions.
type Result struct {
	Images      int     `json:"images"`
	Captions    int     `json:"captions"`
	TextToImage Metrics `json:"text_to_image"`
	ImageToText Metrics `json:"image_to_text"`
	// RSum is R@1 + R@5 + R@10 in both directions, the sum VSE++ selects
	// models by.
	RSum float64 `json:"rsum"`
	// Folds is the number of equal parts the images were split into and
	// evaluated apart, the metrics being their means (COCO's 1K protocol:
	// 5 folds of the 5K test images); 0 for a single evaluation.
	Folds int `json:"folds,omitempty"`
	// COCO1K is the 1K protocol's result beside the 5K one, for COCO's
	// 5,000-image test split.
	COCO1K *Result `json:"coco_1k,omitempty"`
	// CI95 is how precisely the recalls are known, when asked for
	// (Bootstrap).
	CI95 *Intervals `json:"ci95,omitempty"`
}

// Evaluate ranks every caption's own image among all images (text→image)
// and, for every image, takes the best rank of any of its captions among all
// captions (image→text). owner[c] is the image of caption c. Vectors should
// be L2-normalised, so that scores are cosine similarities. Ties are broken
// in favour of the lower row, as a stable sort would.
func Evaluate(images, captions [][]float32, owner []int) (Result, error) {
	r, _, err := EvaluateRanks(images, captions, owner, 0)
	return r, err
}

// Ranks is every query of an evaluation: the numbers behind the metrics,
// for finding what fails. Rows are those of the vectors given to
// EvaluateRanks.
type Ranks struct {
	// TextToImage[c] is the rank of caption c's image; TextToImageTop[c]
	// the image rows ranked first, best first.
	TextToImage    []int
	TextToImageTop [][]int
	// ImageToText[i] is image i's rank: that of its best caption,
	// ImageToTextBest[i]; ImageToTextTop[i] the caption rows ranked
	// first. An image without captions has rank 0 and best -1.
	ImageToText     []int
	ImageToTextBest []int
	ImageToTextTop  [][]int
}

// EvaluateRanks is Evaluate that also returns every query's rank and the
// top rows it retrieved (top of them per query; none for top 0).
func EvaluateRanks(images, captions [][]float32, owner []int, top int) (Result, Ranks, error) {
	if len(owner) != len(captions) {
		return Result{}, Ranks{}, fmt.Errorf("eval: %d owners for %d captions", len(owner), len(captions))
	}
	if len(images) == 0 || len(captions) == 0 {
		return Result{}, Ranks{}, fmt.Errorf("eval: need images and captions, have %d and %d", len(images), len(captions))
	}
	dim := len(images[0])
	imgIndex := index.NewFlat(dim)
	if err := imgIndex.Add(images...); err != nil {
		return Result{}, Ranks{}, err
	}
	capIndex := index.NewFlat(dim)
	if err := capIndex.Add(captions...); err != nil {
		return Result{}, Ranks{}, err
	}
	for c, o := range owner {
		if o < 0 || o >= len(images) {
			return Result{}, Ranks{}, fmt.Errorf("eval: caption %d belongs to image %d of %d", c, o, len(images))
		}
	}

	// Text→image: one row of image scores per caption, in blocks so that
	// memory stays small for tens of thousands of captions.
	t2i := make([]int, len(captions))
	var rk Ranks
	if top > 0 {
		rk.TextToImageTop = make([][]int, len(captions))
		rk.ImageToText = make([]int, len(images))
		rk.ImageToTextBest = make([]int, len(images))
		rk.ImageToTextTop = make([][]int, len(images))
	}
	const block = 256
	for lo := 0; lo < len(captions); lo += block {
		hi := min(lo+block, len(captions))
		scores, n, err := imgIndex.Scores(captions[lo:hi])
		if err != nil {
			return Result{}, Ranks{}, err
		}
		for c := lo; c < hi; c++ {
			row := scores[(c-lo)*n : (c-lo+1)*n]
			t2i[c] = rank(row, owner[c])
			if top > 0 {
				rk.TextToImageTop[c] = topRows(row, top)
			}
		}
	}

	// Image→text: the best caption of an image is the one it scores
	// highest; its rank is the image's rank.
	captionsOf := make([][]int, len(images))
	for c, o := range owner {
		captionsOf[o] = append(captionsOf[o], c)
	}
	var i2t []int
	for lo := 0; lo < len(images); lo += block {
		hi := min(lo+block, len(images))
		scores, n, err := capIndex.Scores(images[lo:hi])
		if err != nil {
			return Result{}, Ranks{}, err
		}
		for i := lo; i < hi; i++ {
			if len(captionsOf[i]) == 0 {
				if top > 0 {
					rk.ImageToTextBest[i] = -1
				}
				continue // an image without captions has nothing to retrieve
			}
			row := scores[(i-lo)*n : (i-lo+1)*n]
			best := captionsOf[i][0]
			for _, c := range captionsOf[i][1:] {
				if row[c] > row[best] {
					best = c
				}
			}
			i2t = append(i2t, rank(row, best))
			if top > 0 {
				rk.ImageToText[i], rk.ImageToTextBest[i] = i2t[len(i2t)-1], best
				rk.ImageToTextTop[i] = topRows(row, top)
			}
		}
	}
	r := Result{
		Images:      len(images),
		Captions:    len(captions),
		TextToImage: Summarise(t2i),
		ImageToText: Summarise(i2t),
	}
	r.RSum = rsum(r)
	if top > 0 {
		rk.TextToImage = t2i
	}
	return r, rk, nil
}

func rsum(r Result) float64 {
	a, b := r.TextToImage, r.ImageToText
	return a.R1 + a.R5 + a.R10 + b.R1 + b.R5 + b.R10
}

// Folds evaluates n consecutive equal parts of the images (with their
// captions) apart and averages their metrics, as VSE++'s evaluation does
// for COCO 1K (n = 5 over the 5K test images). The image count must divide
// by n.
func Folds(images, captions [][]float32, owner []int, n int) (Result, error) {
	if n < 2 || len(images)%n != 0 {
		return Result{}, fmt.Errorf("eval: %d images do not split into %d equal folds", len(images), n)
	}
	size := len(images) / n
	var sum Result
	for f := range n {
		var caps [][]float32
		var own []int
		for c, o := range owner {
			if o >= f*size && o < (f+1)*size {
				caps, own = append(caps, captions[c]), append(own, o-f*size)
			}
		}
		r, err := Evaluate(images[f*size:(f+1)*size], caps, own)
		if err != nil {
			return Result{}, fmt.Errorf("fold %d: %w", f+1, err)
		}
		for _, p := range [][2]*Metrics{{&sum.TextToImage, &r.TextToImage}, {&sum.ImageToText, &r.ImageToText}} {
			p[0].R1 += p[1].R1 / float64(n)
			p[0].R5 += p[1].R5 / float64(n)
			p[0].R10 += p[1].R10 / float64(n)
			p[0].MedR += p[1].MedR / float64(n)
			p[0].MRR += p[1].MRR / float64(n)
		}
	}
	sum.Images, sum.Captions, sum.Folds = size, len(captions)/n, n
	sum.RSum = rsum(sum)
	return sum, nil
}

// rank is the 1-based position of row target when scores are sorted in
// descending order, ties in row order.
func rank(scores []float32, target int) int {
	s := scores[target]
	r := 1
	for j, v := range scores {
		if v > s || v == s && j < target {
			r++
		}
	}
	return r
}

// topRows is the k highest-scoring rows, best first, ties in row order
// (the order rank counts them in).
func topRows(scores []float32, k int) []int {
	k = min(k, len(scores))
	best := make([]int, 0, k)
	for j, v := range scores {
		if len(best) == k && v <= scores[best[k-1]] {
			continue
		}
		// insert after every row scoring at least v: earlier rows win ties
		at := sort.Search(len(best), func(i int) bool { return scores[best[i]] < v })
		if len(best) < k {
			best = append(best, 0)
		}
		copy(best[at+1:], best[at:len(best)-1])
		best[at] = j
	}
	return best
}

// Summarise turns 1-based ranks into metrics.
func Summarise(ranks []int) Metrics {
	if len(ranks) == 0 {
		return Metrics{}
	}
	var m Metrics
	sorted := append([]int(nil), ranks...)
	sort.Ints(sorted)
	for _, r := range ranks {
		if r <= 1 {
			m.R1++
		}
		if r <= 5 {
			m.R5++
		}
		if r <= 10 {
			m.R10++
		}
		m.MRR += 1 / float64(r)
	}
	n := float64(len(ranks))
	m.R1, m.R5, m.R10 = 100*m.R1/n, 100*m.R5/n, 100*m.R10/n
	m.MRR /= n
	// VSE++ and the Karpathy split tools report floor(median of 0-based
	// ranks) + 1; for an odd count that is simply the middle rank.
	mid := len(sorted) / 2
	med := float64(sorted[mid] - 1)
	if len(sorted)%2 == 0 {
		med = float64(sorted[mid-1]-1+sorted[mid]-1) / 2
	}
	m.MedR = math.Floor(med) + 1
	return m
}
