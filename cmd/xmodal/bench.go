package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/model/vsepp"
	"github.com/xmodal/xmodal/nn"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "ann":
			return runBenchANN(ctx, args[1:], stdout, stderr)
		case "query":
			return runBenchQuery(ctx, args[1:], stdout, stderr)
		}
	}
	fs := newFlags("bench", "(--model DIR | --arch ViT-B/32|ViT-B/16|ViT-L/14|vsepp-resnet152|vsepp-vgg19) [--batch N] [--tokens 16,77] [--json]", stderr)
	var mf modelFlags
	mf.add(fs, false)
	arch := fs.String("arch", "", "benchmark a published architecture with random weights instead")
	batch := fs.Int("batch", 32, "images and texts per batch")
	tokens := fs.String("tokens", "16,77", "text lengths to measure, in tokens")
	duration := fs.Duration("duration", 5*time.Second, "how long to measure each workload")
	wait := fs.Duration("wait-idle", 60*time.Second, "how long to wait for other processes to leave the CPU")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if (mf.name == "") == (*arch == "") {
		return usagef("give exactly one of --model and --arch")
	}
	if *batch < 1 {
		return usagef("--batch must be at least 1")
	}
	var lengths []int
	for _, f := range strings.Split(*tokens, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			return usagef("--tokens %q: want comma-separated lengths of at least 2", *tokens)
		}
		lengths = append(lengths, n)
	}

	if strings.HasPrefix(*arch, "vsepp-") || isVSEPP(mf.name) {
		prec, err := nn.ParsePrecision(mf.precision)
		if err != nil {
			return usageError{err.Error()}
		}
		return benchVSEPP(ctx, mf.name, *arch, prec, *batch, lengths, *duration, *wait, *asJSON, stdout, stderr)
	}
	var m *clip.Model
	var err error
	name := mf.name
	if *arch != "" {
		cfg, err := clip.Arch(*arch)
		if err != nil {
			return usageError{err.Error()}
		}
		if m, err = clip.Random(cfg, 1); err != nil {
			return err
		}
		name = *arch + " (random weights)"
		opts, err := mf.options()
		if err == nil {
			err = mf.apply(m, opts)
		}
		if err != nil {
			return err
		}
	} else if m, err = mf.loadCLIP(); err != nil {
		return err
	}
	defer m.Close()
	for _, n := range lengths {
		if n > m.ContextLength() {
			return usagef("--tokens %d is longer than the model's context of %d", n, m.ContextLength())
		}
	}

	busy := waitIdle(ctx, *wait, stderr)
	res := benchResult{
		Model: name, Precision: mf.precision, Batch: *batch, Threads: runtime.GOMAXPROCS(0),
		CPU: nn.CPUFeatures(), MachineBusy: busy, PeakGFLOPS: nn.MeasurePeak(time.Second),
	}
	fmt.Fprintf(stderr, "measured float32 FMA peak: %.0f GFLOP/s\n", res.PeakGFLOPS)

	pixels := make([][]float32, *batch)
	for i := range pixels {
		pixels[i] = make([]float32, m.PixelLen())
		for j := range pixels[i] {
			pixels[i][j] = float32((i*7+j)%511)/256 - 1
		}
	}
	secs, err := measure(ctx, *duration, func() error {
		_, err := m.EncodePixels(ctx, pixels)
		return err
	})
	if err != nil {
		return err
	}
	res.ImagesPerS = float64(*batch) / secs
	res.GFLOPS = res.ImagesPerS * m.ImageFLOPs() / 1e9
	if res.PeakGFLOPS > 0 {
		res.PeakFraction = res.GFLOPS / res.PeakGFLOPS
	}
	fmt.Fprintf(stderr, "images: %.1f/s (%.0f GFLOP/s)\n", res.ImagesPerS, res.GFLOPS)

	for _, n := range lengths {
		ids := make([][]int, *batch)
		for i := range ids {
			ids[i] = make([]int, n)
			for j := range ids[i] {
				ids[i][j] = 1 + (i*131+j*17)%(m.Config.Text.VocabSize-3)
			}
		}
		secs, err := measure(ctx, *duration, func() error {
			_, err := m.EncodeTokens(ctx, ids)
			return err
		})
		if err != nil {
			return err
		}
		t := textResult{Tokens: n, TextsPerS: float64(*batch) / secs, LatencyMS: 1000 * secs}
		t.GFLOPS = t.TextsPerS * m.Config.TextFLOPs(n) / 1e9
		res.Texts = append(res.Texts, t)
		res.TextsPerS = t.TextsPerS
		fmt.Fprintf(stderr, "texts of %d tokens: %.1f/s (%.0f GFLOP/s)\n", n, t.TextsPerS, t.GFLOPS)
	}

	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "model      %s\nprecision  %s, batch %d, %d threads, %s\n", res.Model, res.Precision, res.Batch, res.Threads, res.CPU)
	if busy {
		fmt.Fprintln(stdout, "warning    the machine was busy: other processes used the CPU, so these numbers are low")
	}
	fmt.Fprintf(stdout, "FMA peak   %8.0f GFLOP/s (float32, measured)\n", res.PeakGFLOPS)
	fmt.Fprintf(stdout, "images     %8.1f /s  %6.0f GFLOP/s  (%.0f%% of the FMA peak)\n", res.ImagesPerS, res.GFLOPS, 100*res.PeakFraction)
	for _, t := range res.Texts {
		fmt.Fprintf(stdout, "texts ×%-3d %8.1f /s  %6.0f GFLOP/s  (%.1f ms per batch)\n", t.Tokens, t.TextsPerS, t.GFLOPS, t.LatencyMS)
	}
	return nil
}

