package draw

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The live feed over Server-Sent Events: one board's ops and presence for
// dashboards and bots that do not speak socket.io. A reader resumes with
// Last-Event-ID (the last seq it has) and gets what it missed from the log
// first. A reader that cannot keep up is dropped with a final event saying
// why; nothing is buffered for it beyond feedQueue items.

const (
	feedQueue     = 128              // items waiting for one reader
	feedHeartbeat = 15 * time.Second // a comment line keeps proxies from closing an idle stream
	feedWriteWait = 10 * time.Second // a reader that takes no bytes this long is dropped
	feedChunk     = 256              // ops per event when catching up
)

// feedItem is one thing to tell a feed's reader: ops (first..last, data the
// JSON array) or a presence event.
type feedItem struct {
	event       string
	first, last int64
	data        []byte
}

type feed struct {
	ch   chan *feedItem // pointers: an idle reader costs 1 KiB of queue, not 7
	quit chan struct{}  // closed when the reader is dropped
	once sync.Once
}

func newFeed() *feed { return &feed{ch: make(chan *feedItem, feedQueue), quit: make(chan struct{})} }

// offer hands it to the reader without waiting; a full queue drops the reader.
func (f *feed) offer(it *feedItem) {
	select {
	case f.ch <- it:
	default:
		f.once.Do(func() { close(f.quit) })
	}
}

// toFeeds tells the board's feeds.
func (b *board) toFeeds(it *feedItem) {
	if p := b.feeds.Load(); p != nil {
		for _, f := range *p {
			f.offer(it)
		}
	}
}

func (b *board) feedPresence(event string, v any) {
	if p := b.feeds.Load(); p == nil || len(*p) == 0 {
		return
	}
	data, _ := json.Marshal(v)
	b.toFeeds(&feedItem{event: event, data: data})
}

// joinFeed adds f to the named board, creating it if there is room.
func (bs *boards) joinFeed(name string, f *feed) (*board, error) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b, err := bs.open(name)
	if err != nil {
		return nil, err
	}
	var next []*feed
	if p := b.feeds.Load(); p != nil {
		next = append(next, *p...)
	}
	next = append(next, f)
	b.feeds.Store(&next)
	return b, nil
}

// leaveFeed takes f off b, forgetting b once nobody is left.
func (bs *boards) leaveFeed(b *board, f *feed) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	var next []*feed
	for _, g := range *b.feeds.Load() {
		if g != f {
			next = append(next, g)
		}
	}
	b.feeds.Store(&next)
	bs.forgetIfIdle(b)
}

// serveFeed streams a board as text/event-stream: `presence` first (who is
// on it), then `ops` (id: the last seq in it) and `joined` / `left` as they
// happen. Last-Event-ID or ?since= resumes after that seq.
func (s *Server) serveFeed(w http.ResponseWriter, r *http.Request, name string) {
	since, err := feedSince(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	rc := http.NewResponseController(w)
	f := newFeed()
	b, err := s.boards.joinFeed(name, f)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	defer s.boards.leaveFeed(b, f)
	s.metrics.feeds.Inc()
	defer s.metrics.feeds.Dec()
	if err := s.loadBoard(r.Context(), b); err != nil {
		apiError(w, http.StatusServiceUnavailable, "cannot read this board's history right now: "+err.Error())
		return
	}
	out := feedStart(w, r, rc)
	if out.conn != nil {
		defer out.conn.Close()
	}
	write := func(event string, id int64, data []byte) bool {
		out.deadline(time.Now().Add(feedWriteWait))
		head := append(append(make([]byte, 0, 48), "event: "...), event...)
		if id > 0 {
			head = strconv.AppendInt(append(head, "\nid: "...), id, 10)
		}
		head = append(head, "\ndata: "...)
		_, err := out.w.Write(head)
		if err == nil {
			_, err = out.w.Write(data)
		}
		if err == nil {
			_, err = io.WriteString(out.w, "\n\n")
		}
		return err == nil
	}
	users, count := s.boardUsers(b)
	p, _ := json.Marshal(map[string]any{"users": users, "count": count})
	if !write("presence", 0, p) || out.flush() != nil {
		return
	}
	last := since
	// catchUp sends what is stored after last, in chunks.
	catchUp := func() bool {
		var chunk [][]byte
		send := func() bool {
			if len(chunk) == 0 {
				return true
			}
			ok := write(EventOps, last, joinOps(chunk))
			chunk = chunk[:0]
			return ok
		}
		err := s.cfg.Store.Read(r.Context(), name, last, func(op Op) error {
			chunk = append(chunk, wireOp(nil, op.Seq, op.Time, op.Data))
			last = op.Seq
			if len(chunk) == feedChunk && !send() {
				return ErrStopRead
			}
			return nil
		})
		return err == nil && send() && out.flush() == nil
	}
	if !catchUp() {
		return
	}
	beat := time.NewTicker(feedHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-out.gone:
			return
		case <-f.quit:
			p, _ := json.Marshal(map[string]string{"reason": "you did not keep up with this board: reconnect with Last-Event-ID to resume"})
			write("dropped", 0, p)
			out.flush()
			s.metrics.dropped.WithLabelValues(dropSlowClient).Inc()
			return
		case <-beat.C:
			out.deadline(time.Now().Add(feedWriteWait))
			if _, err := io.WriteString(out.w, ": ping\n\n"); err != nil || out.flush() != nil {
				return
			}
		case it := <-f.ch:
			ok := true
			switch {
			case it.event != EventOps:
				ok = write(it.event, 0, it.data)
			case it.last <= last: // seen while catching up
			case it.first != last+1: // a gap: the log has it
				ok = catchUp()
			default:
				ok = write(EventOps, it.last, it.data)
				last = it.last
			}
			if !ok || out.flush() != nil {
				return
			}
		}
	}
}

