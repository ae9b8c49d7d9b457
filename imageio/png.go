package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
)

// pngInfo is what Go's PNG decoder does not report: the stored colour type
// and bit depth (which decide Pillow's mode) and the eXIf chunk.
type pngInfo struct {
	depth, colorType int
	exif             []byte
}

// scanPNG walks the chunk list. It does not check CRCs: the decoder does.
func scanPNG(data []byte) (pngInfo, error) {
	var info pngInfo
	i := 8
	seenIHDR := false
	for i+8 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if n < 0 || i+12+n > len(data) {
			break // truncated: the decoder will say so if it matters
		}
		body := data[i+8 : i+8+n]
		switch typ {
		case "IHDR":
			if n < 13 {
				return info, errors.New("png: short IHDR")
			}
			info.depth, info.colorType = int(body[8]), int(body[9])
			seenIHDR = true
		case "eXIf":
			if info.exif == nil {
				info.exif = body
			}
		case "IEND":
			i = len(data)
			continue
		}
		i += 12 + n
	}
	if !seenIHDR {
		return info, errors.New("png: missing IHDR")
	}
	return info, nil
}

// decodePNG maps Go's decoded image to Pillow's mode for the stored colour
// type. Go turns grey or RGB with a tRNS chunk into NRGBA; Pillow keeps "L"
// or "RGB" and ignores the transparency when converting, so the alpha is
// dropped again here.
func decodePNG(data []byte, info pngInfo) (*Pixels, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch info.colorType {
	case 0:
		mode := ModeL
		if info.depth == 1 {
			mode = Mode1
		}
		return &Pixels{Mode: mode, W: w, H: h, Pix: grayPix(img)}, nil
	case 2:
		return &Pixels{Mode: ModeRGB, W: w, H: h, Pix: dropAlpha(nrgbaPix(img))}, nil
	case 3:
		m, ok := img.(*image.Paletted)
		if !ok {
			return nil, fmt.Errorf("png: palette image decoded as %T", img)
		}
		return palettedPixels(m), nil
	case 4:
		if info.depth == 16 {
			// Pillow 9 opens 16-bit grey+alpha as "RGBA" (rawmode "LA;16B").
			return &Pixels{Mode: ModeRGBA, W: w, H: h, Pix: nrgbaPix(img)}, nil
		}
		return &Pixels{Mode: ModeLA, W: w, H: h, Pix: keepChannels(nrgbaPix(img), 0, 3)}, nil
	case 6:
		return &Pixels{Mode: ModeRGBA, W: w, H: h, Pix: nrgbaPix(img)}, nil
	}
	return nil, fmt.Errorf("png: unexpected colour type %d", info.colorType)
}
