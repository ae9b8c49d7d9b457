//go:build amd64 && !purego

#include "textflag.h"
#include "ops_amd64.h"

// AMX bf16 kernel. The Go assembler knows no AMX instructions, so they are
// spelled out as bytes (VEX encodings from the Intel SDM); each is preceded
// by a comment with its mnemonic. Only legacy registers (AX–DI) appear in
// the encoded operands, so the VEX.R/X/B bits are constant.

// Tile configuration: palette 1; tmm0–tmm7 all 16 rows × 64 bytes.
DATA amxcfg<>+0(SB)/8, $1
DATA amxcfg<>+8(SB)/8, $0
DATA amxcfg<>+16(SB)/8, $0x0040004000400040
DATA amxcfg<>+24(SB)/8, $0x0040004000400040
DATA amxcfg<>+32(SB)/8, $0
DATA amxcfg<>+40(SB)/8, $0
DATA amxcfg<>+48(SB)/8, $0x1010101010101010
DATA amxcfg<>+56(SB)/8, $0
GLOBL amxcfg<>(SB), RODATA|NOPTR, $64

// func amxStrip(a *float32, lda int, b, c *float32, ldc, rows, ksteps int, bias *float32, mask uint64, load bool, scratch *float32, act int)
//
// Computes a strip of C, rows×32 (columns under mask), from A in bf16 rows
// (lda bytes apart, rows padded with zeros to a multiple of 32, each
// 32·ksteps bf16 long) and a B panel of 16·ksteps steps of 32 bf16 pairs
// (128 bytes a step). Per 32-row block, tmm0–3 hold the 2×2 tiles of C,
// tmm4–5 the two 16-row tiles of A, tmm6–7 the two 16-column tiles of B.
// Each block goes through scratch (32×32 floats) and is then added to bias
// (and to C if load) and stored under the column mask, so edges need no
// special case. The activation act (0: none, 1: QuickGELU, 2: GELU) is
// applied in the same pass, while the block is in registers: a separate
// pass over a 32-column strip of C would walk a page per row. The tile state
// is configured and released within the call: a goroutine may move to
// another thread between calls.
TEXT ·amxStrip(SB), NOSPLIT, $8-96
	FLUSHDENORMALS
	MOVQ act+88(FP), R8
	TESTQ R8, R8
	JZ noact
	EXPCONST
	CMPQ R8, $1
	JNE gelucon
	VBROADCASTSS negQG<>(SB), Z28
	JMP noact
gelucon:
	VBROADCASTSS two<>(SB), Z28
	VBROADCASTSS absMask<>(SB), Z29
	VBROADCASTSS rsqrt2<>(SB), Z30
	VBROADCASTSS half<>(SB), Z31
noact:
	LEAQ amxcfg<>(SB), AX
	// LDTILECFG (AX)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0x00
	MOVQ mask+64(FP), R8
	KMOVW R8, K1
	SHRQ $16, R8
	KMOVW R8, K2
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	MOVQ bias+56(FP), R8
	TESTQ R8, R8
	JZ nobias
	VMOVUPS (R8), Z12
	VMOVUPS 64(R8), Z13
nobias:
	MOVQ a+0(FP), R9
	MOVQ c+24(FP), R10
	MOVQ ldc+32(FP), R11
	SHLQ $2, R11
	MOVQ rows+40(FP), R12
	MOVQ lda+8(FP), CX
	MOVBLZX load+72(FP), R13

block:
	// TILEZERO tmm0; tmm1; tmm2; tmm3
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc0
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc8
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd0
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd8
	MOVQ R9, SI
	MOVQ CX, DI
	SHLQ $4, DI
	ADDQ R9, DI
	MOVQ b+16(FP), BX
	LEAQ 64(BX), DX
	MOVQ $128, AX
	MOVQ ksteps+48(FP), R8
	TESTQ R8, R8
	JZ stored
