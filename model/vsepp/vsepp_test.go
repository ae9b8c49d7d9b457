package vsepp

import (
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/nn"
)

const fixtures = "../../testdata/vsepp"

func readF32(t *testing.T, name string) []float32 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}

type caption struct {
	Caption string `json:"caption"`
	IDs     []int  `json:"ids"`
	Length  int    `json:"length"`
}

func readCaptions(t *testing.T) []caption {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, "goldens", "captions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var caps []caption
	if err := json.Unmarshal(data, &caps); err != nil {
		t.Fatal(err)
	}
	return caps
}

// Every form of the vocabulary reads the same words, and tokenises the
// golden captions to the golden ids.
func TestVocab(t *testing.T) {
	caps := readCaptions(t)
	for _, name := range []string{"vocab.pkl", "vocab_py2.pkl", "vocab_py2_main.pkl", "vocab.json"} {
		v, err := LoadVocab(filepath.Join(fixtures, "vocab", name))
		if err != nil {
			t.Fatal(err)
		}
		if v.Size() != 62 {
			t.Errorf("%s: %d words", name, v.Size())
		}
		for _, c := range caps {
			if got := v.Tokenize(c.Caption); !slices.Equal(got, c.IDs) || len(got) != c.Length {
				t.Errorf("%s: %q → %v, want %v", name, c.Caption, got, c.IDs)
			}
		}
	}
	for name, data := range map[string]string{
		"not a vocabulary": "\x80\x02K\x01.",
		"another class":    "\x80\x02cfoo\nBar\n)\x81}b.",
		"bad json":         `{"word2idx": {"<pad>": 1}, "idx": 4}`,
	} {
		if _, err := readVocab([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The caption tower and the precomputed-feature head reproduce the
// official code's embeddings, from every container of the checkpoint.
func TestEmbeddingsMatchOfficial(t *testing.T) {
	caps := readCaptions(t)
	feats := readF32(t, "goldens/precomp_features.f32")
	for _, c := range []struct{ variant, file string }{
		{"precomp", "model_best.pth.tar"}, {"precomp", "model_best.legacy.pth.tar"}, {"precomp", "model_best.py2.pth.tar"},
		{"precomp_abs", "model_best.pth.tar"},
		{"resnet152", "model_best.pth.tar"}, {"vgg19", "model_best.py2.pth.tar"},
	} {
		t.Run(c.variant+"/"+c.file, func(t *testing.T) {
			m, err := Load(filepath.Join(fixtures, "models", c.variant, c.file), filepath.Join(fixtures, "vocab", "vocab.pkl"))
			if err != nil {
				t.Fatal(err)
			}
			want := readF32(t, filepath.Join("goldens", c.variant, "cap_emb.f32"))
			got, err := m.EncodeCaptions(context.Background(), captionTexts(caps))
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "caption", got, want, m.Config.EmbedSize)
			if !m.Config.Precomp {
				return
			}
			var rows [][]float32
			for i := 0; i < len(feats); i += m.Config.ImgDim {
				rows = append(rows, feats[i:i+m.Config.ImgDim])
			}
			img, err := m.EncodeFeatures(rows)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "image", img, readF32(t, filepath.Join("goldens", c.variant, "img_emb.f32")), m.Config.EmbedSize)
		})
	}
}

func captionTexts(caps []caption) []string {
	var out []string
	for _, c := range caps {
		out = append(out, c.Caption)
	}
	return out
}

func assertClose(t *testing.T, what string, got [][]float32, want []float32, dim int) {
	t.Helper()
	if len(got)*dim != len(want) {
		t.Fatalf("%s: %d embeddings of %d, want %d values", what, len(got), dim, len(want))
	}
	worst := 0.0
	for i, e := range got {
		for j, v := range e {
			worst = math.Max(worst, math.Abs(float64(v)-float64(want[i*dim+j])))
		}
	}
	if worst > 1e-5 {
		t.Errorf("%s embeddings differ by up to %.3g", what, worst)
	}
	t.Logf("%s embeddings: max abs difference %.3g", what, worst)
}

// A checkpoint with the vocabulary of another dataset is refused.
func TestMismatchedVocab(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vocab.json")
	os.WriteFile(path, []byte(`{"word2idx": {"<pad>": 0, "<start>": 1, "<end>": 2, "<unk>": 3}, "idx": 4}`), 0o644)
	if _, err := Load(filepath.Join(fixtures, "models", "precomp", "model_best.pth.tar"), path); err == nil {
		t.Error("accepted a vocabulary of 4 words for 62 embeddings")
	}
}

// The CNN towers reproduce the official embeddings from the golden pixel
// tensors, for the ResNet-152 and VGG-19 patterns, from every container.
func TestImageTowersMatchOfficial(t *testing.T) {
	var man struct {
		Images []struct {
			Name   string `json:"name"`
			Pixels string `json:"pixels_f32_gz"`
		} `json:"images"`
	}
	data, err := os.ReadFile(filepath.Join(fixtures, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &man); err != nil {
		t.Fatal(err)
	}
	var pixels [][]float32
	for _, im := range man.Images {
		pixels = append(pixels, readGzF32(t, im.Pixels))
	}
	for _, c := range []struct{ variant, file string }{
		{"resnet152", "model_best.pth.tar"}, {"resnet152", "model_best.py2.pth.tar"},
		{"vgg19", "model_best.pth.tar"}, {"vgg19", "model_best.legacy.pth.tar"}, {"vgg19", "model_best.py2.pth.tar"},
	} {
		t.Run(c.variant+"/"+c.file, func(t *testing.T) {
			m, err := Load(filepath.Join(fixtures, "models", c.variant, c.file), filepath.Join(fixtures, "vocab", "vocab.pkl"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.EncodePixels(context.Background(), pixels)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "image", got, readF32(t, filepath.Join("goldens", c.variant, "img_emb.f32")), m.Config.EmbedSize)
		})
	}
}

func readGzF32(t *testing.T, name string) []float32 {
	t.Helper()
	data := readGz(t, name)
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}

// The preprocessing is the official one, bit for bit, on every mode of
// PNG and on a JPEG (decoded with libjpeg's inverse DCT), both from the
// file and from the pixels Pillow decoded; the whole pipeline from the
// files gives the official embeddings at cosine ≥ 0.9999.
func TestImagePipeline(t *testing.T) {
	var man struct {
		Images []struct {
			Name, File string
			Pixels     string `json:"pixels_f32_gz"`
			Decoded    string `json:"decoded_u8_gz"`
			Size       []int  `json:"size_wh"`
		} `json:"images"`
	}
	data, _ := os.ReadFile(filepath.Join(fixtures, "manifest.json"))
	if err := json.Unmarshal(data, &man); err != nil {
		t.Fatal(err)
	}
	opts := ImageOptions()
	opts.NoEXIF = true
	var fromFiles [][]float32
	for _, im := range man.Images {
		want := readGzF32(t, im.Pixels)
		got, err := imageio.LoadFile(filepath.Join(fixtures, im.File), opts)
		if err != nil {
			t.Fatal(err)
		}
		fromFiles = append(fromFiles, got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: pixels from the file differ from the official ones", im.Name)
		}
		if im.Decoded != "" {
			u8 := readGz(t, im.Decoded)
			got = imageio.Preprocess(&imageio.Pixels{Mode: imageio.ModeRGB, W: im.Size[0], H: im.Size[1], Pix: u8}, opts, nil)
			if !slices.Equal(got, want) {
				t.Errorf("%s: pixels from Pillow's decode differ from the official ones", im.Name)
			}
		}
	}
	for _, variant := range []string{"resnet152", "vgg19"} {
		m, err := Load(filepath.Join(fixtures, "models", variant, "model_best.pth.tar"), filepath.Join(fixtures, "vocab", "vocab.pkl"))
		if err != nil {
			t.Fatal(err)
		}
		embs, err := m.EncodePixels(context.Background(), fromFiles)
		if err != nil {
			t.Fatal(err)
		}
		want := readF32(t, filepath.Join("goldens", variant, "img_emb.f32"))
		d := m.Config.EmbedSize
		for i, e := range embs {
			var dot float64
			for j, v := range e {
				dot += float64(v) * float64(want[i*d+j])
			}
			if dot < 0.9999 {
				t.Errorf("%s, %s from its file: cosine %.6f with the official embedding", variant, man.Images[i].Name, dot)
			}
		}
	}
}

func readGz(t *testing.T, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A converted folder loads into the same model as the checkpoint.
func TestConvert(t *testing.T) {
	caps := captionTexts(readCaptions(t))
	for _, variant := range []string{"precomp", "resnet152", "vgg19"} {
		dir := filepath.Join(t.TempDir(), variant)
		ckpt := filepath.Join(fixtures, "models", variant, "model_best.pth.tar")
		vocab := filepath.Join(fixtures, "vocab", "vocab_py2.pkl")
		if err := Convert(ckpt, vocab, dir); err != nil {
			t.Fatal(err)
		}
		if !IsDir(dir) {
			t.Fatalf("%s: not recognised as a VSE++ folder", dir)
		}
		card, _ := os.ReadFile(filepath.Join(dir, "MODEL_CARD.md"))
		sum, _ := fileSHA256(ckpt)
		if !strings.Contains(string(card), sum) {
			t.Errorf("the model card does not name the checkpoint's sha256")
		}
		orig, err := Load(ckpt, vocab)
		if err != nil {
			t.Fatal(err)
		}
		conv, err := LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer conv.Close()
		if conv.Config != orig.Config {
			t.Errorf("%s: config %+v, want %+v", variant, conv.Config, orig.Config)
		}
		a, _ := orig.EncodeCaptions(context.Background(), caps)
		b, _ := conv.EncodeCaptions(context.Background(), caps)
		for i := range a {
			if !slices.Equal(a[i], b[i]) {
				t.Errorf("%s: caption %d differs after conversion", variant, i)
			}
		}
		if orig.cnn != nil {
			px := [][]float32{readGzF32(t, "pixels/gray.f32.gz")}
			a, _ := orig.EncodePixels(context.Background(), px)
			b, _ := conv.EncodePixels(context.Background(), px)
			if !slices.Equal(a[0], b[0]) {
				t.Errorf("%s: the image embedding differs after conversion", variant)
			}
		}
	}
}

// bf16 convolutions stay close to float32 (where the CPU has them); int8
// is refused.
func TestPrecision(t *testing.T) {
	m, err := Load(filepath.Join(fixtures, "models", "resnet152", "model_best.pth.tar"), filepath.Join(fixtures, "vocab", "vocab.pkl"))
	if err != nil {
		t.Fatal(err)
	}
	px := [][]float32{readGzF32(t, "pixels/landscape_rgb.f32.gz"), readGzF32(t, "pixels/gray.f32.gz")}
	ref, _ := m.EncodePixels(context.Background(), px)
	if err := m.SetPrecision(nn.Int8); err == nil {
		t.Error("int8 accepted")
	}
	for _, p := range []nn.Precision{nn.BF16} {
		if err := m.SetPrecision(p); err != nil {
			t.Skipf("%v: %v", p, err)
		}
		got, _ := m.EncodePixels(context.Background(), px)
		for i := range got {
			var dot float64
			for j := range got[i] {
				dot += float64(got[i][j]) * float64(ref[i][j])
			}
			t.Logf("%v image %d: cosine %.5f with float32", p, i, dot)
			if dot < 0.995 {
				t.Errorf("%v image %d: cosine %.5f with float32", p, i, dot)
			}
		}
	}
	m.SetPrecision(nn.F32)
	if again, _ := m.EncodePixels(context.Background(), px); !slices.Equal(again[0], ref[0]) {
		t.Error("back to float32, the embedding differs")
	}
}
