//go:build amd64 && !purego

#include "textflag.h"

// Element-wise AVX-512 kernels: activations, softmax, LayerNorm passes, dot
// and axpy. Rows are processed 16 floats at a time; the last partial vector
// of a row goes through the opmask K1 (loads of masked-off lanes do not
// fault), so no row needs a scalar tail.

#define F32(name, bits) DATA name<>+0(SB)/4, $bits; GLOBL name<>(SB), RODATA|NOPTR, $4

// exp: Cephes expf. Reduce x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two
// for accuracy), approximate e^r by a degree-7 polynomial, scale by 2^n with
// VSCALEFPS, which also handles overflow and underflow. About 1 ulp.
F32(expLo, 0xc2ce8ed0)  // -103.27893: below, e^x is 0 in float32
F32(expHi, 0x42b17213)  // 88.7228: above, e^x is +Inf
F32(log2e, 0x3fb8aa3b)
F32(ln2Hi, 0x3f318000)  // 0.693359375
F32(ln2Lo, 0xb95e8083)  // -2.12194440e-4
F32(expP0, 0x39506967)  // 1.9875691500e-4
F32(expP1, 0x3ab743ce)  // 1.3981999507e-3
F32(expP2, 0x3c088908)  // 8.3334519073e-3
F32(expP3, 0x3d2aa9c1)  // 4.1665795894e-2
F32(expP4, 0x3e2aaaaa)  // 1.6666665459e-1
F32(expP5, 0x3f000000)  // 5.0000001201e-1
F32(one, 0x3f800000)
F32(two, 0x40000000)
F32(half, 0x3f000000)
F32(negQG, 0xbfd9db23)  // -1.702
F32(rsqrt2, 0x3f3504f3) // 1/√2
F32(negInf, 0xff800000)
F32(absMask, 0x7fffffff)

// erfc(z) for z ≥ 0 as t·exp(-z² + P(t)), t = 1/(1+z/2), the Chebyshev fit
// of Numerical Recipes (erfcc): fractional error below 1.2e-7 everywhere.
F32(erfc0, 0xbfa1fc4e)  // -1.26551223
F32(erfc1, 0x3f8000c7)  // 1.00002368
F32(erfc2, 0x3ebf88fb)  // 0.37409196
F32(erfc3, 0x3dc636c9)  // 0.09678418
F32(erfc4, 0xbe3ec24c)  // -0.18628806
F32(erfc5, 0x3e8ec7cc)  // 0.27886807
F32(erfc6, 0xbf914e5d)  // -1.13520398
F32(erfc7, 0x3fbe87b0)  // 1.48851587
F32(erfc8, 0xbf527892)  // -0.82215223
F32(erfc9, 0x3e2ef945)  // 0.17087277

// EXPCONST loads the exp constants into Z16–Z27.
#define EXPCONST \
	VBROADCASTSS expLo<>(SB), Z16; \
	VBROADCASTSS expHi<>(SB), Z17; \
	VBROADCASTSS log2e<>(SB), Z18; \
	VBROADCASTSS ln2Hi<>(SB), Z19; \
	VBROADCASTSS ln2Lo<>(SB), Z20; \
	VBROADCASTSS expP0<>(SB), Z21; \
	VBROADCASTSS expP1<>(SB), Z22; \
	VBROADCASTSS expP2<>(SB), Z23; \
	VBROADCASTSS expP3<>(SB), Z24; \
	VBROADCASTSS expP4<>(SB), Z25; \
	VBROADCASTSS expP5<>(SB), Z26; \
	VBROADCASTSS one<>(SB), Z27

// EXP sets x = e^x, using n, p and t as scratch and EXPCONST's registers.
#define EXP(x, n, p, t) \
	VMAXPS Z16, x, x; \
	VMINPS Z17, x, x; \
	VMULPS Z18, x, n; \
	VRNDSCALEPS $0, n, n; \
	VFNMADD231PS Z19, n, x; \
	VFNMADD231PS Z20, n, x; \
	VMOVAPS Z21, p; \
	VFMADD213PS Z22, x, p; \
	VFMADD213PS Z23, x, p; \
	VFMADD213PS Z24, x, p; \
	VFMADD213PS Z25, x, p; \
	VFMADD213PS Z26, x, p; \
	VMULPS x, x, t; \
	VFMADD213PS x, t, p; \
	VADDPS Z27, p, p; \
	VSCALEFPS n, p, x

