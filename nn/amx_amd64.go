//go:build amd64 && !purego

package nn

import (
	"golang.org/x/sys/cpu"
)

//go:noescape
func amxStrip(a *float32, lda int, b, c *float32, ldc, rows, ksteps int, bias *float32, mask uint64, load bool, scratch *float32, act int)

//go:noescape
func cvtBF16Rows(dst, src *float32, lds, rows, n, npad int)

//go:noescape
func amxStripI8(a *uint8, lda int, b *int8, c *float32, ldc, rows, ksteps int, comp *int32, wscale, ascale, bias *float32, mask uint64, load bool, scratch *int32, act int)

// amxUsable reports whether the CPU has AMX-BF16 and the OS lets this
// process use the tile state.
func amxUsable() bool {
	return cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && hasAVX512() && amxPermission()
}

// gemmAMX is engine.gemm for bf16 on AMX: C = act(A·B + bias), or C += A·B
// + bias with accumulate. b holds bf16 pairs in panels of 32 columns padded
// to a multiple of amxSteps steps; k ≥ 1.
func gemmAMX(e *engine, m, n, k int, a []float32, lda int, b *packedB, bias, c []float32, ldc int, act Act, accumulate bool) {
	if m <= 0 || n <= 0 {
		return
	}
	if act == ReLU {
		// The kernel fuses the GELUs only; ReLU is a pass afterwards.
		gemmAMX(e, m, n, k, a, lda, b, bias, c, ldc, Identity, accumulate)
		reluTile(c, ldc, m, n)
		return
	}
	if b.nr != 32 || b.k%amxSteps != 0 || b.k < (k+1)/2 {
		panic("nn: B not packed for AMX")
	}
	kpad := 2 * b.k // bf16 values per packed row of A
	_ = a[(m-1)*lda+k-1]
	_ = c[(m-1)*ldc+n-1]

	// Blocking as in engine.gemm. A is converted to bf16 one block of mc
	// rows at a time, just before use, so the bf16 copy (mc × kpad values,
	// up to 3 MiB) stays in the caches instead of making a round trip
	// through memory. A B chunk of amxKC k values × 32 columns (64 KiB)
	// stays in L1/L2 while the kernel sweeps the 32-row blocks of the
	// strip, and the A block stays in L2 while the cores sweep their B
	// panels. C is read back and added to for each chunk after the first,
	// by the kernel's epilogue. Chunks of 256 to 1024 and whole rows of K
	// measured within 10% of each other; 1024 was best for the ViT shapes.
	const amxKC = 1024
	const mc = 512
	buf := scratch.Get().(*[]float32)
	*buf = grow(*buf, min(mc, (m+31)&^31)*kpad/2)
	pa := *buf
	defer scratch.Put(buf)

	np := b.panels()
	ksteps := b.k / amxSteps
	chunk := amxKC / (2 * amxSteps)
	for i0 := 0; i0 < m; i0 += mc {
		rows := min(mc, m-i0)
		// Convert, 32 rows at a time, with zero rows up to a multiple of 32.
		ParallelFor((rows+31)/32, max(1, 32*1024/(32*k)), func(lo, hi int) {
			for blk := lo; blk < hi; blk++ {
				r0 := blk * 32
				h := min(32, rows-r0)
				cvtBF16Rows(&pa[r0*kpad/2], &a[(i0+r0)*lda], lda, h, k, kpad)
				clear(pa[(r0+h)*kpad/2 : (r0+32)*kpad/2])
			}
		})
		ParallelFor(np, max(1, (1<<20)/(2*rows*k*32+1)), func(jlo, jhi int) {
			var t [32 * 32]float32
			for s0 := 0; s0 < ksteps; s0 += chunk {
				s1 := min(s0+chunk, ksteps)
				first, last := s0 == 0, s1 == ksteps
				for j := jlo; j < jhi; j++ {
					cols := min(32, n-j*32)
					var bp *float32
					if bias != nil && first {
						bp = &bias[j*32 : j*32+32][0]
					}
					fused := 0 // the kernel's code for the activation, on the last chunk
					if last {
						switch act {
						case QuickGELU:
							fused = 1
						case GELU:
							fused = 2
						}
					}
					ct := c[i0*ldc+j*32:]
					bs := b.panel(j, s0*amxSteps)
					amxStrip(&pa[s0*amxSteps], 2*kpad, &bs[0], &ct[0], ldc, rows, s1-s0, bp, 1<<cols-1, accumulate || !first, &t[0], fused)
				}
			}
		})
	}
}

