// Package cnn runs torchvision's convolutional networks from their state
// dicts: ResNet (basic and bottleneck blocks, any depth and width) and VGG.
// Batch norms are folded into the convolutions at load time; activations
// are channels-last (see package nn). VSE++ uses both as image towers, and
// xmodal's own CLIP variant uses a small ResNet.
package cnn

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/xmodal/xmodal/nn"
)

// convFLOPs is a convolution's work on an h×w input, and its output size.
func convFLOPs(c *nn.Conv2D, h, w int) (float64, int, int) {
	ho, wo := c.OutSize(h, w)
	return 2 * float64(ho*wo*c.Out*c.In*c.KH*c.KW), ho, wo
}

// bnEps is torchvision's BatchNorm2d epsilon.
const bnEps = 1e-5

// Tensors are a state dict's float32 tensors.
type Tensors interface {
	// Tensor returns a tensor's values and shape; ok is false if there is
	// no tensor of that name.
	Tensor(name string) (vals []float32, shape []int, ok bool)
	// Names lists the tensors' names in the state dict's order.
	Names() []string
}

// StateDict reads the tensors under a prefix.
type StateDict struct {
	T      Tensors
	Prefix string
}

// Has tells whether there is a tensor of that name.
func (s StateDict) Has(name string) bool {
	_, _, ok := s.T.Tensor(s.Prefix + name)
	return ok
}

// Get returns a tensor of the given rank.
func (s StateDict) Get(name string, rank int) ([]float32, []int, error) {
	vals, shape, ok := s.T.Tensor(s.Prefix + name)
	if !ok {
		return nil, nil, fmt.Errorf("tensor %s%s is missing", strings.TrimPrefix(s.Prefix, "img."), name)
	}
	if len(shape) != rank {
		return nil, nil, fmt.Errorf("tensor %s%s has shape %v, want rank %d", s.Prefix, name, shape, rank)
	}
	return vals, shape, nil
}

// Conv loads a convolution (name.weight, name.bias if any), with the batch
// norm bn folded in if bn is not "".
func (s StateDict) Conv(name, bn string, stride, pad int) (*nn.Conv2D, error) {
	w, shape, err := s.Get(name+".weight", 4)
	if err != nil {
		return nil, err
	}
	var b []float32
	if s.Has(name + ".bias") {
		if b, _, err = s.Get(name+".bias", 1); err != nil {
			return nil, err
		}
	}
	if bn != "" {
		var p [4][]float32
		for i, part := range []string{"weight", "bias", "running_mean", "running_var"} {
			if p[i], _, err = s.Get(bn+"."+part, 1); err != nil {
				return nil, err
			}
		}
		if w, b, err = nn.FoldBatchNorm(w, b, p[0], p[1], p[2], p[3], shape[0], bnEps); err != nil {
			return nil, fmt.Errorf("%s%s: %w", s.Prefix, bn, err)
		}
	}
	c, err := nn.NewConv2D(w, b, shape[0], shape[1], shape[2], shape[3], stride, pad)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", s.Prefix, name, err)
	}
	return c, nil
}

// ResNet is torchvision's ResNet without its classifier: the stem (7×7
// convolution, stride 2 unless the loader is told otherwise, and a 3×3
// max-pool), four stages of residual
// blocks, and a global average pool. Blocks are bottlenecks (ResNet-50 and
// deeper) or basic blocks of two 3×3 convolutions (ResNet-18/34 and narrow
// variants), whichever the state dict holds. Its methods are safe for
// concurrent use.
type ResNet struct {
	stem   *nn.Conv2D
	blocks []block
	out    int
	pool   sync.Pool // of *resnetBuffers
}

// block is a residual block: c1, c2 (basic), or c1, c2, c3 (bottleneck).
type block struct {
	convs []*nn.Conv2D
	down  *nn.Conv2D // nil: the identity
}

