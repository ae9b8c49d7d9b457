package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/xmodal/xmodal/model/builtin"
	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/model/store"
	"github.com/xmodal/xmodal/nn"
)

// modelFlags are the flags of the commands that load a model.
type modelFlags struct {
	name      string
	precision string
	noEXIF    bool
}

// add registers --model and --precision, and --no-exif when the command
// decodes images whose preprocessing it chooses.
func (f *modelFlags) add(fs *flag.FlagSet, exif bool) {
	fs.StringVar(&f.name, "model", "", "model: a folder, a pulled name (owner/name), or default (the embedded model; the default)")
	fs.StringVar(&f.precision, "precision", "f32", "arithmetic of the encoder blocks: f32, bf16 or int8 (faster; embeddings within cosine 0.999 of f32)")
	if exif {
		fs.BoolVar(&f.noEXIF, "no-exif", false, "ignore EXIF orientation, as the official CLIP preprocessing does")
	}
}

// load loads the named model (or name, when the flag is empty) and applies
// the flags.
func (f *modelFlags) load(name string) (*clip.Model, error) {
	if f.name != "" {
		name = f.name
	}
	if _, err := nn.ParsePrecision(f.precision); err != nil {
		return nil, usageError{err.Error()}
	}
	m, err := loadModel(name)
	if err != nil {
		return nil, err
	}
	if err := f.apply(m); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// apply sets a loaded model's preprocessing and precision from the flags.
func (f *modelFlags) apply(m *clip.Model) error {
	prec, err := nn.ParsePrecision(f.precision)
	if err != nil {
		return usageError{err.Error()}
	}
	m.Preprocess.NoEXIF = f.noEXIF
	return m.SetPrecision(prec)
}

// loadModel resolves a model name: "" or "default" for the embedded model,
// a model folder, or the name of a model pulled into the cache (owner/name).
func loadModel(name string) (*clip.Model, error) {
	if name == "" || name == builtin.Name {
		return builtin.Load()
	}
	dir, err := modelDir(name)
	if err != nil {
		return nil, err
	}
	return clip.Load(dir)
}

// modelDir finds the folder of a model given as a folder or a pulled name.
func modelDir(name string) (string, error) {
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
