package workspace

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// A PostgreSQL workspace keeps the folder's tables (meta, images,
// captions, skipped) and puts each document's vector in its row, so that
// one transaction commits a batch whole and every process that connects
// sees the same workspace: any number of writers (index, workers) and
// readers (serve replicas).
//
// Rows are numbered as in a folder, per kind and never reused, so that the
// engine's in-process indexes work unchanged. Writers take the meta rows
// FOR UPDATE at the start of a batch: numbering is then gap-free and in
// commit order, which is what readers rely on to load only new rows. The
// lock is held for the inserts alone (milliseconds); encoding, the slow
// part, happens before.

// How a PostgreSQL workspace stores its vectors, chosen when it is
// created.
const (
	// VectorsPgvector stores vector(D) columns with HNSW indexes, and
	// searches them in SQL. It needs the pgvector extension.
	VectorsPgvector = "pgvector"
	// VectorsHalfvec is VectorsPgvector with halfvec(D): half the space,
	// scores rounded to about three digits.
	VectorsHalfvec = "halfvec"
	// VectorsLocal stores float32 bytes (bytea) that each process loads
	// and searches itself, as with a folder; it needs no extension.
	VectorsLocal = "local"
	// VectorsFiles is what VectorStorage reports for a folder.
	VectorsFiles = "files"
)

// HNSW parameters of the pgvector indexes xmodal creates: pgvector's
// defaults. With ef_search 100 they found 99.7 % of the exact top 10 of
// text→image queries on the bundled model's corpus (README, "Scaling
// out"); ef_search is set per query from top_k (EfSearch).
const (
	HNSWM              = 16
	HNSWEfConstruction = 64
)

// EfSearch is the hnsw.ef_search a query for the top n uses: the list
// must hold at least n, and grows with it as the folder graph's effort
// does; pgvector takes at most 1,000.
func EfSearch(n int) int {
	return min(max(100, 4*n), 1000)
}

type pgStore struct {
	vectors string
	dim     int
	// iterative says that pgvector (0.8 or later) can go on walking the
	// index until a filtered search has its n results.
	iterative bool
}

// migrations are applied in order, each once; the position is the schema
// version. Tables are created without the vector columns, whose type
// depends on the model and is set when the workspace is created.
var migrations = []string{
	// 1: the folder's tables, and the workspace's identity.
	`CREATE TABLE xmodal_workspace (
		id       int PRIMARY KEY CHECK (id = 1),
		format   int NOT NULL,
		model    text NOT NULL, -- the Model as JSON
		vectors  text NOT NULL,
		created  timestamptz NOT NULL
	);
	CREATE TABLE meta (
		key   text PRIMARY KEY,
		value bigint NOT NULL
	);
	INSERT INTO meta VALUES ('image_rows', 0), ('caption_rows', 0), ('generation', 0);
	CREATE TABLE images (
		id     bigserial PRIMARY KEY, -- never reused: clients keep ids
		key    text NOT NULL UNIQUE,
		path   text NOT NULL,
		sha256 text NOT NULL,
		size   bigint NOT NULL,
		mtime  bigint NOT NULL,
		split  text NOT NULL DEFAULT '',
		row    bigint NOT NULL UNIQUE,
		added  bigint NOT NULL
	);
	CREATE TABLE captions (
		id       bigserial PRIMARY KEY,
		image_id bigint NOT NULL REFERENCES images(id) ON DELETE CASCADE,
		ord      int NOT NULL,
		text     text NOT NULL,
		row      bigint NOT NULL UNIQUE
	);
	CREATE INDEX captions_image ON captions(image_id);
	CREATE INDEX images_split ON images(split);
	CREATE TABLE skipped (
		key    text PRIMARY KEY,
		path   text NOT NULL,
		size   bigint NOT NULL,
		mtime  bigint NOT NULL,
		reason text NOT NULL
	);`,
	// 2: the job queue of distributed encoding (queue.go).
	`CREATE TABLE jobs (
		id          bigserial PRIMARY KEY,
		root        text NOT NULL,      -- the dataset folder, as the enqueuer saw it
		items       text NOT NULL,      -- the images, as JSON
		n           int NOT NULL,       -- how many
		state       text NOT NULL DEFAULT 'todo' CHECK (state IN ('todo', 'done', 'failed')),
		attempts    int NOT NULL DEFAULT 0,
		worker      text,               -- who holds or held the lease
		lease_until timestamptz,
		enqueued    timestamptz NOT NULL DEFAULT now(),
		finished    timestamptz,
		error       text
	);
	CREATE INDEX jobs_todo ON jobs (id) WHERE state = 'todo';
	CREATE TABLE workers (
		name       text PRIMARY KEY,
		started    timestamptz NOT NULL,
		last_seen  timestamptz NOT NULL,
		jobs       bigint NOT NULL DEFAULT 0,
		images     bigint NOT NULL DEFAULT 0
	);`,
	// 3: images uploaded through the API, kept in the database so that
	// every replica serves them; replacing or deleting the image drops
	// its file.
	`CREATE TABLE files (
		key   text PRIMARY KEY REFERENCES images(key) ON DELETE CASCADE,
		data  bytea NOT NULL
	);`,
}

