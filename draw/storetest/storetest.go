// Package storetest is the conformance suite every draw.Store runs, so that
// the memory, SQLite and Redis stores behave the same.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/drawing/draw/draw"
)

// Run runs the suite; open returns a new, empty store for each subtest and
// closes it when the test ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) draw.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s draw.Store)
	}{
		{"Numbering", testNumbering},
		{"Conflict", testConflict},
		{"ReadSince", testReadSince},
		{"DataCopied", testDataCopied},
		{"EmptyData", testEmptyData},
		{"StopRead", testStopRead},
		{"Trim", testTrim},
		{"Delete", testDelete},
		{"Boards", testBoards},
		{"Info", testInfo},
		{"Updated", testUpdated},
		{"ConcurrentReads", testConcurrentReads},
		{"LargeBatch", testLargeBatch},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var ctx = context.Background()

func op(board string, n int) draw.Op {
	return draw.Op{Board: board, Time: 1_700_000_000_000 + int64(n), Data: fmt.Appendf(nil, `{"type":"stroke","stroke":"s%d","i":0}`, n)}
}

// number sets the ops' seqs the way a writer does: each board's ops go on
// from the head Info reports, in order.
func number(t *testing.T, s draw.Store, ops []draw.Op) {
	t.Helper()
	heads := make(map[string]int64)
	for i := range ops {
		h, ok := heads[ops[i].Board]
		if !ok {
			b, _, err := s.Info(ctx, ops[i].Board)
			if err != nil {
				t.Fatalf("Info(%q): %v", ops[i].Board, err)
			}
			h = b.Head
		}
		ops[i].Seq = h + 1
		heads[ops[i].Board] = h + 1
	}
}

// appendOps numbers the ops and appends them.
func appendOps(t *testing.T, s draw.Store, ops ...draw.Op) []draw.Op {
	t.Helper()
	number(t, s, ops)
	if err := s.Append(ctx, ops); err != nil {
		t.Fatalf("Append(%d ops): %v", len(ops), err)
	}
	return ops
}

// at returns o numbered seq.
func at(o draw.Op, seq int64) draw.Op {
	o.Seq = seq
	return o
}

func readAll(t *testing.T, s draw.Store, board string, since int64) []draw.Op {
	t.Helper()
	var out []draw.Op
	if err := s.Read(ctx, board, since, func(op draw.Op) error { out = append(out, op); return nil }); err != nil {
		t.Fatalf("Read(%q, %d): %v", board, since, err)
	}
	return out
}

func seqs(ops []draw.Op) []int64 {
	var out []int64
	for _, op := range ops {
		out = append(out, op.Seq)
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func wantSeqs(t *testing.T, what string, got, want []int64) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	if len(got)+len(want) <= 40 {
		t.Fatalf("%s: seqs %v, want %v", what, got, want)
	}
	i := 0
	for i < min(len(got), len(want)) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: %d seqs, want %d; they first differ at index %d: %v, want %v", what, len(got), len(want), i, got[i:min(i+5, len(got))], want[i:min(i+5, len(want))])
}

// sameOps compares what Read returned with what was appended.
func sameOps(t *testing.T, what string, got, want []draw.Op) {
	t.Helper()
	wantSeqs(t, what, seqs(got), seqs(want))
	for i := range got {
		g, w := got[i], want[i]
		if g.Board != w.Board || g.Time != w.Time || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("%s: op %d is {%q %d %d %s}, want {%q %d %d %s}", what, i, g.Board, g.Seq, g.Time, g.Data, w.Board, w.Seq, w.Time, w.Data)
		}
	}
}

func testNumbering(t *testing.T, s draw.Store) {
	first := appendOps(t, s, op("a", 1), op("a", 2), op("b", 3), op("a", 4), op("", 5))
	wantSeqs(t, "first batch", seqs(first), []int64{1, 2, 1, 3, 1})
	second := appendOps(t, s, op("b", 6), op("a", 7), op("b", 8))
	wantSeqs(t, "second batch", seqs(second), []int64{2, 4, 3})
	sameOps(t, "board a", readAll(t, s, "a", 0), []draw.Op{first[0], first[1], first[3], second[1]})
	sameOps(t, "board b", readAll(t, s, "b", 0), []draw.Op{first[2], second[0], second[2]})
	sameOps(t, "default board", readAll(t, s, "", 0), first[4:5])
	if err := s.Append(ctx, nil); err != nil {
		t.Fatalf("Append(nil): %v", err)
	}
	wantSeqs(t, "after an empty Append", seqs(appendOps(t, s, op("a", 9))), []int64{5})
	for board, want := range map[string]int64{"a": 5, "b": 3, "": 1} {
		if b, ok, err := s.Info(ctx, board); !ok || err != nil || b.Head != want {
			t.Errorf("Info(%q) = %+v, %v, %v; want head %d", board, b, ok, err, want)
		}
	}
}

// testConflict appends batches that do not continue a board's log: stale or
// leaving a gap (ErrConflict), or numbered wrongly within the batch (an
// error). None stores anything, not even the other boards' ops in the batch.
func testConflict(t *testing.T, s draw.Store) {
	stored := appendOps(t, s, op("a", 1), op("a", 2), op("a", 3))
	unchanged := func(what string) {
		t.Helper()
		sameOps(t, what+": board a", readAll(t, s, "a", 0), stored)
		if got := readAll(t, s, "b", 0); len(got) != 0 {
			t.Fatalf("%s: board b has seqs %v, want none", what, seqs(got))
		}
		if b, ok, err := s.Info(ctx, "a"); !ok || err != nil || b.Head != 3 {
			t.Fatalf("%s: Info(a) = %+v, %v, %v; want head 3", what, b, ok, err)
		}
		if _, ok, err := s.Info(ctx, "b"); ok || err != nil {
			t.Fatalf("%s: Info(b) = ok %v, %v; want b not stored", what, ok, err)
		}
		if boards, err := s.Boards(ctx, "", 0); err != nil || len(boards) != 1 {
			t.Fatalf("%s: Boards = %+v, %v; want only a", what, boards, err)
		}
	}
	for _, tc := range []struct {
		what     string
		conflict bool
		batch    []draw.Op
	}{
		{"stale seq", true, []draw.Op{at(op("b", 10), 1), at(op("a", 11), 3), at(op("b", 12), 2)}},
		{"stale seq 1", true, []draw.Op{at(op("b", 10), 1), at(op("a", 11), 1)}},
		{"gap", true, []draw.Op{at(op("b", 10), 1), at(op("a", 11), 5)}},
		{"gap at the end of a batch", true, []draw.Op{at(op("b", 10), 1), at(op("b", 11), 2), at(op("a", 12), 6)}},
		{"new board not at 1", true, []draw.Op{at(op("a", 10), 4), at(op("b", 11), 2)}},
		{"gap within the batch", false, []draw.Op{at(op("b", 10), 1), at(op("a", 11), 4), at(op("a", 12), 6)}},
		{"seq twice within the batch", false, []draw.Op{at(op("a", 10), 4), at(op("b", 11), 1), at(op("a", 12), 4)}},
		{"out of order within the batch", false, []draw.Op{at(op("a", 10), 4), at(op("a", 11), 6), at(op("a", 12), 5)}},
		{"seq 0", false, []draw.Op{at(op("b", 10), 1), at(op("a", 11), 0)}},
		{"negative seq", false, []draw.Op{at(op("a", 10), 4), at(op("b", 11), -1)}},
		{"unnumbered", false, []draw.Op{op("b", 10), op("a", 11)}},
	} {
		err := s.Append(ctx, tc.batch)
		switch {
		case err == nil:
			t.Fatalf("%s: Append succeeded", tc.what)
		case tc.conflict && !errors.Is(err, draw.ErrConflict):
			t.Fatalf("%s: Append: %v; want an error wrapping draw.ErrConflict", tc.what, err)
		}
		unchanged(tc.what)
	}
	// The writer reads what is new and numbers again; boards may interleave.
	more := []draw.Op{at(op("b", 20), 1), at(op("a", 21), 4), at(op("b", 22), 2), at(op("a", 23), 5)}
	if err := s.Append(ctx, more); err != nil {
		t.Fatalf("Append continuing the heads: %v", err)
	}
	sameOps(t, "board a after the right seqs", readAll(t, s, "a", 0), append(stored, more[1], more[3]))
	sameOps(t, "board b after the right seqs", readAll(t, s, "b", 0), []draw.Op{more[0], more[2]})
	if err := s.Append(ctx, []draw.Op{at(op("a", 30), 5)}); !errors.Is(err, draw.ErrConflict) {
		t.Fatalf("appending seq 5 twice: %v, want ErrConflict", err)
	}
}

func testReadSince(t *testing.T, s draw.Store) {
	var ops []draw.Op
	for i := range 10 {
		ops = append(ops, op("r", i))
	}
	appendOps(t, s, ops...)
	appendOps(t, s, op("other", 0))
	for _, since := range []int64{0, 1, 4, 9, 10, 11, 100, -5} {
		sameOps(t, fmt.Sprintf("since %d", since), readAll(t, s, "r", since), ops[min(10, max(0, since)):])
	}
	if got := readAll(t, s, "missing", 0); len(got) != 0 {
		t.Fatalf("unknown board: read %d ops, want none", len(got))
	}
}

func testDataCopied(t *testing.T, s draw.Store) {
	ops := appendOps(t, s, op("c", 1), op("c", 2))
	want := []draw.Op{ops[0], ops[1]}
	want[0].Data, want[1].Data = slices.Clone(ops[0].Data), slices.Clone(ops[1].Data)
	for i := range ops[0].Data {
		ops[0].Data[i] = 'x' // the caller reuses its buffer after Append
	}
	// Kept Data must survive later rows and later reads.
	kept := readAll(t, s, "c", 0)
	readAll(t, s, "c", 0)
	sameOps(t, "after the caller changed its buffer", kept, want)
}

func testEmptyData(t *testing.T, s draw.Store) {
	appendOps(t, s, draw.Op{Board: "e", Time: 1}, draw.Op{Board: "e", Time: 2, Data: []byte{}})
	got := readAll(t, s, "e", 0)
	if len(got) != 2 || len(got[0].Data) != 0 || len(got[1].Data) != 0 {
		t.Fatalf("empty Data read back as %+v", got)
	}
}

func testStopRead(t *testing.T, s draw.Store) {
	for range 3 {
		var batch []draw.Op
		for i := range 1000 { // more than one read chunk
			batch = append(batch, op("s", i))
		}
		appendOps(t, s, batch...)
	}
	for _, stopAt := range []int64{3, 1500} {
		var seen []int64
		err := s.Read(ctx, "s", 0, func(op draw.Op) error {
			seen = append(seen, op.Seq)
			if op.Seq == stopAt {
				return draw.ErrStopRead
			}
			return nil
		})
		if err != nil {
			t.Fatalf("stopping at %d with ErrStopRead: Read returned %v, want nil", stopAt, err)
		}
		wantSeqs(t, fmt.Sprintf("stopped at %d", stopAt), seen, span(1, stopAt))
	}
	boom := errors.New("boom")
	calls := 0
	err := s.Read(ctx, "s", 0, func(draw.Op) error { calls++; return fmt.Errorf("callback: %w", boom) })
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("callback error: Read returned %v after %d calls, want boom after 1", err, calls)
	}
}

