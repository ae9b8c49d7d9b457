package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// The web UI is plain HTML, CSS and JavaScript embedded in the binary. It
// loads nothing from elsewhere, which its Content-Security-Policy enforces.

//go:embed ui
var uiFiles embed.FS

// contentSecurityPolicy allows the UI only its own origin, plus data: and
// blob: images (the preview of a dropped or pasted image).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// staticFiles serves the embedded UI with content-hash ETags, computed once.
type staticFiles struct {
	files map[string]staticFile // by path under ui/
}

type staticFile struct {
	data        []byte
	etag        string
	contentType string
}

func newStaticFiles() (*staticFiles, error) {
	sf := &staticFiles{files: map[string]staticFile{}}
	err := fs.WalkDir(uiFiles, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := uiFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(data)
		}
		sf.files[strings.TrimPrefix(p, "ui/")] = staticFile{data: data, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, contentType: ct}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded UI: %w", err)
	}
	if _, ok := sf.files["index.html"]; !ok {
		return nil, fmt.Errorf("embedded UI: index.html is missing")
	}
	return sf, nil
}

func (sf *staticFiles) serve(w http.ResponseWriter, r *http.Request, name string) error {
	f, ok := sf.files[name]
	if !ok {
		return errorf(http.StatusNotFound, "no such file: %s", r.URL.Path)
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	// Revalidate every time: the files change with the binary, and a 304
	// is cheap.
	h.Set("Cache-Control", "no-cache")
	if strings.HasPrefix(f.contentType, "text/html") {
		h.Set("Content-Security-Policy", contentSecurityPolicy)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
	return nil
}

func (sf *staticFiles) serveIndex(w http.ResponseWriter, r *http.Request) error {
	return sf.serve(w, r, "index.html")
}

func (sf *staticFiles) serveAsset(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	if name == "index.html" {
		return sf.serveIndex(w, r)
	}
	return sf.serve(w, r, name)
}
