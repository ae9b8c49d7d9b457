package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmodal/xmodal/internal/pgtest"
	"github.com/xmodal/xmodal/workspace"
)

// TestDistributedIndexing queues a dataset in a database workspace and
// lets worker processes index it while some of them, and a serve replica,
// are killed with SIGKILL mid-job: in the end every image is indexed once
// (no job committed twice, none lost), and searches answer as a folder
// built in one run does.
func TestDistributedIndexing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs worker processes")
	}
	url := pgtest.Shared(t).NewDatabase(t)
	data := makeFlickrKaggle(t, 120)
	code, out, errOut := xmodal(t, "index", "--data", data, "--workspace", url, "--model", modelA, "--vectors", "local", "--enqueue", "--batch-size", "2", "--json")
	if code != 0 {
		t.Fatalf("index --enqueue: exit %d: %s", code, errOut)
	}
	var queued struct{ Jobs, Images int }
	json.Unmarshal([]byte(out), &queued)
	if queued.Jobs != 61 || queued.Images != 122 {
		t.Fatalf("queued %+v, want 122 images (2 of them broken) in 61 jobs", queued)
	}
	// Queuing again adds nothing: the images are queued already.
	if code, out, _ := xmodal(t, "index", "--data", data, "--workspace", url, "--model", modelA, "--enqueue", "--json"); code != 0 || !strings.Contains(out, `"jobs":0`) {
		t.Errorf("second --enqueue: exit %d: %s", code, out)
	}
	// A worker with another model is refused.
	if code, _, errOut := xmodal(t, "worker", "--workspace", url, "--model", filepath.Join(fixtures, "model-b-gelu")); code != 1 || !strings.Contains(errOut, "cannot be used with") {
		t.Errorf("worker with another model: exit %d: %s", code, errOut)
	}

	bin := buildBinary(t)
	model, _ := filepath.Abs(modelA)
	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	queue := func() workspace.QueueStatus {
		t.Helper()
		code, out, errOut := xmodal(t, "index", "--workspace", url, "--status", "--json")
		if code != 0 {
			t.Fatalf("index --status: exit %d: %s", code, errOut)
		}
		var st workspace.QueueStatus
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	replica := start("serve", "--workspace", url, "--model", model, "--addr", freeAddr(t))
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 4 {
		var workers []*exec.Cmd
		for range 2 {
			workers = append(workers, start("worker", "--workspace", url, "--model", model, "--lease", "1s"))
		}
		// Kill them mid-job, not before they start: a loaded machine can
		// take longer than the random pause to load the model.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if st := queue(); st.JobsLeased > 0 || st.JobsDone == st.Jobs {
				break
			}
		}
		time.Sleep(time.Duration(150+rng.IntN(300)) * time.Millisecond)
		workers[0].Process.Kill() // SIGKILL: no chance to give its job back
		if round == 1 {
			replica.Process.Kill()
		}
		workers[0].Wait()
		workers[1].Process.Kill()
		workers[1].Wait()
	}
	replica.Wait()
	// The last worker finishes, waiting for the dead workers' leases to
	// run out.
	if code, _, errOut := xmodal(t, "worker", "--workspace", url, "--lease", "1s", "--name", "last"); code != 0 {
		t.Fatalf("last worker: exit %d: %s", code, errOut)
	}

	if st := queue(); st.ImagesDone != 122 || st.JobsDone != 61 || st.JobsFailed != 0 || len(st.Workers) < 2 {
		t.Errorf("queue status %+v", st)
	}
	if code, out, _ := xmodal(t, "index", "--workspace", url, "--status"); code != 0 || !strings.Contains(out, "122 of 122 images done") || !strings.Contains(out, "WORKER") {
		t.Errorf("index --status: exit %d:\n%s", code, out)
	}

	// Any replica's /metrics shows the queue.
	api := serveWorkspace(t, url, modelA)
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`xmodal_queue_images{state="done"} 122`, `xmodal_queue_jobs{state="failed"} 0`, `xmodal_worker_images_total{worker=`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}

	ws, err := workspace.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	stats, _ := ws.Stats(context.Background())
	imgRows, _ := ws.Rows(workspace.Images)
	capRows, _ := ws.Rows(workspace.Captions)
	if stats.Images != 120 || stats.Captions != 240 || stats.Skipped != 2 || imgRows != 120 || capRows != 240 {
		t.Errorf("workspace has %+v in %d image and %d caption rows; want 120 images, 240 captions, 2 skipped, no dead rows", stats, imgRows, capRows)
	}

	folder := filepath.Join(t.TempDir(), "ws")
	if code, _, errOut := xmodal(t, "index", "--data", data, "--workspace", folder, "--model", modelA); code != 0 {
		t.Fatalf("index into a folder: exit %d: %s", code, errOut)
	}
	if outs := searchEach(t, []string{folder, url}, "--text", "picture 7", "--to", "captions", "--top-k", "10", "--json"); outs[0] != outs[1] {
		t.Errorf("the folder finds\n%s\nthe workers' workspace\n%s", outs[0], outs[1])
	}
}

