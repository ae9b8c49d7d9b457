package server

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	bt "github.com/xmodal/xmodal/internal/browsertest"
)

// The end-to-end test drives the web UI in headless Chromium; see
// internal/browsertest for when it skips and where screenshots go.

func TestBrowserEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test is not short")
	}
	f := newFixture(t, Options{})
	dir := bt.ArtifactsDir(t)
	tab, problems := bt.Start(t)
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		bt.Run(t, tab, steps...)
	}

	// Desktop, light: the start page shows the workspace's statistics.
	run(
		chromedp.EmulateViewport(1280, 860),
		bt.ColorScheme("light"),
		chromedp.Navigate(f.ts.URL+"/"),
		bt.Poll("the statistics show", `document.getElementById('stats').textContent.includes('8 images · 16 captions')`),
		// visible(id) tells whether an element is laid out, for the checks below.
		chromedp.Evaluate[chromedp.Void](`window.visible = (id) => document.getElementById(id).getClientRects().length > 0`),
		bt.Poll("only the welcome shows", `visible('welcome') && !visible('query-section') && !visible('images-section') && !visible('captions-section')`),
		// The built-in model's caveat is not shown for another model.
		bt.Poll("no built-in model caveat", `!visible('about')`),
		bt.Screenshot(t, dir, "desktop-start.png"),
	)

	// Type a query, press Enter, see a grid of images with scores.
	run(
		chromedp.SendKeys(chromedp.ID("q"), "a picture named 08_rgb_732x672.png"+kb.Enter),
		bt.Poll("image results show", `document.querySelectorAll('#images .result').length === 8 && visible('images-section') && !visible('welcome') && !visible('query-section') && !visible('captions-section')`),
		bt.Poll("thumbnails load", `[...document.querySelectorAll('#images img')].every(i => i.complete && i.naturalWidth === 256)`),
	)
	scores := bt.Evaluate[[]string](tab, t, `[...document.querySelectorAll('#images .score')].map(s => s.textContent)`)
	for i, s := range scores {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < -1 || v > 1 {
			t.Errorf("score %q", s)
		}
		if prev, _ := strconv.ParseFloat(scores[max(i-1, 0)], 64); v > prev {
			t.Errorf("scores out of order: %v", scores)
		}
	}
	if loc := bt.Evaluate[string](tab, t, `location.search`); !strings.Contains(loc, "q=a+picture+named") {
		t.Errorf("the query is not in the URL: %q", loc)
	}
	run(bt.Screenshot(t, dir, "desktop-text-results.png"))

	// The results are reachable with Tab; Enter opens one.
	run(chromedp.Focus(chromedp.ID("q")))
	reached := false
	for range 12 {
		run(chromedp.KeyEvent(kb.Tab))
		if bt.Evaluate[bool](tab, t, `document.activeElement.classList.contains('result')`) {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatalf("Tab never reaches a result; focus is on %s", bt.Evaluate[string](tab, t, `document.activeElement.outerHTML.slice(0, 120)`))
	}
	run(
		chromedp.KeyEvent(kb.Enter),
		bt.Poll("the detail view opens with captions and similar images",
			`document.getElementById('detail').open && document.querySelectorAll('#detail-captions li').length === 2 && document.querySelectorAll('#detail-similar .result').length === 7`),
		bt.Poll("the full image loads", `document.getElementById('detail-img').complete && document.getElementById('detail-img').naturalWidth > 0`),
		bt.Screenshot(t, dir, "desktop-detail.png"),
	)
	// A similar image opens in the same view; Escape closes it and gives
	// the focus back to the result.
	run(
		chromedp.Click(chromedp.CSS("#detail-similar .result")),
		bt.Poll("a similar image's detail loads", `document.querySelectorAll('#detail-similar .result').length === 7 && document.getElementById('detail-title').textContent !== 'Loading…'`),
	)
	// "Similar, but …" steers them as the API does with add.
	shown := bt.Evaluate[string](tab, t, `[...document.querySelectorAll('#detail-meta dt')].find(d => d.textContent === 'Id').nextElementSibling.textContent`)
	var steered searchBody
	f.postJSON(t, "/api/v1/search", `{"id":`+shown+`,"target":"images","top_k":12,"add":["a wide strip"]}`).json(t, &steered)
	var plain searchBody
	f.postJSON(t, "/api/v1/search", `{"id":`+shown+`,"target":"images","top_k":12}`).json(t, &plain)
	var want, unsteered []string
	for _, h := range *steered.Images {
		want = append(want, strconv.FormatInt(h.ID, 10))
	}
	for _, h := range *plain.Images {
		unsteered = append(unsteered, strconv.FormatInt(h.ID, 10))
	}
	if slices.Equal(want, unsteered) {
		t.Fatalf("steering does not change image %s's similar images here: the test cannot tell", shown)
	}
	run(
		chromedp.SendKeys(chromedp.ID("steer"), "a wide strip"+kb.Enter),
		bt.Poll("the steered similar images show", `[...document.querySelectorAll('#detail-similar .result')].map(r => r.dataset.id).join(' ') === '`+strings.Join(want, " ")+`'`),
	)
	run(
		chromedp.KeyEvent(kb.Escape),
		bt.Poll("Escape closes the detail view", `!document.getElementById('detail').open`),
		bt.Poll("the focus returns to the result", `document.activeElement.classList.contains('result')`),
	)

	// Upload an image: see its matching captions and similar images.
	upload, err := filepath.Abs(filepath.Join(fixtures, "images", "04_wide_900x60.png"))
	if err != nil {
		t.Fatal(err)
	}
	run(
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{upload}),
		bt.Poll("caption results show", `document.querySelectorAll('#captions .result').length === 16 && visible('captions-section')`),
		bt.Poll("similar images show", `document.querySelectorAll('#images .result').length === 8 && visible('query-section') && visible('images-section')`),
	)
	captions := bt.Evaluate[[]string](tab, t, `[...document.querySelectorAll('#captions .caption-text')].map(c => c.textContent)`)
	for _, c := range captions {
		if !strings.Contains(c, "_") {
			t.Errorf("unexpected caption %q", c)
		}
	}
	// The uploaded image is indexed, so it is its own best match.
	if first := bt.Evaluate[string](tab, t, `document.querySelector('#images .score').textContent`); first != "1.000" {
		t.Errorf("the uploaded image's best match scores %s, want 1.000", first)
	}
	run(bt.Screenshot(t, dir, "desktop-image-query.png"))

	// Dark mode.
	run(bt.ColorScheme("dark"), bt.Screenshot(t, dir, "desktop-image-query-dark.png"), bt.ColorScheme("light"))

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
			bt.Poll("a "+kind+"ped image is searched", `document.querySelectorAll('#images .result').length === 8 && document.querySelector('#images .score').textContent === '1.000' && document.getElementById('query-meta').textContent.includes('250×330')`),
		)
	}

	// Text to captions, with the target switch.
	run(
		chromedp.SendKeys(chromedp.ID("q"), "seen from afar"),
		chromedp.Click(chromedp.CSS(`label[for="target-captions"]`)),
		bt.Poll("caption results show for a text", `document.querySelectorAll('#captions .result').length === 16 && visible('captions-section') && !visible('images-section') && !visible('query-section')`),
		bt.Screenshot(t, dir, "desktop-text-to-captions.png"),
	)

	// Words too: the toggle re-runs the search as a hybrid one, whose
	// fused scores are small, and the URL keeps it.
	run(
		chromedp.Click(chromedp.CSS(`label[for="target-images"]`)),
		chromedp.SetValue(chromedp.ID("q"), "la 250x330"),
		chromedp.Click(chromedp.ID("hybrid")),
		bt.Poll("hybrid results show", `location.search.includes('hybrid=1') && document.getElementById('status').textContent.includes('words matched too') && document.querySelectorAll('#images .result').length === 8 && document.querySelector('#images .result').getAttribute('aria-label').includes('05_la_250x330.png')`),
		bt.Screenshot(t, dir, "desktop-hybrid.png"),
	)
	if first := bt.Evaluate[string](tab, t, `document.querySelector('#images .score').textContent`); !strings.HasPrefix(first, "0.0") || len(first) != 6 {
		t.Errorf("the first hybrid score shows as %q, want a fused score such as 0.0325", first)
	}
	if title := bt.Evaluate[string](tab, t, `document.querySelector('#images .result').title`); !strings.HasPrefix(title, "model rank ") || !strings.HasSuffix(title, " · word rank 1") {
		t.Errorf("the first hybrid hit's tooltip says %q, want its model rank and word rank 1", title)
	}
	run(chromedp.Click(chromedp.ID("hybrid")), bt.Poll("the toggle turns it off", `!location.search.includes('hybrid')`))

	// Phone width: the same query from the URL, no horizontal scrolling.
	run(
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(f.ts.URL+"/?q=a+picture+named+02_exif6_320x240.jpg"),
		bt.Poll("results show at phone width", `document.querySelectorAll('#images .result').length === 8`),
		bt.Screenshot(t, dir, "phone-text-results.png"),
	)
	if overflow := bt.Evaluate[bool](tab, t, `document.documentElement.scrollWidth > window.innerWidth`); overflow {
		t.Errorf("the page scrolls sideways at phone width")
	}
	if cols := bt.Evaluate[int](tab, t, `getComputedStyle(document.getElementById('images')).gridTemplateColumns.split(' ').length`); cols != 2 {
		t.Errorf("%d columns at phone width, want 2", cols)
	}
	run(
		chromedp.Click(chromedp.CSS("#images .result")),
		bt.Poll("the detail view opens at phone width", `document.querySelectorAll('#detail-similar .result').length === 7`),
		bt.Screenshot(t, dir, "phone-detail.png"),
		chromedp.KeyEvent(kb.Escape),
		bt.ColorScheme("dark"),
		bt.Screenshot(t, dir, "phone-text-results-dark.png"),
	)

	// Everything came from the server itself.
	resources := bt.Evaluate[[]string](tab, t, `performance.getEntriesByType('resource').map(e => e.name)`)
	for _, r := range resources {
		if !strings.HasPrefix(r, f.ts.URL+"/") && !strings.HasPrefix(r, "data:") && !strings.HasPrefix(r, "blob:") {
			t.Errorf("the page loaded %s", r)
		}
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(p, "\n"))
	}
}

