package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/model/vsepp"
)

// vseppEncoder makes a converted VSE++ model an Encoder. Its vectors are
// unit vectors already (the official towers end with l2norm).
type vseppEncoder struct {
	*vsepp.Model
	name string
	once sync.Once
	id   string
	err  error
}

func loadVSEPP(dir string, opts Options) (Encoder, error) {
	m, err := vsepp.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	if m.Config.Measure == "order" {
		m.Close()
		return nil, errors.New("VSE++ models trained with the order measure are not supported: xmodal ranks by cosine, which such embeddings are not made for")
	}
	if err := m.SetPrecision(opts.Precision); err != nil {
		m.Close()
		return nil, err
	}
	m.Preprocess.NoEXIF = opts.NoEXIF
	if opts.MaxPixels > 0 {
		m.Preprocess.MaxPixels = opts.MaxPixels
	}
	name := dir
	if abs, err := filepath.Abs(dir); err == nil {
		name = abs
	}
	return &vseppEncoder{Model: m, name: name}, nil
}

func (v *vseppEncoder) Family() string { return "vsepp" }
func (v *vseppEncoder) Name() string   { return v.name }
func (v *vseppEncoder) Dim() int       { return v.Config.EmbedSize }

func (v *vseppEncoder) ImageOptions() imageio.Options { return v.Preprocess }

func (v *vseppEncoder) EncodeTexts(ctx context.Context, texts []string) ([][]float32, error) {
	return v.EncodeCaptions(ctx, texts)
}

// ID hashes the folder's files and the preprocessing, as CLIP's does.
func (v *vseppEncoder) ID() (string, error) {
	v.once.Do(func() {
		h := sha256.New()
		for _, f := range []string{"config.json", "vocab.json", "model.safetensors"} {
			file, err := os.Open(filepath.Join(v.Dir(), f))
			if err != nil {
				v.err = err
				return
			}
			_, err = io.Copy(h, file)
			file.Close()
			if err != nil {
				v.err = fmt.Errorf("%s: %w", f, err)
				return
			}
		}
		// The settings that change vectors; MaxPixels only refuses images.
		p := v.Preprocess
		pre, _ := json.Marshal(struct {
			Size, CropSize, Resample int
			Mean, Std                [3]float32
			NoEXIF, RGBFirst         bool
		}{p.Size, p.CropSize, p.Resample, p.Mean, p.Std, p.NoEXIF, p.RGBFirst})
		h.Write(pre)
		v.id = hex.EncodeToString(h.Sum(nil))
	})
	return v.id, v.err
}
