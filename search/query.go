package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xmodal/xmodal/dataset"
	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/workspace"
)

// Defaults of Limits.
const (
	DefaultTopK         = 10
	DefaultMaxTopK      = 1000
	DefaultMaxTextBytes = dataset.MaxCaptionBytes // what a caption may hold, a query may

	// MaxSteerTexts bounds the texts one query adds and subtracts: each
	// is a pass of the text model.
	MaxSteerTexts = 16
)

// Limits bound the queries an engine takes. Zero fields take the
// defaults. Set them before the engine is used.
type Limits struct {
	DefaultTopK  int // the hits per target of a query that says none (default 10)
	MaxTopK      int // the most hits per target (default 1000)
	MaxTextBytes int // the longest text query (default 4096; CLIP reads only 77 tokens)
}

// Effective returns the limits with the defaults filled in.
func (l Limits) Effective() Limits {
	l.MaxTopK = cmpOr(l.MaxTopK, DefaultMaxTopK)
	l.DefaultTopK = min(cmpOr(l.DefaultTopK, DefaultTopK), l.MaxTopK)
	l.MaxTextBytes = cmpOr(l.MaxTextBytes, DefaultMaxTextBytes)
	return l
}

func (l Limits) maxTopK() int      { return l.Effective().MaxTopK }
func (l Limits) maxTextBytes() int { return l.Effective().MaxTextBytes }

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Query is one search. Exactly one of Text, Image, ImageID and CaptionID
// says what to look for.
type Query struct {
	Text      string // a description
	Image     []byte // an encoded image: JPEG, PNG, GIF, WebP or BMP
	ImageID   int64  // an indexed image: "more like this"
	CaptionID int64  // an indexed caption

	// Targets are the kinds of documents to find. Empty means the natural
	// counterpart: images for a text or an id, captions for an image.
	Targets []workspace.Kind
	// TopK is the number of hits per target; 0 means Limits.DefaultTopK.
	TopK int
	// Offset skips the best Offset hits, for the next page of results;
	// ranks still count from the best. Offset + TopK is bounded by
	// Limits.MaxTopK.
	Offset int
	// Filter keeps only documents of some images: a split, a folder.
	Filter workspace.Filter
	// Add and Subtract steer the query by texts: their vectors are added
	// to and taken from the query's own (each at unit length) before it
	// is searched: an image of a beach, minus "people"; "a dog", plus
	// "in the snow". Any kind of query may be steered.
	Add, Subtract []string
	// Hybrid, for a text query, also finds documents by the words of their
	// captions and image keys, and fuses the two rankings: a model that
	// missed a plain word ("a dog") still finds the images captioned with
	// it. Scores are then fused ranks, not cosine similarities.
	Hybrid bool
}