// migrationLock is the advisory lock key under which migrations and
// workspace creation run, so that processes starting together take turns.
const migrationLock = 0x786d6f64616c // "xmodal"

// Migrate brings the database at url to SchemaVersion and reports the
// versions before and after. A database with a newer schema is refused.
func Migrate(ctx context.Context, dbURL string) (from, to int, err error) {
	db, _, err := connect(ctx, dbURL)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	return migrate(ctx, db)
}

func migrate(ctx context.Context, db *sql.DB) (from, to int, err error) {
	// Up to date, the usual case, needs no lock and no right to create
	// tables: a read-only user may serve.
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('xmodal_schema') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, 0, err
	}
	if exists {
		if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM xmodal_schema`).Scan(&from); err != nil {
			return 0, 0, err
		}
		if from == len(migrations) {
			return from, from, nil
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return 0, 0, err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS xmodal_schema (version int NOT NULL, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, 0, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM xmodal_schema`).Scan(&from); err != nil {
		return 0, 0, err
	}
	if from > len(migrations) {
		return from, from, fmt.Errorf("the database has schema version %d; this xmodal knows up to %d: upgrade xmodal", from, len(migrations))
	}
	for v := from + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return from, v - 1, fmt.Errorf("schema migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO xmodal_schema (version) VALUES ($1)`, v); err != nil {
			return from, v - 1, err
		}
	}
	return from, len(migrations), tx.Commit()
}

// connect opens a database and checks that it answers. The returned
// location is the URL without its password, for messages.
func connect(ctx context.Context, dbURL string) (*sql.DB, string, error) {
	loc := Redacted(dbURL)
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, loc, fmt.Errorf("workspace %s: %w", loc, err)
	}
	db := stdlib.OpenDB(*cfg)
	// A server's searches are short: a few connections serve many
	// requests, and a fleet of replicas stays within the server's
	// max_connections (100 by default).
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, loc, fmt.Errorf("workspace %s: cannot connect: %w", loc, err)
	}
	return db, loc, nil
}

// openPostgres opens the workspace in a database, creating it for model
// (opening for writing) when model is not nil.
func openPostgres(ctx context.Context, dbURL string, model *Model, o Options) (_ *Workspace, err error) {
	db, loc, err := connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			db.Close()
			err = fmt.Errorf("workspace %s: %w", loc, err)
		}
	}()
	if _, _, err := migrate(ctx, db); err != nil {
		return nil, err
	}
	// Writers take turns in transactions, not with a lock held while the
	// workspace is open: every connection may write.
	w := &Workspace{loc: loc, db: db, pg: &pgStore{}, writable: true}
	found, err := w.readManifest(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case !found && model == nil:
		return nil, fmt.Errorf("%w (run xmodal index first)", ErrNotExist)
	case !found:
		if err := w.createManifest(ctx, *model, o.Vectors); err != nil {
			return nil, err
		}
	case model != nil && w.manifest.Model.ID != model.ID:
		return nil, fmt.Errorf("built with model %s (%.12s) and cannot be used with %s (%.12s): index into a new workspace, or use the original model",
			w.manifest.Model.Name, w.manifest.Model.ID, model.Name, model.ID)
	}
	return w, nil
}

