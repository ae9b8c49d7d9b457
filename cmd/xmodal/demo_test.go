package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// background runs a command line in-process, its output going to out,
// until stop is called; stop returns the exit code.
func background(args ...string) (out *syncBuffer, stop func() int) {
	ctx, cancel := context.WithCancel(context.Background())
	out = new(syncBuffer)
	done := make(chan int)
	go func() { done <- run(ctx, args, out, out) }()
	return out, func() int {
		cancel()
		return <-done
	}
}

// TestDemo runs `xmodal demo` with an empty cache, as a newcomer would, and
// searches it through the compatible API; a second run reuses the
// workspace.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("indexes the sample set")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	for pass := 1; pass <= 2; pass++ {
		addr := freeAddr(t)
		stderr, stop := background("demo", "--addr", addr)

		deadline := time.Now().Add(3 * time.Minute)
		for !strings.Contains(stderr.String(), "Press Ctrl-C") {
			if time.Now().After(deadline) {
				t.Fatalf("run %d: not ready after 3 minutes:\n%s", pass, stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		body := strings.NewReader(`{"top_k":5,"mode":"search","data":["a red heart"]}`)
		resp, err := http.Post("http://"+addr+"/search", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Search struct {
				Docs []struct {
					Text    string
					Matches []struct {
						URI   string
						Score struct{ Value float64 }
					}
				}
			}
			Status struct{ Code string }
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if out.Status.Code != "SUCCESS" || len(out.Search.Docs) != 1 || len(out.Search.Docs[0].Matches) != 5 {
			t.Errorf("run %d: response %+v", pass, out)
		}
		// The command it suggests works while it serves.
		m := regexp.MustCompile(`xmodal search --workspace (\S+) --text 'a dog' --hybrid`).FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("run %d: no command line suggested:\n%s", pass, stderr.String())
		}
		code, cliOut, errOut := xmodal(t, "search", "--workspace", m[1], "--text", "a dog", "--hybrid", "--top-k", "3")
		if code != 0 || !strings.Contains(cliOut, "dog") {
			t.Errorf("run %d: the suggested search: exit %d:\n%s%s", pass, code, cliOut, errOut)
		}
		if code := stop(); code != 0 {
			t.Errorf("run %d: exit %d:\n%s", pass, code, stderr.String())
		}
		indexed := strings.Contains(stderr.String(), "indexed the sample set")
		if pass == 1 && !indexed || pass == 2 && indexed {
			t.Errorf("run %d: indexed = %v, want the first run only to index:\n%s", pass, indexed, stderr.String())
		}
	}
}

// TestDemoEverydayQueries runs the queries a newcomer types into the demo
// (testdata/queries/everyday.tsv) against the demo sample with the embedded
// model, and fails if fewer find a matching image in the top 5 than the
// default model managed when it was chosen: a regression floor, not a
// target. Raise it when the default model improves.
func TestDemoEverydayQueries(t *testing.T) {
	// Of 40, the default model of 2026-12-05 (r64syn-more-the) finds 39 on
	// the 1,200-image sample, and on the 1,193 left when the blank pictures
	// went (AVX-512, no AMX; the first ResNet found 37,
	// the ViT 19); two less leave room for another CPU's kernels reordering
	// a float sum at a near tie.
	const floor = 37
	ws := filepath.Join(t.TempDir(), "ws")
	if code, _, errOut := xmodal(t, "index", "--data", filepath.Join("..", "..", "demo", "sample"), "--workspace", ws); code != 0 {
		t.Fatalf("index: exit %d: %s", code, errOut)
	}
	code, out, errOut := xmodal(t, "eval", "--workspace", ws, "--queries", filepath.Join("..", "..", "testdata", "queries", "everyday.tsv"), "--json")
	if code != 0 {
		t.Fatalf("eval --queries: exit %d: %s", code, errOut)
	}
	var rep struct {
		K, Hits, Total int
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("everyday queries: %d of %d with a match in the top %d", rep.Hits, rep.Total, rep.K)
	if rep.Total != 40 || rep.K != 5 || rep.Hits < floor {
		t.Errorf("%d of %d in the top %d; the floor is %d", rep.Hits, rep.Total, rep.K, floor)
	}
	report := out
	code, out, _ = xmodal(t, "eval", "--workspace", ws, "--queries", filepath.Join("..", "..", "testdata", "queries", "everyday.tsv"))
	if code != 0 || !strings.Contains(out, "queries have a matching image in the top 5") {
		t.Errorf("eval --queries text output: %s", out)
	}

	// --compare on two reports: against one that finds nothing, every hit
	// is A's alone.
	dir := t.TempDir()
	a, none := filepath.Join(dir, "a.json"), filepath.Join(dir, "none.json")
	if err := os.WriteFile(a, []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(none, []byte(regexp.MustCompile(`"rank":\d+`).ReplaceAllString(report, `"rank":0`)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = xmodal(t, "eval", "--compare", "--json", a, none)
	var cmp struct {
		HitsA int      `json:"hits_a"`
		HitsB int      `json:"hits_b"`
		OnlyA []string `json:"only_a"`
		OnlyB []string `json:"only_b"`
		P     float64
	}
	if err := json.Unmarshal([]byte(out), &cmp); code != 0 || err != nil {
		t.Fatalf("eval --compare of two reports: exit %d, %v, %s%s", code, err, out, errOut)
	}
	if cmp.HitsA != rep.Hits || cmp.HitsB != 0 || len(cmp.OnlyA) != rep.Hits || len(cmp.OnlyB) != 0 || cmp.P >= 0.05 {
		t.Errorf("eval --compare of two reports: %+v, want A's %d hits alone and p < 0.05", cmp, rep.Hits)
	}
	if code, out, _ = xmodal(t, "eval", "--compare", a, a); code != 0 || !strings.Contains(out, "only B (0): none") || !strings.Contains(out, "p = 1, these queries cannot tell A from B") {
		t.Errorf("eval --compare of a report with itself: exit %d, %s", code, out)
	}
}
