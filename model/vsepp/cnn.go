package vsepp

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/xmodal/xmodal/nn"
)

// The CNN towers of EncoderImageFull: torchvision's ResNet (bottleneck
// blocks, fc removed: the pooled features) and VGG (classifier without its
// last Linear). Their depths and widths are read from the state dict;
// batch norms are folded into the convolutions. Activations are
// channels-last (see package nn).

// cnn computes an image's features from its H×W×3 pixels.
type cnn interface {
	features(x []float32, h, w int) []float32
	featuresBatch(xs [][]float32, h, w int) [][]float32
	width() int
	flops(h, w int) float64 // the convolutions' and linear layers' work for an h×w image
	setPrecision(p nn.Precision) error
}

// convFLOPs is a convolution's work on an h×w input, and its output size.
func convFLOPs(c *nn.Conv2D, h, w int) (float64, int, int) {
	ho, wo := c.OutSize(h, w)
	return 2 * float64(ho*wo*c.Out*c.In*c.KH*c.KW), ho, wo
}

// bnEps is torchvision's BatchNorm2d epsilon.
const bnEps = 1e-5

// stateDict reads weights under a prefix.
type stateDict struct {
	w      *weights
	prefix string
}

func (s stateDict) has(name string) bool {
	_, ok := s.w.vals[s.prefix+name]
	return ok
}

// get returns a tensor of the given rank.
func (s stateDict) get(name string, rank int) ([]float32, []int, error) {
	vals, ok := s.w.vals[s.prefix+name]
	if !ok {
		return nil, nil, fmt.Errorf("tensor %s%s is missing", strings.TrimPrefix(s.prefix, "img."), name)
	}
	shape := s.w.shapes[s.prefix+name]
	if len(shape) != rank {
		return nil, nil, fmt.Errorf("tensor %s%s has shape %v, want rank %d", s.prefix, name, shape, rank)
	}
	return vals, shape, nil
}

// conv loads a convolution (name.weight, name.bias if any), with the batch
// norm bn folded in if bn is not "".
func (s stateDict) conv(name, bn string, stride, pad int) (*nn.Conv2D, error) {
	w, shape, err := s.get(name+".weight", 4)
	if err != nil {
		return nil, err
	}
	var b []float32
	if s.has(name + ".bias") {
		if b, _, err = s.get(name+".bias", 1); err != nil {
			return nil, err
		}
	}
	if bn != "" {
		var p [4][]float32
		for i, part := range []string{"weight", "bias", "running_mean", "running_var"} {
			if p[i], _, err = s.get(bn+"."+part, 1); err != nil {
				return nil, err
			}
		}
		if w, b, err = nn.FoldBatchNorm(w, b, p[0], p[1], p[2], p[3], shape[0], bnEps); err != nil {
			return nil, fmt.Errorf("%s%s: %w", s.prefix, bn, err)
		}
	}
	c, err := nn.NewConv2D(w, b, shape[0], shape[1], shape[2], shape[3], stride, pad)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", s.prefix, name, err)
	}
	return c, nil
}

// resnet is torchvision's ResNet with bottleneck blocks.
type resnet struct {
	stem   *nn.Conv2D
	blocks []bottleneck
	out    int
	pool   sync.Pool // of *resnetBuffers
}

type bottleneck struct {
	c1, c2, c3 *nn.Conv2D
	down       *nn.Conv2D // nil: the identity
}

func loadResNet(s stateDict) (*resnet, error) {
	stem, err := s.conv("conv1", "bn1", 2, 3)
	if err != nil {
		return nil, err
	}
	r := &resnet{stem: stem}
	for layer := 1; layer <= 4; layer++ {
		for i := 0; ; i++ {
			p := fmt.Sprintf("layer%d.%d.", layer, i)
			if !s.has(p + "conv1.weight") {
				if i == 0 {
					return nil, fmt.Errorf("%s%s is missing", s.prefix, p)
				}
				break
			}
			// torchvision strides the 3×3 convolution of each stage's first
			// block, from the second stage on.
			stride := 1
			if i == 0 && layer > 1 {
				stride = 2
			}
			var b bottleneck
			if b.c1, err = s.conv(p+"conv1", p+"bn1", 1, 0); err != nil {
				return nil, err
			}
			if b.c2, err = s.conv(p+"conv2", p+"bn2", stride, 1); err != nil {
				return nil, err
			}
			if b.c3, err = s.conv(p+"conv3", p+"bn3", 1, 0); err != nil {
				return nil, err
			}
			if s.has(p + "downsample.0.weight") {
				if b.down, err = s.conv(p+"downsample.0", p+"downsample.1", stride, 0); err != nil {
					return nil, err
				}
			}
			r.blocks = append(r.blocks, b)
			r.out = b.c3.Out
		}
	}
	return r, nil
}

func (r *resnet) width() int { return r.out }

func (r *resnet) setPrecision(p nn.Precision) error {
	convs := []*nn.Conv2D{r.stem}
	for _, b := range r.blocks {
		convs = append(convs, b.c1, b.c2, b.c3)
		if b.down != nil {
			convs = append(convs, b.down)
		}
	}
	for _, c := range convs {
		if err := c.SetPrecision(p); err != nil {
			return err
		}
	}
	return nil
}

