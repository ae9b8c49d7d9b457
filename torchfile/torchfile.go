// Package torchfile reads PyTorch checkpoints, the files torch.save
// writes, without Python: the zip container of torch 1.6 and later, and
// the legacy container before it, as Python 3 or Python 2 (the era of the
// published VSE++ runs) wrote it.
//
// Reading runs no code from the file (see package pickle): tensors,
// dicts, lists and plain objects such as argparse.Namespace come back as
// Go values; a class the caller does not allow is an error naming it.
package torchfile

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strings"

	"github.com/xmodal/xmodal/pickle"
)

// Tensor is a tensor of a checkpoint, a view of its storage.
type Tensor struct {
	DType  DType
	Shape  []int
	Stride []int // in elements
	Offset int   // in elements
	data   *[]byte
}

// Len is the number of elements.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// DType is an element type.
type DType string

// The element types of torch's storages.
const (
	Float32  DType = "float32"
	Float64  DType = "float64"
	Float16  DType = "float16"
	BFloat16 DType = "bfloat16"
	Int64    DType = "int64"
	Int32    DType = "int32"
	Int16    DType = "int16"
	Int8     DType = "int8"
	Uint8    DType = "uint8"
	Bool     DType = "bool"
)

// Size is the bytes of one element.
func (d DType) Size() int {
	switch d {
	case Float64, Int64:
		return 8
	case Float32, Int32:
		return 4
	case Float16, BFloat16, Int16:
		return 2
	}
	return 1
}

// storageTypes maps torch's storage classes to their element types.
var storageTypes = map[string]DType{
	"FloatStorage": Float32, "DoubleStorage": Float64, "HalfStorage": Float16, "BFloat16Storage": BFloat16,
	"LongStorage": Int64, "IntStorage": Int32, "ShortStorage": Int16, "CharStorage": Int8,
	"ByteStorage": Uint8, "BoolStorage": Bool,
}

// storage is a loaded (or, in the legacy container, soon loaded) storage.
type storage struct {
	dtype DType
	numel int
	data  []byte
}

// Options adjust Load.
type Options struct {
	// Classes may be instantiated as *pickle.Object (argparse.Namespace
	// always may).
	Classes []string
}

// Load reads the checkpoint at path.
func Load(path string, opts Options) (any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := Read(data, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// Read reads a checkpoint held in memory.
func Read(data []byte, opts Options) (any, error) {
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return readZip(data, opts)
	}
	return readLegacy(data, opts)
}

func unpickler(opts Options, load func(pid any) (any, error)) *pickle.Unpickler {
	classes := map[string]bool{"argparse.Namespace": true}
	for _, c := range opts.Classes {
		classes[c] = true
	}
	return &pickle.Unpickler{
		Classes:        classes,
		PersistentLoad: load,
		Globals: map[string]func(pickle.Tuple) (any, error){
			"torch._utils._rebuild_tensor_v2": rebuildTensor,
			"torch._utils._rebuild_tensor":    rebuildTensor,
			"torch._utils._rebuild_parameter": func(args pickle.Tuple) (any, error) {
				if len(args) < 1 {
					return nil, errors.New("_rebuild_parameter without data")
				}
				return args[0], nil
			},
			"collections.OrderedDict": orderedDict,
		},
	}
}

// orderedDict is collections.OrderedDict(), or OrderedDict(pairs) as
// Python 2 pickled it.
func orderedDict(args pickle.Tuple) (any, error) {
	d := &pickle.Dict{}
	if len(args) == 0 {
		return d, nil
	}
	pairs, ok := args[0].(*pickle.List)
	if !ok {
		return nil, fmt.Errorf("OrderedDict of %T", args[0])
	}
	for _, p := range pairs.Items {
		var kv []any
		switch p := p.(type) {
		case *pickle.List:
			kv = p.Items
		case pickle.Tuple:
			kv = p
		}
		if len(kv) != 2 {
			return nil, errors.New("OrderedDict item is not a pair")
		}
		d.Keys, d.Values = append(d.Keys, kv[0]), append(d.Values, kv[1])
	}
	return d, nil
}

// rebuildTensor is torch._utils._rebuild_tensor(_v2): (storage, offset,
// size, stride, ...).
func rebuildTensor(args pickle.Tuple) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor with %d arguments", len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("tensor of %T, not a storage", args[0])
	}
	offset, ok := args[1].(int64)
	shape, err1 := ints(args[2])
	stride, err2 := ints(args[3])
	if !ok || err1 != nil || err2 != nil || len(shape) != len(stride) || offset < 0 {
		return nil, errors.New("bad tensor geometry")
	}
	t := &Tensor{DType: st.dtype, Shape: shape, Stride: stride, Offset: int(offset), data: &st.data}
	// A checkpoint's tensors do not overlap themselves, so they have no
	// more elements than their storage (an expanded tensor, with stride 0,
	// would; none is saved that way). This also bounds Len.
	count := int64(1)
	for _, d := range shape {
		if count *= int64(d); count > int64(st.numel) {
			return nil, fmt.Errorf("tensor of shape %v has more elements than its storage of %d", shape, st.numel)
		}
	}
	// The furthest element must lie within the storage.
	last := t.Offset
	for i, d := range shape {
		if d < 0 || stride[i] < 0 {
			return nil, errors.New("bad tensor geometry")
		}
		if d == 0 {
			return t, nil
		}
		last += (d - 1) * stride[i]
	}
	if last >= st.numel {
		return nil, fmt.Errorf("tensor of shape %v reaches element %d of a storage of %d", shape, last, st.numel)
	}
	return t, nil
}

