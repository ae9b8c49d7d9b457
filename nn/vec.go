package nn

// Kernels for vector indexes: many dot products of one query with rows of
// a table that a graph walk visits in no particular order.
//
// Rows are stored as unsigned bytes (a signed int8 code plus 128, as
// QuantizeRow writes them) and the query as signed bytes, because
// VPDPBUSD multiplies unsigned by signed: the offset then adds 128·Σq to
// every dot product, the same for all rows of one query, which the caller
// subtracts once (or ignores when only the order matters).

// QuantizeRow writes round(x/s)+128 to dst (len(x) bytes) and returns the
// scale s = max|x|/127: x[k] ≈ s·(dst[k]−128). A zero row gives scale 0.
func QuantizeRow(dst []uint8, x []float32) float32 {
	return native.quant(dst[:len(x)], x)
}

// DotsU8S8 sets out[i] to Σₖ base[ids[i]·stride+k]·q[k] over k < len(q),
// for every i < len(ids). Every row must lie inside base.
func DotsU8S8(q []int8, base []uint8, stride int, ids []uint32, out []int32) {
	if len(ids) == 0 {
		return
	}
	out = out[:len(ids)]
	n := len(q)
	for _, id := range ids {
		_ = base[int(id)*stride+n-1]
	}
	native.dotsU8S8(q, base, stride, ids, out)
}

func dotsU8S8Go(q []int8, base []uint8, stride int, ids []uint32, out []int32) {
	for i, id := range ids {
		row := base[int(id)*stride:][:len(q)]
		var s0, s1, s2, s3 int32
		k := 0
		for ; k+4 <= len(q); k += 4 {
			s0 += int32(row[k]) * int32(q[k])
			s1 += int32(row[k+1]) * int32(q[k+1])
			s2 += int32(row[k+2]) * int32(q[k+2])
			s3 += int32(row[k+3]) * int32(q[k+3])
		}
		for ; k < len(q); k++ {
			s0 += int32(row[k]) * int32(q[k])
		}
		out[i] = s0 + s1 + s2 + s3
	}
}
