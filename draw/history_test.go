package draw

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
)

// flakyStore fails every Append while failing is set, like a full disk.
type flakyStore struct {
	*MemoryStore
	failing atomic.Bool
}

func (f *flakyStore) Append(ctx context.Context, ops []Op) error {
	if f.failing.Load() {
		return errors.New("database or disk is full")
	}
	return f.MemoryStore.Append(ctx, ops)
}

// newTestWriter is a server whose writer tests drive directly, with one
// loaded board "b".
func newTestWriter(t *testing.T, store Store, cfg Config) (*Server, *boardLog) {
	t.Helper()
	cfg.Public = fstest.MapFS{"index.html": {Data: []byte("page")}}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Store = store
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	b := newBoard("b")
	if err := b.log.load(context.Background(), srv.history); err != nil {
		t.Fatal(err)
	}
	return srv, b.log
}

// write sends ops to the writer and waits until they are handled.
func write(t *testing.T, srv *Server, l *boardLog, ops ...OpFields) {
	t.Helper()
	if !srv.history.enqueue(&writeReq{log: l, ops: ops}) {
		t.Fatal("writer queue full")
	}
	if err := srv.history.barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func piece(author, stroke string, i int, pts ...float64) OpFields {
	return OpFields{Type: OpStroke, Stroke: stroke, I: i, Author: author, Color: "#000000", Width: 2, Points: pts}
}

// stored lists the board's log as "seq type stroke[/i]".
func stored(t *testing.T, s Store, board string) []string {
	t.Helper()
	var out []string
	err := s.Read(context.Background(), board, 0, func(op Op) error {
		var o OpFields
		if err := json.Unmarshal(op.Data, &o); err != nil {
			return err
		}
		e := o.Type + " " + o.Stroke
		if o.Type == OpStroke {
			e += "/" + strconv.Itoa(o.I)
			if o.Points == nil {
				e += " (no points)"
			}
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriterFailedCommitStoresNothingAndRetries(t *testing.T) {
	store := &flakyStore{MemoryStore: NewMemoryStore()}
	srv, l := newTestWriter(t, store, Config{})
	store.failing.Store(true)
	write(t, srv, l, piece("ann", "stroke-one", 0, 1, 1, 2, 2))
	if got := stored(t, store, "b"); len(got) != 0 {
		t.Fatalf("stored %v during a failure", got)
	}
	if h := srv.history.health(); !strings.Contains(h, "full") {
		t.Errorf("health = %q, want the failure's reason", h)
	}
	if l.state.actions["stroke-one"] != nil || l.state.segments != 0 {
		t.Errorf("the failed piece is still in the board's state: the page's resend would be taken for a duplicate")
	}
	store.failing.Store(false)
	write(t, srv, l, piece("ann", "stroke-one", 0, 1, 1, 2, 2))
	write(t, srv, l, piece("ann", "stroke-one", 0, 1, 1, 2, 2)) // the ack was lost: sent again
	if got := stored(t, store, "b"); strings.Join(got, ",") != "stroke stroke-one/0" {
		t.Errorf("stored %v, want the piece once", got)
	}
	if h := srv.history.health(); h != "" {
		t.Errorf("health = %q after a good commit, want \"\"", h)
	}
	if l.head.Load() != 1 {
		t.Errorf("head = %d, want 1", l.head.Load())
	}
}

func TestWriterOnlyAuthorsUndo(t *testing.T) {
	store := NewMemoryStore()
	srv, l := newTestWriter(t, store, Config{})
	write(t, srv, l, piece("ann", "ann-stroke", 0, 1, 1))
	write(t, srv, l,
		OpFields{Type: OpUndo, Stroke: "ann-stroke", Author: "bob"}, // not his
		piece("bob", "ann-stroke", 1, 1, 1, 5, 5),                   // not his stroke id either
		OpFields{Type: OpUndo, Stroke: "no-such-stroke", Author: "ann"},
	)
	write(t, srv, l, OpFields{Type: OpUndo, Stroke: "ann-stroke", Author: "ann"})
	write(t, srv, l, OpFields{Type: OpUndo, Stroke: "ann-stroke", Author: "ann"}) // already undone: nothing to store
	write(t, srv, l, OpFields{Type: OpRedo, Stroke: "ann-stroke", Author: "ann"})
	want := "stroke ann-stroke/0,undo ann-stroke,redo ann-stroke"
	if got := strings.Join(stored(t, store, "b"), ","); got != want {
		t.Errorf("stored %s\nwant     %s", got, want)
	}
}

func TestWriterCapAndClear(t *testing.T) {
	store := NewMemoryStore()
	srv, l := newTestWriter(t, store, Config{MaxBoardSegments: 3})
	write(t, srv, l, piece("ann", "stroke-one", 0, 0, 0, 1, 1, 2, 2), piece("ann", "stroke-one", 1, 2, 2, 3, 3))
	write(t, srv, l, piece("ann", "stroke-one", 2, 3, 3, 4, 4)) // a fourth segment: refused
	if l.segments.Load() != 3 {
		t.Fatalf("segments = %d, want 3", l.segments.Load())
	}
	write(t, srv, l, OpFields{Type: OpClear, Stroke: "clear-one", Author: "ann"})
	write(t, srv, l, piece("ann", "stroke-two", 0, 5, 5, 6, 6)) // room again
	write(t, srv, l, OpFields{Type: OpClear, Stroke: "clear-two", Author: "bob"})
	write(t, srv, l, OpFields{Type: OpUndo, Stroke: "clear-one", Author: "ann"}) // not the newest clear: refused
	// Once the second clear is stored nothing can bring back what the first
	// hid: the store drops its points and keeps the rest of each op.
	want := "stroke stroke-one/0 (no points),stroke stroke-one/1 (no points),clear clear-one,stroke stroke-two/0,clear clear-two"
	if got := strings.Join(stored(t, store, "b"), ","); got != want {
		t.Errorf("stored %s\nwant     %s", got, want)
	}
}

// After a trim, and after a restart that reloads the trimmed log, a piece
// sent again is still known (not stored twice), its stroke still has its
// owner, and what the clears hid stays hidden.
func TestTrimKeepsWhoOwnsWhat(t *testing.T) {
	store := NewMemoryStore()
	srv, l := newTestWriter(t, store, Config{})
	write(t, srv, l, piece("ann", "long-stroke", 0, 1, 1, 2, 2), OpFields{Type: OpUndo, Stroke: "long-stroke", Author: "ann"})
	write(t, srv, l, OpFields{Type: OpClear, Stroke: "clear-one", Author: "bob"})
	write(t, srv, l, piece("ann", "long-stroke", 1, 2, 2, 3, 3)) // goes on after the clear, still undone
	write(t, srv, l, OpFields{Type: OpClear, Stroke: "clear-two", Author: "bob"}, OpFields{Type: OpUndo, Stroke: "clear-two", Author: "bob"})
	before := stored(t, store, "b")
	for _, w := range []func() (*Server, *boardLog){
		func() (*Server, *boardLog) { return srv, l },
		func() (*Server, *boardLog) { return newTestWriter(t, store, Config{}) }, // a restart
	} {
		srv, l := w()
		write(t, srv, l,
			piece("ann", "long-stroke", 0, 1, 1, 2, 2), // sent again by a page that missed its ack
			piece("cat", "long-stroke", 5, 9, 9),       // someone else's id
			OpFields{Type: OpUndo, Stroke: "long-stroke", Author: "cat"},
		)
		if got := stored(t, store, "b"); strings.Join(got, ",") != strings.Join(before, ",") {
			t.Fatalf("stored %v\nwant    %v", got, before)
		}
		st, pieces := newLogState(), map[int64]string{}
		store.Read(context.Background(), "b", 0, func(op Op) error {
			var o OpFields
			json.Unmarshal(op.Data, &o)
			st.apply(op.Seq, &o)
			if o.Type == OpStroke {
				pieces[op.Seq] = o.Stroke
			}
			return nil
		})
		for seq, stroke := range pieces {
			if st.visible(seq, stroke) {
				t.Errorf("piece of %s at seq %d shows after the trim; it was hidden", stroke, seq)
			}
		}
	}
	write(t, srv, l, OpFields{Type: OpRedo, Stroke: "long-stroke", Author: "ann"}) // still hers
	if got := stored(t, store, "b"); got[len(got)-1] != "redo long-stroke" {
		t.Errorf("the owner's redo after the trim was not stored: %v", got)
	}
}

func TestLoadRebuildsOwnershipAndPieces(t *testing.T) {
	store := NewMemoryStore()
	srv, l := newTestWriter(t, store, Config{})
	write(t, srv, l, piece("ann", "stroke-one", 0, 1, 1, 2, 2))
	// A restart: a new server on the same store loads the board from it.
	srv2, l2 := newTestWriter(t, store, Config{})
	write(t, srv2, l2,
		piece("ann", "stroke-one", 0, 1, 1, 2, 2), // stored before the restart
		OpFields{Type: OpUndo, Stroke: "stroke-one", Author: "bob"},
		OpFields{Type: OpUndo, Stroke: "stroke-one", Author: "ann"},
	)
	want := "stroke stroke-one/0,undo stroke-one"
	if got := strings.Join(stored(t, store, "b"), ","); got != want {
		t.Errorf("stored %s\nwant     %s", got, want)
	}
}

func TestRecorderTurnsClassicMovesIntoSegments(t *testing.T) {
	store := NewMemoryStore()
	srv, l := newTestWriter(t, store, Config{})
	c := &client{srv: srv, id: "sock", board: l.board}
	red := json.RawMessage(`"#ff0000"`)
	for _, mv := range []move{
		{x: 1, y: 1},                            // hovering
		{x: 2, y: 2, drawing: true},             // pen down: a segment from the last position
		{x: 3, y: 3, drawing: true, color: red}, // same stroke, in red
		{x: 4, y: 4},                            // pen up
		{x: 5, y: 5, drawing: true},             // a new stroke
	} {
		c.record(mv)
	}
	if err := srv.history.barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	store.Read(context.Background(), "b", 0, func(op Op) error {
		got = append(got, string(op.Data))
		return nil
	})
	want := []string{
		`{"type":"stroke","stroke":"~sock.1","i":0,"author":"","color":"#1c1917","width":2,"points":[1,1,2,2]}`,
		`{"type":"stroke","stroke":"~sock.1","i":1,"author":"","color":"#ff0000","width":2,"points":[2,2,3,3]}`,
		`{"type":"stroke","stroke":"~sock.2","i":0,"author":"","color":"#1c1917","width":2,"points":[4,4,5,5]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// unreadableStore fails every Read while broken is set.
type unreadableStore struct {
	*MemoryStore
	broken atomic.Bool
}

func (u *unreadableStore) Read(ctx context.Context, board string, since int64, fn func(Op) error) error {
	if u.broken.Load() {
		return errors.New("disk I/O error")
	}
	return u.MemoryStore.Read(ctx, board, since, fn)
}

// A board whose history cannot be read still relays live, takes no writes
// (the writer would have no state to check them against) and says why; a
// later sync loads it once the store reads again.
func TestUnreadableBoardTakesNoWrites(t *testing.T) {
	store := &unreadableStore{MemoryStore: NewMemoryStore()}
	store.broken.Store(true)
	_, base := startTestServer(t, Config{Store: store})
	c := connect(t, base)
	c.write(`42["sync",{"author":"secret-secret-secret","since":0}]`)
	if r := string(c.event(EventRejected)); !strings.Contains(r, "cannot be read") || !strings.Contains(r, "disk I/O error") {
		t.Fatalf("sync on an unreadable board: rejected %s, want the reason", r)
	}
	c.write(`42["mousemove",{"x":1,"y":1,"drawing":true}]`)
	c.write(`42["mousemove",{"x":2,"y":2,"drawing":true}]`) // not recorded: nothing to record it against
	store.broken.Store(false)
	c.write(`42["sync",{"author":"secret-secret-secret","since":0}]`)
	if s := string(c.event(EventSynced)); !strings.Contains(s, `"head":0`) {
		t.Errorf("synced %s, want head 0: nothing was recorded while the board could not be read", s)
	}
	c.write(`42["draw",[{"stroke":"stroke-one","i":0,"color":"#000000","width":2,"points":[1,1,2,2]}]]`)
	if ops := string(c.event(EventOps)); !strings.Contains(ops, `"seq":1,`) {
		t.Errorf("after the store recovered: ops %s, want the piece stored as seq 1", ops)
	}
}

// Another node (here: a second writer on the same store) stores on the board
// first: this writer's commit conflicts, it reads what is new, numbers again
// and stores once; a piece the other node already stored is not stored again.
func TestWriterConflictReadsAndRetries(t *testing.T) {
	store := NewMemoryStore()
	srv, l := newTestWriter(t, store, Config{})
	other, ol := newTestWriter(t, store, Config{})
	write(t, srv, l, piece("ann", "ann-1", 0, 1, 1, 2, 2))
	write(t, other, ol, piece("bob", "bob-1", 0, 5, 5, 6, 6), piece("ann", "ann-1", 1, 2, 2, 3, 3))
	// ann-1/1 reached the other node first (a resend after a reconnect there).
	write(t, srv, l, piece("ann", "ann-1", 1, 2, 2, 3, 3), piece("ann", "ann-2", 0, 7, 7, 8, 8))
	want := "stroke ann-1/0,stroke bob-1/0,stroke ann-1/1,stroke ann-2/0"
	if got := strings.Join(stored(t, store, "b"), ","); got != want {
		t.Errorf("stored %s\nwant     %s", got, want)
	}
	if l.head.Load() != 4 || l.state.actions["bob-1"] == nil {
		t.Errorf("head %d, bob-1 known %v: the writer did not take in what the other node stored", l.head.Load(), l.state.actions["bob-1"] != nil)
	}
	// bob's stroke, stored elsewhere, is bob's here too.
	write(t, srv, l, OpFields{Type: OpUndo, Stroke: "bob-1", Author: "ann"})
	if got := len(stored(t, store, "b")); got != 4 {
		t.Errorf("ann could undo bob's stroke stored on another node (%d ops stored)", got)
	}
}

// The store lost the board (Redis restarted without persistence, or another
// node deleted it): drawing goes on from what is stored instead of failing
// forever.
func TestWriterStoreLostBoard(t *testing.T) {
	store := NewMemoryStore()
	srv, l := newTestWriter(t, store, Config{})
	write(t, srv, l, piece("ann", "ann-1", 0, 1, 1, 2, 2), piece("ann", "ann-1", 1, 2, 2, 3, 3))
	if err := store.Delete(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	write(t, srv, l, piece("ann", "ann-2", 0, 7, 7, 8, 8))
	if got := strings.Join(stored(t, store, "b"), ","); got != "stroke ann-2/0" {
		t.Errorf("stored %s after the store lost the board, want the new piece as seq 1", got)
	}
	if h := srv.history.health(); h != "" {
		t.Errorf("health = %q: saving should go on", h)
	}
}

// Owners: only a new board can be claimed, once; only the owner locks and
// unlocks; while locked only the owner (or whoever has the owner's rights
// by token or API key) draws, undoes and clears.
func TestWriterOwnerAndLock(t *testing.T) {
	store := NewMemoryStore()
	srv, l := newTestWriter(t, store, Config{})
	own := func(author string) OpFields { return OpFields{Type: OpOwn, Author: author} }
	write(t, srv, l, own("ann"), own("bob"), own("ann"))
	write(t, srv, l, OpFields{Type: OpLock, Author: "bob"}) // not the owner
	write(t, srv, l, OpFields{Type: OpLock, Author: "ann"})
	write(t, srv, l, piece("bob", "bob-stroke", 0, 1, 1, 2, 2))                   // locked
	write(t, srv, l, OpFields{Type: OpClear, Stroke: "bob-clear", Author: "bob"}) // locked
	write(t, srv, l, piece("ann", "ann-stroke", 0, 1, 1, 2, 2))
	if !srv.history.enqueue(&writeReq{log: l, ops: []OpFields{piece("app", "app-stroke", 0, 3, 3)}, owner: true}) {
		t.Fatal("queue full")
	}
	write(t, srv, l, OpFields{Type: OpUnlock, Author: "ann"})
	write(t, srv, l, piece("bob", "bob-stroke", 0, 1, 1, 2, 2))
	want := "own ,lock ,stroke ann-stroke/0,stroke app-stroke/0,unlock ,stroke bob-stroke/0"
	if got := strings.Join(stored(t, store, "b"), ","); got != want {
		t.Errorf("stored %s\nwant     %s", got, want)
	}
	if a := l.accessNow(); a.owner != "ann" || a.locked {
		t.Errorf("access = %+v, want owner ann, unlocked", a)
	}
	// A board with history cannot be claimed.
	other := &board{name: "old"}
	other.log = &boardLog{name: "old", board: other}
	if err := other.log.load(context.Background(), srv.history); err != nil {
		t.Fatal(err)
	}
	write(t, srv, other.log, piece("ann", "old-stroke", 0, 1, 1))
	write(t, srv, other.log, own("bob"))
	if a := other.log.accessNow(); a.owner != "" {
		t.Errorf("a board with history was claimed by %q", a.owner)
	}
}
