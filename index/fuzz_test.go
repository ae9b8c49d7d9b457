package index

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// FuzzReadGraph feeds ReadGraph files with a valid checksum over arbitrary
// content, so that the fuzzer reaches the checks behind it: a file that
// is read must be safe to search and to extend.
func FuzzReadGraph(f *testing.F) {
	for _, n := range []int{1, 2, 40} {
		base, _, _, _ := testSet(uint64(n), n, 0, 8)
		g := NewGraph(8, GraphConfig{Degree: 4, BuildEffort: 8})
		if err := g.Add(f.Context(), base, nil); err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		g.WriteTo(&buf)
		f.Add(buf.Bytes()[:buf.Len()-4])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		file := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		g, err := ReadGraph(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			return
		}
		if g.Len() > 1<<16 {
			return // valid but too large to search here
		}
		q := make([]float32, g.Dim())
		q[0] = 1
		if _, err := g.Search([][]float32{q}, 3, nil, SearchOptions{Effort: 8}); err != nil {
			t.Fatal(err)
		}
		more := make([]float32, 2*g.Dim())
		more[1] = 1
		if err := g.Add(t.Context(), more, nil); err != nil {
			t.Fatal(err)
		}
	})
}
