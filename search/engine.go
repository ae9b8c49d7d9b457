// Package search is xmodal's engine: it encodes queries, looks them up in a
// workspace's vector indexes and returns documents. The CLI and the server
// are thin shells over it.
package search

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/xmodal/xmodal/index"
	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/workspace"
)

// Engine answers queries over one workspace. It picks up documents that
// another process adds to the workspace while it runs. Safe for concurrent
// use.
type Engine struct {
	enc model.Encoder
	ws  *workspace.Workspace
	// owned is closed by Close: what Open opened.
	owned []io.Closer

	// RefreshInterval bounds how often the engine asks the workspace
	// whether it changed; 0 checks before every query.
	RefreshInterval time.Duration
	// Limits bound the queries Search takes.
	Limits Limits

	writer chan struct{} // one slot: this engine's writes take turns
	cfg    Config
	maps   *mappings // vector files mapped for graph indexes

	kw keywordCache // for hybrid searches, built on the first

	mu        sync.Mutex // serialises refreshes
	state     *snapshot  // the indexes as of the last refresh; replaced, never mutated
	stateMu   sync.RWMutex
	lastCheck time.Time
}

// snapshot is the engine's view of the workspace at one generation.
type snapshot struct {
	gen     int64
	inDB    bool // searched in the database: no indexes, no ids
	indexes map[workspace.Kind]vectorIndex
	ids     map[workspace.Kind][]int64 // row → live document id, 0 if dead
	live    map[workspace.Kind]int
}

// Config adjusts an engine.
type Config struct {
	// Exact makes every search scan all vectors, even where the workspace
	// has a graph index (see GraphThreshold).
	Exact bool
	// Logf, if not nil, reports slow work, such as inserting many vectors
	// into a graph index at start.
	Logf func(format string, args ...any)
}

// New opens an engine over ws, loading its vectors.
func New(ctx context.Context, enc model.Encoder, ws *workspace.Workspace) (*Engine, error) {
	return NewWithConfig(ctx, enc, ws, Config{})
}

