package clip

import (
	"context"
	"fmt"

	"github.com/xmodal/xmodal/model/cnn"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/safetensors"
)

// ResNetVision is the vision_config model_type of xmodal's CLIP variant
// whose image tower is a torchvision ResNet (tensors vision_model.conv1,
// vision_model.layer1.0.conv1, …, batch norms included) followed by a global
// average pool and visual_projection. The text tower, the projections and
// logit_scale are CLIP's. On small training sets a CNN learns far more per
// image than a ViT, which is why xmodal's own default model uses it.
const ResNetVision = "xmodal_resnet"

// imageTower is the vision side of a model: CLIP's ViT or a ResNet.
type imageTower interface {
	// encode embeds images given as normalised CHW pixels.
	encode(ctx context.Context, images [][]float32) ([][]float32, error)
	pixelLen() int
	params() int
	flops() float64
	info() TowerInfo
	setPrecision(p nn.Precision) error
}

// imageTower reads the image tower that c describes; nil (and l.err set)
// if it cannot.
func (l *loader) imageTower(c VisionConfig, projDim int) imageTower {
	var t imageTower
	if c.ModelType == ResNetVision {
		if r := l.resnetTower(c, projDim); r != nil {
			t = r
		}
	} else if v := l.visionTower(c, projDim); v != nil {
		t = v
	}
	return t
}

// resnetTower is the ResNet image tower with its projection.
type resnetTower struct {
	cfg  VisionConfig
	net  *cnn.ResNet
	proj *nn.Linear
}

// setTensors reads a safetensors.Set as cnn.Tensors, keeping the first
// conversion error (a tensor of a dtype that is not a float) to report.
type setTensors struct {
	set *safetensors.Set
	err error
}

func (s *setTensors) Tensor(name string) ([]float32, []int, bool) {
	t, ok := s.set.Tensor(name)
	if !ok {
		return nil, nil, false
	}
	v, err := t.Float32()
	if err != nil {
		if s.err == nil {
			s.err = fmt.Errorf("tensor %s: %w", name, err)
		}
		return nil, nil, false
	}
	return v, t.Shape, true
}

func (s *setTensors) Names() []string { return s.set.Names() }

func (l *loader) resnetTower(c VisionConfig, projDim int) *resnetTower {
	if l.err != nil {
		return nil
	}
	set, ok := l.src.(*safetensors.Set)
	if !ok {
		l.err = fmt.Errorf("a %s vision tower needs weights from a file", ResNetVision)
		return nil
	}
	ts := &setTensors{set: set}
	stride := c.StemStride
	if stride == 0 {
		stride = 2
	}
	net, err := cnn.LoadResNet(ts, "vision_model.", stride)
	if ts.err != nil {
		err = ts.err
	}
	if err != nil {
		l.err = fmt.Errorf("vision tower: %w", err)
		return nil
	}
	if net.Width() != c.HiddenSize {
		l.err = fmt.Errorf("vision tower: the ResNet makes %d features, vision_config.hidden_size is %d", net.Width(), c.HiddenSize)
		return nil
	}
	r := &resnetTower{cfg: c, net: net, proj: l.linear("visual_projection", projDim, c.HiddenSize, false)}
	if l.err != nil {
		return nil
	}
	return r
}

func (r *resnetTower) pixelLen() int { return 3 * r.cfg.ImageSize * r.cfg.ImageSize }

func (r *resnetTower) params() int { return r.net.Params() + r.proj.In*r.proj.Out }

func (r *resnetTower) flops() float64 {
	return r.net.FLOPs(r.cfg.ImageSize, r.cfg.ImageSize) + 2*float64(r.proj.In*r.proj.Out)
}

func (r *resnetTower) info() TowerInfo {
	return TowerInfo{
		Architecture: "resnet", Width: r.cfg.HiddenSize, Layers: r.net.Blocks(), Activation: "relu",
		Parameters: r.params(), ImageSize: r.cfg.ImageSize,
	}
}

func (r *resnetTower) setPrecision(p nn.Precision) error { return r.net.SetPrecision(p) }

func (r *resnetTower) encode(ctx context.Context, images [][]float32) ([][]float32, error) {
	size := r.cfg.ImageSize
	plane := size * size
	hwc := make([][]float32, len(images))
	for i, img := range images {
		if len(img) != r.pixelLen() {
			return nil, fmt.Errorf("image %d: %d pixel values, want %d (3×%d×%d)", i, len(img), r.pixelLen(), size, size)
		}
		// The convolutions read channels-last pixels.
		x := make([]float32, 3*plane)
		for p := range plane {
			x[3*p], x[3*p+1], x[3*p+2] = img[p], img[plane+p], img[2*plane+p]
		}
		hwc[i] = x
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	feats := r.net.FeaturesBatch(hwc, size, size)
	dim := r.proj.Out
	flat := make([]float32, len(feats)*r.cfg.HiddenSize)
	for i, f := range feats {
		copy(flat[i*r.cfg.HiddenSize:], f)
	}
	out := make([]float32, len(feats)*dim)
	r.proj.Forward(out, flat, len(feats), nn.Identity)
	res := make([][]float32, len(feats))
	for i := range res {
		res[i] = out[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return res, nil
}
