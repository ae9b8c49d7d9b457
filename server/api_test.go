package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image/jpeg"
	"image/png"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

// searchBody is the response of /api/v1/search.
type searchBody struct {
	Query struct {
		Type     string   `json:"type"`
		Text     string   `json:"text"`
		ID       int64    `json:"id"`
		MimeType string   `json:"mime_type"`
		Width    int      `json:"width"`
		Height   int      `json:"height"`
		Hybrid   bool     `json:"hybrid"`
		Add      []string `json:"add"`
		Subtract []string `json:"subtract"`
	} `json:"query"`
	TopK     int       `json:"top_k"`
	Offset   int       `json:"offset"`
	TookMS   *float64  `json:"took_ms"`
	Images   *[]hitDoc `json:"images"`
	Captions *[]hitDoc `json:"captions"`
}

type hitDoc struct {
	search.Hit
	FileURL      string `json:"file_url"`
	ThumbnailURL string `json:"thumbnail_url"`
}

func (f *fixture) search(t *testing.T, res response) searchBody {
	t.Helper()
	if res.status != 200 {
		t.Fatalf("status %d: %.400s", res.status, res.body)
	}
	var out searchBody
	res.json(t, &out)
	if out.TookMS == nil {
		t.Errorf("no took_ms")
	}
	return out
}

func TestAPISearchByText(t *testing.T) {
	f := newFixture(t, Options{})
	check := func(t *testing.T, out searchBody, k int) {
		t.Helper()
		if out.Query.Type != "text" || out.Images == nil || out.Captions != nil || len(*out.Images) != min(k, 8) || out.TopK != k {
			t.Fatalf("response %+v", out)
		}
		for i, h := range *out.Images {
			if h.Rank != i+1 || h.Type != workspace.Images || h.FileURL != fileURL(h.ID) || h.ThumbnailURL != thumbnailURL(h.ID) || len(h.Captions) != 2 {
				t.Errorf("hit %d = %+v", i, h)
			}
		}
	}
	check(t, f.search(t, f.get(t, "/api/v1/search?text=a+red+square&top_k=3")), 3)
	check(t, f.search(t, f.get(t, "/api/v1/search?q=a+red+square")), 10) // the default top_k; 8 images
	check(t, f.search(t, f.postJSON(t, "/api/v1/search", `{"text":"a red square","top_k":4}`)), 4)
	ct, body := multipartBody(t, nil, "text", "a red square", "top_k", "2")
	check(t, f.search(t, f.do(t, "POST", "/api/v1/search", ct, body)), 2)

	// A caption finds itself first among captions.
	out := f.search(t, f.postJSON(t, "/api/v1/search", `{"text":"a picture named 05_la_250x330.png","target":"captions","top_k":1}`))
	c := (*out.Captions)[0]
	if c.Text != "a picture named 05_la_250x330.png" || c.Score < 0.999 || c.Image == nil || c.Image.ID != f.ids["05_la_250x330.png"] || c.FileURL != fileURL(c.Image.ID) {
		t.Errorf("caption hit %+v", c)
	}
	// Both targets.
	out = f.search(t, f.postJSON(t, "/api/v1/search", `{"text":"x","target":"both","top_k":2}`))
	if out.Images == nil || out.Captions == nil || len(*out.Images) != 2 || len(*out.Captions) != 2 {
		t.Errorf("both: %+v", out)
	}

	// Pages: offset skips the best hits, and ranks count on.
	all := *f.search(t, f.get(t, "/api/v1/search?text=a+red+square&top_k=5")).Images
	ct, body = multipartBody(t, nil, "text", "a red square", "top_k", "3", "offset", "2")
	for _, res := range []response{
		f.get(t, "/api/v1/search?text=a+red+square&top_k=3&offset=2"),
		f.postJSON(t, "/api/v1/search", `{"text":"a red square","top_k":3,"offset":2}`),
		f.do(t, "POST", "/api/v1/search", ct, body),
	} {
		out := f.search(t, res)
		if out.Offset != 2 || len(*out.Images) != 3 {
			t.Fatalf("page: %+v", out)
		}
		for i, h := range *out.Images {
			if h.ID != all[i+2].ID || h.Rank != i+3 {
				t.Errorf("page hit %d = %+v, want %+v", i, h.Hit, all[i+2].Hit)
			}
		}
	}

	// Steering: GET and multipart take add and subtract more than once,
	// JSON as lists; all three search alike and say how they steered.
	ct, body = multipartBody(t, nil, "text", "a red square", "add", "wide", "add", "strip", "subtract", "tiny")
	var steered []int64
	for _, res := range []response{
		f.get(t, "/api/v1/search?text=a+red+square&add=wide&add=strip&subtract=tiny"),
		f.postJSON(t, "/api/v1/search", `{"text":"a red square","add":["wide","strip"],"subtract":["tiny"]}`),
		f.do(t, "POST", "/api/v1/search", ct, body),
	} {
		out := f.search(t, res)
		if !slices.Equal(out.Query.Add, []string{"wide", "strip"}) || !slices.Equal(out.Query.Subtract, []string{"tiny"}) {
			t.Errorf("steered query echoed as %+v", out.Query)
		}
		var ids []int64
		for _, h := range *out.Images {
			ids = append(ids, h.ID)
		}
		if steered == nil {
			steered = ids
		} else if !slices.Equal(ids, steered) {
			t.Errorf("steered: %v, then %v", steered, ids)
		}
	}

	// Hybrid: the words of a caption find its image, however the
	// fixture's tiny model ranks it; every way of asking says so.
	ct, body = multipartBody(t, nil, "text", "la 250x330", "hybrid", "true", "top_k", "3")
	for _, res := range []response{
		f.get(t, "/api/v1/search?text=la+250x330&hybrid=1&top_k=3"),
		f.postJSON(t, "/api/v1/search", `{"text":"la 250x330","hybrid":true,"top_k":3}`),
		f.do(t, "POST", "/api/v1/search", ct, body),
	} {
		out := f.search(t, res)
		if !out.Query.Hybrid || out.Images == nil || len(*out.Images) != 3 || (*out.Images)[0].ID != f.ids["05_la_250x330.png"] {
			t.Errorf("hybrid: %+v", out)
		}
	}
}

