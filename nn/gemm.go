package nn

import (
	"sync"
)

// The matrix product at the heart of Linear (and of Attention) follows the
// GotoBLAS/BLIS scheme in the form ggml and others use on CPUs:
//
//   - B (the weight, Wᵀ) is packed once into panels of nr columns: for each k
//     step, the nr values of that step are contiguous, zero-padded at the
//     right edge, so the micro-kernel streams it with full-width loads.
//   - A micro-kernel keeps an mr×nr tile of C in registers for kc steps of k,
//     broadcasting one value of A per row and step. The float32 AVX-512
//     kernel reads A (the activations) in place, rows lda apart; the others
//     read panels of mr rows that gemm packs per call.
//   - For each block of mr rows of A, the kernel sweeps nc B panels, so the
//     A block stays in L1 while the panels stream from L2 (see gemmKC).
//   - The cores split the B panels between them, so each core streams only
//     its own share of the weights, which is what matters for small batches
//     (text queries), where the product is bound by memory bandwidth.

// gemmKernel is a register-tile micro-kernel and the panel shapes it reads.
type gemmKernel struct {
	name   string
	mr, nr int // rows of an A panel and of the tile; columns of a B panel and of the tile
	// tile sets C[rows×cols] (row stride ldc; load=false) or adds to it
	// (load=true) the product of kc steps of A and of the B panel b (nr
	// values per step), plus bias[:nr] if bias is not nil. 1 ≤ rows ≤ mr
	// and 1 ≤ cols ≤ nr. A is a packed panel (mr values per step; lda is
	// unused) or, for a direct kernel, rows of A in place, lda apart.
	tile func(kc int, a []float32, lda int, b, c []float32, ldc, rows, cols int, bias []float32, load bool)
	// sweep, if not nil, does what tile does for ⌈cols/nr⌉ consecutive B
	// panels in one call: the first at b, the next ldb values on, C and
	// bias moving nr columns per panel, cols counting the columns of all
	// of them.
	sweep func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc, rows, cols int, bias []float32, load bool)
	// direct marks a kernel that reads A in place, so gemm packs nothing.
	direct bool
	// pack, if not nil, replaces packA(dst, a, lda, m, k, mr, p0, p1).
	pack func(dst, a []float32, lda, m, k, p0, p1 int)
	// packB, if not nil, replaces packWeights(dst, w, ldw, n, k, nr).
	packB func(dst *packedB, w []float32, ldw, n, k int)
	// pairs marks a bf16 kernel: each 32-bit value of its panels holds
	// two k values, so k values take ⌈k/2⌉ steps. pack must be set.
	pairs bool
}

// Cache blocking. Each core owns a share of the B panels and takes them nc
// at a time: for each A block of mr rows and kc steps, the kernel sweeps
// those nc panels. The A block (mr·kc·4 bytes, 43 KiB at most) stays in L1
// while the nc B panels (nc·kc·nr·4 bytes, 1.5 MiB) stay in L2 and stream
// into the kernel behind its software prefetches; C is read and written
// once per kc block. On a Xeon with 48 KiB L1 and 2 MiB L2, this order with
// A read in place beat the classic one (a B panel held while packed A
// panels stream) by 3–12% on the ViT-B shapes, most for K = 3072; kc = 768
// (the whole K of ViT-B) and nc = 16 were chosen, though kc from 256 and nc
// from 8 to 24 were within the noise of a shared machine.
const (
	gemmKC = 768
	gemmNC = 16
)

// packedB is a k×n matrix B packed into ⌈n/nr⌉ panels of k×nr values.
type packedB struct {
	k, n, nr int
	data     []float32
}

// resize makes p.data n values long, reusing its memory if large enough
// (the packing functions overwrite every value, padding included).
//
// Mapping large panels with transparent huge pages (MADV_HUGEPAGE) was
// measured: 10–15% faster for a single text query, whose products stream
// the weights from memory, but each 2 MiB page cost about 5 ms to fault in
// on the development VM, adding a second to loading ViT-B/32. Plain Go
// memory it is.
func (p *packedB) resize(n int) {
	if cap(p.data) >= n {
		p.data = p.data[:n]
		return
	}
	p.data = make([]float32, n)
}

func (p *packedB) panels() int { return (p.n + p.nr - 1) / p.nr }

// panel returns the values of panel j from step k0 on.
func (p *packedB) panel(j, k0 int) []float32 {
	return p.data[(j*p.k+k0)*p.nr : (j+1)*p.k*p.nr]
}

