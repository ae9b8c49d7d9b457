package imageio

import (
	"fmt"
	"os"
)

// ResizedSize returns the size torchvision's Resize(size) gives a w×h image:
// the shortest side becomes size and the other int(size*long/short), with
// the multiplication done first. Integer division gives the same result as
// Python's float division here, and avoids 732/672*224 = 243.99999999999997.
func ResizedSize(w, h, size int) (int, int) {
	if w <= h {
		return size, int(int64(size) * int64(h) / int64(w))
	}
	return int(int64(size) * int64(w) / int64(h)), size
}

// cropOffset returns where torchvision's CenterCrop starts on an axis of n
// samples: round((n-crop)/2) with Python's round (half to even). When the
// crop is larger, torchvision pads (crop-n)//2 zero samples in front, which
// is an offset of minus that.
func cropOffset(n, crop int) int {
	if crop > n {
		return -((crop - n) / 2)
	}
	d := n - crop
	off := d / 2
	if d%2 == 1 && off%2 == 1 {
		off++
	}
	return off
}

// Preprocess turns decoded pixels into normalised float32 CHW
// [3][CropSize][CropSize], exactly as the official CLIP pipeline
// (torchvision Resize(size, BICUBIC), CenterCrop, convert("RGB"), ToTensor,
// Normalize) does on the same Pillow image.
//
// dst is reused when it has the capacity. Preprocess panics if opts or p is
// invalid (see Options.Validate and Pixels.Validate); images from Decode are
// always valid.
func Preprocess(p *Pixels, opts Options, dst []float32) []float32 {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if opts.RGBFirst && p.Mode != ModeRGB {
		p = p.toRGB()
	}
	rgb := centreCropRGB(p, opts)
	plane := len(rgb) / 3
	if cap(dst) >= 3*plane {
		dst = dst[:3*plane]
	} else {
		dst = make([]float32, 3*plane)
	}
	lut := normTable(opts.Mean, opts.Std)
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:]
	for i := range plane {
		r[i] = lut[0][rgb[3*i]]
		g[i] = lut[1][rgb[3*i+1]]
		b[i] = lut[2][rgb[3*i+2]]
	}
	return dst
}

// centreCropRGB does the official pipeline up to convert("RGB"): resize
// the shortest side to opts.Size in the image's own mode, centre-crop
// opts.CropSize (padding with zeros in that mode if the crop is larger),
// convert to RGB. It returns CropSize×CropSize interleaved RGB bytes.
func centreCropRGB(p *Pixels, opts Options) []uint8 {
	crop := opts.cropSize()
	nw, nh := ResizedSize(p.W, p.H, opts.Size)
	left, top := cropOffset(nw, crop), cropOffset(nh, crop)
	// The part of the resized image that survives the crop; only that part
	// is computed.
	x0, x1 := max(left, 0), min(left+crop, nw)
	y0, y1 := max(top, 0), min(top+crop, nh)
	win := resizeWindow(p, nw, nh, x0, x1, y0, y1, opts.Resample)

	var pal *[256][3]uint8
	if p.Mode == ModeP {
		pal = p.palette256()
	}
	ch := Channels(p.Mode)
	out := make([]uint8, crop*crop*3)
	if x1-x0 < crop || y1-y0 < crop {
		// torchvision pads with zeros in the image's own mode, before the
		// conversion to RGB: palette entry 0 for "P", white for "CMYK".
		var pad [3]uint8
		toRGB(pad[:], make([]uint8, ch), p.Mode, pal)
		for i := 0; i < len(out); i += 3 {
			copy(out[i:i+3], pad[:])
		}
	}
	w := x1 - x0
	for y := y0; y < y1; y++ {
		o := ((y-top)*crop + x0 - left) * 3
		toRGB(out[o:o+w*3], win[(y-y0)*w*ch:(y-y0+1)*w*ch], p.Mode, pal)
	}
	return out
}

// normTable precomputes ToTensor + Normalize for every byte value: v/255
// then (x-mean)/std, each rounded to float32 as torch does.
func normTable(mean, std [3]float32) *[3][256]float32 {
	var t [3][256]float32
	for c := range 3 {
		for v := range 256 {
			x := float32(v) / 255
			t[c][v] = float32(x-mean[c]) / std[c]
		}
	}
	return &t
}

