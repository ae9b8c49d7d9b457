package eval

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func t2i(query, image string, rank int) QueryRank {
	return QueryRank{Direction: "text_to_image", Query: query, Image: image, Rank: rank}
}

func i2t(image string, rank int) QueryRank {
	return QueryRank{Direction: "image_to_text", Query: image, Image: image, Rank: rank}
}

func TestConcepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		qs   []QueryRank
		want []int
		n    int
	}{
		{"alone", []QueryRank{t2i("a cat", "cat.png", 1), t2i("a dog", "dog.png", 1)}, []int{0, 1}, 2},
		{"shared caption joins two vendors", []QueryRank{
			t2i("penguin", "noto/penguin.png", 1), t2i("penguin", "twemoji/penguin.png", 2),
			t2i("a dog", "dog.png", 1),
		}, []int{0, 0, 1}, 2},
		{"joined through a chain", []QueryRank{
			t2i("x", "a.png", 1), t2i("y", "b.png", 1), t2i("x", "c.png", 1), t2i("y", "c.png", 1),
		}, []int{0, 0, 0, 0}, 1},
		{"image queries follow their image", []QueryRank{
			t2i("penguin", "noto/penguin.png", 1), t2i("penguin", "twemoji/penguin.png", 2),
			i2t("twemoji/penguin.png", 1), i2t("lone.png", 3),
		}, []int{0, 0, 0, 1}, 2},
		{"a caption equal to an image key is not that image", []QueryRank{
			t2i("b.png", "a.png", 1), t2i("other", "b.png", 1),
		}, []int{0, 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := concepts(tc.qs)
			if n != tc.n || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("concepts = %v, %d clusters; want %v, %d", got, n, tc.want, tc.n)
			}
		})
	}
}

func TestBootstrap(t *testing.T) {
	var qs []QueryRank
	for i, r := range []int{1, 1, 2, 7, 30, 1, 4, 12, 1, 3, 9, 50} {
		img := string(rune('a'+i)) + ".png"
		qs = append(qs, t2i("caption of "+img, img, r), i2t(img, 1+i%4))
	}
	iv, err := Bootstrap(qs, 2000, 7)
	if err != nil {
		t.Fatal(err)
	}
	if iv.Samples != 2000 || iv.Clusters != 12 {
		t.Errorf("samples %d clusters %d, want 2000 and 12", iv.Samples, iv.Clusters)
	}
	// the point estimates lie inside their intervals, and the intervals are ordered
	point := map[string]float64{"t2i R@1": 100 * 4 / 12.0, "t2i R@5": 100 * 8 / 12.0, "t2i R@10": 100 * 10 / 12.0, "i2t R@1": 100 * 3 / 12.0}
	got := map[string]Interval{"t2i R@1": iv.TextToImage.R1, "t2i R@5": iv.TextToImage.R5, "t2i R@10": iv.TextToImage.R10, "i2t R@1": iv.ImageToText.R1}
	for name, p := range point {
		g := got[name]
		if !(g.Lo <= p && p <= g.Hi && g.Lo < g.Hi) {
			t.Errorf("%s: %.1f outside its interval [%.1f, %.1f]", name, p, g.Lo, g.Hi)
		}
	}
	if iv.ImageToText.R5 != (Interval{100, 100}) {
		t.Errorf("every image ranks within 4: i2t R@5 interval %v, want [100, 100]", iv.ImageToText.R5)
	}
	again, _ := Bootstrap(qs, 2000, 7)
	if again != iv {
		t.Errorf("same seed, different intervals: %v and %v", iv, again)
	}
}

func TestBootstrapErrors(t *testing.T) {
	if _, err := Bootstrap(nil, 100, 1); err == nil {
		t.Error("no queries: want an error")
	}
	if _, err := Bootstrap([]QueryRank{t2i("a", "a.png", 1)}, 0, 1); err == nil {
		t.Error("0 samples: want an error")
	}
}