// piece is a stroke piece with points, as the writer stores it.
func piece(board string, n int) draw.Op {
	return draw.Op{Board: board, Time: int64(n), Data: fmt.Appendf(nil,
		`{"type":"stroke","stroke":"s%d","i":%d,"author":"a","color":"#000000","width":2,"points":[%d,1,2,3]}`, n, n%3, n)}
}

func testTrim(t *testing.T, s draw.Store) {
	var ops []draw.Op
	for i := range 10 {
		ops = append(ops, piece("t", i))
	}
	ops = append(ops, draw.Op{Board: "t", Time: 10, Data: []byte(`{"type":"undo","stroke":"s1","author":"a"}`)})
	appendOps(t, s, ops...)
	appendOps(t, s, piece("other", 0))
	if err := s.Trim(ctx, "t", 5); err != nil {
		t.Fatalf("Trim: %v", err)
	}
	got := readAll(t, s, "t", 0)
	wantSeqs(t, "after Trim(5) every op is still there", seqs(got), span(1, 11))
	for i, op := range got {
		want := ops[i].Data
		if op.Seq < 5 {
			want = draw.StripPoints(want)
		}
		if !jsonEqual(op.Data, want) {
			t.Errorf("after Trim(5), op %d = %s, want %s", op.Seq, op.Data, want)
		}
	}
	if !bytes.Contains(readAll(t, s, "other", 0)[0].Data, []byte(`"points"`)) {
		t.Error("Trim of board t took the points of board other")
	}
	for _, before := range []int64{0, 3, 5} { // nothing (new) to trim
		if err := s.Trim(ctx, "t", before); err != nil {
			t.Fatalf("Trim(%d): %v", before, err)
		}
	}
	if err := s.Trim(ctx, "missing", 10); err != nil {
		t.Fatalf("Trim of an unknown board: %v", err)
	}
	wantSeqs(t, "append after Trim", seqs(appendOps(t, s, piece("t", 11))), []int64{12})
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func testDelete(t *testing.T, s draw.Store) {
	appendOps(t, s, op("d", 1), op("d", 2), op("d", 3), op("keep", 1))
	if err := s.Delete(ctx, "d"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := readAll(t, s, "d", 0); len(got) != 0 {
		t.Fatalf("after Delete: seqs %v", seqs(got))
	}
	boards, err := s.Boards(ctx, "", 0)
	if err != nil || len(boards) != 1 || boards[0].Name != "keep" {
		t.Fatalf("Boards after Delete = %+v, %v; want only keep", boards, err)
	}
	if err := s.Delete(ctx, "missing"); err != nil {
		t.Fatalf("Delete of an unknown board: %v", err)
	}
	wantSeqs(t, "append after Delete", seqs(appendOps(t, s, op("d", 4), op("keep", 2))), []int64{1, 2})
}

func testInfo(t *testing.T, s draw.Store) {
	if _, ok, err := s.Info(ctx, "i"); ok || err != nil {
		t.Fatalf("Info of an unknown board: ok %v, err %v", ok, err)
	}
	appendOps(t, s, op("i", 1), op("i", 2), op("other", 1))
	s.Trim(ctx, "i", 3)
	b, ok, err := s.Info(ctx, "i")
	if !ok || err != nil || b.Name != "i" || b.Head != 2 || b.Updated.IsZero() {
		t.Fatalf("Info = %+v, %v, %v; want board i with head 2 after a trim", b, ok, err)
	}
	s.Delete(ctx, "i")
	if _, ok, _ := s.Info(ctx, "i"); ok {
		t.Fatal("Info of a deleted board says it is stored")
	}
}

func testBoards(t *testing.T, s draw.Store) {
	if boards, err := s.Boards(ctx, "", 10); err != nil || len(boards) != 0 {
		t.Fatalf("Boards of an empty store = %+v, %v", boards, err)
	}
	heads := map[string]int64{"": 1, "a": 2, "b": 3, "c": 4, "d": 5}
	var batch []draw.Op
	for name, head := range heads {
		for i := range head {
			batch = append(batch, op(name, int(i)))
		}
	}
	appendOps(t, s, batch...)
	names := func(after string, limit int) []string {
		t.Helper()
		boards, err := s.Boards(ctx, after, limit)
		if err != nil {
			t.Fatalf("Boards(%q, %d): %v", after, limit, err)
		}
		var out []string
		for _, b := range boards {
			if b.Head != heads[b.Name] {
				t.Fatalf("Boards(%q, %d): %q has head %d, want %d", after, limit, b.Name, b.Head, heads[b.Name])
			}
			out = append(out, b.Name)
		}
		return out
	}
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 0, []string{"", "a", "b", "c", "d"}},
		{"", 2, []string{"", "a"}},
		{"a", 2, []string{"b", "c"}},
		{"bb", 0, []string{"c", "d"}},
		{"c", 10, []string{"d"}},
		{"d", 10, nil},
	} {
		if got := names(tc.after, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("Boards(%q, %d) = %q, want %q", tc.after, tc.limit, got, tc.want)
		}
	}
	var all []string
	for after := ""; ; {
		page := names(after, 2)
		all = append(all, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1]
	}
	if want := []string{"", "a", "b", "c", "d"}; !slices.Equal(all, want) {
		t.Errorf("paging by 2 listed %q, want %q", all, want)
	}
}

