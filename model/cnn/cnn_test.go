package cnn

import (
	"strings"
	"testing"
)

// tensors is a state dict in memory.
type tensors struct {
	names  []string
	shapes map[string][]int
}

func (t *tensors) add(name string, shape ...int) {
	if t.shapes == nil {
		t.shapes = map[string][]int{}
	}
	t.names = append(t.names, name)
	t.shapes[name] = shape
}

func (t *tensors) Tensor(name string) ([]float32, []int, bool) {
	shape, ok := t.shapes[name]
	if !ok {
		return nil, nil, false
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = 0.01 * float32(i%7)
	}
	if strings.HasSuffix(name, "running_var") || strings.HasSuffix(name, "bn1.weight") || strings.HasSuffix(name, "bn2.weight") {
		for i := range v {
			v[i] = 1
		}
	}
	return v, shape, true
}

func (t *tensors) Names() []string { return t.names }

func (t *tensors) convBN(conv, bn string, out, in, k int) {
	t.add(conv+".weight", out, in, k, k)
	for _, p := range []string{"weight", "bias", "running_mean", "running_var"} {
		t.add(bn+"."+p, out)
	}
}

// basicResNet is a ResNet of one basic block per stage, with the stages'
// downsamples unless skip names one to leave out.
func basicResNet(skip string) *tensors {
	t := &tensors{}
	t.convBN("conv1", "bn1", 8, 3, 7)
	in := 8
	for s, w := range []int{8, 16, 16, 24} {
		p := "layer" + string(rune('1'+s)) + ".0."
		t.convBN(p+"conv1", p+"bn1", w, in, 3)
		t.convBN(p+"conv2", p+"bn2", w, w, 3)
		if (s > 0 || in != w) && p != skip {
			t.convBN(p+"downsample.0", p+"downsample.1", w, in, 1)
		}
		in = w
	}
	return t
}

func TestLoadResNet(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    *tensors
		err  string
	}{
		{"basic blocks", basicResNet(""), ""},
		{"no downsample where the shape changes", basicResNet("layer2.0."), "layer2.0. changes the shape but has no downsample"},
		{"no stem", &tensors{}, "conv1.weight is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := LoadResNet(tc.t, "", 2)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Width() != 24 || len(r.blocks) != 4 {
				t.Errorf("width %d, %d blocks", r.Width(), len(r.blocks))
			}
			img := make([]float32, 40*40*3)
			for i := range img {
				img[i] = float32(i%11) / 11
			}
			one := r.Features(img, 40, 40)
			batch := r.FeaturesBatch([][]float32{img, img}, 40, 40)
			for i := range one {
				if d := one[i] - batch[1][i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("feature %d: %g alone, %g in a batch", i, one[i], batch[1][i])
				}
			}
			if r.FLOPs(40, 40) <= 0 || r.Params() <= 0 {
				t.Errorf("FLOPs %g, params %d", r.FLOPs(40, 40), r.Params())
			}
		})
	}
}
