package search

import (
	"context"
	"time"

	"github.com/xmodal/xmodal/index"
	"github.com/xmodal/xmodal/workspace"
)

// A workspace whose vectors pgvector searches (workspace.SearchesInDatabase)
// is searched in SQL: the engine loads no vectors and keeps no row map, so
// that any number of stateless replicas serve one database.

// searchDB is searchIDs for a workspace searched in the database.
func (e *Engine) searchDB(ctx context.Context, queries [][]float32, target workspace.Kind, k int, exclude func(workspace.Kind, int64) bool, filter workspace.Filter) ([][]workspace.Match, error) {
	out := make([][]workspace.Match, len(queries))
	for q, vec := range queries {
		// exclude drops the query's own document at most: ask for one
		// more, and more again in the rare case that is not enough.
		var kept []workspace.Match
		for n := k + 1; ; n *= 2 {
			found, err := e.ws.Nearest(ctx, target, vec, n, filter, e.cfg.Exact)
			if err != nil {
				return nil, err
			}
			kept = kept[:0]
			for _, m := range found {
				if exclude == nil || !exclude(target, m.ID) {
					kept = append(kept, m)
				}
			}
			if len(kept) >= k || len(found) < n {
				break
			}
		}
		out[q] = kept[:min(k, len(kept))]
	}
	return out, nil
}

// measureDB is MeasureGraphs's measure for a workspace searched in the
// database: its HNSW index against its exact scan.
func (e *Engine) measureDB(ctx context.Context, name string, queries [][]float32, target workspace.Kind, k int, self bool) (GraphMeasure, error) {
	search := func(exact bool) ([][]index.Hit, time.Duration, error) {
		t0 := time.Now()
		out := make([][]index.Hit, len(queries))
		for i, q := range queries {
			found, err := e.ws.Nearest(ctx, target, q, k, workspace.Filter{}, exact)
			if err != nil {
				return nil, 0, err
			}
			for _, m := range found {
				out[i] = append(out[i], index.Hit{Row: m.Row, Score: m.Score})
			}
		}
		return out, time.Since(t0), nil
	}
	got, tGot, err := search(false)
	if err != nil {
		return GraphMeasure{}, err
	}
	truth, tTruth, err := search(true)
	if err != nil {
		return GraphMeasure{}, err
	}
	n := float64(len(queries))
	images, captions := e.Counts()
	indexed := images
	if target == workspace.Captions {
		indexed = captions
	}
	return GraphMeasure{
		Queries: name, N: len(queries), Effort: workspace.EfSearch(k), Recall: index.Recall(truth, got, k),
		GraphMS: tGot.Seconds() * 1000 / n, ExactMS: tTruth.Seconds() * 1000 / n, Indexed: indexed, SelfMatch: self,
	}, nil
}
