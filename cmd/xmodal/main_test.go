package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const fixtures = "../../testdata/clip"

var modelA = filepath.Join(fixtures, "model-a")

// xmodal runs a command line in-process and returns the exit code, stdout
// and stderr.
func xmodal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

type embedded struct {
	Type      string    `json:"type"`
	Input     string    `json:"input"`
	Embedding []float64 `json:"embedding"`
}

func decodeLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var res []T
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		res = append(res, v)
	}
	return res
}

func maxAbs(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

func TestEmbedMatchesFixtures(t *testing.T) {
	var texts struct {
		Items []struct {
			Text         string    `json:"text"`
			IDs          []int     `json:"ids"`
			Embedding    []float64 `json:"embedding"`
			EmbeddingRaw []float64 `json:"embedding_raw"`
		}
	}
	data, _ := os.ReadFile(filepath.Join(fixtures, "texts.json"))
	json.Unmarshal(data, &texts)
	var images struct {
		Items []struct {
			File                     string    `json:"file"`
			PixelValues              string    `json:"pixel_values"`
			Embedding                []float64 `json:"embedding"`
			EmbeddingFromPixelValues []float64 `json:"embedding_from_pixel_values"`
		}
	}
	data, _ = os.ReadFile(filepath.Join(fixtures, "images.json"))
	json.Unmarshal(data, &images)

	// Texts through a .jsonl file, so that any string survives.
	jsonl := filepath.Join(t.TempDir(), "texts.jsonl")
	var buf bytes.Buffer
	for _, it := range texts.Items[:5] {
		line, _ := json.Marshal(it.Text)
		buf.Write(append(line, '\n'))
	}
	os.WriteFile(jsonl, buf.Bytes(), 0o644)
	img, pix := images.Items[2], images.Items[3]
	code, out, errOut := xmodal(t, "embed", "--model", modelA, "--texts", jsonl,
		"--image", filepath.Join(fixtures, img.File), "--no-exif",
		"--pixel-values", filepath.Join(fixtures, pix.PixelValues))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := decodeLines[embedded](t, out)
	if len(lines) != 7 {
		t.Fatalf("%d lines, want 7", len(lines))
	}
	for i, it := range texts.Items[:5] {
		if lines[i].Type != "text" || lines[i].Input != it.Text {
			t.Errorf("line %d = %s %q", i, lines[i].Type, lines[i].Input)
		}
		if d := maxAbs(lines[i].Embedding, it.Embedding); d > 1e-5 {
			t.Errorf("text %q: max abs %.2g", it.Text, d)
		}
	}
	if lines[5].Type != "image" || maxAbs(lines[5].Embedding, img.Embedding) > 5e-3 {
		t.Errorf("image line: %s, max abs %.2g", lines[5].Type, maxAbs(lines[5].Embedding, img.Embedding))
	}
	if lines[6].Type != "pixel_values" || maxAbs(lines[6].Embedding, pix.EmbeddingFromPixelValues) > 1e-5 {
		t.Errorf("pixel line: %s, max abs %.2g", lines[6].Type, maxAbs(lines[6].Embedding, pix.EmbeddingFromPixelValues))
	}

	// --raw skips the normalisation.
	code, out, _ = xmodal(t, "embed", "--model", modelA, "--raw", "--text", texts.Items[1].Text)
	if code != 0 {
		t.Fatal(out)
	}
	raw := decodeLines[embedded](t, out)[0]
	if d := maxAbs(raw.Embedding, texts.Items[1].EmbeddingRaw); d > 2e-5 {
		t.Errorf("raw text: max abs %.2g", d)
	}
}

func TestTokenizeCommand(t *testing.T) {
	code, out, errOut := xmodal(t, "tokenize", "--model", modelA, "--text", "Hello, world!", "--text", "two <|endoftext|> eots")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	type line struct {
		Text string `json:"text"`
		IDs  []int  `json:"ids"`
	}
	lines := decodeLines[line](t, out)
	if len(lines) != 2 || lines[0].Text != "Hello, world!" || !slices.Equal(lines[0].IDs, []int{49406, 3306, 267, 1002, 256, 49407}) {
		t.Errorf("lines = %+v", lines)
	}
	if !slices.Equal(lines[1].IDs, []int{49406, 1237, 49407, 68, 5769, 49407}) {
		t.Errorf("special token in text: %v", lines[1].IDs)
	}
}

func TestModelsInspect(t *testing.T) {
	code, out, errOut := xmodal(t, "models", "inspect", "--json", modelA)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var info struct {
		EmbeddingSize int      `json:"embedding_size"`
		DTypes        []string `json:"dtypes"`
		Parameters    int      `json:"parameters"`
		Vision        struct {
			Width, Layers, Tokens int
			Activation            string
		}
		Text struct{ Width, Layers int }
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if info.EmbeddingSize != 48 || info.Vision.Width != 64 || info.Vision.Tokens != 50 || info.Text.Width != 40 || info.Vision.Activation != "quick_gelu" || info.Parameters < 2e6 {
		t.Errorf("info = %+v", info)
	}
	code, out, _ = xmodal(t, "models", "inspect", filepath.Join(fixtures, "model-b-gelu"))
	if code != 0 || !strings.Contains(out, "F16") || !strings.Contains(out, "gelu") {
		t.Errorf("human output (exit %d):\n%s", code, out)
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"embed", "--model", modelA}, 2, "nothing to embed"},
		{[]string{"embed", "--precision", "fp64", "--text", "x"}, 2, "precision"},
		{[]string{"embed", "--model", "/no/such/model", "--text", "x"}, 1, "/no/such/model"},
		{[]string{"embed", "--model", modelA, "--image", "/no/such.jpg"}, 1, "/no/such.jpg"},
		{[]string{"embed", "--model", modelA, "--pixel-values", filepath.Join(fixtures, "images", "03_tiny_17x9.png")}, 1, "want 602112"},
		{[]string{"embed", "--bogus"}, 2, "bogus"},
		{[]string{"search", "--workspace", "/no/such/ws", "--text", "x"}, 1, "no workspace"},
		{[]string{"search", "--workspace", "/tmp", "--text", "x", "--image", "y"}, 2, "exactly one"},
		{[]string{"search", "--workspace", "/tmp", "--id", "3", "--hybrid"}, 2, "--hybrid goes with --text"},
		{[]string{"search", "--workspace", "/tmp", "--text", "x", "--offset", "-1"}, 2, "--offset must be 0 or more"},
		{[]string{"duplicates", "--workspace", "/tmp", "--threshold", "1.5"}, 2, "--threshold 1.5"},
		{[]string{"duplicates"}, 2, "--workspace is required"},
	}
	for _, tc := range tests {
		code, _, errOut := xmodal(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("xmodal %v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