func (w *Workspace) readManifest(ctx context.Context) (bool, error) {
	var model string
	m := Manifest{}
	err := w.db.QueryRowContext(ctx, `SELECT format, model, vectors, created FROM xmodal_workspace`).
		Scan(&m.Version, &model, &w.pg.vectors, &m.Created)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if m.Version != FormatVersion {
		return false, fmt.Errorf("format version %d, this xmodal reads version %d", m.Version, FormatVersion)
	}
	if err := json.Unmarshal([]byte(model), &m.Model); err != nil {
		return false, fmt.Errorf("xmodal_workspace.model: %w", err)
	}
	m.Created = m.Created.UTC()
	w.manifest, w.pg.dim = m, m.Model.Dim
	if w.SearchesInDatabase() {
		var version string
		if err := w.db.QueryRowContext(ctx, `SELECT extversion FROM pg_extension WHERE extname = 'vector'`).Scan(&version); err != nil {
			return false, fmt.Errorf("the workspace stores vectors with pgvector, which the database lacks: %w", err)
		}
		w.pg.iterative = versionAtLeast(version, 0, 8)
	}
	return true, nil
}

// createManifest records the workspace's identity and adds the vector
// columns, unless another process just did (then its manifest is read).
func (w *Workspace) createManifest(ctx context.Context, model Model, vectors string) error {
	if vectors == "" {
		vectors = VectorsPgvector
	}
	var col string
	switch vectors {
	case VectorsLocal:
		col = "vec bytea NOT NULL"
	case VectorsPgvector, VectorsHalfvec:
		typ := map[string]string{VectorsPgvector: "vector", VectorsHalfvec: "halfvec"}[vectors]
		if err := w.ensurePgvector(ctx); err != nil {
			return err
		}
		col = fmt.Sprintf("embedding %s(%d) NOT NULL", typ, model.Dim)
	default:
		return fmt.Errorf("vector storage %q: want %s, %s or %s", vectors, VectorsPgvector, VectorsHalfvec, VectorsLocal)
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM xmodal_workspace`).Scan(&n); err != nil {
		return err
	}
	if n > 0 { // created meanwhile
		tx.Rollback()
		found, err := w.readManifest(ctx)
		if err == nil && (!found || w.manifest.Model.ID != model.ID) {
			err = fmt.Errorf("was just created for another model (%.12s)", w.manifest.Model.ID)
		}
		return err
	}
	m := Manifest{Version: FormatVersion, Model: model, Created: time.Now().UTC().Truncate(time.Second)}
	data, _ := json.Marshal(model)
	stmts := []string{
		`ALTER TABLE images ADD COLUMN ` + col,
		`ALTER TABLE captions ADD COLUMN ` + col,
	}
	if vectors != VectorsLocal {
		ops := map[string]string{VectorsPgvector: "vector_ip_ops", VectorsHalfvec: "halfvec_ip_ops"}[vectors]
		for _, t := range []string{"images", "captions"} {
			stmts = append(stmts, fmt.Sprintf(`CREATE INDEX %s_embedding ON %s USING hnsw (embedding %s) WITH (m = %d, ef_construction = %d)`,
				t, t, ops, HNSWM, HNSWEfConstruction))
		}
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO xmodal_workspace (id, format, model, vectors, created) VALUES (1, $1, $2, $3, $4)`,
		m.Version, string(data), vectors, m.Created); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = w.readManifest(ctx)
	return err
}

// versionAtLeast compares a "major.minor.patch" version.
func versionAtLeast(v string, major, minor int) bool {
	var a, b int
	fmt.Sscanf(v, "%d.%d", &a, &b)
	return a > major || a == major && b >= minor
}

// ErrNoPgvector is returned when a workspace should store its vectors with
// pgvector and the database does not have it.
var ErrNoPgvector = errors.New("PostgreSQL has no pgvector extension")

