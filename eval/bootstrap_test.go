package eval

import (
	"reflect"
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
