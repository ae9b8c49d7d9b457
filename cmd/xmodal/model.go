package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/model/vsepp"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/search"
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

// options are the flags as model.Options; a bad precision is a usage error.
func (f *modelFlags) options() (model.Options, error) {
	prec, err := nn.ParsePrecision(f.precision)
	if err != nil {
		return model.Options{}, usageError{err.Error()}
	}
	return model.Options{Precision: prec, NoEXIF: f.noEXIF}, nil
}

// load loads the model the flags name (the default model if none).
func (f *modelFlags) load() (model.Encoder, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	return model.Load(f.name, opts)
}

// loadCLIP loads the CLIP model itself, for the commands that need more
// than an encoder (raw embeddings, benchmarks), with the flags applied.
func (f *modelFlags) loadCLIP() (*clip.Model, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	m, err := model.LoadCLIP(f.name)
	if err != nil {
		return nil, err
	}
	if err := f.apply(m, opts); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// apply sets a CLIP model's preprocessing and precision from the flags.
func (f *modelFlags) apply(m *clip.Model, opts model.Options) error {
	m.Preprocess.NoEXIF = opts.NoEXIF
	return m.SetPrecision(opts.Precision)
}

// isVSEPP reports whether a model name is a converted VSE++ folder.
func isVSEPP(name string) bool {
	if name == "" {
		return false
	}
	dir, err := model.Dir(name)
	return err == nil && vsepp.IsDir(dir)
}

// openEngine opens the search engine over the workspace in dir with the
// model the flags name; exact turns graph indexes off.
func (f *modelFlags) openEngine(ctx context.Context, dir string, exact bool, stderr io.Writer) (*search.Engine, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	return search.Open(ctx, dir, search.OpenOptions{Model: f.name, Load: opts, Engine: engineConfig(exact, stderr)})
}

// engineConfig is the engine configuration of the --exact flag, with
// messages on stderr.
func engineConfig(exact bool, stderr io.Writer) search.Config {
	return search.Config{Exact: exact, Logf: func(format string, args ...any) {
		fmt.Fprintf(stderr, format+"\n", args...)
	}}
}

// exactUsage is the help of the --exact flag.
var exactUsage = fmt.Sprintf("scan every vector instead of using the graph index (built for workspaces of %d vectors or more)", search.GraphThreshold)
