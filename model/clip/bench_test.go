package clip

import (
	"context"
	"testing"
)

// The benchmarks run ViT-B/32's shapes with random weights built in memory,
// so that no checkpoint file is needed.
func randomB32(b *testing.B) *Model {
	cfg, err := Arch("ViT-B/32")
	if err != nil {
		b.Fatal(err)
	}
	m, err := Random(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkEncodeImages(b *testing.B) {
	m := randomB32(b)
	for _, batch := range []int{1, 32} {
		b.Run(map[int]string{1: "batch1", 32: "batch32"}[batch], func(b *testing.B) {
			pixels := make([][]float32, batch)
			for i := range pixels {
				pixels[i] = make([]float32, m.PixelLen())
				for j := range pixels[i] {
					pixels[i][j] = float32((i+j)%255)/128 - 1
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := m.EncodePixels(context.Background(), pixels); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

func BenchmarkEncodeTexts(b *testing.B) {
	m := randomB32(b)
	for _, bc := range []struct {
		name          string
		batch, tokens int
	}{{"batch1/16tok", 1, 16}, {"batch1/77tok", 1, 77}, {"batch32/16tok", 32, 16}, {"batch32/77tok", 32, 77}} {
		b.Run(bc.name, func(b *testing.B) {
			ids := make([][]int, bc.batch)
			for i := range ids {
				ids[i] = make([]int, bc.tokens)
				for j := range ids[i] {
					ids[i][j] = 1 + (i*31+j*7)%40000
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := m.EncodeTokens(context.Background(), ids); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bc.batch*b.N)/b.Elapsed().Seconds(), "texts/s")
		})
	}
}