func testUpdated(t *testing.T, s draw.Store) {
	before := time.Now()
	appendOps(t, s, op("u", 1))
	after := time.Now()
	boards, err := s.Boards(ctx, "", 0)
	if err != nil || len(boards) != 1 {
		t.Fatalf("Boards = %+v, %v", boards, err)
	}
	// Stores may keep milliseconds only.
	if u := boards[0].Updated; u.Before(before.Truncate(time.Millisecond)) || u.After(after) {
		t.Fatalf("Updated = %v, want between %v and %v", u, before, after)
	}
}

// testConcurrentReads checks that readers beside the writer always see a
// prefix of the log made of whole batches: 1..n without gaps, n never going
// back. The writer waits for a read after each batch, so they interleave.
func testConcurrentReads(t *testing.T, s draw.Store) {
	const batches, perBatch = 200, 5
	done := make(chan struct{})
	progress := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Go(func() {
			var last int64
			for {
				select {
				case <-done:
					return
				default:
				}
				since := last / int64(r+1) // some readers start in the middle
				var n int64
				err := s.Read(ctx, "c", since, func(op draw.Op) error {
					if op.Seq != since+n+1 {
						return fmt.Errorf("read since %d: seq %d after %d ops", since, op.Seq, n)
					}
					n++
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if head := since + n; head < last || head%perBatch != 0 {
					t.Errorf("read since %d saw up to %d (an earlier read saw %d): not a prefix of whole batches of %d", since, head, last, perBatch)
					return
				}
				last = since + n
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
	}
	for i := range batches {
		var batch []draw.Op
		for j := range perBatch {
			batch = append(batch, at(op("c", i*perBatch+j), int64(i*perBatch+j+1)))
		}
		if err := s.Append(ctx, batch); err != nil {
			t.Errorf("Append: %v", err)
			break
		}
		select {
		case <-progress:
		case <-time.After(5 * time.Second):
			t.Error("no read finished within 5 s")
		}
		if t.Failed() {
			break
		}
	}
	close(done)
	wg.Wait()
	if t.Failed() {
		return
	}
	wantSeqs(t, "after the writer finished", seqs(readAll(t, s, "c", 0)), span(1, batches*perBatch))
}

func testLargeBatch(t *testing.T, s draw.Store) {
	const n = 10_000
	ops := make([]draw.Op, n)
	for i := range ops {
		ops[i] = op("big", i)
	}
	appendOps(t, s, ops...)
	wantSeqs(t, "the batch", seqs(ops), span(1, n))
	sameOps(t, "read back", readAll(t, s, "big", 0), ops)
	sameOps(t, "since 9990", readAll(t, s, "big", n-10), ops[n-10:])
}

// RunShared runs the tests for stores that several server nodes share: open
// returns two stores on the same, empty backend (two connections to one Redis
// database, say), as two nodes have, and closes them when the test ends.
func RunShared(t *testing.T, open func(t *testing.T) (a, b draw.Store)) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, a, b draw.Store)
	}{
		{"RacingAppends", testRacingAppends},
		{"RacingTrims", testRacingTrims},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
}

// racePiece is piece k of writer w, with points.
func racePiece(board string, w, k int) draw.Op {
	return draw.Op{Board: board, Time: int64(k), Data: fmt.Appendf(nil,
		`{"type":"stroke","stroke":"w%d-%d","i":0,"author":"w%d","color":"#000000","width":2,"points":[%d,1,2,3]}`, w, k, w, k)}
}

// raceWriter stores n pieces on the shared board "x" through s, a random
// 1 to 8 a batch, each batch with one op on its own board "own<w>" too. On
// ErrConflict it asks for the heads again and numbers the same batch anew,
// as a node's writer does. It returns the batches it stored (own board
// included) and how many conflicts it met.
func raceWriter(s draw.Store, w, n int, seed uint64) (batches [][]draw.Op, conflicts int, err error) {
	r := rand.New(rand.NewPCG(seed, uint64(w)))
	own := fmt.Sprintf("own%d", w)
	for k := 0; k < n; {
		size := min(n-k, 1+r.IntN(8))
		var batch []draw.Op
		for j := range size {
			batch = append(batch, racePiece("x", w, k+j))
		}
		batch = slices.Insert(batch, r.IntN(len(batch)+1), racePiece(own, w, len(batches)))
		for {
			heads := make(map[string]int64)
			for _, b := range []string{"x", own} {
				info, _, err := s.Info(ctx, b)
				if err != nil {
					return nil, 0, err
				}
				heads[b] = info.Head
			}
			for i := range batch {
				heads[batch[i].Board]++
				batch[i].Seq = heads[batch[i].Board]
			}
			err := s.Append(ctx, batch)
			if err == nil {
				break
			}
			if !errors.Is(err, draw.ErrConflict) {
				return nil, 0, err
			}
			conflicts++
		}
		batches = append(batches, batch)
		k += size
	}
	return batches, conflicts, nil
}

// testRacingAppends has two writers append to one board through two stores
// at once: the log ends gapless, with each op exactly once, and each writer's
// own board holds exactly the batches it was told were stored.
func testRacingAppends(t *testing.T, a, b draw.Store) {
	const n = 300
	var wg sync.WaitGroup
	var batches [2][][]draw.Op
	var conflicts [2]int
	var errs [2]error
	seed := uint64(time.Now().UnixNano())
	for w, s := range []draw.Store{a, b} {
		wg.Go(func() { batches[w], conflicts[w], errs[w] = raceWriter(s, w, n, seed) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	t.Logf("conflicts: %d and %d", conflicts[0], conflicts[1])
	checkRace(t, a, b, batches, 0)
}

// checkRace checks the logs after raceWriter, through both stores: the ops
// of board x whose seq is below trimmed have no points.
func checkRace(t *testing.T, a, b draw.Store, batches [2][][]draw.Op, trimmed int64) {
	t.Helper()
	var want []draw.Op // board x's ops by seq, from the batches stored
	for w := range batches {
		var mine []draw.Op
		for _, batch := range batches[w] {
			for _, o := range batch {
				if o.Board == "x" {
					want = append(want, o)
				} else {
					mine = append(mine, o)
				}
			}
		}
		for _, s := range []draw.Store{a, b} {
			sameOps(t, fmt.Sprintf("writer %d's own board", w), readAll(t, s, fmt.Sprintf("own%d", w), 0), mine)
		}
	}
	slices.SortFunc(want, func(p, q draw.Op) int { return cmp.Compare(p.Seq, q.Seq) })
	for _, s := range []draw.Store{a, b} {
		got := readAll(t, s, "x", 0)
		wantSeqs(t, "the shared board", seqs(got), span(1, int64(len(want))))
		for i, o := range got {
			w := want[i]
			if o.Seq < trimmed {
				w.Data = draw.StripPoints(w.Data)
			}
			if o.Board != "x" || o.Time != w.Time || !jsonEqual(o.Data, w.Data) {
				t.Fatalf("the shared board: op %d is {%q %d %s}, want {%q %d %s}", o.Seq, o.Board, o.Time, o.Data, w.Board, w.Time, w.Data)
			}
		}
	}
}

// testRacingTrims appends through one store while both trim the same board,
// then both trim to the same point at once: every op stays, once, and only
// the ops before the last trim lost their points.
func testRacingTrims(t *testing.T, a, b draw.Store) {
	const n = 400
	var wg sync.WaitGroup
	var batches [2][][]draw.Op
	var errs [4]error
	done := make(chan struct{})
	seed := uint64(time.Now().UnixNano())
	for w, s := range []draw.Store{a, b} {
		wg.Go(func() { batches[w], _, errs[w] = raceWriter(s, w, n, seed) })
	}
	var trims sync.WaitGroup
	for i, s := range []draw.Store{a, b} {
		trims.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				info, _, err := s.Info(ctx, "x")
				if err == nil {
					err = s.Trim(ctx, "x", info.Head/2)
				}
				if err != nil {
					errs[2+i] = err
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(done)
	trims.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	before := int64(n) // 2n ops: the first half loses its points
	for _, s := range []draw.Store{a, b} {
		trims.Go(func() {
			if err := s.Trim(ctx, "x", before); err != nil {
				t.Error(err)
			}
		})
	}
	trims.Wait()
	checkRace(t, a, b, batches, before)
}
