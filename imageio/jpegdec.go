package imageio

import (
	"errors"
	"image"
)

// decodeBaselineJPEG decodes a baseline JPEG (sequential, Huffman-coded,
// 8-bit; grey, or YCbCr whose chroma components have 1×1 sampling factors,
// which covers 4:4:4, 4:2:2 and 4:2:0) with libjpeg's accurate integer
// inverse DCT ("islow", jidctint.c), the one Pillow's libjpeg-turbo uses,
// so that its samples are libjpeg's exactly. Go's image/jpeg uses another
// IDCT, a level or two away on a few percent of the samples. ok is false
// for what this does not handle (progressive or arithmetic coding, 12-bit,
// RGB, CMYK or Adobe-transformed data, chroma factors above 1×1); the caller
// then uses image/jpeg.
func decodeBaselineJPEG(data []byte) (img image.Image, ok bool, err error) {
	d := &jpegDecoder{data: data, pos: 2}
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return nil, false, nil
	}
	for {
		marker, seg, err := d.segment()
		if err != nil {
			return nil, false, nil // let image/jpeg say what is wrong
		}
		switch {
		case marker == 0xd9: // EOI
			return d.image()
		case marker == 0xc0 || marker == 0xc1: // SOF0, SOF1
			if !d.frame(seg) {
				return nil, false, nil
			}
		case marker >= 0xc2 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc:
			return nil, false, nil // progressive, lossless, arithmetic
		case marker == 0xc4:
			if !d.huffman(seg) {
				return nil, false, nil
			}
		case marker == 0xdb:
			if !d.quant(seg) {
				return nil, false, nil
			}
		case marker == 0xdd:
			if len(seg) < 2 {
				return nil, false, nil
			}
			d.restart = int(seg[0])<<8 | int(seg[1])
		case marker == 0xee: // APP14 Adobe: its transform flag changes the colours
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				return nil, false, nil
			}
		case marker == 0xda: // SOS, then the entropy-coded data
			if !d.scan(seg) {
				return nil, false, nil
			}
		}
	}
}

type jpegComponent struct {
	id, h, v, tq int
	plane        []uint8
	stride       int // plane width, a whole number of blocks
	blocksW      int // blocks per row that a non-interleaved scan codes
	blocksH      int
	dc, ac       int // Huffman tables of the current scan
	pred         int // DC predictor
}

// jpegHuffman is a Huffman table in libjpeg's canonical form, with a
// lookup table that resolves codes of up to eight bits in one step.
type jpegHuffman struct {
	lut     [256]uint16 // next 8 bits → length<<8 | value; 0 for longer codes
	maxcode [17]int32   // largest code of each length, -1 if none
	valptr  [17]int32   // index in vals of a length's first code, minus that code
	vals    []uint8
	defined bool
}

type jpegDecoder struct {
	data       []byte
	pos        int
	w, h       int
	hmax, vmax int
	mcusX      int
	mcusY      int
	comps      []*jpegComponent
	q          [4][64]int32
	qDefined   [4]bool
	huff       [2][4]jpegHuffman
	restart    int
	scanned    bool
	// bit reader
	bits  uint32
	nbits int
}

var errJPEGData = errors.New("bad entropy-coded data")

// segment returns the next marker and its segment (without the length).
func (d *jpegDecoder) segment() (byte, []byte, error) {
	for d.pos < len(d.data) && d.data[d.pos] != 0xff {
		d.pos++ // garbage between segments
	}
	for d.pos < len(d.data) && d.data[d.pos] == 0xff {
		d.pos++
	}
	if d.pos >= len(d.data) {
		return 0, nil, errJPEGData
	}
	marker := d.data[d.pos]
	d.pos++
	if marker == 0xd9 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7) {
		return marker, nil, nil
	}
	if d.pos+2 > len(d.data) {
		return 0, nil, errJPEGData
	}
	n := int(d.data[d.pos])<<8 | int(d.data[d.pos+1])
	if n < 2 || d.pos+n > len(d.data) {
		return 0, nil, errJPEGData
	}
	seg := d.data[d.pos+2 : d.pos+n]
	d.pos += n
	return marker, seg, nil
}

