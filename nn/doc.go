// Package nn is xmodal's small tensor engine: the handful of kernels a
// transformer encoder needs (linear layers, LayerNorm, activations and
// attention) over plain row-major float32 slices.
//
// Every kernel has a portable Go implementation. Faster CPU-specific kernels
// may replace the hot loops at run time; the tests compare them against the
// portable code, which stays the reference.
//
// Batches are ragged: the rows of all sequences in a batch are stacked into
// one matrix, so that the row-wise layers (Linear, LayerNorm, activations) run
// as one large matrix product, and only Attention needs to know where each
// sequence starts and ends.
package nn
