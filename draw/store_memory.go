package draw

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemoryStore keeps boards in memory only (-db :memory:): they last as long
// as the process.
type MemoryStore struct {
	mu     sync.RWMutex
	boards map[string]*memLog
}

type memLog struct {
	head    int64
	ops     []Op // oldest first
	updated time.Time
}

func NewMemoryStore() *MemoryStore { return &MemoryStore{boards: make(map[string]*memLog)} }

// Append checks that every board's ops continue its log (see Store.Append)
// before storing any of them.
func (m *MemoryStore) Append(ctx context.Context, ops []Op) error {
	if len(ops) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	heads := make(map[string]int64) // each board's head as the batch goes on
	for _, op := range ops {
		h, ok := heads[op.Board]
		if !ok {
			if l := m.boards[op.Board]; l != nil {
				h = l.head
			}
		}
		if err := CheckSeq(op, h, ok); err != nil {
			return fmt.Errorf("memory store: store %d ops: %w", len(ops), err)
		}
		heads[op.Board] = op.Seq
	}
	now := time.Now()
	for _, op := range ops {
		l := m.boards[op.Board]
		if l == nil {
			l = &memLog{}
			m.boards[op.Board] = l
		}
		l.head = op.Seq
		l.ops = append(l.ops, Op{Board: op.Board, Seq: op.Seq, Time: op.Time, Data: slices.Clone(op.Data)})
		l.updated = now
	}
	return nil
}

// readChunk is how many ops Read copies under the lock at a time, so a
// slow reader never holds up the writer.
const readChunk = 512

func (m *MemoryStore) Read(ctx context.Context, board string, since int64, fn func(Op) error) error {
	for {
		m.mu.RLock()
		var chunk []Op
		if l := m.boards[board]; l != nil {
			i := sort.Search(len(l.ops), func(i int) bool { return l.ops[i].Seq > since })
			chunk = slices.Clone(l.ops[i:min(len(l.ops), i+readChunk)])
		}
		m.mu.RUnlock()
		for _, op := range chunk {
			if err := fn(op); err != nil {
				if errors.Is(err, ErrStopRead) {
					return nil
				}
				return err
			}
			since = op.Seq
		}
		if len(chunk) < readChunk {
			return ctx.Err()
		}
	}
}

func (m *MemoryStore) Trim(ctx context.Context, board string, before int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.boards[board]; l != nil {
		for i := 0; i < len(l.ops) && l.ops[i].Seq < before; i++ {
			l.ops[i].Data = StripPoints(l.ops[i].Data)
		}
	}
	return nil
}

func (m *MemoryStore) Boards(ctx context.Context, after string, limit int) ([]BoardInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []BoardInfo
	for name, l := range m.boards {
		if name > after || (after == "" && name == "") {
			out = append(out, BoardInfo{Name: name, Head: l.head, Updated: l.updated})
		}
	}
	slices.SortFunc(out, func(a, b BoardInfo) int { return strings.Compare(a.Name, b.Name) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *MemoryStore) Info(ctx context.Context, board string) (BoardInfo, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l := m.boards[board]
	if l == nil {
		return BoardInfo{}, false, nil
	}
	return BoardInfo{Name: board, Head: l.head, Updated: l.updated}, true, nil
}

func (m *MemoryStore) Delete(ctx context.Context, board string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.boards, board)
	return nil
}

func (m *MemoryStore) Close() error { return nil }
