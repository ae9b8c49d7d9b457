package imageio

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"strings"
)

// Errors returned by Decode; test for them with errors.Is.
var (
	ErrEmpty             = errors.New("imageio: empty input")              // no bytes at all
	ErrUnknownFormat     = errors.New("imageio: unknown image format")     // not an image format we recognise
	ErrUnsupportedFormat = errors.New("imageio: unsupported image format") // a known format we do not decode (TIFF, HEIF, AVIF...)
	ErrTooLarge          = errors.New("imageio: image too large")          // more pixels than Options.MaxPixels
)

// Reason is err's message for a person: without this package's "imageio: "
// prefix, which names code, not the problem ("unknown image format").
func Reason(err error) string {
	return strings.TrimPrefix(err.Error(), "imageio: ")
}

// Decode reads a JPEG, PNG, GIF (first frame), WebP or BMP image and returns
// it in its Pillow mode, with the EXIF orientation applied unless
// opts.NoEXIF. The whole input is read into memory. Only opts.NoEXIF and
// opts.MaxPixels are used.
//
// The header is checked against MaxPixels before any pixel is decoded.
//
// Modes follow Pillow 9: JPEG gives "RGB", "L" or "CMYK" (Adobe inversion
// undone); PNG gives "1" (bit depth 1 grey), "L", "LA", "RGB", "RGBA" or
// "P" (a palette with transparency stays "P"); GIF gives "P", or "L" when
// its palette is the identity grey ramp; BMP gives "1", "L", "P", "RGB" or
// "RGBA"; WebP gives "RGB" or "RGBA". Where Go's decoders differ from the C
// libraries Pillow uses, Decode follows Pillow:
//
//   - JPEG chroma is upsampled and converted to RGB with libjpeg-turbo's
//     "fancy" (triangle) filters and integer tables instead of Go's
//     replication; Go's inverse DCT still differs from libjpeg's by a level
//     on some pixels;
//   - lossy WebP uses libwebp's fancy upsampling and YUV->RGB formulas;
//   - GIF keeps the real colour of the transparent index (Go replaces it
//     with transparent black) and is placed on its logical screen;
//   - PNG grey and RGB images with a tRNS chunk stay "L" and "RGB" with
//     their colours, as in Pillow (Go turns them into NRGBA);
//   - 16-bit PNG channels keep their high byte, as Pillow does for RGB(A)
//     and grey+alpha (which Pillow opens as "RGBA").
//
// One deliberate difference: Pillow opens 16-bit grey PNGs as mode "I",
// whose conversion to RGB clips values above 255 (so they come out mostly
// white); Decode makes them "L" from the high byte, which is what the image
// looks like.
func Decode(r io.Reader, opts Options) (*Pixels, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("imageio: reading: %w", err)
	}
	return DecodeBytes(data, opts)
}

// DecodeBytes is Decode on an encoded image held in memory.
func DecodeBytes(data []byte, opts Options) (*Pixels, error) {
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	info, err := Probe(data)
	if err != nil {
		return nil, err
	}
	if err := checkSize(info.Width, info.Height, opts.maxPixels()); err != nil {
		return nil, err
	}
	format := info.Format.Name

	var p *Pixels
	var exif []byte
	switch format {
	case "jpeg":
		p, err = decodeJPEG(data)
		exif = jpegExif(data)
	case "png":
		var info pngInfo
		info, err = scanPNG(data)
		if err == nil {
			p, err = decodePNG(data, info)
			exif = info.exif
		}
	case "gif":
		p, err = decodeGIF(data)
	case "webp":
		var info webpInfo
		info, err = scanWebP(data)
		if err == nil {
			p, err = decodeWebP(data, info)
			exif = info.exif
		}
	case "bmp":
		p, err = decodeBMP(data)
	}
	if err != nil {
		return nil, decodeError(format, err)
	}
	if err := p.Validate(); err != nil {
		return nil, decodeError(format, err)
	}
	p.Orientation = exifOrientation(exif)
	if !opts.NoEXIF {
		p = p.ApplyOrientation(p.Orientation)
	}
	return p, nil
}

