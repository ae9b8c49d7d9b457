// Package safetensors reads and writes the safetensors weights format: an
// 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian tensor data.
//
// Files are memory-mapped, so opening a multi-gigabyte checkpoint costs
// nothing until its tensors are used, and F32 tensors are used in place
// without a copy.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"unsafe"

	"github.com/xmodal/xmodal/internal/mmap"
)

// DType is a tensor element type as the header spells it ("F32", "F16"...).
type DType string

// The element types xmodal reads as float32, and the integer types that
// checkpoints carry alongside (position_ids buffers).
const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	F64  DType = "F64"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size is the number of bytes of one element, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// Tensor is one named tensor of a file. Its Data aliases the file's memory
// map and is valid until the file is closed.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte

	file string // path of the file that holds it
}

// Len is the number of elements, the product of the shape (1 for a scalar).
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32 returns the tensor's values as float32. F32 data that is suitably
// aligned is returned in place (read-only memory: do not write to it); F16,
// BF16 and F64 are converted into a new slice.
func (t *Tensor) Float32() ([]float32, error) {
	n := t.Len()
	switch t.DType {
	case F32:
		if n == 0 {
			return []float32{}, nil
		}
		if uintptr(unsafe.Pointer(&t.Data[0]))%4 == 0 {
			return unsafe.Slice((*float32)(unsafe.Pointer(&t.Data[0])), n), nil
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return out, nil
	case F16:
		out := make([]float32, n)
		for i := range out {
			out[i] = HalfToFloat32(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
		return out, nil
	case BF16:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(t.Data[2*i:])) << 16)
		}
		return out, nil
	case F64:
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %s: dtype %s is not a float type", t.Name, t.DType)
}

// HalfToFloat32 converts an IEEE 754 binary16 value to float32 exactly.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: normalise the mantissa into a float32 normal.
	e := uint32(113)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// Float32ToHalf converts f to binary16, rounding to nearest even.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff > 0x7f800000: // NaN
		return sign | 0x7e00
	case exp >= 0x1f: // overflow to Inf
		return sign | 0x7c00
	case exp <= 0: // subnormal or zero
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		if rem := mant & (1<<shift - 1); rem > half || rem == half && r&1 == 1 {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(exp)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || rem == 0x1000 && r&1 == 1 {
		r++ // may carry into the exponent, which is the right result
	}
	return sign | uint16(r)
}

// File is an open safetensors file.
type File struct {
	path     string
	data     []byte
	unmap    func() error
	tensors  map[string]*Tensor
	metadata map[string]string
}

// maxHeader bounds the JSON header so that a corrupt length cannot make us
// parse gigabytes; real headers are well under a megabyte.
const maxHeader = 100 << 20

// Open memory-maps the file at path and parses its header.
func Open(path string) (*File, error) {
	data, unmap, err := mmap.File(path)
	if err != nil {
		return nil, err
	}
	f, err := parse(path, data)
	if err != nil {
		unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

func parse(path string, data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%s: too short for a safetensors file (%d bytes)", path, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > maxHeader || n > uint64(len(data)-8) {
		return nil, fmt.Errorf("%s: header length %d does not fit the file (%d bytes)", path, n, len(data))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &header); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	body := data[8+n:]
	f := &File{path: path, data: data, tensors: make(map[string]*Tensor, len(header))}
	for name, raw := range header {
		if name == "__metadata__" {
			if err := json.Unmarshal(raw, &f.metadata); err != nil {
				return nil, fmt.Errorf("%s: __metadata__: %w", path, err)
			}
			continue
		}
		var h struct {
			DType   DType    `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %w", path, name, err)
		}
		t := &Tensor{Name: name, DType: h.DType, Shape: h.Shape}
		if h.DType.Size() == 0 {
			return nil, fmt.Errorf("%s: tensor %s: unknown dtype %q", path, name, h.DType)
		}
		// The element count must fit the data, so it is far below any
		// overflow: refuse shapes whose product passes the file's size.
		count := int64(1)
		for _, d := range h.Shape {
			if d < 0 {
				return nil, fmt.Errorf("%s: tensor %s: negative dimension in shape %v", path, name, h.Shape)
			}
			if d > 0 && count > int64(len(data))/int64(d) {
				return nil, fmt.Errorf("%s: tensor %s: shape %v holds more elements than the file has bytes", path, name, h.Shape)
			}
			count *= int64(d)
		}
		begin, end := h.Offsets[0], h.Offsets[1]
		if begin < 0 || end < begin || end > int64(len(body)) {
			return nil, fmt.Errorf("%s: tensor %s: data offsets [%d, %d] outside the %d data bytes", path, name, begin, end, len(body))
		}
		if want := int64(t.Len()) * int64(h.DType.Size()); end-begin != want {
			return nil, fmt.Errorf("%s: tensor %s: %d data bytes, want %d for %s%v", path, name, end-begin, want, h.DType, h.Shape)
		}
		t.Data = body[begin:end:end]
		f.tensors[name] = t
	}
	return f, nil
}

// Close unmaps the file. Tensors and float32 slices that alias it must not be
// used afterwards.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.data = nil, nil
	return err
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Metadata is the header's free-form __metadata__ map.
func (f *File) Metadata() map[string]string { return f.metadata }

// Names lists the tensors in sorted order.
func (f *File) Names() []string { return slices.Sorted(maps.Keys(f.tensors)) }

// Tensor returns the named tensor.
func (f *File) Tensor(name string) (*Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// ShapeString formats a shape as PyTorch prints it, [768, 3, 32, 32].
func ShapeString(shape []int) string {
	return fmt.Sprint(slices.Clip(shape))
}
