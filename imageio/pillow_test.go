package imageio

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The fixtures in testdata/pillow were made by testdata/pillow/gen.py with
// Pillow 9.4.0 (the version behind the official CLIP fixtures), cwebp and
// cjpeg; see that script.

type pillowCases struct {
	Decode []struct {
		File        string
		Mode        string
		W, H        int
		Pix, RGB    b64
		Orientation int
		TW, TH      int
		TPix        b64
	}
	Preprocess []struct {
		Mode       string
		W, H       int
		Seed       uint32
		Size, Crop int
		Resample   int
		RGB        b64
	}
}

type b64 []byte

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.StdEncoding.DecodeString(s)
	*b = v
	return err
}

func loadPillowCases(t *testing.T) *pillowCases {
	t.Helper()
	data, err := os.ReadFile("testdata/pillow/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var c pillowCases
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// lcg is gen.py's LCG, to rebuild the random test images.
type lcg uint32

func (s *lcg) bytes(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		*s = *s*1664525 + 1013904223
		out[i] = byte(*s >> 24)
	}
	return out
}

// rgbOf converts a whole image to RGB bytes with toRGB.
func rgbOf(p *Pixels) []uint8 {
	var pal *[256][3]uint8
	if p.Mode == ModeP {
		pal = p.palette256()
	}
	out := make([]uint8, p.W*p.H*3)
	toRGB(out, p.Pix, p.Mode, pal)
	return out
}

// TestDecodeMatchesPillow decodes files of every supported format and
// header variant and compares mode, size and pixels with Pillow's. JPEGs are
// made of flat blocks, where Go's and libjpeg's inverse DCTs agree, so
// chroma upsampling and colour conversion are checked exactly.
func TestDecodeMatchesPillow(t *testing.T) {
	for _, c := range loadPillowCases(t).Decode {
		t.Run(c.File, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/pillow", c.File))
			if err != nil {
				t.Fatal(err)
			}
			p, err := DecodeBytes(data, Options{NoEXIF: true})
			if err != nil {
				t.Fatal(err)
			}
			if p.Mode != c.Mode || p.W != c.W || p.H != c.H {
				t.Fatalf("got %s %dx%d, Pillow %s %dx%d", p.Mode, p.W, p.H, c.Mode, c.W, c.H)
			}
			if n, d := levelDiff(p.Pix, c.Pix); n != 0 {
				t.Errorf("pixels: %d of %d values differ, by up to %d", n, len(p.Pix), d)
			}
			want := c.RGB
			if c.Mode == ModeRGB {
				want = c.Pix
			}
			if n, d := levelDiff(rgbOf(p), want); n != 0 {
				t.Errorf("convert(RGB): %d values differ, by up to %d", n, d)
			}
			if p.Orientation != c.Orientation {
				t.Errorf("orientation %d, Pillow %d", p.Orientation, c.Orientation)
			}
			if c.Orientation == 0 {
				return
			}
			q, err := DecodeBytes(data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if q.W != c.TW || q.H != c.TH {
				t.Fatalf("exif_transpose: got %dx%d, Pillow %dx%d", q.W, q.H, c.TW, c.TH)
			}
			if n, d := levelDiff(q.Pix, c.TPix); n != 0 {
				t.Errorf("exif_transpose: %d values differ, by up to %d", n, d)
			}
		})
	}
}

// TestPreprocessMatchesPillow runs random images of every mode through
// Preprocess with every filter, crops smaller and larger than the resized
// image included, and compares with Pillow's resize, crop and convert.
func TestPreprocessMatchesPillow(t *testing.T) {
	for i, c := range loadPillowCases(t).Preprocess {
		g := lcg(c.Seed)
		p := &Pixels{Mode: c.Mode, W: c.W, H: c.H, Pix: g.bytes(c.W * c.H * Channels(c.Mode))}
		switch c.Mode {
		case Mode1:
			for i, v := range p.Pix {
				p.Pix[i] = 0
				if v > 127 {
					p.Pix[i] = 255
				}
			}
		case ModeP:
			for i, v := range p.Pix {
				p.Pix[i] = v % 50
			}
			pal := g.bytes(150)
			for i := 0; i < len(pal); i += 3 {
				p.Palette = append(p.Palette, [3]uint8{pal[i], pal[i+1], pal[i+2]})
			}
		}
		opts := Options{Size: c.Size, CropSize: c.Crop, Resample: c.Resample, Std: [3]float32{1, 1, 1}}
		got := centreCropRGB(p, opts)
		if n, d := levelDiff(got, c.RGB); n != 0 {
			t.Errorf("case %d (%s %dx%d size %d crop %d filter %d): %d of %d values differ, by up to %d",
				i, c.Mode, c.W, c.H, c.Size, c.Crop, c.Resample, n, len(got), d)
		}
	}
}