// feedOut is where a feed's bytes go.
type feedOut struct {
	w        io.Writer
	flush    func() error
	deadline func(time.Time) error
	gone     <-chan struct{} // the reader went away; nil once hijacked (a write fails instead)
	conn     net.Conn        // hijacked: closed when the feed ends
}

// feedStart answers 200 with an event stream. It takes the connection over
// from net/http where it can: a feed lives for hours, and net/http's
// background reader goroutine per request would make an SSE reader cost
// more than a websocket client. A reader that goes away is then noticed by
// the next write, at the latest the heartbeat's.
func feedStart(w http.ResponseWriter, r *http.Request, rc *http.ResponseController) feedOut {
	const head = "Content-Type: text/event-stream\r\nCache-Control: no-store\r\n" +
		"X-Accel-Buffering: no\r\n" // nginx: do not buffer the stream
	if hj, ok := w.(http.Hijacker); ok && r.ProtoMajor == 1 {
		if conn, rw, err := hj.Hijack(); err == nil {
			rw.WriteString("HTTP/1.1 200 OK\r\n" + head + "Connection: close\r\n\r\n")
			return feedOut{w: rw.Writer, flush: rw.Flush, deadline: conn.SetWriteDeadline, conn: conn}
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return feedOut{w: w, flush: rc.Flush, deadline: rc.SetWriteDeadline, gone: r.Context().Done()}
}

func feedSince(r *http.Request) (int64, error) {
	// Last-Event-ID wins: EventSource sends it when it reconnects to the
	// same URL, whose ?since= is where the reader started, not where it got.
	v := r.URL.Query().Get("since")
	if h := r.Header.Get("Last-Event-ID"); h != "" {
		v = h
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("Last-Event-ID (or since) must be the last seq you have, a whole number ≥ 0; got %q", v)
	}
	return n, nil
}

func joinOps(ops [][]byte) []byte {
	buf := []byte{'['}
	for i, o := range ops {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, o...)
	}
	return append(buf, ']')
}

// loadBoard loads b's log if it is not loaded yet.
func (s *Server) loadBoard(ctx context.Context, b *board) error {
	if b.log.loaded.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	return b.log.load(ctx, s.history)
}

// boardUsers lists who is on b, on every node.
func (s *Server) boardUsers(b *board) ([]user, int) {
	users, count := []user{}, 0
	add := func(u user) {
		if count++; len(users) < maxPresenceList {
			users = append(users, u)
		}
	}
	for _, m := range b.snapshot() {
		if !m.gone.Load() {
			add(m.user())
		}
	}
	if s.cluster != nil {
		for _, u := range s.cluster.users(b.name) {
			add(u)
		}
	}
	return users, count
}
