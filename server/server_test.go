package server

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHealthAndReady(t *testing.T) {
	f := newFixture(t, Options{})
	for _, path := range []string{"/healthz", "/readyz"} {
		res := f.get(t, path)
		var body map[string]string
		res.json(t, &body)
		if res.status != 200 || (body["status"] != "ok" && body["status"] != "ready") {
			t.Errorf("%s: %d %s", path, res.status, res.body)
		}
	}
	f.postJSON(t, "/healthz", `{}`).errorMessage(t, 405)
}

func TestUnknownPath(t *testing.T) {
	f := newFixture(t, Options{})
	for _, path := range []string{"/nope", "/api/v1/nope", "/api/v2/search", "/api/v1/images/1/nope"} {
		if msg := f.get(t, path).errorMessage(t, 404); !strings.Contains(msg, "no such endpoint") {
			t.Errorf("%s: %q", path, msg)
		}
	}
	f.postJSON(t, "/nope", `{}`).errorMessage(t, 404)
	if res := f.do(t, "BREW", "/search", "", nil); res.status != 405 {
		t.Errorf("BREW: %d", res.status)
	}
}

// metricLine is one sample of the text exposition format.
var metricLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? [-+0-9.eEInf]+$`)

func TestMetrics(t *testing.T) {
	f := newFixture(t, Options{})
	f.postJSON(t, "/search", `{"data":["x"]}`)
	f.postJSON(t, "/search", `{"data":[]}`)
	f.get(t, thumbnailURL(f.ids["08_rgb_732x672.png"]))
	ct, body := multipartBody(t, fixtureBytes(t, "03_tiny_17x9.png"))
	f.do(t, "POST", "/api/v1/search", ct, body)
	res := f.get(t, "/metrics")
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %v", res.status, res.header)
	}
	text := string(res.body)
	for _, want := range []string{
		`xmodal_http_requests_total{route="/search",method="POST",code="200"} 1`,
		`xmodal_http_requests_total{route="/search",method="POST",code="400"} 1`,
		`xmodal_http_request_duration_seconds_count{route="/search"} 2`,
		`xmodal_http_request_duration_seconds_bucket{route="/search",le="+Inf"} 2`,
		`xmodal_encode_duration_seconds_count{kind="text"} 1`,
		`xmodal_encode_duration_seconds_count{kind="image"} 1`,
		`xmodal_encoded_inputs_total{kind="image"} 1`,
		`xmodal_workspace_documents{kind="image"} 8`,
		`xmodal_workspace_documents{kind="caption"} 16`,
		`xmodal_thumbnail_cache_requests_total{result="miss"} 1`,
		`xmodal_ready 1`,
		`# TYPE xmodal_http_request_duration_seconds histogram`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "# ") {
			if strings.HasPrefix(line, "# TYPE ") {
				name := strings.Fields(line)[2]
				if seen[name] {
					t.Errorf("TYPE of %s given twice", name)
				}
				seen[name] = true
			}
			continue
		}
		if !metricLine.MatchString(line) {
			t.Errorf("malformed sample: %q", line)
		}
	}
}

func TestPanicsAreRecovered(t *testing.T) {
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.instrument(srv.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("panic answered %d %s", rec.Code, rec.Body)
	}
	if srv.metrics.panics.Load() != 1 {
		t.Errorf("panic not counted")
	}
	var out strings.Builder
	srv.writeMetrics(context.Background(), &out)
	if !strings.Contains(out.String(), `xmodal_http_requests_total{route="unmatched",method="GET",code="500"} 1`) {
		t.Errorf("the 500 is not in the metrics")
	}
}

func TestUI(t *testing.T) {
	f := newFixture(t, Options{})
	res := f.get(t, "/")
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		t.Fatalf("UI: %d %v", res.status, res.header)
	}
	csp := res.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	page := string(res.body)
	for _, asset := range []string{"/static/app.js", "/static/style.css", "/static/favicon.svg"} {
		if !strings.Contains(page, asset) {
			t.Errorf("page does not load %s", asset)
		}
		a := f.get(t, asset)
		if a.status != 200 || a.header.Get("ETag") == "" {
			t.Errorf("%s: %d", asset, a.status)
		}
		if again := f.get(t, asset, "If-None-Match", a.header.Get("ETag")); again.status != 304 {
			t.Errorf("%s revalidation: %d", asset, again.status)
		}
	}
	if ct := f.get(t, "/static/app.js").header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("app.js Content-Type %q", ct)
	}
	f.get(t, "/static/nope.js").errorMessage(t, 404)
	f.postJSON(t, "/", `{}`).errorMessage(t, 405)
}