func TestAPISearchByImage(t *testing.T) {
	f := newFixture(t, Options{})
	png := fixtureBytes(t, "08_rgb_732x672.png")
	wantID := f.ids["08_rgb_732x672.png"]

	// Multipart upload: finds captions by default.
	ct, body := multipartBody(t, png, "top_k", "3")
	out := f.search(t, f.do(t, "POST", "/api/v1/search", ct, body))
	if out.Query.Type != "image" || out.Query.MimeType != "image/png" || out.Query.Width != 732 || out.Query.Height != 672 {
		t.Errorf("query %+v", out.Query)
	}
	if out.Captions == nil || len(*out.Captions) != 3 || out.Images != nil {
		t.Fatalf("multipart: %+v", out)
	}
	// An indexed image finds itself first.
	for name, req := range map[string]any{
		"data URI": map[string]any{"image": dataURI("image/png", png), "target": "images"},
		"base64":   map[string]any{"image": base64.StdEncoding.EncodeToString(png), "target": "images"},
		"url-safe": map[string]any{"image": base64.RawURLEncoding.EncodeToString(png), "target": "images"},
	} {
		out := f.search(t, f.postJSON(t, "/api/v1/search", req))
		if out.Images == nil || (*out.Images)[0].ID != wantID || (*out.Images)[0].Score < 0.999 {
			t.Errorf("%s: %+v", name, out.Images)
		}
	}
	ct, body = multipartBody(t, png, "target", "both", "top_k", "2")
	out = f.search(t, f.do(t, "POST", "/api/v1/search", ct, body))
	if out.Images == nil || out.Captions == nil || (*out.Images)[0].ID != wantID {
		t.Errorf("both: %+v", out)
	}
}

func TestAPISearchByID(t *testing.T) {
	f := newFixture(t, Options{})
	id := f.ids["04_wide_900x60.png"]
	out := f.search(t, f.get(t, fmt.Sprintf("/api/v1/search?id=%d&top_k=100", id)))
	if out.Query.Type != "image_id" || out.Query.ID != id || out.Images == nil || len(*out.Images) != 7 {
		t.Fatalf("response %+v", out)
	}
	for _, h := range *out.Images {
		if h.ID == id {
			t.Errorf("more like this returned the image itself")
		}
	}
	out = f.search(t, f.postJSON(t, "/api/v1/search", map[string]any{"id": id, "target": "captions", "top_k": 2}))
	if out.Captions == nil || len(*out.Captions) != 2 {
		t.Errorf("captions like an image: %+v", out)
	}
	// By caption id: the caption's own image's other caption is a caption
	// like it; the caption itself is left out.
	var doc apiImageBody
	f.get(t, fmt.Sprintf("/api/v1/images/%d", id)).json(t, &doc)
	capID := doc.Captions[0].ID
	out = f.search(t, f.get(t, fmt.Sprintf("/api/v1/search?caption_id=%d&target=captions&top_k=20", capID)))
	if out.Query.Type != "caption_id" || out.Captions == nil || len(*out.Captions) != 15 {
		t.Fatalf("caption_id: %+v", out)
	}
	for _, h := range *out.Captions {
		if h.ID == capID {
			t.Errorf("the caption itself was returned")
		}
	}
	f.get(t, "/api/v1/search?id=999").errorMessage(t, 404)
	f.get(t, "/api/v1/search?caption_id=999").errorMessage(t, 404)
}