func decodeError(format string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // a decoder's EOF means the file is truncated
	}
	if strings.HasPrefix(err.Error(), format+": ") {
		return fmt.Errorf("imageio: %w", err) // "imageio: png: invalid format: ..."
	}
	return fmt.Errorf("imageio: decoding %s: %w", format, err)
}

func checkSize(w, h int, maxPixels int64) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("imageio: empty image (%dx%d)", w, h)
	}
	if n := int64(w) * int64(h); n > maxPixels {
		return fmt.Errorf("%w: %dx%d is %d pixels, the limit is %d", ErrTooLarge, w, h, n, maxPixels)
	}
	return nil
}

// sniff names the format from the first bytes of the file, with a clear
// error for well-known formats this package does not decode.
func sniff(b []byte) (string, error) {
	has := func(off int, s string) bool {
		return len(b) >= off+len(s) && string(b[off:off+len(s)]) == s
	}
	switch {
	case has(0, "\xff\xd8\xff"):
		return "jpeg", nil
	case has(0, "\x89PNG\r\n\x1a\n"):
		return "png", nil
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return "gif", nil
	case has(0, "RIFF") && has(8, "WEBP"):
		return "webp", nil
	case has(0, "BM"):
		return "bmp", nil
	}
	var name string
	switch {
	case has(0, "II*\x00"), has(0, "MM\x00*"):
		name = "TIFF"
	case has(4, "ftypavif"), has(4, "ftypavis"):
		name = "AVIF"
	case has(4, "ftyphei"), has(4, "ftyphev"), has(4, "ftypmif1"), has(4, "ftypmsf1"):
		name = "HEIF"
	case has(0, "\xff\x0a"), has(0, "\x00\x00\x00\x0cJXL \r\n\x87\n"):
		name = "JPEG XL"
	case has(0, "\x00\x00\x00\x0cjP  \r\n\x87\n"), has(0, "\xff\x4f\xff\x51"):
		name = "JPEG 2000"
	case has(0, "\x00\x00\x01\x00"):
		name = "ICO"
	case has(0, "8BPS"):
		name = "PSD"
	case has(0, "%PDF"):
		name = "PDF"
	case has(0, "<svg"), has(0, "<?xml"):
		name = "SVG/XML"
	default:
		return "", ErrUnknownFormat
	}
	return "", fmt.Errorf("%w: %s", ErrUnsupportedFormat, name)
}

// FromImage converts any image.Image to Pixels, choosing the Pillow mode
// that matches its type: Gray -> "L", Paletted -> "P", CMYK -> "CMYK",
// YCbCr -> "RGB" (upsampled and converted as libjpeg does), others ->
// "RGB" when opaque and "RGBA" otherwise. Decode does better for files, as
// it knows what the file stored.
func FromImage(img image.Image) *Pixels {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		return &Pixels{Mode: ModeL, W: b.Dx(), H: b.Dy(), Pix: grayPix(m)}
	case *image.Gray16:
		return &Pixels{Mode: ModeL, W: b.Dx(), H: b.Dy(), Pix: grayPix(m)}
	case *image.Paletted:
		return palettedPixels(m)
	case *image.CMYK:
		return &Pixels{Mode: ModeCMYK, W: b.Dx(), H: b.Dy(), Pix: copyRows(m.Pix, m.Stride, b.Dx()*4, b.Dy())}
	case *image.YCbCr:
		return &Pixels{Mode: ModeRGB, W: b.Dx(), H: b.Dy(), Pix: jpegYCbCrToRGB(m)}
	}
	pix := nrgbaPix(img)
	if opaque(pix) {
		return &Pixels{Mode: ModeRGB, W: b.Dx(), H: b.Dy(), Pix: dropAlpha(pix)}
	}
	return &Pixels{Mode: ModeRGBA, W: b.Dx(), H: b.Dy(), Pix: pix}
}

// copyRows copies h rows of n bytes from a strided buffer.
func copyRows(src []uint8, stride, n, h int) []uint8 {
	out := make([]uint8, n*h)
	for y := range h {
		copy(out[y*n:(y+1)*n], src[y*stride:y*stride+n])
	}
	return out
}

