package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xmodal/xmodal/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// A database workspace (Debian's PostgreSQL, vectors kept local) answers
// like a folder built from the same data: search, eval, a second index
// run that finds nothing to do, and two serve replicas that agree.
func TestDatabaseWorkspace(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	data := makeFlickrKaggle(t, 20)
	folder := filepath.Join(t.TempDir(), "ws")
	for _, ws := range []string{folder, url} {
		code, out, errOut := xmodal(t, "index", "--data", data, "--workspace", ws, "--model", modelA, "--batch-size", "8", "--vectors", "local", "--json")
		if code != 0 {
			t.Fatalf("index into %s: exit %d: %s", ws, code, errOut)
		}
		if sum := lastJSONLine[indexSummary](t, out); sum.ImagesIndexed != 20 || sum.CaptionsIndexed != 40 || len(sum.Skipped) != 2 {
			t.Fatalf("summary = %+v", sum)
		}
	}
	if code, _, errOut := xmodal(t, "index", "--data", data, "--workspace", url, "--model", modelA, "--json"); code != 0 || !strings.Contains(errOut, "0 added, 20 unchanged") {
		t.Errorf("second index run: exit %d: %s", code, errOut)
	}

	same := func(args ...string) {
		t.Helper()
		var outs []string
		for _, ws := range []string{folder, url} {
			code, out, errOut := xmodal(t, append([]string{args[0], "--workspace", ws}, args[1:]...)...)
			if code != 0 {
				t.Fatalf("%s on %s: exit %d: %s", args[0], ws, code, errOut)
			}
			outs = append(outs, out)
		}
		// Batches commit in the order their images decode, so ids
		// differ; MRR sums in row order, so its last digit may.
		for i := range outs {
			outs[i] = regexp.MustCompile(`"id":\d+,?|(\d\.\d{12})\d+`).ReplaceAllString(outs[i], "$1")
		}
		if outs[0] != outs[1] {
			t.Errorf("%v: the folder says\n%s\nthe database says\n%s", args, outs[0], outs[1])
		}
	}
	same("search", "--text", "picture 3", "--to", "images", "--top-k", "5", "--json")
	same("search", "--image", filepath.Join(data, "Images", "0007.png"), "--to", "captions", "--top-k", "5", "--json")
	same("search", "--text", "another caption", "--to", "captions", "--under", "Images", "--top-k", "3", "--json")
	same("search", "--text", "picture 3", "--hybrid", "--to", "both", "--top-k", "5", "--json")
	same("eval", "--json")
	same("duplicates", "--threshold", "0.9", "--json")

	if code, out, errOut := xmodal(t, "db", "migrate", "--workspace", url); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("db migrate: exit %d: %s%s", code, out, errOut)
	}

	// Two stateless replicas over one database answer alike.
	var bodies, apis []string
	for range 2 {
		api := serveWorkspace(t, url, modelA)
		apis = append(apis, api)
		resp, err := http.Post(api+"/search", "application/json", strings.NewReader(`{"top_k":5,"mode":"search","data":["picture 12"]}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST /search: %d %s", resp.StatusCode, body)
		}
		bodies = append(bodies, strings.ReplaceAll(string(body), api, "API"))
	}
	// The tiny test model ranks at random; what matters is agreement.
	if bodies[0] != bodies[1] || strings.Count(bodies[0], `"key":"Images/`) != 10 {
		t.Errorf("replicas answer\n%s\nand\n%s", bodies[0], bodies[1])
	}

	// An image uploaded through one replica is kept in the database: the
	// other serves its file and thumbnail, finds it, and deletes it.
	png, err := os.ReadFile(filepath.Join(fixtures, "images", "03_tiny_17x9.png"))
	if err != nil {
		t.Fatal(err)
	}
	upload, _ := json.Marshal(map[string]any{"image": "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), "captions": []string{"an uploaded picture"}})
	resp, err := http.Post(apis[0]+"/api/v1/images", "application/json", bytes.NewReader(upload))
	if err != nil {
		t.Fatal(err)
	}
	var added struct {
		ID   int64  `json:"id"`
		Key  string `json:"key"`
		Path string `json:"path"`
	}
	json.NewDecoder(resp.Body).Decode(&added)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(added.Key, "uploads/") || added.Path != "" {
		t.Fatalf("upload: %d %+v", resp.StatusCode, added)
	}
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(apis[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	if code, body := get(fmt.Sprintf("/api/v1/images/%d/file", added.ID)); code != 200 || !bytes.Equal(body, png) {
		t.Errorf("file from the other replica: %d, %d bytes", code, len(body))
	}
	if code, body := get(fmt.Sprintf("/api/v1/images/%d/thumbnail", added.ID)); code != 200 || !bytes.HasPrefix(body, []byte("\xff\xd8")) {
		t.Errorf("thumbnail from the other replica: %d, %q", code, body[:min(len(body), 20)])
	}
	time.Sleep(1100 * time.Millisecond) // the replicas' refresh interval
	if code, body := get("/api/v1/search?q=an+uploaded+picture&target=captions&top_k=1"); code != 200 || !strings.Contains(string(body), added.Key) {
		t.Errorf("search on the other replica: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/api/v1/images/%d", apis[1], added.ID), nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	if code, _ := get(fmt.Sprintf("/api/v1/images/%d/file", added.ID)); code != 404 {
		t.Errorf("file after delete: %d", code)
	}
}

// With pgvector (on PGlite), search happens in SQL: exact search gives the
// folder's results, the HNSW walk's recall is reported by eval, and the
// compatible API answers.
func TestPgvectorWorkspace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PGlite")
	}
	url := pgtest.PGlite(t)
	data := makeFlickrKaggle(t, 20)
	folder := filepath.Join(t.TempDir(), "ws")
	for _, ws := range []string{folder, url} {
		if code, _, errOut := xmodal(t, "index", "--data", data, "--workspace", ws, "--model", modelA, "--batch-size", "8"); code != 0 {
			t.Fatalf("index into %s: exit %d: %s", ws, code, errOut)
		}
	}
	type hit struct {
		Score float64 `json:"score"`
		Text  string  `json:"text"`
	}
	var results [][]hit
	for _, ws := range []string{folder, url} {
		code, out, errOut := xmodal(t, "search", "--workspace", ws, "--exact", "--text", "picture 3", "--to", "captions", "--top-k", "10", "--json")
		if code != 0 {
			t.Fatalf("search %s: exit %d: %s", ws, code, errOut)
		}
		results = append(results, decodeLines[hit](t, out))
	}
	// pgvector sums in another order: scores agree to float32 rounding.
	if len(results[0]) != 10 || len(results[1]) != 10 {
		t.Fatalf("exact search: %d and %d results", len(results[0]), len(results[1]))
	}
	for i, h := range results[0] {
		if p := results[1][i]; p.Text != h.Text || math.Abs(p.Score-h.Score) > 1e-6 {
			t.Errorf("exact search, rank %d: the folder has %+v, pgvector %+v", i+1, h, p)
		}
	}
	// Hybrid search fuses pgvector's ranking with the same keyword index.
	if keys := searchEach(t, []string{folder, url}, "--exact", "--text", "picture 3", "--hybrid", "--top-k", "5", "--json"); keys[0] != keys[1] {
		t.Errorf("hybrid search: the folder finds\n%s\npgvector\n%s", keys[0], keys[1])
	}
	// And so does the duplicate finder, which pgvector's index answers.
	var dups []string
	for _, ws := range []string{folder, url} {
		code, out, errOut := xmodal(t, "duplicates", "--workspace", ws, "--exact", "--threshold", "0.9", "--json")
		if code != 0 || !strings.Contains(out, `"images":[`) {
			t.Fatalf("duplicates in %s: exit %d: %s%s", ws, code, out, errOut)
		}
		dups = append(dups, regexp.MustCompile(`"id":\d+,?|("score":\d\.\d{5})\d*`).ReplaceAllString(out, "$1"))
	}
	if dups[0] != dups[1] {
		t.Errorf("duplicates: the folder finds\n%s\npgvector\n%s", dups[0], dups[1])
	}
	code, out, errOut := xmodal(t, "eval", "--workspace", url, "--ann-recall", "--json")
	if code != 0 || !strings.Contains(out, `"queries":"text→image"`) || !strings.Contains(out, `"recall":`) {
		t.Errorf("eval --ann-recall: exit %d: %s%s", code, out, errOut)
	}
}

// workspace copy moves a workspace from a folder to a database and back,
// resumes where an earlier copy stopped, and the copies answer alike.
func TestWorkspaceCopy(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	data := makeFlickrKaggle(t, 30)
	folder := filepath.Join(t.TempDir(), "ws")
	if code, _, errOut := xmodal(t, "index", "--data", data, "--workspace", folder, "--model", modelA); code != 0 {
		t.Fatalf("index: exit %d: %s", code, errOut)
	}
	back := filepath.Join(t.TempDir(), "back")
	type summary struct{ Images, Present, Captions, Skipped int }
	for _, c := range []struct {
		src, dst string
		want     summary
	}{
		{folder, url, summary{30, 0, 60, 2}},
		{folder, url, summary{0, 30, 0, 2}}, // nothing left to copy
		{url, back, summary{30, 0, 60, 2}},
	} {
		code, out, errOut := xmodal(t, "workspace", "copy", "--vectors", "local", "--json", c.src, c.dst)
		if code != 0 {
			t.Fatalf("copy %s %s: exit %d: %s", c.src, c.dst, code, errOut)
		}
		var got summary
		json.Unmarshal([]byte(out), &got)
		if got != c.want {
			t.Errorf("copy %s %s: %+v, want %+v", c.src, c.dst, got, c.want)
		}
	}
	outs := searchEach(t, []string{folder, url, back}, "--text", "another caption of 4", "--top-k", "5", "--json")
	if outs[0] != outs[1] || outs[0] != outs[2] {
		t.Errorf("the original finds\n%s\nthe database copy\n%s\nthe copy back\n%s", outs[0], outs[1], outs[2])
	}
}

// searchEach runs one xmodal search on each workspace and returns what
// each printed, without document ids: those depend on the order in which
// batches committed.
func searchEach(t *testing.T, workspaces []string, args ...string) []string {
	t.Helper()
	var outs []string
	for _, ws := range workspaces {
		code, out, errOut := xmodal(t, append([]string{"search", "--workspace", ws}, args...)...)
		if code != 0 {
			t.Fatalf("search %s: exit %d: %s", ws, code, errOut)
		}
		outs = append(outs, regexp.MustCompile(`"id":\d+,?`).ReplaceAllString(out, ""))
	}
	return outs
}