// QUICKGELU sets Z0 = Z0·σ(1.702·Z0) = Z0 / (1 + e^(-1.702·Z0)), as the
// portable code computes it. Needs Z28 = -1.702.
#define QUICKGELU \
	VMOVAPS Z0, Z3; \
	VMULPS Z28, Z0, Z0; \
	EXP(Z0, Z1, Z2, Z4); \
	VADDPS Z27, Z0, Z0; \
	VDIVPS Z0, Z3, Z0

// GELU sets Z0 = ½·Z0·(1 + erf(Z0/√2)). With z = |x|/√2, 1 + erf(x/√2) is
// erfc(z) for x < 0 and 2 - erfc(z) otherwise; computing erfc directly keeps
// the relative accuracy of the tiny results for negative x. Needs Z28 = 2,
// Z29 = |·| mask, Z30 = 1/√2, Z31 = ½.
#define GELU \
	VMOVAPS Z0, Z3; \
	VANDPS Z29, Z0, Z5; \
	VMULPS Z30, Z5, Z5; \
	VMULPS Z31, Z5, Z6; \
	VADDPS Z27, Z6, Z6; \
	VDIVPS Z6, Z27, Z6; \
	VBROADCASTSS erfc9<>(SB), Z7; \
	VFMADD213PS.BCST erfc8<>(SB), Z6, Z7; \
	VFMADD213PS.BCST erfc7<>(SB), Z6, Z7; \
	VFMADD213PS.BCST erfc6<>(SB), Z6, Z7; \
	VFMADD213PS.BCST erfc5<>(SB), Z6, Z7; \
	VFMADD213PS.BCST erfc4<>(SB), Z6, Z7; \
	VFMADD213PS.BCST erfc3<>(SB), Z6, Z7; \
	VFMADD213PS.BCST erfc2<>(SB), Z6, Z7; \
	VFMADD213PS.BCST erfc1<>(SB), Z6, Z7; \
	VFMADD213PS.BCST erfc0<>(SB), Z6, Z7; \
	VFNMADD231PS Z5, Z5, Z7; \
	EXP(Z7, Z1, Z2, Z4); \
	VMULPS Z6, Z7, Z7; \
	VSUBPS Z7, Z28, Z8; \
	VPMOVD2M Z3, K3; \
	VMOVAPS Z7, K3, Z8; \
	VMULPS Z31, Z3, Z3; \
	VMULPS Z8, Z3, Z0

// TAILMASK sets K1 to the low (n mod 16) bits, n in reg; clobbers CX, R11.
#define TAILMASK(reg) \
	MOVQ reg, CX; \
	ANDQ $15, CX; \
	MOVL $1, R11; \
	SHLL CX, R11; \
	DECL R11; \
	KMOVW R11, K1

// ACTROWS applies BODY to rows×cols floats at c (row stride ldc).
#define ACTROWS(BODY) \
	MOVQ c+0(FP), DI; \
	MOVQ ldc+8(FP), DX; \
	SHLQ $2, DX; \
	MOVQ rows+16(FP), R8; \
	MOVQ cols+24(FP), R9; \
	TAILMASK(R9); \
rowloop: \
	MOVQ DI, SI; \
	MOVQ R9, R10; \
	SHRQ $4, R10; \
	JZ rowtail; \
vecloop: \
	VMOVUPS (SI), Z0; \
	BODY; \
	VMOVUPS Z0, (SI); \
	ADDQ $64, SI; \
	DECQ R10; \
	JNZ vecloop; \
rowtail: \
	KORTESTW K1, K1; \
	JZ nextrow; \
	VMOVUPS.Z (SI), K1, Z0; \
	BODY; \
	VMOVUPS Z0, K1, (SI); \
nextrow: \
	ADDQ DX, DI; \
	DECQ R8; \
	JNZ rowloop; \
	VZEROUPPER; \
	RET

// func quickGELUAVX512(c *float32, ldc, rows, cols int)
TEXT ·quickGELUAVX512(SB), NOSPLIT, $0-32
	EXPCONST
	VBROADCASTSS negQG<>(SB), Z28
	ACTROWS(QUICKGELU)

// func geluAVX512(c *float32, ldc, rows, cols int)
TEXT ·geluAVX512(SB), NOSPLIT, $0-32
	EXPCONST
	VBROADCASTSS two<>(SB), Z28
	VBROADCASTSS absMask<>(SB), Z29
	VBROADCASTSS rsqrt2<>(SB), Z30
	VBROADCASTSS half<>(SB), Z31
	ACTROWS(GELU)

