package imageio

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"os"
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

// TestJPEGDecode compares decoding the two JPEG fixtures with libjpeg's
// decode, at the pixel level and after preprocessing. The baseline YCbCr
// file goes through decodeBaselineJPEG and must be exact; the Adobe CMYK one
// falls back to Go's image/jpeg, whose inverse DCT is a level away on a few
// percent of the samples.
func TestJPEGDecode(t *testing.T) {
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
			_, exact, _ := decodeBaselineJPEG(data)
			n, maxd := levelDiff(p.Pix, ref.Pix)
			t.Logf("pixels (own decoder %v): %.2f%% of values differ from libjpeg, by up to %d levels", exact, 100*float64(n)/float64(len(p.Pix)), maxd)
			if exact && n != 0 {
				t.Errorf("baseline decode differs from libjpeg in %d values, by up to %d levels", n, maxd)
			}
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
			if d > 0.1 || (exact && nv != 0) {
				t.Errorf("pixel values: %d differ, by up to %g", nv, d)
			}
		})
	}
}

// TestBaselineJPEGAgainstGo decodes files Go's encoder wrote (4:2:0 colour
// and greyscale, sizes that leave partial MCUs) with decodeBaselineJPEG and
// with image/jpeg: the two IDCTs may differ by a level or so, never more.
func TestBaselineJPEGAgainstGo(t *testing.T) {
	for _, tc := range []struct {
		name string
		img  image.Image
	}{
		{"rgb 1x1", testImage(1, 1)},
		{"rgb 17x9", testImage(17, 9)},
		{"rgb 33x65", testImage(33, 65)},
		{"grey 23x40", toGray(testImage(23, 40))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, tc.img, &jpeg.Options{Quality: 90}); err != nil {
				t.Fatal(err)
			}
			own, ok, err := decodeBaselineJPEG(buf.Bytes())
			if !ok || err != nil {
				t.Fatalf("decodeBaselineJPEG: ok=%v err=%v", ok, err)
			}
			stock, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if own.Bounds() != stock.Bounds() {
				t.Fatalf("bounds %v, image/jpeg %v", own.Bounds(), stock.Bounds())
			}
			var planes [][2][]uint8
			switch s := stock.(type) {
			case *image.YCbCr:
				o, ok := own.(*image.YCbCr)
				if !ok || o.SubsampleRatio != s.SubsampleRatio {
					t.Fatalf("got %T, want YCbCr %v", own, s.SubsampleRatio)
				}
				planes = append(planes, [2][]uint8{subPlane(o.Y, o.YStride, s.Rect.Dx(), s.Rect.Dy()), subPlane(s.Y, s.YStride, s.Rect.Dx(), s.Rect.Dy())})
				cw, ch := (s.Rect.Dx()+1)/2, (s.Rect.Dy()+1)/2
				planes = append(planes, [2][]uint8{subPlane(o.Cb, o.CStride, cw, ch), subPlane(s.Cb, s.CStride, cw, ch)})
				planes = append(planes, [2][]uint8{subPlane(o.Cr, o.CStride, cw, ch), subPlane(s.Cr, s.CStride, cw, ch)})
			case *image.Gray:
				o, ok := own.(*image.Gray)
				if !ok {
					t.Fatalf("got %T, want Gray", own)
				}
				planes = append(planes, [2][]uint8{subPlane(o.Pix, o.Stride, s.Rect.Dx(), s.Rect.Dy()), subPlane(s.Pix, s.Stride, s.Rect.Dx(), s.Rect.Dy())})
			default:
				t.Fatalf("image/jpeg gave %T", stock)
			}
			for i, p := range planes {
				if _, maxd := levelDiff(p[0], p[1]); maxd > 2 {
					t.Errorf("plane %d differs from image/jpeg by %d levels", i, maxd)
				}
			}
		})
	}
}

// TestBaselineJPEGFallback checks that what decodeBaselineJPEG does not
// handle is handed back rather than decoded wrongly.
func TestBaselineJPEGFallback(t *testing.T) {
	files := map[string][]byte{
		"progressive": readFileAt(t, filepath.Join("testdata", "pillow", "jpeg_flat_progressive.jpg")),
		"adobe cmyk":  readFile(t, loadFixtures(t)[0].File),
	}
	for name, data := range files {
		if _, ok, _ := decodeBaselineJPEG(data); ok {
			t.Errorf("%s: decoded by the baseline decoder, want a fallback", name)
		}
	}
}

func readFileAt(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func subPlane(pix []uint8, stride, w, h int) []uint8 {
	out := make([]uint8, 0, w*h)
	for y := range h {
		out = append(out, pix[y*stride:y*stride+w]...)
	}
	return out
}

func toGray(img image.Image) *image.Gray {
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Rect, img, img.Bounds().Min, draw.Src)
	return g
}
