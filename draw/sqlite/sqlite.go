// Package sqlite keeps board logs in one SQLite file (driver modernc.org/sqlite,
// pure Go: no cgo).
//
// The file runs in WAL mode with synchronous=NORMAL: a commit is a write to the
// -wal file without an fsync, so group commits are cheap. That survives a crash
// of the process (kill -9) with every acknowledged op; a power loss or kernel
// crash may lose the last commits but never corrupts the file.
//
// Backing up a live file: `sqlite3 draw.db ".backup copy.db"`, or the SQL
// statement `VACUUM INTO 'copy.db'` on any connection. Copying draw.db alone
// while the server runs is not a backup: recent commits live in draw.db-wal
// until a checkpoint moves them. Deleted ops leave free pages that later
// appends reuse; the file only shrinks after VACUUM.
//
// One process writes a file at a time: heads are cached in memory after their
// first read, and Append checks the caller's numbering against them.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drawing/draw/draw"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// applicationID marks a file as ours in its header ("draw").
const applicationID = 0x64726177

// migrations[v] brings a file from schema version v to v+1; user_version holds
// the version a file has. Append steps, never edit a released one.
var migrations = []string{
	`CREATE TABLE ops(
		board TEXT NOT NULL,
		seq INTEGER NOT NULL,
		time INTEGER NOT NULL, -- Unix milliseconds, from the op
		data BLOB NOT NULL,
		PRIMARY KEY (board, seq)
	) WITHOUT ROWID;
	CREATE TABLE boards(
		name TEXT PRIMARY KEY,
		head INTEGER NOT NULL,
		updated INTEGER NOT NULL -- Unix milliseconds of the last append
	);`,
}

// readChunk is how many ops Read fetches per query: each query is its own
// short read transaction, so a slow reader never keeps the WAL from being
// checkpointed.
const readChunk = 1000

// insertRows is how many ops one multi-row INSERT stores: database/sql costs
// ~6 µs per statement, so batches of 256 store ~4x faster than row by row.
const insertRows = 64

// Store is a draw.Store in a SQLite file.
type Store struct {
	name string  // the file, for messages
	w    *sql.DB // the one writer connection
	r    *sql.DB // read-only connections for Read and Boards

	mu      sync.Mutex       // serialises writes and guards heads
	heads   map[string]int64 // committed head of every board read or written so far
	head    *sql.Stmt
	insertN *sql.Stmt // insertRows rows
	insert1 *sql.Stmt
	upsert  *sql.Stmt
	read    *sql.Stmt
}

var _ draw.Store = (*Store)(nil)

// Open opens or creates the database at path: a file path (draw.db) or a file:
// URI whose query may carry the driver's parameters, such as
// _pragma=max_page_count(N). It refuses, without changing it, a file that is
// not SQLite, belongs to another application, is corrupt (PRAGMA quick_check
// reads the whole file: a few seconds per GB), or was written by a newer
// schema version.
func Open(path string) (*Store, error) {
	file, query, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	if file == "" || file == ":memory:" {
		return nil, fmt.Errorf("sqlite: %q is not a file path; use draw.NewMemoryStore for a store in memory", path)
	}
	// journal_mode is set by a statement after the checks below, not here:
	// a DSN pragma would convert a foreign file before we could refuse it.
	wq := withParams(query, "_txlock", "immediate", "_pragma", "busy_timeout(5000)", "_pragma", "synchronous(NORMAL)")
	w, err := sql.Open("sqlite", dsn(file, wq))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", file, err)
	}
	w.SetMaxOpenConns(1)
	s := &Store{name: file, w: w, heads: make(map[string]int64)}
	if err := s.setUp(); err != nil {
		w.Close()
		return nil, err
	}
	rq := withParams(query, "_pragma", "busy_timeout(5000)", "_pragma", "query_only(1)")
	if s.r, err = sql.Open("sqlite", dsn(file, rq)); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", file, err)
	}
	s.r.SetMaxOpenConns(4)
	s.r.SetMaxIdleConns(4)
	if err := s.prepare(); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", file, err)
	}
	return s, nil
}