kloop:
	// TILELOADD tmm4, (SI)(CX*1)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x24; BYTE $0x0e
	// TILELOADD tmm5, (DI)(CX*1)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x2c; BYTE $0x0f
	// TILELOADD tmm6, (BX)(AX*1)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x34; BYTE $0x03
	// TILELOADD tmm7, (DX)(AX*1)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x3c; BYTE $0x02
	// TDPBF16PS tmm0, tmm4, tmm6
	BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xc4
	// TDPBF16PS tmm1, tmm4, tmm7
	BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xcc
	// TDPBF16PS tmm2, tmm5, tmm6
	BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xd5
	// TDPBF16PS tmm3, tmm5, tmm7
	BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xdd
	// Prefetch B 8 KiB ahead, as amxStripI8 does (see there): 13.5 → 11.4 ms
	// for a 16-token query on ViT-B/32's text tower in bf16.
	PREFETCHT0 8192(BX)
	PREFETCHT0 8256(BX)
	PREFETCHT0 8320(BX)
	PREFETCHT0 8384(BX)
	PREFETCHT0 8448(BX)
	PREFETCHT0 8512(BX)
	PREFETCHT0 8576(BX)
	PREFETCHT0 8640(BX)
	PREFETCHT0 8704(BX)
	PREFETCHT0 8768(BX)
	PREFETCHT0 8832(BX)
	PREFETCHT0 8896(BX)
	PREFETCHT0 8960(BX)
	PREFETCHT0 9024(BX)
	PREFETCHT0 9088(BX)
	PREFETCHT0 9152(BX)
	PREFETCHT0 9216(BX)
	PREFETCHT0 9280(BX)
	PREFETCHT0 9344(BX)
	PREFETCHT0 9408(BX)
	PREFETCHT0 9472(BX)
	PREFETCHT0 9536(BX)
	PREFETCHT0 9600(BX)
	PREFETCHT0 9664(BX)
	PREFETCHT0 9728(BX)
	PREFETCHT0 9792(BX)
	PREFETCHT0 9856(BX)
	PREFETCHT0 9920(BX)
	PREFETCHT0 9984(BX)
	PREFETCHT0 10048(BX)
	PREFETCHT0 10112(BX)
	PREFETCHT0 10176(BX)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $2048, BX
	ADDQ $2048, DX
	DECQ R8
	JNZ kloop

stored:
	MOVQ scratch+80(FP), SI
	LEAQ 64(SI), DI
	LEAQ 2048(SI), BX
	LEAQ 2112(SI), DX
	// TILESTORED (SI)(AX*1), tmm0
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x04; BYTE $0x06
	// TILESTORED (DI)(AX*1), tmm1
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x0c; BYTE $0x07
	// TILESTORED (BX)(AX*1), tmm2
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x14; BYTE $0x03
	// TILESTORED (DX)(AX*1), tmm3
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x1c; BYTE $0x02

	// Epilogue over min(32, rows) rows.
	MOVQ R12, R8
	CMPQ R8, $32
	JLE epi
	MOVQ $32, R8
epi:
	MOVQ R10, DI
eloop:
	VADDPS (SI), Z12, Z10
	VADDPS 64(SI), Z13, Z11
	TESTQ R13, R13
	JZ activate
	VADDPS (DI), Z10, K1, Z10
	VADDPS 64(DI), Z11, K2, Z11
activate:
	CMPQ act+88(FP), $1
	JLT store
	JGT gelu
	VMOVAPS Z10, Z0
	QUICKGELU
	VMOVAPS Z0, Z10
	VMOVAPS Z11, Z0
	QUICKGELU
	VMOVAPS Z0, Z11
	JMP store
gelu:
	VMOVAPS Z10, Z0
	GELU
	VMOVAPS Z0, Z10
	VMOVAPS Z11, Z0
	GELU
	VMOVAPS Z0, Z11
store:
	VMOVUPS Z10, K1, (DI)
	VMOVUPS Z11, K2, 64(DI)
	ADDQ $128, SI
	ADDQ R11, DI
	DECQ R8
	JNZ eloop

	MOVQ CX, R8
	SHLQ $5, R8
	ADDQ R8, R9
	MOVQ R11, R8
	SHLQ $5, R8
	ADDQ R8, R10
	SUBQ $32, R12
	JG block

	// TILERELEASE
	BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0xc0
	RESTOREMXCSR
	VZEROUPPER
	RET

// func cvtBF16Rows(dst, src *float32, lds, rows, n, npad int)
// Converts rows rows of n floats (lds floats apart) to bf16, rounding to
// nearest even, into rows of npad bf16 (npad a multiple of 32, ≥ n; zero
// beyond n), packed one after the other at dst. VCVTNE2PS2BF16 converts 32
// floats from two registers into one; the Go assembler does not know it, so
// it is spelled out below.
TEXT ·cvtBF16Rows(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), R10
	MOVQ lds+16(FP), R11
	SHLQ $2, R11
	MOVQ rows+24(FP), R12
	MOVQ n+32(FP), R9
	// K1, K2: the lanes of the last, partial chunk of 32 (n mod 32).
	MOVQ R9, CX
	ANDQ $31, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K1
	SHRQ $16, AX
	KMOVW AX, K2
	// DX: chunks of padding after the data.
	MOVQ npad+40(FP), DX
	SHRQ $5, DX
	MOVQ R9, AX
	ADDQ $31, AX
	SHRQ $5, AX
	SUBQ AX, DX
	VPXORD Z5, Z5, Z5
