package vsepp

import (
	"context"
	"testing"
)

// BenchmarkResNet152 encodes images with the full-size ResNet-152 tower
// (random weights); -benchtime sets the images.
func BenchmarkResNet152(b *testing.B) { benchImages(b, "vsepp-resnet152") }

// BenchmarkVGG19 is the same with VGG-19.
func BenchmarkVGG19(b *testing.B) { benchImages(b, "vsepp-vgg19") }

func benchImages(b *testing.B, arch string) {
	m, err := Random(arch, 1)
	if err != nil {
		b.Fatal(err)
	}
	px := make([]float32, 3*224*224)
	for i := range px {
		px[i] = float32(i%251)/128 - 1
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.EncodePixels(context.Background(), [][]float32{px}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(m.ImageFLOPs()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