// splitPath separates the file name from the driver's query parameters.
func splitPath(path string) (file string, query url.Values, err error) {
	file, raw, _ := strings.Cut(path, "?")
	if query, err = url.ParseQuery(raw); err != nil {
		return "", nil, fmt.Errorf("sqlite: bad parameters in %q: %w", path, err)
	}
	if rest, ok := strings.CutPrefix(file, "file:"); ok {
		rest, _, _ = strings.Cut(rest, "#")
		if auth, ok := strings.CutPrefix(rest, "//"); ok { // file://host/path: only an empty host or localhost
			i := strings.IndexByte(auth, '/')
			if i < 0 || (auth[:i] != "" && auth[:i] != "localhost") {
				return "", nil, fmt.Errorf("sqlite: %q: a file: URI may only name a local file", path)
			}
			rest = auth[i:]
		}
		if file, err = url.PathUnescape(rest); err != nil {
			return "", nil, fmt.Errorf("sqlite: bad file name in %q: %w", path, err)
		}
	}
	return file, query, nil
}

// withParams returns a copy of q with the key, value pairs added.
func withParams(q url.Values, kv ...string) url.Values {
	out := make(url.Values, len(q)+len(kv)/2)
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	for i := 0; i < len(kv); i += 2 {
		out.Add(kv[i], kv[i+1])
	}
	return out
}

// dsn builds the URI the driver and SQLite both parse.
func dsn(file string, q url.Values) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(file)
	return "file:" + esc + "?" + q.Encode()
}

// setUp checks that the file is ours (or new), switches it to WAL and brings
// its schema up to date. Nothing is written before the checks pass.
func (s *Store) setUp() error {
	var appID, version int64
	if err := s.w.QueryRow("PRAGMA application_id").Scan(&appID); err != nil {
		return s.openError(err)
	}
	if err := s.w.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return s.openError(err)
	}
	var tables []string
	rows, err := s.w.Query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
	if err != nil {
		return s.openError(err)
	}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return s.openError(err)
		}
		tables = append(tables, t)
	}
	if err := rows.Err(); err != nil {
		return s.openError(err)
	}
	switch {
	case appID == 0 && len(tables) == 0 && version == 0: // new or empty file
	case appID == 0:
		what := "tables: " + strings.Join(tables, ", ")
		if len(tables) == 0 {
			what = fmt.Sprintf("user_version %d", version)
		}
		return fmt.Errorf("sqlite: %s belongs to another application (%s; no drawing application_id): refusing to start; move it away or pass another -db path",
			s.name, what)
	case appID != applicationID:
		return fmt.Errorf("sqlite: %s belongs to another application (application_id %#x, ours is %#x): refusing to start; move it away or pass another -db path",
			s.name, appID, applicationID)
	case version > int64(len(migrations)):
		return fmt.Errorf("sqlite: %s was written by a newer version of this server (schema version %d, this build knows up to %d): refusing to start; run the newer version or pass another -db path",
			s.name, version, len(migrations))
	default:
		if err := s.quickCheck(); err != nil {
			return err
		}
	}
	var mode string
	if err := s.w.QueryRow("PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return s.openError(err)
	}
	if mode != "wal" {
		return fmt.Errorf("sqlite: %s: cannot switch to WAL mode (journal_mode is %q); is it on a file system without shared memory?", s.name, mode)
	}
	for v := version; v < int64(len(migrations)); v++ {
		if err := s.migrate(v); err != nil {
			return fmt.Errorf("sqlite: upgrade %s from schema version %d to %d: %w", s.name, v, v+1, err)
		}
	}
	return nil
}

