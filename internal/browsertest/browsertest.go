// Package browsertest drives headless Chromium for end-to-end tests of
// xmodal's web pages: the embedded UI and the pages that embed Jina Box.
//
// Tests that use it skip when no browser is installed, unless
// XMODAL_REQUIRE_BROWSER=1 (as in CI), where they fail instead.
// Screenshots go to $XMODAL_ARTIFACTS, or to a temporary folder; the test
// log names them.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/xmodal/xmodal/internal/npmtest"
)

// Required reports whether tests must fail rather than skip when something
// they need (a browser, an npm package) is missing.
func Required() bool { return os.Getenv("XMODAL_REQUIRE_BROWSER") == "1" }

// SkipOrFail skips the test with msg, or fails it when Required.
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if Required() {
		t.Fatal(msg + "; XMODAL_REQUIRE_BROWSER=1 forbids skipping")
	}
	t.Skip(msg)
}

// FindChromium returns the browser to drive: $XMODAL_CHROMIUM, or the first
// of the usual names on PATH.
func FindChromium(t testing.TB) string {
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
	SkipOrFail(t, "no Chromium found (install Debian's chromium package, or set XMODAL_CHROMIUM to a Chrome or Chromium binary)")
	return ""
}

// ArtifactsDir is where screenshots go.
func ArtifactsDir(t testing.TB) string {
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

// Start starts headless Chromium and returns a tab's context, and a func
// that reports the page's console errors and uncaught exceptions so far.
func Start(t testing.TB) (context.Context, func() []string) {
	t.Helper()
	execPath := FindChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root in a container
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// The machines' closed network refuses Chromium's own connections.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	// Start the browser here and stop on failure: a later action would
	// otherwise allocate a second browser for the same context, which
	// chromedp does not survive (a close of a closed channel at teardown).
	// Chromium now and then exits at start-up when other test packages
	// start theirs at the same moment; a fresh process then starts fine.
	var tab context.Context
	for attempt := 1; ; attempt++ {
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(opts, chromedp.UserDataDir(t.TempDir()))...)
		t.Cleanup(cancelAlloc)
		var cancelTab context.CancelFunc
		tab, cancelTab = chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
		t.Cleanup(cancelTab)
		err := chromedp.Do(tab, chromedp.Navigate("about:blank"))
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("starting Chromium (%s), %d attempts: %v", execPath, attempt, err)
		}
		t.Logf("starting Chromium (%s), attempt %d: %v; trying again", execPath, attempt, err)
		cancelTab()
		cancelAlloc()
		time.Sleep(time.Second)
	}

	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(tab)
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

// Poll waits until a JavaScript expression is truthy, naming it on failure.
// A poll that starts while the page is being replaced can find its
// JavaScript context gone; it then starts again in the new page.
func Poll(what, expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(time.Until(deadline)))(ctx, t)
			if err == nil {
				return nil
			}
			if !strings.Contains(err.Error(), "Cannot find context with specified id") || time.Now().After(deadline) {
				return fmt.Errorf("waiting until %s: %w", what, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting until %s: %w", what, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// Screenshot saves the viewport as a PNG in dir.
func Screenshot(t testing.TB, dir, name string) chromedp.Action[chromedp.Void] {
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

// ColorScheme emulates prefers-color-scheme.
func ColorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// Evaluate runs a JavaScript expression and returns its value.
func Evaluate[T any](ctx context.Context, t testing.TB, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Run runs actions in the tab, failing the test on an error.
func Run(t testing.TB, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab, steps...); err != nil {
		t.Fatal(err)
	}
}

// NPMInstall installs the packages pinned in dir with npmtest.Install,
// skipping (or failing, when Required) without npm or the registry.
func NPMInstall(t testing.TB, dir string) string {
	t.Helper()
	return npmtest.Install(t, dir, SkipOrFail)
}
