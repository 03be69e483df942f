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

// board is a set of clients that see each other's drawing. The member list is
// copy-on-write: the relay reads a snapshot without locking, joins and leaves
// (rare) replace it.
type board struct {
	name    string
	members atomic.Pointer[[]*client]
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
		if m != from && m.send(f, volatile) {
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

// join adds c to the named board, creating it if there is room.
func (bs *boards) join(name string, c *client) (*board, error) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.m[name]
	if b == nil {
		if len(bs.m) >= bs.max {
			return nil, errTooManyBoards(bs.max)
		}
		b = &board{name: name}
		bs.m[name] = b
	}
	next := append(slices.Clone(b.snapshot()), c)
	b.members.Store(&next)
	return b, nil
}

// leave removes c from b and forgets b once it is empty.
func (bs *boards) leave(b *board, c *client) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	next := slices.DeleteFunc(slices.Clone(b.snapshot()), func(m *client) bool { return m == c })
	b.members.Store(&next)
	if len(next) == 0 && bs.m[b.name] == b {
		delete(bs.m, b.name)
	}
}

// tellBoard sends f to everyone else on c's board.
func (c *client) tellBoard(f *frame, volatile bool) {
	c.srv.metrics.deliveries.Add(float64(c.board.broadcast(f, c, volatile)))
}