// HMAXPS reduces Z5 to its maximum, broadcast to all lanes; clobbers Z6.
#define HMAXPS \
	VEXTRACTF64X4 $1, Z5, Y6; \
	VMAXPS Y6, Y5, Y5; \
	VEXTRACTF128 $1, Y5, X6; \
	VMAXPS X6, X5, X5; \
	VPERMILPS $0x4e, X5, X6; \
	VMAXPS X6, X5, X5; \
	VPERMILPS $0xb1, X5, X6; \
	VMAXPS X6, X5, X5; \
	VBROADCASTSS X5, Z5

// HADDPS reduces Z7 to its sum in X7; clobbers Z6.
#define HADDPS \
	VEXTRACTF64X4 $1, Z7, Y6; \
	VADDPS Y6, Y7, Y7; \
	VEXTRACTF128 $1, Y7, X6; \
	VADDPS X6, X7, X7; \
	VPERMILPS $0x4e, X7, X6; \
	VADDPS X6, X7, X7; \
	VPERMILPS $0xb1, X7, X6; \
	VADDPS X6, X7, X7

// func softmaxAVX512x(x *float32, n int, scale float32)
// x = e^(scale·(x-max)) / Σ e^(scale·(x-max)); n ≥ 1.
TEXT ·softmaxAVX512x(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), R9
	VBROADCASTSS scale+16(FP), Z28
	TAILMASK(R9)
	EXPCONST

	VBROADCASTSS negInf<>(SB), Z5
	MOVQ DI, SI
	MOVQ R9, R10
	SHRQ $4, R10
	JZ maxtail
maxloop:
	VMAXPS (SI), Z5, Z5
	ADDQ $64, SI
	DECQ R10
	JNZ maxloop
maxtail:
	KORTESTW K1, K1
	JZ maxdone
	VMAXPS (SI), Z5, K1, Z5
maxdone:
	HMAXPS

	VPXORD Z7, Z7, Z7
	MOVQ DI, SI
	MOVQ R9, R10
	SHRQ $4, R10
	JZ exptail
exploop:
	VMOVUPS (SI), Z0
	VSUBPS Z5, Z0, Z0
	VMULPS Z28, Z0, Z0
	EXP(Z0, Z1, Z2, Z4)
	VMOVUPS Z0, (SI)
	VADDPS Z0, Z7, Z7
	ADDQ $64, SI
	DECQ R10
	JNZ exploop
exptail:
	KORTESTW K1, K1
	JZ expdone
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS Z5, Z0, Z0
	VMULPS Z28, Z0, Z0
	EXP(Z0, Z1, Z2, Z4)
	VMOVUPS Z0, K1, (SI)
	VADDPS Z0, Z7, K1, Z7
expdone:
	HADDPS
	VMOVSS one<>(SB), X6
	VDIVSS X7, X6, X6
	VBROADCASTSS X6, Z6

	MOVQ DI, SI
	MOVQ R9, R10
	SHRQ $4, R10
	JZ scaletail
scaleloop:
	VMULPS (SI), Z6, Z0
	VMOVUPS Z0, (SI)
	ADDQ $64, SI
	DECQ R10
	JNZ scaleloop
scaletail:
	KORTESTW K1, K1
	JZ done
	VMOVUPS.Z (SI), K1, Z0
	VMULPS Z6, Z0, Z0
	VMOVUPS Z0, K1, (SI)
done:
	VZEROUPPER
	RET

// TAILMASK8 sets K1 to the low (n mod 8) bits and R10 to n/16, with
// R12 = 1 if an 8-float half vector remains; n in R9.
#define HADDPD \
	VADDPD Z1, Z0, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPD Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPD X1, X0, X0; \
	VPERMILPD $1, X0, X1; \
	VADDSD X1, X0, X0

// func sum64AVX512x(x *float32, n int) float64
TEXT ·sum64AVX512x(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), R9
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	MOVQ R9, R10
	SHRQ $4, R10
	JZ tail8
loop:
	VCVTPS2PD (SI), Z2
	VCVTPS2PD 32(SI), Z3
	VADDPD Z2, Z0, Z0
	VADDPD Z3, Z1, Z1
	ADDQ $64, SI
	DECQ R10
	JNZ loop
tail8:
	TESTQ $8, R9
	JZ tail
	VCVTPS2PD (SI), Z2
	VADDPD Z2, Z0, Z0
	ADDQ $32, SI
tail:
	MOVQ R9, CX
	ANDQ $7, CX
	JZ done
	MOVL $1, R11
	SHLL CX, R11
	DECL R11
	KMOVW R11, K1
	VMOVUPS.Z (SI), K1, Y2
	VCVTPS2PD Y2, Z2
	VADDPD Z2, Z1, Z1