row:
	MOVQ R10, SI
	MOVQ R9, R8
	SHRQ $5, R8
	JZ tail
chunk:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	// VCVTNE2PS2BF16 Z2, Z1, Z0: Z2 = bf16(Z0) (low half), bf16(Z1) (high)
	BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xd0
	VMOVDQU32 Z2, (DI)
	ADDQ $128, SI
	ADDQ $64, DI
	DECQ R8
	JNZ chunk
tail:
	TESTQ CX, CX
	JZ pad
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xd0
	VMOVDQU32 Z2, (DI)
	ADDQ $64, DI
pad:
	MOVQ DX, R8
	TESTQ R8, R8
	JZ next
padloop:
	VMOVDQU32 Z5, (DI)
	ADDQ $64, DI
	DECQ R8
	JNZ padloop
next:
	ADDQ R11, R10
	DECQ R12
	JNZ row
	VZEROUPPER
	RET

// func amxStripI8(a *uint8, lda int, b *int8, c *float32, ldc, rows, ksteps int, comp *int32, wscale, ascale, bias *float32, mask uint64, load bool, scratch *int32, act int)
//
// amxStrip for Int8 layers: A in rows of unsigned bytes (lda bytes apart,
// rows padded to a multiple of 32, each 64·ksteps bytes long), B a panel of
// 16·ksteps steps of 32 columns × 4 signed bytes, and TDPBUSD for
// TDPBF16PS: the int32 sums are exact, so K is never split. The epilogue is
// that of the int8 kernels (see int8.go), in the same order, so results
// match the portable kernel bit for bit before the activation:
//
//	c = float32(acc + comp[j])·(ascale[i]·wscale[j]) + bias[j] (+ c if load)
//
// ascale holds one scale per row of the strip; bias may be nil.
TEXT ·amxStripI8(SB), NOSPLIT, $8-120
	FLUSHDENORMALS
	MOVQ act+112(FP), R8
	TESTQ R8, R8
	JZ noact
	EXPCONST
	CMPQ R8, $1
	JNE gelucon
	VBROADCASTSS negQG<>(SB), Z28
	JMP noact
gelucon:
	VBROADCASTSS two<>(SB), Z28
	VBROADCASTSS absMask<>(SB), Z29
	VBROADCASTSS rsqrt2<>(SB), Z30
	VBROADCASTSS half<>(SB), Z31
noact:
	LEAQ amxcfg<>(SB), AX
	// LDTILECFG (AX)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0x00
	MOVQ mask+88(FP), R8
	KMOVW R8, K1
	SHRQ $16, R8
	KMOVW R8, K2
	MOVQ comp+56(FP), R8
	VMOVDQU32 (R8), Z14
	VMOVDQU32 64(R8), Z15
	MOVQ wscale+64(FP), R8
	VMOVUPS (R8), Z12
	VMOVUPS 64(R8), Z13
	MOVQ a+0(FP), R9
	MOVQ c+24(FP), R10
	MOVQ ldc+32(FP), R11
	SHLQ $2, R11
	MOVQ rows+40(FP), R12
	MOVQ lda+8(FP), CX
	MOVBLZX load+96(FP), R13

block:
	// TILEZERO tmm0; tmm1; tmm2; tmm3
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc0
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc8
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd0
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd8
	MOVQ R9, SI
	MOVQ CX, DI
	SHLQ $4, DI
	ADDQ R9, DI
	MOVQ b+16(FP), BX
	LEAQ 64(BX), DX
	MOVQ $128, AX
	MOVQ ksteps+48(FP), R8
	TESTQ R8, R8
	JZ stored
