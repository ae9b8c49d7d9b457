// Package indexer builds workspaces: it reads a dataset's images and
// captions, encodes them and commits them to a workspace in batches, so
// that an interrupted run loses at most one batch and a new run resumes
// where the last one stopped.
package indexer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xmodal/xmodal/dataset"
	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/workspace"
)

// Options tune a run.
type Options struct {
	// Split indexes only the images of this split ("" for all).
	Split string
	// Limit indexes at most this many images (0 for all), the first by key.
	Limit int
	// BatchSize is how many images are encoded and committed together.
	BatchSize int
	// Prune removes indexed images that are no longer in the dataset.
	Prune bool
	// MaxFileSize skips larger files without reading them (default 64 MiB).
	MaxFileSize int64
	// Workers is the number of decoding goroutines (default GOMAXPROCS).
	Workers int
	// Progress, if set, is called after every committed batch.
	Progress func(Progress)
}

// Progress reports how far a run is.
type Progress struct {
	Done, Total int // images processed and to process in this run
	Skipped     int // of Done, skipped
	Elapsed     time.Duration
}

// Summary is the outcome of a run. The counts include the work of earlier
// runs, so a resumed run reports the same as an uninterrupted one.
type Summary struct {
	ImagesIndexed   int              `json:"images_indexed"`
	CaptionsIndexed int              `json:"captions_indexed"`
	Skipped         []workspace.Skip `json:"skipped"`

	// What this run did.
	Added     int               `json:"added"`
	Unchanged int               `json:"unchanged"`
	Pruned    int               `json:"pruned"`
	Problems  []dataset.Problem `json:"-"`
	Timing    Timing            `json:"timing"`
}

// Timing breaks a run's time down by stage. Read and Decode are summed over
// the decoding goroutines; Encode and Commit are wall time of the one
// encoding goroutine, which is the pipeline's bottleneck when Wall ≈ Encode
// + Commit.
type Timing struct {
	Wall   time.Duration `json:"wall_ns"`
	Read   time.Duration `json:"read_ns"`
	Decode time.Duration `json:"decode_ns"`
	Encode time.Duration `json:"encode_ns"`
	Commit time.Duration `json:"commit_ns"`
	// Waiting is how long the encoder waited for decoded images.
	Waiting time.Duration `json:"encoder_waiting_ns"`
}

// item is one image on its way through the pipeline.
type item struct {
	img    dataset.Image
	name   string // the image's path within the dataset's folder
	size   int64
	mtime  int64
	sha    string
	pixels []float32
	touch  bool   // content unchanged: only record the new size and mtime
	skip   string // why the image cannot be used
}

