package draw

import (
	"fmt"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultBoard is the board of the page at "/" and of clients that name none.
const DefaultBoard = ""

// MaxBoardName is the longest board name accepted.
const MaxBoardName = 64

var boardNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// CheckBoardName says what is wrong with a board name, if anything.
func CheckBoardName(name string) error {
	if !boardNameRE.MatchString(name) {
		return fmt.Errorf("invalid board name %q: use 1-%d letters, digits, '-' or '_'", name, MaxBoardName)
	}
	return nil
}

// board is a set of clients that see each other's drawing. The relay reads
// the member list without locking. Neither a join nor a leave copies it, so a
// crowd arriving or leaving at once costs linear, not quadratic, work: a join
// appends in place (a reader's older, shorter view never looks past its own
// end), a leave only counts the member as gone (client.gone, which every
// reader skips), and the list is rebuilt once more than half of it is gone.
type board struct {
	name    string
	members atomic.Pointer[[]*client]
	gone    int // members still listed but gone; under boards.mu
	log     *boardLog
	feeds   atomic.Pointer[[]*feed] // SSE readers (feed.go); changed under boards.mu
	holds   int                     // others keeping it open (the API); under boards.mu
}

func newBoard(name string) *board {
	b := &board{name: name}
	b.log = &boardLog{name: name, board: b}
	return b
}

// readers counts b's SSE readers; under boards.mu.
func (b *board) readers() int {
	if p := b.feeds.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// idle says whether nothing keeps b open any more; under boards.mu.
func (b *board) idle() bool {
	return len(b.snapshot())-b.gone == 0 && b.readers() == 0 && b.holds == 0
}

// forgetIfIdle forgets b once nothing keeps it open; under boards.mu.
func (bs *boards) forgetIfIdle(b *board) {
	if b.idle() && bs.m[b.name] == b {
		delete(bs.m, b.name)
	}
}

// hold keeps the named board open (its log loaded) until release.
func (bs *boards) hold(name string) (b *board, release func(), err error) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if b, err = bs.open(name); err != nil {
		return nil, nil, err
	}
	b.holds++
	return b, func() {
		bs.mu.Lock()
		defer bs.mu.Unlock()
		b.holds--
		bs.forgetIfIdle(b)
	}, nil
}

func (b *board) snapshot() []*client {
	if p := b.members.Load(); p != nil {
		return *p
	}
	return nil
}

// broadcast hands f to every member but from and returns how many took it.
func (b *board) broadcast(f *frame, from *client, volatile bool) int {
	n := 0
	for _, m := range b.snapshot() {
		if m != from && !m.gone.Load() && m.send(f, volatile) {
			n++
		}
	}
	return n
}

// tellPresence hands f to every member but from that asked for presence.
func (b *board) tellPresence(f *frame, from *client) int {
	n := 0
	for _, m := range b.snapshot() {
		if m != from && !m.gone.Load() && m.wantsPresence.Load() && m.send(f, false) {
			n++
		}
	}
	return n
}

// broadcastSynced hands f to every member that synced with the board's log,
// the sender included: for it the frame is the acknowledgement.
func (b *board) broadcastSynced(f *frame) int {
	n := 0
	for _, m := range b.snapshot() {
		if m.synced.Load() && !m.gone.Load() && m.send(f, false) {
			n++
		}
	}
	return n
}

// boards is the registry of boards that have members. Only it changes member
// lists, under its lock.
type boards struct {
	mu  sync.Mutex
	m   map[string]*board
	max int
}

func newBoards(max int) *boards { return &boards{m: make(map[string]*board), max: max} }

// all lists the boards that have members.
func (bs *boards) all() []*board {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	out := make([]*board, 0, len(bs.m))
	for _, b := range bs.m {
		out = append(out, b)
	}
	return out
}

// get is the named board if it has members here.
func (bs *boards) get(name string) *board {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.m[name]
}

func (bs *boards) count() int {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return len(bs.m)
}

// roomFor says whether the named board exists or may be opened.
func (bs *boards) roomFor(name string) error {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.m[name] == nil && len(bs.m) >= bs.max {
		return errTooManyBoards(bs.max)
	}
	return nil
}

func errTooManyBoards(max int) error {
	return fmt.Errorf("too many boards open (limit %d): try an existing board later", max)
}

// open is the named board, created if there is room; under bs.mu.
func (bs *boards) open(name string) (*board, error) {
	b := bs.m[name]
	if b == nil {
		if len(bs.m) >= bs.max {
			return nil, errTooManyBoards(bs.max)
		}
		b = newBoard(name)
		bs.m[name] = b
	}
	return b, nil
}

// join adds c to the named board, creating it if there is room.
func (bs *boards) join(name string, c *client) (*board, error) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b, err := bs.open(name)
	if err != nil {
		return nil, err
	}
	next := append(b.snapshot(), c)
	b.members.Store(&next)
	return b, nil
}

// leave counts c, already marked gone, out of b and says how many members
// remain. It forgets b once nobody is left and rebuilds the list once more
// than half of it is gone.
func (bs *boards) leave(b *board, c *client) (remaining int) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	c.counted = true
	b.gone++
	cur := b.snapshot()
	live := len(cur) - b.gone
	if live == 0 {
		bs.forgetIfIdle(b)
		return 0
	}
	if b.gone > live {
		next := slices.DeleteFunc(slices.Clone(cur), func(m *client) bool { return m.counted })
		b.members.Store(&next)
		b.gone = 0
	}
	return live
}

// tellBoard sends f to everyone else on c's board.
func (c *client) tellBoard(f *frame, volatile bool) {
	c.srv.metrics.deliveries.Add(float64(c.board.broadcast(f, c, volatile)))
}

// tellPresence sends f to the others on c's board that asked for presence.
func (c *client) tellPresence(f *frame) {
	c.srv.metrics.deliveries.Add(float64(c.board.tellPresence(f, c)))
}
