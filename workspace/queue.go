package workspace

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A database workspace holds a queue of encoding work, so that any number
// of workers on any number of machines share one indexing run. `xmodal
// index --enqueue` records batches of images (a job each); a worker
// claims a job with SELECT … FOR UPDATE SKIP LOCKED under a lease,
// encodes it, and commits its documents and the job's completion in one
// transaction. A worker that dies loses its lease, and the job goes to
// the next worker; the completion checks that the lease is still the
// committer's, so a job is committed once.

// JobItem is one image of a job: what a worker needs to index it.
type JobItem struct {
	Key      string   `json:"key"`
	Name     string   `json:"name"` // path within the job's root
	Split    string   `json:"split,omitempty"`
	Captions []string `json:"captions,omitempty"`
}

// Job is a batch of images claimed by a worker.
type Job struct {
	ID       int64
	Root     string
	Items    []JobItem
	Attempts int // including this one
}

// MaxAttempts is how many times a job is claimed before it is marked
// failed: a job that kills every worker that takes it must not take the
// whole fleet down.
const MaxAttempts = 5

// ErrLeaseLost is returned by Complete and Renew when the job's lease
// expired and another worker claimed it: the work is dropped, since the
// other worker commits it.
var ErrLeaseLost = errors.New("lease lost: another worker took the job")

func (w *Workspace) needQueue() error {
	if w.pg == nil {
		return fmt.Errorf("workspace %s: the job queue needs a database workspace (postgres://…)", w.loc)
	}
	return nil
}

// Enqueue records batches of images under root as jobs, in one
// transaction, and returns how many jobs it added.
func (w *Workspace) Enqueue(ctx context.Context, root string, batches [][]JobItem) (int, error) {
	if err := w.needQueue(); err != nil {
		return 0, err
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n := 0
	for lo := 0; lo < len(batches); lo += 1000 {
		chunk := batches[lo:min(lo+1000, len(batches))]
		items, sizes := make([]string, len(chunk)), make([]int64, len(chunk))
		for i, b := range chunk {
			data, _ := json.Marshal(b)
			items[i], sizes[i] = string(data), int64(len(b))
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO jobs (root, items, n) SELECT $1, i, n FROM unnest($2::text[], $3::bigint[]) AS t(i, n)`, root, items, sizes)
		if err != nil {
			return 0, fmt.Errorf("enqueue: %w", err)
		}
		added, _ := res.RowsAffected()
		n += int(added)
	}
	return n, tx.Commit()
}

// PendingKeys returns the keys of the images in jobs not yet done, so that
// enqueueing again does not queue them twice.
func (w *Workspace) PendingKeys(ctx context.Context) (map[string]bool, error) {
	if err := w.needQueue(); err != nil {
		return nil, err
	}
	rows, err := w.db.QueryContext(ctx, `SELECT items FROM jobs WHERE state = 'todo'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var items []JobItem
		if err := json.Unmarshal([]byte(data), &items); err != nil {
			return nil, err
		}
		for _, it := range items {
			out[it.Key] = true
		}
	}
	return out, rows.Err()
}

// Claim leases the oldest job that nobody holds (or whose lease expired)
// to worker for lease, and returns it; nil when there is none. Workers
// skip each other's locked rows rather than wait for them.
func (w *Workspace) Claim(ctx context.Context, worker string, lease time.Duration) (*Job, error) {
	if err := w.needQueue(); err != nil {
		return nil, err
	}
	for {
		j, retry, err := w.claim(ctx, worker, lease)
		if !retry {
			return j, err
		}
	}
}

// claim makes one attempt at Claim; retry says that it set aside a job
// that had failed too often, and should look again.
func (w *Workspace) claim(ctx context.Context, worker string, lease time.Duration) (_ *Job, retry bool, _ error) {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	var j Job
	var items string
	err = tx.QueryRowContext(ctx, `UPDATE jobs SET worker = $1, lease_until = now() + $2 * interval '1 millisecond', attempts = attempts + 1
		WHERE id = (SELECT id FROM jobs WHERE state = 'todo' AND (lease_until IS NULL OR lease_until < now())
			ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING id, root, items, attempts`, worker, lease.Milliseconds()).Scan(&j.ID, &j.Root, &items, &j.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if j.Attempts > MaxAttempts {
		// Every worker that took it died or failed: set it aside.
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'failed', finished = now(), error = coalesce(error, $2) WHERE id = $1`,
			j.ID, fmt.Sprintf("claimed %d times and never completed", MaxAttempts)); err != nil {
			return nil, false, err
		}
		return nil, true, tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO workers (name, started, last_seen) VALUES ($1, now(), now())
		ON CONFLICT (name) DO UPDATE SET last_seen = now()`, worker); err != nil {
		return nil, false, err
	}
	if err := json.Unmarshal([]byte(items), &j.Items); err != nil {
		return nil, false, fmt.Errorf("job %d: %w", j.ID, err)
	}
	return &j, false, tx.Commit()
}

// Unfinished counts the jobs not yet done or failed, leased or not.
func (w *Workspace) Unfinished(ctx context.Context) (int, error) {
	if err := w.needQueue(); err != nil {
		return 0, err
	}
	var n int
	err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE state = 'todo'`).Scan(&n)
	return n, err
}

// Renew extends a job's lease, for work that takes longer than one.
func (w *Workspace) Renew(ctx context.Context, j *Job, worker string, lease time.Duration) error {
	res, err := w.db.ExecContext(ctx, `UPDATE jobs SET lease_until = now() + $3 * interval '1 millisecond'
		WHERE id = $1 AND worker = $2 AND state = 'todo'`, j.ID, worker, lease.Milliseconds())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Complete commits a claimed job's documents and marks it done, in one
// transaction: either both happen or neither. It returns ErrLeaseLost,
// committing nothing, if another worker has taken the job over.
func (w *Workspace) Complete(ctx context.Context, j *Job, worker string, batch []NewImage, skipped []Skip) (err error) {
	defer w.fail(&err, "complete job %d", j.ID)
	if err := w.validate(batch); err != nil {
		return err
	}
	return w.pg.add(ctx, w.db, batch, skipped, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'done', finished = now(), error = NULL
			WHERE id = $1 AND worker = $2 AND state = 'todo'`, j.ID, worker)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrLeaseLost
		}
		_, err = tx.ExecContext(ctx, `UPDATE workers SET jobs = jobs + 1, images = images + $2, last_seen = now() WHERE name = $1`,
			worker, len(j.Items))
		return err
	})
}

