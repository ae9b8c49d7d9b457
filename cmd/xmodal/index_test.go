package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xmodal/xmodal/workspace"
)

// makeFlickrKaggle writes n small images and two captions each in the
// layout of Flickr8k on Kaggle, plus a corrupt and an empty image.
func makeFlickrKaggle(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "Images"), 0o755)
	rng := rand.New(rand.NewPCG(1, 2))
	var captions strings.Builder
	captions.WriteString("image,caption\n")
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 40+i%17, 30+i%11))
		base := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
		for y := range img.Rect.Dy() {
			for x := range img.Rect.Dx() {
				img.Set(x, y, color.RGBA{base.R + uint8(x), base.G + uint8(y), base.B, 255})
			}
		}
		name := fmt.Sprintf("%04d.png", i)
		f, _ := os.Create(filepath.Join(dir, "Images", name))
		png.Encode(f, img)
		f.Close()
		fmt.Fprintf(&captions, "%s,\"picture %d, with a \"\"quote\"\"\"\n%s,another caption of %d\n", name, i, name, i)
	}
	os.WriteFile(filepath.Join(dir, "Images", "corrupt.jpg"), []byte("\xff\xd8\xff\xe0 not really a jpeg"), 0o644)
	os.WriteFile(filepath.Join(dir, "Images", "empty.png"), nil, 0o644)
	captions.WriteString("corrupt.jpg,a broken file\nempty.png,nothing at all\n")
	os.WriteFile(filepath.Join(dir, "captions.txt"), []byte(captions.String()), 0o644)
	return dir
}

type indexSummary struct {
	ImagesIndexed   int `json:"images_indexed"`
	CaptionsIndexed int `json:"captions_indexed"`
	Skipped         []struct {
		File   string `json:"file"`
		Reason string `json:"reason"`
	} `json:"skipped"`
}

func lastJSONLine[T any](t *testing.T, out string) T {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var v T
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &v); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	return v
}

