//go:build amd64 && !purego

package nn

import "testing"

// BenchmarkAMXStrip runs the AMX kernel on cache-resident operands.
func BenchmarkAMXStrip(b *testing.B) {
	if !amxOK {
		b.Skip("no AMX")
	}
	for _, rows := range []int{32, 128} {
		b.Run(shapeName(rows, 32, 768), func(b *testing.B) {
			const k = 768
			a := make([]float32, rows*k/2)
			bp := make([]float32, k/2*32)
			c := make([]float32, rows*32)
			var t [1024]float32
			for b.Loop() {
				amxStrip(&a[0], 2*k, &bp[0], &c[0], 32, rows, k/32, nil, 1<<32-1, false, &t[0], 0)
			}
			b.ReportMetric(2*float64(rows*32*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