func (s *Store) quickCheck() error {
	rows, err := s.w.Query("PRAGMA quick_check")
	if err != nil {
		return s.openError(err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return s.openError(err)
		}
		if p != "ok" && len(problems) < 3 {
			problems = append(problems, strings.ReplaceAll(p, "\n", " "))
		}
	}
	if err := rows.Err(); err != nil {
		return s.openError(err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("sqlite: %s is corrupt (quick_check: %s): refusing to start; restore a backup or move it away", s.name, strings.Join(problems, "; "))
	}
	return nil
}

// openError explains an error met while checking the file.
func (s *Store) openError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("sqlite: %s is not a SQLite database (%v): refusing to start; move it away or pass another -db path", s.name, err)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("sqlite: %s is corrupt (%v): refusing to start; restore a backup or move it away", s.name, err)
		}
	}
	return fmt.Errorf("sqlite: open %s: %w", s.name, err)
}

func (s *Store) migrate(from int64) error {
	tx, err := s.w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(migrations[from]); err != nil {
		return err
	}
	// PRAGMA takes no parameters; both values are our own integers.
	if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", from+1, applicationID)); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) prepare() (err error) {
	var values []string
	for range insertRows {
		values = append(values, "(?, ?, ?, ?)")
	}
	for _, p := range []struct {
		db    *sql.DB
		stmt  **sql.Stmt
		query string
	}{
		{s.w, &s.head, "SELECT head FROM boards WHERE name = ?"},
		{s.w, &s.insertN, "INSERT INTO ops(board, seq, time, data) VALUES " + strings.Join(values, ", ")},
		{s.w, &s.insert1, "INSERT INTO ops(board, seq, time, data) VALUES (?, ?, ?, ?)"},
		{s.w, &s.upsert, "INSERT INTO boards(name, head, updated) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET head = excluded.head, updated = excluded.updated"},
		{s.r, &s.read, "SELECT seq, time, data FROM ops WHERE board = ? AND seq > ? ORDER BY seq LIMIT ?"},
	} {
		if *p.stmt, err = p.db.Prepare(p.query); err != nil {
			return err
		}
	}
	return nil
}

// Append stores ops in one transaction, checking first that each board's
// ops continue its committed head (see draw.Store). On error nothing is
// stored.
func (s *Store) Append(ctx context.Context, ops []draw.Op) error {
	if len(ops) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	heads, err := s.append(ctx, ops)
	if err != nil {
		return fmt.Errorf("sqlite: store %d ops in %s: %w", len(ops), s.name, err)
	}
	// Only a committed batch moves the cached heads.
	for b, h := range heads {
		s.heads[b] = h
	}
	return nil
}

// headOf returns the board's committed head: cached, or read once from the
// boards table (this process is the file's only writer).
func (s *Store) headOf(ctx context.Context, tx *sql.Tx, board string) (int64, error) {
	if h, ok := s.heads[board]; ok {
		return h, nil
	}
	var h int64
	err := tx.StmtContext(ctx, s.head).QueryRowContext(ctx, board).Scan(&h)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	return h, nil
}