func (d *jpegDecoder) frame(seg []byte) bool {
	if len(seg) < 6 || seg[0] != 8 || d.comps != nil {
		return false
	}
	d.h, d.w = int(seg[1])<<8|int(seg[2]), int(seg[3])<<8|int(seg[4])
	n := int(seg[5])
	if d.w == 0 || d.h == 0 || (n != 1 && n != 3) || len(seg) < 6+3*n {
		return false
	}
	d.hmax, d.vmax = 1, 1
	for i := range n {
		c := &jpegComponent{id: int(seg[6+3*i]), h: int(seg[7+3*i] >> 4), v: int(seg[7+3*i] & 15), tq: int(seg[8+3*i])}
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return false
		}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
		d.comps = append(d.comps, c)
	}
	if n == 3 {
		// Chroma components with 1×1 factors and luma at one of the
		// ratios image.YCbCr and the upsampling in jpeg.go know.
		if d.comps[1].h != 1 || d.comps[1].v != 1 || d.comps[2].h != 1 || d.comps[2].v != 1 {
			return false
		}
		if _, ok := subsampleRatio(d.comps[0].h, d.comps[0].v); !ok {
			return false
		}
		if d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B' {
			return false // RGB data
		}
	}
	if int64(d.w)*int64(d.h) > 1<<28 {
		return false
	}
	d.mcusX = (d.w + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcusY = (d.h + 8*d.vmax - 1) / (8 * d.vmax)
	for _, c := range d.comps {
		c.stride = d.mcusX * c.h * 8
		c.plane = make([]uint8, c.stride*d.mcusY*c.v*8)
		c.blocksW = ((d.w*c.h+d.hmax-1)/d.hmax + 7) / 8
		c.blocksH = ((d.h*c.v+d.vmax-1)/d.vmax + 7) / 8
	}
	return true
}

func subsampleRatio(h, v int) (image.YCbCrSubsampleRatio, bool) {
	switch [2]int{h, v} {
	case [2]int{1, 1}:
		return image.YCbCrSubsampleRatio444, true
	case [2]int{2, 1}:
		return image.YCbCrSubsampleRatio422, true
	case [2]int{2, 2}:
		return image.YCbCrSubsampleRatio420, true
	case [2]int{1, 2}:
		return image.YCbCrSubsampleRatio440, true
	case [2]int{4, 1}:
		return image.YCbCrSubsampleRatio411, true
	case [2]int{4, 2}:
		return image.YCbCrSubsampleRatio410, true
	}
	return 0, false
}

func (d *jpegDecoder) quant(seg []byte) bool {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		if tq > 3 || pq > 1 {
			return false
		}
		size := 64 * (1 + int(pq))
		if len(seg) < 1+size {
			return false
		}
		for k := range 64 {
			v := int32(seg[1+k])
			if pq == 1 {
				v = int32(seg[1+2*k])<<8 | int32(seg[2+2*k])
			}
			d.q[tq][jpegZigzag[k]] = v // natural order
		}
		d.qDefined[tq] = true
		seg = seg[1+size:]
	}
	return true
}

