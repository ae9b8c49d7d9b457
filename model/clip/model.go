package clip

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"

	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/safetensors"
	"github.com/xmodal/xmodal/tokenize"
)

// Model is a loaded CLIP model. Its methods are safe for concurrent use.
type Model struct {
	// Config is the model's config.json.
	Config Config
	// Preprocess is how images are turned into pixels for the vision
	// tower, from preprocessor_config.json. Callers may change NoEXIF and
	// MaxPixels before encoding images.
	Preprocess imageio.Options
	// Tokenizer turns texts into token ids; nil for random models built
	// without vocabulary files.
	Tokenizer *tokenize.Tokenizer
	// LogitScale is the learned temperature, as stored (its log).
	LogitScale float32

	dir       string
	fsys      fs.FS  // where the model's files are, for hashing them
	fsDir     string // the model folder within fsys
	weights   *safetensors.Set
	dtypes    []string
	text      *textTower
	vision    imageTower
	seed      uint64 // of a random model
	hash      filesHash
	precision nn.Precision
}

// batchSize bounds how many inputs run through a tower at once, which bounds
// the activations' memory (about 20 MB per 32 images for ViT-B/32).
const batchSize = 32

// Load reads a Hugging Face CLIPModel folder. The weights stay memory-mapped
// until Close.
func Load(dir string) (*Model, error) {
	return load(os.DirFS(dir), ".", dir, func() (*safetensors.Set, error) { return safetensors.OpenDir(dir) })
}

// LoadFS reads a CLIPModel folder from a file system, such as a model
// embedded in the binary; name is how messages and Dir call it.
func LoadFS(fsys fs.FS, dir, name string) (*Model, error) {
	return load(fsys, dir, name, func() (*safetensors.Set, error) { return safetensors.OpenFS(fsys, dir) })
}

func load(fsys fs.FS, dir, name string, openWeights func() (*safetensors.Set, error)) (*Model, error) {
	read := func(file string) ([]byte, error) { return fs.ReadFile(fsys, path.Join(dir, file)) }
	data, err := read("config.json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: config.json: %w", name, err)
	}
	pre := DefaultPreprocess(cfg.Vision.ImageSize)
	if data, err := read("preprocessor_config.json"); err == nil {
		if pre, err = ParsePreprocessor(data, cfg.Vision.ImageSize); err != nil {
			return nil, fmt.Errorf("%s: preprocessor_config.json: %w", name, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	vocab, err := read("vocab.json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	merges, err := read("merges.txt")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	tok, err := tokenize.New(bytes.NewReader(vocab), bytes.NewReader(merges))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if tok.VocabSize() != cfg.Text.VocabSize {
		return nil, fmt.Errorf("%s: vocab.json has %d tokens but config.json says vocab_size %d", name, tok.VocabSize(), cfg.Text.VocabSize)
	}
	weights, err := openWeights()
	if err != nil {
		return nil, err
	}
	m, err := build(cfg, weights)
	if err != nil {
		weights.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m.dir, m.fsys, m.fsDir = name, fsys, dir
	m.weights, m.Tokenizer, m.Preprocess = weights, tok, pre
	seen := map[string]bool{}
	for _, n := range weights.Names() {
		t, _ := weights.Tensor(n)
		switch t.DType {
		case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
			if !seen[string(t.DType)] {
				seen[string(t.DType)] = true
				m.dtypes = append(m.dtypes, string(t.DType))
			}
		}
	}
	sort.Strings(m.dtypes)
	return m, nil
}

func build(cfg Config, src weightSource) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &loader{src: src}
	m := &Model{
		Config:     cfg,
		Preprocess: DefaultPreprocess(cfg.Vision.ImageSize),
		text:       l.textTower(cfg.Text, cfg.ProjectionDim),
		vision:     l.imageTower(cfg.Vision, cfg.ProjectionDim),
	}
	if scale := l.get("logit_scale"); l.err == nil {
		m.LogitScale = scale[0]
	}
	if l.err != nil {
		return nil, l.err
	}
	return m, nil
}

// Random builds a model of the given configuration with random weights, for
// benchmarks and tests that need no files. It has no tokenizer.
func Random(cfg Config, seed uint64) (*Model, error) {
	m, err := build(cfg, randomWeights{rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))})
	if err != nil {
		return nil, err
	}
	m.dtypes = []string{"F32"}
	m.seed = seed
	return m, nil
}

// randomWeights makes up tensors of the requested shape, scaled like a
// trained network's so that activations stay in a realistic range.
type randomWeights struct{ rng *rand.Rand }

func (r randomWeights) Float32(name string, shape ...int) ([]float32, error) {
	n, fanIn := 1, 1
	for i, d := range shape {
		n *= d
		if i > 0 {
			fanIn *= d
		}
	}
	v := make([]float32, n)
	// Matrices get variance 1/fan-in, which keeps activations of order
	// one through the layers, so that every layer shapes the output.
	std := 1 / float32(math.Sqrt(float64(fanIn)))
	if len(shape) <= 1 {
		std = 0.02
	}
	for i := range v {
		v[i] = float32(r.rng.NormFloat64()) * std
	}
	if filepath.Ext(name) == ".weight" && len(shape) == 1 { // LayerNorm gains
		for i := range v {
			v[i] += 1
		}
	}
	return v, nil
}

// Close releases the memory-mapped weights. The model must not be used
// afterwards.
func (m *Model) Close() error {
	if m.weights == nil {
		return nil
	}
	return m.weights.Close()
}

// Dir is the folder the model was loaded from ("" for a random model).
func (m *Model) Dir() string { return m.dir }

// Dim is the size of the shared embedding space.
func (m *Model) Dim() int { return m.Config.ProjectionDim }

