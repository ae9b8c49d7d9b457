package vsepp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Arches are the published architectures Random builds: the official
// structure at full size (224 px, embed 1024, word_dim 300, a 10k
// vocabulary), for benchmarks.
var Arches = []string{"vsepp-resnet152", "vsepp-vgg19"}

// Random returns a model of a published architecture with seeded random
// weights (He initialisation; batch norms at rest).
func Random(arch string, seed uint64) (*Model, error) {
	const embed, wordDim, vocabSize = 1024, 300, 10000
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := &weights{}
	randn := func(name string, shape []int, fanIn int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		std := math.Sqrt(2 / float64(fanIn))
		for i := range v {
			v[i] = float32(rng.NormFloat64() * std)
		}
		w.add(name, shape, v)
	}
	fill := func(name string, n int, value float32) {
		v := make([]float32, n)
		for i := range v {
			v[i] = value
		}
		w.add(name, []int{n}, v)
	}
	bn := func(name string, n int) {
		fill(name+".weight", n, 1)
		fill(name+".bias", n, 0)
		fill(name+".running_mean", n, 0)
		fill(name+".running_var", n, 1)
	}
	var features int
	switch arch {
	case "vsepp-resnet152":
		p := "img.cnn.module."
		randn(p+"conv1.weight", []int{64, 3, 7, 7}, 3*49)
		bn(p+"bn1", 64)
		in := 64
		for l, blocks := range []int{3, 8, 36, 3} {
			planes := 64 << l
			for b := range blocks {
				q := fmt.Sprintf("%slayer%d.%d.", p, l+1, b)
				randn(q+"conv1.weight", []int{planes, in, 1, 1}, in)
				bn(q+"bn1", planes)
				randn(q+"conv2.weight", []int{planes, planes, 3, 3}, planes*9)
				bn(q+"bn2", planes)
				randn(q+"conv3.weight", []int{4 * planes, planes, 1, 1}, planes)
				bn(q+"bn3", 4*planes)
				if b == 0 {
					randn(q+"downsample.0.weight", []int{4 * planes, in, 1, 1}, in)
					bn(q+"downsample.1", 4*planes)
				}
				in = 4 * planes
			}
		}
		features = in
	case "vsepp-vgg19":
		p := "img.cnn.features.module."
		in, i := 3, 0
		for _, stage := range [][2]int{{64, 2}, {128, 2}, {256, 4}, {512, 4}, {512, 4}} {
			for range stage[1] {
				randn(p+strconv.Itoa(i)+".weight", []int{stage[0], in, 3, 3}, in*9)
				fill(p+strconv.Itoa(i)+".bias", stage[0], 0)
				in, i = stage[0], i+2 // the conv, then its ReLU
			}
			i++ // the stage's max-pool
		}
		randn("img.cnn.classifier.0.weight", []int{4096, 512 * 49}, 512*49)
		fill("img.cnn.classifier.0.bias", 4096, 0)
		randn("img.cnn.classifier.3.weight", []int{4096, 4096}, 4096)
		fill("img.cnn.classifier.3.bias", 4096, 0)
		features = 4096
	default:
		return nil, fmt.Errorf("unknown VSE++ architecture %q (want %v)", arch, Arches)
	}
	randn("img.fc.weight", []int{embed, features}, features)
	fill("img.fc.bias", embed, 0)
	randn("txt.embed.weight", []int{vocabSize, wordDim}, wordDim)
	randn("txt.rnn.weight_ih_l0", []int{3 * embed, wordDim}, wordDim)
	randn("txt.rnn.weight_hh_l0", []int{3 * embed, embed}, embed)
	fill("txt.rnn.bias_ih_l0", 3*embed, 0)
	fill("txt.rnn.bias_hh_l0", 3*embed, 0)

	v := &Vocab{words: map[string]int{"<pad>": Pad, "<start>": Start, "<end>": End, "<unk>": Unk}, size: vocabSize}
	for i := 4; i < vocabSize; i++ {
		v.words["w"+strconv.Itoa(i)] = i
	}
	m, err := build(Config{DataName: "random", Measure: "cosine"}, w, v)
	if m != nil {
		m.weights = nil // the layers hold what they need
	}
	return m, err
}

// ImageFLOPs is the floating-point work of one image through the image
// tower at the preprocessing's crop size (multiply-adds count two).
func (m *Model) ImageFLOPs() float64 {
	f := 2 * float64(m.fc.In*m.fc.Out)
	if m.cnn != nil {
		s := m.Preprocess.CropSize
		f += m.cnn.FLOPs(s, s)
	}
	return f
}

// CaptionFLOPs is the work of one caption of n tokens.
func (m *Model) CaptionFLOPs(n int) float64 {
	h, d := float64(m.Config.EmbedSize), float64(m.Config.WordDim)
	return float64(n) * 2 * 3 * h * (d + h)
}
