package mmap

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Float32s views b as little-endian float32 values without copying, on a
// little-endian machine whose b is 4-byte aligned (a mapping always is);
// otherwise it decodes a copy.
func Float32s(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of float32 values", len(b))
	}
	if len(b) == 0 {
		return nil, nil
	}
	if littleEndian() && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4), nil
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		bits := binary.LittleEndian.Uint32(b[4*i:])
		out[i] = *(*float32)(unsafe.Pointer(&bits))
	}
	return out, nil
}

func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}