// Run indexes ds into ws with enc.
func Run(ctx context.Context, ds *dataset.Dataset, enc model.Encoder, ws *workspace.Workspace, opts Options) (*Summary, error) {
	start := time.Now()
	if opts.BatchSize <= 0 {
		opts.BatchSize = 32
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = 64 << 20
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	sum := &Summary{Problems: ds.Problems}
	root, states, todo, err := plan(ctx, ds, ws, opts, sum)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if err := run(ctx, folder{root, ds.Root}, todo, states, enc, ws, ws.Add, opts, sum, start); err != nil {
		return nil, err
	}

	st, err := ws.Stats(ctx)
	if err != nil {
		return nil, err
	}
	sum.ImagesIndexed, sum.CaptionsIndexed = st.Images, st.Captions
	all, err := ws.Skipped(ctx)
	if err != nil {
		return nil, err
	}
	sum.Skipped = make([]workspace.Skip, 0, len(all))
	for _, s := range all {
		sum.Skipped = append(sum.Skipped, s)
	}
	slices.SortFunc(sum.Skipped, func(a, b workspace.Skip) int { return strings.Compare(a.Key, b.Key) })
	sum.Timing.Wall = time.Since(start)
	return sum, nil
}

// plan stats every image of ds and returns those that are new or changed
// since ws recorded them, with what ws records of every image and the
// dataset's folder, open, for the caller to read the images from and
// close; with opts.Prune it deletes from ws the images that left the
// dataset.
func plan(ctx context.Context, ds *dataset.Dataset, ws *workspace.Workspace, opts Options, sum *Summary) (_ *os.Root, _ map[string]workspace.State, _ []item, err error) {
	// Images are opened through the dataset's folder, confined to it: a
	// name or a symbolic link that leads out of it is skipped, not read.
	root, err := os.OpenRoot(ds.Root)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("dataset %s: %w", ds.Root, err)
	}
	defer func() {
		if err != nil {
			root.Close()
		}
	}()
	states, err := ws.States(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	skipped, err := ws.Skipped(ctx)
	if err != nil {
		return nil, nil, nil, err
	}

	// Plan: stat every image, and send on only what is new or changed.
	var todo []item
	var missing []string // indexed, listed, but the file is gone
	for _, img := range ds.Filter(opts.Split, opts.Limit) {
		it := item{img: img, name: rootPath(ds, img)}
		st, err := root.Stat(it.name)
		if err != nil {
			it.skip = "cannot read: " + errText(err)
			todo = append(todo, it)
			if _, indexed := states[img.Key]; indexed && opts.Prune && errors.Is(err, os.ErrNotExist) {
				missing = append(missing, img.Key)
			}
			continue
		}
		it.size, it.mtime = st.Size(), st.ModTime().UnixNano()
		if s, ok := states[img.Key]; ok && s.Size == it.size && s.MTime == it.mtime && sameDoc(s, img) {
			sum.Unchanged++
			continue
		}
		if s, ok := skipped[img.Key]; ok && s.Size == it.size && s.MTime == it.mtime {
			continue // already known to be unusable, and unchanged since
		}
		todo = append(todo, it)
	}
	if opts.Prune {
		gone := missing
		for key := range states {
			if _, ok := ds.Lookup(key); !ok {
				gone = append(gone, key)
			}
		}
		for key := range skipped {
			if _, ok := ds.Lookup(key); !ok {
				gone = append(gone, key)
			}
		}
		slices.Sort(gone)
		if sum.Pruned, err = ws.Delete(ctx, gone); err != nil {
			return nil, nil, nil, err
		}
	}

	return root, states, todo, nil
}

// sameDoc reports whether an indexed image has the dataset's split and
// captions, so that only its file needs checking.
func sameDoc(s workspace.State, img dataset.Image) bool {
	return s.Split == img.Split && slices.Equal(s.Captions, img.Captions)
}

// add commits the documents of a batch and records its skipped images.
type add func(ctx context.Context, docs []workspace.NewImage, skipped []workspace.Skip) error

// run pushes the planned items through decoding workers into the encoder,
// which commits a batch at a time with add.
func run(ctx context.Context, src files, todo []item, states map[string]workspace.State, enc model.Encoder, ws *workspace.Workspace, add add, opts Options, sum *Summary, start time.Time) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan item)
	done := make(chan item, 2*opts.BatchSize)
	var timing sync.Mutex
	var wg sync.WaitGroup
	imgOpts := enc.ImageOptions()
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				if it.skip == "" {
					read, decode := prepare(ctx, src, &it, states, imgOpts, opts.MaxFileSize)
					timing.Lock()
					sum.Timing.Read += read
					sum.Timing.Decode += decode
					timing.Unlock()
				}
				select {
				case done <- it:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, it := range todo {
			select {
			case jobs <- it:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(done)
	}()

	progress := Progress{Total: len(todo)}
	var batch []item
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := commit(ctx, batch, enc, ws, add, sum); err != nil {
			return err
		}
		for _, it := range batch {
			progress.Done++
			if it.skip != "" {
				progress.Skipped++
			}
		}
		batch = batch[:0]
		if opts.Progress != nil {
			progress.Elapsed = time.Since(start)
			opts.Progress(progress)
		}
		return nil
	}
	for {
		waitStart := time.Now()
		var it item
		var ok bool
		select {
		case it, ok = <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		sum.Timing.Waiting += time.Since(waitStart)
		if !ok {
			break
		}
		batch = append(batch, it)
		if len(batch) >= opts.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return flush()
}

// prepare reads, hashes and decodes one image, recording why it cannot be
// used if so. An item not stat'ed (size −1, from a URL) takes its size and
// time from the read. It returns the time spent reading and decoding.
func prepare(ctx context.Context, src files, it *item, states map[string]workspace.State, opts imageio.Options, maxSize int64) (read, decode time.Duration) {
	t0 := time.Now()
	if it.size > maxSize {
		it.skip = fmt.Sprintf("file too large (%d bytes, limit %d)", it.size, maxSize)
		return
	}
	if it.size == 0 {
		it.skip = "empty file"
		return
	}
	data, mtime, err := src.read(ctx, it.name, maxSize)
	read = time.Since(t0)
	if err != nil {
		it.skip = "cannot read: " + errText(err)
		return
	}
	if it.size < 0 {
		it.size, it.mtime = int64(len(data)), mtime
		if it.size == 0 {
			it.skip = "empty file"
			return
		}
	}
	h := sha256.Sum256(data)
	it.sha = hex.EncodeToString(h[:])
	if s, ok := states[it.img.Key]; ok && s.SHA256 == it.sha && sameDoc(s, it.img) {
		it.touch = true
		return
	}
	t1 := time.Now()
	it.pixels, err = imageio.PreprocessBytes(data, opts)
	decode = time.Since(t1)
	if err != nil {
		it.skip = errText(err)
	}
	return
}

// rootPath is an image's path within the dataset's folder, for os.Root.
func rootPath(ds *dataset.Dataset, img dataset.Image) string {
	rel, err := filepath.Rel(ds.Root, img.Path)
	if err != nil {
		return img.Path // not under the root: os.Root refuses it
	}
	return rel
}

func readFile(root *os.Root, name string, limit int64) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("file too large (over %d bytes)", limit)
	}
	return data, nil
}