func TestAPISearchErrors(t *testing.T) {
	f := newFixture(t, Options{MaxPixels: 1_000_000})
	png := fixtureBytes(t, "03_tiny_17x9.png")
	for _, c := range []struct {
		name, path string
		body       any // nil for GET
		status     int
		want       string
	}{
		{"nothing", "/api/v1/search", nil, 400, "exactly one"},
		{"two queries", "/api/v1/search?text=x&id=1", nil, 400, "exactly one"},
		{"unknown parameter", "/api/v1/search?text=x&limit=3", nil, 400, `unknown parameter "limit"`},
		{"repeated parameter", "/api/v1/search?text=x&text=y", nil, 400, "2 times"},
		{"bad id", "/api/v1/search?id=abc", nil, 400, "not a document id"},
		{"negative id", "/api/v1/search?id=-3", nil, 400, "not a document id"},
		{"bad target", "/api/v1/search?text=x&target=videos", nil, 400, "target"},
		{"bad top_k", "/api/v1/search?text=x&top_k=many", nil, 400, "top_k"},
		{"huge top_k", "/api/v1/search?text=x&top_k=100000", nil, 400, "limit of 1000"},
		{"image by GET", "/api/v1/search?image=abc", nil, 400, "POST"},
		{"empty text", "/api/v1/search?text=%20", nil, 400, "text is empty"},
		{"blank text", "/api/v1/search", `{"text":"   "}`, 400, "text is empty"},
		{"unknown field", "/api/v1/search", `{"text":"x","topk":3}`, 400, `unknown field "topk"`},
		{"wrong type", "/api/v1/search", `{"text":5}`, 400, `"text" must be a string`},
		{"bad JSON", "/api/v1/search", `{"text":`, 400, "invalid JSON"},
		{"bad base64", "/api/v1/search", `{"image":"not base64!"}`, 400, "base64"},
		{"not an image", "/api/v1/search", map[string]string{"image": base64.StdEncoding.EncodeToString([]byte("plain text here"))}, 415, "not a JPEG"},
		{"text URI", "/api/v1/search", map[string]string{"image": "data:text/plain;base64,aGVsbG8="}, 415, "not an image"},
		{"too many pixels", "/api/v1/search", map[string]string{"image": dataURI("image/png", bombPNG(2000, 2000))}, 413, "limit of 1.0 megapixels"},
		{"image and text", "/api/v1/search", map[string]string{"image": dataURI("image/png", png), "text": "x"}, 400, "exactly one"},
		{"unknown id", "/api/v1/search", `{"id":12345}`, 404, "no image with id 12345"},
		{"bad hybrid", "/api/v1/search?text=x&hybrid=maybe", nil, 400, `hybrid "maybe": want true or false`},
		{"bad offset", "/api/v1/search?text=x&offset=two", nil, 400, `offset "two" is not a whole number`},
		{"empty text to add", "/api/v1/search?text=x&add=", nil, 400, "a text to add or subtract: the text is empty"},
		{"add as a string", "/api/v1/search", `{"text":"x","add":"wide"}`, 400, `"add"`},
		{"negative offset", "/api/v1/search", `{"text":"x","offset":-1}`, 400, "offset must be 0 or more"},
		{"offset past the limit", "/api/v1/search?text=x&offset=995&top_k=10", nil, 400, "reach past the limit of 1000"},
		{"hybrid by id", "/api/v1/search?id=1&hybrid=true", nil, 400, "hybrid search takes a text query"},
		{"hybrid as a string", "/api/v1/search", `{"text":"x","hybrid":"yes"}`, 400, `"hybrid" must be`},
		// GET and POST apply the same rules.
		{"zero top_k by GET", "/api/v1/search?text=x&top_k=0", nil, 400, "top_k must be at least 1"},
		{"zero top_k by POST", "/api/v1/search", `{"text":"x","top_k":0}`, 400, "top_k must be at least 1"},
		{"top_k as a string", "/api/v1/search", `{"text":"x","top_k":"5"}`, 400, `"top_k" must be a number`},
		{"zero id", "/api/v1/search", `{"id":0}`, 400, `"id" must be a document id`},
		{"duplicate key", "/api/v1/search", `{"text":"x","text":"y"}`, 400, `field "text" is given twice`},
		{"null", "/api/v1/search", `{"text":null}`, 400, `field "text" is null`},
		{"empty text field", "/api/v1/search", `{"text":""}`, 400, `field "text" is empty`},
		{"oversized by declared size", "/api/v1/search", map[string]string{"image": dataURI("image/png", bombPNG(1<<31-1, 1<<31-1))}, 413, "megapixels"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var res response
			if c.body == nil {
				res = f.get(t, c.path)
			} else {
				res = f.postJSON(t, c.path, c.body)
			}
			if msg := res.errorMessage(t, c.status); !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not say %q", msg, c.want)
			}
		})
	}
	t.Run("content types", func(t *testing.T) {
		for _, c := range []struct{ ct, body string }{
			{"application/x-www-form-urlencoded", "text=x"},
			{"application/xml", "<search><text>x</text></search>"},
			{"image/png", string(png)},
			{"", `{"text":"x"}`},
		} {
			for _, path := range []string{"/api/v1/search", "/api/v1/images", "/search"} {
				if msg := f.do(t, "POST", path, c.ct, strings.NewReader(c.body)).errorMessage(t, 415); !strings.Contains(msg, "application/json") {
					t.Errorf("%s with %q: message %q", path, c.ct, msg)
				}
			}
		}
		// JSON with parameters, and +json types, are JSON.
		for _, ct := range []string{"application/json; charset=utf-8", "application/vnd.api+json"} {
			if res := f.do(t, "POST", "/api/v1/search", ct, strings.NewReader(`{"text":"x"}`)); res.status != 200 {
				t.Errorf("%s: %d %s", ct, res.status, res.body)
			}
		}
	})
	t.Run("multipart errors", func(t *testing.T) {
		ct, body := multipartBody(t, []byte("not an image at all"))
		f.do(t, "POST", "/api/v1/search", ct, body).errorMessage(t, 415)
		ct, body = multipartBody(t, png, "colour", "red")
		if msg := f.do(t, "POST", "/api/v1/search", ct, body).errorMessage(t, 400); !strings.Contains(msg, "colour") {
			t.Errorf("message %q", msg)
		}
		f.do(t, "POST", "/api/v1/search", "multipart/form-data; boundary=xyz", strings.NewReader("garbage")).errorMessage(t, 400)
		f.do(t, "POST", "/api/v1/search", "multipart/form-data", strings.NewReader("garbage")).errorMessage(t, 400)
	})
	t.Run("wrong method", func(t *testing.T) {
		res := f.do(t, "DELETE", "/api/v1/search", "", nil)
		res.errorMessage(t, 405)
		if res.header.Get("Allow") != "GET, HEAD, POST, OPTIONS" {
			t.Errorf("Allow %q", res.header.Get("Allow"))
		}
	})
}

