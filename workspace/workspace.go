// Package workspace stores what `xmodal index` builds and `search`, `eval`
// and `serve` read: the documents (images with their path, content hash and
// split, captions, and the links between them) and one vector per document.
//
// A workspace is a directory:
//
//	workspace.json      the manifest: format version and the model's identity
//	docs.db             documents, in SQLite (WAL mode)
//	vectors/image.f32   one row of Dim little-endian float32 per image row
//	vectors/caption.f32 the same for captions
//	vectors/*.graph     graph indexes of the vectors, where built (graph.go)
//	lock                held by the one process that writes
//
// SQLite was chosen for the documents because its write-ahead log lets
// other processes read (a server answering queries) while one process
// indexes, and because a committed transaction survives kill -9; bbolt and
// pebble lock their files against a second process. The pure-Go driver
// (modernc.org/sqlite) keeps xmodal free of cgo.
//
// A workspace can also live in PostgreSQL (postgres.go): the same tables,
// with the vectors in them, shared by any number of processes on any
// number of machines.
//
// Vectors are append-only files of fixed-size rows, which a reader can map
// or read in one go. Crash safety comes from ordering: a batch's vectors are
// appended and synced first, then one transaction records the documents and
// the new row counts. Rows past the committed count are leftovers of an
// interrupted batch; readers never look at them and the next writer cuts
// them off.
package workspace

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xmodal/xmodal/internal/atomicfile"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FormatVersion is the layout version written to workspace.json.
const FormatVersion = 1

// Model identifies the encoder whose vectors a workspace holds.
type Model struct {
	ID     string `json:"id"`               // hash of the weights and preprocessing settings
	Name   string `json:"name"`             // what the user called it, for messages
	Family string `json:"family,omitempty"` // "clip", "vsepp"; "" in workspaces made before families (CLIP)
	Dim    int    `json:"dim"`
	// NoEXIF records that images were preprocessed without applying their
	// EXIF orientation, so that query images are treated alike.
	NoEXIF bool `json:"no_exif,omitempty"`
}

// Manifest is workspace.json.
type Manifest struct {
	Version int       `json:"version"`
	Model   Model     `json:"model"`
	Created time.Time `json:"created"`
}

// Kind is a document type: the vectors of each kind form their own space of
// rows.
type Kind string

// The two kinds of document.
const (
	Images   Kind = "image"
	Captions Kind = "caption"
)

// Workspace is an open workspace. Its methods are safe for concurrent use.
type Workspace struct {
	dir      string // "" for a database
	loc      string // dir, or the database's URL without its password
	manifest Manifest
	db       *sql.DB
	pg       *pgStore // nil for a folder
	writable bool
	unlock   func() error // a folder's write lock, while held
}

// Options adjust how a workspace is created.
type Options struct {
	// Vectors says how a PostgreSQL workspace stores its vectors (see
	// VectorStorage); it is ignored for a folder, and for a database
	// workspace that exists.
	Vectors string
}

// Redacted is a workspace location fit for logs and messages: a database
// URL loses its password.
func Redacted(loc string) string {
	if IsDatabase(loc) {
		if u, err := url.Parse(loc); err == nil {
			return u.Redacted()
		}
	}
	return loc
}

// IsDatabase reports whether a workspace location is a PostgreSQL URL
// (postgres://… or postgresql://…) rather than a folder.
func IsDatabase(loc string) bool {
	return strings.HasPrefix(loc, "postgres://") || strings.HasPrefix(loc, "postgresql://")
}

// ErrNotExist is returned by Open when dir holds no workspace.
var ErrNotExist = errors.New("no workspace")

// ErrLocked is returned by Create while another writer holds the
// workspace; the error is a *LockedError, which names it.
var ErrLocked = errors.New("being written by another process")

// LockedError says which process holds a workspace's write lock.
type LockedError struct {
	Dir    string
	Holder string // "pid 123 (xmodal index --data ...)", or "" if unknown
}

