//go:build amd64 && !purego

#include "textflag.h"

// func dotsU8S8VNNIx(q *int8, n int, base *uint8, stride int, ids *uint32, m int, out *int32)
// For each of the m rows named by ids, out[i] = Σₖ base[ids[i]·stride+k]·q[k]
// over n bytes, unsigned by signed, with VPDPBUSD 64 bytes at a time and
// the last n mod 64 through the byte mask K1. While one row is summed the
// next one is prefetched, since rows come in graph order, not memory order.
TEXT ·dotsU8S8VNNIx(SB), NOSPLIT, $0-56
	MOVQ q+0(FP), DI
	MOVQ n+8(FP), R9
	MOVQ base+16(FP), R12
	MOVQ stride+24(FP), R13
	MOVQ ids+32(FP), R14
	MOVQ m+40(FP), R15
	MOVQ out+48(FP), R8
	// K1 = low (n mod 64) bits.
	MOVQ R9, CX
	ANDQ $63, CX
	MOVQ $1, R11
	SHLQ CX, R11
	DECQ R11
	KMOVQ R11, K1
	TESTQ R15, R15
	JZ done
	// Prefetch the first row.
	MOVL (R14), AX
	IMULQ R13, AX
	PREFETCHT0 (R12)(AX*1)
row:
	MOVL (R14), AX
	IMULQ R13, AX
	LEAQ (R12)(AX*1), SI
	// Prefetch the next row's first 256 bytes.
	CMPQ R15, $1
	JEQ noprefetch
	MOVL 4(R14), AX
	IMULQ R13, AX
	LEAQ (R12)(AX*1), BX
	PREFETCHT0 (BX)
	PREFETCHT0 64(BX)
	PREFETCHT0 128(BX)
	PREFETCHT0 192(BX)
noprefetch:
	MOVQ DI, DX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	MOVQ R9, R10
	SHRQ $7, R10
	JZ step64
loop128:
	VMOVDQU8 (SI), Z4
	VMOVDQU8 64(SI), Z5
	VPDPBUSD (DX), Z4, Z0
	VPDPBUSD 64(DX), Z5, Z1
	ADDQ $128, SI
	ADDQ $128, DX
	DECQ R10
	JNZ loop128
step64:
	BTQ $6, R9
	JCC tail
	VMOVDQU8 (SI), Z4
	VPDPBUSD (DX), Z4, Z0
	ADDQ $64, SI
	ADDQ $64, DX
tail:
	KORTESTQ K1, K1
	JZ sum
	VMOVDQU8.Z (SI), K1, Z4
	VMOVDQU8.Z (DX), K1, Z5
	VPDPBUSD Z5, Z4, Z1
sum:
	VPADDD Z1, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPADDD Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VPADDD X1, X0, X0
	VMOVD X0, (R8)
	ADDQ $4, R14
	ADDQ $4, R8
	DECQ R15
	JNZ row
done:
	VZEROUPPER
	RET