done:
	HADDPD
	MOVSD X0, ret+16(FP)
	VZEROUPPER
	RET

// func sqDev64AVX512x(x *float32, n int, mean float64) float64
TEXT ·sqDev64AVX512x(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), R9
	VBROADCASTSD mean+16(FP), Z5
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	MOVQ R9, R10
	SHRQ $4, R10
	JZ tail8
loop:
	VCVTPS2PD (SI), Z2
	VCVTPS2PD 32(SI), Z3
	VSUBPD Z5, Z2, Z2
	VSUBPD Z5, Z3, Z3
	VFMADD231PD Z2, Z2, Z0
	VFMADD231PD Z3, Z3, Z1
	ADDQ $64, SI
	DECQ R10
	JNZ loop
tail8:
	TESTQ $8, R9
	JZ tail
	VCVTPS2PD (SI), Z2
	VSUBPD Z5, Z2, Z2
	VFMADD231PD Z2, Z2, Z0
	ADDQ $32, SI
tail:
	MOVQ R9, CX
	ANDQ $7, CX
	JZ done
	MOVL $1, R11
	SHLL CX, R11
	DECL R11
	KMOVW R11, K1
	VMOVUPS.Z (SI), K1, Y2
	VCVTPS2PD Y2, Z2
	VSUBPD.Z Z5, Z2, K1, Z2
	VFMADD231PD Z2, Z2, Z1
done:
	HADDPD
	MOVSD X0, ret+24(FP)
	VZEROUPPER
	RET