// LoadResNet reads a ResNet whose tensors are named as torchvision's
// (conv1, bn1, layer1.0.conv1, …) after prefix. The depth and widths are
// read from the tensors; stemStride is the stem convolution's stride,
// which is 2 in torchvision's.
func LoadResNet(t Tensors, prefix string, stemStride int) (*ResNet, error) {
	if stemStride < 1 {
		return nil, fmt.Errorf("%sconv1: stride %d", prefix, stemStride)
	}
	s := StateDict{T: t, Prefix: prefix}
	stem, err := s.Conv("conv1", "bn1", stemStride, 3)
	if err != nil {
		return nil, err
	}
	r := &ResNet{stem: stem}
	for layer := 1; layer <= 4; layer++ {
		for i := 0; ; i++ {
			p := fmt.Sprintf("layer%d.%d.", layer, i)
			if !s.Has(p + "conv1.weight") {
				if i == 0 {
					return nil, fmt.Errorf("%s%s is missing", s.Prefix, p)
				}
				break
			}
			// A stage's first block strides from the second stage on:
			// in its 3×3 convolution, which is a bottleneck's second and
			// a basic block's first (torchvision's "ResNet v1.5").
			stride := 1
			if i == 0 && layer > 1 {
				stride = 2
			}
			var b block
			if s.Has(p + "conv3.weight") {
				b.convs = make([]*nn.Conv2D, 3)
				if b.convs[0], err = s.Conv(p+"conv1", p+"bn1", 1, 0); err == nil {
					if b.convs[1], err = s.Conv(p+"conv2", p+"bn2", stride, 1); err == nil {
						b.convs[2], err = s.Conv(p+"conv3", p+"bn3", 1, 0)
					}
				}
			} else {
				b.convs = make([]*nn.Conv2D, 2)
				if b.convs[0], err = s.Conv(p+"conv1", p+"bn1", stride, 1); err == nil {
					b.convs[1], err = s.Conv(p+"conv2", p+"bn2", 1, 1)
				}
			}
			if err != nil {
				return nil, err
			}
			if s.Has(p + "downsample.0.weight") {
				if b.down, err = s.Conv(p+"downsample.0", p+"downsample.1", stride, 0); err != nil {
					return nil, err
				}
			}
			last := b.convs[len(b.convs)-1]
			if b.down == nil && (stride != 1 || b.convs[0].In != last.Out) {
				return nil, fmt.Errorf("%s%s changes the shape but has no downsample", s.Prefix, p)
			}
			r.blocks = append(r.blocks, b)
			r.out = last.Out
		}
	}
	return r, nil
}

// Width is the number of features per image.
func (r *ResNet) Width() int { return r.out }

// Blocks is the number of residual blocks.
func (r *ResNet) Blocks() int { return len(r.blocks) }

// Params is the number of weights and biases after batch-norm folding.
func (r *ResNet) Params() int {
	n := 0
	for _, c := range r.convs() {
		n += c.Out*c.In*c.KH*c.KW + c.Out
	}
	return n
}

func (r *ResNet) convs() []*nn.Conv2D {
	convs := []*nn.Conv2D{r.stem}
	for _, b := range r.blocks {
		convs = append(convs, b.convs...)
		if b.down != nil {
			convs = append(convs, b.down)
		}
	}
	return convs
}

// SetPrecision sets the arithmetic of every convolution.
func (r *ResNet) SetPrecision(p nn.Precision) error {
	for _, c := range r.convs() {
		if err := c.SetPrecision(p); err != nil {
			return err
		}
	}
	return nil
}

// FLOPs is the convolutions' work for one h×w image.
func (r *ResNet) FLOPs(h, w int) float64 {
	f, h, w := convFLOPs(r.stem, h, w)
	h, w = (h+2-3)/2+1, (w+2-3)/2+1
	for _, b := range r.blocks {
		bh, bw := h, w
		for _, c := range b.convs {
			fc, ho, wo := convFLOPs(c, bh, bw)
			f, bh, bw = f+fc, ho, wo
		}
		if b.down != nil {
			fd, _, _ := convFLOPs(b.down, h, w)
			f += fd
		}
		h, w = bh, bw
	}
	return f
}

// resnetBuffers are the activations of one batch, reused for the next:
// allocating (and zeroing) them anew for every block cost as much as some
// of the convolutions.
type resnetBuffers struct {
	scratch, in, stem, x, spare []float32
	tmp                         [2][]float32
}

// grow returns buf with length n, reallocated only if too small. Every
// use overwrites what it takes, so old contents do not matter.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// Features computes one image's features from its h×w×3 pixels.
func (r *ResNet) Features(in []float32, h, w int) []float32 {
	return r.FeaturesBatch([][]float32{in}, h, w)[0]
}

