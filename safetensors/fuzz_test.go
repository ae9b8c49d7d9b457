package safetensors

import (
	"bytes"
	"encoding/binary"
	"math/big"
	"os"
	"testing"
)

// FuzzParse feeds the header parser arbitrary files: it must refuse what
// is inconsistent, and every tensor it accepts must lie within the data
// with the size its dtype and shape say.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("../testdata/clip/model-a/model.safetensors"); err == nil {
		f.Add(data[:min(len(data), 4096)])
	}
	var buf bytes.Buffer
	Write(&buf, []Tensor{{Name: "w", DType: F32, Shape: []int{2, 3}, Data: make([]byte, 24)}}, map[string]string{"format": "pt"})
	f.Add(buf.Bytes())
	header := []byte(`{"a":{"dtype":"F16","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`)
	f.Add(append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header...))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parse("fuzz", data)
		if err != nil {
			return
		}
		for _, name := range file.Names() {
			tensor, _ := file.Tensor(name)
			// The shape's product, without overflow, equals the data.
			n := new(big.Int).SetInt64(1)
			for _, d := range tensor.Shape {
				n.Mul(n, big.NewInt(int64(d)))
			}
			if n.Cmp(big.NewInt(int64(len(tensor.Data)/tensor.DType.Size()))) != 0 || len(tensor.Data) != tensor.Len()*tensor.DType.Size() {
				t.Fatalf("tensor %s: %d bytes for %s%v", name, len(tensor.Data), tensor.DType, tensor.Shape)
			}
			if tensor.Len() < 1<<16 {
				if v, err := tensor.Float32(); err == nil && len(v) != tensor.Len() {
					t.Fatalf("tensor %s: %d values, want %d", name, len(v), tensor.Len())
				}
			}
		}
	})
}
