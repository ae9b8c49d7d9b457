package workspace

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"time"
)

// NewImage is an image to add, with its vector and its captions' vectors.
type NewImage struct {
	Key, Path, SHA256 string
	Size, MTime       int64
	Split             string
	Vector            []float32
	Captions          []string
	CaptionVectors    [][]float32
	// Data, if not nil, is the image file itself, which a database
	// workspace stores (see File): uploads reach every replica that way.
	// A folder keeps files on disk and refuses it.
	Data []byte
}

// Add commits a batch of images with their captions, and records images
// that were skipped. An image whose key is already indexed replaces the old
// one (its old vectors become dead rows). The batch is atomic: after a crash
// either all of it is there or none.
func (w *Workspace) Add(ctx context.Context, batch []NewImage, skipped []Skip) (err error) {
	defer w.fail(&err, "add %s", count(len(batch), "image"))
	if !w.writable {
		return errReadOnly
	}
	if err := w.validate(batch); err != nil {
		return err
	}
	if w.pg != nil {
		return w.pg.add(ctx, w.db, batch, skipped, nil)
	}
	var imgVecs, capVecs []float32
	for _, im := range batch {
		imgVecs = append(imgVecs, im.Vector...)
		for _, v := range im.CaptionVectors {
			capVecs = append(capVecs, v...)
		}
	}
	imgRows, err := w.Rows(Images)
	if err != nil {
		return err
	}
	capRows, err := w.Rows(Captions)
	if err != nil {
		return err
	}
	// Vectors first, synced: the transaction below is what makes them
	// count, so a crash in between leaves only unreferenced rows.
	if err := w.writeRows(Images, imgRows, imgVecs); err != nil {
		return err
	}
	if err := w.writeRows(Captions, capRows, capVecs); err != nil {
		return err
	}

	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().Unix()
	row, crow := imgRows, capRows
	for _, im := range batch {
		if _, err := tx.ExecContext(ctx, `DELETE FROM images WHERE key = ?`, im.Key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM skipped WHERE key = ?`, im.Key); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO images (key, path, sha256, size, mtime, split, row, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			im.Key, im.Path, im.SHA256, im.Size, im.MTime, im.Split, row, now)
		if err != nil {
			return fmt.Errorf("add image %s: %w", im.Key, err)
		}
		row++
		id, _ := res.LastInsertId()
		for i, text := range im.Captions {
			if _, err := tx.ExecContext(ctx, `INSERT INTO captions (image_id, ord, text, row) VALUES (?, ?, ?, ?)`, id, i, text, crow); err != nil {
				return fmt.Errorf("add caption of %s: %w", im.Key, err)
			}
			crow++
		}
	}
	for _, s := range skipped {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO skipped (key, path, size, mtime, reason) VALUES (?, ?, ?, ?, ?)`,
			s.Key, s.Path, s.Size, s.MTime, s.Reason); err != nil {
			return err
		}
	}
	if err := setCounts(ctx, tx, row, crow); err != nil {
		return err
	}
	return tx.Commit()
}

// validate checks that a batch's vectors fit the workspace.
func (w *Workspace) validate(batch []NewImage) error {
	dim := w.manifest.Model.Dim
	for _, im := range batch {
		if im.Data != nil && w.pg == nil {
			return fmt.Errorf("image %s: a folder workspace keeps files on disk, not in its database", im.Key)
		}
		if len(im.Vector) != dim {
			return fmt.Errorf("image %s: vector has %d values, want %d", im.Key, len(im.Vector), dim)
		}
		if len(im.CaptionVectors) != len(im.Captions) {
			return fmt.Errorf("image %s: %d caption vectors for %d captions", im.Key, len(im.CaptionVectors), len(im.Captions))
		}
		for i, v := range im.CaptionVectors {
			if len(v) != dim {
				return fmt.Errorf("image %s: caption %d vector has %d values, want %d", im.Key, i, len(v), dim)
			}
		}
	}
	return nil
}

func setCounts(ctx context.Context, tx *sql.Tx, imgRows, capRows int) error {
	for _, kv := range []struct {
		key string
		v   int
	}{{"image_rows", imgRows}, {"caption_rows", capRows}} {
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = ?`, kv.v, kv.key); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE meta SET value = value + 1 WHERE key = 'generation'`)
	return err
}