kloop:
	// TILELOADD tmm4, (SI)(CX*1)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x24; BYTE $0x0e
	// TILELOADD tmm5, (DI)(CX*1)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x2c; BYTE $0x0f
	// TILELOADD tmm6, (BX)(AX*1)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x34; BYTE $0x03
	// TILELOADD tmm7, (DX)(AX*1)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x3c; BYTE $0x02
	// TDPBUSD tmm0, tmm4, tmm6 (VEX.128.66.0F38.W0 5E: unsigned tmm4, signed tmm6)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x49; BYTE $0x5e; BYTE $0xc4
	// TDPBUSD tmm1, tmm4, tmm7
	BYTE $0xc4; BYTE $0xe2; BYTE $0x41; BYTE $0x5e; BYTE $0xcc
	// TDPBUSD tmm2, tmm5, tmm6
	BYTE $0xc4; BYTE $0xe2; BYTE $0x49; BYTE $0x5e; BYTE $0xd5
	// TDPBUSD tmm3, tmm5, tmm7
	BYTE $0xc4; BYTE $0xe2; BYTE $0x41; BYTE $0x5e; BYTE $0xdd
	// Prefetch B 8 KiB (four iterations) ahead, every line of it. For a
	// text query B streams from memory once and the loop is bound by the
	// latency of its loads; the prefetches keep more of them in flight:
	// 4.6 → 3.7 ms for a 16-token query on ViT-B/32's text tower (2 to 16
	// KiB ahead measured alike, 32 KiB worse). Past the end of the panel
	// they fetch the next panel, which the caller reads next.
	PREFETCHT0 8192(BX)
	PREFETCHT0 8256(BX)
	PREFETCHT0 8320(BX)
	PREFETCHT0 8384(BX)
	PREFETCHT0 8448(BX)
	PREFETCHT0 8512(BX)
	PREFETCHT0 8576(BX)
	PREFETCHT0 8640(BX)
	PREFETCHT0 8704(BX)
	PREFETCHT0 8768(BX)
	PREFETCHT0 8832(BX)
	PREFETCHT0 8896(BX)
	PREFETCHT0 8960(BX)
	PREFETCHT0 9024(BX)
	PREFETCHT0 9088(BX)
	PREFETCHT0 9152(BX)
	PREFETCHT0 9216(BX)
	PREFETCHT0 9280(BX)
	PREFETCHT0 9344(BX)
	PREFETCHT0 9408(BX)
	PREFETCHT0 9472(BX)
	PREFETCHT0 9536(BX)
	PREFETCHT0 9600(BX)
	PREFETCHT0 9664(BX)
	PREFETCHT0 9728(BX)
	PREFETCHT0 9792(BX)
	PREFETCHT0 9856(BX)
	PREFETCHT0 9920(BX)
	PREFETCHT0 9984(BX)
	PREFETCHT0 10048(BX)
	PREFETCHT0 10112(BX)
	PREFETCHT0 10176(BX)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $2048, BX
	ADDQ $2048, DX
	DECQ R8
	JNZ kloop

stored:
	MOVQ scratch+104(FP), SI
	LEAQ 64(SI), DI
	LEAQ 2048(SI), BX
	LEAQ 2112(SI), DX
	// TILESTORED (SI)(AX*1), tmm0
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x04; BYTE $0x06
	// TILESTORED (DI)(AX*1), tmm1
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x0c; BYTE $0x07
	// TILESTORED (BX)(AX*1), tmm2
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x14; BYTE $0x03
	// TILESTORED (DX)(AX*1), tmm3
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x1c; BYTE $0x02

	// Epilogue over min(32, rows) rows; BX walks ascale, DX is the bias.
	MOVQ R12, R8
	CMPQ R8, $32
	JLE epi
	MOVQ $32, R8
epi:
	MOVQ R10, DI
	MOVQ ascale+72(FP), BX
	MOVQ bias+80(FP), DX
eloop:
	VPADDD (SI), Z14, Z10
	VPADDD 64(SI), Z15, Z11
	VCVTDQ2PS Z10, Z10
	VCVTDQ2PS Z11, Z11
	VBROADCASTSS (BX), Z6
	VMULPS Z12, Z6, Z7
	VMULPS Z7, Z10, Z10
	VMULPS Z13, Z6, Z7
	VMULPS Z7, Z11, Z11
	TESTQ DX, DX
	JZ nobias
	VADDPS (DX), Z10, Z10
	VADDPS 64(DX), Z11, Z11
nobias:
	TESTQ R13, R13
	JZ activate
	VADDPS (DI), Z10, K1, Z10
	VADDPS 64(DI), Z11, K2, Z11
activate:
	CMPQ act+112(FP), $1
	JLT store
	JGT gelu
	VMOVAPS Z10, Z0
	QUICKGELU
	VMOVAPS Z0, Z10
	VMOVAPS Z11, Z0
	QUICKGELU
	VMOVAPS Z0, Z11
	JMP store
gelu:
	VMOVAPS Z10, Z0
	GELU
	VMOVAPS Z0, Z10
	VMOVAPS Z11, Z0
	GELU
	VMOVAPS Z0, Z11
store:
	VMOVUPS Z10, K1, (DI)
	VMOVUPS Z11, K2, 64(DI)
	ADDQ $128, SI
	ADDQ $4, BX
	ADDQ R11, DI
	DECQ R8
	JNZ eloop
	MOVQ BX, ascale+72(FP)

	MOVQ CX, R8
	SHLQ $5, R8
	ADDQ R8, R9
	MOVQ R11, R8
	SHLQ $5, R8
	ADDQ R8, R10
	SUBQ $32, R12
	JG block

	// TILERELEASE
	BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0xc0
	RESTOREMXCSR
	VZEROUPPER
	RET
