package index

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestGraphFileRoundTrip(t *testing.T) {
	const n, dim, k = 3000, 24, 10
	base, queries, _, _ := testSet(11, n, 50, dim)
	g := buildGraph(t, base, dim, 2)
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	h, err := ReadGraph(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if h.Len() != n || h.Dim() != dim || h.Config().Degree != g.Config().Degree || h.Bytes() != g.Bytes() {
		t.Fatalf("read graph: %d×%d %+v, want %d×%d %+v", h.Len(), h.Dim(), h.Config(), n, dim, g.Config())
	}
	o := SearchOptions{Rerank: Matrix{base, dim}}
	want, _ := g.Search(queries, k, nil, o)
	got, _ := h.Search(queries, k, nil, o)
	if !reflect.DeepEqual(got, want) {
		t.Fatal("the read graph answers differently")
	}

	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"magic only", file[:8]},
		{"truncated", file[:len(file)/2]},
		{"no checksum", file[:len(file)-4]},
		{"flipped byte", flip(file, len(file)/3)},
		{"flipped checksum", flip(file, len(file)-1)},
	} {
		if _, err := ReadGraph(bytes.NewReader(c.data), int64(len(c.data))); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: ReadGraph = %v, want ErrCorrupt", c.name, err)
		}
	}

	// A graph read back takes more vectors.
	more, _, _, _ := testSet(12, 500, 0, dim)
	if err := h.Add(t.Context(), more, nil); err != nil || h.Len() != n+500 {
		t.Fatalf("Add after reading: %v, Len %d", err, h.Len())
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x20
	return c
}
