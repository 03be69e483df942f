package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/storetest"
)

var ctx = context.Background()

func openT(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) draw.Store { return openT(t, filepath.Join(t.TempDir(), "draw.db")) })
}

// ops returns n ops for board numbered from seq from on, whose Data is size
// bytes.
func ops(board string, from int64, n, size int) []draw.Op {
	out := make([]draw.Op, n)
	for i := range out {
		data := fmt.Appendf(nil, `{"type":"stroke","stroke":"s%d","points":[1`, i)
		for len(data) < size-2 {
			data = append(data, ",1"...)
		}
		out[i] = draw.Op{Board: board, Seq: from + int64(i), Time: int64(i), Data: append(data, "]}"...)}
	}
	return out
}

func head(t *testing.T, s *Store, board string) int64 {
	t.Helper()
	boards, err := s.Boards(ctx, "", 0)
	if err != nil {
		t.Fatalf("Boards: %v", err)
	}
	for _, b := range boards {
		if b.Name == board {
			return b.Head
		}
	}
	return 0
}

func count(t *testing.T, s *Store, board string) (n, last int64) {
	t.Helper()
	err := s.Read(ctx, board, 0, func(op draw.Op) error {
		n++
		if op.Seq != last+1 && last != 0 {
			return fmt.Errorf("seq %d after %d", op.Seq, last)
		}
		last = op.Seq
		return nil
	})
	if err != nil {
		t.Fatalf("Read(%q): %v", board, err)
	}
	return n, last
}

// direct opens the file with database/sql alone, beside or instead of a Store.
func direct(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, query string) {
	t.Helper()
	if _, err := db.Exec(query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "draw.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, append(ops("a", 1, 300, 100), ops("b", 1, 2, 100)...)); err != nil {
		t.Fatal(err)
	}
	if err := s.Trim(ctx, "a", 101); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("the -wal file is still there after Close (%v): the last close should checkpoint it away", err)
	}

	s = openT(t, path)
	if n, last := count(t, s, "a"); n != 300 || last != 300 {
		t.Fatalf("after reopening, board a has %d ops up to %d, want 300 up to 300", n, last)
	}
	withPoints := 0
	s.Read(ctx, "a", 0, func(op draw.Op) error {
		if bytes.Contains(op.Data, []byte(`"points"`)) {
			withPoints++
		} else if op.Seq > 100 {
			t.Errorf("op %d lost its points; only ops before 101 were trimmed", op.Seq)
		}
		return nil
	})
	if withPoints != 200 {
		t.Errorf("%d ops of board a keep their points after Trim(101), want 200", withPoints)
	}
	// The heads come back from the file: a stale seq is a conflict.
	if err := s.Append(ctx, append(ops("b", 3, 1, 100), ops("a", 300, 1, 100)...)); !errors.Is(err, draw.ErrConflict) {
		t.Fatalf("after reopening, appending a's seq 300 again: %v, want ErrConflict", err)
	}
	if err := s.Append(ctx, append(ops("b", 3, 1, 100), ops("a", 301, 1, 100)...)); err != nil {
		t.Fatalf("after reopening, appending b 3 and a 301: %v", err)
	}
	if n, last := count(t, s, "b"); n != 3 || last != 3 {
		t.Fatalf("board b has %d ops up to %d, want 3", n, last)
	}
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "draw.db")
	for range 2 { // opening again changes nothing
		s := openT(t, path)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := direct(t, path)
	var appID, version int64
	var mode string
	if err := db.QueryRow("SELECT * FROM pragma_application_id, pragma_user_version, pragma_journal_mode").Scan(&appID, &version, &mode); err != nil {
		t.Fatal(err)
	}
	if appID != applicationID || version != int64(len(migrations)) || mode != "wal" {
		t.Fatalf("application_id %#x, user_version %d, journal_mode %s; want %#x, %d, wal", appID, version, mode, applicationID, len(migrations))
	}
}

func TestPaths(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "odd name #1 100%.db")
	for i, path := range []string{name, "file:" + strings.ReplaceAll(strings.ReplaceAll(name, "%", "%25"), "#", "%23") + "?_pragma=cache_size(-4000)"} {
		s := openT(t, path)
		if err := s.Append(ctx, ops("p", int64(i+1), 1, 10)); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != filepath.Base(name) {
		t.Fatalf("files in the directory: %v, want only %q", entries, filepath.Base(name))
	}
	if n, _ := count(t, openT(t, name), "p"); n != 2 {
		t.Fatalf("%d ops stored, want 2 (both paths must name the same file)", n)
	}
	if _, err := Open(":memory:"); err == nil || !strings.Contains(err.Error(), "NewMemoryStore") {
		t.Fatalf("Open(:memory:) = %v, want an error pointing to NewMemoryStore", err)
	}
}

