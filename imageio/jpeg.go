package imageio

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
)

// decodeJPEG decodes baseline files with libjpeg's own inverse DCT
// (decodeBaselineJPEG) and the rest with Go's image/jpeg, then does the
// chroma upsampling and colour conversion itself the way libjpeg-turbo
// (Pillow's decoder) does, since image.YCbCr keeps the subsampled chroma
// planes.
func decodeJPEG(data []byte) (*Pixels, error) {
	img, ok, err := decodeBaselineJPEG(data)
	if !ok || err != nil {
		if img, err = jpeg.Decode(bytes.NewReader(data)); err != nil {
			return nil, err
		}
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.Gray:
		return &Pixels{Mode: ModeL, W: w, H: h, Pix: grayPix(m)}, nil
	case *image.YCbCr:
		return &Pixels{Mode: ModeRGB, W: w, H: h, Pix: jpegYCbCrToRGB(m)}, nil
	case *image.RGBA: // Adobe "transform 0" three-channel files are RGB
		return &Pixels{Mode: ModeRGB, W: w, H: h, Pix: dropAlpha(nrgbaPix(m))}, nil
	case *image.CMYK:
		// Go has already undone Adobe's inversion: 0 means no ink, as in
		// Pillow's "CMYK" mode.
		return &Pixels{Mode: ModeCMYK, W: w, H: h, Pix: copyRows(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w*4, h)}, nil
	}
	return nil, fmt.Errorf("unexpected decoded type %T", img)
}

// jpegExif returns the payload of the first APP1 "Exif" segment, which is
// the one Pillow reads, or nil.
func jpegExif(data []byte) []byte {
	i := 2 // after SOI
	for i+4 <= len(data) {
		if data[i] != 0xff {
			return nil
		}
		marker := data[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0x01 || marker >= 0xd0 && marker <= 0xd8: // no length
			i += 2
			continue
		case marker == 0xda || marker == 0xd9: // start of scan, end of image
			return nil
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xe1 && bytes.HasPrefix(seg, []byte("Exif")) {
			return seg
		}
		i += 2 + n
	}
	return nil
}

// libjpeg's YCbCr->RGB constants: FIX(x) = round(x * 2^16).
const (
	fix1_40200 = 91881
	fix1_77200 = 116130
	fix0_71414 = 46802
	fix0_34414 = 22554
)

// jpegYCbCrToRGB upsamples the chroma planes and converts to RGB exactly as
// libjpeg-turbo 2.1 does by default (Pillow's settings): "fancy" triangle
// upsampling for 4:2:0, 4:2:2 and 4:4:0 (replication for 4:1:1 and 4:1:0,
// and for planes two samples wide or less where libjpeg falls back to it),
// edges replicated, then its integer colour tables. Go's own conversion
// replicates chroma and rounds differently, up to 9 levels away.
func jpegYCbCrToRGB(m *image.YCbCr) []uint8 {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	out := make([]uint8, w*h*3)
	if w == 0 || h == 0 {
		return out
	}
	hs, vs := 1, 1 // luma samples per chroma sample
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 2
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		vs = 2
	case image.YCbCrSubsampleRatio411:
		hs = 4
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	}
	// Chroma plane size as libjpeg counts it (downsampled_width/height):
	// samples past it are MCU padding and never read.
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	fancyH := hs == 2 && cw > 2
	fancyV := vs == 2 && hs <= 2 && (hs == 1 || cw > 2)

	crow := func(plane []uint8, cy int) []uint8 {
		o := m.COffset(b.Min.X, b.Min.Y) + cy*m.CStride
		return plane[o : o+cw]
	}
	cb := make([]uint8, w)
	cr := make([]uint8, w)
	sum := make([]int32, cw)
	for y := range h {
		for pi, plane := range [2][]uint8{m.Cb, m.Cr} {
			dst := cb
			if pi == 1 {
				dst = cr
			}
			cy := y / vs
			near := crow(plane, cy)
			if fancyV {
				// Triangle filter across rows: 3/4 of the nearer chroma row,
				// 1/4 of the other, the image's first and last rows
				// standing in for the missing neighbours.
				other := cy - 1
				if y%2 == 1 {
					other = cy + 1
				}
				far := crow(plane, min(max(other, 0), ch-1))
				for i := range cw {
					sum[i] = 3*int32(near[i]) + int32(far[i])
				}
				if fancyH {
					upsampleH2V2(dst, sum)
				} else {
					// h1v2: libjpeg biases the upper row by 1, the lower by 2.
					bias := int32(1)
					if y%2 == 1 {
						bias = 2
					}
					for x := range w {
						dst[x] = uint8((sum[x] + bias) >> 2)
					}
				}
				continue
			}
			if fancyH {
				upsampleH2V1(dst, near)
				continue
			}
			for x := range w {
				dst[x] = near[x/hs]
			}
		}
		yo := m.YOffset(b.Min.X, b.Min.Y+y)
		ys := m.Y[yo : yo+w]
		o := out[y*w*3 : (y+1)*w*3]
		for x, yy := range ys {
			Y := int32(yy)
			xb, xr := int32(cb[x])-128, int32(cr[x])-128
			o[3*x] = clampByte(Y + (fix1_40200*xr+32768)>>16)
			o[3*x+1] = clampByte(Y + (-fix0_34414*xb+32768-fix0_71414*xr)>>16)
			o[3*x+2] = clampByte(Y + (fix1_77200*xb+32768)>>16)
		}
	}
	return out
}

// upsampleH2V2 is the horizontal half of libjpeg's h2v2_fancy_upsample:
// sum holds 3*near+far column sums; outputs round with biases 8 and 7.
func upsampleH2V2(dst []uint8, sum []int32) {
	n := len(sum)
	for i := range n {
		this := 3 * sum[i]
		left, right := sum[max(i-1, 0)], sum[min(i+1, n-1)]
		if x := 2 * i; x < len(dst) {
			dst[x] = uint8((this + left + 8) >> 4)
		}
		if x := 2*i + 1; x < len(dst) {
			dst[x] = uint8((this + right + 7) >> 4)
		}
	}
}

// upsampleH2V1 is libjpeg's h2v1_fancy_upsample (biases 1 and 2).
func upsampleH2V1(dst, src []uint8) {
	n := len(src)
	for i := range n {
		this := 3 * int32(src[i])
		left, right := int32(src[max(i-1, 0)]), int32(src[min(i+1, n-1)])
		if x := 2 * i; x < len(dst) {
			dst[x] = uint8((this + left + 1) >> 2)
		}
		if x := 2*i + 1; x < len(dst) {
			dst[x] = uint8((this + right + 2) >> 2)
		}
	}
}

func clampByte(v int32) uint8 {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}
