package imageio

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds every decoder and Probe arbitrary bytes, seeded with
// an image of each format and mode. Nothing may panic; an image that
// decodes must have been probed with the same size, and must preprocess
// into finite values of the expected length.
func FuzzDecode(f *testing.F) {
	for _, dir := range []string{"testdata/pillow", filepath.Join(fixtures, "images")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if _, ok := FormatOfName(e.Name()); !ok {
				continue
			}
			if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && len(data) < 64<<10 {
				f.Add(data)
			}
		}
	}
	opts := CLIPOptions()
	opts.MaxPixels = 1 << 16 // bounds the time and memory of one input: a slow one fails the fuzzer at its deadline
	f.Fuzz(func(t *testing.T, data []byte) {
		info, perr := Probe(data)
		p, err := DecodeBytes(data, Options{NoEXIF: true, MaxPixels: opts.MaxPixels})
		if err != nil {
			return
		}
		if perr != nil || info.Width != p.W || info.Height != p.H {
			t.Fatalf("decoded %dx%d, probed %+v, %v", p.W, p.H, info, perr)
		}
		if len(p.Pix) != p.W*p.H*Channels(p.Mode) {
			t.Fatalf("%s %dx%d: %d bytes", p.Mode, p.W, p.H, len(p.Pix))
		}
		pixels, err := PreprocessBytes(data, opts)
		if err != nil {
			t.Fatalf("decodes but does not preprocess: %v", err)
		}
		if len(pixels) != 3*opts.CropSize*opts.CropSize {
			t.Fatalf("%d values", len(pixels))
		}
		for _, v := range pixels {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("non-finite value %v", v)
			}
		}
	})
}
