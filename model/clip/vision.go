package clip

import (
	"context"
	"fmt"
	"sync"

	"github.com/xmodal/xmodal/nn"
)

// visionTower is CLIP's vision transformer with its projection.
type visionTower struct {
	cfg       VisionConfig
	patch     *nn.Linear // the patch convolution as a product: width × (3·p·p)
	class     []float32
	positions []float32 // (1+patches)×width
	pre, post layerNorm
	enc       *encoder
	proj      *nn.Linear
	scratch   sync.Pool // buffers of encode, as encoder.scratch
}

func (l *loader) visionTower(c VisionConfig, projDim int) *visionTower {
	w, p := c.HiddenSize, c.PatchSize
	grid := c.ImageSize / p
	v := &visionTower{
		cfg:       c,
		class:     l.get("vision_model.embeddings.class_embedding", w),
		positions: l.get("vision_model.embeddings.position_embedding.weight", grid*grid+1, w),
		// HF spells it pre_layrnorm.
		pre:  l.layerNorm("vision_model.pre_layrnorm", w, c.LayerNormEps),
		enc:  l.encoder("vision_model", w, c.IntermediateSize, c.NumAttentionHeads, c.NumHiddenLayers, c.HiddenAct, c.LayerNormEps),
		post: l.layerNorm("vision_model.post_layernorm", w, c.LayerNormEps),
		proj: l.linear("visual_projection", projDim, w, false),
	}
	// The convolution's [width, 3, p, p] kernel, flattened per output
	// channel, is exactly a Linear over patches flattened as (c, y, x).
	kernel := l.get("vision_model.embeddings.patch_embedding.weight", w, c.NumChannels, p, p)
	if l.err != nil {
		return nil
	}
	v.patch = nn.NewLinear(kernel, nil, w, c.NumChannels*p*p)
	return v
}

// pixelLen is the number of floats of one preprocessed image, CHW.
func (v *visionTower) pixelLen() int {
	return v.cfg.NumChannels * v.cfg.ImageSize * v.cfg.ImageSize
}

// encode embeds images given as normalised CHW pixels.
func (v *visionTower) encode(ctx context.Context, images [][]float32) ([][]float32, error) {
	c, size, p, w := v.cfg.NumChannels, v.cfg.ImageSize, v.cfg.PatchSize, v.cfg.HiddenSize
	grid := size / p
	patches := grid * grid
	tokens := patches + 1
	n := len(images)
	for i, img := range images {
		if len(img) != v.pixelLen() {
			return nil, fmt.Errorf("image %d: %d pixel values, want %d (%d×%d×%d)", i, len(img), v.pixelLen(), c, size, size)
		}
	}
	// Unfold every image into rows of patch pixels, then embed all patches
	// of the batch with one matrix product.
	k := c * p * p
	buf := getScratch(&v.scratch, n*(patches*k+patches*w+tokens*w))
	defer v.scratch.Put(buf)
	// Every value of the three buffers is written before it is read.
	unfolded := (*buf)[:n*patches*k]
	embedded := (*buf)[n*patches*k : n*patches*(k+w)]
	h := (*buf)[n*patches*(k+w) : n*(patches*(k+w)+tokens*w)]
	nn.ParallelFor(n*grid, 1, func(lo, hi int) {
		for job := lo; job < hi; job++ {
			img, gy := images[job/grid], job%grid
			for gx := 0; gx < grid; gx++ {
				row := unfolded[((job/grid)*patches+gy*grid+gx)*k:][:k]
				for ch := 0; ch < c; ch++ {
					for y := 0; y < p; y++ {
						src := img[ch*size*size+(gy*p+y)*size+gx*p:][:p]
						copy(row[(ch*p+y)*p:], src)
					}
				}
			}
		}
	})
	v.patch.Forward(embedded, unfolded, n*patches, nn.Identity)

	seqs := make([]int, n)
	for i := range n {
		seqs[i] = tokens
		base := h[i*tokens*w:]
		for t := 0; t < tokens; t++ {
			row := base[t*w : (t+1)*w]
			src := v.class
			if t > 0 {
				src = embedded[(i*patches+t-1)*w:][:w]
			}
			pos := v.positions[t*w:][:w]
			for j := range row {
				row[j] = src[j] + pos[j]
			}
		}
	}
	v.pre.apply(h, h, n*tokens)
	// Each image is pooled at its class token, its first.
	cls := make([]int, n)
	for i := range cls {
		cls[i] = i * tokens
	}
	pooled, err := v.enc.forward(ctx, h, seqs, false, cls)
	if err != nil {
		return nil, err
	}
	return project(pooled, n, v.post, v.proj), nil
}

func (v *visionTower) info() TowerInfo {
	c := v.cfg
	grid := c.ImageSize / c.PatchSize
	return TowerInfo{
		Architecture: "vit", Width: c.HiddenSize, Layers: c.NumHiddenLayers, Heads: c.NumAttentionHeads,
		MLP: c.IntermediateSize, Activation: c.HiddenAct, Parameters: v.params(),
		ImageSize: c.ImageSize, PatchSize: c.PatchSize, Tokens: grid*grid + 1,
	}
}

func (v *visionTower) params() int {
	w := v.cfg.HiddenSize
	return len(v.class) + len(v.positions) + v.patch.In*v.patch.Out + 4*w + v.enc.params() + v.proj.Out*w
}

// project normalises the pooled rows with the final LayerNorm and maps them
// into the shared embedding space.
func project(pooled []float32, n int, norm layerNorm, proj *nn.Linear) [][]float32 {
	dim := proj.Out
	norm.apply(pooled, pooled, n)
	out := make([]float32, n*dim)
	proj.Forward(out, pooled, n, nn.Identity)
	res := make([][]float32, n)
	for i := range res {
		res[i] = out[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return res
}
