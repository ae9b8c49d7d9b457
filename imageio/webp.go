package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"

	"golang.org/x/image/webp"
)

// webpInfo is what the RIFF container says that Go's decoder does not
// report: whether libwebp would decode with alpha, and the EXIF chunk.
type webpInfo struct {
	alpha bool
	exif  []byte
}

func scanWebP(data []byte) (webpInfo, error) {
	var info webpInfo
	if len(data) < 12 {
		return info, errors.New("webp: truncated header")
	}
	for i := 12; i+8 <= len(data); {
		typ := string(data[i : i+4])
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || i+8+n > len(data) {
			break // truncated: the decoder will say so if it matters
		}
		body := data[i+8 : i+8+n]
		switch typ {
		case "VP8X":
			if n > 0 && body[0]&0x10 != 0 {
				info.alpha = true
			}
		case "ALPH":
			info.alpha = true
		case "VP8L":
			// Signature 0x2f, then 14+14 bits of size and the
			// alpha_is_used bit.
			if n >= 5 && body[0] == 0x2f && binary.LittleEndian.Uint32(body[1:])>>28&1 != 0 {
				info.alpha = true
			}
		case "EXIF":
			if info.exif == nil {
				info.exif = body
			}
		}
		i += 8 + n + n&1
	}
	return info, nil
}

// decodeWebP returns "RGBA" when libwebp reports alpha and "RGB" otherwise,
// as Pillow does. Lossy images are converted from Go's YCbCr planes with
// libwebp's fancy upsampler and integer YUV->RGB formulas, so the result is
// what libwebp (and so Pillow) produces.
func decodeWebP(data []byte, info webpInfo) (*Pixels, error) {
	img, err := webp.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.YCbCr:
		rgb := webpYCbCrToRGB(m)
		if info.alpha {
			return &Pixels{Mode: ModeRGBA, W: w, H: h, Pix: addAlpha(rgb, w, nil, 0)}, nil
		}
		return &Pixels{Mode: ModeRGB, W: w, H: h, Pix: rgb}, nil
	case *image.NYCbCrA:
		rgb := webpYCbCrToRGB(&m.YCbCr)
		return &Pixels{Mode: ModeRGBA, W: w, H: h, Pix: addAlpha(rgb, w, m.A[m.AOffset(b.Min.X, b.Min.Y):], m.AStride)}, nil
	case *image.NRGBA:
		pix := nrgbaPix(m)
		if info.alpha {
			return &Pixels{Mode: ModeRGBA, W: w, H: h, Pix: pix}, nil
		}
		return &Pixels{Mode: ModeRGB, W: w, H: h, Pix: dropAlpha(pix)}, nil
	}
	return nil, fmt.Errorf("webp: decoded as %T", img)
}

// addAlpha interleaves an alpha plane (opaque if nil) into RGB pixels of
// rows w wide.
func addAlpha(rgb []uint8, w int, alpha []uint8, stride int) []uint8 {
	n := len(rgb) / 3
	out := make([]uint8, n*4)
	for i := range n {
		out[4*i], out[4*i+1], out[4*i+2] = rgb[3*i], rgb[3*i+1], rgb[3*i+2]
		out[4*i+3] = 255
		if alpha != nil {
			out[4*i+3] = alpha[(i/w)*stride+i%w]
		}
	}
	return out
}

// webpYCbCrToRGB converts a 4:2:0 VP8 frame to RGB as libwebp's
// EmitFancyRGB does: chroma rows are paired (the first row, and the last of
// an even-height image, use one chroma row twice) and each pixel's chroma
// comes from UpsampleRgbLinePair's 9-3-3-1 filter with its two-step
// rounding; then VP8YUVToR/G/B.
func webpYCbCrToRGB(m *image.YCbCr) []uint8 {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	out := make([]uint8, w*h*3)
	cw := (w + 1) / 2
	crow := func(plane []uint8, cy int) []uint8 {
		o := m.COffset(b.Min.X, b.Min.Y) + cy*m.CStride
		return plane[o : o+cw]
	}
	u := make([]uint8, w)
	v := make([]uint8, w)
	for y := range h {
		// Chroma row nearest to this row, and the other one of its pair.
		var near, far int
		switch {
		case y == 0:
			near, far = 0, 0
		case y%2 == 1:
			near, far = (y-1)/2, (y+1)/2
			if y == h-1 {
				far = near
			}
		default:
			near, far = y/2, y/2-1
		}
		webpUpsampleRow(u, crow(m.Cb, near), crow(m.Cb, far))
		webpUpsampleRow(v, crow(m.Cr, near), crow(m.Cr, far))
		yo := m.YOffset(b.Min.X, b.Min.Y+y)
		o := out[y*w*3 : (y+1)*w*3]
		for x, yy := range m.Y[yo : yo+w] {
			Y, U, V := int32(yy), int32(u[x]), int32(v[x])
			o[3*x] = webpClip8(mulHi(Y, 19077) + mulHi(V, 26149) - 14234)
			o[3*x+1] = webpClip8(mulHi(Y, 19077) - mulHi(U, 6419) - mulHi(V, 13320) + 8708)
			o[3*x+2] = webpClip8(mulHi(Y, 19077) + mulHi(U, 33050) - 17685)
		}
	}
	return out
}

// webpUpsampleRow is one output row of libwebp's UpsampleRgbLinePair for
// one chroma plane: n is the nearer chroma row, f the farther one.
func webpUpsampleRow(dst, n, f []uint8) {
	w := len(dst)
	dst[0] = uint8((3*int32(n[0]) + int32(f[0]) + 2) >> 2)
	last := (w - 1) >> 1
	for x := 1; x <= last; x++ {
		nl, nr, fl, fr := int32(n[x-1]), int32(n[x]), int32(f[x-1]), int32(f[x])
		avg := nl + nr + fl + fr + 8
		dst[2*x-1] = uint8((((avg + 2*(nr+fl)) >> 3) + nl) >> 1)
		dst[2*x] = uint8((((avg + 2*(nl+fr)) >> 3) + nr) >> 1)
	}
	if w&1 == 0 {
		dst[w-1] = uint8((3*int32(n[last]) + int32(f[last]) + 2) >> 2)
	}
}

func mulHi(v, c int32) int32 { return (v * c) >> 8 }

// webpClip8 is libwebp's VP8Clip8 for its 6-bit fixed-point results.
func webpClip8(v int32) uint8 {
	if v&^16383 == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}