// TestDatabaseFull fills the file up to max_page_count: the failing batch
// stores nothing, and once space is freed the same Store appends again.
func TestDatabaseFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	s := openT(t, "file:"+path+"?_pragma=max_page_count(300)") // 1.2 MB
	first := ops("main", 1, 10, 100)
	if err := s.Append(ctx, first); err != nil {
		t.Fatal(err)
	}
	var fillErr error
	filled := int64(0)
	for range 1000 {
		if fillErr = s.Append(ctx, ops("filler", filled+1, 50, 1000)); fillErr != nil {
			break
		}
		filled += 50
	}
	if fillErr == nil || !strings.Contains(fillErr.Error(), "full") {
		t.Fatalf("filling the database: error %v, want one saying it is full", fillErr)
	}
	t.Logf("filled after %d ops: %v", filled, fillErr)

	batch := ops("main", 11, 100, 1000) // more than the free pages left
	err := s.Append(ctx, batch)
	if err == nil || !strings.Contains(err.Error(), "full") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Append to a full database: %v, want an error naming %s and saying it is full", err, path)
	}
	for board, want := range map[string]int64{"main": 10, "filler": filled} {
		if h := head(t, s, board); h != want {
			t.Errorf("after failed appends, %s has head %d, want %d", board, h, want)
		}
		if n, last := count(t, s, board); n != want || last != want {
			t.Errorf("after failed appends, %s has %d ops up to %d, want %d", board, n, last, want)
		}
	}

	exec(t, direct(t, path), "DELETE FROM ops WHERE board = 'filler'")
	// The failed batch moved no cached head: the same seqs go in now.
	if err := s.Append(ctx, batch); err != nil {
		t.Fatalf("Append after space was freed: %v", err)
	}
	if n, last := count(t, s, "main"); n != 110 || last != 110 {
		t.Fatalf("main has %d ops up to %d, want 110", n, last)
	}
}

func hash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// refused checks that Open fails with an error naming the file and saying
// want, and leaves the file as it was.
func refused(t *testing.T, path, want string) {
	t.Helper()
	before := hash(t, path)
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%s) succeeded, want an error saying %q", path, want)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open(%s): %v\nwant an error naming the file and saying %q", path, err, want)
	}
	if hash(t, path) != before {
		t.Fatalf("Open(%s) changed the file it refused", path)
	}
	t.Log(err)
}

func TestRefuseNotADatabase(t *testing.T) {
	dir := t.TempDir()
	random := filepath.Join(dir, "random.db")
	if err := os.WriteFile(random, []byte(rand.Text()+rand.Text()+strings.Repeat("\x00\xff", 4096)), 0o644); err != nil {
		t.Fatal(err)
	}
	refused(t, random, "is not a SQLite database")
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("remember to buy milk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused(t, text, "is not a SQLite database")
}

func TestRefuseForeign(t *testing.T) {
	dir := t.TempDir()
	shop := filepath.Join(dir, "shop.db")
	exec(t, direct(t, shop), "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers(name) VALUES ('Ada')")
	refused(t, shop, "belongs to another application")

	other := filepath.Join(dir, "other.db")
	exec(t, direct(t, other), "PRAGMA application_id = 42")
	refused(t, other, "belongs to another application")
}

func TestRefuseNewerVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "draw.db")
	s := openT(t, path)
	s.Close()
	db := direct(t, path)
	exec(t, db, fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1))
	db.Close()
	refused(t, path, "was written by a newer version")
}

func TestRefuseCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "draw.db")
	s := openT(t, path)
	if err := s.Append(ctx, ops("a", 1, 2000, 100)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096 // overwrite the middle of a page beyond the schema
	copy(b[3*page:], strings.Repeat("\xde\xad", 500))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	refused(t, path, "is corrupt")
}

func BenchmarkAppend256(b *testing.B) {
	s := openT(b, filepath.Join(b.TempDir(), "draw.db"))
	batch := ops("bench", 1, 256, 100)
	for b.Loop() {
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
		for i := range batch {
			batch[i].Seq += int64(len(batch))
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "appends/s")
}

func BenchmarkRead50k(b *testing.B) {
	s := openT(b, filepath.Join(b.TempDir(), "draw.db"))
	for i := range int64(50) {
		if err := s.Append(ctx, ops("bench", 1+1000*i, 1000, 100)); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		n := 0
		if err := s.Read(ctx, "bench", 0, func(draw.Op) error { n++; return nil }); err != nil || n != 50_000 {
			b.Fatalf("read %d ops: %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*50_000)/b.Elapsed().Seconds(), "ops/s")
}
