package draw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Op is one entry of a board's log (docs/PROTOCOL.md): Data is the op's JSON
// object without seq and time, which the store keeps beside it.
type Op struct {
	Board string
	Seq   int64
	Time  int64 // Unix milliseconds
	Data  []byte
}

// BoardInfo describes a stored board.
type BoardInfo struct {
	Name    string
	Head    int64     // newest Seq
	Updated time.Time // when its newest op was stored
}

// Store keeps every board's log. One writer calls Append; reads may run
// beside it. Implementations: MemoryStore here, draw/sqlite and draw/redis.
type Store interface {
	// Append stores ops in one commit, all or none. The caller numbers
	// them: each board's ops continue its log in order with no gap (head+1,
	// head+2, …). When a board's head is not where its ops continue (another
	// node appended first), nothing is stored and the error wraps
	// ErrConflict: read what is new and try again.
	Append(ctx context.Context, ops []Op) error
	// Read calls fn with the board's ops whose Seq > since, oldest first.
	// An error from fn stops the read and is returned.
	Read(ctx context.Context, board string, since int64, fn func(Op) error) error
	// Trim drops the drawing data of the board's ops whose Seq < before:
	// a clear that can no longer be undone hides them for good. Each op stays,
	// with its seq, type, stroke, i and author, so that who owns what and
	// which pieces were stored outlive the points (StripPoints says what goes).
	Trim(ctx context.Context, board string, before int64) error
	// Boards lists stored boards whose name sorts after after, by name, at
	// most limit of them; with after "" the list starts with the default
	// board "" if it is stored.
	Boards(ctx context.Context, after string, limit int) ([]BoardInfo, error)
	// Info describes one board; ok is false when it is not stored.
	Info(ctx context.Context, board string) (info BoardInfo, ok bool, err error)
	// Delete removes a board and its log; its numbering starts again at 1.
	Delete(ctx context.Context, board string) error
	Close() error
}

// StripPoints returns an op's data without its points: what Trim keeps.
func StripPoints(data []byte) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil || fields["points"] == nil {
		return data
	}
	var o OpFields
	if json.Unmarshal(data, &o) != nil {
		return data
	}
	o.Points = nil
	out, _ := json.Marshal(o)
	return out
}

// ErrConflict says that Append's ops do not continue a board's log.
var ErrConflict = errors.New("the board's log moved on: read what is new and try again")

// ErrStopRead is returned by a Read callback to stop early without error.
var ErrStopRead = errors.New("stop reading")

// CheckSeq checks that op continues its board's log at head: inBatch says
// that head is an earlier op of the same batch rather than what is stored.
// Only a first op that does not follow the stored head is an ErrConflict;
// ops numbered out of order within a batch are the caller's mistake.
func CheckSeq(op Op, head int64, inBatch bool) error {
	switch {
	case op.Seq <= 0:
		return fmt.Errorf("board %q: op numbered %d: seqs start at 1", op.Board, op.Seq)
	case op.Seq == head+1:
		return nil
	case inBatch:
		return fmt.Errorf("board %q: op %d follows op %d of the same batch: a board's ops must be numbered in order with no gap", op.Board, op.Seq, head)
	default:
		return fmt.Errorf("board %q: ops from %d do not continue its head %d: %w", op.Board, op.Seq, head, ErrConflict)
	}
}
