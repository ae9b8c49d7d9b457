package workspace

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xmodal/xmodal/internal/pgtest"
)

func newQueueWorkspace(t testing.TB, m Model) *Workspace {
	t.Helper()
	w, err := CreateWith(context.Background(), pgtest.Shared(t).NewDatabase(t), m, Options{Vectors: VectorsLocal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func jobBatches(jobs, per int) [][]JobItem {
	out := make([][]JobItem, jobs)
	for j := range out {
		for i := range per {
			key := fmt.Sprintf("%03d/%03d.jpg", j, i)
			out[j] = append(out[j], JobItem{Key: key, Name: key, Captions: []string{"a caption"}})
		}
	}
	return out
}

// docs stands for a worker's encoding of a job.
func docs(j *Job) []NewImage {
	var out []NewImage
	for _, it := range j.Items {
		out = append(out, newImage(it.Key, 1, it.Captions...))
	}
	return out
}

func TestQueue(t *testing.T) {
	ctx := context.Background()
	w := newQueueWorkspace(t, testModel)
	if n, err := w.Enqueue(ctx, "/data", jobBatches(3, 4)); err != nil || n != 3 {
		t.Fatalf("Enqueue = %d, %v", n, err)
	}
	pending, err := w.PendingKeys(ctx)
	if err != nil || len(pending) != 12 {
		t.Fatalf("PendingKeys: %d, %v", len(pending), err)
	}

	// Two workers get different jobs.
	a, err := w.Claim(ctx, "a", time.Minute)
	if err != nil || a == nil || a.Root != "/data" || len(a.Items) != 4 {
		t.Fatalf("Claim a = %+v, %v", a, err)
	}
	b, err := w.Claim(ctx, "b", 50*time.Millisecond)
	if err != nil || b == nil || b.ID == a.ID {
		t.Fatalf("Claim b = %+v, %v", b, err)
	}
	if err := w.Complete(ctx, a, "a", docs(a), nil); err != nil {
		t.Fatal(err)
	}
	// b's lease runs out; c takes the job over, and b's late completion
	// commits nothing.
	time.Sleep(100 * time.Millisecond)
	c, err := w.Claim(ctx, "c", time.Minute)
	if err != nil || c == nil || c.ID != b.ID || c.Attempts != 2 {
		t.Fatalf("Claim c = %+v, %v; want job %d, second attempt", c, err, b.ID)
	}
	if err := w.Complete(ctx, b, "b", docs(b), nil); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("late Complete by b: %v", err)
	}
	if err := w.Renew(ctx, b, "b", time.Minute); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Renew by b: %v", err)
	}
	if err := w.Complete(ctx, c, "c", docs(c), nil); err != nil {
		t.Fatal(err)
	}
	if rows, _ := w.Rows(Images); rows != 8 {
		t.Errorf("%d image rows after two jobs of 4, want 8: a job was committed twice", rows)
	}

	// A job released by a failing worker goes to the next at once; after
	// MaxAttempts it is set aside.
	for i := range MaxAttempts {
		j, err := w.Claim(ctx, "d", time.Minute)
		if err != nil || j == nil {
			t.Fatalf("claim %d: %v, %v", i, j, err)
		}
		if err := w.Release(ctx, j, "d", errors.New("cannot read /data")); err != nil {
			t.Fatal(err)
		}
	}
	if j, err := w.Claim(ctx, "d", time.Minute); j != nil || err != nil {
		t.Fatalf("claim after %d failures: %+v, %v", MaxAttempts, j, err)
	}
	s, err := w.Queue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Jobs != 3 || s.JobsDone != 2 || s.JobsFailed != 1 || s.ImagesDone != 8 || s.ImagesFailed != 4 || len(s.Failures) != 1 || len(s.Workers) != 4 {
		t.Errorf("queue status = %+v", s)
	}
	for _, ws := range s.Workers {
		if want := map[string]int{"a": 4, "b": 0, "c": 4, "d": 0}[ws.Name]; ws.Images != want {
			t.Errorf("worker %s: %d images, want %d", ws.Name, ws.Images, want)
		}
	}
}

// BenchmarkQueue moves jobs of 256 images with ready-made vectors (no
// encoding) through Postgres with two workers, each its own connection:
// the queue's own cost. The images are shaped like Flickr's, with 5
// captions each, and the vectors like the bundled model's, 256 values.
func BenchmarkQueue(b *testing.B) {
	ctx := context.Background()
	const per, workers, dim = 256, 2, 256
	w := newQueueWorkspace(b, Model{ID: "bench", Name: "bench", Dim: dim})
	batches := jobBatches(b.N*workers, per)
	for _, items := range batches {
		for i := range items {
			items[i].Captions = []string{"one", "two", "three", "four", "five"}
		}
	}
	vec := make([]float32, dim)
	docs := func(j *Job) []NewImage {
		var out []NewImage
		for _, it := range j.Items {
			im := NewImage{Key: it.Key, Path: it.Name, SHA256: "h", Vector: vec, Captions: it.Captions}
			for range it.Captions {
				im.CaptionVectors = append(im.CaptionVectors, vec)
			}
			out = append(out, im)
		}
		return out
	}
	if _, err := w.Enqueue(ctx, "/data", batches); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("w", i)
			for {
				j, err := w.Claim(ctx, name, time.Minute)
				if err != nil {
					b.Error(err)
					return
				}
				if j == nil {
					return
				}
				if err := w.Complete(ctx, j, name, docs(j), nil); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*workers*per)/time.Since(start).Seconds(), "images/s")
}
