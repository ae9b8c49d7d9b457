package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"

	"golang.org/x/image/bmp"
)

// decodeBMP maps Go's BMP decode to Pillow's modes. Pillow reads 32-bit
// pixels as RGBA only when the header declares BI_BITFIELDS with an alpha
// mask, and turns palettes that are pure black and white (two colours) or
// the identity grey ramp into modes "1" and "L".
func decodeBMP(data []byte) (*Pixels, error) {
	img, err := bmp.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.Paletted:
		p := palettedPixels(m)
		switch {
		case len(p.Palette) == 2 && p.Palette[0] == [3]uint8{} && p.Palette[1] == [3]uint8{255, 255, 255}:
			p.Mode, p.Palette = Mode1, nil
			for i, v := range p.Pix {
				p.Pix[i] = v * 255
			}
		case len(p.Palette) != 2 && isGreyPalette(p.Palette):
			p.Mode, p.Palette = ModeL, nil
		}
		return p, nil
	case *image.RGBA:
		return &Pixels{Mode: ModeRGB, W: w, H: h, Pix: dropAlpha(nrgbaPix(m))}, nil
	case *image.NRGBA:
		pix := nrgbaPix(m)
		if bmpHasAlpha(data) {
			return &Pixels{Mode: ModeRGBA, W: w, H: h, Pix: pix}, nil
		}
		return &Pixels{Mode: ModeRGB, W: w, H: h, Pix: dropAlpha(pix)}, nil
	}
	return nil, fmt.Errorf("bmp: decoded as %T", img)
}

// bmpHasAlpha reports a BI_BITFIELDS header with alpha mask 0xff000000.
func bmpHasAlpha(data []byte) bool {
	if len(data) < 70 {
		return false
	}
	infoLen := binary.LittleEndian.Uint32(data[14:])
	compression := binary.LittleEndian.Uint32(data[30:])
	return infoLen >= 56 && compression == 3 && binary.LittleEndian.Uint32(data[66:]) == 0xff000000
}

func isGreyPalette(pal [][3]uint8) bool {
	for i, c := range pal {
		if c != [3]uint8{uint8(i), uint8(i), uint8(i)} {
			return false
		}
	}
	return true
}
