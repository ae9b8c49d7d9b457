package lexical

import (
	"math"
	"slices"
	"testing"
)

func TestTerms(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"A dog.", []string{"dog"}},
		{"Two puppies and some horses", []string{"two", "puppy", "horse"}},
		{"pets/black_dogs.jpg", []string{"pet", "black", "dog", "jpg"}},
		{"glass bus axis gas tennis", []string{"glass", "bus", "axis", "gas", "tennis"}},
		{"Crème BRÛLÉE, 2 cups", []string{"crème", "brûlée", "2", "cup"}},
		{"no dogs", []string{"no", "dog"}},
		{"of the", nil},
		{"", nil},
	} {
		if got := Terms(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Terms(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSearchBM25(t *testing.T) {
	docs := []Doc{
		{1, []string{"a red car", "cars/red.png"}},
		{2, []string{"a dog on a beach"}},
		{3, []string{"a dog and a cat", "a cat sleeping on a red sofa in the sun"}},
		{4, []string{"the sun"}},
	}
	x := Build(docs)
	if x.Len() != 4 {
		t.Fatalf("Len = %d", x.Len())
	}
	// By hand: document 2 has "dog" once in 2 words ("a", "on" dropped:
	// dog, beach); the average length is (5+2+9+1)/4 words.
	lens := []float64{5, 2, 7, 1}
	avg := (lens[0] + lens[1] + lens[2] + lens[3]) / 4
	idf := math.Log(1 + (4-2+0.5)/(2+0.5))
	want := idf * 1 * (k1 + 1) / (1 + k1*(1-b+b*lens[1]/avg))
	hits := x.Search("Dogs", 10, nil)
	if len(hits) != 2 || hits[0].ID != 2 || hits[1].ID != 3 {
		t.Fatalf("Search(dogs) = %v, want documents 2 then 3", hits)
	}
	if math.Abs(float64(hits[0].Score)-want) > 1e-5 {
		t.Errorf("score of document 2 = %v, want %v", hits[0].Score, want)
	}
	for _, c := range []struct {
		query string
		keep  func(int64) bool
		k     int
		want  []int64
	}{
		{"red car", nil, 10, []int64{1, 3}},          // both words beat one
		{"red car", nil, 1, []int64{1}},              // k cuts
		{"a cat in the sun", nil, 10, []int64{3, 4}}, // two words beat one
		{"dog", func(id int64) bool { return id != 2 }, 10, []int64{3}},
		{"giraffe", nil, 10, nil},
		{"the of a", nil, 10, nil},
	} {
		var got []int64
		for _, h := range x.Search(c.query, c.k, c.keep) {
			got = append(got, h.ID)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Search(%q, %d) = %v, want %v", c.query, c.k, got, c.want)
		}
	}
	// Adding in two steps indexes the same as building at once.
	y := Build(docs[:2])
	y.Add(docs[2:])
	for _, q := range []string{"dogs", "red car", "a cat in the sun", "png"} {
		if a, b := x.Search(q, 10, nil), y.Search(q, 10, nil); !slices.Equal(a, b) {
			t.Errorf("Search(%q): built at once %v, in two steps %v", q, a, b)
		}
	}
	if hits := Build(nil).Search("dog", 5, nil); hits != nil {
		t.Errorf("an empty index found %v", hits)
	}
}

func TestFuse(t *testing.T) {
	got := Fuse([]int64{1, 2, 3}, []int64{3, 4})
	var ids []int64
	for _, f := range got {
		ids = append(ids, f.ID)
	}
	// 3 is in both lists: 1/63 + 1/61 beats 1's 1/61. 2 (1/62) and 4
	// (1/62) tie, and 2 came first.
	if want := []int64{3, 1, 2, 4}; !slices.Equal(ids, want) {
		t.Fatalf("Fuse order = %v, want %v", ids, want)
	}
	if w := 1.0/63 + 1.0/61; math.Abs(got[0].Score-w) > 1e-12 {
		t.Errorf("fused score of 3 = %v, want %v", got[0].Score, w)
	}
	for i, want := range [][]int{{3, 1}, {1, 0}, {2, 0}, {0, 2}} {
		if !slices.Equal(got[i].Ranks, want) {
			t.Errorf("ranks of %d = %v, want %v", got[i].ID, got[i].Ranks, want)
		}
	}
	if len(Fuse()) != 0 {
		t.Error("fusing nothing gave something")
	}
}