func (d *jpegDecoder) huffman(seg []byte) bool {
	for len(seg) >= 17 {
		class, id := seg[0]>>4, seg[0]&15
		if class > 1 || id > 3 {
			return false
		}
		counts := seg[1:17]
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if len(seg) < 17+total {
			return false
		}
		vals := seg[17 : 17+total]
		t := jpegHuffman{vals: vals, defined: true}
		code, k := int32(0), int32(0)
		for l := 1; l <= 16; l++ {
			t.maxcode[l] = -1
			n := int32(counts[l-1])
			if n == 0 {
				code <<= 1
				continue
			}
			t.valptr[l] = k - code
			for range n {
				if code >= 1<<l {
					return false // more codes than the length allows
				}
				if l <= 8 {
					// Every 8-bit prefix that starts with this code.
					shift := 8 - l
					for p := code << shift; p < (code+1)<<shift; p++ {
						t.lut[p] = uint16(l)<<8 | uint16(vals[k])
					}
				}
				code++
				k++
			}
			t.maxcode[l] = code - 1
			code <<= 1
		}
		d.huff[class][id] = t
		seg = seg[17+total:]
	}
	return len(seg) == 0
}

func (d *jpegDecoder) scan(seg []byte) bool {
	if d.comps == nil || len(seg) < 1 {
		return false
	}
	ns := int(seg[0])
	if ns < 1 || len(seg) < 1+2*ns+3 {
		return false
	}
	var comps []*jpegComponent
	for i := range ns {
		id, tables := int(seg[1+2*i]), seg[2+2*i]
		var c *jpegComponent
		for _, cc := range d.comps {
			if cc.id == id {
				c = cc
			}
		}
		if c == nil || !d.qDefined[c.tq] {
			return false
		}
		c.dc, c.ac = int(tables>>4), int(tables&15)
		if c.dc > 3 || c.ac > 3 || !d.huff[0][c.dc].defined || !d.huff[1][c.ac].defined {
			return false
		}
		c.pred = 0
		comps = append(comps, c)
	}
	if ss, se, a := seg[1+2*ns], seg[2+2*ns], seg[3+2*ns]; ss != 0 || se != 63 || a != 0 {
		return false
	}
	d.bits, d.nbits = 0, 0
	var coef [64]int32
	decodeBlock := func(c *jpegComponent, bx, by int) bool {
		clear(coef[:])
		s, ok := d.decodeHuff(&d.huff[0][c.dc])
		if !ok || s > 11 {
			return false
		}
		diff, ok := d.receiveExtend(int(s))
		if !ok {
			return false
		}
		c.pred += diff
		coef[0] = int32(c.pred)
		for k := 1; k < 64; k++ {
			rs, ok := d.decodeHuff(&d.huff[1][c.ac])
			if !ok {
				return false
			}
			r, s := int(rs>>4), int(rs&15)
			if s == 0 {
				if r != 15 {
					break
				}
				k += 15
				continue
			}
			k += r
			if k > 63 {
				return false
			}
			v, ok := d.receiveExtend(s)
			if !ok {
				return false
			}
			coef[jpegZigzag[k]] = int32(v)
		}
		idctIslow(&coef, &d.q[c.tq], c.plane[by*8*c.stride+bx*8:], c.stride)
		return true
	}
	if ns == 1 {
		c := comps[0]
		n := 0
		for by := range c.blocksH {
			for bx := range c.blocksW {
				if d.restart > 0 && n > 0 && n%d.restart == 0 && !d.restartMarker(comps) {
					return false
				}
				if !decodeBlock(c, bx, by) {
					return false
				}
				n++
			}
		}
	} else {
		n := 0
		for my := range d.mcusY {
			for mx := range d.mcusX {
				if d.restart > 0 && n > 0 && n%d.restart == 0 && !d.restartMarker(comps) {
					return false
				}
				for _, c := range comps {
					for v := range c.v {
						for h := range c.h {
							if !decodeBlock(c, mx*c.h+h, my*c.v+v) {
								return false
							}
						}
					}
				}
				n++
			}
		}
	}
	d.scanned = true
	// Skip to the marker after the entropy-coded data.
	for d.pos+1 < len(d.data) && !(d.data[d.pos] == 0xff && d.data[d.pos+1] != 0 && (d.data[d.pos+1] < 0xd0 || d.data[d.pos+1] > 0xd7)) {
		d.pos++
	}
	return true
}

