package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	bt "github.com/xmodal/xmodal/internal/browsertest"
)

const vseppFixtures = "../../testdata/vsepp"

// A user with an official VSE++ checkpoint converts it once, then indexes,
// searches, evaluates, tokenises and embeds with it; a workspace built
// with it refuses another model, naming both families.
func TestVSEPPEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vsepp-resnet")
	code, _, errOut := xmodal(t, "models", "convert", "vsepp",
		"--checkpoint", filepath.Join(vseppFixtures, "models", "resnet152", "model_best.py2.pth.tar"),
		"--vocab", filepath.Join(vseppFixtures, "vocab", "vocab_py2_main.pkl"), "--out", dir)
	if code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errOut)
	}
	code, out, errOut := xmodal(t, "models", "inspect", "--json", dir)
	var info struct {
		Family    string
		EmbedSize int
		CNNType   string
	}
	json.Unmarshal([]byte(out), &info)
	if code != 0 || info.Family != "vsepp" || info.EmbedSize != 32 || info.CNNType != "resnet" {
		t.Errorf("inspect: exit %d, %s %s", code, out, errOut)
	}

	// Tokens as the fixtures have them.
	var caps []struct {
		Caption string `json:"caption"`
		IDs     []int  `json:"ids"`
	}
	data, _ := os.ReadFile(filepath.Join(vseppFixtures, "goldens", "captions.json"))
	json.Unmarshal(data, &caps)
	code, out, _ = xmodal(t, "tokenize", "--model", dir, "--text", caps[0].Caption)
	var tok struct{ IDs []int }
	json.Unmarshal([]byte(out), &tok)
	if code != 0 || !slices.Equal(tok.IDs, caps[0].IDs) {
		t.Errorf("tokenize: %s, want ids %v", out, caps[0].IDs)
	}

	// Index the fixture images, each captioned with a golden caption.
	images := t.TempDir()
	names := []string{"landscape_rgb", "portrait_rgb", "gray", "rgba_alpha", "palette"}
	for i, n := range names {
		copyFile(t, filepath.Join(vseppFixtures, "images", n+".png"), filepath.Join(images, n+".png"))
		os.WriteFile(filepath.Join(images, n+".txt"), []byte(caps[i].Caption+"\n"), 0o644)
	}
	ws := filepath.Join(t.TempDir(), "ws")
	if code, _, errOut := xmodal(t, "index", "--data", images, "--workspace", ws, "--model", dir); code != 0 {
		t.Fatalf("index: exit %d: %s", code, errOut)
	}
	man, _ := os.ReadFile(filepath.Join(ws, "workspace.json"))
	if !strings.Contains(string(man), `"family": "vsepp"`) {
		t.Errorf("the workspace does not record the family: %s", man)
	}
	// The workspace knows its model: no --model needed.
	code, out, errOut = xmodal(t, "search", "--workspace", ws, "--text", caps[2].Caption, "--to", "captions", "--top-k", "1", "--json")
	if code != 0 || !strings.Contains(out, caps[2].Caption) {
		t.Errorf("search: exit %d: %s %s", code, out, errOut)
	}
	if code, out, errOut := xmodal(t, "eval", "--workspace", ws, "--json"); code != 0 || !strings.Contains(out, "text_to_image") {
		t.Errorf("eval: exit %d: %s %s", code, out, errOut)
	}
	if code, out, _ := xmodal(t, "embed", "--model", dir, "--image", filepath.Join(images, "gray.png")); code != 0 || !strings.Contains(out, `"type":"image"`) {
		t.Errorf("embed: %s", out)
	}
	// Served: the compatible API finds images for a text and captions for
	// an uploaded image.
	api := serveWorkspace(t, ws, dir)
	png, _ := os.ReadFile(filepath.Join(images, "gray.png"))
	for _, c := range []struct {
		query, mimeType string
	}{{caps[2].Caption, "image/png"}, {"data:image/png;base64," + b64(png), "text/plain"}} {
		body, _ := json.Marshal(map[string]any{"top_k": 3, "data": []string{c.query}})
		resp, err := http.Post(api+"/search", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Data struct {
				Docs []struct {
					Matches []struct {
						MimeType string `json:"mime_type"`
					} `json:"matches"`
				} `json:"docs"`
			} `json:"data"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(out.Data.Docs) != 1 || len(out.Data.Docs[0].Matches) != 3 || out.Data.Docs[0].Matches[0].MimeType != c.mimeType {
			t.Errorf("POST /search %.40q: %d %+v", c.query, resp.StatusCode, out)
		}
	}

	// The web UI over a VSE++ workspace: a typed caption finds images.
	t.Run("web UI", func(t *testing.T) {
		if testing.Short() {
			t.Skip("the browser test is not short")
		}
		tab, problems := bt.Start(t)
		bt.Run(t, tab,
			chromedp.Navigate(api+"/"),
			bt.Poll("the statistics show", `document.getElementById('stats').textContent.includes('5 images · 5 captions')`),
			chromedp.SendKeys(chromedp.ID("q"), caps[2].Caption+kb.Enter),
			bt.Poll("image results show", `document.querySelectorAll('#images .result').length === 5`),
			bt.Poll("thumbnails load", `[...document.querySelectorAll('#images img')].every(i => i.complete && i.naturalWidth > 0)`),
			bt.Screenshot(t, bt.ArtifactsDir(t), "vsepp-text-results.png"),
		)
		if p := problems(); len(p) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(p, "\n"))
		}
	})

	code, _, errOut = xmodal(t, "search", "--workspace", ws, "--model", modelA, "--text", "x")
	if code != 1 || !strings.Contains(errOut, "the vsepp model") || !strings.Contains(errOut, "the clip model") {
		t.Errorf("another family: exit %d, %s", code, errOut)
	}
}

// A checkpoint converted with --name goes into the model cache: models list
// shows it and --model takes its name.
func TestVSEPPConvertToCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	convert := func(extra ...string) (int, string, string) {
		return xmodal(t, append([]string{"models", "convert", "vsepp",
			"--checkpoint", filepath.Join(vseppFixtures, "models", "vgg19", "model_best.pth.tar"),
			"--vocab", filepath.Join(vseppFixtures, "vocab", "vocab_py2_main.pkl")}, extra...)...)
	}
	if code, _, errOut := convert(); code != 2 || !strings.Contains(errOut, "--out and --name") {
		t.Errorf("neither --out nor --name: exit %d, %s", code, errOut)
	}
	if code, _, errOut := convert("--name", "../x"); code == 0 || !strings.Contains(errOut, "model name") {
		t.Errorf("bad name: exit %d, %s", code, errOut)
	}
	code, out, errOut := convert("--name", "local/vgg-tiny")
	if code != 0 {
		t.Fatalf("convert --name: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(strings.TrimSpace(out), "config.json")); err != nil {
		t.Errorf("convert printed %q: %v", out, err)
	}
	if code, out, _ := xmodal(t, "models", "list", "--json"); code != 0 || !strings.Contains(out, `"name":"local/vgg-tiny"`) {
		t.Errorf("models list: %s", out)
	}
	code, out, errOut = xmodal(t, "embed", "--model", "local/vgg-tiny", "--text", "a dog runs")
	if code != 0 || !strings.Contains(out, `"embedding"`) {
		t.Errorf("embed --model local/vgg-tiny: exit %d, %s", code, errOut)
	}
}