// Kind names what a query looks for: "text", "image", "image_id" or
// "caption_id" ("" if it is not exactly one).
func (q Query) Kind() string {
	var kinds []string
	if q.Text != "" {
		kinds = append(kinds, "text")
	}
	if q.Image != nil {
		kinds = append(kinds, "image")
	}
	if q.ImageID != 0 {
		kinds = append(kinds, "image_id")
	}
	if q.CaptionID != 0 {
		kinds = append(kinds, "caption_id")
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// Result is a query's answer: hits per target kind, best first, and the
// query's settings as applied.
type Result struct {
	Targets []workspace.Kind
	TopK    int
	Offset  int
	Hits    map[workspace.Kind][]Hit
}

// page returns the hits of the result's page: those after the first
// Offset, TopK at most.
func (r *Result) page(hits []Hit) []Hit {
	return hits[min(r.Offset, len(hits)):min(len(hits), r.Offset+r.TopK)]
}

// ErrNotFound marks a query by id whose document does not exist.
var ErrNotFound = errors.New("not found")

// QueryError is the error of one query of a batch; Index counts from 0.
type QueryError struct {
	Index int
	Err   error
}

// Error numbers the query from 1, as people count.
func (e *QueryError) Error() string { return fmt.Sprintf("query %d: %v", e.Index+1, e.Err) }

// Unwrap returns the query's own error.
func (e *QueryError) Unwrap() error { return e.Err }

// Search answers one query.
func (e *Engine) Search(ctx context.Context, q Query) (*Result, error) {
	res, err := e.SearchAll(ctx, []Query{q})
	if err != nil {
		var qe *QueryError
		if errors.As(err, &qe) {
			return nil, qe.Err
		}
		return nil, err
	}
	return res[0], nil
}

// SearchAll answers a batch of queries, in order: the texts are encoded
// in one call to the model, the images one at a time (so that a bad one
// is named). An error in what a query asks is an ErrBadQuery (or an
// ErrNotFound), wrapped in a *QueryError that says which.
func (e *Engine) SearchAll(ctx context.Context, qs []Query) ([]*Result, error) {
	results := make([]*Result, len(qs))
	// Every text of the batch, steering ones too, goes to the model at
	// once; sign says what each is to its query: 0 the query itself, +1
	// added, -1 subtracted.
	var texts []string
	type use struct {
		query int
		sign  float32
	}
	var uses []use
	for i, q := range qs {
		r, err := e.plan(q)
		if err != nil {
			return nil, &QueryError{i, err}
		}
		results[i] = r
		if q.Text != "" {
			texts, uses = append(texts, q.Text), append(uses, use{i, 0})
		}
		for _, t := range q.Add {
			texts, uses = append(texts, t), append(uses, use{i, 1})
		}
		for _, t := range q.Subtract {
			texts, uses = append(texts, t), append(uses, use{i, -1})
		}
	}
	vecs := make([][]float32, len(qs))
	steer := make([][]float32, len(qs))
	if len(texts) > 0 {
		tv, err := e.enc.EncodeTexts(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("encode texts: %w", err)
		}
		for j, u := range uses {
			if u.sign == 0 {
				vecs[u.query] = tv[j]
				continue
			}
			if steer[u.query] == nil {
				steer[u.query] = make([]float32, len(tv[j]))
			}
			nn.Normalize(tv[j])
			nn.Axpy(steer[u.query], tv[j], u.sign)
		}
	}
	for i, q := range qs {
		if err := e.answer(ctx, q, vecs[i], steer[i], results[i]); err != nil {
			return nil, &QueryError{i, err}
		}
	}
	return results, nil
}

// plan checks a query against the limits and settles its targets and
// top-k.
func (e *Engine) plan(q Query) (*Result, error) {
	kind := q.Kind()
	if kind == "" {
		return nil, fmt.Errorf("%w: give exactly one of a text, an image, an image id and a caption id", ErrBadQuery)
	}
	if kind == "text" {
		if err := e.checkText(q.Text); err != nil {
			return nil, err
		}
	}
	if n := len(q.Add) + len(q.Subtract); n > MaxSteerTexts {
		return nil, fmt.Errorf("%w: %d texts to add and subtract, above the limit of %d", ErrBadQuery, n, MaxSteerTexts)
	}
	for _, t := range slices.Concat(q.Add, q.Subtract) {
		if err := e.checkText(t); err != nil {
			return nil, fmt.Errorf("a text to add or subtract: %w", err)
		}
	}
	if q.Hybrid && kind != "text" {
		return nil, fmt.Errorf("%w: hybrid search takes a text query (it matches words)", ErrBadQuery)
	}
	if kind == "image" && len(q.Image) == 0 {
		return nil, fmt.Errorf("%w: the image is empty", ErrBadQuery)
	}
	if q.ImageID < 0 || q.CaptionID < 0 {
		return nil, fmt.Errorf("%w: a document id is a positive whole number", ErrBadQuery)
	}
	r := &Result{TopK: q.TopK, Offset: q.Offset, Hits: map[workspace.Kind][]Hit{}}
	switch {
	case r.TopK == 0:
		r.TopK = e.Limits.Effective().DefaultTopK
	case r.TopK < 0:
		return nil, fmt.Errorf("%w: top_k must be at least 1, not %d", ErrBadQuery, r.TopK)
	case r.TopK > e.Limits.maxTopK():
		return nil, fmt.Errorf("%w: top_k %d is above the limit of %d", ErrBadQuery, r.TopK, e.Limits.maxTopK())
	}
	switch {
	case q.Offset < 0:
		return nil, fmt.Errorf("%w: offset must be 0 or more, not %d", ErrBadQuery, q.Offset)
	case q.Offset+r.TopK > e.Limits.maxTopK():
		return nil, fmt.Errorf("%w: offset %d and top_k %d reach past the limit of %d results", ErrBadQuery, q.Offset, r.TopK, e.Limits.maxTopK())
	}
	for _, t := range q.Targets {
		if t != workspace.Images && t != workspace.Captions {
			return nil, fmt.Errorf("%w: target %q: want %s or %s", ErrBadQuery, t, workspace.Images, workspace.Captions)
		}
		if !slices.Contains(r.Targets, t) {
			r.Targets = append(r.Targets, t)
		}
	}
	if len(r.Targets) == 0 {
		r.Targets = []workspace.Kind{workspace.Images}
		if kind == "image" {
			r.Targets = []workspace.Kind{workspace.Captions}
		}
	}
	return r, nil
}

// checkText refuses empty, oversized and non-UTF-8 texts.
func (e *Engine) checkText(text string) error {
	switch {
	case strings.TrimSpace(text) == "":
		return fmt.Errorf("%w: the text is empty", ErrBadQuery)
	case len(text) > e.Limits.maxTextBytes():
		return fmt.Errorf("%w: the text is %d bytes long, above the limit of %d (the model reads only its first words)", ErrBadQuery, len(text), e.Limits.maxTextBytes())
	case !utf8.ValidString(text):
		return fmt.Errorf("%w: the text is not valid UTF-8", ErrBadQuery)
	}
	return nil
}

// answer finds a planned query's hits; vec is its text's vector, if any,
// and steer the sum of the vectors to add and subtract, if any.
func (e *Engine) answer(ctx context.Context, q Query, vec, steer []float32, r *Result) error {
	if q.Hybrid {
		return e.answerHybrid(ctx, q, steered(vec, steer), r)
	}
	var exclude func(workspace.Kind, int64) bool
	switch {
	case q.Image != nil:
		pixels, err := imageio.PreprocessBytes(q.Image, e.enc.ImageOptions())
		if err != nil {
			return fmt.Errorf("%w: %s", ErrBadQuery, imageio.Reason(err))
		}
		vecs, err := e.enc.EncodePixels(ctx, [][]float32{pixels})
		if err != nil {
			return fmt.Errorf("encode image: %w", err)
		}
		vec = vecs[0]
	case q.ImageID != 0 || q.CaptionID != 0:
		kind, id := workspace.Images, q.ImageID
		if q.CaptionID != 0 {
			kind, id = workspace.Captions, q.CaptionID
		}
		stored, err := e.storedVector(ctx, kind, id)
		if err != nil {
			return err
		}
		// "More like this" leaves the document itself out.
		vec, exclude = stored, func(k workspace.Kind, rid int64) bool { return k == kind && rid == id }
	}
	vec = steered(vec, steer)
	for _, t := range r.Targets {
		// SearchVectors normalises the vector in place: harmless to repeat,
		// but a stored row must not be written, so it gets a copy.
		hits, err := e.searchVectors(ctx, [][]float32{slices.Clone(vec)}, t, r.Offset+r.TopK, exclude, q.Filter)
		if err != nil {
			return err
		}
		r.Hits[t] = r.page(hits[0])
	}
	return nil
}

// storedVector returns the indexed vector of a document.
func (e *Engine) storedVector(ctx context.Context, kind workspace.Kind, id int64) ([]float32, error) {
	if err := e.maybeRefresh(ctx); err != nil {
		return nil, err
	}
	s := e.snapshot()
	if s.inDB {
		v, err := e.ws.Vector(ctx, kind, id)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: no %s with id %d", ErrNotFound, kind, id)
		}
		return v, err
	}
	for row, rid := range s.ids[kind] {
		if rid == id {
			return slices.Clone(s.indexes[kind].Row(row)), nil
		}
	}
	return nil, fmt.Errorf("%w: no %s with id %d", ErrNotFound, kind, id)
}

// steered returns vec at unit length plus steer, or vec itself if there
// is nothing to steer by. vec is not written: it may be a stored row.
func steered(vec, steer []float32) []float32 {
	if steer == nil {
		return vec
	}
	out := slices.Clone(vec)
	nn.Normalize(out)
	nn.Axpy(out, steer, 1)
	return out
}
