package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The end-to-end test drives the web UI in headless Chromium (Debian's
// chromium package). Without a browser it skips, unless
// XMODAL_REQUIRE_BROWSER=1 (as in CI), where it fails. Screenshots go to
// $XMODAL_ARTIFACTS, or to a temporary folder; the log names them.

// findChromium returns the browser to drive: $XMODAL_CHROMIUM, or the first
// of the usual names on PATH.
func findChromium(t *testing.T) string {
	t.Helper()
	if env := os.Getenv("XMODAL_CHROMIUM"); env != "" {
		p, err := exec.LookPath(env)
		if err != nil {
			t.Fatalf("XMODAL_CHROMIUM: %v", err)
		}
		return p
	}
	for _, c := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no Chromium found (install Debian's chromium package, or set XMODAL_CHROMIUM to a Chrome or Chromium binary)"
	if os.Getenv("XMODAL_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + "; XMODAL_REQUIRE_BROWSER=1 forbids skipping")
	}
	t.Skip(msg)
	return ""
}

func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("XMODAL_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts headless Chromium and returns a tab's context, and a func
// that reports the page's console errors and uncaught exceptions so far.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	execPath := findChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root in a container
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)

	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(tab) // starts the browser
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
	return tab, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(problems)
	}
}

// poll waits until a JavaScript expression is truthy, naming it on failure.
func poll(what, expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))(ctx, t)
		if err != nil {
			return fmt.Errorf("waiting until %s: %w", what, err)
		}
		return nil
	})
}

// screenshot saves the viewport as a PNG in the artifacts folder.
func screenshot(t *testing.T, dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		// Let lazy images finish and the layout settle.
		if _, err := chromedp.Poll[chromedp.Void](`[...document.images].filter(i => i.getAttribute('src') && i.offsetParent).every(i => i.complete)`,
			chromedp.WithPollingTimeout(10*time.Second))(ctx, tg); err != nil {
			return fmt.Errorf("images of %s: %w", name, err)
		}
		png, err := chromedp.CaptureScreenshot()(ctx, tg)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			return err
		}
		t.Logf("screenshot: %s", path)
		return nil
	})
}

func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

