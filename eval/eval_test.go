package eval

import (
	"math"
	"reflect"
	"testing"
)

// A hand-computed example: three images, five captions, in two dimensions.
//
//	images:   A=(1,0)  B=(0,1)  C=(0.6,0.8)
//	captions: a1=(1,0)  a2=(0,1)  b1=(0,1)  c1=(0.8,0.6)  c2=(0.6,0.8)
//	owners:   a1→A  a2→A  b1→B  c1→C  c2→C
//
// Text→image (scores of A, B, C; rank of the owner):
//
//	a1: 1, 0, 0.6     → A rank 1
//	a2: 0, 1, 0.8     → A rank 3
//	b1: 0, 1, 0.8     → B rank 1
//	c1: 0.8, 0.6, 0.96 → C rank 1
//	c2: 0.6, 0.8, 1   → C rank 1
//
// ranks 1,3,1,1,1: R@1 80, R@5 100, R@10 100, MedR 1, MRR (4+1/3)/5.
//
// Image→text (scores of a1, a2, b1, c1, c2):
//
//	A: 1, 0, 0, 0.8, 0.6         → best own caption a1, rank 1
//	B: 0, 1, 1, 0.6, 0.8         → best own caption b1 (1.0), tied with a2 (row 1 < 2) → rank 2
//	C: 0.6, 0.8, 0.8, 0.96, 1    → best own caption c2, rank 1
//
// ranks 1,2,1: R@1 66.67, R@5 100, MedR 1, MRR (1+0.5+1)/3.
func TestEvaluateHandComputed(t *testing.T) {
	images := [][]float32{{1, 0}, {0, 1}, {0.6, 0.8}}
	captions := [][]float32{{1, 0}, {0, 1}, {0, 1}, {0.8, 0.6}, {0.6, 0.8}}
	owner := []int{0, 0, 1, 2, 2}
	got, err := Evaluate(images, captions, owner)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Images: 3, Captions: 5,
		TextToImage: Metrics{R1: 80, R5: 100, R10: 100, MedR: 1, MRR: (4 + 1.0/3) / 5},
		ImageToText: Metrics{R1: 200.0 / 3, R5: 100, R10: 100, MedR: 1, MRR: 2.5 / 3},
	}
	if !close(got.TextToImage, want.TextToImage) || !close(got.ImageToText, want.ImageToText) || got.Images != 3 || got.Captions != 5 {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func close(a, b Metrics) bool {
	eq := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	return eq(a.R1, b.R1) && eq(a.R5, b.R5) && eq(a.R10, b.R10) && eq(a.MedR, b.MedR) && eq(a.MRR, b.MRR)
}

// {2, 6, 11, 20} are 0-based ranks 1, 5, 10, 19: the median 7.5 floors to
// 7, so MedR is 8.
func TestSummarise(t *testing.T) {
	tests := []struct {
		ranks []int
		want  Metrics
	}{
		{[]int{1}, Metrics{100, 100, 100, 1, 1}},
		{[]int{2, 6, 11, 20}, Metrics{0, 25, 50, 8, (0.5 + 1.0/6 + 1.0/11 + 0.05) / 4}},
		{[]int{3, 1, 2}, Metrics{100.0 / 3, 100, 100, 2, (1 + 0.5 + 1.0/3) / 3}},
		{nil, Metrics{}},
	}
	for _, tc := range tests {
		if got := Summarise(tc.ranks); !close(got, tc.want) {
			t.Errorf("Summarise(%v) = %+v, want %+v", tc.ranks, got, tc.want)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	if _, err := Evaluate([][]float32{{1}}, [][]float32{{1}}, []int{3}); err == nil {
		t.Error("owner out of range: no error")
	}
	if _, err := Evaluate(nil, [][]float32{{1}}, []int{0}); err == nil {
		t.Error("no images: no error")
	}
	if _, err := Evaluate([][]float32{{1}}, [][]float32{{1}}, nil); err == nil {
		t.Error("owners missing: no error")
	}
}

// Folds average the evaluations of equal consecutive parts; rsum adds the
// six recalls.
func TestFolds(t *testing.T) {
	// Four images, two captions each; in fold 2 the captions of image 3
	// point at image 2.
	e := func(i int) []float32 {
		v := make([]float32, 4)
		v[i] = 1
		return v
	}
	images := [][]float32{e(0), e(1), e(2), e(3)}
	captions := [][]float32{e(0), e(0), e(1), e(1), e(2), e(2), e(2), e(2)}
	owner := []int{0, 0, 1, 1, 2, 2, 3, 3}
	r, err := Folds(images, captions, owner, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Folds != 2 || r.Images != 2 || r.Captions != 4 {
		t.Errorf("folds %d, images %d, captions %d", r.Folds, r.Images, r.Captions)
	}
	// Fold 1 is perfect; in fold 2, image 3's captions rank its image
	// second: text→image R@1 is (100 + 50)/2.
	if r.TextToImage.R1 != 75 || r.TextToImage.R5 != 100 {
		t.Errorf("text→image %+v", r.TextToImage)
	}
	if want := r.TextToImage.R1 + r.TextToImage.R5 + r.TextToImage.R10 + r.ImageToText.R1 + r.ImageToText.R5 + r.ImageToText.R10; r.RSum != want {
		t.Errorf("rsum %v, want %v", r.RSum, want)
	}
	if _, err := Folds(images, captions, owner, 3); err == nil {
		t.Error("4 images split into 3 folds")
	}
}

// The hand-computed example above, query by query.
func TestEvaluateRanksHandComputed(t *testing.T) {
	images := [][]float32{{1, 0}, {0, 1}, {0.6, 0.8}}
	captions := [][]float32{{1, 0}, {0, 1}, {0, 1}, {0.8, 0.6}, {0.6, 0.8}}
	owner := []int{0, 0, 1, 2, 2}
	res, rk, err := EvaluateRanks(images, captions, owner, 3)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := Evaluate(images, captions, owner)
	if res != plain {
		t.Errorf("EvaluateRanks metrics %+v, Evaluate %+v", res, plain)
	}
	want := Ranks{
		TextToImage:     []int{1, 3, 1, 1, 1},
		TextToImageTop:  [][]int{{0, 2, 1}, {1, 2, 0}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}},
		ImageToText:     []int{1, 2, 1},
		ImageToTextBest: []int{0, 2, 4},
		// B ties a2 and b1 at 1: the earlier row, a2, comes first.
		ImageToTextTop: [][]int{{0, 3, 4}, {1, 2, 4}, {4, 3, 1}},
	}
	if !reflect.DeepEqual(rk, want) {
		t.Errorf("ranks\n got  %+v\n want %+v", rk, want)
	}
	if _, rk, _ := EvaluateRanks(images, captions, owner, 0); !reflect.DeepEqual(rk, Ranks{}) {
		t.Errorf("top 0 gave ranks %+v, want none", rk)
	}
}

func TestTopRows(t *testing.T) {
	tests := []struct {
		scores []float32
		k      int
		want   []int
	}{
		{[]float32{0.1, 0.9, 0.5}, 2, []int{1, 2}},
		{[]float32{0.1, 0.9, 0.5}, 5, []int{1, 2, 0}},
		{[]float32{0.5, 0.5, 0.5}, 2, []int{0, 1}},         // ties: row order
		{[]float32{0.2, 0.7, 0.7, 0.9}, 3, []int{3, 1, 2}}, // a late tie does not displace
		{[]float32{-1, -2, -0.5, -3}, 1, []int{2}},         // negative scores
		{[]float32{0.3, 0.1, 0.2, 0.4, 0.0}, 4, []int{3, 0, 2, 1}},
	}
	for _, tt := range tests {
		if got := topRows(tt.scores, tt.k); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("topRows(%v, %d) = %v, want %v", tt.scores, tt.k, got, tt.want)
		}
	}
}
