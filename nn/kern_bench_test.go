package nn

import "testing"

// BenchmarkKernel runs the micro-kernel alone on L1-resident panels: the
// ceiling for the blocked product.
func BenchmarkKernel(b *testing.B) {
	b.Run("f32", func(b *testing.B) { benchKernel(b, native.kern) })
	if native.bf16 != nil {
		b.Run("bf16", func(b *testing.B) { benchKernel(b, native.bf16) })
	}
}

func benchKernel(b *testing.B, k *gemmKernel) {
	const kc = 256
	a := make([]float32, kc*k.mr) // a packed panel, or mr rows of kc values
	bp := make([]float32, kc*k.nr)
	c := make([]float32, k.mr*k.nr)
	for b.Loop() {
		k.tile(kc, a, kc, bp, c, k.nr, k.mr, k.nr, nil, true)
	}
	flops := 2 * float64(kc*k.mr*k.nr)
	if k.pairs {
		flops *= 2
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
