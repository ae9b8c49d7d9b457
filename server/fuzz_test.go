package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzRequest posts body to path in-process and checks what every answer
// must be: never a 5xx, always JSON, an error with a message.
func fuzzRequest(t *testing.T, h http.Handler, path, body string) {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %q: Content-Type %q", path, body, ct)
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %q: the answer is not JSON: %v", path, body, err)
	}
	if rec.Code >= 400 && out["error"] == nil {
		t.Fatalf("%s %q: %d without an error message", path, body, rec.Code)
	}
}

// FuzzCompatRequest feeds POST /search arbitrary bodies.
func FuzzCompatRequest(f *testing.F) {
	fx := newFixture(f, Options{MaxQueries: 4, MaxPixels: 1 << 16}) // small images keep each input fast
	fx.eng.Limits.MaxTopK = 50
	png := dataURI("image/png", makePNG(f, 9, 7, 3))
	for _, s := range []string{
		`{"top_k":5,"mode":"search","data":["a boy playing basketball"]}`,
		`{"data":["a dog"],"parameters":{"top_k":16},"mode":"search"}`,
		`{"data":["` + png + `"]}`,
		`{"data":[{"uri":"/api/v1/images/1/file"},{"text":"x"}],"parameters":{"target":"images"}}`,
		`{"data":["http://example.org/a.jpg"]}`,
		`{"data":["data:image/png"],"top_k":"5","mode":null}`,
		`{"data":["x"],"data":["y"]}`,
		`{"data":["a dog","` + png + `"],"parameters":{"hybrid":true,"top_k":3}}`,
	} {
		f.Add(s)
	}
	h := fx.srv.Handler()
	f.Fuzz(func(t *testing.T, body string) { fuzzRequest(t, h, "/search", body) })
}

// FuzzAPIRequest feeds the native API's JSON bodies arbitrary input: the
// search, and the add (whose successes are kept: the workspace grows).
func FuzzAPIRequest(f *testing.F) {
	fx := newFixture(f, Options{MaxPixels: 1 << 16})
	fx.eng.Limits.MaxTopK = 50
	png := dataURI("image/png", makePNG(f, 9, 7, 3))
	for _, s := range []string{
		`{"text":"a dog","top_k":3}`, `{"id":1,"target":"both"}`, `{"caption_id":2}`, `{"image":"` + png + `"}`,
		`{"text":"x","top_k":0}`, `{"text":null}`, `{"image":"data:image/png;base64,AAAA","captions":["a"]}`,
		`{"text":"a picture named 05","hybrid":true,"target":"both","offset":2,"top_k":3}`,
		`{"id":1,"add":["wide"],"subtract":["tiny"],"offset":1}`, `{"text":"x","split":"test","under":"a/b","hybrid":true}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	h := fx.srv.Handler()
	f.Fuzz(func(t *testing.T, body string, add bool) {
		path := "/api/v1/search"
		if add {
			path = "/api/v1/images"
		}
		fuzzRequest(t, h, path, body)
	})
}