// A worker with --follow picks up work queued after it started, and a
// stop (as Ctrl-C or SIGTERM give) ends it cleanly.
func TestWorkerFollow(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	data := makeFlickrKaggle(t, 4)
	enqueue := func() {
		t.Helper()
		if code, _, errOut := xmodal(t, "index", "--data", data, "--workspace", url, "--model", modelA, "--vectors", "local", "--enqueue"); code != 0 {
			t.Fatalf("enqueue: exit %d: %s", code, errOut)
		}
	}
	enqueue()
	stderr, stop := background("worker", "--workspace", url, "--model", modelA, "--follow", "--lease", "2s")
	waitDone := func(images int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			code, out, _ := xmodal(t, "index", "--workspace", url, "--status", "--json")
			var st workspace.QueueStatus
			json.Unmarshal([]byte(out), &st)
			if code == 0 && st.ImagesDone == images {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue status %s after a minute; the worker says:\n%s", out, stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitDone(6) // 4 images and 2 broken files
	// A changed image is queued again.
	copyFile(t, filepath.Join(data, "Images", "0002.png"), filepath.Join(data, "Images", "0001.png"))
	enqueue()
	waitDone(7)
	if code := stop(); code != 0 || !strings.Contains(stderr.String(), "worker: stopped") {
		t.Errorf("stopped worker: exit %d:\n%s", code, stderr.String())
	}
}

// A worker that does not mount the dataset reads it from a web server (an
// object store's URL, say) with --root: documents record the URLs, and
// the server redirects to them and makes thumbnails from them.
func TestWorkerFromURL(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	data := makeFlickrKaggle(t, 6)
	files := httptest.NewServer(http.FileServer(http.Dir(data)))
	defer files.Close()
	if code, _, errOut := xmodal(t, "index", "--data", data, "--workspace", url, "--model", modelA, "--vectors", "local", "--enqueue"); code != 0 {
		t.Fatalf("enqueue: exit %d: %s", code, errOut)
	}
	if code, _, errOut := xmodal(t, "worker", "--workspace", url, "--root", files.URL+"/"); code != 0 {
		t.Fatalf("worker: exit %d: %s", code, errOut)
	}
	ws, err := workspace.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	imgs, err := ws.ImagesInSplit(context.Background(), "")
	if err != nil || len(imgs) != 6 {
		t.Fatalf("%d images, %v", len(imgs), err)
	}
	for _, im := range imgs {
		if want := files.URL + "/" + im.Key; im.Path != want || im.Size == 0 {
			t.Errorf("image %s: path %q, size %d; want %q", im.Key, im.Path, im.Size, want)
		}
	}
	skipped, _ := ws.Skipped(context.Background())
	if len(skipped) != 2 || !strings.Contains(skipped["Images/empty.png"].Reason, "empty") {
		t.Errorf("skipped %+v", skipped)
	}

	api := serveWorkspace(t, url, modelA)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(fmt.Sprintf("%s/api/v1/images/%d/file", api, imgs[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != imgs[0].Path {
		t.Errorf("file: %d to %q, want a redirect to %s", resp.StatusCode, resp.Header.Get("Location"), imgs[0].Path)
	}
	resp, err = http.Get(fmt.Sprintf("%s/api/v1/images/%d/thumbnail", api, imgs[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("\xff\xd8")) {
		t.Errorf("thumbnail: %d, %q", resp.StatusCode, body[:min(20, len(body))])
	}
}