// errText drops the path from file errors: the skip list names the file.
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		if strings.Contains(pe.Err.Error(), "escapes") || strings.Contains(pe.Err.Error(), "outside") {
			return "outside the dataset folder (a symbolic link or .. leads out of it)"
		}
		return pe.Op + ": " + pe.Err.Error()
	}
	return imageio.Reason(err)
}

// commit encodes a batch's images and captions and adds them to the
// workspace in one transaction.
func commit(ctx context.Context, batch []item, enc model.Encoder, ws *workspace.Workspace, add add, sum *Summary) error {
	t0 := time.Now()
	var pixels [][]float32
	var texts []string
	var skips []workspace.Skip
	for _, it := range batch {
		switch {
		case it.skip != "":
			skips = append(skips, workspace.Skip{Key: it.img.Key, Path: it.img.Path, Size: it.size, MTime: it.mtime, Reason: it.skip})
		case it.touch:
			if err := ws.Touch(ctx, it.img.Key, it.size, it.mtime, it.img.Path); err != nil {
				return err
			}
			sum.Unchanged++
		default:
			pixels = append(pixels, it.pixels)
			texts = append(texts, it.img.Captions...)
		}
	}
	imgVecs, err := enc.EncodePixels(ctx, pixels)
	if err != nil {
		return fmt.Errorf("encode images: %w", err)
	}
	capVecs, err := enc.EncodeTexts(ctx, texts)
	if err != nil {
		return fmt.Errorf("encode captions: %w", err)
	}
	t1 := time.Now()
	sum.Timing.Encode += t1.Sub(t0)
	var docs []workspace.NewImage
	for _, it := range batch {
		if it.skip != "" || it.touch {
			continue
		}
		v := imgVecs[0]
		imgVecs = imgVecs[1:]
		cv := capVecs[:len(it.img.Captions)]
		capVecs = capVecs[len(it.img.Captions):]
		docs = append(docs, workspace.NewImage{
			Key: it.img.Key, Path: it.img.Path, SHA256: it.sha, Size: it.size, MTime: it.mtime,
			Split: it.img.Split, Vector: v, Captions: it.img.Captions, CaptionVectors: cv,
		})
	}
	if err := add(ctx, docs, skips); err != nil {
		return err
	}
	sum.Added += len(docs)
	sum.Timing.Commit += time.Since(t1)
	return nil
}
