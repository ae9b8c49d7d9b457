package vsepp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/xmodal/xmodal/internal/atomicfile"
	"github.com/xmodal/xmodal/safetensors"
)

// A converted model is a folder, as a Hugging Face CLIP model is:
//
//	config.json        {"model_type": "vsepp", the Config, "source": {...}}
//	model.safetensors  the weights, float32, under the official names
//	                   prefixed "img." and "txt." (memory-mapped at load)
//	vocab.json         {"word2idx": {...}, "idx": N}
//	MODEL_CARD.md      where it came from
//
// Converting once spares every later load the pickle reading.

// folderConfig is config.json.
type folderConfig struct {
	ModelType string `json:"model_type"`
	Config
	Source struct {
		Checkpoint       string `json:"checkpoint"`
		CheckpointSHA256 string `json:"checkpoint_sha256"`
		Vocab            string `json:"vocab"`
		VocabSHA256      string `json:"vocab_sha256"`
	} `json:"source"`
}

// ModelType is config.json's model_type for a VSE++ folder.
const ModelType = "vsepp"

// IsDir reports whether dir holds a converted VSE++ model.
func IsDir(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return false
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	return json.Unmarshal(data, &c) == nil && c.ModelType == ModelType
}

// Convert reads an official checkpoint and its vocabulary and writes them
// as a model folder in dir (created if missing).
func Convert(checkpoint, vocab, dir string) error {
	m, err := Load(checkpoint, vocab)
	if err != nil {
		return err
	}
	var cfg folderConfig
	cfg.ModelType, cfg.Config = ModelType, m.Config
	cfg.Source.Checkpoint, cfg.Source.Vocab = filepath.Base(checkpoint), filepath.Base(vocab)
	if cfg.Source.CheckpointSHA256, err = fileSHA256(checkpoint); err != nil {
		return err
	}
	if cfg.Source.VocabSHA256, err = fileSHA256(vocab); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var tensors []safetensors.Tensor
	for _, name := range m.weights.names {
		tensors = append(tensors, safetensors.FromFloat32(name, safetensors.F32, m.weights.shapes[name], m.weights.vals[name]))
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), tensors, map[string]string{"format": "pt", "model_type": ModelType}); err != nil {
		return err
	}
	cj, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	vj, err := json.Marshal(struct {
		Word2Idx map[string]int `json:"word2idx"`
		Idx      int            `json:"idx"`
	}{m.Vocab.words, m.Vocab.size})
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"config.json":   append(cj, '\n'),
		"vocab.json":    append(vj, '\n'),
		"MODEL_CARD.md": modelCard(cfg),
	} {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func modelCard(cfg folderConfig) []byte {
	var b bytes.Buffer
	tower := "precomputed image features (EncoderImagePrecomp)"
	if cfg.CNNType != "" {
		tower = "a " + cfg.CNNType + " CNN on 224×224 pixels (EncoderImageFull)"
	}
	fmt.Fprintf(&b, "# VSE++ model\n\nConverted by `xmodal models convert vsepp` from the official code's files:\n\n")
	fmt.Fprintf(&b, "| file | sha256 |\n| --- | --- |\n| %s | %s |\n| %s | %s |\n\n", cfg.Source.Checkpoint, cfg.Source.CheckpointSHA256, cfg.Source.Vocab, cfg.Source.VocabSHA256)
	fmt.Fprintf(&b, "- Trained on: %s\n- Image tower: %s, %d features\n- Caption tower: %d-word vocabulary, %d-d word embeddings, one-layer GRU\n- Embedding: %d values, measure %s, use_abs %v, no_imgnorm %v\n\n",
		orUnknown(cfg.DataName), tower, cfg.ImgDim, cfg.VocabSize, cfg.WordDim, cfg.EmbedSize, orUnknown(cfg.Measure), cfg.UseAbs, cfg.NoImgNorm)
	fmt.Fprintf(&b, "VSE++: Faghri, Fleet, Kiros and Fidler, \"VSE++: Improving Visual-Semantic Embeddings with Hard Negatives\", BMVC 2018 (code: github.com/fartashf/vsepp). The weights keep the licence and terms of the checkpoint they came from.\n")
	return b.Bytes()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// LoadDir loads a converted model folder. The weights stay in the mapped
// file where they are float32 and aligned.
func LoadDir(dir string) (*Model, error) {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var cfg folderConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
	}
	if cfg.ModelType != ModelType {
		return nil, fmt.Errorf("%s: model_type %q, not %q", dir, cfg.ModelType, ModelType)
	}
	v, err := LoadVocab(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, err
	}
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return nil, err
	}
	w := &weights{}
	names := f.Names()
	// The VGG reader takes the convolutions' order from the names' indices,
	// not from the file's order; any order of the file is fine.
	slices.SortFunc(names, strings.Compare)
	for _, name := range names {
		t, _ := f.Tensor(name)
		vals, err := t.Float32()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		w.add(name, t.Shape, vals)
	}
	m, err := build(cfg.Config, w, v)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	m.dir, m.file, m.weights = dir, f, nil // the layers hold what they need
	return m, nil
}