// apiImageBody is GET /api/v1/images/{id}.
type apiImageBody struct {
	workspace.Image
	FileURL      string `json:"file_url"`
	ThumbnailURL string `json:"thumbnail_url"`
}

func TestAPIGetImage(t *testing.T) {
	f := newFixture(t, Options{})
	id := f.ids["02_exif6_320x240.jpg"]
	res := f.get(t, fmt.Sprintf("/api/v1/images/%d", id))
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var doc apiImageBody
	res.json(t, &doc)
	if doc.ID != id || doc.Key != "02_exif6_320x240.jpg" || len(doc.Captions) != 2 || doc.Captions[1].Text != "02_exif6_320x240.jpg seen from afar" || doc.FileURL != fileURL(id) || doc.SHA256 == "" {
		t.Errorf("document %+v", doc)
	}
	f.get(t, "/api/v1/images/999").errorMessage(t, 404)
	f.get(t, "/api/v1/images/abc").errorMessage(t, 400)
	f.get(t, "/api/v1/images/0").errorMessage(t, 400)
	f.do(t, "PUT", fmt.Sprintf("/api/v1/images/%d", id), "", nil).errorMessage(t, 405)
}

func TestAPIImageFile(t *testing.T) {
	f := newFixture(t, Options{})
	for _, name := range []string{"02_exif6_320x240.jpg", "04_wide_900x60.png"} {
		want := fixtureBytes(t, name)
		path := fmt.Sprintf("/api/v1/images/%d/file", f.ids[name])
		res := f.get(t, path)
		if res.status != 200 || !bytes.Equal(res.body, want) {
			t.Fatalf("%s: status %d, %d bytes", name, res.status, len(res.body))
		}
		wantType := map[bool]string{true: "image/jpeg", false: "image/png"}[strings.HasSuffix(name, ".jpg")]
		etag := res.header.Get("ETag")
		if res.header.Get("Content-Type") != wantType || etag != `"`+sha256Hex(want)+`"` || res.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s headers %v", name, res.header)
		}
		if again := f.get(t, path, "If-None-Match", etag); again.status != 304 || len(again.body) != 0 {
			t.Errorf("%s conditional: %d", name, again.status)
		}
		if part := f.get(t, path, "Range", "bytes=0-9"); part.status != 206 || !bytes.Equal(part.body, want[:10]) {
			t.Errorf("%s range: %d", name, part.status)
		}
		if head := f.do(t, "HEAD", path, "", nil); head.status != 200 || head.header.Get("Content-Length") != fmt.Sprint(len(want)) {
			t.Errorf("%s HEAD: %d %v", name, head.status, head.header)
		}
	}
	f.get(t, "/api/v1/images/999/file").errorMessage(t, 404)
	// A file gone from disk is a 404 that says so, and its thumbnail too.
	var doc apiImageBody
	f.get(t, fmt.Sprintf("/api/v1/images/%d", f.ids["03_tiny_17x9.png"])).json(t, &doc)
	if err := os.Remove(doc.Path); err != nil {
		t.Fatal(err)
	}
	if msg := f.get(t, doc.FileURL).errorMessage(t, 404); !strings.Contains(msg, "no longer on disk") {
		t.Errorf("message %q", msg)
	}
	f.get(t, doc.ThumbnailURL).errorMessage(t, 404)
}