func (w *Workspace) ensurePgvector(ctx context.Context) error {
	var available bool
	if err := w.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')`).Scan(&available); err != nil {
		return err
	}
	if !available {
		return fmt.Errorf("%w: install it (Debian and Ubuntu: the postgresql-NN-pgvector package from apt.postgresql.org; or the pgvector/pgvector container image; most managed PostgreSQL services offer it), "+
			"or pass --vectors local to keep vectors as bytes and search them in xmodal", ErrNoPgvector)
	}
	if _, err := w.db.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS vector`); err != nil {
		return fmt.Errorf("%w enabled and cannot enable it: %w (ask the database owner to run CREATE EXTENSION vector, or pass --vectors local)", ErrNoPgvector, err)
	}
	return nil
}

// VectorStorage says where the vectors are: VectorsFiles for a folder,
// else how the database stores them.
func (w *Workspace) VectorStorage() string {
	if w.pg == nil {
		return VectorsFiles
	}
	return w.pg.vectors
}

// lockMeta takes the meta rows for the transaction: writers of a database
// workspace take turns from here to their commit. It returns the rows'
// values.
func lockMeta(ctx context.Context, tx *sql.Tx) (map[string]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT key, value FROM meta ORDER BY key FOR UPDATE`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// vectorColumn is the column holding vectors and the SQL that turns a
// text[] or bytea[] parameter element into its type.
func (p *pgStore) vectorColumn() (col, cast, arrayType string) {
	switch p.vectors {
	case VectorsLocal:
		return "vec", "", "bytea[]"
	case VectorsHalfvec:
		return "embedding", "::halfvec", "text[]"
	default:
		return "embedding", "::vector", "text[]"
	}
}

// encode turns vectors into the parameter vectorColumn expects.
func (p *pgStore) encode(vecs [][]float32) any {
	if p.vectors == VectorsLocal {
		out := make([][]byte, len(vecs))
		for i, v := range vecs {
			b := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(x))
			}
			out[i] = b
		}
		return out
	}
	out := make([]string, len(vecs))
	var b []byte
	for i, v := range vecs {
		b = append(b[:0], '[')
		for j, x := range v {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
		}
		out[i] = string(append(b, ']'))
	}
	return out
}

