package clip

import (
	"context"
	"fmt"

	"github.com/xmodal/xmodal/nn"
)

// textTower is CLIP's causal text transformer with its projection.
type textTower struct {
	cfg       TextConfig
	tokens    []float32 // vocab×width
	positions []float32 // maxPositions×width
	enc       *encoder
	final     layerNorm
	proj      *nn.Linear // projection×width, no bias
}

func (l *loader) textTower(c TextConfig, projDim int) *textTower {
	w := c.HiddenSize
	t := &textTower{
		cfg:       c,
		tokens:    l.get("text_model.embeddings.token_embedding.weight", c.VocabSize, w),
		positions: l.get("text_model.embeddings.position_embedding.weight", c.MaxPositionEmbeddings, w),
		enc:       l.encoder("text_model", w, c.IntermediateSize, c.NumAttentionHeads, c.NumHiddenLayers, c.HiddenAct, c.LayerNormEps),
		final:     l.layerNorm("text_model.final_layer_norm", w, c.LayerNormEps),
		proj:      l.linear("text_projection", projDim, w, false),
	}
	if l.err != nil {
		return nil
	}
	return t
}

// encode embeds each token sequence, pooling at its first eot, or at its last
// token if it has none. The causal mask makes every token after the pooled
// one irrelevant, so sequences are cut there and run at their own length.
func (t *textTower) encode(ctx context.Context, batch [][]int, eot int) ([][]float32, error) {
	w := t.cfg.HiddenSize
	seqs := make([]int, len(batch))
	rows := 0
	for i, ids := range batch {
		n := len(ids)
		for j, id := range ids {
			if id == eot {
				n = j + 1
				break
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("text %d: no tokens", i)
		}
		if n > t.cfg.MaxPositionEmbeddings {
			return nil, fmt.Errorf("text %d: %d tokens, more than the model's %d positions", i, n, t.cfg.MaxPositionEmbeddings)
		}
		seqs[i] = n
		rows += n
	}
	h := make([]float32, rows*w)
	r := 0
	for i, ids := range batch {
		for p, id := range ids[:seqs[i]] {
			if id < 0 || id >= t.cfg.VocabSize {
				return nil, fmt.Errorf("text %d: token id %d outside the vocabulary of %d", i, id, t.cfg.VocabSize)
			}
			row := h[r*w : (r+1)*w]
			tok, pos := t.tokens[id*w:(id+1)*w], t.positions[p*w:(p+1)*w]
			for k := range row {
				row[k] = tok[k] + pos[k]
			}
			r++
		}
	}
	// Each text is pooled at its last token (its first eot).
	last := make([]int, len(seqs))
	r = 0
	for i, n := range seqs {
		r += n
		last[i] = r - 1
	}
	pooled, err := t.enc.forward(ctx, h, seqs, true, last)
	if err != nil {
		return nil, err
	}
	return project(pooled, len(batch), t.final, t.proj), nil
}

func (t *textTower) params() int {
	w := t.cfg.HiddenSize
	return len(t.tokens) + len(t.positions) + t.enc.params() + 2*w + t.proj.Out*w
}
