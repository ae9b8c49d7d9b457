package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	bt "github.com/xmodal/xmodal/internal/browsertest"
)

// evilCaption is a caption with markup, as a scraped dataset may hold:
// Jina Box inserts caption text as HTML, so unless xmodal escapes it, the
// image fails to load and its handler runs.
const evilCaption = `<img src="x" onerror="window.xss = 1">a caption with markup & an ampersand`

// jinaBoxPage embeds Jina Box as its README says, with the script after
// the element: loaded in <head>, it throws "The result must not have
// children" and no search bar appears.
const jinaBoxPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Jina Box against xmodal</title><link rel="icon" href="data:,"></head>
<body>
<jina-searchbar></jina-searchbar>
<script src="/jinabox.umd.js"></script>
<script>JinaBox.init(%q, {timeout: 20000})</script>
</body></html>
`

// TestJinaBox drives the real Jina Box front end (the npm package, both
// published versions) in Chromium against `xmodal serve`: a text finds
// images that load, clicking one searches by it, an uploaded image finds
// captions, a caption's markup stays text, and an error shows its message.
// The page comes from another origin than the API, as in the original
// example, so CORS is exercised too.
func TestJinaBox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	bt.FindChromium(t) // skip before the npm install when there is no browser
	modules := bt.NPMInstall(t, filepath.Join("testdata", "jinabox"))

	// A small workspace: the fixture images, one caption each, one of
	// them with markup.
	data := t.TempDir()
	names := []string{"02_exif6_320x240.jpg", "03_tiny_17x9.png", "04_wide_900x60.png", "05_la_250x330.png", "07_croponly_224x303.png", "08_rgb_732x672.png"}
	for i, name := range names {
		copyFile(t, filepath.Join(fixtures, "images", name), filepath.Join(data, name))
		caption := "a picture named " + name
		if i == 2 {
			caption = evilCaption
		}
		if err := os.WriteFile(filepath.Join(data, strings.TrimSuffix(name, filepath.Ext(name))+".txt"), []byte(caption+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws := filepath.Join(t.TempDir(), "ws")
	if code, _, errOut := xmodal(t, "index", "--data", data, "--workspace", ws, "--model", modelA); code != 0 {
		t.Fatalf("index: exit %d: %s", code, errOut)
	}

	api := serveWorkspace(t, ws, modelA)
	for _, version := range []string{"0.1.50", "0.1.49"} {
		t.Run(version, func(t *testing.T) {
			script, err := os.ReadFile(filepath.Join(modules, "jinabox-"+version, "dist", "jinabox.umd.js"))
			if err != nil {
				t.Fatal(err)
			}
			page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/":
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					fmt.Fprintf(w, jinaBoxPage, api+"/search")
				case "/jinabox.umd.js":
					w.Header().Set("Content-Type", "text/javascript")
					w.Write(script)
				default:
					http.NotFound(w, r)
				}
			}))
			defer page.Close()
			driveJinaBox(t, page.URL, api, "jinabox-"+version)
		})
	}
}

// driveJinaBox runs the user's steps in one Jina Box page.
func driveJinaBox(t *testing.T, pageURL, api, shot string) {
	dir := bt.ArtifactsDir(t)
	tab, problems := bt.Start(t)
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		bt.Run(t, tab, steps...)
	}
	const images = `[...document.querySelectorAll('jina-searchbar img.jina-result-image')]`
	const texts = `[...document.querySelectorAll('jina-searchbar .jina-text-result')]`

	// A text query: image results whose files load from xmodal.
	run(
		chromedp.EmulateViewport(1100, 900),
		chromedp.Navigate(pageURL+"/"),
		bt.Poll("the search bar appears", `document.querySelector('jina-searchbar input.jina-search-input') !== null`),
		chromedp.SendKeys(chromedp.CSS("jina-searchbar input.jina-search-input"), "a picture of a dog"+kb.Enter),
		bt.Poll("image results render", images+`.length === 6`),
		bt.Poll("the images load", images+`.every(i => i.complete && i.naturalWidth > 0)`),
		bt.Screenshot(t, dir, shot+"-text-query.png"),
	)
	srcs := bt.Evaluate[[]string](tab, t, images+`.map(i => i.src)`)
	for _, src := range srcs {
		if !strings.HasPrefix(src, api+"/api/v1/images/") {
			t.Errorf("image result src %q is not one of xmodal's image URLs", src)
		}
	}

	// Clicking a result searches by it: Jina Box sends its URL back.
	run(
		chromedp.Click(chromedp.CSS("jina-searchbar .jina-result")),
		bt.Poll("caption results render for the clicked image", texts+`.length === 6`),
		bt.Screenshot(t, dir, shot+"-clicked-image.png"),
	)

	// Clicking a caption searches for its text: images again.
	run(
		chromedp.Click(chromedp.CSS("jina-searchbar .jina-text-result")),
		bt.Poll("image results render for the clicked caption", images+`.length === 6`),
	)

	// Upload an image with the box's own upload button (the file input
	// behind it): caption results, the markup shown as text.
	upload, err := filepath.Abs(filepath.Join(fixtures, "images", "05_la_250x330.png"))
	if err != nil {
		t.Fatal(err)
	}
	run(
		chromedp.Click(chromedp.CSS("jina-searchbar img.jina-search-icon")),
		bt.Poll("the upload button shows", `document.querySelector('jina-searchbar .jina-expander-file-input-trigger') !== null`),
		chromedp.SetUploadFiles(chromedp.CSS("jina-searchbar input.jina-expander-file-input"), []string{upload}),
		bt.Poll("caption results render for the upload", texts+`.length === 6`),
		bt.Screenshot(t, dir, shot+"-upload.png"),
	)
	shown := bt.Evaluate[[]string](tab, t, texts+`.map(e => e.textContent)`)
	found := false
	for _, s := range shown {
		found = found || s == evilCaption
	}
	if !found {
		t.Errorf("the caption with markup is not shown as its text; captions shown: %q", shown)
	}
	if n := bt.Evaluate[int](tab, t, `document.querySelectorAll('jina-searchbar .jina-text-result img').length`); n != 0 {
		t.Errorf("a caption's markup became %d elements", n)
	}
	if xss := bt.Evaluate[bool](tab, t, `window.xss === 1`); xss {
		t.Errorf("a caption's markup ran as script")
	}
	var errs []string
	for _, p := range problems() {
		// Jina Box 0.1.49 asks Google Fonts for its typeface; offline, the
		// request fails and the box falls back to the page's font.
		if !strings.Contains(p, "fonts.googleapis.com") {
			errs = append(errs, p)
		}
	}
	if len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}

	// An image dragged from another site arrives as its URL, which xmodal
	// refuses without fetching it: the box shows the message.
	run(
		chromedp.Evaluate[chromedp.Void](`document.querySelector('jina-searchbar').search(['https://example.org/cat.jpg'], true)`),
		bt.Poll("the error shows", `(document.querySelector('jina-searchbar .jina-error') || {textContent: ''}).textContent.includes('does not fetch URLs')`),
		bt.Screenshot(t, dir, shot+"-error.png"),
	)
}

// serveWorkspace runs `xmodal serve` on a free port until the test ends
// and returns its URL once it is ready.
func serveWorkspace(t *testing.T, ws, model string) string {
	t.Helper()
	addr := freeAddr(t)
	stderr, stop := background("serve", "--workspace", ws, "--model", model, "--addr", addr)
	t.Cleanup(func() {
		if code := stop(); code != 0 {
			t.Errorf("serve: exit %d:\n%s", code, stderr.String())
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("xmodal serve is not ready after a minute:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