func TestIndexSearchEval(t *testing.T) {
	data := makeFlickrKaggle(t, 20)
	ws := filepath.Join(t.TempDir(), "ws")
	code, out, errOut := xmodal(t, "index", "--data", data, "--workspace", ws, "--model", modelA, "--batch-size", "8", "--json")
	if code != 0 {
		t.Fatalf("index: exit %d: %s", code, errOut)
	}
	sum := lastJSONLine[indexSummary](t, out)
	if sum.ImagesIndexed != 20 || sum.CaptionsIndexed != 40 || len(sum.Skipped) != 2 {
		t.Fatalf("summary = %+v", sum)
	}
	for _, s := range sum.Skipped {
		// The reason is for people: no Go package names in it.
		if !strings.Contains(s.File, "corrupt.jpg") && !strings.Contains(s.File, "empty.png") || s.Reason == "" || strings.Contains(s.Reason, "imageio") {
			t.Errorf("skipped %+v", s)
		}
	}
	if !strings.Contains(errOut, "20/22 images") && !strings.Contains(errOut, "22/22 images") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}

	// Search without --model: the workspace knows its model.
	code, out, errOut = xmodal(t, "search", "--workspace", ws, "--text", "picture 3, with a \"quote\"", "--to", "captions", "--top-k", "3", "--json")
	if code != 0 {
		t.Fatalf("search: exit %d: %s", code, errOut)
	}
	type hit struct {
		Rank  int     `json:"rank"`
		Score float64 `json:"score"`
		Type  string  `json:"type"`
		Text  string  `json:"text"`
		Image struct {
			Path string `json:"path"`
		} `json:"image"`
	}
	hits := decodeLines[hit](t, out)
	if len(hits) != 3 || hits[0].Type != "caption" || hits[0].Text != `picture 3, with a "quote"` || hits[0].Score < 0.9999 || !strings.HasSuffix(hits[0].Image.Path, "0003.png") {
		t.Errorf("hits = %+v", hits)
	}
	code, out, _ = xmodal(t, "search", "--workspace", ws, "--image", filepath.Join(data, "Images", "0007.png"), "--to", "images", "--top-k", "1", "--json")
	if img := decodeLines[map[string]any](t, out); code != 0 || !strings.HasSuffix(img[0]["path"].(string), "0007.png") {
		t.Errorf("image search: exit %d, %v", code, img)
	}

	code, out, errOut = xmodal(t, "eval", "--workspace", ws, "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var res struct {
		Images, Captions int
		TextToImage      struct{ R1, R10, MedR float64 } `json:"text_to_image"`
	}
	json.Unmarshal([]byte(out), &res)
	if res.Images != 20 || res.Captions != 40 || res.TextToImage.R10 <= 0 {
		t.Errorf("eval = %+v", res)
	}

	// --ranks: one line per query, and R@1 recomputed from them is the
	// R@1 printed beside them.
	ranksFile := filepath.Join(t.TempDir(), "ranks.jsonl")
	code, out, errOut = xmodal(t, "eval", "--workspace", ws, "--ranks", ranksFile, "--json")
	if code != 0 {
		t.Fatalf("eval --ranks: exit %d: %s", code, errOut)
	}
	json.Unmarshal([]byte(out), &res)
	qs := decodeLines[struct {
		Direction, Query, Image string
		Rank                    int
		Top                     []string
	}](t, string(mustRead(t, ranksFile)))
	var t2i, firsts int
	for _, q := range qs {
		if q.Direction != "text_to_image" {
			continue
		}
		t2i++
		if q.Rank == 1 {
			firsts++
			if len(q.Top) != 5 || q.Top[0] != q.Image {
				t.Errorf("rank 1 but top %v for image %s", q.Top, q.Image)
			}
		}
	}
	if len(qs) != 60 || t2i != 40 || 100*float64(firsts)/40 != res.TextToImage.R1 {
		t.Errorf("%d lines, %d captions, %d at rank 1; eval says R@1 %.1f", len(qs), t2i, firsts, res.TextToImage.R1)
	}
	if code, _, errOut = xmodal(t, "eval", "--workspace", ws, "--ranks", ranksFile, "--folds", "2"); code != 2 || !strings.Contains(errOut, "--folds") {
		t.Errorf("--ranks with --folds: exit %d, %s", code, errOut)
	}

	// --ci: the same recalls, each inside its bootstrap interval.
	code, out, errOut = xmodal(t, "eval", "--workspace", ws, "--ci", "--json")
	var withCI struct {
		TextToImage struct{ R1, R10 float64 } `json:"text_to_image"`
		CI95        *struct {
			Samples, Clusters int
			TextToImage       struct{ R1, R10 struct{ Lo, Hi float64 } } `json:"text_to_image"`
		}
	}
	if err := json.Unmarshal([]byte(out), &withCI); code != 0 || err != nil || withCI.CI95 == nil {
		t.Fatalf("eval --ci: exit %d, %v, %s%s", code, err, out, errOut)
	}
	if iv := withCI.CI95; iv.Samples != 10000 || iv.Clusters < 1 || iv.Clusters > 20 ||
		iv.TextToImage.R1.Lo > res.TextToImage.R1 || iv.TextToImage.R1.Hi < res.TextToImage.R1 ||
		iv.TextToImage.R10.Lo > res.TextToImage.R10 || iv.TextToImage.R10.Hi < res.TextToImage.R10 ||
		withCI.TextToImage.R1 != res.TextToImage.R1 {
		t.Errorf("eval --ci = %+v, recalls %+v", withCI, res.TextToImage)
	}
	if code, _, errOut = xmodal(t, "eval", "--workspace", ws, "--ci", "--folds", "2"); code != 2 || !strings.Contains(errOut, "--folds") {
		t.Errorf("--ci with --folds: exit %d, %s", code, errOut)
	}

	// --compare: a ranks file against itself differs by nothing; against a
	// copy that ranks every caption first, by what A missed.
	allFirst := filepath.Join(t.TempDir(), "first.jsonl")
	short := filepath.Join(t.TempDir(), "short.jsonl")
	lines := strings.SplitAfter(strings.TrimSpace(string(mustRead(t, ranksFile))), "\n")
	os.WriteFile(allFirst, []byte(regexp.MustCompile(`"rank":\d+`).ReplaceAllString(strings.Join(lines, ""), `"rank":1`)), 0o644)
	os.WriteFile(short, []byte(strings.Join(lines[1:], "")), 0o644)
	for _, tc := range []struct {
		b          string
		diff, lo   float64
		wantDiffer bool
	}{
		{ranksFile, 0, 0, false},
		{allFirst, 100 - res.TextToImage.R1, 0, true},
	} {
		code, out, errOut = xmodal(t, "eval", "--compare", "--json", ranksFile, tc.b)
		var cmp struct {
			Samples     int
			TextToImage struct {
				Queries int
				Recalls []struct {
					K          int
					A, B, Diff float64
					DiffCI     struct{ Lo, Hi float64 } `json:"diff_ci95"`
				}
			} `json:"text_to_image"`
		}
		if err := json.Unmarshal([]byte(out), &cmp); code != 0 || err != nil || len(cmp.TextToImage.Recalls) != 3 {
			t.Fatalf("eval --compare %s: exit %d, %v, %s%s", tc.b, code, err, out, errOut)
		}
		r1 := cmp.TextToImage.Recalls[0]
		if cmp.Samples != 10000 || cmp.TextToImage.Queries != 40 || r1.A != res.TextToImage.R1 || math.Abs(r1.Diff-tc.diff) > 1e-9 ||
			(r1.DiffCI.Lo > 0) != tc.wantDiffer || r1.DiffCI.Lo > r1.Diff || r1.DiffCI.Hi < r1.Diff {
			t.Errorf("eval --compare %s: %+v; want R@1 A %.1f, B − A %.1f", tc.b, cmp, res.TextToImage.R1, tc.diff)
		}
	}
	if code, out, _ = xmodal(t, "eval", "--compare", ranksFile, allFirst); code != 0 || !strings.Contains(out, "R@10") || !strings.Contains(out, "cannot tell A from B") {
		t.Errorf("eval --compare as text: exit %d, %s", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--compare", ranksFile, short}, 1, "not the same evaluation"},
		{[]string{"--compare", ranksFile, filepath.Join(fixtures, "model-a", "config.json")}, 1, "config.json:1"},
		{[]string{"--compare", ranksFile}, 2, "two ranks files"},
		{[]string{"--workspace", ws, "--compare", ranksFile, ranksFile}, 2, "no workspace"},
		{[]string{"--workspace", ws, ranksFile}, 2, "unexpected argument"},
	} {
		if code, _, errOut = xmodal(t, append([]string{"eval"}, tc.args...)...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("eval %v: exit %d, %s; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}

	// A model other than the workspace's is refused with a clear message.
	code, _, errOut = xmodal(t, "search", "--workspace", ws, "--model", filepath.Join(fixtures, "model-b-gelu"), "--text", "x")
	if code != 1 || !strings.Contains(errOut, "was built with the clip model") {
		t.Errorf("other model: exit %d, %s", code, errOut)
	}

	// Incremental: a new image is added, a deleted one pruned, the rest
	// left alone.
	os.Remove(filepath.Join(data, "Images", "0000.png"))
	os.WriteFile(filepath.Join(data, "captions.txt"), append(mustRead(t, filepath.Join(data, "captions.txt")), []byte("0000b.png,a new one\n")...), 0o644)
	copyFile(t, filepath.Join(data, "Images", "0001.png"), filepath.Join(data, "Images", "0000b.png"))
	code, out, errOut = xmodal(t, "index", "--data", data, "--workspace", ws, "--model", modelA, "--prune", "--json")
	if code != 0 {
		t.Fatalf("re-index: %s", errOut)
	}
	sum = lastJSONLine[indexSummary](t, out)
	if sum.ImagesIndexed != 20 || sum.CaptionsIndexed != 39 || !strings.Contains(errOut, "1 added, 19 unchanged, 1 pruned") {
		t.Errorf("after changes: %+v\n%s", sum, errOut)
	}
}

func mustRead(t *testing.T, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func copyFile(t *testing.T, from, to string) {
	if err := os.WriteFile(to, mustRead(t, from), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKillAndResume kills an index run with SIGKILL in the middle, runs it
// again, and checks that the result equals an uninterrupted run's.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	data := makeFlickrKaggle(t, 300)
	index := func(ws string) *exec.Cmd {
		return exec.Command(bin, "index", "--data", data, "--workspace", ws, "--model", modelA, "--batch-size", "4", "--json")
	}

	reference := filepath.Join(t.TempDir(), "reference")
	out, err := index(reference).Output()
	if err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}
	want := lastJSONLine[indexSummary](t, string(out))

	ws := filepath.Join(t.TempDir(), "ws")
	for kill := 0; kill < 3; kill++ {
		cmd := index(ws)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill as soon as more has been committed than before.
		before := committedRows(ws)
		deadline := time.Now().Add(30 * time.Second)
		for committedRows(ws) <= before && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	interrupted := committedRows(ws)
	out, err = index(ws).Output()
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	got := lastJSONLine[indexSummary](t, string(out))
	if got.ImagesIndexed != want.ImagesIndexed || got.CaptionsIndexed != want.CaptionsIndexed || len(got.Skipped) != len(want.Skipped) {
		t.Errorf("resumed run: %+v, uninterrupted: %+v", got, want)
	}
	if interrupted == 0 || interrupted >= want.ImagesIndexed {
		t.Logf("the kills landed at %d of %d images", interrupted, want.ImagesIndexed)
	}
	// No image was indexed twice: rows equal documents.
	r, err := workspace.Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, _ := r.Rows(workspace.Images)
	if rows != want.ImagesIndexed {
		t.Errorf("%d image rows for %d images: work was redone", rows, want.ImagesIndexed)
	}
	// The same images have the same vectors as in the uninterrupted run.
	ref, err := workspace.Open(reference)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, key := range []string{"Images/0000.png", "Images/0150.png", "Images/0299.png"} {
		a, _ := r.ImageByKey(context.Background(), key)
		b, _ := ref.ImageByKey(context.Background(), key)
		va, _ := r.ReadVectors(workspace.Images, a.Row, a.Row+1)
		vb, _ := ref.ReadVectors(workspace.Images, b.Row, b.Row+1)
		if maxAbs32(va, vb) != 0 {
			t.Errorf("%s: vectors differ after resume", key)
		}
	}
}

func committedRows(ws string) int {
	r, err := workspace.Open(ws)
	if err != nil {
		return 0
	}
	defer r.Close()
	n, _ := r.Rows(workspace.Images)
	return n
}

func maxAbs32(a, b []float32) float32 {
	var d float32
	for i := range a {
		d = max(d, a[i]-b[i], b[i]-a[i])
	}
	return d
}