func TestAPIThumbnail(t *testing.T) {
	f := newFixture(t, Options{})
	for _, name := range fixtureImages {
		path := thumbnailURL(f.ids[name])
		for _, size := range []int{128, 256, 512} {
			q := ""
			if size != 256 {
				q = fmt.Sprintf("?size=%d", size)
			}
			res := f.get(t, path+q)
			if res.status != 200 || res.header.Get("Content-Type") != "image/jpeg" {
				t.Fatalf("%s: %d %s", name, res.status, res.body)
			}
			img, err := jpeg.Decode(bytes.NewReader(res.body))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
				t.Errorf("%s: thumbnail %v, want %d square", name, b, size)
			}
		}
	}
	path := thumbnailURL(f.ids["08_rgb_732x672.png"])
	first := f.get(t, path)
	again := f.get(t, path)
	if !bytes.Equal(first.body, again.body) || first.header.Get("ETag") == "" {
		t.Errorf("thumbnails differ between requests")
	}
	if res := f.get(t, path, "If-None-Match", first.header.Get("ETag")); res.status != 304 {
		t.Errorf("conditional thumbnail: %d", res.status)
	}
	if hits := f.srv.metrics.thumbHits.Load(); hits == 0 {
		t.Errorf("no cache hits")
	}
	for _, q := range []string{"?size=100", "?size=big", "?width=128", "?size=128&size=256"} {
		f.get(t, path+q).errorMessage(t, 400)
	}
	f.get(t, "/api/v1/images/999/thumbnail").errorMessage(t, 404)
}

func TestThumbCacheEvicts(t *testing.T) {
	c := newThumbCache(100)
	c.put("a", make([]byte, 40))
	c.put("b", make([]byte, 40))
	c.get("a") // a is now the most recent
	c.put("c", make([]byte, 40))
	if _, ok := c.get("b"); ok {
		t.Errorf("b should have been evicted")
	}
	if _, ok := c.get("a"); !ok {
		t.Errorf("a was evicted")
	}
	c.put("huge", make([]byte, 1000))
	if n, size := c.usage(); n != 2 || size != 80 {
		t.Errorf("usage %d entries, %d bytes", n, size)
	}
}

