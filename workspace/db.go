package workspace

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

const schema = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta VALUES ('image_rows', 0), ('caption_rows', 0), ('generation', 0);
CREATE TABLE IF NOT EXISTS images (
	id     INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: clients keep ids
	key    TEXT NOT NULL UNIQUE,
	path   TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	size   INTEGER NOT NULL,
	mtime  INTEGER NOT NULL,
	split  TEXT NOT NULL DEFAULT '',
	row    INTEGER NOT NULL UNIQUE,
	added  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS captions (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
	ord      INTEGER NOT NULL,
	text     TEXT NOT NULL,
	row      INTEGER NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS captions_image ON captions(image_id);
CREATE INDEX IF NOT EXISTS images_split ON images(split);
CREATE TABLE IF NOT EXISTS skipped (
	key    TEXT PRIMARY KEY,
	path   TEXT NOT NULL,
	size   INTEGER NOT NULL,
	mtime  INTEGER NOT NULL,
	reason TEXT NOT NULL
);
`

func openDB(path string, create bool) (*sql.DB, error) {
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	// The name is a URI: a '#' or '?' in a folder's name would end the
	// path, and a '%' would start an escape.
	uriPath := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite", "file:"+uriPath+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if create {
		if _, err := db.Exec(schema); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: create schema: %w", path, err)
		}
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

func (w *Workspace) meta(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, w.sql(`SELECT value FROM meta WHERE key = ?`), key).Scan(&v)
	return v, err
}

// Generation changes whenever a writer commits; readers compare it to know
// when to reload.
func (w *Workspace) Generation() (int64, error) {
	return w.meta(context.Background(), w.db, "generation")
}

// Rows is the number of committed vector rows of a kind, live or not.
func (w *Workspace) Rows(k Kind) (int, error) {
	n, err := w.meta(context.Background(), w.db, string(k)+"_rows")
	return int(n), err
}

// Image is an image document.
type Image struct {
	ID       int64     `json:"id"`
	Key      string    `json:"key"`
	Path     string    `json:"path"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	MTime    int64     `json:"mtime"`
	Split    string    `json:"split,omitempty"`
	Row      int       `json:"-"`
	Added    time.Time `json:"added"`
	Captions []Caption `json:"captions"`
}

// Caption is a caption document, linked to its image.
type Caption struct {
	ID      int64  `json:"id"`
	ImageID int64  `json:"image_id"`
	Ord     int    `json:"ord"`
	Text    string `json:"text"`
	Row     int    `json:"-"`
}

// State is what the indexer needs to know of an indexed image to decide
// whether to index it again.
type State struct {
	ID       int64
	SHA256   string
	Size     int64
	MTime    int64
	Split    string
	Captions []string
}

// States returns the state of every indexed image by key.
func (w *Workspace) States(ctx context.Context) (map[string]State, error) {
	out := map[string]State{}
	rows, err := w.db.QueryContext(ctx, `SELECT id, key, sha256, size, mtime, split FROM images`)
	if err != nil {
		return nil, err
	}
	byID := map[int64]string{}
	for rows.Next() {
		var s State
		var key string
		if err := rows.Scan(&s.ID, &key, &s.SHA256, &s.Size, &s.MTime, &s.Split); err != nil {
			rows.Close()
			return nil, err
		}
		out[key] = s
		byID[s.ID] = key
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	caps, err := w.db.QueryContext(ctx, `SELECT image_id, text FROM captions ORDER BY image_id, ord`)
	if err != nil {
		return nil, err
	}
	defer caps.Close()
	for caps.Next() {
		var id int64
		var text string
		if err := caps.Scan(&id, &text); err != nil {
			return nil, err
		}
		key := byID[id]
		s := out[key]
		s.Captions = append(s.Captions, text)
		out[key] = s
	}
	return out, caps.Err()
}

// Skip is an image the indexer could not use, with the reason.
type Skip struct {
	Key    string `json:"key"`
	Path   string `json:"file"`
	Size   int64  `json:"-"`
	MTime  int64  `json:"-"`
	Reason string `json:"reason"`
}

// Skipped lists the images recorded as unusable, by key.
func (w *Workspace) Skipped(ctx context.Context) (map[string]Skip, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT key, path, size, mtime, reason FROM skipped ORDER BY key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Skip{}
	for rows.Next() {
		var s Skip
		if err := rows.Scan(&s.Key, &s.Path, &s.Size, &s.MTime, &s.Reason); err != nil {
			return nil, err
		}
		out[s.Key] = s
	}
	return out, rows.Err()
}

// Stats counts the live documents.
type Stats struct {
	Images   int            `json:"images"`
	Captions int            `json:"captions"`
	Skipped  int            `json:"skipped"`
	Splits   map[string]int `json:"splits,omitempty"`
}

// Counts counts the live images and captions.
func (w *Workspace) Counts(ctx context.Context) (images, captions int, err error) {
	err = w.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM captions)`).Scan(&images, &captions)
	return images, captions, err
}

// Stats counts the workspace's documents.
func (w *Workspace) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	var err error
	if s.Images, s.Captions, err = w.Counts(ctx); err != nil {
		return s, err
	}
	if err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM skipped`).Scan(&s.Skipped); err != nil {
		return s, err
	}
	rows, err := w.db.QueryContext(ctx, `SELECT split, count(*) FROM images WHERE split != '' GROUP BY split`)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var split string
		var n int
		if err := rows.Scan(&split, &n); err != nil {
			return s, err
		}
		if s.Splits == nil {
			s.Splits = map[string]int{}
		}
		s.Splits[split] = n
	}
	return s, rows.Err()
}

