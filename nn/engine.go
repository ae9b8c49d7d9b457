package nn

// engine is one set of kernels: the portable Go ones, or those for a CPU
// feature level. The package picks one at start-up (native) and never
// changes it; tests run the portable engine side by side to check the fast
// one.
type engine struct {
	name string
	kern *gemmKernel
	bf16 *gemmKernel // bf16-pair kernel, or nil if the CPU has none
	i8   *i8Kernel   // int8 kernel, or nil if the CPU has none
	// amx, if not nil, replaces gemm with bf16 for Linear layers in BF16;
	// it wants B packed by packWeightsBF16 with steps a multiple of
	// amxSteps.
	amx func(e *engine, m, n, k int, a []float32, lda int, b *packedB, bias, c []float32, ldc int, act Act, accumulate bool)
	// amxI8, if not nil, replaces gemmI8 for Int8 layers with In > 0; it
	// wants B packed by packWeightsI8 with nr = 32.
	amxI8 func(e *engine, m, n, k int, a []float32, lda int, b *packedI8, bias, c []float32, ldc int, act Act, accumulate bool)
	// The element-wise kernels, each the portable Go function or a vector
	// version of it. actTile applies an activation in place to rows×cols
	// values of c (row stride ldc); softmax is softmaxGo.
	actTile  func(c []float32, ldc, rows, cols int, act Act)
	softmax  func(x []float32, ld, rows, n int, scale float32, causal bool)
	sum64    func(x []float32) float64               // Σx in float64
	sqDev64  func(x []float32, mean float64) float64 // Σ(x-mean)² in float64
	normRow  func(dst, x, gamma, beta []float32, mean, inv float32)
	dot      func(a, b []float32) float32
	axpy     func(y, x []float32, a float32)
	maxInto  func(y, x []float32)                   // maxIntoGo: y[i] = x[i] where x[i] > y[i]
	quant    func(dst []uint8, x []float32) float32 // quantRowGo, per-row int8 quantisation
	dotsU8S8 func(q []int8, base []uint8, stride int, ids []uint32, out []int32)
	features string // what CPUFeatures reports
}

// portable is the reference engine: plain Go, on every platform.
var portable = &engine{
	name:     "go",
	kern:     goKernel,
	actTile:  actTileGo,
	softmax:  softmaxGo,
	sum64:    sum64Go,
	sqDev64:  sqDev64Go,
	normRow:  normRowGo,
	dot:      dotGo,
	axpy:     axpyGo,
	maxInto:  maxIntoGo,
	quant:    quantRowGo,
	dotsU8S8: dotsU8S8Go,
	features: "portable; kernels f32: go, bf16: none, int8: none",
}

// native is the engine for this CPU, chosen once at start-up.
var native = detectEngine()

// CPUFeatures describes the CPU features the package detected and the
// kernels it uses, e.g. "avx2 fma avx512f avx512_bf16 amx; kernels f32:
// avx512, bf16: amx". The amx feature is listed only if the OS granted the
// tile state.
func CPUFeatures() string {
	return native.features
}

func actTileGo(c []float32, ldc, rows, cols int, act Act) {
	for i := 0; i < rows; i++ {
		activateGo(c[i*ldc:i*ldc+cols], act)
	}
}
