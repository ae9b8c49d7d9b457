// Package nn is xmodal's small tensor engine: the handful of kernels a
// transformer encoder needs (linear layers, LayerNorm, activations and
// attention) over plain row-major float32 slices.
//
// Batches are ragged: the rows of all sequences in a batch are stacked into
// one matrix, so that the row-wise layers (Linear, LayerNorm, activations) run
// as one large matrix product, and only Attention needs to know where each
// sequence starts and ends.
//
// # Kernels
//
// Every kernel has a portable Go implementation, which stays the reference.
// At start-up the package picks the fastest engine the CPU supports (see
// CPUFeatures) and never changes it:
//
//   - avx512: AVX-512 matrix micro-kernels (a 14×32 register tile, generated
//     by internal/asmgen into gemm_amd64.s) and vector exp, erfc, softmax,
//     LayerNorm, dot and axpy kernels (ops_amd64.s);
//   - avx2: a 6×16 AVX2/FMA matrix micro-kernel, other kernels portable;
//   - the portable Go engine everywhere else, or with the purego build tag.
//
// Linear packs its weights once, at construction, into the panel layout of
// the chosen micro-kernel; products are blocked for the caches and split
// across GOMAXPROCS goroutines by output columns, with the bias, activation
// and residual addition fused into the tile epilogue.
//
// # Precision
//
// Linear layers compute in float32 by default. SetPrecision(BF16) switches
// a layer to bfloat16 weights and activations with float32 accumulation,
// on AMX tiles where Linux grants them and with AVX512_BF16 otherwise; CPUs
// with neither keep float32 (ErrNoBF16).
//
// The vector kernels run with denormals flushed to zero (FTZ/DAZ, restored on
// return): a single denormal operand makes an x86 FMA about 100 times slower,
// and values below 1.2e-38 cannot matter to an embedding. The activations
// agree with float64 math to about 1.5e-7·max(1, |x|); GELU is the exact erf
// form, not the tanh approximation.
package nn
