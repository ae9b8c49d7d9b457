package imageio

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"path/filepath"
	"testing"
)

// levelDiff compares two byte images: how many values differ and by how much.
func levelDiff(a, b []uint8) (n, maxd int) {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		if d != 0 {
			n++
			maxd = max(maxd, d)
		}
	}
	return n, maxd
}

// TestGoJPEGDecode measures how far decoding the two JPEG fixtures with Go's
// decoder (plus this package's libjpeg-style upsampling and colour
// conversion) lands from libjpeg's decode, at the pixel level and after
// preprocessing. Go's inverse DCT differs from libjpeg's, so this is not
// exact; the model-level test elsewhere checks the embeddings.
func TestGoJPEGDecode(t *testing.T) {
	for _, it := range loadFixtures(t)[:2] {
		t.Run(filepath.Base(it.File), func(t *testing.T) {
			data := readFile(t, it.File)
			p, err := DecodeBytes(data, officialOptions())
			if err != nil {
				t.Fatal(err)
			}
			ref := referenceDecode(t, it)
			if p.Mode != ref.Mode || p.W != ref.W || p.H != ref.H {
				t.Fatalf("decoded %s %dx%d, reference %s %dx%d", p.Mode, p.W, p.H, ref.Mode, ref.W, ref.H)
			}
			n, maxd := levelDiff(p.Pix, ref.Pix)
			t.Logf("pixels: %.2f%% of values differ from libjpeg, by up to %d levels", 100*float64(n)/float64(len(p.Pix)), maxd)
			if maxd > 4 {
				t.Errorf("decode differs from libjpeg by %d levels; expected at most a few", maxd)
			}

			if img, _ := jpeg.Decode(bytes.NewReader(data)); it.Mode == ModeRGB {
				// For comparison: Go's own YCbCr->RGB (replicated chroma).
				rgba := image.NewRGBA(img.Bounds())
				draw.Draw(rgba, rgba.Rect, img, image.Point{}, draw.Src)
				n, maxd := levelDiff(dropAlpha(rgba.Pix), ref.Pix)
				t.Logf("Go's stock conversion: %.2f%% differ, by up to %d levels", 100*float64(n)/float64(len(p.Pix)), maxd)
			}

			got := Preprocess(p, officialOptions(), nil)
			nv, d := diff(got, readF32(t, it.PixelValues))
			t.Logf("pixel values: %d of %d differ, max |diff| %.3g", nv, len(got), d)
			if d > 0.1 {
				t.Errorf("pixel values differ by %g", d)
			}
		})
	}
}