func TestAPIAddAndDelete(t *testing.T) {
	f := newFixture(t, Options{})
	img := makePNG(t, 64, 48, 7)
	ct, body := multipartBody(t, img, "caption", "a gradient of many colours", "caption", "a test card", "caption", " ")
	res := f.do(t, "POST", "/api/v1/images", ct, body)
	if res.status != 201 {
		t.Fatalf("add: %d %s", res.status, res.body)
	}
	var doc apiImageBody
	res.json(t, &doc)
	if res.header.Get("Location") != imageURL(doc.ID) || len(doc.Captions) != 2 || !strings.HasPrefix(doc.Key, "uploads/") {
		t.Fatalf("added %+v, Location %q", doc, res.header.Get("Location"))
	}
	// Searchable at once: by its caption, by its bytes, and by id.
	out := f.search(t, f.postJSON(t, "/api/v1/search", `{"text":"a gradient of many colours","target":"captions","top_k":1}`))
	if (*out.Captions)[0].Image.ID != doc.ID {
		t.Errorf("the new caption is not found first: %+v", out.Captions)
	}
	out = f.search(t, f.postJSON(t, "/api/v1/search", map[string]any{"image": dataURI("image/png", img), "target": "images", "top_k": 1}))
	if (*out.Images)[0].ID != doc.ID {
		t.Errorf("the new image is not found by its bytes")
	}
	if file := f.get(t, doc.FileURL); file.status != 200 || !bytes.Equal(file.body, img) {
		t.Errorf("file of the new image: %d", file.status)
	}
	var stats statsBody
	f.get(t, "/api/v1/stats").json(t, &stats)
	if stats.Searchable.Images != 9 || stats.Workspace.Images != 9 {
		t.Errorf("stats after add: %+v", stats)
	}

	// JSON form.
	res = f.postJSON(t, "/api/v1/images", map[string]any{"image": dataURI("image/png", makePNG(t, 30, 30, 99)), "captions": []string{"json upload"}})
	if res.status != 201 {
		t.Fatalf("JSON add: %d %s", res.status, res.body)
	}

	// Delete.
	path := imageURL(doc.ID)
	if res := f.do(t, "DELETE", path, "", nil); res.status != 200 {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	f.get(t, path).errorMessage(t, 404)
	f.do(t, "DELETE", path, "", nil).errorMessage(t, 404)
	out = f.search(t, f.postJSON(t, "/api/v1/search", `{"text":"a gradient of many colours","target":"captions","top_k":20}`))
	for _, h := range *out.Captions {
		if h.Image.ID == doc.ID {
			t.Errorf("a deleted image's caption is still found")
		}
	}
	if _, err := os.Stat(doc.Path); !os.IsNotExist(err) {
		t.Errorf("the uploaded file was not removed: %v", err)
	}
}

func TestAPIAddErrors(t *testing.T) {
	f := newFixture(t, Options{MaxPixels: 100_000})
	img := makePNG(t, 20, 20, 1)
	for _, c := range []struct {
		name   string
		body   func() (string, *bytes.Buffer)
		status int
		want   string
	}{
		{"no image", func() (string, *bytes.Buffer) { return multipartBody(t, nil, "caption", "x") }, 400, "no image"},
		{"not an image", func() (string, *bytes.Buffer) { return multipartBody(t, []byte("hello there")) }, 415, "not a JPEG"},
		{"too many pixels", func() (string, *bytes.Buffer) { return multipartBody(t, bombPNG(1000, 1000)) }, 413, "megapixels"},
		{"unknown field", func() (string, *bytes.Buffer) { return multipartBody(t, img, "title", "x") }, 400, `"title"`},
		{"long caption", func() (string, *bytes.Buffer) { return multipartBody(t, img, "caption", strings.Repeat("x", 5000)) }, 400, "caption 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ct, body := c.body()
			if msg := f.do(t, "POST", "/api/v1/images", ct, body).errorMessage(t, c.status); !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not say %q", msg, c.want)
			}
		})
	}
	f.postJSON(t, "/api/v1/images", `{"captions":["x"]}`).errorMessage(t, 400)
	f.postJSON(t, "/api/v1/images", `{"image":"AAAA","tags":[]}`).errorMessage(t, 400)
	many := make([]string, 101)
	for i := range many {
		many[i] = "c"
	}
	f.postJSON(t, "/api/v1/images", map[string]any{"image": dataURI("image/png", img), "captions": many}).errorMessage(t, 400)
	f.get(t, "/api/v1/images").errorMessage(t, 405)
}

