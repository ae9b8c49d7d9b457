package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
)

// gifFrame describes the first frame as Pillow sees it.
type gifFrame struct {
	screenW, screenH int
	palette          []byte // the frame's colour table (local, else global), RGB triples; nil if none
	transparent      int    // transparent index, -1 if none
}

// scanGIF walks the GIF blocks up to the first image descriptor. Go's
// decoder gives the pixel indices but not the raw colour tables: it
// replaces the transparent entry with transparent black.
func scanGIF(data []byte) (gifFrame, error) {
	f := gifFrame{transparent: -1}
	if len(data) < 13 {
		return f, errors.New("gif: truncated header")
	}
	f.screenW = int(data[6]) | int(data[7])<<8
	f.screenH = int(data[8]) | int(data[9])<<8
	i := 13
	var global []byte
	if flags := data[10]; flags&0x80 != 0 {
		n := 3 << (flags&7 + 1)
		if i+n > len(data) {
			return f, errors.New("gif: truncated colour table")
		}
		global = data[i : i+n]
		i += n
	}
	for i < len(data) {
		switch data[i] {
		case 0x21: // extension: label, then sub-blocks
			if i+2 > len(data) {
				return f, errors.New("gif: truncated extension")
			}
			label := data[i+1]
			i += 2
			first := true
			for i < len(data) && data[i] != 0 {
				n := int(data[i])
				if i+1+n > len(data) {
					return f, errors.New("gif: truncated extension")
				}
				if label == 0xf9 && first && n >= 4 && data[i+1]&1 != 0 {
					f.transparent = int(data[i+4])
				}
				first = false
				i += 1 + n
			}
			i++ // block terminator
		case 0x2c: // image descriptor
			if i+10 > len(data) {
				return f, errors.New("gif: truncated image descriptor")
			}
			f.palette = global
			if flags := data[i+9]; flags&0x80 != 0 {
				n := 3 << (flags&7 + 1)
				if i+10+n > len(data) {
					return f, errors.New("gif: truncated colour table")
				}
				f.palette = data[i+10 : i+10+n]
			}
			return f, nil
		default:
			return f, fmt.Errorf("gif: unexpected block 0x%02x before the first image", data[i])
		}
	}
	return f, errors.New("gif: no image")
}

// decodeGIF returns the first frame as Pillow 9 does: on the logical
// screen, the area outside the frame filled with the transparent index (or
// 0), in mode "P" with the file's palette, or "L" when that palette is the
// identity grey ramp (Pillow then drops it and reads indices as grey).
func decodeGIF(data []byte) (*Pixels, error) {
	f, err := scanGIF(data)
	if err != nil {
		return nil, err
	}
	img, err := gif.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	m, ok := img.(*image.Paletted)
	if !ok {
		return nil, fmt.Errorf("gif: decoded as %T", img)
	}
	p := &Pixels{Mode: ModeP, W: f.screenW, H: f.screenH, Pix: make([]uint8, f.screenW*f.screenH)}
	if f.transparent >= 0 {
		for i := range p.Pix {
			p.Pix[i] = uint8(f.transparent)
		}
	}
	r := m.Bounds().Intersect(image.Rect(0, 0, f.screenW, f.screenH))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(p.Pix[y*p.W+r.Min.X:y*p.W+r.Max.X], m.Pix[m.PixOffset(r.Min.X, y):])
	}
	if f.palette == nil || isGreyRamp(f.palette) {
		p.Mode = ModeL
		return p, nil
	}
	p.Palette = make([][3]uint8, len(f.palette)/3)
	for i := range p.Palette {
		p.Palette[i] = [3]uint8{f.palette[3*i], f.palette[3*i+1], f.palette[3*i+2]}
	}
	return p, nil
}

// isGreyRamp is Pillow's GifImageFile._is_palette_needed, negated.
func isGreyRamp(rgb []byte) bool {
	for i := 0; i+3 <= len(rgb); i += 3 {
		v := byte(i / 3)
		if rgb[i] != v || rgb[i+1] != v || rgb[i+2] != v {
			return false
		}
	}
	return true
}