// FeaturesBatch runs several h×w×3 images through the network together:
// each convolution is one product over all of them.
func (r *ResNet) FeaturesBatch(in [][]float32, h, w int) [][]float32 {
	n := len(in)
	bufs, _ := r.pool.Get().(*resnetBuffers)
	if bufs == nil {
		bufs = &resnetBuffers{}
	}
	defer r.pool.Put(bufs)
	bufs.in = grow(bufs.in, n*h*w*3)
	for i, im := range in {
		copy(bufs.in[i*h*w*3:], im)
	}
	ho, wo := r.stem.OutSize(h, w)
	bufs.stem = grow(bufs.stem, n*ho*wo*r.stem.Out)
	r.stem.ForwardBatch(bufs.stem, bufs.in, n, h, w, nn.ReLU, &bufs.scratch)
	ph, pw := (ho+2-3)/2+1, (wo+2-3)/2+1
	x := grow(bufs.x, n*ph*pw*r.stem.Out)
	for i := range n {
		nn.MaxPool2D(x[i*ph*pw*r.stem.Out:], bufs.stem[i*ho*wo*r.stem.Out:], ho, wo, r.stem.Out, 3, 2, 1)
	}
	h, w = ph, pw
	spare := bufs.spare
	for _, b := range r.blocks {
		// All but the last convolution, each with its ReLU, alternating
		// between two buffers.
		src, sh, sw := x, h, w
		for k, c := range b.convs[:len(b.convs)-1] {
			oh, ow := c.OutSize(sh, sw)
			bufs.tmp[k%2] = grow(bufs.tmp[k%2], n*oh*ow*c.Out)
			c.ForwardBatch(bufs.tmp[k%2], src, n, sh, sw, nn.ReLU, &bufs.scratch)
			src, sh, sw = bufs.tmp[k%2], oh, ow
		}
		last := b.convs[len(b.convs)-1]
		oh, ow := last.OutSize(sh, sw)
		// The residual: the block's input itself when it has the output's
		// shape (it is not read again, so the sum goes into it), else its
		// downsampled projection, in the spare buffer; the input's buffer
		// becomes the spare.
		out := x
		if b.down != nil {
			out = grow(spare, n*oh*ow*last.Out)
			b.down.ForwardBatch(out, x, n, h, w, nn.Identity, &bufs.scratch)
			spare = x
		}
		last.ForwardAddBatch(out, src, n, sh, sw, nn.ReLU, &bufs.scratch)
		x, h, w = out, oh, ow
	}
	bufs.x, bufs.spare = x, spare
	feats := make([][]float32, n)
	for i := range n {
		feats[i] = make([]float32, r.out)
		nn.AvgPoolGlobal(feats[i], x[i*h*w*r.out:], h, w, r.out)
	}
	return feats
}

// VGG is torchvision's VGG: 3×3 convolutions with ReLU, max-pools between
// stages, a 7×7 adaptive average pool, and the classifier's first two
// Linear layers with ReLU (dropout is inactive). Its methods are safe for
// concurrent use.
type VGG struct {
	convs     []*nn.Conv2D
	poolAfter []bool
	fc1, fc2  *nn.Linear
}

// LoadVGG reads a VGG whose convolutions are named as the Sequential of
// torchvision's features (0.weight, 2.weight, …) after features, and its
// classifier's Linear layers after classifier.
func LoadVGG(t Tensors, features, classifier string) (*VGG, error) {
	return loadVGG(StateDict{T: t, Prefix: features}, StateDict{T: t, Prefix: classifier})
}