func ints(v any) ([]int, error) {
	var items []any
	switch v := v.(type) {
	case pickle.Tuple:
		items = v
	case *pickle.List:
		items = v.Items
	default:
		return nil, fmt.Errorf("%T is not a size", v)
	}
	out := make([]int, len(items))
	for i, it := range items {
		n, ok := it.(int64)
		if !ok || n < 0 || n > math.MaxInt32*64 {
			return nil, fmt.Errorf("bad dimension %v", it)
		}
		out[i] = int(n)
	}
	return out, nil
}

// storagePID reads a persistent id ('storage', StorageClass, key,
// location, numel, ...).
func storagePID(pid any) (dtype DType, key string, numel int, err error) {
	t, ok := pid.(pickle.Tuple)
	if !ok || len(t) < 5 {
		return "", "", 0, fmt.Errorf("persistent id %v is not a storage", pid)
	}
	if s, _ := t[0].(string); s != "storage" {
		return "", "", 0, fmt.Errorf("persistent id of kind %v", t[0])
	}
	cls, ok := t[1].(pickle.Global)
	if !ok || (cls.Module != "torch" && cls.Module != "torch.cuda") {
		return "", "", 0, fmt.Errorf("storage class %v", t[1])
	}
	dtype, ok = storageTypes[cls.Name]
	if !ok {
		return "", "", 0, fmt.Errorf("storage class %s is not supported", cls)
	}
	key, _ = t[2].(string)
	n, ok := t[4].(int64)
	if key == "" || !ok || n < 0 || n > 1<<40 {
		return "", "", 0, fmt.Errorf("bad storage %v", pid)
	}
	return dtype, key, int(n), nil
}