// NewWithConfig is New with adjustments.
func NewWithConfig(ctx context.Context, enc model.Encoder, ws *workspace.Workspace, cfg Config) (*Engine, error) {
	if d := ws.Manifest().Model.Dim; d != enc.Dim() {
		return nil, fmt.Errorf("workspace %s holds %d-dimensional vectors, the model makes %d", ws.Location(), d, enc.Dim())
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	e := &Engine{enc: enc, ws: ws, RefreshInterval: time.Second, writer: make(chan struct{}, 1), cfg: cfg, maps: &mappings{}}
	if err := e.Refresh(ctx); err != nil {
		e.maps.Close()
		return nil, err
	}
	return e, nil
}

// Workspace is the engine's workspace.
func (e *Engine) Workspace() *workspace.Workspace { return e.ws }

// Encoder is the engine's encoder.
func (e *Engine) Encoder() model.Encoder { return e.enc }

// OpenOptions say how Open loads the model.
type OpenOptions struct {
	// Model names the model (a folder, a pulled name, "default"); "" means
	// the one the workspace was built with.
	Model string
	// Load adjusts the model. Its NoEXIF is ignored: query images are
	// preprocessed as the workspace's images were.
	Load model.Options
	// Wrap, if set, wraps the encoder the engine uses (the server counts
	// and admits model calls this way).
	Wrap func(model.Encoder) model.Encoder
	// Engine adjusts the engine.
	Engine Config
}

// Open opens the workspace in dir for searching, with its model. A model
// other than the workspace's is refused. Close releases both.
func Open(ctx context.Context, dir string, o OpenOptions) (*Engine, error) {
	ws, err := workspace.Open(dir)
	if err != nil {
		return nil, err
	}
	name := o.Model
	if name == "" {
		name = ws.Manifest().Model.Name
	}
	o.Load.NoEXIF = ws.Manifest().Model.NoEXIF
	enc, err := model.Load(name, o.Load)
	if err != nil {
		ws.Close()
		return nil, err
	}
	ident, err := Identity(enc)
	if err == nil {
		err = ws.CheckModel(ident)
	}
	var e *Engine
	if err == nil {
		used := enc
		if o.Wrap != nil {
			used = o.Wrap(enc)
		}
		e, err = NewWithConfig(ctx, used, ws, o.Engine)
	}
	if err != nil {
		enc.Close()
		ws.Close()
		return nil, err
	}
	e.owned = []io.Closer{enc, ws}
	return e, nil
}

// Close releases what Open opened (an engine made with New owns only its
// mapped vector files). Searches must have returned.
func (e *Engine) Close() error {
	errs := []error{e.maps.Close()}
	for _, c := range e.owned {
		errs = append(errs, c.Close())
	}
	e.owned = nil
	return errors.Join(errs...)
}

// Identity describes an encoder as a workspace records it.
func Identity(enc model.Encoder) (workspace.Model, error) {
	id, err := enc.ID()
	if err != nil {
		return workspace.Model{}, fmt.Errorf("model %s: %w", enc.Name(), err)
	}
	return workspace.Model{ID: id, Name: enc.Name(), Family: enc.Family(), Dim: enc.Dim(), NoEXIF: enc.ImageOptions().NoEXIF}, nil
}

func (e *Engine) snapshot() *snapshot {
	e.stateMu.RLock()
	defer e.stateMu.RUnlock()
	return e.state
}

// Refresh loads whatever the workspace gained since the last refresh.
func (e *Engine) Refresh(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastCheck = time.Now()
	gen, err := e.ws.Generation()
	if err != nil {
		return fmt.Errorf("workspace %s: %w", e.ws.Location(), err)
	}
	old := e.snapshot()
	if old != nil && old.gen == gen {
		return nil
	}
	next := &snapshot{gen: gen, indexes: map[workspace.Kind]vectorIndex{}, ids: map[workspace.Kind][]int64{}, live: map[workspace.Kind]int{}}
	if e.ws.SearchesInDatabase() {
		// Only the counts: the searches run in the database.
		images, captions, err := e.ws.Counts(ctx)
		if err != nil {
			return err
		}
		next.inDB, next.live[workspace.Images], next.live[workspace.Captions] = true, images, captions
		e.stateMu.Lock()
		e.state = next
		e.stateMu.Unlock()
		return nil
	}
	for _, k := range []workspace.Kind{workspace.Images, workspace.Captions} {
		ids, err := e.ws.RowIDs(ctx, k)
		if err != nil {
			return err
		}
		var prev vectorIndex
		if old != nil {
			prev = old.indexes[k]
			if prev.Len() > len(ids) {
				return fmt.Errorf("workspace %s: %s rows went from %d to %d", e.ws.Location(), k, prev.Len(), len(ids))
			}
		}
		var idx vectorIndex
		if !e.cfg.Exact && wantGraph(e.ws, k, len(ids)) {
			prevANN, _ := prev.(*annIndex)
			idx, err = openGraph(ctx, e.ws, k, len(ids), prevANN, e.maps, e.cfg.Logf)
		} else {
			prevFlat, _ := prev.(*index.Flat)
			idx, err = e.growFlat(k, prevFlat, len(ids))
		}
		if err != nil {
			return err
		}
		next.indexes[k], next.ids[k] = idx, ids
		for _, id := range ids {
			if id != 0 {
				next.live[k]++
			}
		}
	}
	e.stateMu.Lock()
	e.state = next
	e.stateMu.Unlock()
	return nil
}

// growFlat returns an exact index of a kind's first rows, reusing the
// rows of prev, which holds the first ones.
func (e *Engine) growFlat(k workspace.Kind, prev *index.Flat, rows int) (*index.Flat, error) {
	have := 0
	if prev != nil {
		have = prev.Len()
		if have == rows {
			return prev, nil
		}
	}
	// Rows are append-only: keep the loaded ones and read the rest.
	more, err := e.ws.ReadVectors(k, have, rows)
	if err != nil {
		return nil, err
	}
	grown := index.NewFlat(e.enc.Dim())
	if have > 0 {
		if err := grown.AddRows(prev.Rows()); err != nil {
			return nil, err
		}
	}
	if err := grown.AddRows(more); err != nil {
		return nil, err
	}
	return grown, nil
}

func (e *Engine) maybeRefresh(ctx context.Context) error {
	e.mu.Lock()
	due := time.Since(e.lastCheck) >= e.RefreshInterval
	e.mu.Unlock()
	if !due {
		return nil
	}
	return e.Refresh(ctx)
}

// Counts reports how many live images and captions the engine searches.
func (e *Engine) Counts() (images, captions int) {
	s := e.snapshot()
	return s.live[workspace.Images], s.live[workspace.Captions]
}

// Hit is one search result.
type Hit struct {
	Rank  int            `json:"rank"`
	Score float32        `json:"score"`
	Type  workspace.Kind `json:"type"`
	ID    int64          `json:"id"`
	// For an image: its key, path and captions.
	Key      string   `json:"key,omitempty"`
	Path     string   `json:"path,omitempty"`
	Captions []string `json:"captions,omitempty"`
	// For a caption: its text and its image.
	Text  string     `json:"text,omitempty"`
	Image *ImageInfo `json:"image,omitempty"`
	// For a hybrid search: where each half ranked it.
	Hybrid *HybridRanks `json:"hybrid,omitempty"`
}

// HybridRanks are a hybrid hit's ranks by the model's vectors and by
// words, from 1; 0 where that half did not rank it among its first 100.
type HybridRanks struct {
	Vector int `json:"vector_rank"`
	Words  int `json:"word_rank"`
}

// ImageInfo names a caption's image.
type ImageInfo struct {
	ID   int64  `json:"id"`
	Key  string `json:"key"`
	Path string `json:"path"`
}

// ErrBadQuery marks errors in what was asked, as opposed to failures of the
// engine; servers answer them with a 4xx status.
var ErrBadQuery = errors.New("bad query")

// SearchVectors finds the k best documents of the target kind for each
// query vector; exclude, if not nil, drops documents from the results.
func (e *Engine) SearchVectors(ctx context.Context, queries [][]float32, target workspace.Kind, k int, exclude func(workspace.Kind, int64) bool) ([][]Hit, error) {
	return e.searchVectors(ctx, queries, target, k, exclude, workspace.Filter{})
}

// searchVectors is SearchVectors among the documents filter selects.
func (e *Engine) searchVectors(ctx context.Context, queries [][]float32, target workspace.Kind, k int, exclude func(workspace.Kind, int64) bool, filter workspace.Filter) ([][]Hit, error) {
	found, err := e.searchIDs(ctx, queries, target, k, exclude, filter)
	if err != nil {
		return nil, err
	}
	out := make([][]Hit, len(found))
	for q, matches := range found {
		docIDs := make([]int64, len(matches))
		scores := make([]float32, len(matches))
		for i, m := range matches {
			docIDs[i], scores[i] = m.ID, m.Score
		}
		if out[q], err = e.ranked(ctx, target, docIDs, scores); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// searchIDs is searchVectors without describing what it found: ids and
// scores, best first.
func (e *Engine) searchIDs(ctx context.Context, queries [][]float32, target workspace.Kind, k int, exclude func(workspace.Kind, int64) bool, filter workspace.Filter) ([][]workspace.Match, error) {
	if target != workspace.Images && target != workspace.Captions {
		return nil, fmt.Errorf("%w: target %q (want image or caption)", ErrBadQuery, target)
	}
	if k < 1 {
		return nil, fmt.Errorf("%w: top_k %d must be at least 1", ErrBadQuery, k)
	}
	if err := e.maybeRefresh(ctx); err != nil {
		return nil, err
	}
	for _, q := range queries {
		nn.Normalize(q)
	}
	s := e.snapshot()
	if s.inDB {
		return e.searchDB(ctx, queries, target, k, exclude, filter)
	}
	ids := s.ids[target]
	keep := func(row int) bool {
		id := ids[row]
		return id != 0 && (exclude == nil || !exclude(target, id))
	}
	var rows [][]index.Hit
	var err error
	if filter.IsZero() {
		rows, err = s.indexes[target].Search(queries, k, keep)
	} else {
		rows, err = e.searchFiltered(ctx, s, queries, target, k, keep, filter)
	}
	if err != nil {
		return nil, err
	}
	out := make([][]workspace.Match, len(rows))
	for q, hits := range rows {
		out[q] = make([]workspace.Match, len(hits))
		for i, h := range hits {
			out[q][i] = workspace.Match{ID: ids[h.Row], Row: h.Row, Score: h.Score}
		}
	}
	return out, nil
}

// ranked describes the documents found, best first, and ranks them. A
// document deleted by another process since the last refresh is passed
// over.
func (e *Engine) ranked(ctx context.Context, target workspace.Kind, ids []int64, scores []float32) ([]Hit, error) {
	described, err := e.describe(ctx, target, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Hit, 0, len(ids))
	for i, hit := range described {
		if hit.ID != 0 {
			hit.Rank, hit.Score = len(out)+1, scores[i]
			out = append(out, hit)
		}
	}
	return out, nil
}

// describe looks up the documents of a list of hits, in two queries
// whatever their number. A document that no longer exists gives a Hit with
// ID 0.
func (e *Engine) describe(ctx context.Context, kind workspace.Kind, ids []int64) ([]Hit, error) {
	out := make([]Hit, len(ids))
	if kind == workspace.Images {
		imgs, err := e.ws.ImagesByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for i, id := range ids {
			im, ok := imgs[id]
			if !ok {
				continue
			}
			out[i] = Hit{Type: kind, ID: id, Key: im.Key, Path: im.Path, Captions: []string{}}
			for _, c := range im.Captions {
				out[i].Captions = append(out[i].Captions, c.Text)
			}
		}
		return out, nil
	}
	caps, err := e.ws.CaptionsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	imageIDs := make([]int64, 0, len(caps))
	for _, c := range caps {
		imageIDs = append(imageIDs, c.ImageID)
	}
	imgs, err := e.ws.ImagesByID(ctx, imageIDs)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		c, ok := caps[id]
		if !ok {
			continue
		}
		im, ok := imgs[c.ImageID]
		if !ok {
			continue
		}
		out[i] = Hit{Type: kind, ID: id, Text: c.Text, Image: &ImageInfo{ID: im.ID, Key: im.Key, Path: im.Path}}
	}
	return out, nil
}