func (s *Store) append(ctx context.Context, ops []draw.Op) (map[string]int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() // after a failed statement; a no-op after Commit
	heads := make(map[string]int64)
	for _, op := range ops {
		h, inBatch := heads[op.Board]
		if !inBatch {
			if h, err = s.headOf(ctx, tx, op.Board); err != nil {
				return nil, err
			}
		}
		if err := draw.CheckSeq(op, h, inBatch); err != nil {
			return nil, err
		}
		heads[op.Board] = op.Seq
	}
	insertN, insert1 := tx.StmtContext(ctx, s.insertN), tx.StmtContext(ctx, s.insert1)
	args := make([]any, 0, 4*insertRows)
	for i := 0; i < len(ops); {
		stmt, n := insertN, insertRows
		if len(ops)-i < insertRows {
			stmt, n = insert1, 1
		}
		args = args[:0]
		for _, op := range ops[i : i+n] {
			data := op.Data
			if data == nil {
				data = []byte{} // the driver would store nil as NULL
			}
			args = append(args, op.Board, op.Seq, op.Time, data)
			i++
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return nil, err
		}
	}
	now := time.Now().UnixMilli()
	upsert := tx.StmtContext(ctx, s.upsert)
	for b, h := range heads {
		if _, err := upsert.ExecContext(ctx, b, h, now); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return heads, nil
}

func (s *Store) Read(ctx context.Context, board string, since int64, fn func(draw.Op) error) error {
	for {
		chunk, err := s.readChunk(ctx, board, since)
		if err != nil {
			return fmt.Errorf("sqlite: read board %q since %d from %s: %w", board, since, s.name, err)
		}
		for _, op := range chunk {
			if err := fn(op); err != nil {
				if errors.Is(err, draw.ErrStopRead) {
					return nil
				}
				return err
			}
		}
		if len(chunk) < readChunk {
			return ctx.Err()
		}
		since = chunk[len(chunk)-1].Seq
	}
}

// readChunk returns up to readChunk ops and ends its read transaction before
// the callback sees them.
func (s *Store) readChunk(ctx context.Context, board string, since int64) ([]draw.Op, error) {
	rows, err := s.read.QueryContext(ctx, board, since, readChunk)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var chunk []draw.Op
	var data sql.RawBytes
	for rows.Next() {
		op := draw.Op{Board: board}
		if err := rows.Scan(&op.Seq, &op.Time, &data); err != nil {
			return nil, err
		}
		op.Data = slices.Clone(data) // RawBytes is only valid until the next row
		chunk = append(chunk, op)
	}
	return chunk, rows.Err()
}

func (s *Store) Trim(ctx context.Context, board string, before int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The same as draw.StripPoints, inside SQLite: the data is JSON text kept
	// as a BLOB, which JSON functions would take for JSONB.
	const strip = `UPDATE ops SET data = CAST(json_remove(CAST(data AS TEXT), '$.points') AS BLOB)
		WHERE board = ? AND seq < ? AND CAST(data AS TEXT) LIKE '%"points":%'`
	if _, err := s.w.ExecContext(ctx, strip, board, before); err != nil {
		return fmt.Errorf("sqlite: trim board %q before %d in %s: %w", board, before, s.name, err)
	}
	return nil
}

// Boards lists boards by name; when after is "" the default board "" comes
// first, as in draw.MemoryStore.
func (s *Store) Boards(ctx context.Context, after string, limit int) ([]draw.BoardInfo, error) {
	cmp := ">"
	if after == "" {
		cmp = ">="
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.r.QueryContext(ctx, "SELECT name, head, updated FROM boards WHERE name "+cmp+" ? ORDER BY name LIMIT ?", after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list boards after %q in %s: %w", after, s.name, err)
	}
	defer rows.Close()
	var out []draw.BoardInfo
	for rows.Next() {
		var b draw.BoardInfo
		var updated int64
		if err := rows.Scan(&b.Name, &b.Head, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: list boards in %s: %w", s.name, err)
		}
		b.Updated = time.UnixMilli(updated)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list boards in %s: %w", s.name, err)
	}
	return out, nil
}

// Info describes one board.
func (s *Store) Info(ctx context.Context, board string) (draw.BoardInfo, bool, error) {
	b := draw.BoardInfo{Name: board}
	var updated int64
	err := s.r.QueryRowContext(ctx, "SELECT head, updated FROM boards WHERE name = ?", board).Scan(&b.Head, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return draw.BoardInfo{}, false, nil
	}
	if err != nil {
		return draw.BoardInfo{}, false, fmt.Errorf("sqlite: board %q in %s: %w", board, s.name, err)
	}
	b.Updated = time.UnixMilli(updated)
	return b, true, nil
}

// Delete removes the board's ops and its head: numbering starts again at 1.
func (s *Store) Delete(ctx context.Context, board string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.delete(ctx, board); err != nil {
		return fmt.Errorf("sqlite: delete board %q in %s: %w", board, s.name, err)
	}
	delete(s.heads, board)
	return nil
}

func (s *Store) delete(ctx context.Context, board string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM ops WHERE board = ?", board); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM boards WHERE name = ?", board); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the readers first, so that closing the writer can checkpoint
// the WAL into the main file and remove it.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", s.name, err)
	}
	return nil
}
