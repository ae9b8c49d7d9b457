package clip

// ImageFLOPs is the number of floating-point operations (a multiply-add
// counts two) that encoding one image takes here: the matrix products and
// the attention, which are all but a fraction of a percent of the work.
// It counts what the encoder computes, which is less than the usual figure
// (8.8 GFLOP for ViT-B/32) because the last block's output projection and
// MLP run on the pooled token only. It counts a ViT image tower; a model's
// ImageFLOPs counts whichever tower it has.
func (c Config) ImageFLOPs() float64 {
	v := c.Vision
	grid := v.ImageSize / v.PatchSize
	patches := float64(grid * grid)
	w := float64(v.HiddenSize)
	patchEmbed := 2 * patches * float64(v.NumChannels*v.PatchSize*v.PatchSize) * w
	return patchEmbed + encoderFLOPs(v.NumHiddenLayers, patches+1, w, float64(v.IntermediateSize), false) +
		2*w*float64(c.ProjectionDim)
}

// TextFLOPs is the number of floating-point operations that encoding one
// text of the given number of tokens takes, counted as ImageFLOPs is.
func (c Config) TextFLOPs(tokens int) float64 {
	t := c.Text
	w := float64(t.HiddenSize)
	return encoderFLOPs(t.NumHiddenLayers, float64(tokens), w, float64(t.IntermediateSize), true) +
		2*w*float64(c.ProjectionDim)
}

// encoderFLOPs counts layers transformer blocks over n tokens of width w
// with an MLP of width m, the last one pooled (see encoder.forward); causal
// attention does about half the score work.
func encoderFLOPs(layers int, n, w, m float64, causal bool) float64 {
	if layers == 0 {
		return 0
	}
	qkv := 2 * n * w * 3 * w
	attn := 2 * 2 * n * n * w // QKᵀ and P·V
	if causal {
		attn /= 2
	}
	outMLP := 2*w*w + 2*2*w*m // per token
	return float64(layers)*(qkv+attn) + (float64(layers-1)*n+1)*outMLP
}

// ImageFLOPs is the floating-point work of one image through the model's
// image tower, counted as Config.ImageFLOPs does.
func (m *Model) ImageFLOPs() float64 { return m.vision.flops() }

func (v *visionTower) flops() float64 {
	return Config{Vision: v.cfg, ProjectionDim: v.proj.Out}.ImageFLOPs()
}
