package nn

import (
	"math/rand/v2"
	"testing"
)

// TestDotsU8S8 checks every engine's int8 row dots against a plain sum,
// for lengths around the 64- and 128-byte steps and the masked tail, with
// extreme bytes (255·127 products) and rows visited out of order.
func TestDotsU8S8(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, e := range testEngines() {
		for _, n := range []int{1, 3, 63, 64, 65, 127, 128, 129, 200, 256, 512, 768} {
			const rows = 9
			stride := n + 7
			base := make([]uint8, rows*stride)
			for i := range base {
				base[i] = uint8(r.IntN(256))
			}
			q := make([]int8, n)
			for i := range q {
				q[i] = int8(r.IntN(255) - 127)
			}
			// Row 0 and the query at the extremes.
			for k := 0; k < n; k++ {
				base[k] = 255
				q[k] = 127
			}
			ids := []uint32{8, 0, 3, 3, 5, 1}
			out := make([]int32, len(ids))
			e.dotsU8S8(q, base, stride, ids, out)
			for i, id := range ids {
				var want int64
				for k := 0; k < n; k++ {
					want += int64(base[int(id)*stride+k]) * int64(q[k])
				}
				if int64(out[i]) != want {
					t.Fatalf("%s n=%d row %d: got %d, want %d", e.name, n, id, out[i], want)
				}
			}
		}
	}
}

func BenchmarkDotsU8S8(b *testing.B) {
	for _, n := range []int{256, 512} {
		const rows = 1 << 16
		base := make([]uint8, rows*n)
		q := make([]int8, n)
		ids := make([]uint32, 32)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range ids {
			ids[i] = uint32(r.IntN(rows))
		}
		out := make([]int32, len(ids))
		b.Run(shapeName(1, len(ids), n), func(b *testing.B) {
			b.SetBytes(int64(len(ids) * n))
			for b.Loop() {
				DotsU8S8(q, base, n, ids, out)
			}
		})
	}
}
