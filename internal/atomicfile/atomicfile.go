// Package atomicfile writes files so that a reader, or the next start after
// a crash, sees either the old content or the new, never a part: the data
// goes to a uniquely named temporary file in the same folder, is synced,
// renamed over the target, and the folder is synced so that the rename
// itself survives a power cut.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// TempPrefix starts the names of the temporary files this package makes,
// so that a sweep can tell them from real content.
const TempPrefix = ".tmp-"

// WriteFile writes data to path atomically, with permissions perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write writes what fn produces to path atomically, with permissions
// perm. If fn fails, path is untouched and the temporary file removed.
func Write(path string, perm os.FileMode, fn func(io.Writer) error) error {
	tmp, err := WriteTemp(filepath.Dir(path), filepath.Base(path), perm, fn)
	if err != nil {
		return err
	}
	if err := Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// WriteTemp writes what fn produces to a new temporary file in dir, named
// TempPrefix + name + a random suffix, syncs it and returns its path. The
// caller renames it into place with Rename, or removes it.
func WriteTemp(dir, name string, perm os.FileMode, fn func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(dir, TempPrefix+name+"-*")
	if err != nil {
		return "", err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fn(f); err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	// CreateTemp makes the file private; the target may be ordinary data.
	if err := f.Chmod(perm); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	ok = true
	return f.Name(), nil
}

// Rename renames oldpath to newpath and syncs newpath's folder.
func Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(newpath))
}

// SyncDir makes the entries of dir (files created, renamed or removed in
// it) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