func (r *resnet) flops(h, w int) float64 {
	f, h, w := convFLOPs(r.stem, h, w)
	h, w = (h+2-3)/2+1, (w+2-3)/2+1
	for _, b := range r.blocks {
		f1, h1, w1 := convFLOPs(b.c1, h, w)
		f2, h2, w2 := convFLOPs(b.c2, h1, w1)
		f3, _, _ := convFLOPs(b.c3, h2, w2)
		f += f1 + f2 + f3
		if b.down != nil {
			fd, _, _ := convFLOPs(b.down, h, w)
			f += fd
		}
		h, w = h2, w2
	}
	return f
}

// resnetBuffers are the activations of one image, reused for the next:
// allocating (and zeroing) them anew for every block cost as much as some
// of the convolutions.
type resnetBuffers struct {
	scratch, in, stem, a, c, x, spare []float32
}

// grow returns buf with length n, reallocated only if too small. Every
// use overwrites what it takes, so old contents do not matter.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

func (r *resnet) features(in []float32, h, w int) []float32 {
	return r.featuresBatch([][]float32{in}, h, w)[0]
}

// featuresBatch runs several images through the tower together: each
// convolution is one product over all of them.
func (r *resnet) featuresBatch(in [][]float32, h, w int) [][]float32 {
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
		h1, w1 := b.c1.OutSize(h, w)
		bufs.a = grow(bufs.a, n*h1*w1*b.c1.Out)
		b.c1.ForwardBatch(bufs.a, x, n, h, w, nn.ReLU, &bufs.scratch)
		h2, w2 := b.c2.OutSize(h1, w1)
		bufs.c = grow(bufs.c, n*h2*w2*b.c2.Out)
		b.c2.ForwardBatch(bufs.c, bufs.a, n, h1, w1, nn.ReLU, &bufs.scratch)
		// The residual: the block's input itself when it has the output's
		// shape (it is not read again, so the sum goes into it), else its
		// downsampled projection, in the spare buffer; the input's buffer
		// becomes the spare.
		out := x
		if b.down != nil {
			out = grow(spare, n*h2*w2*b.c3.Out)
			b.down.ForwardBatch(out, x, n, h, w, nn.Identity, &bufs.scratch)
			spare = x
		}
		b.c3.ForwardAddBatch(out, bufs.c, n, h2, w2, nn.ReLU, &bufs.scratch)
		x, h, w = out, h2, w2
	}
	bufs.x, bufs.spare = x, spare
	feats := make([][]float32, n)
	for i := range n {
		feats[i] = make([]float32, r.out)
		nn.AvgPoolGlobal(feats[i], x[i*h*w*r.out:], h, w, r.out)
	}
	return feats
}

// vgg is torchvision's VGG: 3×3 convolutions with ReLU, max-pools between
// stages, a 7×7 adaptive average pool, and the classifier's first two
// Linear layers with ReLU (dropout is inactive).
type vgg struct {
	convs     []*nn.Conv2D
	poolAfter []bool
	fc1, fc2  *nn.Linear
}

func loadVGG(s stateDict, classifier stateDict) (*vgg, error) {
	var idx []int
	for _, name := range s.w.names {
		if rest, ok := strings.CutPrefix(name, s.prefix); ok && strings.HasSuffix(rest, ".weight") {
			i, err := strconv.Atoi(strings.TrimSuffix(rest, ".weight"))
			if err != nil {
				return nil, fmt.Errorf("unexpected VGG tensor %s", name)
			}
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("no VGG convolutions under %s", s.prefix)
	}
	slices.Sort(idx)
	v := &vgg{}
	for j, i := range idx {
		c, err := s.conv(strconv.Itoa(i), "", 1, 1)
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
	if classifier.has("1.weight") {
		first, second = "1", "4"
	}
	var err error
	if v.fc1, err = linear(classifier, first); err != nil {
		return nil, err
	}
	if v.fc2, err = linear(classifier, second); err != nil {
		return nil, err
	}
	if last := v.convs[len(v.convs)-1].Out; v.fc1.In != last*49 {
		return nil, fmt.Errorf("the classifier reads %d values, the features are %d×7×7", v.fc1.In, last)
	}
	return v, nil
}

func linear(s stateDict, name string) (*nn.Linear, error) {
	w, shape, err := s.get(name+".weight", 2)
	if err != nil {
		return nil, err
	}
	b, _, err := s.get(name+".bias", 1)
	if err != nil {
		return nil, err
	}
	return nn.NewLinear(w, b, shape[0], shape[1]), nil
}

func (v *vgg) width() int { return v.fc2.Out }

// featuresBatch runs the images one by one: VGG's layers are wide at every
// depth, so a single image keeps the products tall.
func (v *vgg) featuresBatch(xs [][]float32, h, w int) [][]float32 {
	out := make([][]float32, len(xs))
	for i, x := range xs {
		out[i] = v.features(x, h, w)
	}
	return out
}

func (v *vgg) setPrecision(p nn.Precision) error {
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

func (v *vgg) flops(h, w int) float64 {
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

func (v *vgg) features(x []float32, h, w int) []float32 {
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
