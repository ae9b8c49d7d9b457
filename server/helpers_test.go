package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

const fixtures = "../testdata/clip"

// fixtureImages are the shared test images the workspace is built from,
// each captioned "a picture named <name>" and "<name> seen from afar".
var fixtureImages = []string{
	"01_cmyk_300x200.jpg", "02_exif6_320x240.jpg", "03_tiny_17x9.png", "04_wide_900x60.png",
	"05_la_250x330.png", "06_bilevel_161x161.png", "07_croponly_224x303.png", "08_rgb_732x672.png",
}

func captionsOf(name string) []string {
	return []string{"a picture named " + name, name + " seen from afar"}
}

// fixture is a server over a workspace of the fixture images, encoded with
// the tiny random model-a; the images are copies in a temporary folder so
// that a test may remove one.
type fixture struct {
	srv   *Server
	ts    *httptest.Server
	eng   *search.Engine
	model *clip.Model
	dir   string           // the workspace
	ids   map[string]int64 // image key → id
}

// loadModel loads model-a once per test.
func loadModel(t testing.TB) *clip.Model {
	t.Helper()
	m, err := clip.Load(filepath.Join(fixtures, "model-a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// buildWorkspace indexes the fixture images into a new workspace.
func buildWorkspace(t testing.TB, m *clip.Model) string {
	t.Helper()
	ctx := context.Background()
	id, err := m.ID()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	imgDir := filepath.Join(t.TempDir(), "images")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := workspace.Create(dir, workspace.Model{ID: id, Name: "model-a", Dim: m.Dim()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var docs []workspace.NewImage
	for _, name := range fixtureImages {
		data, err := os.ReadFile(filepath.Join(fixtures, "images", name))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(imgDir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		vec, err := m.EncodeImageFiles(ctx, []string{path})
		if err != nil {
			t.Fatal(err)
		}
		caps := captionsOf(name)
		cv, err := m.EncodeTexts(ctx, caps)
		if err != nil {
			t.Fatal(err)
		}
		nn.Normalize(vec[0])
		for _, v := range cv {
			nn.Normalize(v)
		}
		docs = append(docs, workspace.NewImage{
			Key: name, Path: path, SHA256: sha256Hex(data), Size: int64(len(data)),
			Vector: vec[0], Captions: caps, CaptionVectors: cv,
		})
	}
	if err := w.Add(ctx, docs, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	m := loadModel(t)
	dir := buildWorkspace(t, m)
	ws, err := workspace.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := search.New(context.Background(), srv.InstrumentEncoder(model.NewCLIP(m)), ws)
	if err != nil {
		t.Fatal(err)
	}
	eng.RefreshInterval = 0 // see other writers' changes at once
	srv.SetEngine(eng)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	f := &fixture{srv: srv, ts: ts, eng: eng, model: m, dir: dir, ids: map[string]int64{}}
	imgs, err := ws.ImagesInSplit(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imgs {
		f.ids[im.Key] = im.ID
	}
	return f
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v, failing the test if it is not JSON.
func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON (%v): %.300s", r.status, err, r.body)
	}
}

// errorMessage checks that the response is a JSON error with the status
// and returns its message.
func (r response) errorMessage(t testing.TB, status int) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %.300s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	r.json(t, &e)
	if e.Error == "" {
		t.Fatalf("error body without a message: %s", r.body)
	}
	return e.Error
}

// do sends a request to the fixture's server.
func (f *fixture) do(t testing.TB, method, path, contentType string, body io.Reader, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

func (f *fixture) get(t testing.TB, path string, headers ...string) response {
	t.Helper()
	return f.do(t, "GET", path, "", nil, headers...)
}

func (f *fixture) postJSON(t testing.TB, path string, body any, headers ...string) response {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	return f.do(t, "POST", path, "application/json", r, headers...)
}

// multipartBody builds a multipart form: fields as name, value pairs, and
// an optional file part named "image".
func multipartBody(t testing.TB, image []byte, fields ...string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if image != nil {
		w, err := mw.CreateFormFile("image", "query.png")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(image)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), &buf
}

func fixtureBytes(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func dataURI(mediaType string, data []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(data)
}

// makePNG draws a w×h PNG with a gradient of the given hue, so that images
// made with different seeds differ.
func makePNG(t testing.TB, w, h int, seed uint8) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x*255/w) ^ seed, uint8(y*255/h) + seed, seed * 3, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombPNG is a valid PNG header claiming a w×h image, with no pixel data:
// enough for the header check, which must refuse it before decoding.
func bombPNG(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := []byte{0, 0, 0, 13, 'I', 'H', 'D', 'R',
		byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w),
		byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h),
		8, 2, 0, 0, 0}
	buf.Write(ihdr)
	crc := crc32IEEE(ihdr[4:])
	buf.Write([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	return buf.Bytes()
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func newTestServer(t testing.TB, srv *Server) *httptest.Server {
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}
