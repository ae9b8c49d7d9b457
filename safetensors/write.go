package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/xmodal/xmodal/internal/atomicfile"
)

// Write encodes tensors (Data already little-endian in their DType) as a
// safetensors file, in name order, with the header padded to 8 bytes so
// that every tensor stays aligned once mapped.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	sorted := append([]Tensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, t := range sorted {
		if want := t.Len() * t.DType.Size(); len(t.Data) != want {
			return fmt.Errorf("tensor %s: %d bytes, want %d for %s%v", t.Name, len(t.Data), want, t.DType, t.Shape)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = map[string]any{
			"dtype":        t.DType,
			"shape":        shape,
			"data_offsets": [2]int64{off, off + int64(len(t.Data))},
		}
		off += int64(len(t.Data))
	}
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	bw := bufio.NewWriter(w)
	binary.Write(bw, binary.LittleEndian, uint64(len(h)))
	bw.Write(h)
	for _, t := range sorted {
		bw.Write(t.Data)
	}
	return bw.Flush()
}

// WriteFile writes tensors to path atomically: a temporary file renamed into
// place once complete, so a crash never leaves a half-written checkpoint.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return Write(w, tensors, metadata)
	})
}

// FromFloat32 encodes values as a tensor of dtype F32, F16 or BF16 (BF16
// rounds to nearest even).
func FromFloat32(name string, dtype DType, shape []int, values []float32) Tensor {
	t := Tensor{Name: name, DType: dtype, Shape: shape, Data: make([]byte, len(values)*dtype.Size())}
	for i, v := range values {
		switch dtype {
		case F32:
			binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(v))
		case F16:
			binary.LittleEndian.PutUint16(t.Data[2*i:], Float32ToHalf(v))
		case BF16:
			binary.LittleEndian.PutUint16(t.Data[2*i:], Float32ToBF16(v))
		default:
			panic("safetensors: FromFloat32 with dtype " + string(dtype))
		}
	}
	return t
}

// Float32ToBF16 rounds f to bfloat16, to nearest even.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // keep NaN a NaN
	}
	return uint16((b + 0x7fff + (b >> 16 & 1)) >> 16)
}
