//go:build amd64 && !purego

#include "textflag.h"

// Element-wise AVX-512 kernels: activations, softmax, LayerNorm passes, dot
// and axpy. Rows are processed 16 floats at a time; the last partial vector
// of a row goes through the opmask K1 (loads of masked-off lanes do not
// fault), so no row needs a scalar tail.

#include "ops_amd64.h"

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
	RESTOREMXCSR; \
	VZEROUPPER; \
	RET

// func quickGELUAVX512(c *float32, ldc, rows, cols int)
TEXT ·quickGELUAVX512(SB), NOSPLIT, $8-32
	FLUSHDENORMALS
	EXPCONST
	VBROADCASTSS negQG<>(SB), Z28
	ACTROWS(QUICKGELU)

// func geluAVX512(c *float32, ldc, rows, cols int)
TEXT ·geluAVX512(SB), NOSPLIT, $8-32
	FLUSHDENORMALS
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

// func softmaxRowsAVX512(x *float32, ld, rows, n int, scale float32, causal bool)
// For each of rows rows of n values (ld apart), x = e^(scale·(x-max)) /
// Σ e^(scale·(x-max)), over the first i+1 values of row i if causal (the
// rest set to 0), else over all n. rows, n ≥ 1.
TEXT ·softmaxRowsAVX512(SB), NOSPLIT, $8-37
	FLUSHDENORMALS
	MOVQ x+0(FP), DI
	MOVQ ld+8(FP), R13
	SHLQ $2, R13
	MOVQ rows+16(FP), BX
	MOVQ n+24(FP), DX
	VBROADCASTSS scale+32(FP), Z28
	MOVBLZX causal+36(FP), AX
	MOVQ $1, R12
	EXPCONST

row:
	MOVQ DX, R9
	TESTQ AX, AX
	JZ sized
	MOVQ R12, R9
	CMPQ R9, DX
	JLE sized
	MOVQ DX, R9
sized:
	TAILMASK(R9)

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
	JZ masked
	VMOVUPS.Z (SI), K1, Z0
	VMULPS Z6, Z0, Z0
	VMOVUPS Z0, K1, (SI)

masked:
	// Causal rows: zero the keys after the query.
	MOVQ DX, R10
	SUBQ R9, R10
	JZ nextrow
	LEAQ (DI)(R9*4), SI
zeroloop:
	MOVL $0, (SI)
	ADDQ $4, SI
	DECQ R10
	JNZ zeroloop

nextrow:
	ADDQ R13, DI
	INCQ R12
	DECQ BX
	JNZ row
	RESTOREMXCSR
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



// func maxIntoAVX512x(y, x *float32, n int)
// VMAXPS returns its second source unless the first is greater, so with x
// first a NaN in either leaves y as it was, as maxIntoGo does.
TEXT ·maxIntoAVX512x(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), R9
	TAILMASK(R9)
	MOVQ R9, R10
	SHRQ $4, R10
	JZ maxtail
maxloop:
	VMOVUPS (SI), Z0
	VMAXPS (DI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ R10
	JNZ maxloop
maxtail:
	KORTESTW K1, K1
	JZ maxdone
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DI), K1, Z1
	VMAXPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
maxdone:
	VZEROUPPER
	RET

// func reluAVX512x(x *float32, n int)
TEXT ·reluAVX512x(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), R9
	VXORPS Z5, Z5, Z5
	TAILMASK(R9)
	MOVQ R9, R10
	SHRQ $4, R10
	JZ relutail
reluloop:
	VMAXPS (DI), Z5, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	DECQ R10
	JNZ reluloop
relutail:
	KORTESTW K1, K1
	JZ reludone
	VMOVUPS.Z (DI), K1, Z0
	VMAXPS Z0, Z5, Z0
	VMOVUPS Z0, K1, (DI)
reludone:
	VZEROUPPER
	RET

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
	VPMOVZXBD iota16bf<>(SB), Z1
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

DATA iota16bf<>+0(SB)/8, $0x0706050403020100
DATA iota16bf<>+8(SB)/8, $0x0f0e0d0c0b0a0908
GLOBL iota16bf<>(SB), RODATA|NOPTR, $16

DATA i32x128<>+0(SB)/4, $128
GLOBL i32x128<>(SB), RODATA|NOPTR, $4

// func quantRowAVX512x(dst *uint8, x *float32, n int) float32
// quantRowGo for n ≥ 1: the scale max|x|/127 and, if it is not zero,
// dst[i] = round(x[i]·(127/max|x|)) + 128, rounding to nearest even as the
// portable code does (VCVTPS2DQ in the default rounding mode), with the
// same float32 operations, so the bytes are identical. The caller handles
// a zero maximum (and NaN, which VMAXPS does not propagate).
TEXT ·quantRowAVX512x(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), R9
	TAILMASK(R9)
	VBROADCASTSS absMask<>(SB), Z5
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	MOVQ SI, R8
	MOVQ R9, R10
	SHRQ $5, R10
	JZ max16
max32:
	VANDPS (R8), Z5, Z2
	VANDPS 64(R8), Z5, Z3
	VMAXPS Z2, Z0, Z0
	VMAXPS Z3, Z1, Z1
	ADDQ $128, R8
	DECQ R10
	JNZ max32
max16:
	BTQ $4, R9
	JCC maxtail
	VANDPS (R8), Z5, Z2
	VMAXPS Z2, Z0, Z0
	ADDQ $64, R8
maxtail:
	VMOVUPS.Z (R8), K1, Z2
	VANDPS Z2, Z5, Z2
	VMAXPS Z2, Z0, Z0
	VMAXPS Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	MOVL $0x42fe0000, AX // 127
	VMOVD AX, X1
	VDIVSS X1, X0, X2 // scale = max/127
	VMOVSS X2, ret+24(FP)
	VXORPS X3, X3, X3
	VUCOMISS X3, X0
	JEQ done
	VDIVSS X0, X1, X1 // inv = 127/max
	VBROADCASTSS X1, Z1
	VPBROADCASTD i32x128<>(SB), Z4
	// Clamping to ±127 before rounding is clamping after it, as the
	// portable code does; it matters only when 127/max overflows to +Inf
	// (max below 4e-37).
	MOVL $0x42fe0000, AX
	VPBROADCASTD AX, Z6
	MOVL $0xc2fe0000, AX
	VPBROADCASTD AX, Z7
	MOVQ R9, R10
	SHRQ $4, R10
	JZ qtail
q16:
	VMULPS (SI), Z1, Z2
	VMINPS Z6, Z2, Z2
	VMAXPS Z7, Z2, Z2
	VCVTPS2DQ Z2, Z2
	VPADDD Z4, Z2, Z2
	VPMOVUSDB Z2, (DI)
	ADDQ $64, SI
	ADDQ $16, DI
	DECQ R10
	JNZ q16
qtail:
	KORTESTW K1, K1
	JZ done
	VMOVUPS.Z (SI), K1, Z2
	VMULPS Z2, Z1, Z2
	VMINPS Z6, Z2, Z2
	VMAXPS Z7, Z2, Z2
	VCVTPS2DQ Z2, Z2
	VPADDD Z4, Z2, Z2
	VPMOVUSDB Z2, K1, (DI)
done:
	VZEROUPPER
	RET
