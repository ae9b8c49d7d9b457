package clip

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/safetensors"
)

const fixtures = "../../testdata/clip"

// models lists each fixture model with the files of its expected values.
var models = []struct {
	dir, texts, images string
}{
	{"model-a", "texts.json", "images.json"},
	{"model-b-gelu", "texts.model-b-gelu.json", "images.model-b-gelu.json"},
}

type textCase struct {
	Text         string    `json:"text"`
	IDs          []int     `json:"ids"`
	IDsHF        []int     `json:"ids_hf"`
	EOTIndex     int       `json:"eot_index"`
	Embedding    []float64 `json:"embedding"`
	EmbeddingRaw []float64 `json:"embedding_raw"`
	EmbeddingHF  []float64 `json:"embedding_hf"`
}

type imageCase struct {
	File                     string    `json:"file"`
	PixelValues              string    `json:"pixel_values"`
	Embedding                []float64 `json:"embedding"`
	EmbeddingRaw             []float64 `json:"embedding_raw"`
	EmbeddingFromPixelValues []float64 `json:"embedding_from_pixel_values"`
	PixelValuesEXIF          string    `json:"pixel_values_exif_transposed"`
	EmbeddingEXIF            []float64 `json:"embedding_exif_transposed"`
}

func readJSON[T any](t *testing.T, name string) T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Items T }
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v.Items
}