// packWeights packs B = Wᵀ for kern from w in nn.Linear layout: n rows
// (outputs) of k values (inputs), row j starting at w[j*ldw].
func (kern *gemmKernel) packWeights(dst *packedB, w []float32, ldw, n, k int) {
	if kern.packB != nil && n > 0 {
		kern.packB(dst, w, ldw, n, k)
		return
	}
	packWeights(dst, w, ldw, n, k, kern.nr)
}

func packWeights(dst *packedB, w []float32, ldw, n, k, nr int) {
	np := (n + nr - 1) / nr
	dst.k, dst.n, dst.nr = k, n, nr
	dst.resize(np * k * nr)
	for j := 0; j < np; j++ {
		panel := dst.data[j*k*nr : (j+1)*k*nr]
		for c := 0; c < nr; c++ {
			col := j*nr + c
			if col >= n {
				for kk := 0; kk < k; kk++ {
					panel[kk*nr+c] = 0
				}
				continue
			}
			row := w[col*ldw : col*ldw+k]
			for kk, v := range row {
				panel[kk*nr+c] = v
			}
		}
	}
}

// packRows packs B from v holding B itself: k rows of n values, row kk
// starting at v[kk*ldv]. Attention packs the values V this way.
func packRows(dst *packedB, v []float32, ldv, n, k, nr int) {
	np := (n + nr - 1) / nr
	dst.k, dst.n, dst.nr = k, n, nr
	dst.resize(np * k * nr)
	for j := 0; j < np; j++ {
		c0 := j * nr
		w := min(nr, n-c0)
		panel := dst.data[j*k*nr : (j+1)*k*nr]
		if w == 32 && nr == 32 {
			// Whole AVX-512 panels: array assignments compile to inline
			// vector moves, where copy would call memmove per step.
			for kk := 0; kk < k; kk++ {
				*(*[32]float32)(panel[kk*32:]) = *(*[32]float32)(v[kk*ldv+c0:])
			}
			continue
		}
		for kk := 0; kk < k; kk++ {
			d := panel[kk*nr : kk*nr+nr]
			copy(d, v[kk*ldv+c0:kk*ldv+c0+w])
			clear(d[w:])
		}
	}
}

// packA packs rows [r0, r1) of A (k values per row, row i at a[i*lda]) into
// panels of mr rows, zero-padding the last panel. Panel p of the whole matrix
// lands at dst[p*k*mr:], so that panels packed by different goroutines share
// one buffer.
func packA(dst, a []float32, lda, m, k, mr, p0, p1 int) {
	for p := p0; p < p1; p++ {
		panel := dst[p*k*mr : (p+1)*k*mr]
		for i := 0; i < mr; i++ {
			r := p*mr + i
			if r >= m {
				for kk := 0; kk < k; kk++ {
					panel[kk*mr+i] = 0
				}
				continue
			}
			row := a[r*lda : r*lda+k]
			for kk, v := range row {
				panel[kk*mr+i] = v
			}
		}
	}
}

// scratch recycles the packed-A buffers of gemm calls; they are large (up to
// rows×In floats) and needed on every call.
var scratch = sync.Pool{New: func() any { return new([]float32) }}

