package draw

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// What clients ask of their board's log (docs/PROTOCOL.md). These run on the
// client's reader, check the shape of the request and hand it to the writer
// (history.go), which checks it against the board and answers.

// recorder turns a classic client's moves into stroke pieces, as the classic
// page draws them: a drawing move after an earlier position is a segment.
// Only the client's reader touches it.
type recorder struct {
	x, y    float64
	has     bool // x, y hold the previous position
	strokes int  // strokes begun; names the next one
	inside  bool // the last move was drawing: the stroke goes on
	pieces  int  // pieces of the current stroke
}

// record stores a classic client's drawing. It never refuses anything to
// the client, which speaks only the seed contract.
func (c *client) record(mv move) {
	r := &c.rec
	px, py, had := r.x, r.y, r.has
	r.x, r.y, r.has = mv.x, mv.y, true
	if !mv.drawing {
		r.inside = false
		return
	}
	if !had || !c.board.log.loaded.Load() {
		return
	}
	if !r.inside {
		r.inside, r.strokes, r.pieces = true, r.strokes+1, 0
	}
	o := OpFields{
		Type:   OpStroke,
		Stroke: "~" + c.id + "." + strconv.Itoa(r.strokes),
		I:      r.pieces,
		Color:  classicColor,
		Width:  classicWidth,
		Points: []float64{px, py, mv.x, mv.y},
	}
	if r.pieces >= MaxStrokePieces { // one very long drag: go on as a new stroke
		r.strokes, r.pieces = r.strokes+1, 0
		o.Stroke, o.I = "~"+c.id+"."+strconv.Itoa(r.strokes), 0
	}
	r.pieces++
	var color string
	if json.Unmarshal(mv.color, &color) == nil && colorRE.MatchString(color) {
		o.Color = color
	}
	var width float64
	if json.Unmarshal(mv.width, &width) == nil && width >= 1 && width <= MaxWidth {
		o.Width = width
	}
	if !c.srv.history.enqueue(&writeReq{log: c.board.log, ops: []OpFields{o}}) {
		c.srv.metrics.dropped.WithLabelValues(dropUnrecorded).Inc()
	}
}

// sync opts the client in to the board's log and tells it where the log is.
func (c *client) sync(args []json.RawMessage) {
	var r struct {
		Author *string  `json:"author"`
		Since  *float64 `json:"since"`
	}
	if len(args) == 0 || json.Unmarshal(args[0], &r) != nil {
		c.reject(EventSync, "sync needs an object {author, since}", dropInvalid)
		return
	}
	switch {
	case r.Author == nil || !secretRE.MatchString(*r.Author):
		c.reject(EventSync, "sync author must be a secret of 16-64 letters, digits, '-' or '_' that the page keeps", dropInvalid)
		return
	case r.Since != nil && (*r.Since < 0 || *r.Since != float64(int64(*r.Since))):
		c.reject(EventSync, "sync since must be a whole number ≥ 0", dropInvalid)
		return
	}
	l := c.board.log
	if !l.loaded.Load() { // it failed at the join: try again
		ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
		err := l.load(ctx, c.srv.history)
		cancel()
		if err != nil {
			c.reject(EventSync, "this board's history cannot be read right now, drawing is not saved: "+err.Error(), dropRefused)
			return
		}
	}
	c.author = authorID(*r.Author)
	a := l.accessNow()
	// From here on the board's ops reach this client; what it missed before
	// it fetches from history.ndjson, so nothing falls in between.
	c.synced.Store(true)
	c.emit(EventSynced, map[string]any{
		"author":   c.author,
		"head":     l.head.Load(),
		"saving":   c.srv.history.health() == "",
		"reason":   c.srv.history.health(),
		"segments": l.segments.Load(),
		"limit":    c.srv.cfg.MaxBoardSegments,
		"owner":    a.owner,
		"locked":   a.locked,
		"role":     c.role(a),
	})
}

// draw stores pieces of the client's strokes.
func (c *client) draw(args []json.RawMessage) {
	if !c.synced.Load() {
		c.reject(EventDraw, "send sync before draw", dropInvalid)
		return
	}
	var raw []json.RawMessage
	if len(args) == 0 || json.Unmarshal(args[0], &raw) != nil || len(raw) == 0 || len(raw) > MaxDrawPieces {
		c.reject(EventDraw, fmt.Sprintf("draw needs an array of 1 to %d pieces", MaxDrawPieces), dropInvalid)
		return
	}
	ops := make([]OpFields, 0, len(raw))
	for _, p := range raw {
		o, err := parsePiece(p)
		if err != nil {
			c.reject(EventDraw, err.Error(), dropInvalid)
			return
		}
		o.Author = c.author
		ops = append(ops, o)
	}
	c.toWriter(EventDraw, ops)
}

// action handles undo, redo and clear.
func (c *client) action(name string, args []json.RawMessage) {
	if !c.synced.Load() {
		c.reject(name, "send sync before "+name, dropInvalid)
		return
	}
	stroke, err := parseStrokeRef(args)
	if err != nil {
		c.reject(name, name+" "+err.Error(), dropInvalid)
		return
	}
	o := OpFields{Type: name, Stroke: stroke, Author: c.author}
	if name == EventClear {
		o.Name = c.user().Name
	}
	c.toWriter(name, []OpFields{o})
}

func (c *client) toWriter(event string, ops []OpFields) {
	if c.grant != nil && c.grant.Role == RoleView {
		c.reject(event, "your token lets you watch only", dropRefused)
		return
	}
	owner := c.grant != nil && c.grant.Role == RoleOwner
	if !c.srv.history.enqueue(&writeReq{log: c.board.log, from: c, event: event, ops: ops, owner: owner}) {
		c.reject(event, "server busy, not saved: send it again in a moment", dropRefused)
	}
}

// ownership handles claim, lock and unlock.
func (c *client) ownership(name string) {
	if !c.synced.Load() {
		c.reject(name, "send sync before "+name, dropInvalid)
		return
	}
	if c.grant != nil && c.grant.Role == RoleView {
		c.reject(name, "your token lets you watch only", dropRefused)
		return
	}
	typ := map[string]string{EventClaim: OpOwn, EventLock: OpLock, EventUnlock: OpUnlock}[name]
	c.toWriter(name, []OpFields{{Type: typ, Author: c.author}})
}

// mayDraw says whether this client may draw now: not with a token that only
// lets it watch, and on a locked board only if it is the owner.
func (c *client) mayDraw() bool {
	if c.grant != nil && c.grant.Role == RoleView {
		return false
	}
	a := c.board.log.accessNow()
	return !a.locked || c.isOwner(a)
}

func (c *client) whyNotDraw() string {
	if c.grant != nil && c.grant.Role == RoleView {
		return "your token lets you watch only"
	}
	return "the board is locked: only its owner can draw until they unlock it"
}

// isOwner says whether c has the owner's rights on its board.
func (c *client) isOwner(a boardAccess) bool {
	return (c.grant != nil && c.grant.Role == RoleOwner) || (c.author != "" && c.author == a.owner)
}

// role is what c may do on its board now, for the page: "owner", "draw" or
// "view".
func (c *client) role(a boardAccess) Role {
	switch {
	case c.grant != nil && c.grant.Role == RoleView:
		return RoleView
	case c.isOwner(a):
		return RoleOwner
	}
	return RoleDraw
}
