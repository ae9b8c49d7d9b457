package search

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/xmodal/xmodal/workspace"
)

func TestDuplicates(t *testing.T) {
	ctx := context.Background()
	e, _ := setup(t)
	// The fixtures' four pictures are unlike one another at 0.999.
	if groups, err := e.Duplicates(ctx, 0.999, nil); err != nil || len(groups) != 0 {
		t.Fatalf("before copies: %+v, %v", groups, err)
	}
	// Two copies of one picture and one of another, as a re-encoded file
	// gives: the same vector, a different key.
	orig, err := e.Workspace().ImageByKey(ctx, "08_rgb_732x672.png")
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.Workspace().ImageByKey(ctx, "03_tiny_17x9.png")
	if err != nil {
		t.Fatal(err)
	}
	var copies []workspace.NewImage
	for _, c := range []struct {
		key  string
		from *workspace.Image
	}{{"copies/08.png", orig}, {"copies/08-again.png", orig}, {"copies/03.png", other}} {
		v, err := e.storedVector(ctx, workspace.Images, c.from.ID)
		if err != nil {
			t.Fatal(err)
		}
		copies = append(copies, workspace.NewImage{Key: c.key, Path: c.from.Path, SHA256: c.key, Vector: v})
	}
	if err := e.write(ctx, func(w *workspace.Workspace) error { return w.Add(ctx, copies, nil) }); err != nil {
		t.Fatal(err)
	}
	var calls, last int
	groups, err := e.Duplicates(ctx, 0.999, func(done, total int) { calls, last = calls+1, done })
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last != 7 {
		t.Errorf("progress: %d calls, last at %d; want the 7 images", calls, last)
	}
	// The centre (most neighbours, then the lowest id: the original)
	// first, then its copies; the larger group first.
	want := [][]string{{"08_rgb_732x672.png", "copies/08.png", "copies/08-again.png"}, {"03_tiny_17x9.png", "copies/03.png"}}
	if len(groups) != len(want) {
		t.Fatalf("groups: %+v", groups)
	}
	for i, g := range groups {
		var keys []string
		for j, h := range g.Images {
			keys = append(keys, h.Key)
			if h.Rank != j+1 || h.Score < 0.999 || h.Type != workspace.Images || j == 0 && h.Score != 1 {
				t.Errorf("group %d, image %d: %+v", i, j, h)
			}
		}
		if !slices.Equal(keys, want[i]) {
			t.Errorf("group %d: %q, want %q", i, keys, want[i])
		}
	}
	// A collection of like pictures does not chain into one group: each
	// image is within the threshold of its group's centre.
	loose, err := e.Duplicates(ctx, 0.2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range loose {
		for _, h := range g.Images {
			if h.Score < 0.2 {
				t.Errorf("at 0.2, %s is in a group at %v from its centre", h.Key, h.Score)
			}
		}
	}
	if _, err := e.Duplicates(ctx, 1.5, nil); !errors.Is(err, ErrBadQuery) {
		t.Errorf("threshold 1.5: %v", err)
	}
}

func TestGroupAroundCentres(t *testing.T) {
	m := func(id int64) workspace.Match { return workspace.Match{ID: id, Score: 0.96} }
	for _, c := range []struct {
		name string
		near map[int64][]workspace.Match
		want [][]int64
	}{
		// A chain 1–2–3–4: single linkage would make one group; around
		// centres, 2 (most neighbours, lower id than 3) takes 1 and 3,
		// and 4's only neighbour is taken.
		{"chain", map[int64][]workspace.Match{1: {m(2)}, 2: {m(1), m(3)}, 3: {m(2), m(4)}, 4: {m(3)}}, [][]int64{{2, 1, 3}}},
		{"two pairs", map[int64][]workspace.Match{5: {m(6)}, 6: {m(5)}, 7: {m(8)}, 8: {m(7)}}, [][]int64{{5, 6}, {7, 8}}},
		{"none", map[int64][]workspace.Match{}, nil},
	} {
		var got [][]int64
		for _, g := range groupAroundCentres(c.near) {
			var ids []int64
			for i, mm := range g {
				ids = append(ids, mm.ID)
				if i == 0 && mm.Score != 1 {
					t.Errorf("%s: centre %d scored %v", c.name, mm.ID, mm.Score)
				}
			}
			got = append(got, ids)
		}
		if !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