// gemm sets C[m×n] = act(A·B + bias) with the micro-kernel kern, or, with
// accumulate, adds A·B + bias to C (act must then be Identity). A is m×k
// with row stride lda; b is B packed for kern; C has row stride ldc; bias is
// nil or holds at least b.panels()·nr values (zero beyond n). With parallel
// set, the work is spread over GOMAXPROCS goroutines.
func (e *engine) gemm(kern *gemmKernel, m, n, k int, a []float32, lda int, b *packedB, bias []float32, c []float32, ldc int, act Act, accumulate, parallel bool) {
	if m <= 0 || n <= 0 {
		return
	}
	mr, nr := kern.mr, kern.nr
	mp := (m + mr - 1) / mr
	np := b.panels()
	ka := k // columns of A
	if kern.pairs {
		k = (k + 1) / 2 // steps of the packed panels
	}
	if b.k != k || b.nr != nr {
		panic("nn: B packed for another kernel")
	}

	// Small products run on the calling goroutine: a goroutine costs about
	// as much as a few hundred thousand flops.
	grainA, grainB := mp, np
	if parallel {
		grainA = max(1, 64*1024/(mr*ka+1))
		grainB = max(1, (1<<20)/(2*m*k*nr+1))
	}

	// A packed kernel reads A from panels of mr rows, packed here once per
	// call; a direct one reads it in place.
	pa := a
	if !kern.direct {
		buf := scratch.Get().(*[]float32)
		*buf = grow(*buf, mp*mr*k)
		defer scratch.Put(buf)
		pa = *buf
		ParallelFor(mp, grainA, func(lo, hi int) {
			if kern.pack != nil {
				kern.pack(pa, a, lda, m, ka, lo, hi)
			} else {
				packA(pa, a, lda, m, ka, mr, lo, hi)
			}
		})
	}
	// aBlock returns A from step k0 of the rows starting at i.
	aBlock := func(i, k0 int) []float32 {
		if kern.direct {
			return a[i*lda+k0:]
		}
		return pa[(i/mr*k+k0)*mr:]
	}

	ParallelFor(np, grainB, func(jlo, jhi int) {
		for j0 := jlo; j0 < jhi; j0 += gemmNC {
			j1 := min(j0+gemmNC, jhi)
			for k0 := 0; k0 < k || k0 == 0; k0 += gemmKC {
				kc := min(gemmKC, k-k0)
				first, last := k0 == 0, k0+kc >= k
				for i := 0; i < m; i += mr {
					rows := min(mr, m-i)
					ap := aBlock(i, k0)
					load := accumulate || !first
					if kern.sweep != nil {
						var bias1 []float32
						if first && bias != nil {
							bias1 = bias[j0*nr : j1*nr]
						}
						kern.sweep(kc, ap, lda, b.data[(j0*k+k0)*nr:], k*nr, c[i*ldc+j0*nr:], ldc, rows, min(j1*nr, n)-j0*nr, bias1, load)
					} else {
						for j := j0; j < j1; j++ {
							var bias1 []float32
							if first && bias != nil {
								bias1 = bias[j*nr : j*nr+nr]
							}
							kern.tile(kc, ap, lda, b.panel(j, k0), c[i*ldc+j*nr:], ldc, rows, min(nr, n-j*nr), bias1, load)
						}
					}
					// One call for the row block's tiles, still in L1.
					if last && act != Identity {
						e.actTile(c[i*ldc+j0*nr:], ldc, rows, min(j1*nr, n)-j0*nr, act)
					}
				}
			}
		}
	})
}

// tileGo is the portable micro-kernel: a 4×16 tile, computed as four 4×4
// blocks whose 16 sums are local variables, so that the compiler keeps them
// in registers (arrays would live in memory). On arm64 the multiply-adds
// compile to FMADD.
func tileGo(kc int, a []float32, _ int, b, c []float32, ldc, rows, cols int, bias []float32, load bool) {
	const mr, nr = 4, 16
	var acc [mr][nr]float32
	a, b = a[:kc*mr], b[:kc*nr]
	for j := 0; j < nr; j += 4 {
		var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
		for kk := 0; kk < kc; kk++ {
			av := (*[mr]float32)(a[kk*mr:])
			bv := (*[4]float32)(b[kk*nr+j:])
			a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
			b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
			c00 += a0 * b0
			c01 += a0 * b1
			c02 += a0 * b2
			c03 += a0 * b3
			c10 += a1 * b0
			c11 += a1 * b1
			c12 += a1 * b2
			c13 += a1 * b3
			c20 += a2 * b0
			c21 += a2 * b1
			c22 += a2 * b2
			c23 += a2 * b3
			c30 += a3 * b0
			c31 += a3 * b1
			c32 += a3 * b2
			c33 += a3 * b3
		}
		acc[0][j], acc[0][j+1], acc[0][j+2], acc[0][j+3] = c00, c01, c02, c03
		acc[1][j], acc[1][j+1], acc[1][j+2], acc[1][j+3] = c10, c11, c12, c13
		acc[2][j], acc[2][j+1], acc[2][j+2], acc[2][j+3] = c20, c21, c22, c23
		acc[3][j], acc[3][j+1], acc[3][j+2], acc[3][j+3] = c30, c31, c32, c33
	}
	for i := range rows {
		row := c[i*ldc : i*ldc+cols]
		for j := range row {
			v := acc[i][j]
			if bias != nil {
				v += bias[j]
			}
			if load {
				row[j] += v
			} else {
				row[j] = v
			}
		}
	}
}

var goKernel = &gemmKernel{name: "go", mr: 4, nr: 16, tile: tileGo}
