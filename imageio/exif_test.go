package imageio

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestEXIFFixture: image 02 carries Orientation 6. Turning the reference
// decode upright and preprocessing it must give the stored
// exif_transposed pixel values bit for bit.
func TestEXIFFixture(t *testing.T) {
	it := loadFixtures(t)[1]
	if it.Orientation != 6 {
		t.Fatalf("fixture orientation %d, want 6", it.Orientation)
	}
	data := readFile(t, it.File)
	p, err := DecodeBytes(data, CLIPOptions())
	if err != nil {
		t.Fatal(err)
	}
	if p.Orientation != 6 || p.W != it.Height || p.H != it.Width {
		t.Errorf("Decode with EXIF: orientation %d, %dx%d; want 6, %dx%d", p.Orientation, p.W, p.H, it.Height, it.Width)
	}

	ref := referenceDecode(t, it).ApplyOrientation(6)
	got := Preprocess(ref, CLIPOptions(), nil)
	if n, d := diff(got, readF32(t, it.Transposed)); n != 0 {
		t.Errorf("%d values differ from %s, max |diff| %g", n, it.Transposed, d)
	}
	// And from Go's own decode, as a pipeline that applies EXIF would run.
	_, d := diff(Preprocess(p, CLIPOptions(), nil), readF32(t, it.Transposed))
	t.Logf("Go decode with EXIF applied: max |diff| %.3g", d)
}

// TestApplyOrientation checks all eight orientations on a 3×2 image. For
// each, stored is how a camera would have written the upright image
//
//	a b c
//	d e f
//
// and ApplyOrientation must give the upright image back.
func TestApplyOrientation(t *testing.T) {
	upright := &Pixels{Mode: ModeL, W: 3, H: 2, Pix: []uint8{'a', 'b', 'c', 'd', 'e', 'f'}}
	stored := map[int]struct {
		w, h int
		pix  string
	}{
		1: {3, 2, "abcdef"},
		2: {3, 2, "cbafed"}, // mirrored
		3: {3, 2, "fedcba"}, // rotated 180°
		4: {3, 2, "defabc"}, // flipped
		5: {2, 3, "adbecf"}, // transposed
		6: {2, 3, "cfbead"}, // rotated 90° counter-clockwise, shown turned clockwise
		7: {2, 3, "fcebda"}, // transversed
		8: {2, 3, "daebfc"}, // rotated 90° clockwise, shown turned counter-clockwise
	}
	for o := 1; o <= 8; o++ {
		s := stored[o]
		// Two channels, so that pixels are moved whole.
		pix := make([]uint8, 0, 2*len(s.pix))
		for _, c := range []byte(s.pix) {
			pix = append(pix, c, c+100)
		}
		in := &Pixels{Mode: ModeLA, W: s.w, H: s.h, Pix: pix}
		got := in.ApplyOrientation(o)
		if got.W != upright.W || got.H != upright.H {
			t.Errorf("orientation %d: %dx%d, want %dx%d", o, got.W, got.H, upright.W, upright.H)
			continue
		}
		for i, c := range upright.Pix {
			if got.Pix[2*i] != c || got.Pix[2*i+1] != c+100 {
				t.Errorf("orientation %d: got %q, want %q", o, got.Pix, "abcdef")
				break
			}
		}
	}
	if upright.ApplyOrientation(0) != upright || upright.ApplyOrientation(9) != upright {
		t.Error("orientations 0 and 9 should leave the image alone")
	}
}

// tiffOrientation builds a minimal EXIF (TIFF) block with one Orientation
// entry of the given type.
func tiffOrientation(bo binary.AppendByteOrder, typ uint16, v int) []byte {
	b := []byte("II*\x00\x08\x00\x00\x00")
	if bo == binary.AppendByteOrder(binary.BigEndian) {
		b = []byte("MM\x00*\x00\x00\x00\x08")
	}
	b = bo.AppendUint16(b, 1)
	b = bo.AppendUint16(b, 0x0112)
	b = bo.AppendUint16(b, typ)
	b = bo.AppendUint32(b, 1)
	switch typ {
	case 3:
		b = bo.AppendUint16(b, uint16(v))
		b = append(b, 0, 0)
	case 4:
		b = bo.AppendUint32(b, uint32(v))
	default:
		b = append(b, byte(v), 0, 0, 0)
	}
	return bo.AppendUint32(b, 0)
}

func TestEXIFOrientationParse(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"little-endian short", tiffOrientation(le, 3, 6), 6},
		{"big-endian short", tiffOrientation(be, 3, 8), 8},
		{"long", tiffOrientation(le, 4, 3), 3},
		{"byte", tiffOrientation(be, 1, 2), 2},
		{"with Exif header", append([]byte("Exif\x00\x00"), tiffOrientation(be, 3, 5)...), 5},
		{"out of range", tiffOrientation(le, 3, 9), 0},
		{"zero", tiffOrientation(le, 3, 0), 0},
		{"wrong type", tiffOrientation(le, 5, 6), 0},
		{"truncated", tiffOrientation(le, 3, 6)[:15], 0},
		{"bad magic", []byte("II+\x00\x08\x00\x00\x00\x00\x00"), 0},
		{"IFD offset out of range", []byte("II*\x00\xff\x00\x00\x00"), 0},
		{"empty", nil, 0},
	}
	for _, c := range cases {
		if got := exifOrientation(c.data); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}

// TestEXIFContainers checks that the orientation is found in a JPEG APP1
// segment (after other segments) and in a PNG eXIf chunk; WebP's EXIF
// chunk is covered by testdata/pillow/webp_exif3.webp.
func TestEXIFContainers(t *testing.T) {
	img := testImage(6, 4)
	exif := append([]byte("Exif\x00\x00"), tiffOrientation(binary.BigEndian, 3, 6)...)

	var jb bytes.Buffer
	mustEncode(t, &jb, "jpeg", img)
	j := jb.Bytes()
	app0 := []byte{0xff, 0xe0, 0, 6, 'J', 'F', 'I', 'F'}
	app1 := append([]byte{0xff, 0xe1, byte((len(exif) + 2) >> 8), byte(len(exif) + 2)}, exif...)
	jpg := append(append(append([]byte{}, j[:2]...), append(app0, app1...)...), j[2:]...)

	var pb bytes.Buffer
	mustEncode(t, &pb, "png", img)
	pngData := insertPNGChunk(pb.Bytes(), "eXIf", tiffOrientation(binary.LittleEndian, 3, 6))

	for name, data := range map[string][]byte{"jpeg": jpg, "png": pngData} {
		p, err := DecodeBytes(data, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Orientation != 6 || p.W != 4 || p.H != 6 {
			t.Errorf("%s: orientation %d, %dx%d; want 6, 4x6", name, p.Orientation, p.W, p.H)
		}
		p, err = DecodeBytes(data, Options{NoEXIF: true})
		if err != nil {
			t.Fatal(err)
		}
		if p.Orientation != 6 || p.W != 6 || p.H != 4 {
			t.Errorf("%s with NoEXIF: orientation %d, %dx%d; want 6, 6x4", name, p.Orientation, p.W, p.H)
		}
	}
}