// add commits a batch (see Workspace.Add) in one transaction.
// also, if not nil, runs in the same transaction before the commit.
func (p *pgStore) add(ctx context.Context, db *sql.DB, batch []NewImage, skipped []Skip, also func(*sql.Tx) error) error {
	// A key given twice counts once, the last time, as in a folder.
	last := map[string]int{}
	for i, im := range batch {
		last[im.Key] = i
	}
	var (
		keys, paths, hashes, splits []string
		sizes, mtimes               []int64
		imgVecs                     [][]float32
	)
	for i, im := range batch {
		if last[im.Key] != i {
			continue
		}
		keys, paths, hashes, splits = append(keys, im.Key), append(paths, im.Path), append(hashes, im.SHA256), append(splits, im.Split)
		sizes, mtimes = append(sizes, im.Size), append(mtimes, im.MTime)
		imgVecs = append(imgVecs, im.Vector)
	}
	skipKeys := make([]string, len(skipped))
	for i, s := range skipped {
		skipKeys[i] = s.Key
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	meta, err := lockMeta(ctx, tx)
	if err != nil {
		return err
	}
	row, crow := meta["image_rows"], meta["caption_rows"]
	if _, err := tx.ExecContext(ctx, `DELETE FROM images WHERE key = ANY($1::text[])`, keys); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM skipped WHERE key = ANY($1::text[])`, keys); err != nil {
		return err
	}
	col, cast, arrayType := p.vectorColumn()
	if len(keys) > 0 {
		imgRows := make([]int64, len(keys))
		for i := range imgRows {
			imgRows[i] = row + int64(i)
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO images (key, path, sha256, size, mtime, split, row, added, `+col+`)
			SELECT k, p, h, s, m, sp, r, $8, v`+cast+` FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::bigint[], $9::`+arrayType+`)
				AS t(k, p, h, s, m, sp, r, v)
			RETURNING id, row`,
			keys, paths, hashes, sizes, mtimes, splits, imgRows, time.Now().Unix(), p.encode(imgVecs))
		if err != nil {
			return err
		}
		idOfRow := map[int64]int64{}
		for rows.Next() {
			var id, r int64
			if err := rows.Scan(&id, &r); err != nil {
				rows.Close()
				return err
			}
			idOfRow[r] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var (
			capImage, capOrd, capRows []int64
			capTexts                  []string
			capVecs                   [][]float32
		)
		i := 0
		for j, im := range batch {
			if last[im.Key] != j {
				continue
			}
			for o, text := range im.Captions {
				capImage, capOrd, capRows = append(capImage, idOfRow[row+int64(i)]), append(capOrd, int64(o)), append(capRows, crow)
				capTexts, capVecs = append(capTexts, text), append(capVecs, im.CaptionVectors[o])
				crow++
			}
			i++
		}
		row += int64(len(keys))
		if len(capTexts) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO captions (image_id, ord, text, row, `+col+`)
				SELECT i, o, t, r, v`+cast+` FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::`+arrayType+`) AS u(i, o, t, r, v)`,
				capImage, capOrd, capTexts, capRows, p.encode(capVecs)); err != nil {
				return err
			}
		}
	}
	if len(skipped) > 0 {
		paths, reasons := make([]string, len(skipped)), make([]string, len(skipped))
		sizes, mtimes := make([]int64, len(skipped)), make([]int64, len(skipped))
		for i, s := range skipped {
			paths[i], reasons[i], sizes[i], mtimes[i] = s.Path, s.Reason, s.Size, s.MTime
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO skipped (key, path, size, mtime, reason)
			SELECT DISTINCT ON (k) k, p, s, m, r FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[]) AS t(k, p, s, m, r)
			ON CONFLICT (key) DO UPDATE SET path = excluded.path, size = excluded.size, mtime = excluded.mtime, reason = excluded.reason`,
			skipKeys, paths, sizes, mtimes, reasons); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = CASE key WHEN 'image_rows' THEN $1 WHEN 'caption_rows' THEN $2 ELSE value + 1 END
		WHERE key IN ('image_rows', 'caption_rows', 'generation')`, row, crow); err != nil {
		return err
	}
	for i, im := range batch {
		if im.Data != nil && last[im.Key] == i {
			if _, err := tx.ExecContext(ctx, `INSERT INTO files (key, data) VALUES ($1, $2)`, im.Key, im.Data); err != nil {
				return fmt.Errorf("store the file of %s: %w", im.Key, err)
			}
		}
	}
	if also != nil {
		if err := also(tx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// File returns the bytes of an image stored in a database workspace
// (NewImage.Data); an error satisfying errors.Is(err, os.ErrNotExist) if
// there are none.
func (w *Workspace) File(ctx context.Context, key string) ([]byte, error) {
	if w.pg == nil {
		return nil, fmt.Errorf("file %s: %w (a folder workspace keeps files on disk)", key, os.ErrNotExist)
	}
	var data []byte
	err := w.db.QueryRowContext(ctx, `SELECT data FROM files WHERE key = $1`, key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("file %s: %w", key, os.ErrNotExist)
	}
	return data, err
}

// readVectors reads rows [from, to) of a kind. Rows whose document was
// deleted have no vector any more; they read as zeros, and no reader
// returns them.
func (p *pgStore) readVectors(ctx context.Context, db *sql.DB, k Kind, from, to int) ([]float32, error) {
	expr := "vec"
	switch p.vectors {
	case VectorsPgvector:
		expr = "vector_send(embedding)"
	case VectorsHalfvec:
		expr = "halfvec_send(embedding)"
	}
	rows, err := db.QueryContext(ctx, `SELECT row, `+expr+` FROM `+table(k)+` WHERE row >= $1 AND row < $2`, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dim := p.dim
	out := make([]float32, (to-from)*dim)
	var b []byte
	for rows.Next() {
		var r int
		if err := rows.Scan(&r, &b); err != nil {
			return nil, err
		}
		if err := p.decode(out[(r-from)*dim:(r-from+1)*dim], b); err != nil {
			return nil, fmt.Errorf("%s row %d: %w", k, r, err)
		}
	}
	return out, rows.Err()
}

// decode reads one stored vector: float32 little-endian bytes, or the
// binary form of pgvector's types (dimension and an unused word, both
// 16-bit, then float32 or float16 values, big-endian).
func (p *pgStore) decode(dst []float32, b []byte) error {
	dim := len(dst)
	switch p.vectors {
	case VectorsLocal:
		if len(b) != 4*dim {
			return fmt.Errorf("%d bytes, want %d", len(b), 4*dim)
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case VectorsPgvector:
		if len(b) != 4+4*dim || int(binary.BigEndian.Uint16(b)) != dim {
			return fmt.Errorf("vector of %d bytes, want %d dimensions", len(b), dim)
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.BigEndian.Uint32(b[4+4*i:]))
		}
	case VectorsHalfvec:
		if len(b) != 4+2*dim || int(binary.BigEndian.Uint16(b)) != dim {
			return fmt.Errorf("halfvec of %d bytes, want %d dimensions", len(b), dim)
		}
		for i := range dst {
			dst[i] = halfToFloat(binary.BigEndian.Uint16(b[4+2*i:]))
		}
	}
	return nil
}

// halfToFloat widens an IEEE 754 half-precision value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// SearchesInDatabase reports whether the workspace's vectors are searched
// by the database (pgvector) rather than loaded by each process.
func (w *Workspace) SearchesInDatabase() bool {
	return w.pg != nil && (w.pg.vectors == VectorsPgvector || w.pg.vectors == VectorsHalfvec)
}

// Match is a document found by Nearest.
type Match struct {
	ID    int64
	Row   int
	Score float32 // inner product with the query
}

// Nearest finds the n documents of kind k whose vectors have the largest
// inner product with query, among those f selects, best first; the
// database searches them (see SearchesInDatabase). Unless exact, it walks
// the HNSW index with ef_search EfSearch(n), which may miss some; exact
// scans every row, as a folder's flat index does.
func (w *Workspace) Nearest(ctx context.Context, k Kind, query []float32, n int, f Filter, exact bool) ([]Match, error) {
	if !w.SearchesInDatabase() {
		return nil, fmt.Errorf("workspace %s: vectors are not searched in the database", w.loc)
	}
	if len(query) != w.pg.dim {
		return nil, fmt.Errorf("query vector has %d values, want %d", len(query), w.pg.dim)
	}
	tx, err := w.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	settings := []string{fmt.Sprintf("SET LOCAL hnsw.ef_search = %d", EfSearch(n))}
	if exact {
		settings = append(settings, "SET LOCAL enable_indexscan = off")
	} else if !f.IsZero() && w.pg.iterative {
		// Without it, a filter applies to the ef_search rows the index
		// returns and a selective one leaves fewer than n.
		settings = append(settings, "SET LOCAL hnsw.iterative_scan = relaxed_order")
	}
	for _, s := range settings {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	_, cast, _ := w.pg.vectorColumn()
	cols, vec, from := `i.id, i.row`, `i.embedding`, `images i`
	if k == Captions {
		cols, vec, from = `c.id, c.row`, `c.embedding`, `captions c JOIN images i ON i.id = c.image_id`
	}
	where, fargs := w.filterSQL(f)
	// The SELECT orders by the distance as written, so that the planner
	// matches it with the index; <#> is the negated inner product.
	dist := vec + ` <#> $1` + cast
	q := `SELECT ` + cols + `, ` + dist + ` FROM ` + from + numbered(where, 3) + ` ORDER BY ` + dist + ` LIMIT $2`
	args := append([]any{w.pg.encode([][]float32{query}).([]string)[0], n}, fargs...)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Match
	for rows.Next() {
		var m Match
		var d float64
		if err := rows.Scan(&m.ID, &m.Row, &d); err != nil {
			return nil, err
		}
		m.Score = float32(-d)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// relaxed_order may return neighbours slightly out of order.
	slices.SortStableFunc(out, func(a, b Match) int { return cmp.Compare(b.Score, a.Score) })
	return out, nil
}
