package clip

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
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
			files := []string{"config.json", "vocab.json", "merges.txt"}
			for _, f := range m.weights.Files() {
				files = append(files, path.Base(filepath.ToSlash(f)))
			}
			for _, f := range files {
				if err := hashFile(h, m.fsys, path.Join(m.fsDir, f)); err != nil {
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

func hashFile(h io.Writer, fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "%s\n", path.Base(name))
	_, err = io.Copy(h, f)
	return err
}
