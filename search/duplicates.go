package search

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/xmodal/xmodal/workspace"
)

// duplicateNeighbours is how many nearest images of each image are
// checked against the threshold, and so the most copies a group can hold.
const duplicateNeighbours = 20

// DuplicateGroup is a set of images whose vectors lie close together:
// the same picture resized, recompressed or lightly edited, or shots taken
// a moment apart.
type DuplicateGroup struct {
	// Images start with the group's centre, the image the others are
	// near, scored 1; the rest follow by their Score, their similarity to
	// it. Rank numbers them within the group.
	Images []Hit `json:"images"`
}

// Duplicates finds groups of live images within threshold of one image
// of theirs, its centre: every image is compared with its nearest ones;
// the image with the most neighbours at threshold or above becomes a
// centre with all of them that are not yet in a group, and so on down.
// Unlike single linkage, a chain of near pairs cannot string a group out
// across a collection of like pictures. Groups come largest first, then
// by their centre's key. progress, if not nil, is told how many images
// have been compared so far, of how many.
func (e *Engine) Duplicates(ctx context.Context, threshold float32, progress func(done, total int)) ([]DuplicateGroup, error) {
	if threshold <= 0 || threshold > 1 {
		return nil, fmt.Errorf("%w: the threshold %v is not a cosine similarity in (0, 1]", ErrBadQuery, threshold)
	}
	if err := e.Refresh(ctx); err != nil {
		return nil, err
	}
	near, err := e.neighboursAbove(ctx, e.snapshot(), threshold, progress)
	if err != nil {
		return nil, err
	}
	members := groupAroundCentres(near)
	var all []int64
	for _, g := range members {
		for _, m := range g {
			all = append(all, m.ID)
		}
	}
	described, err := e.describe(ctx, workspace.Images, all)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Hit, len(described))
	for _, h := range described {
		if h.ID != 0 { // not deleted since
			byID[h.ID] = h
		}
	}
	var groups []DuplicateGroup
	for _, g := range members {
		var dg DuplicateGroup
		for _, m := range g {
			if h, ok := byID[m.ID]; ok {
				h.Rank, h.Score = len(dg.Images)+1, m.Score
				dg.Images = append(dg.Images, h)
			}
		}
		if len(dg.Images) >= 2 && dg.Images[0].Score == 1 {
			groups = append(groups, dg)
		}
	}
	slices.SortFunc(groups, func(a, b DuplicateGroup) int {
		if c := cmp.Compare(len(b.Images), len(a.Images)); c != 0 {
			return c
		}
		return cmp.Compare(a.Images[0].Key, b.Images[0].Key)
	})
	return groups, nil
}

// neighboursAbove compares every live image of snapshot s with its
// nearest ones and returns, for each image that has any, its neighbours
// at threshold or above, best first.
func (e *Engine) neighboursAbove(ctx context.Context, s *snapshot, threshold float32, progress func(done, total int)) (map[int64][]workspace.Match, error) {
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
	near := map[int64][]workspace.Match{}
	const batch = 256
	dim := e.enc.Dim()
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
		found, err := e.searchIDs(ctx, queries, workspace.Images, duplicateNeighbours+1, nil, workspace.Filter{})
		if err != nil {
			return nil, err
		}
		for i, matches := range found {
			for _, m := range matches {
				if m.ID != from[i] && m.Score >= threshold {
					near[from[i]] = append(near[from[i]], m)
				}
			}
		}
		done += len(queries)
		if progress != nil {
			progress(done, live)
		}
	}
	return near, nil
}

// groupAroundCentres makes groups of the neighbour lists: the image with
// the most neighbours (then the lower id, so that the same vectors always
// give the same groups) takes those not yet in a group, and so on. Each
// group starts with its centre, scored 1.
func groupAroundCentres(near map[int64][]workspace.Match) [][]workspace.Match {
	centres := slices.Collect(maps.Keys(near))
	slices.SortFunc(centres, func(a, b int64) int {
		if c := cmp.Compare(len(near[b]), len(near[a])); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	grouped := map[int64]bool{}
	var groups [][]workspace.Match
	for _, c := range centres {
		if grouped[c] {
			continue
		}
		g := []workspace.Match{{ID: c, Score: 1}}
		for _, m := range near[c] {
			if !grouped[m.ID] {
				g = append(g, m)
			}
		}
		if len(g) < 2 {
			continue
		}
		for _, m := range g {
			grouped[m.ID] = true
		}
		groups = append(groups, g)
	}
	return groups
}
