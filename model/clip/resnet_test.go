package clip

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xmodal/xmodal/nn"
)

// loadResNetTiny assembles testdata/NAME (made by
// tools/train/make_resnet_golden.py) with model-a's vocabulary files.
func loadResNetTiny(t *testing.T, name string) (*Model, resnetGolden) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", name)
	for _, f := range []struct{ from, name string }{
		{src, "config.json"},
		{src, "model.safetensors"},
		{filepath.Join(fixtures, "model-a"), "vocab.json"},
		{filepath.Join(fixtures, "model-a"), "merges.txt"},
	} {
		data, err := os.ReadFile(filepath.Join(f.from, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	var g resnetGolden
	data, err := os.ReadFile(filepath.Join(src, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return m, g
}

type resnetGolden struct {
	Texts         []string    `json:"texts"`
	IDs           [][]int     `json:"ids"`
	TextFeatures  [][]float32 `json:"text_features"`
	Pixels        [][]float32 `json:"pixels"`
	ImageFeatures [][]float32 `json:"image_features"`
}

func maxAbsDiff(t *testing.T, got, want [][]float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d embeddings, want %d", len(got), len(want))
	}
	var d float64
	for i := range got {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("embedding %d has %d values, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range got[i] {
			d = max(d, math.Abs(float64(got[i][j]-want[i][j])))
		}
	}
	return d
}

// TestResNetVisionMatchesTorch checks the CLIP variant with a ResNet image
// tower against torch on the same F16 weights: tokens, text and image
// embeddings, in float32 and in the CPU's reduced precisions. resnet-tiny
// has torchvision's stem (its config does not name a stride);
// resnet-tiny-stride3 takes 48 px images through a stride-3 stem.
func TestResNetVisionMatchesTorch(t *testing.T) {
	for _, name := range []string{"resnet-tiny", "resnet-tiny-stride3"} {
		t.Run(name, func(t *testing.T) { testResNetVisionMatchesTorch(t, name) })
	}
}

func testResNetVisionMatchesTorch(t *testing.T, name string) {
	m, g := loadResNetTiny(t, name)
	ctx := context.Background()
	for i, text := range g.Texts {
		ids, err := m.Tokenize(text)
		if err != nil {
			t.Fatal(err)
		}
		// torch's ids are padded to the context length with zeros.
		if !slices.Equal(ids, g.IDs[i][:len(ids)]) || slices.ContainsFunc(g.IDs[i][len(ids):], func(id int) bool { return id != 0 }) {
			t.Errorf("Tokenize(%q) = %v, want %v", text, ids, g.IDs[i])
		}
	}
	te, err := m.EncodeTokens(ctx, g.IDs)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, te, g.TextFeatures); d > 1e-4 {
		t.Errorf("text features differ from torch by up to %g", d)
	}
	ie, err := m.EncodePixels(ctx, g.Pixels)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, ie, g.ImageFeatures); d > 1e-4 {
		t.Errorf("image features differ from torch by up to %g", d)
	}
	// One image alone gives what it gives in a batch.
	one, err := m.EncodePixels(ctx, g.Pixels[1:2])
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, one, g.ImageFeatures[1:2]); d > 1e-4 {
		t.Errorf("a lone image differs from torch by up to %g", d)
	}
	for _, p := range []nn.Precision{nn.BF16, nn.Int8} {
		if err := m.SetPrecision(p); err != nil {
			t.Logf("%v: %v", p, err)
			continue
		}
		ie, err := m.EncodePixels(ctx, g.Pixels)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ie {
			if c := cosine(ie[i], g.ImageFeatures[i]); c < 0.99 {
				t.Errorf("%v: image %d has cosine %.4f to torch's float32 embedding", p, i, c)
			}
		}
	}
	if _, err := m.EncodePixels(ctx, [][]float32{make([]float32, 10)}); err == nil {
		t.Error("EncodePixels accepted an image of the wrong size")
	}
}

func TestResNetInfo(t *testing.T) {
	m, _ := loadResNetTiny(t, "resnet-tiny")
	info := m.Info()
	v := info.Vision
	if v.Architecture != "resnet" || v.Width != 24 || v.Layers != 5 || v.ImageSize != 40 || v.PatchSize != 0 {
		t.Errorf("vision info = %+v", v)
	}
	if m.ImageFLOPs() <= 0 {
		t.Errorf("ImageFLOPs = %g", m.ImageFLOPs())
	}
}
