package search

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/xmodal/xmodal/lexical"
	"github.com/xmodal/xmodal/workspace"
)

// hybridWindow is how many documents each half of a hybrid search ranks
// before they are fused: enough that a document ranked well by one half
// and moderately by the other still surfaces.
const hybridWindow = 100

// keywordCache is the keyword index of a workspace: every image by its
// captions and key, every caption by its text. It is built the first time
// a hybrid search needs it, so that engines that never search by keyword
// never pay for it, and brought up to date when the workspace changes:
// images are never changed in place (a re-indexed file gets a new id), so
// new ids are added and gone ones forgotten.
type keywordCache struct {
	mu       sync.RWMutex                      // writers update; searches read
	gen      int64                             // the snapshot generation it is up to date with
	index    map[workspace.Kind]*lexical.Index // nil until the first hybrid search
	images   map[int64]imageMeta               // live images; absent once deleted
	captions map[int64]int64                   // caption id → image id
}

type imageMeta struct{ key, split string }

// updateKeywords brings the keyword index up to snapshot s.
func (e *Engine) updateKeywords(ctx context.Context, s *snapshot) error {
	c := &e.kw
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.index != nil && c.gen == s.gen {
		return nil
	}
	live := s.ids[workspace.Images]
	if s.inDB {
		var err error
		if live, err = e.ws.RowIDs(ctx, workspace.Images); err != nil {
			return err
		}
	}
	isLive := make(map[int64]bool, len(live))
	for _, id := range live {
		if id != 0 {
			isLive[id] = true
		}
	}
	// Forgotten documents stay in the index, passed over; once they
	// outnumber the living, start afresh.
	if c.index == nil || c.index[workspace.Images].Len() > 2*len(isLive)+1000 {
		c.index = map[workspace.Kind]*lexical.Index{workspace.Images: lexical.Build(nil), workspace.Captions: lexical.Build(nil)}
		c.images, c.captions = map[int64]imageMeta{}, map[int64]int64{}
	}
	for id := range c.images {
		if !isLive[id] {
			delete(c.images, id)
		}
	}
	var added []int64
	for id := range isLive {
		if _, ok := c.images[id]; !ok {
			added = append(added, id)
		}
	}
	imgs, err := e.ws.ImagesByID(ctx, added)
	if err != nil {
		return err
	}
	// Equal scores keep the order of indexing: by key, as eval orders
	// images, so that ties break alike whatever order ids were given in.
	newImages := slices.SortedFunc(maps.Values(imgs), func(a, b *workspace.Image) int { return strings.Compare(a.Key, b.Key) })
	var imageDocs, captionDocs []lexical.Doc
	for _, im := range newImages {
		c.images[im.ID] = imageMeta{im.Key, im.Split}
		texts := make([]string, 0, len(im.Captions)+1)
		for _, cp := range im.Captions {
			texts = append(texts, cp.Text)
			captionDocs = append(captionDocs, lexical.Doc{ID: cp.ID, Texts: []string{cp.Text}})
			c.captions[cp.ID] = im.ID
		}
		// The key too: a folder of photos named "beach/dog_running.jpg"
		// has no captions but says something.
		imageDocs = append(imageDocs, lexical.Doc{ID: im.ID, Texts: append(texts, im.Key)})
	}
	c.index[workspace.Images].Add(imageDocs)
	c.index[workspace.Captions].Add(captionDocs)
	c.gen = s.gen
	return nil
}

// searchKeywords ranks the live documents of kind k that filter selects
// by the words of text, best first.
func (e *Engine) searchKeywords(k workspace.Kind, text string, n int, filter workspace.Filter) []int64 {
	c := &e.kw
	c.mu.RLock()
	defer c.mu.RUnlock()
	keep := func(id int64) bool {
		if k == workspace.Captions {
			id = c.captions[id]
		}
		m, ok := c.images[id]
		return ok && filter.Selects(m.key, m.split)
	}
	var ids []int64
	for _, h := range c.index[k].Search(text, n, keep) {
		ids = append(ids, h.ID)
	}
	return ids
}

// answerHybrid answers a text query by fusing, per target, the documents
// nearest to its vector with those whose words match its words
// (lexical.Fuse). A hit's score is its fused score.
func (e *Engine) answerHybrid(ctx context.Context, q Query, vec []float32, r *Result) error {
	if err := e.maybeRefresh(ctx); err != nil {
		return err
	}
	// Building the index reads every caption once: on a large workspace
	// that may outlast the request that asked, and the next request would
	// start it over. So it runs to the end whatever the request.
	if err := e.updateKeywords(context.WithoutCancel(ctx), e.snapshot()); err != nil {
		return err
	}
	window := max(r.Offset+r.TopK, hybridWindow)
	for _, t := range r.Targets {
		dense, err := e.searchIDs(ctx, [][]float32{slices.Clone(vec)}, t, window, nil, q.Filter)
		if err != nil {
			return err
		}
		byVector := make([]int64, len(dense[0]))
		for i, h := range dense[0] {
			byVector[i] = h.ID
		}
		byWords := e.searchKeywords(t, q.Text, window, q.Filter)
		fused := lexical.Fuse(byVector, byWords)
		// A few more than asked for, in case some were deleted since.
		fused = fused[:min(len(fused), r.Offset+r.TopK+8)]
		ids := make([]int64, len(fused))
		scores := make([]float32, len(fused))
		for i, f := range fused {
			ids[i], scores[i] = f.ID, float32(f.Score)
		}
		hits, err := e.ranked(ctx, t, ids, scores)
		if err != nil {
			return err
		}
		hits = r.page(hits)
		ranks := make(map[int64][]int, len(fused))
		for _, f := range fused {
			ranks[f.ID] = f.Ranks
		}
		for i := range hits {
			rk := ranks[hits[i].ID]
			hits[i].Hybrid = &HybridRanks{Vector: rk[0], Words: rk[1]}
		}
		r.Hits[t] = hits
	}
	return nil
}
