package draw

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
)

// Op types of a board's log (docs/PROTOCOL.md).
const (
	OpStroke = "stroke"
	OpUndo   = "undo"
	OpRedo   = "redo"
	OpClear  = "clear"
	OpOwn    = "own"    // the author becomes the board's owner; only as a new board's first op
	OpLock   = "lock"   // only the owner draws from here on
	OpUnlock = "unlock" // everyone draws again
)

// Limits of one piece of a stroke, and of one draw event.
const (
	MaxPiecePoints  = 256   // points in one piece (the page sends ~3 every 50 ms)
	MaxStrokePieces = 10000 // pieces in one stroke (over eight minutes of one pen-down)
	MaxDrawPieces   = 64    // pieces in one draw event
	MaxWidth        = 40
	classicColor    = "#1c1917" // what the page draws a move without colour in
	classicWidth    = 2
)

var (
	strokeIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,32}$`)
	secretRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)
)

// OpFields is an op's JSON object. Stored ops are re-encoded from it, so what
// is kept is canonical whatever the client sent; tools that write a store
// (bench/memory) encode it too, so their bytes are the server's.
type OpFields struct {
	Type   string    `json:"type"`
	Stroke string    `json:"stroke"`
	I      int       `json:"i"`
	Author string    `json:"author"`
	Color  string    `json:"color,omitempty"`
	Width  float64   `json:"width,omitempty"`
	Points []float64 `json:"points,omitempty"`
	Name   string    `json:"name,omitempty"`
}

// MarshalJSON leaves i out of ops other than pieces.
func (o OpFields) MarshalJSON() ([]byte, error) {
	type plain OpFields
	if o.Type == OpStroke {
		return json.Marshal(plain(o))
	}
	return json.Marshal(struct {
		plain
		I *int `json:"i,omitempty"`
	}{plain: plain(o)})
}

// segments is what a piece counts against the board's cap.
func (o *OpFields) segments() int { return max(1, len(o.Points)/2-1) }

// authorID is the public id of the author who knows secret.
func authorID(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(h[:])[:16]
}

// parsePiece validates one piece of a draw event, saying which field is wrong.
func parsePiece(raw json.RawMessage) (OpFields, error) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return OpFields{}, errors.New("a piece must be an object {stroke, i, color, width, points}")
	}
	var o OpFields
	if json.Unmarshal(f["stroke"], &o.Stroke) != nil || !strokeIDRE.MatchString(o.Stroke) {
		return OpFields{}, errors.New("piece stroke must be 8-32 letters, digits, '-' or '_'")
	}
	if json.Unmarshal(f["i"], &o.I) != nil || o.I < 0 || o.I >= MaxStrokePieces {
		return OpFields{}, fmt.Errorf("piece i must be a whole number from 0 to %d", MaxStrokePieces-1)
	}
	if json.Unmarshal(f["color"], &o.Color) != nil || !colorRE.MatchString(o.Color) {
		return OpFields{}, errors.New(`piece color must look like "#1e90ff"`)
	}
	if json.Unmarshal(f["width"], &o.Width) != nil || o.Width < 1 || o.Width > MaxWidth {
		return OpFields{}, fmt.Errorf("piece width must be a number from 1 to %d", MaxWidth)
	}
	if json.Unmarshal(f["points"], &o.Points) != nil || len(o.Points) < 2 || len(o.Points)%2 != 0 || len(o.Points) > 2*MaxPiecePoints {
		return OpFields{}, fmt.Errorf("piece points must be numbers [x0, y0, x1, y1, ...], 1 to %d points", MaxPiecePoints)
	}
	for _, v := range o.Points {
		if math.Abs(v) > MaxCoordinate {
			return OpFields{}, fmt.Errorf("piece points must be within ±%d", MaxCoordinate)
		}
	}
	o.Type = OpStroke
	return o, nil
}

// parseStrokeRef reads the {stroke} argument of undo, redo and clear.
func parseStrokeRef(args []json.RawMessage) (string, error) {
	var r struct {
		Stroke string `json:"stroke"`
	}
	if len(args) == 0 || json.Unmarshal(args[0], &r) != nil || !strokeIDRE.MatchString(r.Stroke) {
		return "", errors.New("needs an object {stroke} with an id of 8-32 letters, digits, '-' or '_'")
	}
	return r.Stroke, nil
}

// wireOp is the op as clients see it: {"seq":…,"time":…, …data}. An op not
// saved yet has no seq.
func wireOp(buf []byte, seq, time int64, data []byte) []byte {
	buf = append(buf, '{')
	if seq > 0 {
		buf = append(buf, `"seq":`...)
		buf = strconv.AppendInt(buf, seq, 10)
		buf = append(buf, ',')
	}
	buf = append(buf, `"time":`...)
	buf = strconv.AppendInt(buf, time, 10)
	buf = append(buf, ',')
	return append(buf, data[1:]...)
}

// action is a stroke or a clear: what undo and redo address.
type action struct {
	author string
	clear  bool
	undone bool
	seq    int64    // its first op
	pieces []uint64 // bit i: piece i is stored
}

func (a *action) has(i int) bool { return i/64 < len(a.pieces) && a.pieces[i/64]&(1<<(i%64)) != 0 }

func (a *action) add(i int) {
	for len(a.pieces) <= i/64 {
		a.pieces = append(a.pieces, 0)
	}
	a.pieces[i/64] |= 1 << (i % 64)
}

func (a *action) remove(i int) { a.pieces[i/64] &^= 1 << (i % 64) }

// clearMark is a stored clear: segments is how many were stored before it.
type clearMark struct {
	seq      int64
	stroke   string
	segments int
}

// logState is what replaying a board's log yields: who owns which stroke,
// what is undone, the clears, and the segments that count against the cap.
// The writer keeps one per loaded board; exports build one per request.
type logState struct {
	actions  map[string]*action
	clears   []*clearMark // oldest first; only the last may be undone
	segments int          // stored segments
	owner    string       // author id of the board's owner; "" for nobody's
	locked   bool         // only the owner draws
}

func newLogState() *logState { return &logState{actions: make(map[string]*action)} }

// apply replays one stored op.
func (s *logState) apply(seq int64, o *OpFields) {
	switch o.Type {
	case OpStroke:
		a := s.actions[o.Stroke]
		if a == nil {
			a = &action{author: o.Author, seq: seq}
			s.actions[o.Stroke] = a
		}
		a.add(o.I)
		s.segments += o.segments()
	case OpClear:
		s.actions[o.Stroke] = &action{author: o.Author, clear: true, seq: seq}
		s.clears = append(s.clears, &clearMark{seq: seq, stroke: o.Stroke, segments: s.segments})
	case OpUndo, OpRedo:
		if a := s.actions[o.Stroke]; a != nil {
			a.undone = o.Type == OpUndo
		}
	case OpOwn:
		if s.owner == "" {
			s.owner = o.Author
		}
	case OpLock, OpUnlock:
		s.locked = o.Type == OpLock
	}
}

// sinceClear counts the segments drawn since the newest clear in force:
// what the board's cap limits.
func (s *logState) sinceClear() int {
	for i := len(s.clears) - 1; i >= 0; i-- {
		if a := s.actions[s.clears[i].stroke]; a != nil && !a.undone {
			return s.segments - s.clears[i].segments
		}
	}
	return s.segments
}

// floor is the seq before which nothing can ever show again: the newest
// clear in force that is not the newest clear (only the newest can be undone
// or redone). 0 when there is none.
func (s *logState) floor() int64 {
	for i := len(s.clears) - 2; i >= 0; i-- {
		if a := s.actions[s.clears[i].stroke]; a != nil && !a.undone {
			return s.clears[i].seq
		}
	}
	return 0
}

// visible says whether a piece stored at seq of stroke is drawn.
func (s *logState) visible(seq int64, stroke string) bool {
	if a := s.actions[stroke]; a != nil && a.undone {
		return false
	}
	for i := len(s.clears) - 1; i >= 0 && s.clears[i].seq > seq; i-- {
		if a := s.actions[s.clears[i].stroke]; a != nil && !a.undone {
			return false
		}
	}
	return true
}
