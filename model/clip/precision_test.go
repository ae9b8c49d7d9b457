package clip

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/xmodal/xmodal/nn"
)

// TestPrecisionCheckpoint measures, on a real checkpoint, how close each
// precision's embeddings stay to float32, and which layers of the encoder
// blocks int8 is most sensitive in (one kind of layer kept in bf16 at a
// time). XMODAL_CLIP_MODEL=/path/to/vit-b-32 go test -run Checkpoint -v
func TestPrecisionCheckpoint(t *testing.T) {
	dir := os.Getenv("XMODAL_CLIP_MODEL")
	if dir == "" {
		t.Skip("XMODAL_CLIP_MODEL not set")
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	texts := []string{
		"a photo of a dog", "a photo of a cat", "a red car parked on the street",
		"two people walking on a beach at sunset", "a bowl of soup with a spoon",
		"an aerial view of a city at night", "a black and white photograph of a bridge",
		"a diagram of the human heart", "a man riding a horse in a field",
		"a close-up of a yellow flower with a bee", "the quick brown fox jumps over the lazy dog",
		"a screenshot of a spreadsheet", "a child playing with a ball in the park", "",
	}
	var pixels [][]float32
	for _, name := range []string{"01_cmyk_300x200", "02_exif6_320x240", "04_wide_900x60", "05_la_250x330", "06_bilevel_161x161", "07_croponly_224x303", "08_rgb_732x672"} {
		pixels = append(pixels, readPixels(t, "pixel_values/"+name+".f32"))
	}
	wantT, err := m.EncodeTexts(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	wantI, err := m.EncodePixels(ctx, pixels)
	if err != nil {
		t.Fatal(err)
	}
	measure := func(name string) {
		gotT, _ := m.EncodeTexts(ctx, texts)
		gotI, _ := m.EncodePixels(ctx, pixels)
		worstT, worstI, meanT := 1.0, 1.0, 0.0
		for i := range texts {
			c := cosine(gotT[i], wantT[i])
			worstT, meanT = math.Min(worstT, c), meanT+c/float64(len(texts))
		}
		for i := range pixels {
			worstI = math.Min(worstI, cosine(gotI[i], wantI[i]))
		}
		t.Logf("%-28s text worst %.5f mean %.5f, image worst %.5f", name, worstT, meanT, worstI)
	}
	for _, p := range []nn.Precision{nn.BF16, nn.Int8} {
		if err := m.SetPrecision(p); err != nil {
			t.Skip(err)
		}
		measure(p.String())
	}
	kinds := []string{"qkv", "out", "fc1", "fc2"}
	for ki, kind := range kinds {
		if err := m.SetPrecision(nn.Int8); err != nil {
			t.Fatal(err)
		}
		for _, e := range []*encoder{m.text.enc, m.vision.(*visionTower).enc} {
			for _, l := range e.layers {
				if err := []*nn.Linear{l.qkv, l.out, l.fc1, l.fc2}[ki].SetPrecision(nn.BF16); err != nil {
					t.Fatal(err)
				}
			}
		}
		measure("int8, " + kind + " bf16")
	}
	m.SetPrecision(nn.F32)
}

// BenchmarkEncodeTokensPrecision is the latency of one 16-token query on
// ViT-B/32 (random weights) per precision, end to end: embeddings, the 12
// blocks, the final LayerNorm and the projection.
func BenchmarkEncodeTokensPrecision(b *testing.B) {
	m := randomB32(b)
	ids := make([]int, 16)
	for j := range ids {
		ids[j] = 1 + j*7%40000
	}
	for _, p := range []nn.Precision{nn.F32, nn.BF16, nn.Int8} {
		b.Run(p.String(), func(b *testing.B) {
			if err := m.SetPrecision(p); err != nil {
				b.Skip(err)
			}
			defer m.SetPrecision(nn.F32)
			for b.Loop() {
				if _, err := m.EncodeTokens(context.Background(), [][]int{ids}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/query")
		})
	}
}