// resizeWindow resizes p to nw×nh in its own mode, as Pillow's Image.resize,
// but returns only the window [x0,x1)×[y0,y1) of the result.
func resizeWindow(p *Pixels, nw, nh, x0, x1, y0, y1, resample int) []uint8 {
	ch := Channels(p.Mode)
	w, h := x1-x0, y1-y0
	rowBytes := w * ch
	stride := p.W * ch
	if nw == p.W && nh == p.H {
		out := make([]uint8, h*rowBytes)
		for y := y0; y < y1; y++ {
			copy(out[(y-y0)*rowBytes:], p.Pix[y*stride+x0*ch:y*stride+x1*ch])
		}
		return out
	}
	f, ok := filterFor(resample)
	if p.Mode == ModeP || p.Mode == Mode1 || !ok {
		// Pillow resizes palette and bilevel images with NEAREST whatever
		// the filter asked for.
		return nearestWindow(p, nw, nh, x0, x1, y0, y1)
	}
	alpha := p.Mode == ModeRGBA || p.Mode == ModeLA

	var vc, hc *coeffs
	sy0, sy1 := y0, y1 // input rows the vertical pass reads
	if nh != p.H {
		vc = newCoeffs(p.H, nh, f, y0, h)
		sy0, sy1 = vc.span()
	}
	sx0, sx1 := x0, x1 // input columns the horizontal pass reads
	if nw != p.W {
		hc = newCoeffs(p.W, nw, f, x0, w)
		sx0, sx1 = hc.span()
	}
	var pre []uint8
	if alpha {
		pre = make([]uint8, (sx1-sx0)*ch)
	}
	tmp := make([]uint8, (sy1-sy0)*rowBytes)
	for y := sy0; y < sy1; y++ {
		src := p.Pix[y*stride+sx0*ch : y*stride+sx1*ch]
		if alpha {
			premultiply(pre, src, ch)
			src = pre
		}
		d := tmp[(y-sy0)*rowBytes : (y-sy0+1)*rowBytes]
		if hc != nil {
			hc.filterRow(d, src, sx0, ch)
		} else {
			copy(d, src)
		}
	}
	out := tmp
	if vc != nil {
		out = make([]uint8, h*rowBytes)
		vc.filterRows(out, tmp, rowBytes, sy0)
	}
	if alpha {
		unpremultiply(out, ch)
	}
	return out
}

// nearestWindow is resizeWindow for NEAREST.
func nearestWindow(p *Pixels, nw, nh, x0, x1, y0, y1 int) []uint8 {
	ch := Channels(p.Mode)
	xs := nearestIndex(p.W, nw, x0, x1-x0)
	ys := nearestIndex(p.H, nh, y0, y1-y0)
	out := make([]uint8, len(xs)*len(ys)*ch)
	i := 0
	for _, sy := range ys {
		row := p.Pix[sy*p.W*ch : (sy+1)*p.W*ch]
		for _, sx := range xs {
			i += copy(out[i:i+ch], row[sx*ch:sx*ch+ch])
		}
	}
	return out
}

// toRGB converts one row of pixels in mode to RGB, as Pillow's
// convert("RGB"): alpha is dropped without compositing, "1" becomes 0 or
// 255, "CMYK" goes through Pillow's cmyk2rgb.
// toRGB converts the image to mode "RGB" as Pillow's convert("RGB") does.
func (p *Pixels) toRGB() *Pixels {
	var pal *[256][3]uint8
	if p.Mode == ModeP {
		pal = p.palette256()
	}
	out := &Pixels{Mode: ModeRGB, W: p.W, H: p.H, Pix: make([]uint8, p.W*p.H*3), Orientation: p.Orientation}
	toRGB(out.Pix, p.Pix, p.Mode, pal)
	return out
}

func toRGB(dst, src []uint8, mode string, pal *[256][3]uint8) {
	switch mode {
	case ModeRGB:
		copy(dst, src)
	case ModeRGBA:
		for i, j := 0, 0; j+4 <= len(src); i, j = i+3, j+4 {
			dst[i], dst[i+1], dst[i+2] = src[j], src[j+1], src[j+2]
		}
	case ModeL:
		for i, v := range src {
			dst[3*i], dst[3*i+1], dst[3*i+2] = v, v, v
		}
	case ModeLA:
		for i := 0; 2*i+2 <= len(src); i++ {
			v := src[2*i]
			dst[3*i], dst[3*i+1], dst[3*i+2] = v, v, v
		}
	case Mode1:
		for i, v := range src {
			if v != 0 {
				v = 255
			}
			dst[3*i], dst[3*i+1], dst[3*i+2] = v, v, v
		}
	case ModeP:
		for i, v := range src {
			c := pal[v]
			dst[3*i], dst[3*i+1], dst[3*i+2] = c[0], c[1], c[2]
		}
	case ModeCMYK:
		for i, j := 0, 0; j+4 <= len(src); i, j = i+3, j+4 {
			nk := 255 - uint32(src[j+3])
			// nk - MULDIV255(c, nk) is never negative, so Pillow's CLIP8
			// has nothing to do.
			dst[i] = uint8(nk - muldiv255(uint32(src[j]), nk))
			dst[i+1] = uint8(nk - muldiv255(uint32(src[j+1]), nk))
			dst[i+2] = uint8(nk - muldiv255(uint32(src[j+2]), nk))
		}
	default:
		panic(fmt.Sprintf("imageio: unsupported mode %q", mode))
	}
}

// LoadFile reads an image file, decodes it and preprocesses it. Errors name
// the file.
func LoadFile(path string, opts Options) ([]float32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // already names the file
	}
	out, err := PreprocessBytes(data, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// PreprocessBytes decodes an encoded image and preprocesses it.
func PreprocessBytes(data []byte, opts Options) ([]float32, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p, err := DecodeBytes(data, opts)
	if err != nil {
		return nil, err
	}
	return Preprocess(p, opts, nil), nil
}
