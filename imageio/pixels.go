package imageio

import "fmt"

// Pillow mode names used by Pixels.
const (
	ModeRGB  = "RGB"  // 3 bytes per pixel
	ModeRGBA = "RGBA" // 4 bytes per pixel, alpha not premultiplied
	ModeL    = "L"    // 1 byte per pixel, grey
	ModeLA   = "LA"   // 2 bytes per pixel, grey and alpha
	ModeP    = "P"    // 1 byte per pixel, an index into Pixels.Palette
	Mode1    = "1"    // 1 byte per pixel, 0 or 255 (bilevel)
	ModeCMYK = "CMYK" // 4 bytes per pixel, 0 means no ink
)

// Pixels is one decoded image in Pillow-like terms: its mode and its
// interleaved 8-bit channels.
//
// Pix holds H rows of W pixels with no padding, Channels(Mode) bytes per
// pixel: R,G,B for "RGB"; R,G,B,A (not premultiplied) for "RGBA"; one grey
// byte for "L"; grey then alpha for "LA"; a palette index for "P"; 0 or 255
// for "1" (Pillow's own storage); C,M,Y,K with 0 meaning no ink for "CMYK".
type Pixels struct {
	Mode string
	W, H int
	Pix  []uint8
	// Palette holds the colours of a "P" image. Indices beyond its end read
	// as the grey (i, i, i), as in Pillow, whose palettes start as a ramp.
	Palette [][3]uint8
	// Orientation is the EXIF orientation found in the file (1 to 8), or 0
	// if there was none. Decode has already applied it unless NoEXIF was set.
	Orientation int
}

// Channels returns the number of bytes per pixel of a Pillow mode, or 0 for
// a mode this package does not handle.
func Channels(mode string) int {
	switch mode {
	case ModeL, ModeP, Mode1:
		return 1
	case ModeLA:
		return 2
	case ModeRGB:
		return 3
	case ModeRGBA, ModeCMYK:
		return 4
	}
	return 0
}

// Validate reports whether p is consistent: a known mode, positive size and
// a Pix of the right length.
func (p *Pixels) Validate() error {
	c := Channels(p.Mode)
	if c == 0 {
		return fmt.Errorf("imageio: unsupported mode %q", p.Mode)
	}
	if p.W <= 0 || p.H <= 0 {
		return fmt.Errorf("imageio: empty image (%dx%d)", p.W, p.H)
	}
	if len(p.Pix) != p.W*p.H*c {
		return fmt.Errorf("imageio: %s image %dx%d needs %d bytes, has %d", p.Mode, p.W, p.H, p.W*p.H*c, len(p.Pix))
	}
	return nil
}

// palette256 returns the palette as Pillow sees it: 256 entries, the ones the
// image does not define left at Pillow's initial grey ramp.
func (p *Pixels) palette256() *[256][3]uint8 {
	var pal [256][3]uint8
	for i := range pal {
		if i < len(p.Palette) {
			pal[i] = p.Palette[i]
		} else {
			pal[i] = [3]uint8{uint8(i), uint8(i), uint8(i)}
		}
	}
	return &pal
}
