package safetensors

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

const fixtures = "../testdata/clip"

func TestOpenFixtures(t *testing.T) {
	tests := []struct {
		dir   string
		dtype DType
	}{
		{"model-a", F32},
		{"model-b-gelu", F16},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			s, err := OpenDir(filepath.Join(fixtures, tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			w, ok := s.Tensor("vision_model.embeddings.patch_embedding.weight")
			if !ok || w.DType != tc.dtype {
				t.Fatalf("patch embedding: %v %+v", ok, w)
			}
			v, err := s.Float32("vision_model.embeddings.patch_embedding.weight", 64, 3, 32, 32)
			if err != nil || len(v) != 64*3*32*32 {
				t.Fatalf("Float32: %v, %d values", err, len(v))
			}
			if _, err := s.Float32("logit_scale", 1); err != nil {
				t.Errorf("scalar logit_scale: %v", err)
			}
			pos, ok := s.Tensor("text_model.embeddings.position_ids")
			if !ok || pos.DType != I64 || pos.Len() != 77 {
				t.Errorf("position_ids: %+v", pos)
			}
			if _, err := pos.Float32(); err == nil {
				t.Error("I64 tensor converted to float32 without error")
			}
		})
	}
}

func TestShapeErrorsNameTheTensor(t *testing.T) {
	s, err := OpenDir(filepath.Join(fixtures, "model-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Float32("text_projection.weight", 40, 48)
	if err == nil || !strings.Contains(err.Error(), "text_projection.weight") || !strings.Contains(err.Error(), "[48 40]") || !strings.Contains(err.Error(), "[40 48]") {
		t.Errorf("wrong-shape error = %v", err)
	}
	_, err = s.Float32("no.such.tensor", 3)
	if err == nil || !strings.Contains(err.Error(), "no.such.tensor") {
		t.Errorf("missing-tensor error = %v", err)
	}
}

func TestRoundTripAndShards(t *testing.T) {
	dir := t.TempDir()
	values := []float32{0, 1, -2.5, 65504, 1e-3, float32(math.Pi)}
	for _, dtype := range []DType{F32, F16, BF16} {
		a := FromFloat32("a."+string(dtype), dtype, []int{2, 3}, values)
		b := FromFloat32("b."+string(dtype), dtype, []int{}, []float32{7})
		if err := WriteFile(filepath.Join(dir, "shard-"+string(dtype)+".safetensors"), []Tensor{a, b}, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
	}
	weightMap := map[string]string{}
	for _, dtype := range []DType{F32, F16, BF16} {
		weightMap["a."+string(dtype)] = "shard-" + string(dtype) + ".safetensors"
		weightMap["b."+string(dtype)] = "shard-" + string(dtype) + ".safetensors"
	}
	idx, _ := json.Marshal(map[string]any{"weight_map": weightMap})
	os.WriteFile(filepath.Join(dir, IndexFile), idx, 0o644)

	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Files()) != 3 {
		t.Errorf("files = %v", s.Files())
	}
	for _, dtype := range []DType{F32, F16, BF16} {
		got, err := s.Float32("a."+string(dtype), 2, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			tol := map[DType]float64{F32: 0, F16: 1e-3, BF16: 8e-3}[dtype]
			if d := math.Abs(float64(got[i] - v)); d > tol*math.Max(1, math.Abs(float64(v))) {
				t.Errorf("%s[%d] = %v, want %v", dtype, i, got[i], v)
			}
		}
		if b, err := s.Float32("b." + string(dtype)); err != nil || b[0] != 7 {
			t.Errorf("scalar %s = %v, %v", dtype, b, err)
		}
	}
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	good := FromFloat32("x", F32, []int{4}, []float32{1, 2, 3, 4})
	path := filepath.Join(dir, "good.safetensors")
	if err := WriteFile(path, []Tensor{good}, nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	cases := map[string][]byte{
		"empty":          {},
		"short":          data[:5],
		"truncated data": data[:len(data)-3],
		"huge header":    append([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, data[8:]...),
		"bad json":       append(append([]byte{}, data[:8]...), []byte(strings.Repeat("{", len(data)-8))...),
	}
	for name, b := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, b, 0o644)
		if f, err := Open(p); err == nil {
			f.Close()
			t.Errorf("%s: opened without error", name)
		} else if !strings.Contains(err.Error(), p) && name != "empty" {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
}

func TestHalfConversionExhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := HalfToFloat32(uint16(h))
		if f != f { // NaN
			continue
		}
		if back := Float32ToHalf(f); back != uint16(h) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, f, back)
		}
	}
	tests := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00}, {5.960464477539063e-08, 0x0001},
		{1 + 1.0/2048, 0x3c00}, // halfway rounds to even
		{1 + 3.0/2048, 0x3c02},
	}
	for _, tc := range tests {
		if got := Float32ToHalf(tc.in); got != tc.want {
			t.Errorf("Float32ToHalf(%v) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	if got := Float32ToBF16(1 + 1.0/256); got != 0x3f80 {
		t.Errorf("BF16 half-way = %#04x, want 0x3f80", got)
	}
}

func TestOpenFS(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtures, "model-b-gelu", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{"m/model.safetensors": {Data: data}}
	s, err := OpenFS(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Float32("visual_projection.weight", 48, 64); err != nil || len(v) != 48*64 {
		t.Errorf("Float32: %v", err)
	}
	if _, err := OpenFS(fsys, "missing"); err == nil || !strings.Contains(err.Error(), "no model.safetensors") {
		t.Errorf("empty folder: %v", err)
	}
}