// grayPix returns the grey value of every pixel, from the high byte for
// 16-bit images and from the red channel of grey images Go decoded as
// NRGBA (PNG grey with tRNS).
func grayPix(img image.Image) []uint8 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.Gray:
		return copyRows(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h)
	case *image.Gray16:
		out := make([]uint8, w*h)
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				out[y*w+x] = row[2*x]
			}
		}
		return out
	}
	rgba := nrgbaPix(img)
	out := make([]uint8, w*h)
	for i := range out {
		out[i] = rgba[4*i]
	}
	return out
}

// nrgbaPix returns the non-premultiplied RGBA bytes of img, taking the high
// byte of 16-bit channels.
func nrgbaPix(img image.Image) []uint8 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.NRGBA:
		return copyRows(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w*4, h)
	case *image.RGBA:
		out := copyRows(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w*4, h)
		if !opaque(out) {
			for i := 0; i < len(out); i += 4 {
				c := color.NRGBAModel.Convert(color.RGBA{out[i], out[i+1], out[i+2], out[i+3]}).(color.NRGBA)
				out[i], out[i+1], out[i+2] = c.R, c.G, c.B
			}
		}
		return out
	case *image.NRGBA64:
		out := make([]uint8, w*h*4)
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for i := range w * 4 {
				out[y*w*4+i] = row[2*i]
			}
		}
		return out
	case *image.RGBA64:
		out := make([]uint8, w*h*4)
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				if a := row[8*x+6]; a != 0xff || row[8*x+7] != 0xff {
					// Translucent 16-bit pixels are rare (PNG gives NRGBA64
					// for those); go through Go's exact conversion.
					c := color.NRGBA64Model.Convert(m.RGBA64At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
					out[(y*w+x)*4+0] = uint8(c.R >> 8)
					out[(y*w+x)*4+1] = uint8(c.G >> 8)
					out[(y*w+x)*4+2] = uint8(c.B >> 8)
					out[(y*w+x)*4+3] = uint8(c.A >> 8)
					continue
				}
				for c := range 4 {
					out[(y*w+x)*4+c] = row[8*x+2*c]
				}
			}
		}
		return out
	}
	out := make([]uint8, w*h*4)
	for y := range h {
		for x := range w {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			i := (y*w + x) * 4
			out[i], out[i+1], out[i+2], out[i+3] = c.R, c.G, c.B, c.A
		}
	}
	return out
}

func opaque(rgba []uint8) bool {
	for i := 3; i < len(rgba); i += 4 {
		if rgba[i] != 0xff {
			return false
		}
	}
	return true
}

func dropAlpha(rgba []uint8) []uint8 {
	out := make([]uint8, len(rgba)/4*3)
	for i, j := 0, 0; j+4 <= len(rgba); i, j = i+3, j+4 {
		out[i], out[i+1], out[i+2] = rgba[j], rgba[j+1], rgba[j+2]
	}
	return out
}

// keepChannels returns the channels listed in keep of each 4-byte pixel.
func keepChannels(rgba []uint8, keep ...int) []uint8 {
	out := make([]uint8, 0, len(rgba)/4*len(keep))
	for j := 0; j+4 <= len(rgba); j += 4 {
		for _, c := range keep {
			out = append(out, rgba[j+c])
		}
	}
	return out
}

// palettedPixels converts a Go paletted image to mode "P", keeping the
// colours of translucent entries as stored (Pillow's convert("RGB")
// ignores palette alpha).
func palettedPixels(m *image.Paletted) *Pixels {
	b := m.Bounds()
	pal := make([][3]uint8, len(m.Palette))
	for i, c := range m.Palette {
		switch c := c.(type) {
		case color.NRGBA:
			pal[i] = [3]uint8{c.R, c.G, c.B}
		case color.RGBA:
			if c.A == 0xff || c.A == 0 {
				pal[i] = [3]uint8{c.R, c.G, c.B}
				continue
			}
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{n.R, n.G, n.B}
		default:
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{n.R, n.G, n.B}
		}
	}
	return &Pixels{
		Mode:    ModeP,
		W:       b.Dx(),
		H:       b.Dy(),
		Pix:     copyRows(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, b.Dx(), b.Dy()),
		Palette: pal,
	}
}
