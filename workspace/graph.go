package workspace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xmodal/xmodal/index"
	"github.com/xmodal/xmodal/internal/atomicfile"
	"github.com/xmodal/xmodal/internal/mmap"
)

// A kind's approximate index lives in vectors/KIND.graph, beside the
// vectors it was built from. It covers the first Len() rows; rows added
// later are inserted by whoever opens it next. The file is replaced
// atomically, so a crash leaves the previous graph (or none); a graph that
// fails its checksum is reported and rebuilt by the caller.

func (w *Workspace) graphPath(k Kind) string {
	return filepath.Join(w.dir, "vectors", string(k)+".graph")
}

// HasGraph reports whether a kind has a saved graph.
func (w *Workspace) HasGraph(k Kind) bool {
	if w.dir == "" {
		return false
	}
	_, err := os.Stat(w.graphPath(k))
	return err == nil
}

// LoadGraph reads a kind's saved graph. With none it returns an error
// satisfying errors.Is(err, os.ErrNotExist); a damaged one, or one that
// does not fit the workspace (other dimension, more rows than committed),
// gives an error wrapping index.ErrCorrupt.
func (w *Workspace) LoadGraph(k Kind) (*index.Graph, error) {
	if w.dir == "" {
		return nil, fmt.Errorf("workspace %s: graph files: %w", w.loc, os.ErrNotExist)
	}
	path := w.graphPath(k)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	g, err := index.ReadGraph(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rows, err := w.Rows(k)
	if err != nil {
		return nil, err
	}
	if g.Dim() != w.manifest.Model.Dim || g.Len() > rows {
		return nil, fmt.Errorf("%s: %w: a graph of %d %d-dimensional rows, the workspace has %d of %d dimensions",
			path, index.ErrCorrupt, g.Len(), g.Dim(), rows, w.manifest.Model.Dim)
	}
	return g, nil
}

// SaveGraph replaces a kind's graph atomically. Only the writer may.
func (w *Workspace) SaveGraph(k Kind, g *index.Graph) error {
	if w.unlock == nil {
		return errors.New("workspace: SaveGraph needs a folder workspace opened for writing")
	}
	return atomicfile.Write(w.graphPath(k), 0o644, func(out io.Writer) error {
		_, err := g.WriteTo(out)
		return err
	})
}

// MapVectors maps a kind's vector file read-only, with room for at least
// rows rows; rows appended later up to the mapping's Capacity can be read
// through it without mapping again. Close the Mapping when no reader uses
// it.
func (w *Workspace) MapVectors(k Kind, rows int) (*Mapping, error) {
	if w.dir == "" {
		return nil, fmt.Errorf("workspace %s: vectors live in the database, not in a file to map", w.loc)
	}
	dim := w.manifest.Model.Dim
	room := max(rows+rows/2, rows+(64<<20)/(4*dim))
	b, unmap, err := mmap.Region(w.vectorPath(k), int64(room)*int64(dim)*4)
	if err != nil {
		return nil, err
	}
	f, err := mmap.Float32s(b)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("%s: %w", w.vectorPath(k), err)
	}
	return &Mapping{Matrix: index.Matrix{Data: f, Dim: dim}, Capacity: room, close: unmap}, nil
}

// Mapping is a mapped vector file. Only rows below the workspace's
// committed count may be read.
type Mapping struct {
	index.Matrix
	Capacity int // rows the mapping spans
	close    func() error
}

// Close unmaps the file.
func (m *Mapping) Close() error { return m.close() }