// Error names the workspace and, when known, the process holding it.
func (e *LockedError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "another process"
	}
	return fmt.Sprintf("workspace %s is being written by %s", e.Dir, holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// CreateWait is Create that waits while another process holds the write
// lock, until ctx is done. waiting, if not nil, is called when the wait
// begins and whenever the holder changes.
func CreateWait(ctx context.Context, dir string, model Model, o Options, waiting func(holder *LockedError)) (*Workspace, error) {
	var told *LockedError
	for {
		w, err := CreateWith(ctx, dir, model, o)
		var locked *LockedError
		if !errors.As(err, &locked) {
			return w, err
		}
		if waiting != nil && (told == nil || told.Holder != locked.Holder) {
			told = locked
			waiting(locked)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (gave up waiting: %w)", err, context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Create opens the workspace in dir for writing, creating it for model if it
// does not exist. An existing workspace made with another model is refused.
// Only one process may write to a folder at a time; a database takes
// writes from any number, one transaction after the other.
func Create(dir string, model Model) (*Workspace, error) {
	return CreateWith(context.Background(), dir, model, Options{})
}

// CreateWith is Create with options; dir may be a database URL.
func CreateWith(ctx context.Context, dir string, model Model, o Options) (*Workspace, error) {
	if IsDatabase(dir) {
		return openPostgres(ctx, dir, &model, o)
	}
	if err := os.MkdirAll(filepath.Join(dir, "vectors"), 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	w, err := open(dir, true, &model)
	if err != nil {
		unlock()
		return nil, err
	}
	w.unlock, w.writable = unlock, true
	if err := w.trimVectors(); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Open opens an existing workspace for reading, while another process may
// be writing to it. dir may be a database URL.
func Open(dir string) (*Workspace, error) {
	if IsDatabase(dir) {
		return openPostgres(context.Background(), dir, nil, Options{})
	}
	return open(dir, false, nil)
}

func open(dir string, create bool, model *Model) (*Workspace, error) {
	manPath := filepath.Join(dir, "workspace.json")
	data, err := os.ReadFile(manPath)
	var m Manifest
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", manPath, err)
		}
		if m.Version != FormatVersion {
			return nil, fmt.Errorf("%s: format version %d, this xmodal reads version %d", manPath, m.Version, FormatVersion)
		}
		if model != nil && m.Model.ID != model.ID {
			return nil, fmt.Errorf("workspace %s was built with model %s (%.12s) and cannot be used with %s (%.12s): index into a new workspace, or use the original model",
				dir, m.Model.Name, m.Model.ID, model.Name, model.ID)
		}
	case errors.Is(err, os.ErrNotExist) && create:
		m = Manifest{Version: FormatVersion, Model: *model, Created: time.Now().UTC().Truncate(time.Second)}
		data, _ := json.MarshalIndent(m, "", "  ")
		if err := atomicfile.WriteFile(manPath, append(data, '\n'), 0o644); err != nil {
			return nil, err
		}
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s: %w (run xmodal index first)", dir, ErrNotExist)
	default:
		return nil, err
	}
	db, err := openDB(filepath.Join(dir, "docs.db"), create)
	if err != nil {
		return nil, err
	}
	return &Workspace{dir: dir, loc: dir, manifest: m, db: db}, nil
}

// Close releases the database and, for a writer, the lock.
func (w *Workspace) Close() error {
	err := w.db.Close()
	if w.unlock != nil {
		err = errors.Join(err, w.unlock())
		w.unlock = nil
	}
	return err
}

// Dir is the workspace's directory, "" for a database.
func (w *Workspace) Dir() string { return w.dir }

// InDatabase reports whether the workspace lives in PostgreSQL rather
// than in a folder.
func (w *Workspace) InDatabase() bool { return w.pg != nil }

// Location names the workspace for messages: its directory, or its
// database URL without the password.
func (w *Workspace) Location() string { return w.loc }

// Manifest returns the workspace's manifest.
func (w *Workspace) Manifest() Manifest { return w.manifest }

// CheckModel reports an error unless the workspace was built with model.
func (w *Workspace) CheckModel(model Model) error {
	if w.manifest.Model.ID != model.ID {
		return fmt.Errorf("workspace %s was built with %s, not %s: search it with the model that built it",
			w.loc, describeModel(w.manifest.Model), describeModel(model))
	}
	return nil
}

// describeModel names a model for messages: "the clip model NAME (ID…)".
func describeModel(m Model) string {
	family := m.Family
	if family == "" {
		family = "clip"
	}
	return fmt.Sprintf("the %s model %s (%.12s)", family, m.Name, m.ID)
}

func (w *Workspace) vectorPath(k Kind) string {
	return filepath.Join(w.dir, "vectors", string(k)+".f32")
}