// RowIDs maps every committed vector row of a kind to its live document's
// id, or 0 for a row whose document was deleted or replaced.
func (w *Workspace) RowIDs(ctx context.Context, k Kind) ([]int64, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if w.pg != nil {
		// One snapshot for the count and the rows, as SQLite gives.
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := w.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	n, err := w.meta(ctx, tx, string(k)+"_rows")
	if err != nil {
		return nil, err
	}
	ids := make([]int64, n)
	rows, err := tx.QueryContext(ctx, `SELECT id, row FROM `+table(k))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var row int
		if err := rows.Scan(&id, &row); err != nil {
			return nil, err
		}
		if row < len(ids) {
			ids[row] = id
		}
	}
	return ids, rows.Err()
}

func table(k Kind) string {
	if k == Images {
		return "images"
	}
	return "captions"
}

// Image returns an image document with its captions.
func (w *Workspace) Image(ctx context.Context, id int64) (*Image, error) {
	imgs, err := w.images(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("image %d: %w", id, os.ErrNotExist)
	}
	return &imgs[0], nil
}

// ImageByKey returns the image with the given key.
func (w *Workspace) ImageByKey(ctx context.Context, key string) (*Image, error) {
	imgs, err := w.images(ctx, `WHERE key = ?`, key)
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("image %q: %w", key, os.ErrNotExist)
	}
	return &imgs[0], nil
}

// ImagesInSplit returns the images of a split ("" for all) with their
// captions, in the order of their keys. Rows follow the order in which
// indexing finished each image, which varies from run to run; key order
// does not, so evaluations and query samples drawn from it come out the
// same however the workspace was filled. Keys are compared in Go, not by
// the database's collation, so SQLite and PostgreSQL agree byte for byte.
func (w *Workspace) ImagesInSplit(ctx context.Context, split string) ([]Image, error) {
	where, args := ``, []any(nil)
	if split != "" {
		where, args = `WHERE split = ?`, []any{split}
	}
	imgs, err := w.images(ctx, where, args...)
	slices.SortFunc(imgs, func(a, b Image) int { return strings.Compare(a.Key, b.Key) })
	return imgs, err
}

