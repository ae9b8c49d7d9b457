package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"unsafe"
)

// The graph file, little-endian:
//
//	magic    "XMGRAPH1"
//	header   dim, degree, build effort (uint32), alpha (float32),
//	         rows (uint64), entries (uint32)
//	scales   rows × float32
//	codes    rows × dim bytes
//	degrees  rows × uint16
//	edges    rows × degree × uint32
//	entries  entries × uint32
//	crc      CRC-32C of everything before it (uint32)
//
// The checksum makes a torn or corrupted file an error on reading rather
// than a graph that walks into nonsense; writers put the file in place
// atomically, so the error means damage, and the caller rebuilds.

var graphMagic = [8]byte{'X', 'M', 'G', 'R', 'A', 'P', 'H', '1'}

// ErrCorrupt marks a graph file that is not a whole, valid graph.
var ErrCorrupt = errors.New("corrupt graph file")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type graphHeader struct {
	Dim, Degree, BuildEffort uint32
	Alpha                    float32
	Rows                     uint64
	Entries                  uint32
}

// WriteTo writes the graph; it implements io.WriterTo.
func (g *Graph) WriteTo(w io.Writer) (int64, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	crc := crc32.New(castagnoli)
	cw := &countWriter{w: io.MultiWriter(w, crc)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	h := graphHeader{uint32(g.dim), uint32(g.cfg.Degree), uint32(g.cfg.BuildEffort), g.cfg.Alpha, uint64(g.n), uint32(len(g.entries))}
	bw.Write(graphMagic[:])
	binary.Write(bw, binary.LittleEndian, h)
	writeSlice(bw, g.scales[:g.n])
	bw.Write(g.codes[:g.n*g.dim])
	writeSlice(bw, g.deg[:g.n])
	writeSlice(bw, g.adj[:g.n*g.cfg.Degree])
	writeSlice(bw, g.entries)
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	n, err := w.Write(sum[:])
	return cw.n + int64(n), err
}

// ReadGraph reads a graph written by WriteTo from r, which holds size
// bytes: the header must account for exactly that many, so that a damaged
// header cannot make it allocate more than the file. Inserting threads
// default to GOMAXPROCS. A short or damaged file gives an error wrapping
// ErrCorrupt.
func ReadGraph(r io.Reader, size int64) (*Graph, error) {
	crc := crc32.New(castagnoli)
	raw := bufio.NewReaderSize(r, 1<<20)
	br := io.TeeReader(raw, crc) // everything but the checksum
	var magic [8]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil || magic != graphMagic {
		return nil, fmt.Errorf("%w: not a graph file", ErrCorrupt)
	}
	var h graphHeader
	if err := binary.Read(br, binary.LittleEndian, &h); err != nil {
		return nil, corrupt(err)
	}
	if h.Dim == 0 || h.Dim > 1<<16 || h.Degree == 0 || h.Degree > math.MaxUint16 || h.Rows > 1<<40 || h.Entries > maxEntries || !(h.Alpha >= 1 && h.Alpha <= 10) {
		return nil, fmt.Errorf("%w: header %+v out of range", ErrCorrupt, h)
	}
	rows := int64(h.Rows)
	wantSize := int64(8+binary.Size(h)) + rows*(4+int64(h.Dim)+2+4*int64(h.Degree)) + 4*int64(h.Entries) + 4
	if wantSize != size {
		return nil, fmt.Errorf("%w: %d bytes, the header implies %d", ErrCorrupt, size, wantSize)
	}
	g := NewGraph(int(h.Dim), GraphConfig{Degree: int(h.Degree), BuildEffort: int(h.BuildEffort), Alpha: h.Alpha, Entries: int(h.Entries)})
	n := int(h.Rows)
	g.grow(n)
	g.n = n
	g.entries = make([]uint32, h.Entries)
	for _, part := range []func() error{
		func() error { return readSlice(br, g.scales) },
		func() error { _, err := io.ReadFull(br, g.codes); return err },
		func() error { return readSlice(br, g.deg) },
		func() error { return readSlice(br, g.adj) },
		func() error { return readSlice(br, g.entries) },
	} {
		if err := part(); err != nil {
			return nil, corrupt(err)
		}
	}
	want := crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(raw, sum[:]); err != nil {
		return nil, corrupt(err)
	}
	if got := binary.LittleEndian.Uint32(sum[:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	// The checksum proves the bytes are as written; these prove a writer
	// of this format wrote them, so that no walk can index out of range.
	for r := range n {
		if int(g.deg[r]) > g.cfg.Degree {
			return nil, fmt.Errorf("%w: row %d has %d edges, degree %d", ErrCorrupt, r, g.deg[r], g.cfg.Degree)
		}
		for _, v := range g.neighbours(uint32(r)) {
			if int(v) >= n {
				return nil, fmt.Errorf("%w: row %d links to row %d of %d", ErrCorrupt, r, v, n)
			}
		}
	}
	for _, e := range g.entries {
		if int(e) >= n {
			return nil, fmt.Errorf("%w: entry row %d of %d", ErrCorrupt, e, n)
		}
	}
	return g, nil
}

func corrupt(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// writeSlice writes fixed-size numbers as little-endian bytes; on this
// package's little-endian targets that is their memory, written at once.
func writeSlice[T uint16 | uint32 | float32](w io.Writer, s []T) {
	if len(s) == 0 {
		return
	}
	if nativeLittle {
		w.Write(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0]))))
		return
	}
	binary.Write(w, binary.LittleEndian, s)
}

func readSlice[T uint16 | uint32 | float32](r io.Reader, s []T) error {
	if len(s) == 0 {
		return nil
	}
	if nativeLittle {
		_, err := io.ReadFull(r, unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0]))))
		return err
	}
	return binary.Read(r, binary.LittleEndian, s)
}

var nativeLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