// benchVSEPP measures a VSE++ model: images through the CNN tower and
// captions through the GRU, one caption at a time as queries arrive.
func benchVSEPP(ctx context.Context, modelName, arch string, prec nn.Precision, batch int, lengths []int, d, wait time.Duration, asJSON bool, stdout, stderr io.Writer) error {
	var m *vsepp.Model
	var err error
	name := modelName
	if arch != "" {
		fmt.Fprintf(stderr, "building %s with random weights...\n", arch)
		if m, err = vsepp.Random(arch, 1); err != nil {
			return usageError{err.Error()}
		}
		name = arch + " (random weights)"
	} else {
		dir, _ := model.Dir(modelName)
		if m, err = vsepp.LoadDir(dir); err != nil {
			return err
		}
	}
	defer m.Close()
	if err := m.SetPrecision(prec); err != nil {
		return err
	}
	busy := waitIdle(ctx, wait, stderr)
	res := benchResult{
		Model: name, Precision: prec.String(), Batch: batch, Threads: runtime.GOMAXPROCS(0),
		CPU: nn.CPUFeatures(), MachineBusy: busy, PeakGFLOPS: nn.MeasurePeak(time.Second),
	}
	fmt.Fprintf(stderr, "measured float32 FMA peak: %.0f GFLOP/s\n", res.PeakGFLOPS)
	if !m.Config.Precomp {
		side := m.Preprocess.CropSize
		pixels := make([][]float32, batch)
		for i := range pixels {
			pixels[i] = make([]float32, 3*side*side)
			for j := range pixels[i] {
				pixels[i][j] = float32((i*7+j)%511)/256 - 1
			}
		}
		secs, err := measure(ctx, d, func() error {
			_, err := m.EncodePixels(ctx, pixels)
			return err
		})
		if err != nil {
			return err
		}
		res.ImagesPerS = float64(batch) / secs
		res.GFLOPS = res.ImagesPerS * m.ImageFLOPs() / 1e9
		if res.PeakGFLOPS > 0 {
			res.PeakFraction = res.GFLOPS / res.PeakGFLOPS
		}
		fmt.Fprintf(stderr, "images: %.1f/s (%.0f GFLOP/s)\n", res.ImagesPerS, res.GFLOPS)
	}
	for _, n := range lengths {
		ids := make([][]int, batch)
		for i := range ids {
			ids[i] = make([]int, n)
			for j := range ids[i] {
				ids[i][j] = 4 + (i*131+j*17)%(m.Config.VocabSize-4)
			}
		}
		// One at a time, as queries arrive, and as one batch, as indexing
		// encodes them.
		secs, err := measure(ctx, d, func() error {
			for _, c := range ids {
				m.EncodeIDs(c)
			}
			return nil
		})
		if err != nil {
			return err
		}
		batched, err := measure(ctx, d, func() error {
			_, err := m.EncodeIDsBatch(ctx, ids)
			return err
		})
		if err != nil {
			return err
		}
		t := textResult{Tokens: n, TextsPerS: float64(batch) / batched, LatencyMS: 1000 * batched, OneAtATimePerS: float64(batch) / secs}
		t.GFLOPS = t.TextsPerS * m.CaptionFLOPs(n) / 1e9
		res.Texts = append(res.Texts, t)
		res.TextsPerS = t.TextsPerS
		fmt.Fprintf(stderr, "captions of %d tokens: %.1f/s in batches (%.0f GFLOP/s), %.1f/s one at a time\n", n, t.TextsPerS, t.GFLOPS, t.OneAtATimePerS)
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "model      %s\nprecision  %s, batch %d, %d threads, %s\n", res.Model, res.Precision, res.Batch, res.Threads, res.CPU)
	if busy {
		fmt.Fprintln(stdout, "warning    the machine was busy: other processes used the CPU, so these numbers are low")
	}
	fmt.Fprintf(stdout, "FMA peak   %8.0f GFLOP/s (float32, measured)\n", res.PeakGFLOPS)
	if res.ImagesPerS > 0 {
		fmt.Fprintf(stdout, "images     %8.1f /s  %6.0f GFLOP/s  (%.0f%% of the FMA peak)\n", res.ImagesPerS, res.GFLOPS, 100*res.PeakFraction)
	}
	for _, t := range res.Texts {
		fmt.Fprintf(stdout, "captions ×%-3d %6.1f /s  %6.0f GFLOP/s  (%.1f ms per batch; %.1f /s one at a time)\n", t.Tokens, t.TextsPerS, t.GFLOPS, t.LatencyMS, t.OneAtATimePerS)
	}
	return nil
}

