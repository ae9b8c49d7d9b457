// Package model is what the rest of xmodal knows of a model: the Encoder
// interface that every family implements (CLIP today; VSE++ next), and
// Load, which turns the name a user gives (the embedded default, a folder,
// a pulled Hugging Face name) into an Encoder.
package model

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/model/builtin"
	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/model/store"
	"github.com/xmodal/xmodal/model/vsepp"
	"github.com/xmodal/xmodal/nn"
)

// Encoder embeds texts and images into one vector space, as unit vectors,
// so that a dot product is a cosine similarity.
type Encoder interface {
	// Family names the kind of model: "clip".
	Family() string
	// Name is how the model was named when loaded: "default", a pulled
	// name (owner/name) or a folder's absolute path. A workspace records
	// it, so that later commands need no --model.
	Name() string
	// ID identifies the weights: vectors are comparable only between
	// encoders with the same ID.
	ID() (string, error)
	// Dim is the length of the vectors.
	Dim() int
	// EncodeTexts embeds texts.
	EncodeTexts(ctx context.Context, texts []string) ([][]float32, error)
	// EncodePixels embeds images preprocessed as ImageOptions says.
	EncodePixels(ctx context.Context, pixels [][]float32) ([][]float32, error)
	// ImageOptions is the preprocessing EncodePixels expects.
	ImageOptions() imageio.Options
	// Close releases the weights.
	Close() error
}

// Options adjust a loaded model.
type Options struct {
	Precision nn.Precision // arithmetic of the encoder blocks (default f32)
	NoEXIF    bool         // preprocess images without applying EXIF orientation
	MaxPixels int64        // refuse larger images (0: imageio's default)
}

// Load loads the model called name: "" or "default" for the model
// embedded in xmodal, a model folder (CLIP, or VSE++ as `xmodal models
// convert vsepp` writes it), or the name of a model pulled into the cache
// (owner/name).
func Load(name string, opts Options) (Encoder, error) {
	if name != "" && name != builtin.Name {
		if dir, err := Dir(name); err == nil && vsepp.IsDir(dir) {
			return loadVSEPP(dir, opts)
		}
	}
	m, err := LoadCLIP(name)
	if err != nil {
		return nil, err
	}
	if err := m.SetPrecision(opts.Precision); err != nil {
		m.Close()
		return nil, err
	}
	m.Preprocess.NoEXIF = opts.NoEXIF
	if opts.MaxPixels > 0 {
		m.Preprocess.MaxPixels = opts.MaxPixels
	}
	return NewCLIP(m), nil
}

// LoadCLIP loads a CLIP model by name, as Load does, for the commands that
// need the model itself (raw embeddings, benchmarks, inspection).
func LoadCLIP(name string) (*clip.Model, error) {
	if name == "" || name == builtin.Name {
		return builtin.Load()
	}
	dir, err := Dir(name)
	if err != nil {
		return nil, err
	}
	return clip.Load(dir)
}

// Dir finds the folder of a model given as a folder or a pulled name.
func Dir(name string) (string, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return name, nil
	}
	if store.ValidRepo(name) == nil && !filepath.IsAbs(name) {
		s, err := store.Default()
		if err != nil {
			return "", err
		}
		if s.Has(name) {
			return s.Path(name), nil
		}
		return "", fmt.Errorf("model %s: not a folder, and not pulled yet (run: xmodal models pull %s)", name, name)
	}
	return "", fmt.Errorf("model %s: no such folder", name)
}

// NewCLIP makes a loaded CLIP model an Encoder.
func NewCLIP(m *clip.Model) Encoder { return clipEncoder{m} }

// clipEncoder normalises CLIP's projections, which the model itself
// leaves raw (as the official implementation does).
type clipEncoder struct{ *clip.Model }

func (c clipEncoder) Family() string { return "clip" }

func (c clipEncoder) Name() string {
	name := c.Dir()
	if name == builtin.Name || name == "" { // "" for a model made in memory
		return name
	}
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return name
}

func (c clipEncoder) EncodeTexts(ctx context.Context, texts []string) ([][]float32, error) {
	return normalized(c.Model.EncodeTexts(ctx, texts))
}

func (c clipEncoder) EncodePixels(ctx context.Context, pixels [][]float32) ([][]float32, error) {
	return normalized(c.Model.EncodePixels(ctx, pixels))
}

func normalized(vecs [][]float32, err error) ([][]float32, error) {
	for _, v := range vecs {
		nn.Normalize(v)
	}
	return vecs, err
}