// restartMarker consumes an RSTn marker and resets the predictors.
func (d *jpegDecoder) restartMarker(comps []*jpegComponent) bool {
	d.bits, d.nbits = 0, 0
	for d.pos+1 < len(d.data) {
		if d.data[d.pos] == 0xff && d.data[d.pos+1] >= 0xd0 && d.data[d.pos+1] <= 0xd7 {
			d.pos += 2
			for _, c := range comps {
				c.pred = 0
			}
			return true
		}
		d.pos++
	}
	return false
}

// fill adds a byte of entropy-coded data to the bit buffer, undoing the
// 0xFF00 stuffing; at a marker it feeds zero bits, as libjpeg does.
func (d *jpegDecoder) fill() {
	var b byte
	if d.pos < len(d.data) {
		b = d.data[d.pos]
		if b == 0xff {
			if d.pos+1 < len(d.data) && d.data[d.pos+1] == 0 {
				d.pos += 2
			} else {
				b = 0 // a marker: stay before it
			}
		} else {
			d.pos++
		}
	}
	d.bits = d.bits<<8 | uint32(b)
	d.nbits += 8
}

func (d *jpegDecoder) bit() uint32 {
	if d.nbits == 0 {
		d.fill()
	}
	d.nbits--
	return (d.bits >> d.nbits) & 1
}

func (d *jpegDecoder) decodeHuff(t *jpegHuffman) (uint8, bool) {
	for d.nbits < 8 {
		d.fill()
	}
	peek := (d.bits >> (d.nbits - 8)) & 0xff
	if e := t.lut[peek]; e != 0 {
		d.nbits -= int(e >> 8)
		return uint8(e), true
	}
	d.nbits -= 8
	code := int32(peek)
	for l := 9; l <= 16; l++ {
		code = code<<1 | int32(d.bit())
		if code <= t.maxcode[l] {
			return t.vals[t.valptr[l]+code], true
		}
	}
	return 0, false
}

// receiveExtend reads s bits and extends them to a signed value.
func (d *jpegDecoder) receiveExtend(s int) (int, bool) {
	if s == 0 {
		return 0, true
	}
	for d.nbits < s {
		d.fill()
	}
	d.nbits -= s
	v := int(d.bits>>d.nbits) & (1<<s - 1)
	if v < 1<<(s-1) {
		v -= 1<<s - 1
	}
	return v, true
}

func (d *jpegDecoder) image() (image.Image, bool, error) {
	if !d.scanned {
		return nil, false, nil
	}
	r := image.Rect(0, 0, d.w, d.h)
	if len(d.comps) == 1 {
		c := d.comps[0]
		return &image.Gray{Pix: c.plane, Stride: c.stride, Rect: r}, true, nil
	}
	ratio, _ := subsampleRatio(d.comps[0].h, d.comps[0].v)
	return &image.YCbCr{
		Y: d.comps[0].plane, Cb: d.comps[1].plane, Cr: d.comps[2].plane,
		YStride: d.comps[0].stride, CStride: d.comps[1].stride,
		SubsampleRatio: ratio, Rect: r,
	}, true, nil
}

// jpegZigzag maps the zigzag order of coded coefficients to natural order.
var jpegZigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

// libjpeg's jidctint.c constants: FIX(x) = round(x · 2^13).
const (
	idctConstBits  = 13
	idctPass1Bits  = 2
	fix0_298631336 = 2446
	fix0_390180644 = 3196
	fix0_541196100 = 4433
	fix0_765366865 = 6270
	fix0_899976223 = 7373
	fix1_175875602 = 9633
	fix1_501321110 = 12299
	fix1_847759065 = 15137
	fix1_961570560 = 16069
	fix2_053119869 = 16819
	fix2_562915447 = 20995
	fix3_072711026 = 25172
)

