package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
)

// testImage is a small opaque gradient with some colour.
func testImage(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(w-1, 1)), uint8(y * 255 / max(h-1, 1)), uint8((x + y) * 255 / max(w+h-2, 1)), 255})
		}
	}
	return m
}

func mustEncode(t testing.TB, w io.Writer, format string, img image.Image) {
	t.Helper()
	var err error
	switch format {
	case "png":
		err = png.Encode(w, img)
	case "jpeg":
		err = jpeg.Encode(w, img, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(w, img, nil)
	case "bmp":
		err = bmp.Encode(w, img)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// insertPNGChunk adds a chunk right after IHDR.
func insertPNGChunk(data []byte, typ string, body []byte) []byte {
	const ihdrEnd = 8 + 8 + 13 + 4
	c := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	c = append(c, typ...)
	c = append(c, body...)
	c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	return append(append(append([]byte{}, data[:ihdrEnd]...), c...), data[ihdrEnd:]...)
}

// TestDecodeFormats encodes small images with Go's encoders and checks what
// Decode makes of them. WebP (which Go cannot encode) comes from
// testdata/pillow, made with cwebp.
func TestDecodeFormats(t *testing.T) {
	rgb := testImage(32, 24)
	grey := image.NewGray(rgb.Rect)
	grey16 := image.NewGray16(rgb.Rect)
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i / 3)
		grey16.Pix[2*i], grey16.Pix[2*i+1] = uint8(i/3), 0x80
	}
	alpha := testImage(32, 24)
	for i := 3; i < len(alpha.Pix); i += 8 {
		alpha.Pix[i] = uint8(i)
	}
	// PNG keeps the colour of a transparent palette entry; Go's GIF and BMP
	// encoders write it as black, so those get an opaque palette.
	pal := image.NewPaletted(rgb.Rect, color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}, color.NRGBA{10, 20, 30, 0}})
	opaquePal := image.NewPaletted(rgb.Rect, color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}, color.RGBA{10, 20, 30, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
		opaquePal.Pix[i] = uint8(i % 3)
	}
	rgbPix := dropAlpha(rgb.Pix)
	palPix := []uint8{255, 0, 0, 0, 0, 255, 10, 20, 30}
	palRGB := make([]uint8, 0, len(pal.Pix)*3)
	for _, v := range pal.Pix {
		palRGB = append(palRGB, palPix[3*v:3*v+3]...)
	}
	greyRGB := rgbOf(&Pixels{Mode: ModeL, W: 32, H: 24, Pix: grey.Pix})

	cases := []struct {
		name, format string
		img          image.Image
		mode         string
		rgb          []uint8 // expected convert("RGB"); nil: compare with Go's stock decode
	}{
		{"png rgb", "png", rgb, ModeRGB, rgbPix},
		{"png rgba", "png", alpha, ModeRGBA, dropAlpha(alpha.Pix)},
		{"png grey", "png", grey, ModeL, greyRGB},
		{"png grey16 (high byte)", "png", grey16, ModeL, greyRGB},
		{"png palette with transparent entry", "png", pal, ModeP, palRGB},
		{"gif", "gif", opaquePal, ModeP, palRGB},
		{"bmp rgb", "bmp", rgb, ModeRGB, rgbPix},
		{"bmp grey (grey palette -> L)", "bmp", grey, ModeL, greyRGB},
		{"bmp palette", "bmp", opaquePal, ModeP, palRGB},
		{"jpeg", "jpeg", rgb, ModeRGB, nil},
		{"jpeg grey", "jpeg", grey, ModeL, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			mustEncode(t, &buf, c.format, c.img)
			encoded := buf.Bytes()
			p, err := Decode(&buf, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Mode != c.mode || p.W != 32 || p.H != 24 {
				t.Fatalf("got %s %dx%d, want %s 32x24", p.Mode, p.W, p.H, c.mode)
			}
			got := rgbOf(p)
			if c.rgb != nil {
				if n, d := levelDiff(got, c.rgb); n != 0 {
					t.Errorf("%d values differ, by up to %d", n, d)
				}
				return
			}
			// JPEG: Go's stock conversion replicates chroma where Decode
			// interpolates it like libjpeg, so only a loose match.
			stock, err := jpeg.Decode(bytes.NewReader(encoded))
			if err != nil {
				t.Fatal(err)
			}
			if _, d := levelDiff(got, dropAlpha(nrgbaPix(stock))); d > 8 {
				t.Errorf("JPEG decode off by %d levels from Go's stock conversion", d)
			}
		})
	}

	for _, name := range []string{"webp_lossy_odd.webp", "webp_lossless_alpha.webp"} {
		f, err := os.Open(filepath.Join("testdata/pillow", name))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Decode(f, Options{})
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := map[bool]string{true: ModeRGBA, false: ModeRGB}[strings.Contains(name, "alpha")]; p.Mode != want {
			t.Errorf("%s: mode %s, want %s", name, p.Mode, want)
		}
	}
}