// Release gives a claimed job back (its worker is stopping, or failed on
// it), recording why; the next claim takes it at once.
func (w *Workspace) Release(ctx context.Context, j *Job, worker string, reason error) error {
	msg := ""
	if reason != nil {
		msg = reason.Error()
	}
	_, err := w.db.ExecContext(ctx, `UPDATE jobs SET lease_until = NULL, error = nullif($3, '')
		WHERE id = $1 AND worker = $2 AND state = 'todo'`, j.ID, worker, msg)
	return err
}

// QueueStatus is the state of a workspace's job queue.
type QueueStatus struct {
	Jobs         int `json:"jobs"`
	JobsDone     int `json:"jobs_done"`
	JobsFailed   int `json:"jobs_failed"`
	JobsLeased   int `json:"jobs_leased"` // being worked on
	Images       int `json:"images"`
	ImagesDone   int `json:"images_done"`
	ImagesFailed int `json:"images_failed"`
	// First and Last bound the finished jobs' completion times; zero
	// without any.
	First    time.Time      `json:"first_done"`
	Last     time.Time      `json:"last_done"`
	Workers  []WorkerStatus `json:"workers"`
	Failures []string       `json:"failures,omitempty"` // the errors of failed jobs, a few
}

// WorkerStatus is one worker's share of the work.
type WorkerStatus struct {
	Name    string    `json:"name"`
	Started time.Time `json:"started"`
	Seen    time.Time `json:"last_seen"`
	Jobs    int       `json:"jobs"`
	Images  int       `json:"images"`
	Leased  int       `json:"leased"` // jobs it holds now
}

// Rate is the worker's images per second from its start to its last news.
func (s WorkerStatus) Rate() float64 {
	if d := s.Seen.Sub(s.Started).Seconds(); d > 0 {
		return float64(s.Images) / d
	}
	return 0
}

// Queue reports the job queue's state.
func (w *Workspace) Queue(ctx context.Context) (*QueueStatus, error) {
	if err := w.needQueue(); err != nil {
		return nil, err
	}
	var s QueueStatus
	var first, last sql.NullTime
	err := w.db.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'failed'),
			count(*) FILTER (WHERE state = 'todo' AND lease_until > now()),
			coalesce(sum(n), 0), coalesce(sum(n) FILTER (WHERE state = 'done'), 0), coalesce(sum(n) FILTER (WHERE state = 'failed'), 0),
			min(finished) FILTER (WHERE state = 'done'), max(finished) FILTER (WHERE state = 'done')
		FROM jobs`).Scan(&s.Jobs, &s.JobsDone, &s.JobsFailed, &s.JobsLeased, &s.Images, &s.ImagesDone, &s.ImagesFailed, &first, &last)
	if err != nil {
		return nil, err
	}
	s.First, s.Last = first.Time, last.Time
	rows, err := w.db.QueryContext(ctx, `SELECT w.name, w.started, w.last_seen, w.jobs, w.images,
			(SELECT count(*) FROM jobs j WHERE j.worker = w.name AND j.state = 'todo' AND j.lease_until > now())
		FROM workers w ORDER BY w.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var ws WorkerStatus
		if err := rows.Scan(&ws.Name, &ws.Started, &ws.Seen, &ws.Jobs, &ws.Images, &ws.Leased); err != nil {
			return nil, err
		}
		s.Workers = append(s.Workers, ws)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	fails, err := w.db.QueryContext(ctx, `SELECT 'job ' || id || ': ' || coalesce(error, '?') FROM jobs WHERE state = 'failed' ORDER BY id LIMIT 5`)
	if err != nil {
		return nil, err
	}
	defer fails.Close()
	for fails.Next() {
		var f string
		if err := fails.Scan(&f); err != nil {
			return nil, err
		}
		s.Failures = append(s.Failures, f)
	}
	return &s, fails.Err()
}
