package clip

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// filesHash hashes the files that define a model's arithmetic: its config,
// vocabulary and weights. It is computed once per model.
type filesHash struct {
	once sync.Once
	sum  []byte
	err  error
}

// ID identifies the model's weights and preprocessing settings: two models
// with the same ID produce the same vectors. Workspaces record it so that
// vectors from different models are never mixed. Hashing reads every weight
// file once (about half a second per gigabyte); the result is cached.
func (m *Model) ID() (string, error) {
	m.hash.once.Do(func() {
		h := sha256.New()
		if m.dir == "" {
			cfg, _ := json.Marshal(m.Config)
			fmt.Fprintf(h, "random %s seed %d\n", cfg, m.seed)
		} else {
			files := []string{filepath.Join(m.dir, "config.json"), filepath.Join(m.dir, "vocab.json"), filepath.Join(m.dir, "merges.txt")}
			files = append(files, m.weights.Files()...)
			for _, f := range files {
				if err := hashFile(h, f); err != nil {
					m.hash.err = err
					return
				}
			}
		}
		m.hash.sum = h.Sum(nil)
	})
	if m.hash.err != nil {
		return "", m.hash.err
	}
	h := sha256.New()
	h.Write(m.hash.sum)
	pre, _ := json.Marshal(struct {
		Size, CropSize, Resample int
		Mean, Std                [3]float32
		NoEXIF                   bool
	}{m.Preprocess.Size, m.Preprocess.CropSize, m.Preprocess.Resample, m.Preprocess.Mean, m.Preprocess.Std, m.Preprocess.NoEXIF})
	h.Write(pre)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "%s\n", filepath.Base(path))
	_, err = io.Copy(h, f)
	return err
}