func readPixels(t *testing.T, name string) []float32 {
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

func loadModel(t testing.TB, dir string) *Model {
	t.Helper()
	m, err := Load(filepath.Join(fixtures, dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// compare returns the largest absolute difference and the cosine between
// got (L2-normalised here when normalise is set) and want.
func compare(got []float32, want []float64, normalise bool) (maxAbs, cos float64) {
	g := make([]float64, len(got))
	var gn, wn, dot float64
	for i, v := range got {
		g[i] = float64(v)
		gn += g[i] * g[i]
		wn += want[i] * want[i]
		dot += g[i] * want[i]
	}
	cos = dot / math.Sqrt(gn*wn)
	for i := range g {
		if normalise {
			g[i] /= math.Sqrt(gn)
		}
		maxAbs = max(maxAbs, math.Abs(g[i]-want[i]))
	}
	return maxAbs, cos
}

func TestTextEmbeddingsFromIDs(t *testing.T) {
	for _, mc := range models {
		t.Run(mc.dir, func(t *testing.T) {
			m := loadModel(t, mc.dir)
			cases := readJSON[[]textCase](t, mc.texts)
			ids := make([][]int, len(cases))
			for i, c := range cases {
				ids[i] = c.IDs
			}
			got, err := m.EncodeTokens(context.Background(), ids)
			if err != nil {
				t.Fatal(err)
			}
			var worst, worstRaw float64
			for i, c := range cases {
				d, cos := compare(got[i], c.Embedding, true)
				raw, _ := compare(got[i], c.EmbeddingRaw, false)
				worst, worstRaw = max(worst, d), max(worstRaw, raw)
				if d > 1e-5 || cos < 0.99999 || raw > 2e-5 {
					t.Errorf("%q: max abs %.2g, cos %.7f, raw max abs %.2g", c.Text, d, cos, raw)
				}
			}
			t.Logf("%d texts: max abs %.2g (normalised), %.2g (raw)", len(cases), worst, worstRaw)
		})
	}
}

func TestTextEmbeddingsFromStrings(t *testing.T) {
	for _, mc := range models {
		t.Run(mc.dir, func(t *testing.T) {
			m := loadModel(t, mc.dir)
			cases := readJSON[[]textCase](t, mc.texts)
			texts := make([]string, len(cases))
			for i, c := range cases {
				texts[i] = c.Text
			}
			got, err := m.EncodeTexts(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range cases {
				ids, _ := m.Tokenize(c.Text)
				want := c.Embedding
				switch {
				case slices.Equal(ids, c.IDs):
				case c.IDsHF != nil && slices.Equal(ids, c.IDsHF):
					want = c.EmbeddingHF
				default:
					t.Errorf("%q: ids %v, want %v or %v", c.Text, ids, c.IDs, c.IDsHF)
					continue
				}
				if d, cos := compare(got[i], want, true); d > 1e-5 || cos < 0.99999 {
					t.Errorf("%q: max abs %.2g, cos %.7f", c.Text, d, cos)
				}
			}
		})
	}
}

func TestImageEmbeddingsFromPixels(t *testing.T) {
	for _, mc := range models {
		t.Run(mc.dir, func(t *testing.T) {
			m := loadModel(t, mc.dir)
			cases := readJSON[[]imageCase](t, mc.images)
			pixels := make([][]float32, len(cases))
			for i, c := range cases {
				pixels[i] = readPixels(t, c.PixelValues)
			}
			got, err := m.EncodePixels(context.Background(), pixels)
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			for i, c := range cases {
				d, cos := compare(got[i], c.EmbeddingFromPixelValues, true)
				worst = max(worst, d)
				if d > 1e-5 || cos < 0.99999 {
					t.Errorf("%s: max abs %.2g, cos %.7f", c.File, d, cos)
				}
			}
			t.Logf("%d images: max abs %.2g", len(cases), worst)
		})
	}
}

func TestImageEmbeddingsFromFiles(t *testing.T) {
	for _, mc := range models {
		t.Run(mc.dir, func(t *testing.T) {
			m := loadModel(t, mc.dir)
			m.Preprocess.NoEXIF = true // the fixtures record the official pipeline, which ignores EXIF
			cases := readJSON[[]imageCase](t, mc.images)
			paths := make([]string, len(cases))
			for i, c := range cases {
				paths[i] = filepath.Join(fixtures, c.File)
			}
			got, err := m.EncodeImageFiles(context.Background(), paths)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range cases {
				d, cos := compare(got[i], c.Embedding, true)
				t.Logf("%s: max abs %.2g, cos %.7f", c.File, d, cos)
				if d > 5e-3 || cos < 0.9999 {
					t.Errorf("%s: max abs %.2g, cos %.7f", c.File, d, cos)
				}
			}
		})
	}
}

func TestImageEXIFOrientation(t *testing.T) {
	m := loadModel(t, "model-a")
	for _, c := range readJSON[[]imageCase](t, "images.json") {
		if c.EmbeddingEXIF == nil {
			continue
		}
		got, err := m.EncodeImageFiles(context.Background(), []string{filepath.Join(fixtures, c.File)})
		if err != nil {
			t.Fatal(err)
		}
		if d, cos := compare(got[0], c.EmbeddingEXIF, true); d > 5e-3 || cos < 0.9999 {
			t.Errorf("%s with EXIF applied: max abs %.2g, cos %.7f", c.File, d, cos)
		}
	}
}

func TestEncodeTokensPoolsAtFirstEOT(t *testing.T) {
	m := loadModel(t, "model-a")
	eot := m.Tokenizer.EOT()
	// Tokens after the first EOT cannot change the pooled embedding.
	a := []int{m.Tokenizer.SOT(), 1237, eot}
	b := []int{m.Tokenizer.SOT(), 1237, eot, 68, 5769, eot}
	got, err := m.EncodeTokens(context.Background(), [][]int{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], got[1]) {
		t.Errorf("tokens after EOT changed the embedding")
	}
	for _, bad := range [][]int{{}, {49408}, {-1, eot}, make([]int, 78)} {
		if _, err := m.EncodeTokens(context.Background(), [][]int{bad}); err == nil {
			t.Errorf("EncodeTokens(%v): no error", bad)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	src := filepath.Join(fixtures, "model-a")
	copyModel := func(t *testing.T, edit func(cfg map[string]any)) string {
		dir := t.TempDir()
		for _, f := range []string{"model.safetensors", "vocab.json", "merges.txt", "preprocessor_config.json"} {
			if err := os.Symlink(mustAbs(t, filepath.Join(src, f)), filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
		var cfg map[string]any
		data, _ := os.ReadFile(filepath.Join(src, "config.json"))
		json.Unmarshal(data, &cfg)
		edit(cfg)
		data, _ = json.Marshal(cfg)
		os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
		return dir
	}
	tests := []struct {
		name string
		edit func(cfg map[string]any)
		want []string
	}{
		{"wrong width", func(c map[string]any) { c["projection_dim"] = 64 }, []string{"text_projection.weight", "[48 40]", "[64 40]"}},
		{"extra layer", func(c map[string]any) { c["vision_config"].(map[string]any)["num_hidden_layers"] = 4 }, []string{"vision_model.encoder.layers.3", "missing"}},
		{"bad activation", func(c map[string]any) { c["text_config"].(map[string]any)["hidden_act"] = "relu" }, []string{"relu"}},
		{"vocab mismatch", func(c map[string]any) { c["text_config"].(map[string]any)["vocab_size"] = 100 }, []string{"vocab_size 100"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(copyModel(t, tc.edit))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"text_config": {"hidden_act": "gelu"}, "vision_config": {"patch_size": 16}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Text.HiddenSize != 512 || c.Text.HiddenAct != "gelu" || c.Vision.PatchSize != 16 || c.Vision.HiddenSize != 768 || c.ProjectionDim != 512 {
		t.Errorf("config = %+v", c)
	}
	legacy, err := ParseConfig([]byte(`{"text_config_dict": {"hidden_size": 64, "num_attention_heads": 4}, "vision_config": null}`))
	if err != nil || legacy.Text.HiddenSize != 64 {
		t.Errorf("legacy config = %+v, %v", legacy.Text, err)
	}
}

func TestParseConfigStemStride(t *testing.T) {
	for _, tc := range []struct {
		stride  string
		wantErr bool
	}{{"", false}, {`, "stem_stride": 4`, false}, {`, "stem_stride": 8`, true}, {`, "stem_stride": -1`, true}} {
		_, err := ParseConfig([]byte(`{"vision_config": {"model_type": "xmodal_resnet", "hidden_size": 256, "image_size": 128` + tc.stride + `}}`))
		if (err != nil) != tc.wantErr {
			t.Errorf("stem_stride%q: err = %v, want error %v", tc.stride, err, tc.wantErr)
		}
	}
}

func TestParsePreprocessor(t *testing.T) {
	tests := []struct {
		json       string
		size, crop int
		resample   int
		wantErr    bool
	}{
		{`{"size": 224, "crop_size": 224}`, 224, 224, 3, false},
		{`{"size": {"shortest_edge": 256}, "crop_size": {"height": 224, "width": 224}, "resample": 2}`, 256, 224, 2, false},
		{`{}`, 224, 224, 3, false},
		{`{"crop_size": 336}`, 224, 336, 3, true},
		{`{"image_mean": [0.5, 0.5]}`, 0, 0, 0, true},
		{`{"size": "big"}`, 0, 0, 0, true},
	}
	for _, tc := range tests {
		o, err := ParsePreprocessor([]byte(tc.json), 224)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v", tc.json, err)
			continue
		}
		if !tc.wantErr && (o.Size != tc.size || o.CropSize != tc.crop || o.Resample != tc.resample) {
			t.Errorf("%s: got %+v", tc.json, o)
		}
	}
}

func TestInfo(t *testing.T) {
	m := loadModel(t, "model-a")
	info := m.Info()
	s := m.weights
	total := 0
	for _, name := range s.Names() {
		tensor, _ := s.Tensor(name)
		if _, err := tensor.Float32(); err == nil {
			total += tensor.Len()
		}
	}
	if info.Parameters != total {
		t.Errorf("Info counts %d parameters, the checkpoint holds %d", info.Parameters, total)
	}
	if info.Vision.Tokens != 50 || info.EmbeddingSize != 48 || !slices.Equal(info.DTypes, []string{"F32"}) {
		t.Errorf("info = %+v", info)
	}
}

func TestFLOPs(t *testing.T) {
	c, _ := Arch("ViT-B/32")
	// The published figure for ViT-B/32's image tower is 4.4 GMACs (8.8
	// GFLOP); the last block skips 49 tokens' output projection and MLP,
	// 49·(2·768² + 4·768·3072) = 0.52 GFLOP.
	if g := c.ImageFLOPs() / 1e9; g < 8.2 || g > 8.35 {
		t.Errorf("ViT-B/32 image: %.2f GFLOP, want about 8.28", g)
	}
	// About 5.8 GFLOP for 77 tokens, less 76·(2·512² + 4·512·2048).
	if g := c.TextFLOPs(77) / 1e9; g < 5.35 || g > 5.55 {
		t.Errorf("ViT-B/32 text of 77 tokens: %.2f GFLOP, want about 5.45", g)
	}
}

func TestWriteRandomRoundTrip(t *testing.T) {
	cfg, _ := ParseConfig(mustRead(t, filepath.Join(fixtures, "model-a", "config.json")))
	for _, dtype := range []string{"F32", "BF16"} {
		dir := t.TempDir()
		if err := WriteRandom(dir, cfg, safetensors.DType(dtype), 7, filepath.Join(fixtures, "model-a")); err != nil {
			t.Fatal(err)
		}
		m, err := Load(dir)
		if err != nil {
			t.Fatalf("%s: %v", dtype, err)
		}
		if info := m.Info(); info.Parameters != loadModel(t, "model-a").Info().Parameters || info.DTypes[0] != dtype {
			t.Errorf("%s: info = %+v", dtype, info)
		}
		emb, err := m.EncodeTexts(context.Background(), []string{"a random model still runs"})
		if err != nil || len(emb[0]) != 48 {
			t.Errorf("%s: encode: %v", dtype, err)
		}
		m.Close()
	}
}

func mustRead(t *testing.T, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// bf16 must stay within cosine 0.999 of float32, on the fixtures and on a
// full-size random ViT-B/32.
func TestBF16Accuracy(t *testing.T) {
	if _, err := nn.ParsePrecision("bf16"); err != nil {
		t.Fatal(err)
	}
	testPrecisionAccuracy(t, nn.BF16, nn.ErrNoBF16)
}

// int8 must stay within cosine 0.999 of float32 too.
func TestInt8Accuracy(t *testing.T) {
	if _, err := nn.ParsePrecision("int8"); err != nil {
		t.Fatal(err)
	}
	testPrecisionAccuracy(t, nn.Int8, nn.ErrNoInt8)
}

func testPrecisionAccuracy(t *testing.T, p nn.Precision, unsupported error) {
	check := func(t *testing.T, m *Model, texts [][]int, pixels [][]float32) {
		t.Helper()
		ctx := context.Background()
		wantT, _ := m.EncodeTokens(ctx, texts)
		wantI, _ := m.EncodePixels(ctx, pixels)
		if err := m.SetPrecision(p); errors.Is(err, unsupported) {
			t.Skipf("this CPU has no %v instructions", p)
		} else if err != nil {
			t.Fatal(err)
		}
		defer m.SetPrecision(nn.F32)
		gotT, _ := m.EncodeTokens(ctx, texts)
		gotI, _ := m.EncodePixels(ctx, pixels)
		worstT, worstI := 1.0, 1.0
		for i := range texts {
			worstT = math.Min(worstT, cosine(gotT[i], wantT[i]))
		}
		for i := range pixels {
			worstI = math.Min(worstI, cosine(gotI[i], wantI[i]))
		}
		t.Logf("worst cosine %v vs f32: text %.5f, image %.5f", p, worstT, worstI)
		if worst := math.Min(worstT, worstI); worst < 0.999 {
			t.Errorf("%v embeddings at cosine %.5f of f32, want ≥ 0.999", p, worst)
		}
	}
	t.Run("fixtures", func(t *testing.T) {
		for _, mc := range models {
			m := loadModel(t, mc.dir)
			var ids [][]int
			for _, c := range readJSON[[]textCase](t, mc.texts) {
				ids = append(ids, c.IDs)
			}
			var pixels [][]float32
			for _, c := range readJSON[[]imageCase](t, mc.images) {
				pixels = append(pixels, readPixels(t, c.PixelValues))
			}
			check(t, m, ids, pixels)
		}
	})
	t.Run("ViT-B/32", func(t *testing.T) {
		if testing.Short() {
			t.Skip("full-size model")
		}
		cfg, _ := Arch("ViT-B/32")
		m, err := Random(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		ids := [][]int{{49406, 320, 1929, 530, 518, 2117, 49407}, {49406, 1237, 3989, 49407}}
		pixels := [][]float32{readPixels(t, "pixel_values/08_rgb_732x672.f32"), readPixels(t, "pixel_values/05_la_250x330.f32")}
		check(t, m, ids, pixels)
	})
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func TestPrepareStripsFinalFullStop(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"A dog.", "A dog"},
		{"A dog...", "A dog"},
		{"A dog. ", "A dog"},
		{"A dog . \n", "A dog"},
		{"Lighthouse. Red and white striped lighthouse.", "Lighthouse. Red and white striped lighthouse"},
		{"a dog", "a dog"},
		{"Is it a dog?", "Is it a dog?"},
		{"...", "..."},
		{"", ""},
	} {
		if got := (TextConfig{StripFinalFullStop: true}).Prepare(tc.in); got != tc.want {
			t.Errorf("Prepare(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := (TextConfig{}).Prepare(tc.in); got != tc.in {
			t.Errorf("Prepare(%q) without StripFinalFullStop = %q, want it unchanged", tc.in, got)
		}
	}
}

// A config that asks for it makes "A dog." the same text as "A dog", in
// the ids and so in the embedding; without it the full stop is a token.
func TestConfigStripsFinalFullStop(t *testing.T) {
	plain := loadModel(t, "model-a")
	dir := t.TempDir()
	for _, f := range []string{"config.json", "vocab.json", "merges.txt", "model.safetensors", "preprocessor_config.json"} {
		data, err := os.ReadFile(filepath.Join(fixtures, "model-a", f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if f == "config.json" {
			data = bytes.Replace(data, []byte(`"text_config": {`), []byte(`"text_config": {"xmodal_strip_final_full_stop": true, `), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Config.Text.StripFinalFullStop {
		t.Fatal("xmodal_strip_final_full_stop: true was not read")
	}
	bare, _ := plain.Tokenize("A dog")
	dotted, _ := plain.Tokenize("A dog.")
	stripped, _ := m.Tokenize("A dog.")
	if slices.Equal(bare, dotted) || !slices.Equal(stripped, bare) {
		t.Errorf("ids: plain %v and %v, stripping %v", bare, dotted, stripped)
	}
	got, err := m.EncodeTexts(context.Background(), []string{"A dog.", "A dog"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], got[1]) {
		t.Error(`"A dog." and "A dog" embed differently with the full stop stripped`)
	}
	idPlain, _ := plain.ID()
	idStrip, _ := m.ID()
	if idPlain == idStrip {
		t.Error("the setting does not change the model's ID: workspaces would mix its vectors with the plain model's")
	}
}