// Touch records a new size and modification time for an image whose
// content did not change, so that the next run need not hash it again.
func (w *Workspace) Touch(ctx context.Context, key string, size, mtime int64, path string) (err error) {
	defer w.fail(&err, "update image %s", key)
	if !w.writable {
		return errReadOnly
	}
	_, err = w.db.ExecContext(ctx, w.sql(`UPDATE images SET size = ?, mtime = ?, path = ? WHERE key = ?`), size, mtime, path, key)
	return err
}

// Delete removes images (and their captions) by key and reports how many
// were removed.
func (w *Workspace) Delete(ctx context.Context, keys []string) (n int, err error) {
	defer w.fail(&err, "delete %s", count(len(keys), "image"))
	if !w.writable {
		return 0, errReadOnly
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if w.pg != nil {
		if _, err := lockMeta(ctx, tx); err != nil {
			return 0, err
		}
	}
	for _, k := range keys {
		res, err := tx.ExecContext(ctx, w.sql(`DELETE FROM images WHERE key = ?`), k)
		if err != nil {
			return 0, err
		}
		d, _ := res.RowsAffected()
		n += int(d)
		if _, err := tx.ExecContext(ctx, w.sql(`DELETE FROM skipped WHERE key = ?`), k); err != nil {
			return 0, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = value + 1 WHERE key = 'generation'`); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// errReadOnly refuses writes through a workspace opened with Open.
var errReadOnly = errors.New("opened read-only")

// fail names the workspace and the operation in a write's error, once:
// the errors inside (SQLite's "database or disk is full", a file's
// "no space left on device") name neither.
func (w *Workspace) fail(err *error, op string, args ...any) {
	if *err != nil {
		*err = fmt.Errorf("workspace %s: %s: %w", w.loc, fmt.Sprintf(op, args...), *err)
	}
}

// count writes "1 image", "2 images".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// writeRows writes vectors at row `from` of a kind's file and syncs it.
func (w *Workspace) writeRows(k Kind, from int, vecs []float32) error {
	if len(vecs) == 0 {
		return nil
	}
	f, err := os.OpenFile(w.vectorPath(k), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, 4*len(vecs))
	for i, v := range vecs {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	off := int64(from) * int64(w.manifest.Model.Dim) * 4
	if _, err := f.WriteAt(buf, off); err != nil {
		f.Close()
		return fmt.Errorf("write vectors/%s.f32: %w", k, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync vectors/%s.f32: %w", k, err)
	}
	return f.Close()
}

// trimVectors cuts rows left past the committed count by an interrupted
// batch, so that the files hold exactly the rows the database knows.
func (w *Workspace) trimVectors() error {
	if w.pg != nil {
		return nil
	}
	for _, k := range []Kind{Images, Captions} {
		rows, err := w.Rows(k)
		if err != nil {
			return err
		}
		want := int64(rows) * int64(w.manifest.Model.Dim) * 4
		st, err := os.Stat(w.vectorPath(k))
		if errors.Is(err, os.ErrNotExist) {
			if rows > 0 {
				return fmt.Errorf("%s is missing but the workspace records %d rows", w.vectorPath(k), rows)
			}
			continue
		}
		if err != nil {
			return err
		}
		switch {
		case st.Size() < want:
			return fmt.Errorf("%s holds %d bytes but the workspace records %d rows (%d bytes): the file was truncated", w.vectorPath(k), st.Size(), rows, want)
		case st.Size() > want:
			if err := os.Truncate(w.vectorPath(k), want); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadVectors reads rows [from, to) of a kind's vectors.
func (w *Workspace) ReadVectors(k Kind, from, to int) ([]float32, error) {
	if to <= from {
		return nil, nil
	}
	if w.pg != nil {
		return w.pg.readVectors(context.Background(), w.db, k, from, to)
	}
	dim := w.manifest.Model.Dim
	f, err := os.Open(w.vectorPath(k))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, (to-from)*dim*4)
	if _, err := f.ReadAt(buf, int64(from)*int64(dim)*4); err != nil {
		return nil, fmt.Errorf("read rows %d–%d of %s: %w", from, to, w.vectorPath(k), err)
	}
	out := make([]float32, (to-from)*dim)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return out, nil
}
