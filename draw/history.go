package draw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Boards that remember. One writer goroutine owns every loaded board's log
// state: it validates what clients ask (ownership, duplicates, the cap),
// stores a batch of everything queued in one commit (group commit), and only
// then tells the board: the `ops` frame is both the news and the sender's
// acknowledgement. The relay never waits for it: readers hand requests over
// through a bounded queue and go on.

const (
	writeQueue     = 4096 // requests waiting for the writer; beyond it senders are told to retry
	maxBatchReqs   = 512  // requests in one commit
	maxUnsavedKept = 100000
)

type history struct {
	srv   *Server
	store Store
	in    chan *writeReq

	saving   atomic.Bool
	failure  atomic.Pointer[string] // why saving fails, while it does
	stopOnce sync.Once
	stopped  chan struct{}
}

// writeReq is one sender's request: ops to validate and store, or (with
// done set and no log) a barrier the writer closes once everything queued
// before it is stored.
type writeReq struct {
	log     *boardLog
	from    *client // tell it when refused; nil for recorded classic moves
	event   string  // what the sender sent, for refusals
	ops     []OpFields
	owner   bool   // the sender has the owner's rights by token or API key
	subject string // an API caller's token subject, for webhooks
	// answer, if set, is told how the request ended (the HTTP API waits).
	answer func(writeResult)
	done   chan struct{}
	stop   bool // the last request the writer takes

	// From other nodes (cluster.go): ops they stored, in wire form, or a
	// hint that the store holds ops this node has not seen.
	remote  []byte
	catchUp bool
}

// boardLog is one loaded board's log. state is the writer's alone; head and
// segments are published for readers.
type boardLog struct {
	name     string
	board    *board
	state    *logState
	head     atomic.Int64
	segments atomic.Int64 // since the clear in force: what the cap limits
	access   atomic.Pointer[boardAccess]
	unsaved  map[string]bool
	stripped int64 // the store dropped the points of ops before this seq

	loadMu sync.Mutex
	loaded atomic.Bool // state is there; until then nothing may be written
}

// boardAccess is who owns a board and whether it is locked, for readers.
type boardAccess struct {
	owner  string
	locked bool
}

// publishState tells readers what the writer's state of l now says.
func (l *boardLog) publishState() {
	l.segments.Store(int64(l.state.sinceClear()))
	if a := l.access.Load(); a == nil || a.owner != l.state.owner || a.locked != l.state.locked {
		l.access.Store(&boardAccess{owner: l.state.owner, locked: l.state.locked})
	}
}

// accessNow is the board's owner and lock as last published.
func (l *boardLog) accessNow() boardAccess {
	if a := l.access.Load(); a != nil {
		return *a
	}
	return boardAccess{}
}

func newHistory(srv *Server, store Store) *history {
	h := &history{srv: srv, store: store, in: make(chan *writeReq, writeQueue), stopped: make(chan struct{})}
	h.saving.Store(true)
	go h.run()
	return h
}

// enqueue hands r to the writer without waiting; false when the queue is full.
func (h *history) enqueue(r *writeReq) bool {
	select {
	case h.in <- r:
		return true
	default:
		h.srv.metrics.storeFailures.WithLabelValues("queue_full").Inc()
		return false
	}
}

