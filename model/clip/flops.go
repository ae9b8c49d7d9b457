package clip

// ImageFLOPs is the number of floating-point operations (a multiply-add
// counts two) that encoding one image takes: the matrix products and the
// attention, which are all but a fraction of a percent of the work.
func (c Config) ImageFLOPs() float64 {
	v := c.Vision
	grid := v.ImageSize / v.PatchSize
	patches := float64(grid * grid)
	w := float64(v.HiddenSize)
	patchEmbed := 2 * patches * float64(v.NumChannels*v.PatchSize*v.PatchSize) * w
	return patchEmbed + float64(v.NumHiddenLayers)*layerFLOPs(patches+1, w, float64(v.IntermediateSize), false) +
		2*w*float64(c.ProjectionDim)
}

// TextFLOPs is the number of floating-point operations that encoding one
// text of the given number of tokens takes.
func (c Config) TextFLOPs(tokens int) float64 {
	t := c.Text
	w := float64(t.HiddenSize)
	return float64(t.NumHiddenLayers)*layerFLOPs(float64(tokens), w, float64(t.IntermediateSize), true) +
		2*w*float64(c.ProjectionDim)
}

// layerFLOPs counts one transformer block over n tokens of width w with an
// MLP of width m; causal attention does about half the score work.
func layerFLOPs(n, w, m float64, causal bool) float64 {
	qkv := 2 * n * w * 3 * w
	attn := 2 * 2 * n * n * w // QKᵀ and P·V
	if causal {
		attn /= 2
	}
	out := 2 * n * w * w
	mlp := 2 * 2 * n * w * m
	return qkv + attn + out + mlp
}
