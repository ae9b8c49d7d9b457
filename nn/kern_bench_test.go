package nn

import "testing"

// BenchmarkKernel runs the micro-kernel alone on L1-resident panels: the
// ceiling for the blocked product.
func BenchmarkKernel(b *testing.B) {
	k := native.kern
	const kc = 256
	a := make([]float32, kc*k.mr)
	bp := make([]float32, kc*k.nr)
	c := make([]float32, k.mr*k.nr)
	for b.Loop() {
		k.tile(kc, a, bp, c, k.nr, k.mr, k.nr, nil, true)
	}
	b.ReportMetric(2*float64(kc*k.mr*k.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
