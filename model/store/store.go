// Package store keeps downloaded models in the user's cache and fetches
// Hugging Face CLIPModel repositories into it.
//
// Models live in <cache>/models/<owner>/<name>, where <cache> is
// $XDG_CACHE_HOME/xmodal, else ~/.cache/xmodal. A model folder is complete
// once its files have been verified and renamed into place; a download in
// progress keeps its data in .part files, which a later pull resumes.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Store is a cache directory of models.
type Store struct {
	// Dir is the cache root; models are under Dir/models.
	Dir string
}

// Default returns the store in the user's cache directory.
func Default() (*Store, error) {
	dir, err := CacheDir()
	if err != nil {
		return nil, err
	}
	return &Store{Dir: dir}, nil
}

// CacheDir is $XDG_CACHE_HOME/xmodal, else ~/.cache/xmodal.
func CacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "xmodal"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the cache directory: %w (set XDG_CACHE_HOME)", err)
	}
	return filepath.Join(home, ".cache", "xmodal"), nil
}

// ValidRepo checks a Hugging Face repository name, "owner/name".
func ValidRepo(repo string) error {
	parts := strings.Split(repo, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("model name %q: want owner/name, such as openai/clip-vit-base-patch32", repo)
	}
	for _, p := range parts {
		if p == "." || p == ".." || strings.ContainsAny(p, `\:`) || strings.HasPrefix(p, ".") {
			return fmt.Errorf("model name %q: %q is not a valid name part", repo, p)
		}
	}
	return nil
}

// Path is where a pulled repository lives.
func (s *Store) Path(repo string) string {
	return filepath.Join(s.Dir, "models", filepath.FromSlash(repo))
}

// Has reports whether repo has been pulled completely.
func (s *Store) Has(repo string) bool {
	if ValidRepo(repo) != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(s.Path(repo), completeMarker))
	return err == nil
}

// completeMarker is written last by Pull, so that a folder holding it has
// every file.
const completeMarker = ".complete"

// Entry is a cached model.
type Entry struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// List returns the completely pulled models, sorted by name.
func (s *Store) List() ([]Entry, error) {
	root := filepath.Join(s.Dir, "models")
	owners, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, o := range owners {
		if !o.IsDir() {
			continue
		}
		names, err := os.ReadDir(filepath.Join(root, o.Name()))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			repo := o.Name() + "/" + n.Name()
			if !n.IsDir() || !s.Has(repo) {
				continue
			}
			e := Entry{Name: repo, Path: s.Path(repo)}
			files, _ := os.ReadDir(e.Path)
			for _, f := range files {
				if info, err := f.Info(); err == nil && !f.IsDir() {
					e.Bytes += info.Size()
				}
			}
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Add puts a model that was made locally, such as a converted checkpoint,
// into the store as repo. write fills a temporary folder beside the final
// one, which replaces an earlier copy only once write has succeeded, so an
// interrupted conversion leaves the store as it was.
func (s *Store) Add(repo string, write func(dir string) error) (string, error) {
	if err := ValidRepo(repo); err != nil {
		return "", err
	}
	final := s.Path(repo)
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("add %s: %w", repo, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(final)+".new-")
	if err != nil {
		return "", fmt.Errorf("add %s: %w", repo, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := write(tmp); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, completeMarker), []byte("local\n"), 0o644); err != nil {
		return "", fmt.Errorf("add %s: %w", repo, err)
	}
	old := ""
	if _, err := os.Stat(final); err == nil {
		old = tmp + ".old"
		if err := os.Rename(final, old); err != nil {
			return "", fmt.Errorf("add %s: replace the earlier copy: %w", repo, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			os.Rename(old, final)
		}
		return "", fmt.Errorf("add %s: %w", repo, err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return final, nil
}
