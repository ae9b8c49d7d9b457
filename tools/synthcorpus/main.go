// Command synthcorpus writes a synthetic dataset in the layout of Flickr8k
// on Kaggle (Images/*.jpg and captions.txt, five captions per image), with
// JPEGs of Flickr's sizes and file sizes, for measuring the indexing
// pipeline at full scale without the real data:
//
//	go run ./tools/synthcorpus --out /tmp/f8k --images 8091
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	subjects = []string{"A dog", "A man", "Two children", "A woman", "A boy", "A girl", "A brown dog", "A group of people", "A cyclist", "A black cat"}
	actions  = []string{"runs through", "is playing in", "jumps over", "walks along", "sits on", "stands near", "rides across", "looks at"}
	places   = []string{"the snow", "a grassy field", "the beach", "a busy street", "the water", "a wooden bench", "the mountains", "a red wall"}
)

func main() {
	out := flag.String("out", "", "output folder")
	n := flag.Int("images", 8091, "number of images")
	quality := flag.Int("quality", 92, "JPEG quality")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "synthcorpus: --out is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(filepath.Join(*out, "Images"), 0o755); err != nil {
		fail(err)
	}
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := writeImage(filepath.Join(*out, "Images", name(i)), i, *quality); err != nil {
					fail(err)
				}
			}
		}()
	}
	for i := range *n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	f, err := os.Create(filepath.Join(*out, "captions.txt"))
	if err != nil {
		fail(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "image,caption")
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range *n {
		for range 5 {
			fmt.Fprintf(w, "%s,%s %s %s , \"quoted\" words .\n", name(i),
				subjects[rng.IntN(len(subjects))], actions[rng.IntN(len(actions))], places[rng.IntN(len(places))])
		}
	}
	if err := w.Flush(); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
}

func name(i int) string { return fmt.Sprintf("%010d_synth.jpg", 1000000000+i*7919) }

// writeImage draws soft colour fields with texture, which JPEG compresses
// to about the size of a Flickr photo (100–150 KB at 500×375).
func writeImage(path string, i, quality int) error {
	rng := rand.New(rand.NewPCG(uint64(i), 42))
	sizes := [][2]int{{500, 375}, {500, 333}, {375, 500}, {500, 400}, {333, 500}, {500, 281}}
	sz := sizes[rng.IntN(len(sizes))]
	img := image.NewRGBA(image.Rect(0, 0, sz[0], sz[1]))
	type blob struct{ x, y, r, cr, cg, cb float64 }
	blobs := make([]blob, 6)
	for b := range blobs {
		blobs[b] = blob{rng.Float64() * float64(sz[0]), rng.Float64() * float64(sz[1]), 40 + rng.Float64()*200, rng.Float64() * 255, rng.Float64() * 255, rng.Float64() * 255}
	}
	fx, fy := 0.02+rng.Float64()*0.2, 0.02+rng.Float64()*0.2
	for y := range sz[1] {
		for x := range sz[0] {
			var r, g, b, wsum float64
			for _, bl := range blobs {
				dx, dy := float64(x)-bl.x, float64(y)-bl.y
				w := math.Exp(-(dx*dx + dy*dy) / (2 * bl.r * bl.r))
				r, g, b, wsum = r+w*bl.cr, g+w*bl.cg, b+w*bl.cb, wsum+w
			}
			tex := 28*math.Sin(float64(x)*fx)*math.Cos(float64(y)*fy) + rng.NormFloat64()*10
			wsum += 1e-9
			img.Set(x, y, color.RGBA{clamp(r/wsum + tex), clamp(g/wsum + tex), clamp(b/wsum + tex), 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: quality}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func clamp(v float64) uint8 { return uint8(math.Max(0, math.Min(255, v))) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "synthcorpus:", err)
	os.Exit(1)
}