func evaluate[T any](ctx context.Context, t *testing.T, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func TestBrowserEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test is not short")
	}
	f := newFixture(t, Options{})
	dir := artifactsDir(t)
	tab, problems := browser(t)
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Fatal(err)
		}
	}

	// Desktop, light: the start page shows the workspace's statistics.
	run(
		chromedp.EmulateViewport(1280, 860),
		colorScheme("light"),
		chromedp.Navigate(f.ts.URL+"/"),
		poll("the statistics show", `document.getElementById('stats').textContent.includes('8 images · 16 captions')`),
		// visible(id) tells whether an element is laid out, for the checks below.
		chromedp.Evaluate[chromedp.Void](`window.visible = (id) => document.getElementById(id).getClientRects().length > 0`),
		poll("only the welcome shows", `visible('welcome') && !visible('query-section') && !visible('images-section') && !visible('captions-section')`),
		screenshot(t, dir, "desktop-start.png"),
	)

	// Type a query, press Enter, see a grid of images with scores.
	run(
		chromedp.SendKeys(chromedp.ID("q"), "a picture named 08_rgb_732x672.png"+kb.Enter),
		poll("image results show", `document.querySelectorAll('#images .result').length === 8 && visible('images-section') && !visible('welcome') && !visible('query-section') && !visible('captions-section')`),
		poll("thumbnails load", `[...document.querySelectorAll('#images img')].every(i => i.complete && i.naturalWidth === 256)`),
	)
	scores := evaluate[[]string](tab, t, `[...document.querySelectorAll('#images .score')].map(s => s.textContent)`)
	for i, s := range scores {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < -1 || v > 1 {
			t.Errorf("score %q", s)
		}
		if prev, _ := strconv.ParseFloat(scores[max(i-1, 0)], 64); v > prev {
			t.Errorf("scores out of order: %v", scores)
		}
	}
	if loc := evaluate[string](tab, t, `location.search`); !strings.Contains(loc, "q=a+picture+named") {
		t.Errorf("the query is not in the URL: %q", loc)
	}
	run(screenshot(t, dir, "desktop-text-results.png"))

	// The results are reachable with Tab; Enter opens one.
	run(chromedp.Focus(chromedp.ID("q")))
	reached := false
	for range 12 {
		run(chromedp.KeyEvent(kb.Tab))
		if evaluate[bool](tab, t, `document.activeElement.classList.contains('result')`) {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatalf("Tab never reaches a result; focus is on %s", evaluate[string](tab, t, `document.activeElement.outerHTML.slice(0, 120)`))
	}
	run(
		chromedp.KeyEvent(kb.Enter),
		poll("the detail view opens with captions and similar images",
			`document.getElementById('detail').open && document.querySelectorAll('#detail-captions li').length === 2 && document.querySelectorAll('#detail-similar .result').length === 7`),
		poll("the full image loads", `document.getElementById('detail-img').complete && document.getElementById('detail-img').naturalWidth > 0`),
		screenshot(t, dir, "desktop-detail.png"),
	)
	// A similar image opens in the same view; Escape closes it and gives
	// the focus back to the result.
	run(
		chromedp.Click(chromedp.CSS("#detail-similar .result")),
		poll("a similar image's detail loads", `document.querySelectorAll('#detail-similar .result').length === 7 && document.getElementById('detail-title').textContent !== 'Loading…'`),
		chromedp.KeyEvent(kb.Escape),
		poll("Escape closes the detail view", `!document.getElementById('detail').open`),
		poll("the focus returns to the result", `document.activeElement.classList.contains('result')`),
	)

	// Upload an image: see its matching captions and similar images.
	upload, err := filepath.Abs(filepath.Join(fixtures, "images", "04_wide_900x60.png"))
	if err != nil {
		t.Fatal(err)
	}
	run(
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{upload}),
		poll("caption results show", `document.querySelectorAll('#captions .result').length === 16 && visible('captions-section')`),
		poll("similar images show", `document.querySelectorAll('#images .result').length === 8 && visible('query-section') && visible('images-section')`),
	)
	captions := evaluate[[]string](tab, t, `[...document.querySelectorAll('#captions .caption-text')].map(c => c.textContent)`)
	for _, c := range captions {
		if !strings.Contains(c, "_") {
			t.Errorf("unexpected caption %q", c)
		}
	}
	// The uploaded image is indexed, so it is its own best match.
	if first := evaluate[string](tab, t, `document.querySelector('#images .score').textContent`); first != "1.000" {
		t.Errorf("the uploaded image's best match scores %s, want 1.000", first)
	}
	run(screenshot(t, dir, "desktop-image-query.png"))

	// Dark mode.
	run(colorScheme("dark"), screenshot(t, dir, "desktop-image-query-dark.png"), colorScheme("light"))

	// Drop and paste an image: the page fetches one of the workspace's
	// files and hands it over as a browser would.
	fileEvent := func(kind string) string {
		return `(async () => {
			const blob = await (await fetch('` + fileURL(f.ids["05_la_250x330.png"]) + `')).blob();
			const dt = new DataTransfer();
			dt.items.add(new File([blob], 'dropped.png', {type: 'image/png'}));
			` + map[string]string{
			"drop":  `document.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));`,
			"paste": `document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));`,
		}[kind] + `
		})()`
	}
	for _, kind := range []string{"drop", "paste"} {
		run(
			chromedp.Evaluate[chromedp.Void](`document.getElementById('images').replaceChildren()`),
			chromedp.Evaluate[chromedp.Void](fileEvent(kind), chromedp.EvalAwaitPromise),
			poll("a "+kind+"ped image is searched", `document.querySelectorAll('#images .result').length === 8 && document.querySelector('#images .score').textContent === '1.000' && document.getElementById('query-meta').textContent.includes('250×330')`),
		)
	}

	// Text to captions, with the target switch.
	run(
		chromedp.SendKeys(chromedp.ID("q"), "seen from afar"),
		chromedp.Click(chromedp.CSS(`label[for="target-captions"]`)),
		poll("caption results show for a text", `document.querySelectorAll('#captions .result').length === 16 && visible('captions-section') && !visible('images-section') && !visible('query-section')`),
		screenshot(t, dir, "desktop-text-to-captions.png"),
	)

	// Phone width: the same query from the URL, no horizontal scrolling.
	run(
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(f.ts.URL+"/?q=a+picture+named+02_exif6_320x240.jpg"),
		poll("results show at phone width", `document.querySelectorAll('#images .result').length === 8`),
		screenshot(t, dir, "phone-text-results.png"),
	)
	if overflow := evaluate[bool](tab, t, `document.documentElement.scrollWidth > window.innerWidth`); overflow {
		t.Errorf("the page scrolls sideways at phone width")
	}
	if cols := evaluate[int](tab, t, `getComputedStyle(document.getElementById('images')).gridTemplateColumns.split(' ').length`); cols != 2 {
		t.Errorf("%d columns at phone width, want 2", cols)
	}
	run(
		chromedp.Click(chromedp.CSS("#images .result")),
		poll("the detail view opens at phone width", `document.querySelectorAll('#detail-similar .result').length === 7`),
		screenshot(t, dir, "phone-detail.png"),
		chromedp.KeyEvent(kb.Escape),
		colorScheme("dark"),
		screenshot(t, dir, "phone-text-results-dark.png"),
	)

	// Everything came from the server itself.
	resources := evaluate[[]string](tab, t, `performance.getEntriesByType('resource').map(e => e.name)`)
	for _, r := range resources {
		if !strings.HasPrefix(r, f.ts.URL+"/") && !strings.HasPrefix(r, "data:") && !strings.HasPrefix(r, "blob:") {
			t.Errorf("the page loaded %s", r)
		}
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(p, "\n"))
	}
}
