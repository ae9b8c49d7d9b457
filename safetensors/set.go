package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
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
// shards named by model.safetensors.index.json. The files are memory-mapped.
func OpenDir(dir string) (*Set, error) {
	return openCheckpoint(dir,
		func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) },
		func(name string) (*File, error) { return Open(filepath.Join(dir, name)) })
}

// OpenFS opens the checkpoint in folder dir of fsys, such as a model embedded
// in the binary. The files are read into memory.
func OpenFS(fsys fs.FS, dir string) (*Set, error) {
	read := func(name string) ([]byte, error) { return fs.ReadFile(fsys, path.Join(dir, name)) }
	return openCheckpoint(dir, read, func(name string) (*File, error) {
		data, err := read(name)
		if err != nil {
			return nil, err
		}
		return parse(path.Join(dir, name), data)
	})
}

// openCheckpoint finds a checkpoint's files with read and opens them with
// open, both taking names relative to the model folder.
func openCheckpoint(dir string, read func(string) ([]byte, error), open func(string) (*File, error)) (*Set, error) {
	if f, err := open("model.safetensors"); err == nil {
		return newSet(f)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	raw, err := read(IndexFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no model.safetensors or %s", dir, IndexFile)
	}
	if err != nil {
		return nil, err
	}
	index := path.Join(dir, IndexFile)
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: empty weight_map", index)
	}
	var shards []string
	for _, shard := range idx.WeightMap {
		if path.Base(shard) != shard || shard == ".." {
			return nil, fmt.Errorf("%s: shard name %q is not a plain file name", index, shard)
		}
		shards = append(shards, shard)
	}
	sort.Strings(shards)
	shards = slices.Compact(shards)
	var files []*File
	for _, shard := range shards {
		f, err := open(shard)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, err
		}
		files = append(files, f)
	}
	s, err := newSet(files...)
	if err != nil {
		return nil, err
	}
	for name, shard := range idx.WeightMap {
		t, ok := s.tensors[name]
		if !ok || path.Base(t.file) != shard {
			s.Close()
			return nil, fmt.Errorf("%s: tensor %s is not in its shard %s", index, name, shard)
		}
	}
	return s, nil
}

// OpenFiles opens one or more safetensors files as one set. A tensor name
// that appears in two files is an error.
func OpenFiles(paths ...string) (*Set, error) {
	var files []*File
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, err
		}
		files = append(files, f)
	}
	return newSet(files...)
}

// newSet joins open files into a set; it closes them all on error.
func newSet(files ...*File) (*Set, error) {
	s := &Set{files: files, tensors: map[string]*Tensor{}}
	for _, f := range files {
		for name, t := range f.tensors {
			if _, dup := s.tensors[name]; dup {
				s.Close()
				return nil, fmt.Errorf("%s: tensor %s also appears in another shard", f.path, name)
			}
			t.file = f.path
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
func (s *Set) Names() []string { return slices.Sorted(maps.Keys(s.tensors)) }

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
