package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// IndexFile is the name of the JSON index that lists a sharded checkpoint's
// files, as Hugging Face writes it.
const IndexFile = "model.safetensors.index.json"

// Set is the tensors of one checkpoint, held in a single file or in shards.
type Set struct {
	files   []*File
	tensors map[string]*Tensor
}

// OpenDir opens the checkpoint in a model folder: model.safetensors, or the
// shards named by model.safetensors.index.json.
func OpenDir(dir string) (*Set, error) {
	single := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(single); err == nil {
		return OpenFiles(single)
	}
	index := filepath.Join(dir, IndexFile)
	raw, err := os.ReadFile(index)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no model.safetensors or %s", dir, IndexFile)
	}
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: empty weight_map", index)
	}
	seen := map[string]bool{}
	var paths []string
	for _, shard := range idx.WeightMap {
		if filepath.Base(shard) != shard {
			return nil, fmt.Errorf("%s: shard name %q is not a plain file name", index, shard)
		}
		if !seen[shard] {
			seen[shard] = true
			paths = append(paths, filepath.Join(dir, shard))
		}
	}
	sort.Strings(paths)
	s, err := OpenFiles(paths...)
	if err != nil {
		return nil, err
	}
	for name, shard := range idx.WeightMap {
		t, ok := s.tensors[name]
		if !ok || t.file != filepath.Join(dir, shard) {
			s.Close()
			return nil, fmt.Errorf("%s: tensor %s is not in its shard %s", index, name, shard)
		}
	}
	return s, nil
}

// OpenFiles opens one or more safetensors files as one set. A tensor name
// that appears in two files is an error.
func OpenFiles(paths ...string) (*Set, error) {
	s := &Set{tensors: map[string]*Tensor{}}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.files = append(s.files, f)
		for name, t := range f.tensors {
			if _, dup := s.tensors[name]; dup {
				s.Close()
				return nil, fmt.Errorf("%s: tensor %s also appears in another shard", p, name)
			}
			t.file = p
			s.tensors[name] = t
		}
	}
	return s, nil
}

// Close unmaps every file of the set.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	s.files = nil
	return errors.Join(errs...)
}

// Files lists the paths of the set's files.
func (s *Set) Files() []string {
	out := make([]string, len(s.files))
	for i, f := range s.files {
		out[i] = f.path
	}
	return out
}

// Names lists every tensor in sorted order.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.tensors))
	for n := range s.tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Tensor returns the named tensor.
func (s *Set) Tensor(name string) (*Tensor, bool) {
	t, ok := s.tensors[name]
	return t, ok
}

// Float32 returns the named tensor as float32 after checking its shape; the
// errors name the tensor and both shapes.
func (s *Set) Float32(name string, shape ...int) ([]float32, error) {
	t, ok := s.tensors[name]
	if !ok {
		return nil, fmt.Errorf("tensor %s: missing from the checkpoint (want shape %s)", name, ShapeString(shape))
	}
	if !sameShape(t.Shape, shape) {
		return nil, fmt.Errorf("tensor %s: shape %s, want %s", name, ShapeString(t.Shape), ShapeString(shape))
	}
	return t.Float32()
}

// sameShape compares shapes; a scalar [] and a one-element [1] are the same,
// since checkpoints store logit_scale either way.
func sameShape(got, want []int) bool {
	if len(got) == 0 && len(want) == 1 && want[0] == 1 || len(want) == 0 && len(got) == 1 && got[0] == 1 {
		return true
	}
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
