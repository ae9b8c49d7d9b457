package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The CLI and the server are shells over one engine: the same queries get
// the same hits through `xmodal search` and through the native API.
func TestCLIAndServerAgree(t *testing.T) {
	ws := indexFixtures(t)
	api := serveWorkspace(t, ws, modelA)
	image := filepath.Join(fixtures, "images", "08_rgb_732x672.png")
	imageBytes, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	type hit struct {
		ID    int64   `json:"id"`
		Type  string  `json:"type"`
		Score float64 `json:"score"`
	}
	for _, c := range []struct {
		name string
		cli  []string
		api  map[string]any
	}{
		{"text", []string{"--text", "a wide strip"}, map[string]any{"text": "a wide strip"}},
		{"text to captions", []string{"--text", "a wide strip", "--to", "captions", "--top-k", "2"}, map[string]any{"text": "a wide strip", "target": "captions", "top_k": 2}},
		{"image", []string{"--image", image}, map[string]any{"image": "data:image/png;base64," + b64(imageBytes)}},
		{"image to images", []string{"--image", image, "--to", "images"}, map[string]any{"image": "data:image/png;base64," + b64(imageBytes), "target": "images"}},
		{"more like this", []string{"--id", "2"}, map[string]any{"id": 2}},
		{"caption to both", []string{"--caption-id", "1", "--to", "both"}, map[string]any{"caption_id": 1, "target": "both"}},
		{"hybrid", []string{"--text", "a wide strip", "--hybrid", "--to", "both"}, map[string]any{"text": "a wide strip", "hybrid": true, "target": "both"}},
		{"a page", []string{"--text", "a wide strip", "--offset", "2", "--top-k", "3"}, map[string]any{"text": "a wide strip", "offset": 2, "top_k": 3}},
		{"steered", []string{"--id", "2", "--add", "wide", "--add", "red", "--subtract", "tiny"}, map[string]any{"id": 2, "add": []string{"wide", "red"}, "subtract": []string{"tiny"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := xmodal(t, append([]string{"search", "--workspace", ws, "--model", modelA, "--json"}, c.cli...)...)
			if code != 0 {
				t.Fatalf("xmodal search: exit %d: %s", code, errOut)
			}
			cliHits := decodeLines[hit](t, out)

			body, _ := json.Marshal(c.api)
			resp, err := http.Post(api+"/api/v1/search", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var res struct{ Images, Captions []hit }
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
				t.Fatalf("POST /api/v1/search: %d %v", resp.StatusCode, err)
			}
			apiHits := append(res.Images, res.Captions...)
			if len(cliHits) == 0 || len(cliHits) != len(apiHits) {
				t.Fatalf("the CLI gives %d hits, the API %d", len(cliHits), len(apiHits))
			}
			for i := range cliHits {
				if cliHits[i] != apiHits[i] {
					t.Errorf("hit %d: CLI %+v, API %+v", i, cliHits[i], apiHits[i])
				}
			}
		})
	}
	// A GET with the query string is the same search.
	resp, err := http.Get(api + "/api/v1/search?" + url.Values{"text": {"a wide strip"}}.Encode())
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v %v", resp, err)
	}
	resp.Body.Close()

	// For people, a hybrid search's table shows both halves' ranks.
	code, out, errOut := xmodal(t, "search", "--workspace", ws, "--model", modelA, "--text", "a wide strip", "--hybrid", "--top-k", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !regexp.MustCompile(`^rank +score +model +words +id +result$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^1 +0\.0\d{3} +(\d+|-) +(\d+|-) +\d+ +/`).MatchString(lines[1]) {
		t.Errorf("hybrid table: exit %d:\n%s%s", code, out, errOut)
	}
}

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }
