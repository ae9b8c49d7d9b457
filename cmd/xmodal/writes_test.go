package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xmodal/xmodal/workspace"
)

// buildBinary builds xmodal for tests that need a process to kill.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "xmodal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// indexFixtures indexes a few fixture images, with two captions each,
// into a new workspace.
func indexFixtures(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	for _, name := range []string{"03_tiny_17x9.png", "04_wide_900x60.png", "08_rgb_732x672.png"} {
		copyFile(t, filepath.Join(fixtures, "images", name), filepath.Join(data, name))
		caption := fmt.Sprintf("a picture named %s\n%s seen from afar\n", name, name)
		if err := os.WriteFile(filepath.Join(data, strings.TrimSuffix(name, ".png")+".txt"), []byte(caption), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws := filepath.Join(t.TempDir(), "ws")
	if code, _, errOut := xmodal(t, "index", "--data", data, "--workspace", ws, "--model", modelA); code != 0 {
		t.Fatalf("index: exit %d: %s", code, errOut)
	}
	return ws
}

// `xmodal index` waits while another process writes, saying for whom, and
// fails at once with --no-wait.
func TestIndexWaitsForTheWriteLock(t *testing.T) {
	ws := indexFixtures(t)
	data := t.TempDir()
	copyFile(t, filepath.Join(fixtures, "images", "05_la_250x330.png"), filepath.Join(data, "05.png"))
	r, err := workspace.Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	model := r.Manifest().Model
	r.Close()
	holder, err := workspace.Create(ws, model) // as a server adding an upload would
	if err != nil {
		t.Fatal(err)
	}
	pid := fmt.Sprintf("pid %d (", os.Getpid())

	code, _, errOut := xmodal(t, "index", "--data", data, "--workspace", ws, "--model", modelA, "--no-wait")
	if code != 1 || !strings.Contains(errOut, pid) {
		t.Errorf("--no-wait: exit %d, %q; want 1 and a message naming %s...", code, errOut, pid)
	}

	out, stop := background("index", "--data", data, "--workspace", ws, "--model", modelA)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "waiting for "+pid) {
		if time.Now().After(deadline) {
			t.Fatalf("index does not say it waits: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	holder.Close()
	for !strings.Contains(out.String(), "4 images") {
		if time.Now().After(deadline) {
			t.Fatalf("index did not go on once the lock was free: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := stop(); code != 0 {
		t.Errorf("index: exit %d: %s", code, out.String())
	}
}

// TestKillServerDuringAdds kills `xmodal serve` with SIGKILL while clients
// add images, restarts it, and checks that every add that was confirmed
// survived and that the uploads folder holds exactly the indexed uploads.
func TestKillServerDuringAdds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	ws := indexFixtures(t)
	serve := func() (*exec.Cmd, string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve", "--workspace", ws, "--model", modelA, "--addr", addr)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		url := "http://" + addr
		for deadline := time.Now().Add(30 * time.Second); ; {
			if resp, err := http.Get(url + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return cmd, url
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("serve not ready: %s", stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	for round := range 3 {
		cmd, url := serve()
		var mu sync.Mutex
		var confirmed []int64
		var wg sync.WaitGroup
		for c := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					body, _ := json.Marshal(map[string]any{
						"image":    "data:image/png;base64," + base64PNG(t, round*1000+c*100+i),
						"captions": []string{fmt.Sprintf("round %d client %d add %d", round, c, i)},
					})
					resp, err := http.Post(url+"/api/v1/images", "application/json", bytes.NewReader(body))
					if err != nil {
						return // the server is gone
					}
					var doc struct{ ID int64 }
					json.NewDecoder(resp.Body).Decode(&doc)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						t.Errorf("add: %d", resp.StatusCode)
						return
					}
					mu.Lock()
					confirmed = append(confirmed, doc.ID)
					mu.Unlock()
				}
			}()
		}
		// Kill once a few adds are through, in the middle of others.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			n := len(confirmed)
			mu.Unlock()
			if n >= 5+round*3 {
				break
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		wg.Wait()

		// After a restart every confirmed add is there, with its file.
		cmd, url = serve()
		for _, id := range confirmed {
			resp, err := http.Get(fmt.Sprintf("%s/api/v1/images/%d/file", url, id))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("round %d: confirmed upload %d answers %d after the restart", round, id, resp.StatusCode)
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		assertUploadsIndexed(t, ws)
		t.Logf("round %d: %d adds confirmed before the kill", round, len(confirmed))
	}
}

// assertUploadsIndexed checks that a workspace's uploads folder holds
// exactly the files of its indexed uploads.
func assertUploadsIndexed(t *testing.T, ws string) {
	t.Helper()
	r, err := workspace.Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	imgs, err := r.ImagesInSplit(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, im := range imgs {
		if strings.HasPrefix(im.Key, "uploads/") {
			want[filepath.Base(im.Path)] = true
		}
	}
	entries, _ := os.ReadDir(filepath.Join(ws, "uploads"))
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("uploads/%s is not an indexed upload", e.Name())
		}
		delete(want, e.Name())
	}
	for name := range want {
		t.Errorf("indexed upload %s has no file", name)
	}
}

// base64PNG is a distinct small PNG for each seed, base64-encoded.
func base64PNG(t *testing.T, seed int) string {
	img := image.NewRGBA(image.Rect(0, 0, 20, 12))
	for i := range img.Pix {
		img.Pix[i] = byte(i*13 + seed*7 + seed/251)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// Symbolic links out of the dataset folder are skipped and reported, never
// read; links that stay inside it are indexed.
func TestIndexConfinedToDataset(t *testing.T) {
	data := t.TempDir()
	outside := t.TempDir()
	copyFile(t, filepath.Join(fixtures, "images", "03_tiny_17x9.png"), filepath.Join(data, "a.png"))
	copyFile(t, filepath.Join(fixtures, "images", "04_wide_900x60.png"), filepath.Join(outside, "secret.png"))
	for link, target := range map[string]string{
		"inside.png": "a.png",
		"secret.png": filepath.Join(outside, "secret.png"),
		"passwd.jpg": "/etc/passwd",
		"updir.png":  "../" + filepath.Base(outside) + "/secret.png",
	} {
		if err := os.Symlink(target, filepath.Join(data, link)); err != nil {
			t.Fatal(err)
		}
	}
	ws := filepath.Join(t.TempDir(), "ws")
	code, out, errOut := xmodal(t, "index", "--data", data, "--workspace", ws, "--model", modelA, "--json")
	if code != 0 {
		t.Fatalf("index: exit %d: %s", code, errOut)
	}
	sum := lastJSONLine[indexSummary](t, out)
	if sum.ImagesIndexed != 2 {
		t.Errorf("%d images indexed, want a.png and inside.png", sum.ImagesIndexed)
	}
	skipped := map[string]string{}
	for _, s := range sum.Skipped {
		skipped[filepath.Base(s.File)] = s.Reason
	}
	for _, name := range []string{"secret.png", "passwd.jpg", "updir.png"} {
		if !strings.Contains(skipped[name], "outside the dataset folder") {
			t.Errorf("%s: skipped for %q, want outside the dataset folder", name, skipped[name])
		}
	}
}