type benchResult struct {
	Model      string  `json:"model"`
	Precision  string  `json:"precision"`
	Batch      int     `json:"batch"`
	Threads    int     `json:"threads"`
	CPU        string  `json:"cpu"`
	ImagesPerS float64 `json:"images_per_s"`
	GFLOPS     float64 `json:"gflops"`
	// PeakGFLOPS is the measured float32 FMA peak of all threads, and
	// PeakFraction the share of it that image encoding reaches (bf16 and
	// int8 can exceed 1: their instructions do more than FMAs).
	PeakGFLOPS   float64      `json:"peak_gflops"`
	PeakFraction float64      `json:"peak_fraction"`
	TextsPerS    float64      `json:"texts_per_s"` // at the last --tokens length
	Texts        []textResult `json:"texts"`
	MachineBusy  bool         `json:"machine_busy"`
}

type textResult struct {
	Tokens    int     `json:"tokens"`
	TextsPerS float64 `json:"texts_per_s"`
	// OneAtATimePerS is VSE++'s captions/s encoded one by one, as queries
	// arrive (CLIP's texts are always measured in batches).
	OneAtATimePerS float64 `json:"one_at_a_time_per_s,omitempty"`
	GFLOPS         float64 `json:"gflops"`
	LatencyMS      float64 `json:"batch_latency_ms"`
}

// measure runs fn once to warm up, then repeatedly for about d, and returns
// the mean seconds per call.
func measure(ctx context.Context, d time.Duration, fn func() error) (float64, error) {
	if err := fn(); err != nil {
		return 0, err
	}
	start := time.Now()
	n := 0
	for n < 2 || time.Since(start) < d {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := fn(); err != nil {
			return 0, err
		}
		n++
	}
	return time.Since(start).Seconds() / float64(n), nil
}

// waitIdle waits up to max for the other processes on the machine to use
// less than a fifth of a core, and reports whether the machine stayed busy.
func waitIdle(ctx context.Context, max time.Duration, stderr io.Writer) bool {
	deadline := time.Now().Add(max)
	told := false
	for {
		used, ok := cpuBusy(500 * time.Millisecond)
		if !ok || used < 0.2 {
			return false
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			fmt.Fprintf(stderr, "the machine is still busy (%.1f cores used by other processes); measuring anyway\n", used)
			return true
		}
		if !told {
			fmt.Fprintf(stderr, "waiting for an idle machine (%.1f cores in use)...\n", used)
			told = true
		}
	}
}

// cpuBusy samples /proc/stat over d and returns how many cores were busy.
func cpuBusy(d time.Duration) (float64, bool) {
	read := func() (busy, total float64, ok bool) {
		data, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0, false
		}
		fields := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])
		if len(fields) < 5 || fields[0] != "cpu" {
			return 0, 0, false
		}
		for i, f := range fields[1:] {
			v, _ := strconv.ParseFloat(f, 64)
			total += v
			if i != 3 && i != 4 { // idle and iowait
				busy += v
			}
		}
		return busy, total, true
	}
	b0, t0, ok := read()
	if !ok {
		return 0, false
	}
	time.Sleep(d)
	b1, t1, ok := read()
	if !ok || t1 == t0 {
		return 0, false
	}
	return (b1 - b0) / (t1 - t0) * float64(runtime.NumCPU()), true
}
