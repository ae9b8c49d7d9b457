package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// compatBody is the response of POST /search.
type compatBody struct {
	Search struct {
		Docs []struct {
			Text     string `json:"text"`
			URI      string `json:"uri"`
			MimeType string `json:"mimeType"`
			Matches  []struct {
				ID    string `json:"id"`
				Score struct {
					Value float64 `json:"value"`
				} `json:"score"`
				MimeType string         `json:"mimeType"`
				URI      string         `json:"uri"`
				Text     string         `json:"text"`
				Tags     map[string]any `json:"tags"`
			} `json:"matches"`
		} `json:"docs"`
	} `json:"search"`
	Status struct {
		Code string `json:"code"`
	} `json:"status"`
}

func TestCompatTextFindsImages(t *testing.T) {
	f := newFixture(t, Options{})
	for name, body := range map[string]string{
		"v1": `{"top_k":5,"mode":"search","data":["a boy playing basketball"]}`,
		"v2": `{"parameters":{"top_k":5},"data":["a boy playing basketball"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			res := f.postJSON(t, "/search", body)
			if res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			var out compatBody
			res.json(t, &out)
			if out.Status.Code != "SUCCESS" || len(out.Search.Docs) != 1 {
				t.Fatalf("response %s", res.body)
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
	res := f.postJSON(t, "/search", map[string]any{"top_k": 3, "data": []string{uri}})
	var out compatBody
	res.json(t, &out)
	if res.status != 200 || len(out.Search.Docs) != 1 {
		t.Fatalf("status %d: %.300s", res.status, res.body)
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
	res := f.postJSON(t, "/search", body)
	var out compatBody
	res.json(t, &out)
	if res.status != 200 || len(out.Search.Docs) != 4 {
		t.Fatalf("status %d: %.300s", res.status, res.body)
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
	res := f.postJSON(t, "/search", `{"parameters":{"top_k":"3","target":"captions"},"data":["a picture named 04_wide_900x60.png"]}`)
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

func TestCompatDefaultTopK(t *testing.T) {
	f := newFixture(t, Options{DefaultTopK: 3})
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
		{"null", `null`, 400, "JSON object"},
		{"trailing data", `{"data":["x"]} {}`, 400, "unexpected data"},
		{"no data", `{"top_k":5}`, 400, `"data" is missing`},
		{"empty data", `{"data":[]}`, 400, `"data" is empty`},
		{"data not a list", `{"data":"x"}`, 400, "must be a list"},
		{"data null", `{"data":null}`, 400, "must be a list"},
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
		{"doc with both", `{"data":[{"text":"a","uri":"data:image/png;base64,AA=="}]}`, 400, "both text and uri"},
		{"doc unknown field", `{"data":[{"blob":"a"}]}`, 400, `unknown field "blob"`},
		{"doc remote uri", `{"data":[{"uri":"http://x/y.jpg"}]}`, 400, "data URI"},
		{"unknown field", `{"topk":5,"data":["x"]}`, 400, `unknown field "topk"`},
		{"mode index", `{"mode":"index","data":["x"]}`, 400, "not supported"},
		{"negative top_k", `{"top_k":-1,"data":["x"]}`, 400, "at least 1"},
		{"zero top_k", `{"parameters":{"top_k":0},"data":["x"]}`, 400, "at least 1"},
		{"huge top_k", `{"top_k":5000,"data":["x"]}`, 400, "limit of 1000"},
		{"bad top_k", `{"top_k":"five","data":["x"]}`, 400, "whole number"},
		{"fractional top_k", `{"top_k":2.5,"data":["x"]}`, 400, "whole number"},
		{"conflicting top_k", `{"top_k":5,"parameters":{"top_k":6},"data":["x"]}`, 400, "twice"},
		{"parameters not object", `{"parameters":[1],"data":["x"]}`, 400, "parameters"},
		{"unknown parameter", `{"parameters":{"limit":3},"data":["x"]}`, 400, "parameters.limit"},
		{"bad target", `{"parameters":{"target":"both"},"data":["x"]}`, 400, "target"},
		{"too many queries", `{"data":["a","b","c","d","e"]}`, 400, "limit of 4"},
		{"long text", `{"data":["` + strings.Repeat("word ", 1000) + `"]}`, 400, "above the limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := f.postJSON(t, "/search", c.body).errorMessage(t, c.status)
			if !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not say %q", msg, c.want)
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
