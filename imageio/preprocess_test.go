package imageio

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

func TestResizedSize(t *testing.T) {
	cases := []struct{ w, h, size, nw, nh int }{
		{732, 672, 224, 244, 224}, // 224*732/672 = 244 exactly; 732/672*224 would give 243
		{300, 200, 224, 336, 224},
		{250, 330, 224, 224, 295},
		{17, 9, 224, 423, 224},
		{224, 303, 224, 224, 303},
		{100, 100, 224, 224, 224},
		{1, 100000, 224, 224, 22400000},
	}
	for _, c := range cases {
		if nw, nh := ResizedSize(c.w, c.h, c.size); nw != c.nw || nh != c.nh {
			t.Errorf("ResizedSize(%d, %d, %d) = %d, %d; want %d, %d", c.w, c.h, c.size, nw, nh, c.nw, c.nh)
		}
	}
}

func TestCropOffset(t *testing.T) {
	cases := []struct{ n, crop, want int }{
		{423, 224, 100}, // 99.5 rounds to even 100
		{295, 224, 36},  // 35.5 -> 36
		{303, 224, 40},  // 39.5 -> 40
		{298, 224, 37},  // 37 exactly
		{225, 224, 0},   // 0.5 -> 0
		{227, 224, 2},   // 1.5 -> 2
		{229, 224, 2},   // 2.5 -> 2
		{224, 224, 0},
		{220, 224, -2}, // padded: (224-220)//2 in front
		{221, 224, -1},
	}
	for _, c := range cases {
		if got := cropOffset(c.n, c.crop); got != c.want {
			t.Errorf("cropOffset(%d, %d) = %d, want %d", c.n, c.crop, got, c.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := CLIPOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Options){
		"zero size":     func(o *Options) { o.Size = 0 },
		"negative crop": func(o *Options) { o.CropSize = -1 },
		"filter 7":      func(o *Options) { o.Resample = 7 },
		"zero std":      func(o *Options) { o.Std[1] = 0 },
		"negative max":  func(o *Options) { o.MaxPixels = -1 },
	}
	for name, f := range bad {
		o := CLIPOptions()
		f(&o)
		if o.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Preprocess did not panic on an invalid image")
		}
	}()
	Preprocess(&Pixels{Mode: ModeRGB, W: 2, H: 2, Pix: make([]uint8, 5)}, CLIPOptions(), nil)
}

// TestPreprocessOptions: CropSize 0 means Size, dst is reused, a larger
// crop pads with zeros in the image's mode (white for CMYK).
func TestPreprocessOptions(t *testing.T) {
	p := &Pixels{Mode: ModeCMYK, W: 6, H: 4, Pix: make([]uint8, 6*4*4)}
	for i := range p.Pix {
		p.Pix[i] = uint8(i * 11)
	}
	o := CLIPOptions()
	o.Size, o.CropSize = 4, 0
	a := Preprocess(p, o, nil)
	if len(a) != 3*4*4 {
		t.Fatalf("len %d, want 48", len(a))
	}
	buf := make([]float32, 0, 1000)
	b := Preprocess(p, o, buf)
	if &b[0] != &buf[:1][0] {
		t.Error("dst not reused")
	}
	if n, _ := diff(a, b); n != 0 {
		t.Error("results differ")
	}

	o.CropSize = 8 // resized 6x4, padded to 8x8
	c := Preprocess(p, o, nil)
	white := (float32(1) - o.Mean[0]) / o.Std[0]
	if c[0] != white || c[8*8-1] != white {
		t.Errorf("padding is %v, %v; want white %v", c[0], c[8*8-1], white)
	}
}

// flickrJPEG is a typical 500×375 photo-like JPEG (4:2:0, quality 90).
func flickrJPEG(tb testing.TB) []byte {
	m := image.NewRGBA(image.Rect(0, 0, 500, 375))
	for y := range 375 {
		for x := range 500 {
			m.Set(x, y, color.RGBA{uint8(x/2 + y/3), uint8((x * y) >> 7), uint8(255 - y/2), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkPreprocess decodes and preprocesses a 500×375 JPEG, the typical
// Flickr-sized image when indexing.
func BenchmarkPreprocess(b *testing.B) {
	data := flickrJPEG(b)
	o := CLIPOptions()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := PreprocessBytes(data, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJPEG and BenchmarkResize split BenchmarkPreprocess.
func BenchmarkDecodeJPEG(b *testing.B) {
	data := flickrJPEG(b)
	for b.Loop() {
		if _, err := DecodeBytes(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResize(b *testing.B) {
	p, err := DecodeBytes(flickrJPEG(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	o := CLIPOptions()
	dst := make([]float32, 3*224*224)
	for b.Loop() {
		dst = Preprocess(p, o, dst)
	}
}
