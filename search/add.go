package search

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/internal/atomicfile"
	"github.com/xmodal/xmodal/workspace"
)

// ErrBusy is returned by Add and Delete while another process (such as
// `xmodal index`) is writing to the workspace; the error names it.
var ErrBusy = errors.New("workspace is busy")

// UploadsDir is where Add stores uploaded images, inside the workspace.
const UploadsDir = "uploads"

// Add stores an uploaded image (JPEG, PNG, GIF, WebP or BMP bytes) in the
// workspace's uploads folder (a database workspace keeps the bytes
// themselves, and the image has no path) and indexes it with its captions. The key is
// "uploads/<sha256>.<ext>", so adding the same bytes twice replaces the
// first document instead of duplicating it.
//
// Adds and deletes of one engine take turns (callers wait, bounded by
// ctx), so concurrent requests never collide on the workspace's lock. The
// file is written under a temporary name and gets its final one only once
// its document is committed: a failed add leaves nothing behind, and
// CleanUploads settles what a crash interrupted. A crash after the commit
// and before the rename leaves a document whose file is still under its
// temporary name until then.
func (e *Engine) Add(ctx context.Context, data []byte, captions []string) (*workspace.Image, error) {
	pixels, err := imageio.PreprocessBytes(data, e.enc.ImageOptions())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	var clean []string
	for i, c := range captions {
		if c = strings.TrimSpace(c); c == "" {
			continue // an empty caption says nothing
		}
		if err := e.checkText(c); err != nil {
			return nil, fmt.Errorf("%w: caption %d: %s", ErrBadQuery, i+1, strings.TrimPrefix(err.Error(), ErrBadQuery.Error()+": "))
		}
		clean = append(clean, c)
	}
	imgVec, err := e.enc.EncodePixels(ctx, [][]float32{pixels})
	if err != nil {
		return nil, err
	}
	capVecs, err := e.enc.EncodeTexts(ctx, clean)
	if err != nil {
		return nil, err
	}

	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	name := hash + extension(data)
	doc := workspace.NewImage{
		Key: UploadsDir + "/" + name, SHA256: hash, Size: int64(len(data)), MTime: time.Now().UnixNano(),
		Vector: imgVec[0], Captions: clean, CaptionVectors: capVecs,
	}
	if e.ws.InDatabase() {
		// A database workspace keeps the file itself, so that every
		// replica serves it; the image has no path on any disk.
		doc.Data = data
		err = e.write(ctx, func(w *workspace.Workspace) error { return w.Add(ctx, []workspace.NewImage{doc}, nil) })
	} else {
		err = e.addFile(ctx, doc, name, data)
	}
	if err != nil {
		return nil, err
	}
	if err := e.Refresh(ctx); err != nil {
		return nil, err
	}
	return e.ws.ImageByKey(ctx, doc.Key)
}

// addFile stores an upload in the folder workspace's uploads folder and
// adds its document.
func (e *Engine) addFile(ctx context.Context, doc workspace.NewImage, name string, data []byte) error {
	dir, err := filepath.Abs(filepath.Join(e.ws.Dir(), UploadsDir))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	doc.Path = filepath.Join(dir, name)
	// The file is written under the lock too, so that a CleanUploads,
	// which holds it, only ever finds the temporary files of crashed adds.
	return e.write(ctx, func(w *workspace.Workspace) error {
		tmp, err := atomicfile.WriteTemp(dir, name, 0o644, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		})
		if err != nil {
			return err
		}
		defer os.Remove(tmp) // a no-op once renamed
		if err := w.Add(ctx, []workspace.NewImage{doc}, nil); err != nil {
			return err
		}
		return atomicfile.Rename(tmp, doc.Path)
	})
}

// Delete removes an image and its captions from the workspace. An uploaded
// image's file is removed too; a dataset's files are never touched.
func (e *Engine) Delete(ctx context.Context, id int64) error {
	im, err := e.ws.Image(ctx, id)
	if err != nil {
		return fmt.Errorf("%w: no image with id %d", ErrBadQuery, id)
	}
	err = e.write(ctx, func(w *workspace.Workspace) error {
		if _, err := w.Delete(ctx, []string{im.Key}); err != nil {
			return err
		}
		if strings.HasPrefix(im.Key, UploadsDir+"/") && im.Path != "" {
			// Another document may not share the file: keys are hashes.
			if err := os.Remove(im.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return e.Refresh(ctx)
}

// CleanUploads settles the uploads folder after a crash: a file whose
// document was committed but which kept its temporary name gets its final
// one; any other temporary file, and any file that no document names, is
// removed. It takes the write lock like Add; it reports what it did.
func (e *Engine) CleanUploads(ctx context.Context) (recovered, removed int, err error) {
	if e.ws.InDatabase() {
		return 0, 0, nil // a database workspace takes no uploads
	}
	dir := filepath.Join(e.ws.Dir(), UploadsDir)
	err = e.write(ctx, func(w *workspace.Workspace) error {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		indexed := func(name string) (bool, error) {
			_, err := w.ImageByKey(ctx, UploadsDir+"/"+name)
			if errors.Is(err, os.ErrNotExist) {
				return false, nil
			}
			return err == nil, err
		}
		for _, ent := range entries {
			name := ent.Name()
			path := filepath.Join(dir, name)
			if !ent.Type().IsRegular() {
				continue
			}
			if final, ok := tempTarget(name); ok {
				finalPath := filepath.Join(dir, final)
				ok, err := indexed(final)
				if err != nil {
					return err
				}
				if _, statErr := os.Stat(finalPath); ok && errors.Is(statErr, os.ErrNotExist) {
					if err := atomicfile.Rename(path, finalPath); err != nil {
						return err
					}
					recovered++
					continue
				}
			} else if ok, err := indexed(name); err != nil || ok {
				if err != nil {
					return err
				}
				continue
			}
			if err := os.Remove(path); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	return recovered, removed, err
}

// tempTarget returns the final name of an upload's temporary file
// (atomicfile.TempPrefix + name + "-" + random).
func tempTarget(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, atomicfile.TempPrefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", true
	}
	return rest[:i], true
}

// write runs fn with the workspace open for writing, one caller at a time
// (waiting is bounded by ctx), and for as short a time as possible, so
// that `xmodal index` can run between two edits.
func (e *Engine) write(ctx context.Context, fn func(*workspace.Workspace) error) error {
	select {
	case e.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.writer }()
	if e.ws.InDatabase() {
		return fn(e.ws) // a database takes writes from every connection
	}
	w, err := workspace.Create(e.ws.Dir(), e.ws.Manifest().Model)
	if err != nil {
		var locked *workspace.LockedError
		if errors.As(err, &locked) {
			return fmt.Errorf("%w: %v", ErrBusy, locked)
		}
		return err
	}
	defer w.Close()
	return fn(w)
}

// extension names the image format of data for the stored file.
func extension(data []byte) string {
	info, err := imageio.Probe(data)
	if err != nil {
		return ".img" // Add has decoded it: this does not happen
	}
	return info.Format.Exts[0]
}
