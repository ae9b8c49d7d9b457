// Shared by ops_amd64.s and amx_amd64.s: constants and macros of the
// element-wise AVX-512 kernels. The DATA symbols are file-local (<>), so each
// including file gets its own copy.

#define F32(name, bits) DATA name<>+0(SB)/4, $bits; GLOBL name<>(SB), RODATA|NOPTR, $4

// exp: Cephes expf. Reduce x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two
// for accuracy), approximate e^r by a degree-7 polynomial, scale by 2^n with
// VSCALEFPS, which also handles underflow. About 1 ulp. Inputs are clamped
// to [-103.3, 88]: below, e^x is 0 in float32; the top is e^88 ≈ 1.65e38
// rather than the float32 limit 88.72 so that 1 + e^x stays finite for the
// reciprocals below (all callers pass x ≤ 0 or take a reciprocal).
F32(expLo, 0xc2ce8ed0)  // -103.27893
F32(expHi, 0x42b00000)  // 88
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
F32(zMax, 0x461c4000) // 1e4

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

// FLUSHDENORMALS saves MXCSR in the 8-byte frame and sets FTZ and DAZ,
// RESTOREMXCSR restores it: as in the matrix kernels (see internal/asmgen),
// denormals would cost a microcode assist per instruction, and tiny
// activations or attention weights flushed to zero change nothing that
// float32 can show downstream.
#define FLUSHDENORMALS \
	STMXCSR mxcsr-4(SP); \
	MOVL mxcsr-4(SP), R8; \
	MOVL R8, mxcsr-8(SP); \
	ORL $0x8040, R8; \
	MOVL R8, mxcsr-4(SP); \
	LDMXCSR mxcsr-4(SP)

#define RESTOREMXCSR LDMXCSR mxcsr-8(SP)

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

// RECIP sets d = 1/d for finite d ≥ 1: VRCP14PS (14 bits) and one
// Newton-Raphson step, r + r·(1 - d·r), good to about 1 ulp. A division
// would be exact but costs as much as the rest of the activation. Clobbers r.
#define RECIP(d, r) \
	VRCP14PS d, r; \
	VFNMADD213PS Z27, r, d; \
	VFMADD213PS r, r, d

// QUICKGELU sets Z0 = Z0·σ(1.702·Z0) = Z0 / (1 + e^(-1.702·Z0)), as the
// portable code computes it. Needs Z28 = -1.702.
#define QUICKGELU \
	VMOVAPS Z0, Z3; \
	VMULPS Z28, Z0, Z0; \
	EXP(Z0, Z1, Z2, Z4); \
	VADDPS Z27, Z0, Z0; \
	RECIP(Z0, Z1); \
	VMULPS Z0, Z3, Z0

// GELU sets Z0 = ½·Z0·(1 + erf(Z0/√2)). With z = |x|/√2, 1 + erf(x/√2) is
// erfc(z) for x < 0 and 2 - erfc(z) otherwise; computing erfc directly keeps
// the relative accuracy of the tiny results for negative x. z is capped at
// 1e4, where erfc is long 0, so that infinities stay out of the
// reciprocal. Needs Z28 = 2, Z29 = |·| mask, Z30 = 1/√2, Z31 = ½.
#define GELU \
	VMOVAPS Z0, Z3; \
	VANDPS Z29, Z0, Z5; \
	VMULPS Z30, Z5, Z5; \
	VMINPS.BCST zMax<>(SB), Z5, Z5; \
	VMULPS Z31, Z5, Z6; \
	VADDPS Z27, Z6, Z6; \
	RECIP(Z6, Z9); \
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

