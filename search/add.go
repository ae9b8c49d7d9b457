package search

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/workspace"
)

// ErrBusy is returned by Add and Delete while another process (such as
// `xmodal index`) is writing to the workspace.
var ErrBusy = errors.New("workspace is busy: another process is writing to it")

// UploadsDir is where Add stores uploaded images, inside the workspace.
const UploadsDir = "uploads"

// Add stores an uploaded image (JPEG, PNG, GIF, WebP or BMP bytes) in the
// workspace's uploads folder and indexes it with its captions. The key is
// "uploads/<sha256>.<ext>", so adding the same bytes twice replaces the
// first document instead of duplicating it.
func (e *Engine) Add(ctx context.Context, data []byte, captions []string) (*workspace.Image, error) {
	pixels, err := imageio.PreprocessBytes(data, e.enc.ImageOptions())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	var clean []string
	for _, c := range captions {
		if c = strings.TrimSpace(c); c != "" {
			clean = append(clean, c)
		}
	}
	imgVec, err := e.enc.EncodePixels(ctx, [][]float32{pixels})
	if err != nil {
		return nil, err
	}
	capVecs, err := e.enc.EncodeTexts(ctx, clean)
	if err != nil {
		return nil, err
	}
	nn.Normalize(imgVec[0])
	for _, v := range capVecs {
		nn.Normalize(v)
	}

	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	key := UploadsDir + "/" + hash + extension(data)
	path := filepath.Join(e.ws.Dir(), filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := writeFile(path, data); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	err = e.write(func(w *workspace.Workspace) error {
		return w.Add(ctx, []workspace.NewImage{{
			Key: key, Path: abs, SHA256: hash, Size: int64(len(data)), MTime: time.Now().UnixNano(),
			Vector: imgVec[0], Captions: clean, CaptionVectors: capVecs,
		}}, nil)
	})
	if err != nil {
		return nil, err
	}
	if err := e.Refresh(ctx); err != nil {
		return nil, err
	}
	return e.ws.ImageByKey(ctx, key)
}

// Delete removes an image and its captions from the workspace. An uploaded
// image's file is removed too; a dataset's files are never touched.
func (e *Engine) Delete(ctx context.Context, id int64) error {
	im, err := e.ws.Image(ctx, id)
	if err != nil {
		return fmt.Errorf("%w: no image with id %d", ErrBadQuery, id)
	}
	err = e.write(func(w *workspace.Workspace) error {
		_, err := w.Delete(ctx, []string{im.Key})
		return err
	})
	if err != nil {
		return err
	}
	if strings.HasPrefix(im.Key, UploadsDir+"/") {
		os.Remove(im.Path)
	}
	return e.Refresh(ctx)
}

// write runs fn with the workspace open for writing, for as short a time
// as possible, so that `xmodal index` can run between two edits.
func (e *Engine) write(fn func(*workspace.Workspace) error) error {
	w, err := workspace.Create(e.ws.Dir(), e.ws.Manifest().Model)
	if err != nil {
		if errors.Is(err, workspace.ErrLocked) {
			return ErrBusy
		}
		return err
	}
	defer w.Close()
	return fn(w)
}

// extension names the image format of data for the stored file.
func extension(data []byte) string {
	switch http.DetectContentType(data) {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "image/bmp":
		return ".bmp"
	}
	return ".img"
}

func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
