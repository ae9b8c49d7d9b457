package indexer

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// files reads a dataset's images by their names within it: from its
// folder, or, for a worker that does not mount it, from a base URL (an
// object store's, or any web server's) under which the names resolve.
type files interface {
	// read returns a file's bytes, failing past limit, and its
	// modification time (Unix ns) when the source tells it (else 0).
	read(ctx context.Context, name string, limit int64) (data []byte, mtime int64, err error)
	// path is what a document records as the image's location.
	path(name string) string
}

// folder reads through an os.Root: a name or a symbolic link that leads
// out of the folder is refused.
type folder struct {
	root *os.Root
	dir  string
}

func (f folder) read(_ context.Context, name string, limit int64) ([]byte, int64, error) {
	data, err := readFile(f.root, name, limit)
	return data, 0, err
}

func (f folder) path(name string) string { return filepath.Join(f.dir, filepath.FromSlash(name)) }

// isURL reports whether a dataset root is an http(s) URL.
func isURL(root string) bool {
	return strings.HasPrefix(root, "http://") || strings.HasPrefix(root, "https://")
}

// web reads files under a base URL with GET.
type web struct {
	base   *url.URL
	client *http.Client
}

func newWeb(root string) (web, error) {
	u, err := url.Parse(strings.TrimSuffix(root, "/") + "/")
	if err != nil {
		return web{}, fmt.Errorf("dataset URL %s: %w", root, err)
	}
	return web{base: u, client: &http.Client{Timeout: 2 * time.Minute}}, nil
}

func (w web) path(name string) string { return w.base.JoinPath(strings.Split(name, "/")...).String() }

func (w web) read(ctx context.Context, name string, limit int64) ([]byte, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.path(name), nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: %s", req.URL.Redacted(), resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, 0, fmt.Errorf("file too large (%d bytes, limit %d)", resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(data)) > limit {
		return nil, 0, fmt.Errorf("file too large (over %d bytes)", limit)
	}
	var mtime int64
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = t.UnixNano()
	}
	return data, mtime, nil
}
