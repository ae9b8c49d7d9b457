package search

import (
	"context"
	"slices"
	"sync"

	"github.com/xmodal/xmodal/lexical"
	"github.com/xmodal/xmodal/workspace"
)

// hybridWindow is how many documents each half of a hybrid search ranks
// before they are fused: enough that a document ranked well by one half
// and moderately by the other still surfaces.
const hybridWindow = 100

// keywords is the keyword index of a workspace at one generation: every
// image by its captions and key, every caption by its text.
type keywords struct {
	gen      int64
	index    map[workspace.Kind]*lexical.Index
	images   map[int64]imageMeta // for filters
	captions map[int64]int64     // caption id → image id
}

type imageMeta struct{ key, split string }

// keywordCache builds the keyword index the first time a hybrid search
// needs it, and again when the workspace changed: engines that never
// search by keyword never pay for it.
type keywordCache struct {
	mu  sync.Mutex
	cur *keywords
}

// keywords returns the keyword index as of snapshot generation gen.
func (e *Engine) keywords(ctx context.Context, gen int64) (*keywords, error) {
	c := &e.kw
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && c.cur.gen == gen {
		return c.cur, nil
	}
	imgs, err := e.ws.ImagesInSplit(ctx, "")
	if err != nil {
		return nil, err
	}
	kw := &keywords{gen: gen, index: map[workspace.Kind]*lexical.Index{}, images: make(map[int64]imageMeta, len(imgs)), captions: map[int64]int64{}}
	imageDocs := make([]lexical.Doc, 0, len(imgs))
	var captionDocs []lexical.Doc
	for _, im := range imgs {
		kw.images[im.ID] = imageMeta{im.Key, im.Split}
		texts := make([]string, 0, len(im.Captions)+1)
		for _, c := range im.Captions {
			texts = append(texts, c.Text)
			captionDocs = append(captionDocs, lexical.Doc{ID: c.ID, Texts: []string{c.Text}})
			kw.captions[c.ID] = im.ID
		}
		// The key too: a folder of photos named "beach/dog_running.jpg"
		// has no captions but says something.
		imageDocs = append(imageDocs, lexical.Doc{ID: im.ID, Texts: append(texts, im.Key)})
	}
	kw.index[workspace.Images] = lexical.Build(imageDocs)
	kw.index[workspace.Captions] = lexical.Build(captionDocs)
	c.cur = kw
	return kw, nil
}

// selects reports whether filter selects a document of kind k.
func (kw *keywords) selects(k workspace.Kind, id int64, filter workspace.Filter) bool {
	if k == workspace.Captions {
		id = kw.captions[id]
	}
	m, ok := kw.images[id]
	return ok && filter.Selects(m.key, m.split)
}

// answerHybrid answers a text query by fusing, per target, the documents
// nearest to its vector with those whose words match its words
// (lexical.Fuse). A hit's score is its fused score.
func (e *Engine) answerHybrid(ctx context.Context, q Query, vec []float32, r *Result) error {
	window := max(r.TopK, hybridWindow)
	for _, t := range r.Targets {
		dense, err := e.searchVectors(ctx, [][]float32{slices.Clone(vec)}, t, window, nil, q.Filter)
		if err != nil {
			return err
		}
		kw, err := e.keywords(ctx, e.snapshot().gen)
		if err != nil {
			return err
		}
		var keep func(int64) bool
		if !q.Filter.IsZero() {
			keep = func(id int64) bool { return kw.selects(t, id, q.Filter) }
		}
		byVector := make([]int64, len(dense[0]))
		for i, h := range dense[0] {
			byVector[i] = h.ID
		}
		var byWords []int64
		for _, h := range kw.index[t].Search(q.Text, window, keep) {
			byWords = append(byWords, h.ID)
		}
		fused := lexical.Fuse(byVector, byWords)
		// A few more than asked for, in case some were deleted since.
		fused = fused[:min(len(fused), r.TopK+8)]
		ids := make([]int64, len(fused))
		scores := make([]float32, len(fused))
		for i, f := range fused {
			ids[i], scores[i] = f.ID, float32(f.Score)
		}
		hits, err := e.ranked(ctx, t, ids, scores)
		if err != nil {
			return err
		}
		r.Hits[t] = hits[:min(len(hits), r.TopK)]
	}
	return nil
}
