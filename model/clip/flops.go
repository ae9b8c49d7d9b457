package clip

// ImageFLOPs is the number of floating-point operations (a multiply-add
// counts two) that encoding one image takes here: the matrix products and
// the attention, which are all but a fraction of a percent of the work.
// It counts what the encoder computes, which is less than the usual figure
// (8.8 GFLOP for ViT-B/32) because the last block's output projection and
// MLP run on the pooled token only.
func (c Config) ImageFLOPs() float64 {
	v := c.Vision
	if v.ModelType == ResNetVision {
		return resnetFLOPs(v) + 2*float64(v.HiddenSize*c.ProjectionDim)
	}
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

// resnetFLOPs counts the convolutions of a ResNet tower of basic blocks
// described by its config (torchvision stem, stride 2 from the second stage).
func resnetFLOPs(v VisionConfig) float64 {
	conv := func(h, in, out, k int) float64 { return 2 * float64(h*h*in*out*k*k) }
	h := (v.ImageSize + 1) / 2
	f := conv(h, 3, v.StemWidth, 7)
	h = (h + 1) / 2
	in := v.StemWidth
	for s, w := range v.Widths {
		for b := 0; s < len(v.Layers) && b < v.Layers[s]; b++ {
			if b == 0 && s > 0 {
				h = (h + 1) / 2
			}
			if b == 0 && (s > 0 || in != w) {
				f += conv(h, in, w, 1)
			}
			f += conv(h, in, w, 3) + conv(h, w, w, 3)
			in = w
		}
	}
	return f
}