// amxI8Usable reports whether the AMX int8 kernel can run: AMX-INT8 with
// the tile state granted, and VNNI for the layers AMX does not take.
func amxI8Usable() bool {
	return amxOK && cpu.X86.HasAMXInt8 && cpu.X86.HasAVX512VNNI
}

// gemmAMXI8 is engine.gemmI8 on AMX tiles (TDPBUSD). b is packed with nr =
// 32 and steps a multiple of i8Steps (16, the steps of a tile), the layout
// TILELOADD reads; k ≥ 1.
//
// A is quantised one block of mc rows at a time into rows of b.ks·4 bytes,
// as in gemmAMX, and the cores split the B panels. K is not split: int32
// sums cannot be dequantised piecewise (the zero-point correction applies
// once), and a panel of the widest layer (3072 inputs × 32 columns, 96 KiB)
// stays in L2 while the kernel sweeps the 32-row blocks of the strip.
func gemmAMXI8(e *engine, m, n, k int, a []float32, lda int, b *packedI8, bias, c []float32, ldc int, act Act, accumulate bool) {
	if m <= 0 || n <= 0 {
		return
	}
	if act == ReLU {
		gemmAMXI8(e, m, n, k, a, lda, b, bias, c, ldc, Identity, accumulate)
		reluTile(c, ldc, m, n)
		return
	}
	if b.nr != 32 || b.ks%i8Steps != 0 || b.ks*4 < k {
		panic("nn: B not packed for AMX")
	}
	rowBytes := b.ks * 4
	_ = a[(m-1)*lda+k-1]
	_ = c[(m-1)*ldc+n-1]
	const mc = 512
	mrows := min(mc, (m+31)&^31)
	buf := scratch.Get().(*[]float32)
	*buf = grow(*buf, mrows*rowBytes/4+mrows)
	defer scratch.Put(buf)
	pa := bytesOf((*buf)[:mrows*rowBytes/4])
	ascale := (*buf)[mrows*rowBytes/4:]

	fused := 0 // the kernel's code for the activation
	switch act {
	case QuickGELU:
		fused = 1
	case GELU:
		fused = 2
	}
	np := b.panels()
	for i0 := 0; i0 < m; i0 += mc {
		rows := min(mc, m-i0)
		// Only the rows that exist are written: the bytes beyond k meet
		// zero weights, and the rows up to the next multiple of 32 are
		// computed but never stored, so whatever they hold is harmless.
		ParallelFor(rows, max(1, 32*1024/k), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				ascale[r] = e.quant(pa[r*rowBytes:(r+1)*rowBytes], a[(i0+r)*lda:(i0+r)*lda+k])
			}
		})
		ParallelFor(np, max(1, (1<<20)/(2*rows*k*32+1)), func(jlo, jhi int) {
			var t [32 * 32]int32
			for j := jlo; j < jhi; j++ {
				cols := min(32, n-j*32)
				var bp *float32
				if bias != nil {
					bp = &bias[j*32 : j*32+32][0]
				}
				ct := c[i0*ldc+j*32:]
				amxStripI8(&pa[0], rowBytes, &b.panel(j)[0], &ct[0], ldc, rows, b.ks/i8Steps,
					&b.comp[j*32], &b.scale[j*32 : j*32+32][0], &ascale[0], bp, 1<<cols-1, accumulate, &t[0], fused)
			}
		})
	}
}
