package imageio

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

const fixtures = "../testdata/clip"

// fixtureItem is one entry of images.json (the fields these tests use).
type fixtureItem struct {
	File        string `json:"file"`
	Mode        string `json:"mode"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Resized     [2]int `json:"resized"`
	PixelValues string `json:"pixel_values"`
	DecodedPNG  string `json:"decoded_png"`
	DecodedCMYK string `json:"decoded_cmyk"`
	Orientation int    `json:"exif_orientation"`
	Transposed  string `json:"pixel_values_exif_transposed"`
}

func loadFixtures(t testing.TB) []fixtureItem {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, "images.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Items []fixtureItem }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Items) != 8 {
		t.Fatalf("images.json has %d items, want 8", len(doc.Items))
	}
	return doc.Items
}

func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readF32(t testing.TB, rel string) []float32 {
	t.Helper()
	data := readFile(t, rel)
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}

// diff counts values that are not bit-identical and the largest difference.
func diff(got, want []float32) (mismatches int, maxAbs float64) {
	if len(got) != len(want) {
		return -1, math.Inf(1)
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			mismatches++
			maxAbs = math.Max(maxAbs, math.Abs(float64(got[i])-float64(want[i])))
		}
	}
	return mismatches, maxAbs
}

// officialOptions is the official pipeline: CLIP values, EXIF ignored.
func officialOptions() Options {
	o := CLIPOptions()
	o.NoEXIF = true
	return o
}

// referenceDecode returns the pixels Pillow decoded: libjpeg's output for
// the two JPEGs (stored next to them), Go's decode for the PNGs (PNG
// decoding is exact).
func referenceDecode(t testing.TB, it fixtureItem) *Pixels {
	t.Helper()
	switch {
	case it.DecodedCMYK != "":
		return &Pixels{Mode: ModeCMYK, W: it.Width, H: it.Height, Pix: readFile(t, it.DecodedCMYK)}
	case it.DecodedPNG != "":
		p, err := DecodeBytes(readFile(t, it.DecodedPNG), officialOptions())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p, err := DecodeBytes(readFile(t, it.File), officialOptions())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPreprocessOfficial checks Preprocess against the official pipeline's
// output, bit for bit, starting from the pixels Pillow decoded.
func TestPreprocessOfficial(t *testing.T) {
	for _, it := range loadFixtures(t) {
		t.Run(filepath.Base(it.File), func(t *testing.T) {
			p := referenceDecode(t, it)
			if p.Mode != it.Mode || p.W != it.Width || p.H != it.Height {
				t.Errorf("decoded %s %dx%d, want %s %dx%d", p.Mode, p.W, p.H, it.Mode, it.Width, it.Height)
			}
			if w, h := ResizedSize(p.W, p.H, 224); w != it.Resized[0] || h != it.Resized[1] {
				t.Errorf("ResizedSize = %dx%d, want %dx%d", w, h, it.Resized[0], it.Resized[1])
			}
			got := Preprocess(p, officialOptions(), nil)
			n, d := diff(got, readF32(t, it.PixelValues))
			if n != 0 {
				t.Errorf("%d of %d values differ, max |diff| %g", n, len(got), d)
			} else {
				t.Logf("bit-identical (%s %dx%d -> %dx%d)", p.Mode, p.W, p.H, it.Resized[0], it.Resized[1])
			}
		})
	}
}