// idctIslow is libjpeg's jpeg_idct_islow: the inverse DCT of one block's
// coefficients (natural order) dequantised by q, into 8×8 samples of out
// (stride apart), range-limited as libjpeg's table does.
func idctIslow(coef *[64]int32, q *[64]int32, out []uint8, stride int) {
	var ws [64]int32
	descale := func(x int32, n uint) int32 { return (x + 1<<(n-1)) >> n }
	// Pass 1: columns.
	for c := range 8 {
		in := func(r int) int32 { return coef[r*8+c] * q[r*8+c] }
		if coef[8+c] == 0 && coef[16+c] == 0 && coef[24+c] == 0 && coef[32+c] == 0 && coef[40+c] == 0 && coef[48+c] == 0 && coef[56+c] == 0 {
			dc := in(0) << idctPass1Bits
			for r := range 8 {
				ws[r*8+c] = dc
			}
			continue
		}
		var col [8]int32
		idct1D(in(0), in(1), in(2), in(3), in(4), in(5), in(6), in(7), &col, idctConstBits-idctPass1Bits)
		for r := range 8 {
			ws[r*8+c] = col[r]
		}
	}
	// Pass 2: rows.
	for r := range 8 {
		w := ws[r*8 : r*8+8]
		o := out[r*stride : r*stride+8]
		if w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0 {
			v := rangeLimit(descale(w[0], idctPass1Bits+3))
			for i := range 8 {
				o[i] = v
			}
			continue
		}
		var row [8]int32
		idct1D(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], &row, idctConstBits+idctPass1Bits+3)
		for i := range 8 {
			o[i] = rangeLimit(row[i])
		}
	}
}

// idct1D is one 8-point pass of jpeg_idct_islow, its outputs descaled
// (rounded) by shift bits.
func idct1D(d0, d1, d2, d3, d4, d5, d6, d7 int32, out *[8]int32, shift uint) {
	// Even part.
	z2, z3 := d2, d6
	z1 := (z2 + z3) * fix0_541196100
	tmp2 := z1 + z3*-fix1_847759065
	tmp3 := z1 + z2*fix0_765366865
	tmp0 := (d0 + d4) << idctConstBits
	tmp1 := (d0 - d4) << idctConstBits
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
	// Odd part.
	tmp0, tmp1, tmp2, tmp3 = d7, d5, d3, d1
	z1, z2 = tmp0+tmp3, tmp1+tmp2
	z3, z4 := tmp0+tmp2, tmp1+tmp3
	z5 := (z3 + z4) * fix1_175875602
	tmp0 *= fix0_298631336
	tmp1 *= fix2_053119869
	tmp2 *= fix3_072711026
	tmp3 *= fix1_501321110
	z1 *= -fix0_899976223
	z2 *= -fix2_562915447
	z3 *= -fix1_961570560
	z4 *= -fix0_390180644
	z3 += z5
	z4 += z5
	tmp0 += z1 + z3
	tmp1 += z2 + z4
	tmp2 += z2 + z3
	tmp3 += z1 + z4
	round := int32(1) << (shift - 1)
	tmp10, tmp11, tmp12, tmp13 = tmp10+round, tmp11+round, tmp12+round, tmp13+round
	out[0], out[7] = (tmp10+tmp3)>>shift, (tmp10-tmp3)>>shift
	out[1], out[6] = (tmp11+tmp2)>>shift, (tmp11-tmp2)>>shift
	out[2], out[5] = (tmp12+tmp1)>>shift, (tmp12-tmp1)>>shift
	out[3], out[4] = (tmp13+tmp0)>>shift, (tmp13-tmp0)>>shift
}

// rangeLimit is libjpeg's IDCT range-limit table lookup: the sample plus
// 128, clamped, with the table's wrap-around for values out of range.
func rangeLimit(x int32) uint8 {
	idx := x & 1023
	switch {
	case idx < 128:
		return uint8(idx + 128)
	case idx < 512:
		return 255
	case idx < 896:
		return 0
	}
	return uint8(idx - 896)
}
