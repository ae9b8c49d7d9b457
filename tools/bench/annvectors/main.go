// Command annvectors makes the vectors of the approximate-index benchmark
// from a real model: image embeddings of a dataset's images under random
// augmentations (crop, flip, colour jitter) as the base, embeddings of
// further augmentations as image queries, and embeddings of the dataset's
// captions as text queries.
//
// Augmented copies of a collection's images are what a large photo library
// looks like to an index (near-duplicates, bursts, edits around a smaller
// set of subjects), and caption embeddings carry the real modality gap
// between text and image vectors, which uniform noise would hide.
//
//	go run ./tools/bench/annvectors --data corpus/ --n 1000000 --out /tmp/ann
//
// writes base.f32, image_queries.f32, text_queries.f32 (row-major
// little-endian float32, unit length) and vectors.json describing them.
// An interrupted run resumes: base.f32 is appended to in whole rows.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmodal/xmodal/dataset"
	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/model"
)

func main() {
	data := flag.String("data", "", "dataset folder (any format xmodal reads)")
	n := flag.Int("n", 1000000, "base vectors")
	nImgQ := flag.Int("image-queries", 10000, "image query vectors")
	nTxtQ := flag.Int("text-queries", 10000, "text query vectors")
	out := flag.String("out", "", "output folder")
	modelName := flag.String("model", "default", "model")
	flag.Parse()
	if *data == "" || *out == "" {
		log.Fatal("--data and --out are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *data, *out, *modelName, *n, *nImgQ, *nTxtQ); err != nil {
		log.Fatal(err)
	}
}

type meta struct {
	Model        string `json:"model"`
	Dataset      string `json:"dataset"`
	Images       int    `json:"source_images"`
	Dim          int    `json:"dim"`
	Base         int    `json:"base"`
	ImageQueries int    `json:"image_queries"`
	TextQueries  int    `json:"text_queries"`
	Augment      string `json:"augmentation"`
}

func run(ctx context.Context, dir, out, modelName string, n, nImgQ, nTxtQ int) error {
	ds, err := dataset.Open(dir, "auto")
	if err != nil {
		return err
	}
	enc, err := model.Load(modelName, model.Options{})
	if err != nil {
		return err
	}
	defer enc.Close()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	dim := enc.Dim()
	imgs := ds.Images

	// Text queries: captions spread over the dataset, one per image.
	txtPath := filepath.Join(out, "text_queries.f32")
	if _, err := os.Stat(txtPath); err != nil {
		var texts []string
		for i := 0; len(texts) < nTxtQ && i < len(imgs)*4; i++ {
			im := imgs[(i*7919)%len(imgs)]
			if len(im.Captions) > 0 {
				texts = append(texts, im.Captions[i%len(im.Captions)])
			}
		}
		f, err := os.Create(txtPath)
		if err != nil {
			return err
		}
		for lo := 0; lo < len(texts); lo += 256 {
			vecs, err := enc.EncodeTexts(ctx, texts[lo:min(len(texts), lo+256)])
			if err != nil {
				f.Close()
				return err
			}
			if err := writeRows(f, vecs); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
		log.Printf("%d text queries", len(texts))
	}

	// Row i of the base is image i mod len(imgs) under augmentation i
	// (row i < len(imgs): the image as it is); image queries continue the
	// sequence past the base, so each is a new view of an indexed image.
	for _, part := range []struct {
		name     string
		from, to int
	}{{"base.f32", 0, n}, {"image_queries.f32", n, n + nImgQ}} {
		if err := encodeRange(ctx, enc, imgs, filepath.Join(out, part.name), part.from, part.to, dim); err != nil {
			return err
		}
	}
	m := meta{Model: enc.Name(), Dataset: dir, Images: len(imgs), Dim: dim, Base: n, ImageQueries: nImgQ, TextQueries: nTxtQ,
		Augment: "random resized crop (50-100% of the area, aspect 3/4-4/3), horizontal flip (p=0.5), brightness, contrast and saturation ×0.7-1.3"}
	b, _ := json.MarshalIndent(m, "", "  ")
	return os.WriteFile(filepath.Join(out, "vectors.json"), append(b, '\n'), 0o644)
}

// encodeRange appends to path the vectors of augmentations from..to-1,
// resuming after the whole rows the file already has.
func encodeRange(ctx context.Context, enc model.Encoder, imgs []dataset.Image, path string, from, to, dim int) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	have := int(st.Size() / int64(4*dim))
	if err := f.Truncate(int64(have * 4 * dim)); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return err
	}
	opts := enc.ImageOptions()
	// Every source image is decoded once and kept: row i and row i+len(imgs)
	// are views of the same picture, and decoding PNGs otherwise costs
	// twice the encoding (a corpus of small icons fits in a few GB).
	sources := make([]atomic.Pointer[image.NRGBA], len(imgs))
	const batch = 64
	start, done := time.Now(), 0
	for lo := from + have; lo < to; lo += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(to, lo+batch)
		pixels := make([][]float32, hi-lo)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := lo + w; i < hi; i += 2 {
					src := &sources[i%len(imgs)]
					img := src.Load()
					if img == nil {
						var err error
						if img, err = decode(imgs[i%len(imgs)].Path); err != nil {
							mu.Lock()
							firstErr = err
							mu.Unlock()
							return
						}
						src.Store(img)
					}
					p, err := view(img, i, i < len(imgs))
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					pixels[i-lo] = imageio.Preprocess(p, opts, nil)
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		vecs, err := enc.EncodePixels(ctx, pixels)
		if err != nil {
			return err
		}
		if err := writeRows(f, vecs); err != nil {
			return err
		}
		done += hi - lo
		if done%(batch*100) == 0 || hi == to {
			rate := float64(done) / time.Since(start).Seconds()
			left := time.Duration(float64(to-hi)/rate) * time.Second
			log.Printf("%s: %d/%d, %.0f/s, ETA %s", filepath.Base(path), hi-from, to-from, rate, left)
		}
	}
	return nil
}