func loadVGG(s StateDict, classifier StateDict) (*VGG, error) {
	var idx []int
	for _, name := range s.T.Names() {
		if rest, ok := strings.CutPrefix(name, s.Prefix); ok && strings.HasSuffix(rest, ".weight") {
			i, err := strconv.Atoi(strings.TrimSuffix(rest, ".weight"))
			if err != nil {
				return nil, fmt.Errorf("unexpected VGG tensor %s", name)
			}
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("no VGG convolutions under %s", s.Prefix)
	}
	slices.Sort(idx)
	v := &VGG{}
	for j, i := range idx {
		c, err := s.Conv(strconv.Itoa(i), "", 1, 1)
		if err != nil {
			return nil, err
		}
		v.convs = append(v.convs, c)
		// In the Sequential, a convolution is followed by its ReLU, and a
		// stage's last one by a max-pool too: the next index tells.
		v.poolAfter = append(v.poolAfter, j == len(idx)-1 || idx[j+1]-i == 3)
	}
	// Python 2 checkpoints use the pre-2017 names of the classifier.
	first, second := "0", "3"
	if classifier.Has("1.weight") {
		first, second = "1", "4"
	}
	var err error
	if v.fc1, err = classifier.Linear(first); err != nil {
		return nil, err
	}
	if v.fc2, err = classifier.Linear(second); err != nil {
		return nil, err
	}
	if last := v.convs[len(v.convs)-1].Out; v.fc1.In != last*49 {
		return nil, fmt.Errorf("the classifier reads %d values, the features are %d×7×7", v.fc1.In, last)
	}
	return v, nil
}

// Linear loads a Linear layer with its bias.
func (s StateDict) Linear(name string) (*nn.Linear, error) {
	w, shape, err := s.Get(name+".weight", 2)
	if err != nil {
		return nil, err
	}
	b, _, err := s.Get(name+".bias", 1)
	if err != nil {
		return nil, err
	}
	return nn.NewLinear(w, b, shape[0], shape[1]), nil
}

// Width is the number of features per image.
func (v *VGG) Width() int { return v.fc2.Out }

// FeaturesBatch runs h×w×3 images one by one: VGG's layers are wide at
// every depth, so a single image keeps the products tall.
func (v *VGG) FeaturesBatch(xs [][]float32, h, w int) [][]float32 {
	out := make([][]float32, len(xs))
	for i, x := range xs {
		out[i] = v.Features(x, h, w)
	}
	return out
}

// SetPrecision sets the arithmetic of every convolution and Linear layer.
func (v *VGG) SetPrecision(p nn.Precision) error {
	for _, c := range v.convs {
		if err := c.SetPrecision(p); err != nil {
			return err
		}
	}
	for _, l := range []*nn.Linear{v.fc1, v.fc2} {
		if err := l.SetPrecision(p); err != nil {
			return err
		}
	}
	return nil
}

// FLOPs is the work for one h×w image.
func (v *VGG) FLOPs(h, w int) float64 {
	var f float64
	for i, c := range v.convs {
		fc, ho, wo := convFLOPs(c, h, w)
		f, h, w = f+fc, ho, wo
		if v.poolAfter[i] {
			h, w = h/2, w/2
		}
	}
	return f + 2*float64(v.fc1.In*v.fc1.Out+v.fc2.In*v.fc2.Out)
}

// Features computes one image's features from its h×w×3 pixels.
func (v *VGG) Features(x []float32, h, w int) []float32 {
	var scratch []float32
	for i, c := range v.convs {
		ho, wo := c.OutSize(h, w)
		y := make([]float32, ho*wo*c.Out)
		c.Forward(y, x, h, w, nn.ReLU, &scratch)
		x, h, w = y, ho, wo
		if v.poolAfter[i] {
			p := make([]float32, (h/2)*(w/2)*c.Out)
			h, w = nn.MaxPool2D(p, x, h, w, c.Out, 2, 2, 0)
			x = p
		}
	}
	ch := v.convs[len(v.convs)-1].Out
	// AdaptiveAvgPool2d((7, 7)), then flatten in PyTorch's C×7×7 order.
	flat := make([]float32, ch*49)
	for oy := range 7 {
		y0, y1 := oy*h/7, ((oy+1)*h+6)/7
		for ox := range 7 {
			x0, x1 := ox*w/7, ((ox+1)*w+6)/7
			n := float32((y1 - y0) * (x1 - x0))
			for c := range ch {
				var s float32
				for iy := y0; iy < y1; iy++ {
					for ix := x0; ix < x1; ix++ {
						s += x[(iy*w+ix)*ch+c]
					}
				}
				flat[c*49+oy*7+ox] = s / n
			}
		}
	}
	a := make([]float32, v.fc1.Out)
	v.fc1.Forward(a, flat, 1, nn.ReLU)
	f := make([]float32, v.fc2.Out)
	v.fc2.Forward(f, a, 1, nn.ReLU)
	return f
}
