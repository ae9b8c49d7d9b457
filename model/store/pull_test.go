package store

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const fixture = "../../testdata/clip/model-a"

// fakeHub serves a model folder in the Hugging Face Hub's URL layout:
// /api/models/{repo}/revision/{rev} and /{repo}/resolve/{rev}/{file}.
type fakeHub struct {
	repo  string
	files map[string][]byte
	token string // required bearer token, if set

	mu       sync.Mutex
	requests map[string]int // GETs per file
	ranges   []string       // Range headers received
	// cut makes the first transfer of a file stop after that many bytes.
	cut map[string]int
	// corrupt makes the first n transfers of a file carry flipped bytes.
	corrupt map[string]int
}

func newFakeHub(t *testing.T, repo string) *fakeHub {
	h := &fakeHub{repo: repo, files: map[string][]byte{}, requests: map[string]int{}, cut: map[string]int{}, corrupt: map[string]int{}}
	for _, name := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt", "preprocessor_config.json"} {
		data, err := os.ReadFile(filepath.Join(fixture, name))
		if err != nil {
			t.Fatal(err)
		}
		h.files[name] = data
	}
	h.files["pytorch_model.bin"] = []byte("not fetched")
	return h
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
		http.Error(w, "gated", http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/api/models/"+h.repo+"/revision/main" {
		var siblings []map[string]any
		for name, data := range h.files {
			s := map[string]any{"rfilename": name, "size": len(data)}
			if strings.HasSuffix(name, ".safetensors") {
				sum := sha256.Sum256(data)
				s["lfs"] = map[string]any{"sha256": hex.EncodeToString(sum[:]), "size": len(data)}
			} else {
				blob := sha1.New()
				fmt.Fprintf(blob, "blob %d\x00", len(data))
				blob.Write(data)
				s["blobId"] = hex.EncodeToString(blob.Sum(nil))
			}
			siblings = append(siblings, s)
		}
		json.NewEncoder(w).Encode(map[string]any{"id": h.repo, "siblings": siblings})
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/"+h.repo+"/resolve/main/")
	data, exists := h.files[name]
	if !ok || !exists {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	h.requests[name]++
	if rg := r.Header.Get("Range"); rg != "" {
		h.ranges = append(h.ranges, name+" "+rg)
	}
	cut := h.cut[name]
	delete(h.cut, name)
	bad := h.corrupt[name] > 0
	if bad {
		h.corrupt[name]--
	}
	h.mu.Unlock()
	if bad {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	if cut > 0 {
		// Promise the whole file, send part of it, and drop the connection.
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:cut])
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
}

func pull(t *testing.T, hub *fakeHub, opts PullOptions) (*Store, string, error) {
	t.Helper()
	srv := httptest.NewServer(hub)
	t.Cleanup(srv.Close)
	s := &Store{Dir: t.TempDir()}
	opts.Endpoint = srv.URL
	dir, err := s.Pull(context.Background(), hub.repo, opts)
	return s, dir, err
}

func TestPullFetchesWhatXmodalNeeds(t *testing.T) {
	hub := newFakeHub(t, "openai/clip-tiny")
	var progressCalls int
	s, dir, err := pull(t, hub, PullOptions{Progress: func(string, int64, int64) { progressCalls++ }})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range hub.files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if name == "pytorch_model.bin" {
			if err == nil {
				t.Error("pytorch_model.bin was downloaded")
			}
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs (%v)", name, err)
		}
	}
	if !s.Has("openai/clip-tiny") || progressCalls == 0 {
		t.Errorf("Has = %v, progress calls %d", s.Has("openai/clip-tiny"), progressCalls)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Name != "openai/clip-tiny" || list[0].Bytes < 9e6 {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestPullResumesAnInterruptedTransfer(t *testing.T) {
	hub := newFakeHub(t, "openai/clip-tiny")
	hub.cut["model.safetensors"] = 3 << 20
	_, dir, err := pull(t, hub, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if !bytes.Equal(got, hub.files["model.safetensors"]) {
		t.Error("resumed file differs")
	}
	if len(hub.ranges) != 1 || !strings.HasPrefix(hub.ranges[0], "model.safetensors bytes=") || hub.ranges[0] == "model.safetensors bytes=0-" {
		t.Errorf("ranges = %v, want one resume from the middle", hub.ranges)
	}
}

func TestPullResumesAcrossRuns(t *testing.T) {
	hub := newFakeHub(t, "openai/clip-tiny")
	srv := httptest.NewServer(hub)
	defer srv.Close()
	s := &Store{Dir: t.TempDir()}
	// A first run killed mid-file leaves a .part file behind.
	dir := s.Path(hub.repo)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "model.safetensors.part"), hub.files["model.safetensors"][:1000], 0o644)
	if _, err := s.Pull(context.Background(), hub.repo, PullOptions{Endpoint: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if len(hub.ranges) != 1 || hub.ranges[0] != "model.safetensors bytes=1000-" {
		t.Errorf("ranges = %v", hub.ranges)
	}
	// A second pull finds everything in place and downloads nothing.
	before := hub.requests["model.safetensors"]
	if _, err := s.Pull(context.Background(), hub.repo, PullOptions{Endpoint: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if hub.requests["model.safetensors"] != before {
		t.Error("a complete model was downloaded again")
	}
}

func TestPullRejectsCorruptFiles(t *testing.T) {
	// Corrupt once: detected, fetched again, fine.
	hub := newFakeHub(t, "openai/clip-tiny")
	hub.corrupt["model.safetensors"] = 1
	hub.corrupt["vocab.json"] = 1
	if _, _, err := pull(t, hub, PullOptions{}); err != nil {
		t.Fatalf("one corrupt transfer: %v", err)
	}
	if hub.requests["model.safetensors"] != 2 || hub.requests["vocab.json"] != 2 {
		t.Errorf("requests = %v", hub.requests)
	}
	// Corrupt every time: an error naming the file, and no model.
	hub = newFakeHub(t, "openai/clip-tiny")
	hub.corrupt["model.safetensors"] = 100
	s, _, err := pull(t, hub, PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "model.safetensors") || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("always corrupt: %v", err)
	}
	if s.Has(hub.repo) {
		t.Error("a corrupt model counts as pulled")
	}
}

func TestPullErrors(t *testing.T) {
	hub := newFakeHub(t, "org/gated")
	hub.token = "secret"
	if _, _, err := pull(t, hub, PullOptions{}); err == nil || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Errorf("gated without token: %v", err)
	}
	if _, _, err := pull(t, hub, PullOptions{Token: "secret"}); err != nil {
		t.Errorf("gated with token: %v", err)
	}
	hub = newFakeHub(t, "org/binonly")
	delete(hub.files, "model.safetensors")
	if _, _, err := pull(t, hub, PullOptions{}); err == nil || !strings.Contains(err.Error(), "safetensors") {
		t.Errorf("no safetensors: %v", err)
	}
	s := &Store{Dir: t.TempDir()}
	for _, bad := range []string{"noslash", "a/b/c", "../x", "a/..", "/x"} {
		if _, err := s.Pull(context.Background(), bad, PullOptions{Endpoint: "http://127.0.0.1:1"}); err == nil {
			t.Errorf("Pull(%q): no error", bad)
		}
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	if d, _ := CacheDir(); d != "/tmp/xdg/xmodal" {
		t.Errorf("CacheDir = %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, _ := CacheDir(); d != "/home/u/.cache/xmodal" {
		t.Errorf("CacheDir = %s", d)
	}
}
