package search

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/xmodal/xmodal/workspace"
)

// duplicateNeighbours is how many nearest images of each image are
// checked against the threshold. A group larger than this is still found
// whole, through its members' own neighbours.
const duplicateNeighbours = 10

// DuplicateGroup is a set of images whose vectors lie close together:
// the same picture resized, recompressed or lightly edited, or shots taken
// a moment apart.
type DuplicateGroup struct {
	// Images are in key order. An image's Score is its similarity to its
	// nearest image in the group; Rank numbers it within the group.
	Images []Hit `json:"images"`
}

// Duplicates finds the groups of live images in which each image is
// linked to another by a cosine similarity of at least threshold (single
// linkage: a chain of near pairs makes one group). Groups come largest
// first, then by their first key. progress, if not nil, is told how many
// images have been compared so far, of how many.
func (e *Engine) Duplicates(ctx context.Context, threshold float32, progress func(done, total int)) ([]DuplicateGroup, error) {
	if threshold <= 0 || threshold > 1 {
		return nil, fmt.Errorf("%w: the threshold %v is not a cosine similarity in (0, 1]", ErrBadQuery, threshold)
	}
	if err := e.Refresh(ctx); err != nil {
		return nil, err
	}
	s := e.snapshot()
	ids := s.ids[workspace.Images]
	if s.inDB {
		var err error
		if ids, err = e.ws.RowIDs(ctx, workspace.Images); err != nil {
			return nil, err
		}
	}
	live := 0
	for _, id := range ids {
		if id != 0 {
			live++
		}
	}

	parent := map[int64]int64{} // union-find over image ids
	var find func(int64) int64
	find = func(id int64) int64 {
		p, ok := parent[id]
		if !ok || p == id {
			return id
		}
		root := find(p)
		parent[id] = root
		return root
	}
	nearest := map[int64]float32{} // an image's best similarity within its group
	link := func(a, b int64, score float32) {
		nearest[a] = max(nearest[a], score)
		nearest[b] = max(nearest[b], score)
		ra, rb := find(a), find(b)
		if ra != rb {
			parent[max(ra, rb)] = min(ra, rb)
		}
	}

	const batch = 256
	done := 0
	for lo := 0; lo < len(ids); lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+batch, len(ids))
		vecs, err := e.ws.ReadVectors(workspace.Images, lo, hi)
		if err != nil {
			return nil, err
		}
		dim := e.enc.Dim()
		var queries [][]float32
		var from []int64
		for r := lo; r < hi; r++ {
			if ids[r] != 0 {
				queries = append(queries, vecs[(r-lo)*dim:(r-lo+1)*dim])
				from = append(from, ids[r])
			}
		}
		if len(queries) == 0 {
			continue
		}
		found, err := e.nearestIDs(ctx, s, queries, duplicateNeighbours+1)
		if err != nil {
			return nil, err
		}
		for i, matches := range found {
			for _, m := range matches {
				if m.ID != from[i] && m.Score >= threshold {
					link(from[i], m.ID, m.Score)
				}
			}
		}
		done += len(queries)
		if progress != nil {
			progress(done, live)
		}
	}

	members := map[int64][]int64{}
	for id := range nearest {
		root := find(id)
		members[root] = append(members[root], id)
	}
	var all []int64
	for _, m := range members {
		all = append(all, m...)
	}
	described, err := e.describe(ctx, workspace.Images, all)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Hit, len(described))
	for _, h := range described {
		if h.ID != 0 {
			h.Score = nearest[h.ID]
			byID[h.ID] = h
		}
	}
	var groups []DuplicateGroup
	for _, m := range members {
		var g DuplicateGroup
		for _, id := range m {
			if h, ok := byID[id]; ok { // not deleted since
				g.Images = append(g.Images, h)
			}
		}
		if len(g.Images) < 2 {
			continue
		}
		slices.SortFunc(g.Images, func(a, b Hit) int { return cmp.Compare(a.Key, b.Key) })
		for i := range g.Images {
			g.Images[i].Rank = i + 1
		}
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b DuplicateGroup) int {
		if c := cmp.Compare(len(b.Images), len(a.Images)); c != 0 {
			return c
		}
		return cmp.Compare(a.Images[0].Key, b.Images[0].Key)
	})
	return groups, nil
}

// nearestIDs finds the k nearest images of each query vector, ids and
// scores only, from the snapshot's indexes or the database.
func (e *Engine) nearestIDs(ctx context.Context, s *snapshot, queries [][]float32, k int) ([][]workspace.Match, error) {
	out := make([][]workspace.Match, len(queries))
	if s.inDB {
		for i, q := range queries {
			var err error
			if out[i], err = e.ws.Nearest(ctx, workspace.Images, q, k, workspace.Filter{}, e.cfg.Exact); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	ids := s.ids[workspace.Images]
	hits, err := s.indexes[workspace.Images].Search(queries, k, func(row int) bool { return ids[row] != 0 })
	if err != nil {
		return nil, err
	}
	for i, hs := range hits {
		for _, h := range hs {
			out[i] = append(out[i], workspace.Match{ID: ids[h.Row], Row: h.Row, Score: h.Score})
		}
	}
	return out, nil
}