// Show more pages through a text search's results: the next page is
// appended, no result twice, and the button goes once all are shown.
func TestBrowserShowMore(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test is not short")
	}
	f := newFixture(t, Options{})
	for i := range 45 {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for p := range img.Pix {
			img.Pix[p] = uint8(i*37 + p*(i+1))
		}
		// The last is the first saved again, smaller: other bytes, the
		// same pixels, for Duplicates below.
		enc := png.Encoder{}
		if i == 44 {
			img.Pix = image.NewRGBA(img.Rect).Pix
			for p := range img.Pix {
				img.Pix[p] = uint8(p)
			}
			enc.CompressionLevel = png.BestCompression
		}
		var buf bytes.Buffer
		if err := enc.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.Add(context.Background(), buf.Bytes(), []string{fmt.Sprintf("picture %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	tab, problems := bt.Start(t)
	bt.Run(t, tab,
		chromedp.EmulateViewport(1280, 860),
		chromedp.Navigate(f.ts.URL+"/?q=a+picture"),
		bt.Poll("the first page shows, with Show more", `document.querySelectorAll('#images .result').length === 40 && !document.getElementById('more').hidden`),
		chromedp.Click(chromedp.ID("more")),
		bt.Poll("the rest is appended and the button goes", `document.querySelectorAll('#images .result').length === 53 && document.getElementById('more').hidden`),
	)
	ids := bt.Evaluate[[]string](tab, t, `[...document.querySelectorAll('#images .result')].map(r => r.dataset.id)`)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("image %s is shown twice", id)
		}
		seen[id] = true
	}
	if status := bt.Evaluate[string](tab, t, `document.getElementById('status').textContent`); !strings.HasPrefix(status, "53 images for “a picture”") {
		t.Errorf("status %q", status)
	}
	if focused := bt.Evaluate[string](tab, t, `document.activeElement.dataset.id || ''`); focused != ids[40] {
		t.Errorf("focus is on %q, want the first new result, %s", focused, ids[40])
	}

	// The footer's Duplicates shows what the API finds, a row per group.
	var want struct {
		Groups []struct{ Images []struct{ ID int64 } }
	}
	f.get(t, "/api/v1/duplicates").json(t, &want)
	if len(want.Groups) == 0 {
		t.Fatal("no duplicates to show: the re-saved copy was not found")
	}
	bt.Run(t, tab,
		chromedp.Click(chromedp.ID("dups-link")),
		bt.Poll("the groups show", fmt.Sprintf(`!document.getElementById('dups-section').hidden && document.querySelectorAll('#dups > li').length === %d && document.getElementById('images-section').hidden && location.search === '?view=duplicates'`, len(want.Groups))),
	)
	first := bt.Evaluate[[]string](tab, t, `[...document.querySelectorAll('#dups > li:first-child .result')].map(r => r.dataset.id)`)
	if len(first) != len(want.Groups[0].Images) || first[0] != strconv.FormatInt(want.Groups[0].Images[0].ID, 10) {
		t.Errorf("first group shows %v, the API says %+v", first, want.Groups[0])
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(p, "\n"))
	}
}
