package server

import (
	"fmt"
	"html"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// compatDocBody is a query document of POST /search.
type compatDocBody struct {
	Text      string            `json:"text"`
	URI       string            `json:"uri"`
	MimeType  string            `json:"mimeType"`
	MimeType2 string            `json:"mime_type"`
	Matches   []compatMatchBody `json:"matches"`
}

// compatMatchBody is a match of POST /search.
type compatMatchBody struct {
	ID    string `json:"id"`
	Score struct {
		Value float64 `json:"value"`
	} `json:"score"`
	MimeType  string         `json:"mimeType"`
	MimeType2 string         `json:"mime_type"`
	URI       string         `json:"uri"`
	Text      string         `json:"text"`
	Tags      map[string]any `json:"tags"`
}

// compatBody is the response of POST /search: the Jina 1.x envelope
// (search) and the 2.x one (data), which must hold the same documents.
type compatBody struct {
	Search struct {
		Docs []compatDocBody `json:"docs"`
	} `json:"search"`
	Data struct {
		Docs []compatDocBody `json:"docs"`
	} `json:"data"`
	Status struct {
		Code        string `json:"code"`
		Description string `json:"description"`
	} `json:"status"`
	Error string `json:"error"`
}

// compatResult posts a /search body and checks the envelopes agree.
func compatResult(t *testing.T, f *fixture, body any, status int) compatBody {
	t.Helper()
	res := f.postJSON(t, "/search", body)
	if res.status != status {
		t.Fatalf("status %d, want %d: %.300s", res.status, status, res.body)
	}
	var out compatBody
	res.json(t, &out)
	if !reflect.DeepEqual(out.Search, out.Data) || out.Search.Docs == nil {
		t.Fatalf("the search and data envelopes differ or are missing: %.500s", res.body)
	}
	for _, d := range out.Search.Docs {
		if d.MimeType == "" || d.MimeType != d.MimeType2 {
			t.Errorf("query doc mimeType %q, mime_type %q", d.MimeType, d.MimeType2)
		}
		for _, m := range d.Matches {
			if m.MimeType == "" || m.MimeType != m.MimeType2 {
				t.Errorf("match mimeType %q, mime_type %q", m.MimeType, m.MimeType2)
			}
		}
	}
	return out
}

func TestCompatTextFindsImages(t *testing.T) {
	f := newFixture(t, Options{})
	for name, body := range map[string]string{
		"v1": `{"top_k":5,"mode":"search","data":["a boy playing basketball"]}`,
		"v2": `{"parameters":{"top_k":5},"data":["a boy playing basketball"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			out := compatResult(t, f, body, 200)
			if out.Status.Code != "SUCCESS" || len(out.Search.Docs) != 1 {
				t.Fatalf("response %+v", out)
			}
			doc := out.Search.Docs[0]
			if doc.Text != "a boy playing basketball" || doc.MimeType != "text/plain" || doc.URI != "" {
				t.Errorf("query doc = %+v", doc)
			}
			if len(doc.Matches) != 5 {
				t.Fatalf("%d matches, want 5", len(doc.Matches))
			}
			for i, m := range doc.Matches {
				if i > 0 && m.Score.Value > doc.Matches[i-1].Score.Value {
					t.Errorf("matches not in order of score: %v after %v", m.Score.Value, doc.Matches[i-1].Score.Value)
				}
				if m.Score.Value < -1 || m.Score.Value > 1 {
					t.Errorf("score %v is not a cosine", m.Score.Value)
				}
				id, _ := strconv.ParseInt(m.ID, 10, 64)
				if m.URI != f.ts.URL+"/api/v1/images/"+m.ID+"/file" || id == 0 {
					t.Errorf("match uri %q, id %q", m.URI, m.ID)
				}
				if !strings.HasPrefix(m.MimeType, "image/") || !strings.HasPrefix(m.Text, "a picture named ") {
					t.Errorf("match = %+v", m)
				}
				// The URI works.
				img := f.get(t, strings.TrimPrefix(m.URI, f.ts.URL))
				if img.status != 200 || img.header.Get("Content-Type") != m.MimeType {
					t.Errorf("GET %s: %d %s", m.URI, img.status, img.header.Get("Content-Type"))
				}
			}
		})
	}
}

func TestCompatImageFindsCaptions(t *testing.T) {
	f := newFixture(t, Options{})
	png := fixtureBytes(t, "08_rgb_732x672.png")
	uri := dataURI("image/png", png)
	out := compatResult(t, f, map[string]any{"top_k": 3, "data": []string{uri}}, 200)
	if len(out.Search.Docs) != 1 {
		t.Fatalf("%d docs", len(out.Search.Docs))
	}
	doc := out.Search.Docs[0]
	if doc.URI != uri || doc.MimeType != "image/png" || doc.Text != "" {
		t.Errorf("query doc: uri %d bytes, mimeType %q, text %q", len(doc.URI), doc.MimeType, doc.Text)
	}
	if len(doc.Matches) != 3 {
		t.Fatalf("%d matches", len(doc.Matches))
	}
	for _, m := range doc.Matches {
		if m.MimeType != "text/plain" || m.Text == "" || m.Tags["type"] != "caption" || m.Tags["image_uri"] == nil {
			t.Errorf("caption match = %+v", m)
		}
	}
}

func TestCompatMixedQueriesKeepOrder(t *testing.T) {
	f := newFixture(t, Options{})
	img := dataURI("image/jpeg", fixtureBytes(t, "02_exif6_320x240.jpg"))
	body := map[string]any{
		"top_k": 2,
		"data": []any{
			"first text",
			img,
			map[string]string{"text": "third, as a document"},
			map[string]string{"uri": dataURI("image/png", fixtureBytes(t, "03_tiny_17x9.png")), "mimeType": "image/png"},
		},
		"request_size": 10, // a Jina envelope field: ignored
	}
	out := compatResult(t, f, body, 200)
	if len(out.Search.Docs) != 4 {
		t.Fatalf("%d docs", len(out.Search.Docs))
	}
	d := out.Search.Docs
	if d[0].Text != "first text" || d[1].MimeType != "image/jpeg" || d[2].Text != "third, as a document" || d[3].MimeType != "image/png" {
		t.Errorf("docs out of order: %q %q %q %q", d[0].Text, d[1].MimeType, d[2].Text, d[3].MimeType)
	}
	if d[0].Matches[0].MimeType == "text/plain" || d[1].Matches[0].MimeType != "text/plain" || d[3].Matches[0].MimeType != "text/plain" {
		t.Errorf("texts must find images and images captions")
	}
}

func TestCompatTargetOverride(t *testing.T) {
	f := newFixture(t, Options{})
	res := f.postJSON(t, "/search", `{"parameters":{"top_k":3,"target":"captions"},"data":["a picture named 04_wide_900x60.png"]}`)
	var out compatBody
	res.json(t, &out)
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	m := out.Search.Docs[0].Matches
	if len(m) != 3 || m[0].Text != "a picture named 04_wide_900x60.png" || m[0].Score.Value < 0.999 {
		t.Errorf("a caption searched for finds itself first: %+v", m)
	}
}

// parameters.hybrid makes text queries match words too; an image in the
// same request is searched as usual.
func TestCompatHybrid(t *testing.T) {
	f := newFixture(t, Options{})
	png := fixtureBytes(t, "03_tiny_17x9.png")
	res := f.postJSON(t, "/search", `{"parameters":{"top_k":3,"hybrid":true},"data":["la 250x330","`+dataURI("image/png", png)+`"]}`)
	var out compatBody
	res.json(t, &out)
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	words, image := out.Search.Docs[0].Matches, out.Search.Docs[1].Matches
	if len(words) != 3 || words[0].ID != strconv.FormatInt(f.ids["05_la_250x330.png"], 10) || words[0].Score.Value > 0.1 {
		t.Errorf("hybrid text: %+v, want 05_la_250x330.png first with a fused score", words)
	}
	var alone compatBody
	f.postJSON(t, "/search", `{"parameters":{"top_k":3},"data":["`+dataURI("image/png", png)+`"]}`).json(t, &alone)
	if fmt.Sprint(image) != fmt.Sprint(alone.Search.Docs[0].Matches) {
		t.Errorf("an image beside a hybrid text finds %+v; alone, %+v", image, alone.Search.Docs[0].Matches)
	}
}

func TestCompatDefaultTopK(t *testing.T) {
	f := newFixture(t, Options{})
	f.eng.Limits.DefaultTopK = 3
	res := f.postJSON(t, "/search", `{"data":["x"]}`)
	var out compatBody
	res.json(t, &out)
	if res.status != 200 || len(out.Search.Docs[0].Matches) != 3 {
		t.Fatalf("status %d, body %s", res.status, res.body)
	}
}

func TestCompatCORS(t *testing.T) {
	f := newFixture(t, Options{})
	pre := f.do(t, "OPTIONS", "/search", "", nil,
		"Origin", "http://example.org", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if pre.status != http.StatusNoContent {
		t.Fatalf("preflight status %d", pre.status)
	}
	h := pre.header
	if h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight headers %v", h)
	}
	res := f.postJSON(t, "/search", `{"data":["x"]}`, "Origin", "http://example.org")
	if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("POST: %d, ACAO %q", res.status, res.header.Get("Access-Control-Allow-Origin"))
	}
}

func TestCompatErrors(t *testing.T) {
	f := newFixture(t, Options{MaxBodyBytes: 1 << 20, MaxQueries: 4})
	textURI := dataURI("text/plain", []byte("hello"))
	cases := []struct {
		name, body string
		status     int
		want       string // in the message
	}{
		{"bad JSON", `{"data":["x"`, 400, "invalid JSON"},
		{"syntax", `{"data":[x]}`, 400, "invalid JSON"},
		{"empty body", ``, 400, "empty request body"},
		{"not an object", `["x"]`, 400, "object"},
		{"null", `null`, 400, "null; want an object"},
		{"trailing data", `{"data":["x"]} {}`, 400, "unexpected data"},
		{"no data", `{"top_k":5}`, 400, `"data" is missing`},
		{"empty data", `{"data":[]}`, 400, `"data" is empty`},
		{"data not a list", `{"data":"x"}`, 400, "must be a list"},
		{"data null", `{"data":null}`, 400, `field "data" is null`},
		{"number item", `{"data":[5]}`, 400, "data item 1 must be a string"},
		{"empty text", `{"data":["x","  "]}`, 400, "data item 2 is empty"},
		{"text data URI", `{"data":["` + textURI + `"]}`, 415, "not an image"},
		{"no media type", `{"data":["data:,hello"]}`, 415, "text/plain is not an image"},
		{"bad base64", `{"data":["data:image/png;base64,@@@"]}`, 400, "base64"},
		{"not an image", `{"data":["` + dataURI("image/gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00garbage")) + `"]}`, 400, "data item 1"},
		{"unknown bytes", `{"data":["` + dataURI("image/png", []byte("hello world, plain text")) + `"]}`, 415, "not a JPEG, PNG"},
		{"truncated png", `{"data":["` + dataURI("image/png", fixtureBytes(t, "08_rgb_732x672.png")[:200]) + `"]}`, 400, "data item 1"},
		{"bomb", `{"data":["` + dataURI("image/png", bombPNG(30000, 30000)) + `"]}`, 413, "megapixels"},
		{"url", `{"data":["https://example.org/cat.jpg"]}`, 400, "does not fetch URLs"},
		{"other host's image url", `{"data":["http://example.org/api/v1/images/1/file"]}`, 400, "does not fetch URLs"},
		{"image url with a query", `{"data":["/api/v1/images/1/file?x=1"]}`, 400, "does not fetch URLs"},
		{"image url of another scheme", `{"data":["ftp://127.0.0.1/api/v1/images/1/file"]}`, 400, "does not fetch URLs"},
		{"unknown image", `{"data":["/api/v1/images/999/file"]}`, 404, "data item 1: no image with id 999"},
		{"doc with both", `{"data":[{"text":"a","uri":"data:image/png;base64,AA=="}]}`, 400, "both text and uri"},
		{"doc unknown field", `{"data":[{"blob":"a"}]}`, 400, `unknown field "blob"`},
		{"doc remote uri", `{"data":[{"uri":"http://x/y.jpg"}]}`, 400, "data URI"},
		{"doc uri not a URL", `{"data":[{"uri":"cat.jpg"}]}`, 400, "data URI"},
		{"unknown field", `{"topk":5,"data":["x"]}`, 400, `unknown field "topk"`},
		{"mode index", `{"mode":"index","data":["x"]}`, 400, "not supported"},
		{"negative top_k", `{"top_k":-1,"data":["x"]}`, 400, "at least 1"},
		{"zero top_k", `{"parameters":{"top_k":0},"data":["x"]}`, 400, "at least 1"},
		{"huge top_k", `{"top_k":5000,"data":["x"]}`, 400, "limit of 1000"},
		{"bad top_k", `{"top_k":"five","data":["x"]}`, 400, "whole number"},
		{"top_k as a string", `{"top_k":"5","data":["x"]}`, 400, "whole number"},
		{"parameters.top_k as a string", `{"parameters":{"top_k":"5"},"data":["x"]}`, 400, "whole number"},
		{"duplicate key", `{"data":["x"],"data":["y"]}`, 400, `field "data" is given twice`},
		{"duplicate nested key", `{"parameters":{"top_k":1,"top_k":2},"data":["x"]}`, 400, `field "parameters.top_k" is given twice`},
		{"mode null", `{"mode":null,"data":["x"]}`, 400, `field "mode" is null`},
		{"null item", `{"data":["x",null]}`, 400, `field "data[1]" is null`},
		{"data URI without a comma", `{"data":["data:image/png"]}`, 400, "data URI"},
		{"fractional top_k", `{"top_k":2.5,"data":["x"]}`, 400, "whole number"},
		{"conflicting top_k", `{"top_k":5,"parameters":{"top_k":6},"data":["x"]}`, 400, "twice"},
		{"parameters not object", `{"parameters":[1],"data":["x"]}`, 400, "parameters"},
		{"unknown parameter", `{"parameters":{"limit":3},"data":["x"]}`, 400, "parameters.limit"},
		{"bad target", `{"parameters":{"target":"both"},"data":["x"]}`, 400, "target"},
		{"bad hybrid", `{"parameters":{"hybrid":"yes"},"data":["x"]}`, 400, "parameters.hybrid must be true or false"},
		{"too many queries", `{"data":["a","b","c","d","e"]}`, 400, "limit of 4"},
		{"long text", `{"data":["` + strings.Repeat("word ", 1000) + `"]}`, 400, "above the limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := f.postJSON(t, "/search", c.body).errorMessage(t, c.status)
			if !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not say %q", msg, c.want)
			}
			// Jina Box shows status.description, and reads the docs first.
			out := compatResult(t, f, c.body, c.status)
			if out.Status.Code != "ERROR" || out.Status.Description != html.EscapeString(msg) || len(out.Data.Docs) != 0 {
				t.Errorf("error envelope: status %+v, %d docs", out.Status, len(out.Data.Docs))
			}
		})
	}
	t.Run("oversized body", func(t *testing.T) {
		big := `{"data":["` + strings.Repeat("a", 2<<20) + `"]}`
		msg := f.postJSON(t, "/search", big).errorMessage(t, 413)
		if !strings.Contains(msg, "1 MiB") {
			t.Errorf("message %q", msg)
		}
	})
	t.Run("oversized body without length", func(t *testing.T) {
		// A chunked body has no Content-Length: the cap applies while reading.
		big := `{"data":["` + strings.Repeat("a", 2<<20) + `"]}`
		req, _ := http.NewRequest("POST", f.ts.URL+"/search", struct{ *strings.Reader }{strings.NewReader(big)})
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		res, err := f.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 413 {
			t.Errorf("status %d, want 413", res.StatusCode)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		res := f.get(t, "/search")
		msg := res.errorMessage(t, 405)
		if res.header.Get("Allow") != "POST, OPTIONS" || !strings.Contains(msg, "GET") {
			t.Errorf("Allow %q, message %q", res.header.Get("Allow"), msg)
		}
	})
}

func TestNotReady(t *testing.T) {
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, ts: newTestServer(t, srv)}
	if res := f.get(t, "/healthz"); res.status != 200 {
		t.Errorf("healthz %d", res.status)
	}
	if res := f.get(t, "/readyz"); res.status != 503 || res.header.Get("Retry-After") == "" {
		t.Errorf("readyz %d %v", res.status, res.header)
	}
	for _, path := range []string{"/api/v1/stats", "/api/v1/images/1", "/api/v1/search?text=x"} {
		if msg := f.get(t, path).errorMessage(t, 503); !strings.Contains(msg, "loading") {
			t.Errorf("%s: %q", path, msg)
		}
	}
	f.postJSON(t, "/search", `{"data":["x"]}`).errorMessage(t, 503)
	// The UI and the API description need no engine.
	if res := f.get(t, "/"); res.status != 200 {
		t.Errorf("UI: %d", res.status)
	}
	if res := f.get(t, "/api/v1/openapi.json"); res.status != 200 {
		t.Errorf("openapi: %d", res.status)
	}
	// Becoming ready.
	ready := newFixture(t, Options{})
	srv.SetEngine(ready.eng)
	if res := f.get(t, "/readyz"); res.status != 200 {
		t.Errorf("readyz after SetEngine: %d", res.status)
	}
	if res := f.postJSON(t, "/search", `{"data":["x"]}`); res.status != 200 {
		t.Errorf("search after SetEngine: %d %s", res.status, res.body)
	}
}

func TestScore64(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want string
	}{{0.3125, "0.3125"}, {0.1, "0.1"}, {-0.12192387, "-0.12192387"}} {
		if got := fmt.Sprint(score64(c.in)); got != c.want {
			t.Errorf("score64(%v) = %s", c.in, got)
		}
	}
}

// Jina Box sends a clicked image result's uri back unchanged: the server's
// own image URLs are queries, answered from the stored vector.
func TestCompatOwnImageURLs(t *testing.T) {
	f := newFixture(t, Options{})
	// A server that would see any fetch: the URLs below name its host.
	var fetched []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fetched = append(fetched, r.URL.String()) }))
	defer other.Close()

	const name = "08_rgb_732x672.png"
	id := f.ids[name]
	path := fileURL(id)
	own := f.ts.URL + path
	text := compatResult(t, f, `{"top_k":8,"data":["a picture named 08_rgb_732x672.png"]}`, 200)
	if !slices.ContainsFunc(text.Data.Docs[0].Matches, func(m compatMatchBody) bool { return m.URI == own }) {
		t.Fatalf("no match has the uri %q", own)
	}
	upload := compatResult(t, f, map[string]any{"top_k": 2, "data": []string{dataURI("image/png", fixtureBytes(t, name))}}, 200)
	ref := upload.Data.Docs[0].Matches
	for _, c := range []struct{ name, query, mimeType string }{
		{"absolute file URL", own, "image/png"},
		{"file path", path, "image/png"},
		{"thumbnail", f.ts.URL + thumbnailURL(id) + "?size=128", "image/jpeg"},
		{"as a document", "", "image/png"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var item any = c.query
			if c.query == "" {
				item = map[string]string{"uri": own}
			}
			out := compatResult(t, f, map[string]any{"parameters": map[string]any{"top_k": 2}, "data": []any{item}}, 200)
			doc := out.Data.Docs[0]
			if doc.MimeType2 != c.mimeType || doc.Text != "" || len(doc.Matches) != 2 {
				t.Fatalf("query doc %+v", doc)
			}
			// The stored vector answers as the uploaded image would.
			for j, m := range doc.Matches {
				r := ref[j]
				if m.ID != r.ID || math.Abs(m.Score.Value-r.Score.Value) > 1e-5 || m.MimeType2 != "text/plain" || m.Text != r.Text {
					t.Errorf("match %d: %s %v %q, uploading the image gives %s %v %q", j, m.ID, m.Score.Value, m.Text, r.ID, r.Score.Value, r.Text)
				}
			}
		})
	}
	// "more like this": the image itself is left out.
	out := compatResult(t, f, map[string]any{"parameters": map[string]any{"top_k": 7, "target": "images"}, "data": []string{own}}, 200)
	if m := out.Data.Docs[0].Matches; len(m) != 7 || slices.ContainsFunc(m, func(m compatMatchBody) bool {
		return m.URI == own
	}) {
		t.Errorf("similar images: %+v", m)
	}

	// The same path on another host is that host's, and is never fetched.
	foreign := other.URL + path
	msg := f.postJSON(t, "/search", map[string]any{"data": []string{foreign}}).errorMessage(t, 400)
	if !strings.Contains(msg, "does not fetch URLs") || len(fetched) != 0 {
		t.Errorf("message %q; fetched %v", msg, fetched)
	}
}

// Captions are data: markup in one must reach Jina Box as text, not HTML,
// and a clicked caption (sent back escaped) must search for itself.
func TestCompatEscapesHTML(t *testing.T) {
	f := newFixture(t, Options{})
	evil := `<img src=x onerror="alert(1)"> Tom & Jerry`
	png := fixtureBytes(t, "06_bilevel_161x161.png")
	add := f.postJSON(t, "/api/v1/images", map[string]any{"image": dataURI("image/png", png), "captions": []string{evil}})
	if add.status != http.StatusCreated && add.status != http.StatusOK {
		t.Fatalf("add: %d %s", add.status, add.body)
	}
	find := func(query string) compatBody {
		return compatResult(t, f, map[string]any{"top_k": 1, "parameters": map[string]any{"target": "captions"}, "data": []string{query}}, 200)
	}
	out := find(evil)
	m := out.Data.Docs[0].Matches[0]
	want := `&lt;img src=x onerror=&#34;alert(1)&#34;&gt; Tom &amp; Jerry`
	if m.Text != want || m.Tags["text"] != evil || out.Data.Docs[0].Text != want {
		t.Errorf("match text %q (tags.text %q), query text %q; want %q", m.Text, m.Tags["text"], out.Data.Docs[0].Text, want)
	}
	// Clicked in Jina Box, the escaped text comes back: it finds the same
	// caption with the same score.
	again := find(m.Text).Data.Docs[0].Matches[0]
	if again.ID != m.ID || again.Score != m.Score {
		t.Errorf("the escaped caption finds %s (%v), the raw one %s (%v)", again.ID, again.Score.Value, m.ID, m.Score.Value)
	}
	// An error that quotes the request is escaped in the description.
	res := compatResult(t, f, `{"<b>":1,"data":["x"]}`, 400)
	if strings.Contains(res.Status.Description, "<b>") || !strings.Contains(res.Error, "<b>") {
		t.Errorf("description %q, error %q", res.Status.Description, res.Error)
	}
}