func readZip(data []byte, opts Options) (any, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	files := map[string]*zip.File{}
	prefix := ""
	for _, f := range zr.File {
		files[f.Name] = f
		if strings.HasSuffix(f.Name, "/data.pkl") && strings.Count(f.Name, "/") == 1 {
			prefix = strings.TrimSuffix(f.Name, "data.pkl")
		}
	}
	if prefix == "" {
		return nil, errors.New("a zip file without data.pkl: not a PyTorch checkpoint")
	}
	read := func(name string) ([]byte, error) {
		f, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("%s is missing", name)
		}
		if f.UncompressedSize64 > 1<<40 {
			return nil, fmt.Errorf("%s is too large", name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	loaded := map[string]*storage{}
	u := unpickler(opts, func(pid any) (any, error) {
		dtype, key, numel, err := storagePID(pid)
		if err != nil {
			return nil, err
		}
		if s, ok := loaded[key]; ok {
			return s, nil
		}
		b, err := read(prefix + "data/" + key)
		if err != nil {
			return nil, err
		}
		if len(b) != numel*dtype.Size() {
			return nil, fmt.Errorf("storage %s holds %d bytes, want %d", key, len(b), numel*dtype.Size())
		}
		s := &storage{dtype: dtype, numel: numel, data: b}
		loaded[key] = s
		return s, nil
	})
	pkl, err := read(prefix + "data.pkl")
	if err != nil {
		return nil, err
	}
	return u.Load(pkl)
}

// legacyMagic starts a legacy checkpoint.
var legacyMagic = mustBig("0x1950a86a20f9469cfc6c")

func mustBig(s string) *big.Int {
	v, _ := new(big.Int).SetString(s, 0)
	return v
}

func readLegacy(data []byte, opts Options) (any, error) {
	src := bytes.NewReader(data)
	r := bufio.NewReader(src)
	plain := unpickler(opts, nil)
	magic, err := plain.Unpickle(r)
	if err != nil {
		return nil, fmt.Errorf("not a PyTorch checkpoint (neither zip nor legacy): %w", err)
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, errors.New("not a PyTorch checkpoint: wrong magic number")
	}
	if proto, err := plain.Unpickle(r); err != nil || proto != int64(1001) {
		return nil, fmt.Errorf("legacy protocol %v, want 1001 (%v)", proto, err)
	}
	info, err := plain.Unpickle(r)
	if err != nil {
		return nil, fmt.Errorf("sys_info: %w", err)
	}
	if d, ok := info.(*pickle.Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le != true {
			return nil, errors.New("a big-endian checkpoint")
		}
	}
	// Storages come after the object: the tensors point at placeholders
	// that are filled below.
	pending := map[string]*storage{}
	u := unpickler(opts, func(pid any) (any, error) {
		dtype, key, numel, err := storagePID(pid)
		if err != nil {
			return nil, err
		}
		if t := pid.(pickle.Tuple); len(t) > 5 && t[5] != nil {
			return nil, errors.New("storage views are not supported")
		}
		if s, ok := pending[key]; ok {
			return s, nil
		}
		s := &storage{dtype: dtype, numel: numel}
		pending[key] = s
		return s, nil
	})
	obj, err := u.Unpickle(r)
	if err != nil {
		return nil, err
	}
	keys, err := plain.Unpickle(r)
	if err != nil {
		return nil, fmt.Errorf("storage keys: %w", err)
	}
	list, ok := keys.(*pickle.List)
	if !ok {
		return nil, fmt.Errorf("storage keys are a %T", keys)
	}
	for _, k := range list.Items {
		key, _ := k.(string)
		s, ok := pending[key]
		if !ok {
			return nil, fmt.Errorf("storage %q is not used", key)
		}
		var n int64
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("storage %s: %w", key, err)
		}
		if int(n) != s.numel {
			return nil, fmt.Errorf("storage %s holds %d elements, want %d", key, n, s.numel)
		}
		if left := int64(r.Buffered()) + int64(src.Len()); int64(s.numel)*int64(s.dtype.Size()) > left {
			return nil, fmt.Errorf("storage %s: %d elements, and the file ends %d bytes later", key, s.numel, left)
		}
		s.data = make([]byte, s.numel*s.dtype.Size())
		if _, err := io.ReadFull(r, s.data); err != nil {
			return nil, fmt.Errorf("storage %s: %w", key, err)
		}
	}
	for key, s := range pending {
		if s.data == nil && s.numel > 0 {
			return nil, fmt.Errorf("storage %s has no data", key)
		}
	}
	return obj, nil
}

// Float32 returns the tensor's values in row-major order, converted to
// float32.
func (t *Tensor) Float32() ([]float32, error) {
	out := make([]float32, 0, t.Len())
	err := t.each(func(b []byte) {
		out = append(out, float32(decode(t.DType, b)))
	})
	return out, err
}

// Float64 returns the tensor's values in row-major order, as float64.
func (t *Tensor) Float64() ([]float64, error) {
	out := make([]float64, 0, t.Len())
	err := t.each(func(b []byte) { out = append(out, decode(t.DType, b)) })
	return out, err
}

// each visits the elements in row-major order.
func (t *Tensor) each(fn func([]byte)) error {
	if t.data == nil || *t.data == nil {
		return errors.New("tensor without data")
	}
	data, size := *t.data, t.DType.Size()
	idx := make([]int, len(t.Shape))
	for n := t.Len(); n > 0; n-- {
		off := t.Offset
		for i, v := range idx {
			off += v * t.Stride[i]
		}
		fn(data[off*size : (off+1)*size])
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < t.Shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return nil
}

func decode(d DType, b []byte) float64 {
	switch d {
	case Float32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case Float64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case Float16:
		return float64(halfToFloat(binary.LittleEndian.Uint16(b)))
	case BFloat16:
		return float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16))
	case Int64:
		return float64(int64(binary.LittleEndian.Uint64(b)))
	case Int32:
		return float64(int32(binary.LittleEndian.Uint32(b)))
	case Int16:
		return float64(int16(binary.LittleEndian.Uint16(b)))
	case Int8:
		return float64(int8(b[0]))
	}
	return float64(b[0])
}

// halfToFloat widens an IEEE binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		v := float32(frac) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