func TestAPIAddGuards(t *testing.T) {
	t.Run("read-only", func(t *testing.T) {
		f := newFixture(t, Options{ReadOnly: true})
		ct, body := multipartBody(t, makePNG(t, 8, 8, 1))
		if msg := f.do(t, "POST", "/api/v1/images", ct, body).errorMessage(t, 403); !strings.Contains(msg, "read-only") {
			t.Errorf("message %q", msg)
		}
		f.do(t, "DELETE", imageURL(f.ids["03_tiny_17x9.png"]), "", nil).errorMessage(t, 403)
		var stats statsBody
		f.get(t, "/api/v1/stats").json(t, &stats)
		if !stats.ReadOnly {
			t.Errorf("stats do not say read-only")
		}
	})
	t.Run("cross-origin", func(t *testing.T) {
		f := newFixture(t, Options{})
		ct, body := multipartBody(t, makePNG(t, 8, 8, 1))
		res := f.do(t, "POST", "/api/v1/images", ct, body, "Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example")
		if msg := res.errorMessage(t, 403); !strings.Contains(msg, "cross-origin") {
			t.Errorf("message %q", msg)
		}
		f.do(t, "DELETE", imageURL(f.ids["03_tiny_17x9.png"]), "", nil, "Sec-Fetch-Site", "cross-site").errorMessage(t, 403)
		// Same-origin browser requests pass.
		ct, body = multipartBody(t, makePNG(t, 8, 8, 2))
		if res := f.do(t, "POST", "/api/v1/images", ct, body, "Sec-Fetch-Site", "same-origin"); res.status != 201 {
			t.Errorf("same-origin add: %d %s", res.status, res.body)
		}
	})
	t.Run("busy", func(t *testing.T) {
		f := newFixture(t, Options{})
		// Another writer, as `xmodal index` would be, holds the workspace.
		w, err := workspace.Create(f.dir, f.eng.Workspace().Manifest().Model)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ct, body := multipartBody(t, makePNG(t, 8, 8, 1))
		res := f.do(t, "POST", "/api/v1/images", ct, body)
		if msg := res.errorMessage(t, 409); !strings.Contains(msg, "busy") || !strings.Contains(msg, fmt.Sprintf("pid %d (", os.Getpid())) || res.header.Get("Retry-After") == "" {
			t.Errorf("message %q (want busy, naming the writer), headers %v", msg, res.header)
		}
		f.do(t, "DELETE", imageURL(f.ids["03_tiny_17x9.png"]), "", nil).errorMessage(t, 409)
		// Searching goes on meanwhile.
		if res := f.get(t, "/api/v1/search?text=x"); res.status != 200 {
			t.Errorf("search while busy: %d", res.status)
		}
	})
}