// ContextLength is the most tokens a text may have, SOT and EOT included.
func (m *Model) ContextLength() int { return m.Config.Text.MaxPositionEmbeddings }

// Tokenize returns a text's token ids, truncated to the context length,
// after the normalisation the model's config asks for (TextConfig.Prepare).
func (m *Model) Tokenize(text string) ([]int, error) {
	if m.Tokenizer == nil {
		return nil, fmt.Errorf("model has no tokenizer")
	}
	return m.Tokenizer.Encode(m.Config.Text.Prepare(text), m.ContextLength()), nil
}

// EncodeTexts embeds texts. The embeddings are not normalised.
func (m *Model) EncodeTexts(ctx context.Context, texts []string) ([][]float32, error) {
	ids := make([][]int, len(texts))
	for i, t := range texts {
		var err error
		if ids[i], err = m.Tokenize(t); err != nil {
			return nil, err
		}
	}
	return m.EncodeTokens(ctx, ids)
}

// EncodeTokens embeds token sequences, each pooled at its first EOT. The
// embeddings are not normalised.
func (m *Model) EncodeTokens(ctx context.Context, ids [][]int) ([][]float32, error) {
	eot := -1
	if m.Tokenizer != nil {
		eot = m.Tokenizer.EOT()
	}
	// Texts have few tokens each, so a larger batch keeps the matrix
	// products as tall as an image batch.
	return batched(ctx, ids, 4*batchSize, func(ctx context.Context, b [][]int) ([][]float32, error) {
		return m.text.encode(ctx, b, eot)
	})
}

// EncodePixels embeds images given as preprocessed, normalised CHW pixels
// (3×size×size float32). The embeddings are not normalised.
func (m *Model) EncodePixels(ctx context.Context, pixels [][]float32) ([][]float32, error) {
	return batched(ctx, pixels, batchSize, m.vision.encode)
}

// ImageOptions returns the preprocessing that EncodePixels expects.
func (m *Model) ImageOptions() imageio.Options { return m.Preprocess }

// PixelLen is the number of float32 values of one preprocessed image.
func (m *Model) PixelLen() int { return m.vision.pixelLen() }

// EncodeImageFiles decodes, preprocesses and embeds image files. The
// embeddings are not normalised.
func (m *Model) EncodeImageFiles(ctx context.Context, paths []string) ([][]float32, error) {
	pixels := make([][]float32, len(paths))
	errs := make([]error, len(paths))
	nn.ParallelFor(len(paths), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			pixels[i], errs[i] = imageio.LoadFile(paths[i], m.Preprocess)
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return m.EncodePixels(ctx, pixels)
}

// batched encodes in batches of size. Each batch is split over the cores
// that are free, a part per core, and each part runs its whole forward
// pass on its core (its layers' own ParallelFor calls find no helper free
// and run inline). Splitting layer by layer instead hands off at every
// layer, which small models pay dearly for: the default model encoded
// 20 % fewer images per second on two threads than on one. A part keeps
// at least minPart inputs, so that its matrix products stay tall.
func batched[T any](ctx context.Context, in []T, size int, encode func(context.Context, []T) ([][]float32, error)) ([][]float32, error) {
	const minPart = 4
	out := make([][]float32, len(in))
	for lo := 0; lo < len(in); lo += size {
		batch := in[lo:min(lo+size, len(in))]
		var mu sync.Mutex
		var firstErr error
		nn.ParallelFor(len(batch), minPart, func(a, b int) {
			emb, err := encode(ctx, batch[a:b])
			if err != nil {
				mu.Lock()
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
				return
			}
			copy(out[lo+a:lo+b], emb)
		})
		if firstErr != nil {
			return nil, firstErr
		}
	}
	return out, nil
}

// Info describes a model's architecture, as `xmodal models inspect` shows it.
type Info struct {
	Dir           string    `json:"dir,omitempty"`
	EmbeddingSize int       `json:"embedding_size"`
	DTypes        []string  `json:"dtypes"`
	Parameters    int       `json:"parameters"`
	Text          TowerInfo `json:"text"`
	Vision        TowerInfo `json:"vision"`
}

// TowerInfo describes one tower.
type TowerInfo struct {
	Width      int    `json:"width"`
	Layers     int    `json:"layers"`
	Heads      int    `json:"heads"`
	MLP        int    `json:"mlp"`
	Activation string `json:"activation"`
	Parameters int    `json:"parameters"`
	// Text only.
	VocabSize     int `json:"vocab_size,omitempty"`
	ContextLength int `json:"context_length,omitempty"`
	// StripsFinalFullStop: texts lose their final full stops before
	// tokenizing (TextConfig.StripFinalFullStop).
	StripsFinalFullStop bool `json:"strips_final_full_stop,omitempty"`
	// Vision only.
	Architecture string `json:"architecture,omitempty"` // "vit" or "resnet"
	ImageSize    int    `json:"image_size,omitempty"`
	PatchSize    int    `json:"patch_size,omitempty"`
	Tokens       int    `json:"tokens,omitempty"`
}

// Info reports the model's architecture and size.
func (m *Model) Info() Info {
	t := m.Config.Text
	info := Info{
		Dir:           m.dir,
		EmbeddingSize: m.Dim(),
		DTypes:        m.dtypes,
		Text: TowerInfo{
			Width: t.HiddenSize, Layers: t.NumHiddenLayers, Heads: t.NumAttentionHeads,
			MLP: t.IntermediateSize, Activation: t.HiddenAct, Parameters: m.text.params(),
			VocabSize: t.VocabSize, ContextLength: t.MaxPositionEmbeddings, StripsFinalFullStop: t.StripFinalFullStop,
		},
		Vision: m.vision.info(),
	}
	info.Parameters = info.Text.Parameters + info.Vision.Parameters + 1 // + logit_scale
	return info
}