func TestInterval95(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want Interval
	}{
		{[]float64{5}, Interval{5, 5}},
		// 41 values 0..40: positions 1 and 39
		{seq(41), Interval{1, 39}},
		{nil, Interval{}},
	} {
		if got := interval95(tc.v); got != tc.want {
			t.Errorf("interval95(%d values) = %v, want %v", len(tc.v), got, tc.want)
		}
	}
}

func seq(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[n-1-i] = float64(i) // reversed: interval95 sorts
	}
	return v
}

func TestCompare(t *testing.T) {
	var a, b, same []QueryRank
	better := 0 // captions B ranks first and A does not
	for i := range 40 {
		img := fmt.Sprintf("%02d.png", i)
		r := 1 + i*7%13
		a = append(a, t2i("caption of "+img, img, r))
		same = append(same, t2i("caption of "+img, img, r))
		if i%4 == 1 && r != 1 {
			r = 1
			better++
		}
		b = append(b, t2i("caption of "+img, img, r))
	}
	wantA := 0.0
	for _, q := range a {
		if q.Rank == 1 {
			wantA += 100 / 40.0
		}
	}
	for _, tc := range []struct {
		name           string
		b              []QueryRank
		diff1          float64
		excludesZero   bool
		zeroWidthDiffs bool
	}{
		{"a model against itself", same, 0, false, true},
		{"some captions better", b, 100 * float64(better) / 40, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmp, err := Compare(a, tc.b, 2000, 3)
			if err != nil {
				t.Fatal(err)
			}
			if cmp.ImageToText != nil || cmp.TextToImage == nil || cmp.TextToImage.Queries != 40 || cmp.Clusters != 40 {
				t.Fatalf("compare = %+v, want 40 text→image queries in 40 clusters and no image→text", cmp)
			}
			r := cmp.TextToImage.Recalls
			if len(r) != 3 || r[0].K != 1 || r[2].K != 10 {
				t.Fatalf("recalls %+v, want R@1, R@5, R@10", r)
			}
			if math.Abs(r[0].A-wantA) > 1e-9 || math.Abs(r[0].Diff-tc.diff1) > 1e-9 {
				t.Errorf("R@1: A %.2f B %.2f diff %.2f, want A %.2f and diff %.2f", r[0].A, r[0].B, r[0].Diff, wantA, tc.diff1)
			}
			for _, d := range r {
				if !(d.ACI.Lo <= d.A && d.A <= d.ACI.Hi && d.BCI.Lo <= d.B && d.B <= d.BCI.Hi && d.DiffCI.Lo <= d.Diff && d.Diff <= d.DiffCI.Hi) {
					t.Errorf("R@%d: a point estimate outside its interval: %+v", d.K, d)
				}
				if tc.zeroWidthDiffs && d.DiffCI != (Interval{}) {
					t.Errorf("R@%d against itself: difference interval %v, want [0, 0]", d.K, d.DiffCI)
				}
			}
			// paired: B never loses a query, so no draw can favour A (and a
			// model against itself differs by exactly 0, above)
			if d := r[0]; tc.excludesZero && d.DiffCI.Lo <= 0 {
				t.Errorf("R@1: difference interval %v should exclude 0", d.DiffCI)
			}
		})
	}
}

func TestCompareErrors(t *testing.T) {
	a := []QueryRank{t2i("a cat", "cat.png", 1), t2i("a dog", "dog.png", 2)}
	for _, tc := range []struct {
		name    string
		a, b    []QueryRank
		samples int
		want    string
	}{
		{"no queries", nil, nil, 100, "no queries"},
		{"fewer queries", a, a[:1], 100, "2 queries against 1"},
		{"other queries", a, []QueryRank{a[0], t2i("a dog", "wolf.png", 2)}, 100, "query 2 differs"},
		{"no samples", a, a, 0, "samples"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Compare(tc.a, tc.b, tc.samples, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