func writeRows(w io.Writer, vecs [][]float32) error {
	var buf bytes.Buffer
	for _, v := range vecs {
		binary.Write(&buf, binary.LittleEndian, v)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// decode reads an image file into NRGBA pixels.
func decode(path string) (*image.NRGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := src.Bounds()
	img := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(img, img.Bounds(), src, b.Min, draw.Src)
	return img, nil
}

// view returns img itself if plain, else its augmentation seed.
func view(img *image.NRGBA, seed int, plain bool) (*imageio.Pixels, error) {
	if plain {
		return imageio.FromImage(img), nil
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	w, h := img.Rect.Dx(), img.Rect.Dy()
	area := (0.5 + 0.5*r.Float64()) * float64(w*h)
	aspect := math.Exp(math.Log(3.0/4) + r.Float64()*math.Log(16.0/9))
	cw := min(w, max(1, int(math.Sqrt(area*aspect))))
	ch := min(h, max(1, int(math.Sqrt(area/aspect))))
	x0, y0 := r.IntN(w-cw+1), r.IntN(h-ch+1)
	flip := r.IntN(2) == 0
	bright, contrast, sat := 0.7+0.6*r.Float64(), 0.7+0.6*r.Float64(), 0.7+0.6*r.Float64()
	outImg := image.NewNRGBA(image.Rect(0, 0, cw, ch))
	var mean float64
	for y := range ch {
		for x := range cw {
			sx := x0 + x
			if flip {
				sx = x0 + cw - 1 - x
			}
			s := img.PixOffset(sx, y0+y)
			d := outImg.PixOffset(x, y)
			copy(outImg.Pix[d:d+4], img.Pix[s:s+4])
			mean += 0.299*float64(img.Pix[s]) + 0.587*float64(img.Pix[s+1]) + 0.114*float64(img.Pix[s+2])
		}
	}
	mean = mean / float64(cw*ch) * bright
	for i := 0; i < len(outImg.Pix); i += 4 {
		p := outImg.Pix[i : i+3]
		var v [3]float64
		for c := range 3 {
			v[c] = float64(p[c]) * bright
		}
		grey := 0.299*v[0] + 0.587*v[1] + 0.114*v[2]
		for c := range 3 {
			x := grey + (v[c]-grey)*sat
			x = mean + (x-mean)*contrast
			p[c] = uint8(math.Round(min(255, max(0, x))))
		}
	}
	return imageio.FromImage(outImg), nil
}