// barrier waits until everything queued so far has been stored (or failed).
func (h *history) barrier(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case h.in <- &writeReq{done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop stores what is queued and ends the writer. The queue stays open: a
// late request just waits there unanswered instead of panicking a reader.
func (h *history) stop(ctx context.Context) error {
	h.stopOnce.Do(func() {
		select {
		case h.in <- &writeReq{stop: true}:
		case <-ctx.Done():
		}
	})
	select {
	case <-h.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// load reads the board's log from the store, once, before its first member
// may sync. The barrier makes sure ops of an earlier incarnation of the
// board (everyone left, someone came back) are stored first.
func (l *boardLog) load(ctx context.Context, h *history) error {
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	if l.loaded.Load() {
		return nil
	}
	if err := h.barrier(ctx); err != nil {
		return err
	}
	st, head, err := readState(ctx, h.store, l.name)
	if err != nil {
		return err
	}
	l.state, l.unsaved, l.stripped = st, make(map[string]bool), 0
	l.head.Store(head)
	l.publishState()
	l.loaded.Store(true)
	return nil
}

// readState replays a board's stored log.
func readState(ctx context.Context, store Store, name string) (*logState, int64, error) {
	st, head := newLogState(), int64(0)
	err := store.Read(ctx, name, 0, func(op Op) error {
		var o OpFields
		if err := json.Unmarshal(op.Data, &o); err != nil {
			return fmt.Errorf("op %d of board %q: %v", op.Seq, name, err)
		}
		st.apply(op.Seq, &o)
		head = op.Seq
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("reading the history of board %q: %w", name, err)
	}
	return st, head, nil
}

func (h *history) run() {
	defer close(h.stopped)
	batch := make([]*writeReq, 0, maxBatchReqs)
	for r := range h.in {
		batch = append(batch[:0], r)
		for len(batch) < maxBatchReqs && !batch[len(batch)-1].stop && len(h.in) > 0 {
			batch = append(batch, <-h.in) // only this goroutine receives: it is there
		}
		h.commit(batch)
		if batch[len(batch)-1].stop {
			return
		}
	}
}

// writeResult is how one request ended: the seqs of its ops that were
// stored (duplicates and no-ops are not), why others were refused, or why
// nothing could be stored.
type writeResult struct {
	Seqs    []int64
	Refused []string
	Err     error
}

// pending is one op of a batch on its way to the store.
type pending struct {
	req    *writeReq
	log    *boardLog
	from   *client
	fields *OpFields
	fresh  *action    // created by this op: its seq is known after the commit
	clear  *clearMark // likewise, for a clear
}

// commit stores a batch and tells the boards. What other nodes stored is
// applied in its place in the queue, between commits of this node's own.
func (h *history) commit(batch []*writeReq) {
	from := 0
	for i, r := range batch {
		if r.remote != nil || r.catchUp {
			h.save(batch[from:i])
			if r.catchUp {
				h.catchUp(r.log)
			} else {
				h.follow(r.log, r.remote)
			}
			from = i + 1
		}
	}
	h.save(batch[from:])
	for _, r := range batch {
		if r.done != nil {
			close(r.done)
		}
	}
}

// maxConflicts bounds how often a commit is tried again after another node
// appended to one of its boards first. Each conflict means another node's
// commit went in, so the cluster progresses; two nodes drawing hard on one
// board lost 3 races in a row in about one run in eight.
const maxConflicts = 16

// save validates requests, numbers what passes, stores it in one commit
// and tells the boards. When another node appended to one of the boards
// first, the writer reads what it missed and validates again.
func (h *history) save(reqs []*writeReq) {
	for attempt := 1; ; attempt++ {
		ops, meta, rollback, refusals := h.prepare(reqs)
		if len(ops) == 0 {
			h.refuse(refusals)
			h.answer(reqs, nil, nil, refusals, nil)
			return
		}
		start := time.Now()
		err := h.store.Append(context.Background(), ops)
		h.srv.metrics.commit.Observe(time.Since(start).Seconds())
		if err != nil {
			for i := len(rollback) - 1; i >= 0; i-- {
				rollback[i]()
			}
		}
		if errors.Is(err, ErrConflict) && attempt < maxConflicts {
			h.srv.metrics.storeFailures.WithLabelValues("conflict").Inc()
			seen := map[*boardLog]bool{}
			for _, m := range meta {
				if !seen[m.log] {
					seen[m.log] = true
					h.catchUpOrReload(m.log)
				}
			}
			continue
		}
		h.refuse(refusals)
		if err != nil {
			h.failed(err, ops, meta)
		} else {
			h.srv.metrics.stored.Add(float64(len(ops)))
			h.resumed()
			h.publish(ops, meta)
		}
		h.answer(reqs, ops, meta, refusals, err)
		return
	}
}

type refusal struct {
	r      *writeReq
	reason string
}

// prepare admits what it can of reqs into the boards' states and numbers it.
func (h *history) prepare(reqs []*writeReq) (ops []Op, meta []pending, rollback []func(), refusals []refusal) {
	now := time.Now().UnixMilli()
	next := map[*boardLog]int64{}
	for _, r := range reqs {
		if r.log == nil {
			continue
		}
		for i := range r.ops {
			o := &r.ops[i]
			fresh, clear, undo, reason := h.admit(r.log, o, r.owner)
			if reason != "" {
				refusals = append(refusals, refusal{r, reason})
				continue
			}
			if undo == nil { // nothing to store: a duplicate, or undo of what is undone
				continue
			}
			rollback = append(rollback, undo)
			if next[r.log] == 0 {
				next[r.log] = r.log.head.Load() + 1
			}
			data, _ := json.Marshal(o)
			ops = append(ops, Op{Board: r.log.name, Seq: next[r.log], Time: now, Data: data})
			next[r.log]++
			meta = append(meta, pending{req: r, log: r.log, from: r.from, fields: o, fresh: fresh, clear: clear})
		}
	}
	return ops, meta, rollback, refusals
}

// answer tells the requests that wait how they ended.
func (h *history) answer(reqs []*writeReq, ops []Op, meta []pending, refusals []refusal, err error) {
	var res map[*writeReq]*writeResult
	for _, r := range reqs {
		if r.answer != nil {
			if res == nil {
				res = map[*writeReq]*writeResult{}
			}
			res[r] = &writeResult{Err: err}
		}
	}
	if res == nil {
		return
	}
	if err == nil {
		for i, m := range meta {
			if w := res[m.req]; w != nil {
				w.Seqs = append(w.Seqs, ops[i].Seq)
			}
		}
	}
	for _, f := range refusals {
		if w := res[f.r]; w != nil {
			w.Refused = append(w.Refused, f.reason)
		}
	}
	for r, w := range res {
		r.answer(*w)
	}
}

func (h *history) refuse(refusals []refusal) {
	for _, f := range refusals {
		h.refused(f.r, f.reason)
	}
}

// catchUp reads the ops of l that other nodes stored and this node has not
// seen, applies them and tells the board.
func (h *history) catchUp(l *boardLog) {
	if !l.loaded.Load() {
		return
	}
	var wire [][]byte
	err := h.store.Read(context.Background(), l.name, l.head.Load(), func(op Op) error {
		var o OpFields
		if err := json.Unmarshal(op.Data, &o); err != nil {
			return fmt.Errorf("op %d: %v", op.Seq, err)
		}
		h.apply(l, op.Seq, &o)
		wire = append(wire, wireOp(nil, op.Seq, op.Time, op.Data))
		return nil
	})
	if err != nil {
		h.srv.log.Warn("cannot read what other nodes stored on a board; trying again at the next news from them", "board", l.name, "err", err)
	}
	h.told(l, wire)
}

// catchUpOrReload catches up with l's stored log; when the store holds less
// than this node has seen (Redis restarted without persistence, or another
// node deleted the board), it starts over from what is stored.
func (h *history) catchUpOrReload(l *boardLog) {
	before := l.head.Load()
	h.catchUp(l)
	if l.head.Load() != before {
		return
	}
	ctx := context.Background()
	info, ok, err := h.store.Info(ctx, l.name)
	if err != nil || (ok && info.Head >= before) {
		return
	}
	st, head, err := readState(ctx, h.store, l.name)
	if err != nil {
		return
	}
	h.srv.log.Error("a board's stored log is shorter than what this node has seen: the store lost data (for Redis, run it with appendonly yes); drawing on it goes on from what is stored, pages open on it should be reloaded",
		"board", l.name, "seen", before, "stored", head)
	l.state, l.unsaved, l.stripped = st, make(map[string]bool), 0
	l.head.Store(head)
	l.publishState()
}

// follow applies ops another node stored, as it told them. A gap (news
// lost on the way) is filled from the store.
func (h *history) follow(l *boardLog, remote []byte) {
	if !l.loaded.Load() {
		return
	}
	var raw []json.RawMessage
	if json.Unmarshal(remote, &raw) != nil {
		h.srv.metrics.clusterErrors.WithLabelValues("malformed").Inc()
		return
	}
	var wire [][]byte
	for _, w := range raw {
		var o struct {
			Seq int64 `json:"seq"`
			OpFields
		}
		if json.Unmarshal(w, &o) != nil || o.Seq <= 0 {
			h.srv.metrics.clusterErrors.WithLabelValues("malformed").Inc()
			return
		}
		head := l.head.Load()
		if o.Seq <= head {
			continue // seen already
		}
		if o.Seq > head+1 {
			h.told(l, wire)
			h.catchUp(l)
			return
		}
		h.apply(l, o.Seq, &o.OpFields)
		wire = append(wire, w)
	}
	h.told(l, wire)
}

// apply adds one op stored elsewhere to l's state.
func (h *history) apply(l *boardLog, seq int64, o *OpFields) {
	l.state.apply(seq, o)
	if o.Type == OpStroke {
		delete(l.unsaved, pieceKey(o))
	}
	l.head.Store(seq)
}

// told tells l's synced members and feeds about ops applied from
// elsewhere: the newest len(wire) ops of l, in order.
func (h *history) told(l *boardLog, wire [][]byte) {
	if len(wire) == 0 {
		return
	}
	l.publishState()
	h.trim(l)
	first := l.head.Load() - int64(len(wire)) + 1
	for len(wire) > 0 {
		n := min(len(wire), 512)
		ops := joinOps(wire[:n])
		l.board.toFeeds(&feedItem{event: EventOps, first: first, last: first + int64(n) - 1, data: ops})
		h.tell(l.board, newFrame(append(append([]byte(`2["ops",`), ops...), ']')))
		wire, first = wire[n:], first+int64(n)
	}
}

// admit checks one op against the board's state and applies it there,
// returning how to take it back if the commit fails. A nil undo with no
// reason means there is nothing to store.
func (h *history) admit(l *boardLog, o *OpFields, byOwner bool) (fresh *action, clear *clearMark, undo func(), reason string) {
	st := l.state
	a := st.actions[o.Stroke]
	byOwner = byOwner || (st.owner != "" && o.Author == st.owner)
	switch o.Type {
	case OpOwn:
		switch {
		case st.owner == o.Author:
			return nil, nil, nil, "" // sent again
		case st.owner != "":
			return nil, nil, nil, "this board already has an owner"
		case l.head.Load() > 0:
			return nil, nil, nil, "only a new, empty board can be claimed: make one with New board"
		}
		st.owner = o.Author
		return nil, nil, func() { st.owner = "" }, ""
	case OpLock, OpUnlock:
		lock := o.Type == OpLock
		switch {
		case !byOwner:
			return nil, nil, nil, "only the board's owner can " + o.Type + " it"
		case st.locked == lock:
			return nil, nil, nil, ""
		}
		st.locked = lock
		return nil, nil, func() { st.locked = !lock }, ""
	}
	if st.locked && !byOwner {
		return nil, nil, nil, "the board is locked: only its owner can draw, undo or clear until they unlock it"
	}
	switch o.Type {
	case OpStroke:
		if a != nil && (a.clear || a.author != o.Author) {
			return nil, nil, nil, "stroke id " + o.Stroke + " belongs to someone else: pick a new random id"
		}
		if a != nil && a.has(o.I) {
			return nil, nil, nil, "" // sent again after a reconnect: stored once
		}
		if limit := h.srv.cfg.MaxBoardSegments; st.sinceClear()+o.segments() > limit {
			return nil, nil, nil, fmt.Sprintf("board is full: %d segments drawn since it was last cleared (the limit is %d); clear the board to draw more", st.sinceClear(), limit)
		}
		if a == nil {
			a = &action{author: o.Author}
			st.actions[o.Stroke] = a
			fresh = a
		}
		a.add(o.I)
		st.segments += o.segments()
		n := o.segments()
		return fresh, nil, func() {
			st.segments -= n
			a.remove(o.I)
			if fresh != nil {
				delete(st.actions, o.Stroke)
			}
		}, ""
	case OpUndo, OpRedo:
		switch {
		case a == nil:
			return nil, nil, nil, "no stroke " + o.Stroke + " on this board"
		case a.author != o.Author || o.Author == "":
			return nil, nil, nil, "you can only " + o.Type + " your own strokes"
		case a.clear && st.clears[len(st.clears)-1].stroke != o.Stroke:
			return nil, nil, nil, "only the newest clear can be " + o.Type + "ne"
		case a.undone == (o.Type == OpUndo):
			return nil, nil, nil, ""
		}
		a.undone = o.Type == OpUndo
		return nil, nil, func() { a.undone = !a.undone }, ""
	case OpClear:
		if a != nil {
			if a.clear && a.author == o.Author {
				return nil, nil, nil, "" // sent again
			}
			return nil, nil, nil, "action id " + o.Stroke + " is taken: pick a new random id"
		}
		a = &action{author: o.Author, clear: true}
		st.actions[o.Stroke] = a
		m := &clearMark{stroke: o.Stroke, segments: st.segments}
		st.clears = append(st.clears, m)
		return a, m, func() {
			delete(st.actions, o.Stroke)
			st.clears = st.clears[:len(st.clears)-1]
		}, ""
	}
	return nil, nil, nil, "unknown op"
}

func (h *history) refused(r *writeReq, reason string) {
	h.srv.metrics.dropped.WithLabelValues(dropRefused).Inc()
	if r.from != nil {
		r.from.reject(r.event, reason, dropRefused)
	}
}

// publish tells each board what was stored, in order, one frame per board.
func (h *history) publish(ops []Op, meta []pending) {
	for i := 0; i < len(ops); {
		l := meta[i].log
		buf := append(make([]byte, 0, 256), `2["ops",[`...)
		j := i
		for ; j < len(ops) && meta[j].log == l; j++ {
			m := meta[j]
			if j > i {
				buf = append(buf, ',')
			}
			buf = wireOp(buf, ops[j].Seq, ops[j].Time, ops[j].Data)
			if m.fresh != nil {
				m.fresh.seq = ops[j].Seq
			}
			if m.clear != nil {
				m.clear.seq = ops[j].Seq
			}
			delete(l.unsaved, pieceKey(m.fields))
			if kind := eventOf[m.fields.Type]; kind != "" {
				e := Event{Type: kind, Board: l.name, Time: ops[j].Time, Name: m.fields.Name}
				if m.from != nil {
					e.ID, e.Subject = m.from.id, m.from.subject()
				} else {
					e.Subject = m.req.subject
				}
				h.srv.notify(e)
			}
		}
		h.trim(l)
		l.head.Store(ops[j-1].Seq)
		l.publishState()
		buf = append(buf, ']')
		opsJSON := buf[len(`2["ops",`):]
		if c := h.srv.cluster; c != nil {
			c.stored(l.name, opsJSON)
		}
		l.board.toFeeds(&feedItem{event: EventOps, first: ops[i].Seq, last: ops[j-1].Seq, data: opsJSON})
		h.tell(l.board, newFrame(append(buf, ']')))
		i = j
	}
}

// eventOf names the webhook event of the ops that make one.
var eventOf = map[string]string{OpClear: "cleared", OpLock: "locked", OpUnlock: "unlocked"}

func (h *history) tell(b *board, f *frame) {
	h.srv.metrics.deliveries.Add(float64(b.broadcastSynced(f)))
}

// trim lets the store drop the points of what no clear can bring back, once
// per new floor: the bulk of a cleared board's bytes.
func (h *history) trim(l *boardLog) {
	floor := l.state.floor()
	if floor <= l.stripped {
		return
	}
	if err := h.store.Trim(context.Background(), l.name, floor); err != nil {
		h.srv.log.Warn("could not trim a board's history; it will be tried at the next commit", "board", l.name, "err", err)
		return
	}
	l.stripped = floor
}

func pieceKey(o *OpFields) string { return o.Stroke + "/" + strconv.Itoa(o.I) }

// failed: nothing of the batch was stored. Live drawing goes on: pieces are
// shown to the board once, unsaved (no seq); the pages that drew them keep
// them and send them again. Undo, redo and clear need the store.
func (h *history) failed(err error, ops []Op, meta []pending) {
	h.srv.metrics.storeFailures.WithLabelValues("append").Inc()
	reason := "saving failed: " + err.Error()
	if h.saving.CompareAndSwap(true, false) {
		h.failure.Store(&reason)
		h.srv.log.Error("cannot save drawings; live drawing goes on, pages keep what is unsaved and send it again", "err", err)
		h.tellStorage(false, reason)
	}
	for i := 0; i < len(ops); {
		l := meta[i].log
		buf := append(make([]byte, 0, 256), `2["ops",[`...)
		n := 0
		j := i
		for ; j < len(ops) && meta[j].log == l; j++ {
			m := meta[j]
			if m.fields.Type != OpStroke {
				if m.from != nil {
					m.from.reject(m.fields.Type, "not saved, try again: "+reason, dropRefused)
				}
				continue
			}
			k := pieceKey(m.fields)
			if l.unsaved[k] || len(l.unsaved) >= maxUnsavedKept {
				continue
			}
			l.unsaved[k] = true
			if n++; n > 1 {
				buf = append(buf, ',')
			}
			buf = wireOp(buf, 0, ops[j].Time, ops[j].Data)
		}
		if n > 0 {
			h.tell(l.board, newFrame(append(buf, "]]"...)))
		}
		i = j
	}
}

func (h *history) resumed() {
	if h.saving.CompareAndSwap(false, true) {
		h.failure.Store(nil)
		h.srv.log.Info("saving drawings again")
		h.tellStorage(true, "")
	}
}

// tellStorage tells every synced page whether its drawing is being saved.
func (h *history) tellStorage(saving bool, reason string) {
	f := newFrame(encodeEvent(EventStorage, map[string]any{"saving": saving, "reason": reason}))
	for _, b := range h.srv.boards.all() {
		h.tell(b, f)
	}
}

// health says what is wrong with saving, if anything.
func (h *history) health() string {
	if r := h.failure.Load(); r != nil {
		return *r
	}
	return ""
}

// sweep deletes boards nobody has drawn on for ttl, looking every tenth of
// it (at most hourly), until quit.
func (s *Server) sweep(ttl time.Duration, quit <-chan struct{}) {
	every := min(ttl/10, time.Hour)
	for {
		s.sweepOnce(ttl)
		select {
		case <-quit:
			return
		case <-time.After(every):
		}
	}
}

func (s *Server) sweepOnce(ttl time.Duration) {
	ctx := context.Background()
	cutoff := time.Now().Add(-ttl)
	deleted, after := 0, ""
	for {
		list, err := s.cfg.Store.Boards(ctx, after, 500)
		if err != nil {
			s.log.Warn("cannot list boards to delete old ones", "err", err)
			return
		}
		for _, b := range list {
			if b.Updated.After(cutoff) {
				continue
			}
			// Under the registry's lock nobody can join the board meanwhile
			// on this node; one that people are on elsewhere is kept too.
			s.boards.mu.Lock()
			if s.boards.m[b.Name] == nil && (s.cluster == nil || len(s.cluster.users(b.Name)) == 0) {
				if err := s.cfg.Store.Delete(ctx, b.Name); err != nil {
					s.log.Warn("cannot delete an old board", "board", b.Name, "err", err)
				} else {
					deleted++
				}
			}
			s.boards.mu.Unlock()
		}
		if len(list) < 500 {
			break
		}
		after = list[len(list)-1].Name
	}
	if deleted > 0 {
		s.log.Info("deleted boards nobody drew on", "boards", deleted, "older_than", ttl.String())
	}
}
