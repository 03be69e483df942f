package draw

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// feedStuckWriter is a ResponseWriter whose reader stops reading: once
// stuck, Write blocks until released. It has no write deadlines, which
// serveFeed tolerates.
type feedStuckWriter struct {
	header  http.Header
	stuck   chan struct{} // closed: writes block
	release chan struct{} // closed: they go on
	blocked chan struct{} // closed by the first blocked write
	once    sync.Once

	mu  sync.Mutex
	buf bytes.Buffer
}

func newFeedStuckWriter() *feedStuckWriter {
	return &feedStuckWriter{header: http.Header{}, stuck: make(chan struct{}), release: make(chan struct{}), blocked: make(chan struct{})}
}

func (w *feedStuckWriter) Header() http.Header { return w.header }
func (w *feedStuckWriter) WriteHeader(int)     {}
func (w *feedStuckWriter) Flush()              {}

func (w *feedStuckWriter) Write(p []byte) (int, error) {
	select {
	case <-w.stuck:
		w.once.Do(func() { close(w.blocked) })
		<-w.release
	default:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *feedStuckWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestFeedSlowReaderDropped: a feed reader that stops reading costs at most
// feedQueue queued items; past that it is dropped, and once it reads again
// it is told so with a final `dropped` event and the stream ends.
func TestFeedSlowReaderDropped(t *testing.T) {
	srv, err := New(Config{Public: fstestFS(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	w := newFeedStuckWriter()
	r := httptest.NewRequest("GET", "/api/boards/slow/events", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.serveFeed(w, r, "slow")
	}()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(w.String(), "event: presence\n"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no presence event within 5 s: %q", w.String())
		}
	}
	b := srv.boards.get("slow")
	if b == nil || b.readers() == 0 {
		t.Fatal("the feed is not on its board")
	}
	f := (*b.feeds.Load())[0]

	item := func(n int) *feedItem {
		return &feedItem{event: EventJoined, data: []byte(`{"id":"u` + strconv.Itoa(n) + `"}`)}
	}
	// The reader stops reading: the handler takes one item and blocks
	// writing it; the queue fills behind it.
	close(w.stuck)
	b.toFeeds(item(0))
	select {
	case <-w.blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not write the first item")
	}
	for n := 1; n <= feedQueue; n++ {
		b.toFeeds(item(n))
	}
	if len(f.ch) != feedQueue {
		t.Fatalf("%d items queued; want the queue (%d) full", len(f.ch), feedQueue)
	}
	select {
	case <-f.quit:
		t.Fatal("dropped with a queue that was only just full")
	default:
	}
	// More than the queue holds: dropped, and nothing more is kept.
	for n := feedQueue + 1; n <= 10*feedQueue; n++ {
		b.toFeeds(item(n))
		if len(f.ch) > feedQueue {
			t.Fatalf("%d items queued; the limit is %d", len(f.ch), feedQueue)
		}
	}
	select {
	case <-f.quit:
	default:
		t.Fatal("a reader past its queue was not dropped")
	}

	close(w.release)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return after the reader was dropped")
	}
	out := w.String()
	events := strings.Split(strings.TrimSuffix(out, "\n\n"), "\n\n")
	last := events[len(events)-1]
	if !strings.HasPrefix(last, "event: dropped\ndata: ") || !strings.Contains(last, "Last-Event-ID") {
		t.Fatalf("the stream ends with %q; want a dropped event that says how to resume", last)
	}
	// presence, then at most the item in hand and the queue, then dropped.
	if n := len(events); n > 1+1+feedQueue+1 {
		t.Errorf("%d events written; a dropped reader gets at most %d", n, 1+1+feedQueue+1)
	}
	if strings.Contains(out, `"id":"u`+strconv.Itoa(feedQueue+1)+`"`) {
		t.Error("an item offered past the full queue was written")
	}
	if b.readers() > 0 || srv.boards.get("slow") != nil {
		t.Error("the dropped feed still holds its board open")
	}
}

// feedGateStore holds the next Read, once armed, until released: the
// moment between a feed joining its board and reading what it missed.
type feedGateStore struct {
	*MemoryStore
	armed   chan struct{} // closed: the next Read waits
	entered chan struct{} // closed when it does
	release chan struct{}
	once    sync.Once
}

func (s *feedGateStore) Read(ctx context.Context, board string, since int64, fn func(Op) error) error {
	select {
	case <-s.armed:
		s.once.Do(func() {
			close(s.entered)
			<-s.release
		})
	default:
	}
	return s.MemoryStore.Read(ctx, board, since, fn)
}

// TestFeedCatchUpOverlap: ops stored while a resuming feed reads the log
// reach it twice, from the log and live; the reader sees each once, in
// order, with no gap.
func TestFeedCatchUpOverlap(t *testing.T) {
	gs := &feedGateStore{MemoryStore: NewMemoryStore(), armed: make(chan struct{}), entered: make(chan struct{}), release: make(chan struct{})}
	srv, err := New(Config{Public: fstestFS(), Logger: discardLogger(), Store: gs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	ctx := context.Background()
	bot := caller{key: true, id: "key"}
	draw := func(stroke string) {
		t.Helper()
		o := OpFields{Type: OpStroke, Stroke: stroke, Color: "#000000", Width: 2, Points: []float64{1, 2, 3, 4}, Author: bot.author()}
		if _, _, err := srv.apiWrite(ctx, "ov", bot, []OpFields{o}); err != nil {
			t.Fatal(err)
		}
	}
	// Keep the board open and loaded, so that the feed's first Read is
	// its catch-up.
	b, err := srv.boards.joinFeed("ov", newFeed())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.loadBoard(ctx, b); err != nil {
		t.Fatal(err)
	}
	draw("stroke-01")
	draw("stroke-02")

	close(gs.armed)
	w := newFeedStuckWriter()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := httptest.NewRequest("GET", "/api/boards/ov/events", nil).WithContext(rctx)
	r.Header.Set("Last-Event-ID", "1")
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.serveFeed(w, r, "ov")
	}()
	select {
	case <-gs.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the feed did not read the log")
	}
	draw("stroke-03") // stored and queued for the feed while it reads
	draw("stroke-04")
	close(gs.release)
	draw("stroke-05") // live
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(w.String(), "id: 5\n"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no event with id 5 within 5 s: %q", w.String())
		}
	}
	cancel()
	<-done

	var seqs []int64
	for _, ev := range strings.Split(strings.TrimSuffix(w.String(), "\n\n"), "\n\n") {
		lines := strings.Split(ev, "\n")
		if lines[0] != "event: ops" {
			continue
		}
		var ops []struct {
			Seq int64 `json:"seq"`
		}
		if len(lines) != 3 || json.Unmarshal([]byte(strings.TrimPrefix(lines[2], "data: ")), &ops) != nil || len(ops) == 0 {
			t.Fatalf("malformed ops event %q", ev)
		}
		if id := "id: " + strconv.FormatInt(ops[len(ops)-1].Seq, 10); lines[1] != id {
			t.Errorf("ops event %q: want %s, its last seq", ev, id)
		}
		for _, o := range ops {
			seqs = append(seqs, o.Seq)
		}
	}
	if want := []int64{2, 3, 4, 5}; !slices.Equal(seqs, want) {
		t.Errorf("the feed resumed after 1 with seqs %v; want %v", seqs, want)
	}
}
