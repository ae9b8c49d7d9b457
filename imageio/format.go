package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"path/filepath"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"
)

// Format is an image format that imageio decodes. This package is the one
// place in xmodal that knows them: the server, the datasets and the
// uploads ask it.
type Format struct {
	Name      string   // as sniffed: "jpeg", "png", "gif", "webp", "bmp"
	Title     string   // for people: "JPEG"
	MediaType string   // "image/jpeg"
	Exts      []string // file extensions that name it, the usual one first
}

// formats are the formats Decode reads.
var formats = []Format{
	{"jpeg", "JPEG", "image/jpeg", []string{".jpg", ".jpeg", ".jpe", ".jfif"}},
	{"png", "PNG", "image/png", []string{".png"}},
	{"gif", "GIF", "image/gif", []string{".gif"}},
	{"webp", "WebP", "image/webp", []string{".webp"}},
	{"bmp", "BMP", "image/bmp", []string{".bmp"}},
}

// Formats lists the formats that Decode reads.
func Formats() []Format { return formats }

// FormatNames is "JPEG, PNG, GIF, WebP or BMP", for messages.
func FormatNames() string {
	var names []string
	for _, f := range formats {
		names = append(names, f.Title)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// FormatOfName returns the format that a file name's extension names, in
// any case.
func FormatOfName(name string) (Format, bool) {
	ext := strings.ToLower(filepath.Ext(name))
	for _, f := range formats {
		for _, e := range f.Exts {
			if e == ext {
				return f, true
			}
		}
	}
	return Format{}, false
}

func formatNamed(name string) Format {
	for _, f := range formats {
		if f.Name == name {
			return f
		}
	}
	panic("imageio: no format " + name)
}

// Info is what Probe reads from an image's header.
type Info struct {
	Format        Format
	Width, Height int
}

// Pixels is the declared number of pixels.
func (i Info) Pixels() int64 { return int64(i.Width) * int64(i.Height) }

// Probe reads the format and the declared size of an encoded image from
// its header, decoding no pixel, so that a caller can refuse an image
// before spending memory on it. The errors are those of Decode: ErrEmpty,
// ErrUnknownFormat, ErrUnsupportedFormat (naming the format), or a
// malformed header. A size too large for Go's own decoders (a PNG may
// declare 2³¹-1 × 2³¹-1) is reported as declared, for the caller to refuse.
func Probe(data []byte) (Info, error) {
	if len(data) == 0 {
		return Info{}, ErrEmpty
	}
	name, err := sniff(data)
	if err != nil {
		return Info{}, err
	}
	f := formatNamed(name)
	if name == "png" {
		// The IHDR chunk comes first and holds the size; Go's decoder
		// refuses sizes whose product overflows before saying them.
		if len(data) < 24 || string(data[12:16]) != "IHDR" {
			return Info{}, fmt.Errorf("imageio: png: invalid format: the IHDR chunk is missing")
		}
		w, h := binary.BigEndian.Uint32(data[16:20]), binary.BigEndian.Uint32(data[20:24])
		if w == 0 || h == 0 || w > 1<<31-1 || h > 1<<31-1 {
			return Info{}, fmt.Errorf("imageio: png: invalid format: size %d×%d", w, h)
		}
		return Info{Format: f, Width: int(w), Height: int(h)}, nil
	}
	var cfg image.Config
	r := bytes.NewReader(data)
	switch name {
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(r)
	case "gif":
		cfg, err = gif.DecodeConfig(r)
	case "webp":
		cfg, err = webp.DecodeConfig(r)
	case "bmp":
		cfg, err = bmp.DecodeConfig(r)
	}
	if err != nil {
		return Info{}, decodeError(name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Info{}, fmt.Errorf("imageio: empty image (%dx%d)", cfg.Width, cfg.Height)
	}
	return Info{Format: f, Width: cfg.Width, Height: cfg.Height}, nil
}