func (w *Workspace) images(ctx context.Context, where string, args ...any) ([]Image, error) {
	rows, err := w.db.QueryContext(ctx, w.sql(`SELECT id, key, path, sha256, size, mtime, split, row, added FROM images `+where), args...)
	if err != nil {
		return nil, err
	}
	var out []Image
	index := map[int64]int{}
	for rows.Next() {
		var im Image
		var added int64
		if err := rows.Scan(&im.ID, &im.Key, &im.Path, &im.SHA256, &im.Size, &im.MTime, &im.Split, &im.Row, &added); err != nil {
			rows.Close()
			return nil, err
		}
		im.Added = time.Unix(added, 0).UTC()
		im.Captions = []Caption{}
		index[im.ID] = len(out)
		out = append(out, im)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	capQuery := `SELECT id, image_id, ord, text, row FROM captions ORDER BY image_id, ord`
	var capArgs []any
	if len(out) <= 500 {
		capQuery = `SELECT id, image_id, ord, text, row FROM captions WHERE image_id IN (` + placeholders(len(out)) + `) ORDER BY image_id, ord`
		for _, im := range out {
			capArgs = append(capArgs, im.ID)
		}
	}
	caps, err := w.db.QueryContext(ctx, w.sql(capQuery), capArgs...)
	if err != nil {
		return nil, err
	}
	defer caps.Close()
	for caps.Next() {
		var c Caption
		if err := caps.Scan(&c.ID, &c.ImageID, &c.Ord, &c.Text, &c.Row); err != nil {
			return nil, err
		}
		if i, ok := index[c.ImageID]; ok {
			out[i].Captions = append(out[i].Captions, c)
		}
	}
	return out, caps.Err()
}

// ImagesByID returns the images with the given ids, with their captions,
// keyed by id; ids that do not exist are left out.
func (w *Workspace) ImagesByID(ctx context.Context, ids []int64) (map[int64]*Image, error) {
	out := map[int64]*Image{}
	for lo := 0; lo < len(ids); lo += 500 {
		chunk := ids[lo:min(lo+500, len(ids))]
		imgs, err := w.images(ctx, `WHERE id IN (`+placeholders(len(chunk))+`)`, anys(chunk)...)
		if err != nil {
			return nil, err
		}
		for i := range imgs {
			out[imgs[i].ID] = &imgs[i]
		}
	}
	return out, nil
}

// CaptionsByID returns the captions with the given ids, keyed by id.
func (w *Workspace) CaptionsByID(ctx context.Context, ids []int64) (map[int64]*Caption, error) {
	out := map[int64]*Caption{}
	for lo := 0; lo < len(ids); lo += 500 {
		chunk := ids[lo:min(lo+500, len(ids))]
		rows, err := w.db.QueryContext(ctx, w.sql(`SELECT id, image_id, ord, text, row FROM captions WHERE id IN (`+placeholders(len(chunk))+`)`), anys(chunk)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var c Caption
			if err := rows.Scan(&c.ID, &c.ImageID, &c.Ord, &c.Text, &c.Row); err != nil {
				rows.Close()
				return nil, err
			}
			out[c.ID] = &c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sql adapts a query written with ? placeholders, as SQLite takes them,
// to the workspace's database: PostgreSQL numbers them ($1, $2…). The
// queries never hold a literal question mark.
func (w *Workspace) sql(q string) string {
	if w.pg == nil {
		return q
	}
	return numbered(q, 1)
}

// numbered replaces the ? placeholders of q with $first, $first+1…
func numbered(q string, first int) string {
	var b strings.Builder
	n := first
	for _, r := range q {
		if r == '?' {
			fmt.Fprintf(&b, "$%d", n)
			n++
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// Caption returns a caption document.
func (w *Workspace) Caption(ctx context.Context, id int64) (*Caption, error) {
	var c Caption
	err := w.db.QueryRowContext(ctx, w.sql(`SELECT id, image_id, ord, text, row FROM captions WHERE id = ?`), id).
		Scan(&c.ID, &c.ImageID, &c.Ord, &c.Text, &c.Row)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("caption %d: %w", id, os.ErrNotExist)
	}
	return &c, err
}

// Filter selects documents by their image: its split and the folder its
// key is in. The zero Filter selects everything.
type Filter struct {
	Split string `json:"split,omitempty"`
	// Under is a folder of keys, "2019/summer" or "2019/summer/": it
	// selects the images whose key is under it, at any depth.
	Under string `json:"under,omitempty"`
}

// IsZero reports whether f selects everything.
func (f Filter) IsZero() bool { return f.Split == "" && f.Under == "" }

// Selects reports whether f selects an image with this key and split, as
// FilterRows does in the database.
func (f Filter) Selects(key, split string) bool {
	if f.Split != "" && split != f.Split {
		return false
	}
	u := strings.Trim(f.Under, "/")
	return u == "" || strings.HasPrefix(key, u+"/")
}

// FilterRows returns the vector rows of the live documents of kind k that
// f selects (a caption by its image), in increasing order.
func (w *Workspace) FilterRows(ctx context.Context, k Kind, f Filter) ([]int, error) {
	q := `SELECT i.row FROM images i`
	if k == Captions {
		q = `SELECT c.row FROM captions c JOIN images i ON i.id = c.image_id`
	}
	where, args := w.filterSQL(f)
	rows, err := w.db.QueryContext(ctx, w.sql(q+where+" ORDER BY 1"), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var r int
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// filterSQL is the WHERE clause (with ? placeholders, on images aliased
// i) that selects what f selects, or "".
func (w *Workspace) filterSQL(f Filter) (string, []any) {
	var where []string
	var args []any
	if f.Split != "" {
		where, args = append(where, "i.split = ?"), append(args, f.Split)
	}
	if u := strings.Trim(f.Under, "/"); u != "" {
		// LIKE would treat % and _ in folder names as wildcards: compare
		// the prefix itself, byte for byte.
		if w.pg != nil {
			where, args = append(where, "starts_with(i.key, ?)"), append(args, u+"/")
		} else {
			// On a blob, substr counts bytes, as len does.
			where = append(where, "substr(CAST(i.key AS BLOB), 1, ?) = CAST(? AS BLOB)")
			args = append(args, len(u)+1, u+"/")
		}
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// Vector returns the vector of a document of kind k.
func (w *Workspace) Vector(ctx context.Context, k Kind, id int64) ([]float32, error) {
	var row int
	err := w.db.QueryRowContext(ctx, w.sql(`SELECT row FROM `+table(k)+` WHERE id = ?`), id).Scan(&row)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("%s %d: %w", k, id, os.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	return w.ReadVectors(k, row, row+1)
}
