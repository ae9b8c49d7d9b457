package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/model/store"
)

// loadModel resolves a --model value: a model folder, or the name of a
// model pulled into the cache (owner/name).
func loadModel(name string) (*clip.Model, error) {
	if name == "" {
		return nil, usagef("--model is required")
	}
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return clip.Load(name)
	}
	if store.ValidRepo(name) == nil && !filepath.IsAbs(name) {
		s, err := store.Default()
		if err != nil {
			return nil, err
		}
		if s.Has(name) {
			return clip.Load(s.Path(name))
		}
		return nil, fmt.Errorf("model %s: not a folder, and not pulled yet (run: xmodal models pull %s)", name, name)
	}
	return nil, fmt.Errorf("model %s: no such folder", name)
}
