package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Probe agrees with the full decode on every format, without decoding.
func TestProbe(t *testing.T) {
	for _, name := range []string{"bmp_rgb.bmp", "gif_trans.gif", "jpeg_flat_2x2.jpg", "png_grey1.png", "webp_lossy_odd.webp"} {
		data, err := os.ReadFile(filepath.Join("testdata/pillow", name))
		if err != nil {
			t.Fatal(err)
		}
		info, err := Probe(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		p, err := DecodeBytes(data, Options{NoEXIF: true})
		if err != nil {
			t.Fatal(err)
		}
		f, ok := FormatOfName(name)
		if !ok || info.Format.Name != f.Name || info.Width != p.W || info.Height != p.H {
			t.Errorf("%s: Probe says %s %d×%d, the name says %s, the decode %d×%d", name, info.Format.Name, info.Width, info.Height, f.Name, p.W, p.H)
		}
	}
}

// pngHeader is a PNG signature and IHDR chunk declaring w×h, and nothing
// else.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	ihdr[12], ihdr[13] = 8, 2
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	return b.Bytes()
}

func TestProbeErrors(t *testing.T) {
	// A declared size Go's decoder cannot represent is still reported, so
	// that the caller can answer "too large" rather than "malformed".
	info, err := Probe(pngHeader(1<<31-1, 1<<31-1))
	if err != nil || info.Pixels() != (1<<31-1)*(1<<31-1) {
		t.Errorf("huge PNG: %+v, %v", info, err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want error  // or nil, and:
		msg  string // in the message
	}{
		{"empty", nil, ErrEmpty, ""},
		{"text", []byte("hello, world"), ErrUnknownFormat, ""},
		{"tiff", []byte("II*\x00abcdefgh"), ErrUnsupportedFormat, "TIFF"},
		{"png without IHDR", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIDAT"), nil, "IHDR"},
		{"png of size 0", pngHeader(0, 5), nil, "size"},
		{"truncated jpeg", []byte("\xff\xd8\xff\xe0\x00"), nil, "jpeg"},
	} {
		_, err := Probe(c.data)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestFormats(t *testing.T) {
	if got := FormatNames(); got != "JPEG, PNG, GIF, WebP or BMP" {
		t.Errorf("FormatNames() = %q", got)
	}
	for name, want := range map[string]string{"a.JPG": "image/jpeg", "b.jpeg": "image/jpeg", "c.Png": "image/png", "d.webp": "image/webp", "e.bmp": "image/bmp", "f.gif": "image/gif"} {
		if f, ok := FormatOfName(name); !ok || f.MediaType != want {
			t.Errorf("FormatOfName(%q) = %+v, %v", name, f, ok)
		}
	}
	for _, name := range []string{"a.tiff", "b.txt", "c", "d.jpg.txt"} {
		if f, ok := FormatOfName(name); ok {
			t.Errorf("FormatOfName(%q) = %+v", name, f)
		}
	}
}
