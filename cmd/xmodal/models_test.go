package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModelsPullListAndUse pulls the tiny model from a local server in the
// hub's layout, lists it, and uses it by name.
func TestModelsPullListAndUse(t *testing.T) {
	mux := http.NewServeMux()
	files := []string{"config.json", "model.safetensors", "vocab.json", "merges.txt", "preprocessor_config.json"}
	mux.HandleFunc("/api/models/acme/tiny-clip/revision/main", func(w http.ResponseWriter, r *http.Request) {
		var siblings []map[string]any
		for _, f := range files {
			st, _ := os.Stat(filepath.Join(modelA, f))
			siblings = append(siblings, map[string]any{"rfilename": f, "size": st.Size()})
		}
		json.NewEncoder(w).Encode(map[string]any{"siblings": siblings})
	})
	mux.Handle("/acme/tiny-clip/resolve/main/", http.StripPrefix("/acme/tiny-clip/resolve/main/", http.FileServer(http.Dir(modelA))))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HF_ENDPOINT", srv.URL)

	code, _, errOut := xmodal(t, "embed", "--model", "acme/tiny-clip", "--text", "x")
	if code != 1 || !strings.Contains(errOut, "xmodal models pull acme/tiny-clip") {
		t.Errorf("before pulling: exit %d, %s", code, errOut)
	}
	code, out, errOut := xmodal(t, "models", "pull", "acme/tiny-clip")
	if code != 0 {
		t.Fatalf("pull: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "model.safetensors") {
		t.Errorf("no progress: %s", errOut)
	}
	dir := strings.TrimSpace(out)
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	code, out, _ = xmodal(t, "models", "list", "--json")
	if code != 0 || !strings.Contains(out, `"name":"acme/tiny-clip"`) {
		t.Errorf("list: %s", out)
	}
	code, out, errOut = xmodal(t, "embed", "--model", "acme/tiny-clip", "--text", "x")
	if code != 0 || !strings.Contains(out, `"embedding"`) {
		t.Errorf("embed with a pulled model: exit %d, %s", code, errOut)
	}
}