// func normRowAVX512x(dst, x, gamma, beta *float32, n int, mean, inv float32)
// dst = (x-mean)·inv·gamma + beta, rounded step by step as the Go code does.
TEXT ·normRowAVX512x(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gamma+16(FP), R8
	MOVQ beta+24(FP), R12
	MOVQ n+32(FP), R9
	VBROADCASTSS mean+40(FP), Z5
	VBROADCASTSS inv+44(FP), Z6
	TAILMASK(R9)
	MOVQ R9, R10
	SHRQ $4, R10
	JZ tail
loop:
	VMOVUPS (SI), Z0
	VSUBPS Z5, Z0, Z0
	VMULPS Z6, Z0, Z0
	VMULPS (R8), Z0, Z0
	VADDPS (R12), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R12
	DECQ R10
	JNZ loop
tail:
	KORTESTW K1, K1
	JZ done
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (R8), K1, Z1
	VMOVUPS.Z (R12), K1, Z2
	VSUBPS Z5, Z0, Z0
	VMULPS Z6, Z0, Z0
	VMULPS Z1, Z0, Z0
	VADDPS Z2, Z0, Z0
	VMOVUPS Z0, K1, (DI)
done:
	VZEROUPPER
	RET

// func dotAVX512x(a, b *float32, n int) float32
TEXT ·dotAVX512x(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), R9
	TAILMASK(R9)
	VPXORD Z7, Z7, Z7
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	MOVQ R9, R10
	SHRQ $6, R10
	JZ loop16
loop64:
	VMOVUPS (SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z8
	VMOVUPS 192(SI), Z9
	VFMADD231PS (DI), Z4, Z7
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z8, Z2
	VFMADD231PS 192(DI), Z9, Z3
	ADDQ $256, SI
	ADDQ $256, DI
	DECQ R10
	JNZ loop64
loop16:
	MOVQ R9, R10
	ANDQ $63, R10
	SHRQ $4, R10
	JZ tail
loop16b:
	VMOVUPS (SI), Z4
	VFMADD231PS (DI), Z4, Z7
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ R10
	JNZ loop16b
tail:
	KORTESTW K1, K1
	JZ done
	VMOVUPS.Z (SI), K1, Z4
	VMOVUPS.Z (DI), K1, Z5
	VFMADD231PS Z5, Z4, Z1
done:
	VADDPS Z1, Z7, Z7
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z7, Z7
	HADDPS
	VMOVSS X7, ret+24(FP)
	VZEROUPPER
	RET

// func axpyAVX512x(y, x *float32, n int, a float32)
TEXT ·axpyAVX512x(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), R9
	VBROADCASTSS a+24(FP), Z5
	TAILMASK(R9)
	MOVQ R9, R10
	SHRQ $4, R10
	JZ tail
loop:
	VMOVUPS (SI), Z0
	VFMADD213PS (DI), Z5, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ R10
	JNZ loop
tail:
	KORTESTW K1, K1
	JZ done
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DI), K1, Z1
	VFMADD213PS Z1, Z5, Z0
	VMOVUPS Z0, K1, (DI)
done:
	VZEROUPPER
	RET

// func packA14AVX512(dst, src *float32, lda, rows, k int)
// Packs one A panel: for each of k steps, the values of rows (≤ 14) rows at
// that step, as 14 contiguous floats (zero beyond rows). One gather reads a
// column of the panel; it replaces a scalar transpose, which costs as much
// as a tenth of a large product.
TEXT ·packA14AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lda+16(FP), DX
	MOVQ rows+24(FP), CX
	MOVQ k+32(FP), R9
	MOVL $1, R11
	SHLL CX, R11
	DECL R11 // R11: gather mask of the rows that exist
	MOVL $0x3fff, R12
	KMOVW R12, K3 // store mask: 14 floats
	// Z1 = row offsets i·lda, i = 0..15.
	VPBROADCASTD DX, Z2
	VPMOVZXBD iota16<>(SB), Z1
	VPMULLD Z2, Z1, Z1
	TESTQ R9, R9
	JZ done
loop:
	VPXORD Z0, Z0, Z0
	KMOVW R11, K2
	VGATHERDPS (SI)(Z1*4), K2, Z0
	VMOVUPS Z0, K3, (DI)
	ADDQ $4, SI
	ADDQ $56, DI
	DECQ R9
	JNZ loop
done:
	VZEROUPPER
	RET

DATA iota16<>+0(SB)/8, $0x0706050403020100
DATA iota16<>+8(SB)/8, $0x0f0e0d0c0b0a0908
GLOBL iota16<>(SB), RODATA|NOPTR, $16

// BF16PAIR sets lo to the bf16 pairs (bf16(lo) | bf16(hi)<<16) of the
// float32 lanes lo and hi, rounding to nearest even as VCVTNEPS2BF16 does
// (NaN payloads are not preserved). Needs Z8 = 0x7fff, Z9 = 1,
// Z10 = 0xffff0000; clobbers Z4.
#define BF16PAIR(lo, hi) \
	VPSRLD $16, lo, Z4; \
	VPANDD Z9, Z4, Z4; \
	VPADDD Z8, lo, lo; \
	VPADDD Z4, lo, lo; \
	VPSRLD $16, lo, lo; \
	VPSRLD $16, hi, Z4; \
	VPANDD Z9, Z4, Z4; \
	VPADDD Z8, hi, hi; \
	VPADDD Z4, hi, hi; \
	VPANDD Z10, hi, hi; \
	VPORD hi, lo, lo

// func packA14BF16AVX512(dst, src *float32, lda, rows, k int)
// Like packA14AVX512, but converts to bf16 and packs pairs of k steps into
// one 32-bit value per row: ⌈k/2⌉ steps of 14 pairs.
TEXT ·packA14BF16AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lda+16(FP), DX
	MOVQ rows+24(FP), CX
	MOVQ k+32(FP), R9
	MOVL $1, R11
	SHLL CX, R11
	DECL R11
	MOVL $0x3fff, R12
	KMOVW R12, K3
	VPBROADCASTD DX, Z2
	VPMOVZXBD iota16<>(SB), Z1
	VPMULLD Z2, Z1, Z1
	MOVL $0x7fff, R12
	VPBROADCASTD R12, Z8
	MOVL $1, R12
	VPBROADCASTD R12, Z9
	MOVL $0xffff0000, R12
	VPBROADCASTD R12, Z10
	MOVQ R9, R10
	SHRQ $1, R10
	JZ odd
loop:
	VPXORD Z0, Z0, Z0
	KMOVW R11, K2
	VGATHERDPS (SI)(Z1*4), K2, Z0
	VPXORD Z3, Z3, Z3
	KMOVW R11, K2
	VGATHERDPS 4(SI)(Z1*4), K2, Z3
	BF16PAIR(Z0, Z3)
	VMOVUPS Z0, K3, (DI)
	ADDQ $8, SI
	ADDQ $56, DI
	DECQ R10
	JNZ loop
odd:
	TESTQ $1, R9
	JZ done
	VPXORD Z0, Z0, Z0
	KMOVW R11, K2
	VGATHERDPS (SI)(Z1*4), K2, Z0
	VPXORD Z3, Z3, Z3
	BF16PAIR(Z0, Z3)
	VMOVUPS Z0, K3, (DI)
done:
	VZEROUPPER
	RET