// Concurrent adds through the API take turns: every one is confirmed and
// searchable, none gets 409, and the uploads folder holds exactly their
// files.
func TestAPIConcurrentAdds(t *testing.T) {
	f := newFixture(t, Options{})
	const clients, each = 3, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var added []apiImageBody
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ct, body := multipartBody(t, makePNG(t, 20+c, 20+i, uint8(c*each+i)), "caption", fmt.Sprintf("client %d upload %d", c, i))
				res := f.do(t, "POST", "/api/v1/images", ct, body)
				if res.status != http.StatusCreated {
					t.Errorf("add: %d %s", res.status, res.body)
					continue
				}
				var doc apiImageBody
				res.json(t, &doc)
				mu.Lock()
				added = append(added, doc)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(added) != clients*each {
		t.Fatalf("%d of %d adds confirmed", len(added), clients*each)
	}
	want := map[string]bool{}
	for _, doc := range added {
		want[filepath.Base(doc.Path)] = true
		res := f.get(t, fmt.Sprintf("/api/v1/search?id=%d&target=captions&top_k=50", doc.ID))
		if !strings.Contains(string(res.body), doc.Captions[0].Text) {
			t.Errorf("upload %d: its caption %q is not among its matches", doc.ID, doc.Captions[0].Text)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(f.dir, "uploads"))
	got := map[string]bool{}
	for _, e := range entries {
		got[e.Name()] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("uploads folder holds %d files %v, want the %d confirmed uploads", len(got), got, len(want))
	}
}

// TestSearchWhileAnotherProcessIndexes adds documents through a separate
// writer, as `xmodal index` would, and expects the server to find them.
func TestSearchWhileAnotherProcessIndexes(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	w, err := workspace.Create(f.dir, f.eng.Workspace().Manifest().Model)
	if err != nil {
		t.Fatal(err)
	}
	caps := []string{"a late arrival from the indexer"}
	cv, _ := f.model.EncodeTexts(ctx, caps)
	iv, _ := f.model.EncodeTexts(ctx, []string{"its image vector"})
	nn.Normalize(cv[0])
	nn.Normalize(iv[0])
	err = w.Add(ctx, []workspace.NewImage{{Key: "late.png", Path: "/nonexistent/late.png", SHA256: "x", Vector: iv[0], Captions: caps, CaptionVectors: cv}}, nil)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := f.search(t, f.get(t, "/api/v1/search?text="+url.QueryEscape(caps[0])+"&target=captions&top_k=1"))
	if (*out.Captions)[0].Text != caps[0] {
		t.Errorf("the new caption is not found: %+v", out.Captions)
	}
	var stats statsBody
	f.get(t, "/api/v1/stats").json(t, &stats)
	if stats.Searchable.Images != 9 {
		t.Errorf("searchable images %d, want 9", stats.Searchable.Images)
	}
}

type statsBody struct {
	Workspace  workspace.Stats `json:"workspace"`
	Searchable struct {
		Images   int `json:"images"`
		Captions int `json:"captions"`
	} `json:"searchable"`
	Model    workspace.Model `json:"model"`
	ReadOnly bool            `json:"read_only"`
	Limits   map[string]int  `json:"limits"`
}

func TestAPIStats(t *testing.T) {
	f := newFixture(t, Options{})
	var st statsBody
	res := f.get(t, "/api/v1/stats")
	res.json(t, &st)
	if res.status != 200 || st.Workspace.Images != 8 || st.Workspace.Captions != 16 || st.Searchable.Images != 8 || st.Searchable.Captions != 16 {
		t.Errorf("stats %+v", st)
	}
	if st.Model.Name != "model-a" || st.Model.Dim != f.model.Dim() || st.Model.ID == "" || st.Limits["max_top_k"] != 1000 {
		t.Errorf("model %+v, limits %v", st.Model, st.Limits)
	}
	f.postJSON(t, "/api/v1/stats", `{}`).errorMessage(t, 405)
}

func TestAPIDuplicates(t *testing.T) {
	f := newFixture(t, Options{})
	type body struct {
		Threshold float64
		Groups    []struct{ Images []hitDoc }
		TookMS    *float64 `json:"took_ms"`
	}
	get := func(path string) body {
		t.Helper()
		res := f.get(t, path)
		if res.status != 200 {
			t.Fatalf("%s: %d %s", path, res.status, res.body)
		}
		var b body
		res.json(t, &b)
		return b
	}
	if b := get("/api/v1/duplicates?threshold=0.9999"); len(b.Groups) != 0 || b.Threshold != 0.9999 || b.TookMS == nil {
		t.Fatalf("before a copy: %+v", b)
	}
	// The same pixels in other bytes, as a re-saved file has.
	orig := makePNG(t, 64, 48, 9)
	img, err := png.Decode(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&again, img); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(orig, again.Bytes()) {
		t.Fatal("the copy has the same bytes")
	}
	var ids []int64
	for _, data := range [][]byte{orig, again.Bytes()} {
		ct, mp := multipartBody(t, data, "caption", "a copy")
		res := f.do(t, "POST", "/api/v1/images", ct, mp)
		if res.status != 201 {
			t.Fatalf("add: %d %s", res.status, res.body)
		}
		var doc apiImageBody
		res.json(t, &doc)
		ids = append(ids, doc.ID)
	}
	b := get("/api/v1/duplicates?threshold=0.9999")
	if len(b.Groups) != 1 || len(b.Groups[0].Images) != 2 {
		t.Fatalf("after a copy: %+v", b)
	}
	for _, h := range b.Groups[0].Images {
		if !slices.Contains(ids, h.ID) || h.FileURL != fileURL(h.ID) || h.ThumbnailURL != thumbnailURL(h.ID) {
			t.Errorf("group member %+v, want one of %v with its URLs", h, ids)
		}
	}
	for _, c := range []struct{ path, want string }{
		{"/api/v1/duplicates?threshold=2", "want one cosine similarity"},
		{"/api/v1/duplicates?threshold=high", "want one cosine similarity"},
		{"/api/v1/duplicates?limit=3", `unknown parameter \"limit\"`},
	} {
		if res := f.get(t, c.path); res.status != 400 || !strings.Contains(string(res.body), c.want) {
			t.Errorf("%s: %d %s", c.path, res.status, res.body)
		}
	}
}
