package imageio

import (
	"bytes"
	"encoding/binary"
)

// exifOrientation returns the Orientation tag (0x0112) of IFD0 in an EXIF
// block (a TIFF structure, optionally behind "Exif\0\0"), or 0 if there is
// none or it is not 1 to 8.
func exifOrientation(b []byte) int {
	b = bytes.TrimPrefix(b, []byte("Exif\x00\x00"))
	if len(b) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(b[2:]) != 42 {
		return 0
	}
	off := uint64(bo.Uint32(b[4:]))
	if off+2 > uint64(len(b)) {
		return 0
	}
	n := uint64(bo.Uint16(b[off:]))
	for i := range n {
		e := off + 2 + 12*i
		if e+12 > uint64(len(b)) {
			return 0
		}
		if bo.Uint16(b[e:]) != 0x0112 {
			continue
		}
		if bo.Uint32(b[e+4:]) != 1 { // count
			return 0
		}
		var v int
		switch bo.Uint16(b[e+2:]) { // type
		case 1: // BYTE
			v = int(b[e+8])
		case 3: // SHORT
			v = int(bo.Uint16(b[e+8:]))
		case 4: // LONG
			v = int(bo.Uint32(b[e+8:]))
		default:
			return 0
		}
		if v < 1 || v > 8 {
			return 0
		}
		return v
	}
	return 0
}

// ApplyOrientation returns the image turned upright for an EXIF
// orientation, with the same transposes as Pillow's ImageOps.exif_transpose
// (2: mirror, 3: rotate 180°, 4: flip, 5: transpose, 6: rotate 90°
// clockwise, 7: transverse, 8: rotate 90° counter-clockwise). For 0, 1 or
// an unknown value it returns p itself.
func (p *Pixels) ApplyOrientation(orientation int) *Pixels {
	if orientation < 2 || orientation > 8 {
		return p
	}
	w, h := p.W, p.H
	// Source pixel of output (x, y) = start + x*dx + y*dy, in pixels.
	var start, dx, dy int
	switch orientation {
	case 2:
		start, dx, dy = w-1, -1, w
	case 3:
		start, dx, dy = h*w-1, -1, -w
	case 4:
		start, dx, dy = (h-1)*w, 1, -w
	case 5:
		start, dx, dy = 0, w, 1
	case 6:
		start, dx, dy = (h-1)*w, -w, 1
	case 7:
		start, dx, dy = h*w-1, -w, -1
	case 8:
		start, dx, dy = w-1, w, -1
	}
	ow, oh := w, h
	if orientation >= 5 {
		ow, oh = h, w
	}
	ch := Channels(p.Mode)
	out := *p
	out.W, out.H = ow, oh
	out.Pix = make([]uint8, len(p.Pix))
	i := 0
	for y := range oh {
		s := start + y*dy
		for range ow {
			i += copy(out.Pix[i:i+ch], p.Pix[s*ch:s*ch+ch])
			s += dx
		}
	}
	return &out
}