// TestDecodeErrors: every failure gives a clear error, and oversized
// headers are refused before any pixel buffer is allocated.
func TestDecodeErrors(t *testing.T) {
	var pngBuf, jpgBuf bytes.Buffer
	mustEncode(t, &pngBuf, "png", testImage(40, 30))
	mustEncode(t, &jpgBuf, "jpeg", testImage(40, 30))

	// A PNG whose header claims 100000×100000 pixels (valid CRC), and
	// nothing else.
	ihdr := binary.BigEndian.AppendUint32(nil, 100000)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 100000)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	huge := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
	huge = append(huge, "IHDR"...)
	huge = append(huge, ihdr...)
	huge = binary.BigEndian.AppendUint32(huge, crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...)))

	cases := []struct {
		name string
		data []byte
		is   error  // expected sentinel, if any
		msg  string // expected substring
	}{
		{"empty", nil, ErrEmpty, "empty input"},
		{"garbage", []byte("this is not an image at all"), ErrUnknownFormat, "unknown image format"},
		{"tiff", []byte("II*\x00\x08\x00\x00\x00rest"), ErrUnsupportedFormat, "TIFF"},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"), ErrUnsupportedFormat, "HEIF"},
		{"truncated png", pngBuf.Bytes()[:len(pngBuf.Bytes())/2], nil, "png: "},
		{"truncated jpeg", jpgBuf.Bytes()[:len(jpgBuf.Bytes())/2], nil, "decoding jpeg"},
		{"png header only", pngBuf.Bytes()[:20], nil, "png: "},
		{"jpeg magic only", []byte{0xff, 0xd8, 0xff}, nil, "decoding jpeg"},
		{"huge png", huge, ErrTooLarge, "100000x100000"},
		{"over a small limit", pngBuf.Bytes(), ErrTooLarge, "limit is 1000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{}
			if c.name == "over a small limit" {
				opts.MaxPixels = 1000
			}
			var p *Pixels
			var err error
			allocs := testing.AllocsPerRun(1, func() { p, err = DecodeBytes(c.data, opts) })
			if err == nil {
				t.Fatalf("no error, got %s %dx%d", p.Mode, p.W, p.H)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %q", err, c.is)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
			if c.is == ErrTooLarge && allocs > 50 {
				t.Errorf("%v allocations before refusing", allocs)
			}
			t.Logf("%v", err)
		})
	}

	// LoadFile names the file.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jpg")
	if err := os.WriteFile(bad, []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(bad, CLIPOptions()); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadFile error %v does not name %s", err, bad)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.png"), CLIPOptions()); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("LoadFile error %v does not name the missing file", err)
	}
	if _, err := PreprocessBytes(pngBuf.Bytes(), Options{}); err == nil {
		t.Error("PreprocessBytes accepted zero Options")
	}
}

func TestFromImage(t *testing.T) {
	r := image.Rect(0, 0, 4, 3)
	alpha := testImage(4, 3)
	alpha.Pix[3] = 7
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	for i := range ycc.Y {
		ycc.Y[i], ycc.Cb[i], ycc.Cr[i] = 100, 128, 128
	}
	cases := []struct {
		img  image.Image
		mode string
	}{
		{image.NewGray(r), ModeL},
		{image.NewGray16(r), ModeL},
		{image.NewPaletted(r, color.Palette{color.Black}), ModeP},
		{image.NewCMYK(r), ModeCMYK},
		{testImage(4, 3), ModeRGB},
		{alpha, ModeRGBA},
		{ycc, ModeRGB},
	}
	for _, c := range cases {
		p := FromImage(c.img)
		if p.Mode != c.mode || p.W != 4 || p.H != 3 {
			t.Errorf("%T: %s %dx%d, want %s 4x3", c.img, p.Mode, p.W, p.H, c.mode)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%T: %v", c.img, err)
		}
	}
	if p := FromImage(ycc); p.Pix[0] != 100 || p.Pix[1] != 100 || p.Pix[2] != 100 {
		t.Errorf("grey YCbCr converted to %v", p.Pix[:3])
	}
}
