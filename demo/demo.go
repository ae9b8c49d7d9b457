// Package demo holds the sample set that `xmodal demo` indexes: 1,193
// pictures of everyday things from the default model's corpus (some of
// concepts it saw in training, some of concepts it never saw), with their
// captions, embedded in the binary. LICENSES.md in sample/ records their
// sources, licences and attributions.
package demo

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/xmodal/xmodal/internal/atomicfile"
)

//go:embed sample
var files embed.FS

// Sample returns the sample set: captions.csv (header image,caption),
// images/ and LICENSES.md.
func Sample() fs.FS {
	sub, err := fs.Sub(files, "sample")
	if err != nil {
		panic(err) // the embedded tree always has sample/
	}
	return sub
}

// Extract writes the sample set to dir, leaving alone files that are
// already there with the same content, so that a later index run sees them
// unchanged, and removing files that are not part of it (a sample set
// extracted by an older binary), so that the folder holds this sample only.
func Extract(dir string) error {
	sample := Sample()
	err := fs.WalkDir(sample, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(sample, name)
		if err != nil {
			return err
		}
		if old, err := os.ReadFile(target); err == nil && bytes.Equal(old, data) {
			return nil
		}
		if err := atomicfile.WriteFile(target, data, 0o644); err != nil {
			return fmt.Errorf("extract the demo sample: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if _, err := fs.Stat(sample, filepath.ToSlash(rel)); errors.Is(err, fs.ErrNotExist) {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("remove a stale demo file: %w", err)
			}
		}
		return nil
	})
}