// TestUILoadsNothingFromElsewhere scans the embedded UI for absolute URLs:
// it must work without the internet.
func TestUILoadsNothingFromElsewhere(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(\s*['"]?https?:`)
	err := fs.WalkDir(uiFiles, "ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := uiFiles.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range external.FindAllString(string(data), -1) {
			if m == "http://www.w3.org" || strings.HasPrefix(m, "//www.w3.org") || strings.HasSuffix(m, "www.w3.org") {
				continue // the SVG namespace is a name, not a download
			}
			t.Errorf("%s refers to %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenAPIDescribesEveryRoute checks openapi.json against the routing
// table, in both directions.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	f := newFixture(t, Options{})
	res := f.get(t, "/api/v1/openapi.json")
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	res.json(t, &doc)
	if res.status != 200 || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %d, version %q", res.status, doc.OpenAPI)
	}
	docPath := map[string]string{"/{$}": "/", "/static/": "/static/{file}"}
	described := map[string]bool{}
	for _, rt := range f.srv.table() {
		if rt.pattern == "/" {
			continue // the catch-all 404
		}
		p := rt.pattern
		if d, ok := docPath[p]; ok {
			p = d
		}
		described[p] = true
		ops, ok := doc.Paths[p]
		if !ok {
			t.Errorf("openapi.json does not describe %s", p)
			continue
		}
		var methods []string
		for m := range rt.methods {
			methods = append(methods, strings.ToLower(m))
			if _, ok := ops[strings.ToLower(m)]; !ok {
				t.Errorf("openapi.json does not describe %s %s", m, p)
			}
		}
		for op := range ops {
			if op != "parameters" && !slices.Contains(methods, op) {
				t.Errorf("openapi.json describes %s %s, which is not served", op, p)
			}
		}
	}
	for p := range doc.Paths {
		if !described[p] {
			t.Errorf("openapi.json describes %s, which is not served", p)
		}
	}
	// Every $ref resolves.
	var whole map[string]any
	res.json(t, &whole)
	refs := regexp.MustCompile(`"\$ref":\s*"#/([^"]+)"`).FindAllStringSubmatch(string(res.body), -1)
	for _, r := range refs {
		var node any = whole
		for _, part := range strings.Split(r[1], "/") {
			m, ok := node.(map[string]any)
			if !ok || m[part] == nil {
				t.Errorf("unresolved $ref #/%s", r[1])
				break
			}
			node = m[part]
		}
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	f := newFixture(t, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	res, err := http.Post(url+"/search", "application/json", strings.NewReader(`{"data":["x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("search: %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancellation")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Errorf("the server still answers after shutdown")
	}
}

func TestDataURIs(t *testing.T) {
	for _, c := range []struct {
		in     string
		isURI  bool
		mt     string
		data   string
		errors bool
	}{
		{"data:image/png;base64,aGVsbG8=", true, "image/png", "hello", false},
		{"DATA:Image/PNG;BASE64,aGVsbG8", true, "image/png", "hello", false},
		{"data:image/jpeg;name=x.jpg;base64,aGVs\nbG8=", true, "image/jpeg", "hello", false},
		{"data:,hello%20world", true, "text/plain", "hello world", false},
		{"data:text/plain;charset=utf-8,hi", true, "text/plain", "hi", false},
		{"data: the new oil, they say", false, "", "", false},
		{"database,", false, "", "", false},
		{"a boy playing basketball", false, "", "", false},
		{"data:image/png;base64,!!!", true, "", "", true},
	} {
		if got := isDataURI(c.in); got != c.isURI {
			t.Errorf("isDataURI(%q) = %v", c.in, got)
			continue
		}
		if !c.isURI {
			continue
		}
		mt, data, err := parseDataURI(c.in)
		if (err != nil) != c.errors {
			t.Errorf("parseDataURI(%q): %v", c.in, err)
			continue
		}
		if err == nil && (mt != c.mt || string(data) != c.data) {
			t.Errorf("parseDataURI(%q) = %q, %q", c.in, mt, data)
		}
	}
}
