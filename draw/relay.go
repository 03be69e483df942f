package draw

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/zishang520/engine.io/v2/types"
)

// The wire contract. The first three are the original app's; the others are
// additions that old clients simply never see or send.
const (
	EventMove             = "mousemove"        // client → server {x, y, drawing, ...extra}
	EventMoving           = "moving"           // server → others {..., id}
	EventClientDisconnect = "clientdisconnect" // server → others: id
	EventRejected         = "rejected"         // server → sender {event, reason, dropped}
	EventHello            = "hello"            // client → server {name, color}
	EventPresence         = "presence"         // server → newcomer {users: [{id, name, color}]}
	EventJoined           = "joined"           // server → others {id, name, color}

	// The board's log (docs/PROTOCOL.md), for clients that sync.
	EventSync    = "sync"    // client → server {author, since}
	EventSynced  = "synced"  // server → that client {author, head, saving, segments, limit}
	EventDraw    = "draw"    // client → server [{stroke, i, color, width, points}, ...]
	EventUndo    = "undo"    // client → server {stroke}
	EventRedo    = "redo"    // client → server {stroke}
	EventClear   = "clear"   // client → server {stroke}
	EventOps     = "ops"     // server → synced clients [op, ...]
	EventStorage = "storage" // server → synced clients {saving, reason}

	// Owners (README "Owners and locked boards"); the answer is an op in `ops`.
	EventClaim  = "claim"  // client → server {}: become the owner of this new, empty board
	EventLock   = "lock"   // client → server {}: only the owner draws
	EventUnlock = "unlock" // client → server {}: everyone draws again
)

// knownEvents are counted by name in the events metric.
var knownEvents = map[string]bool{EventMove: true, EventHello: true, EventSync: true, EventDraw: true, EventUndo: true, EventRedo: true, EventClear: true,
	EventClaim: true, EventLock: true, EventUnlock: true}

// onData receives every Engine.IO message of this connection, in arrival
// order, on the connection's reader. Our events are handled right here;
// only connection management reaches the socket.io library.
func (c *client) onData(args ...any) {
	buf, _ := args[0].(types.BufferInterface)
	if buf == nil {
		return
	}
	if _, text := buf.(*types.StringBuffer); !text {
		c.reject("binary", "binary messages are not supported", dropInvalid)
		return
	}
	raw := buf.Bytes()
	p, err := parsePacket(raw)
	if err != nil {
		c.reject("packet", err.Error(), dropInvalid)
		return
	}
	switch {
	case p.typ == pktDisconnect && p.nsp == "/":
		// Leave now, on the reader: packets after it must not be relayed
		// while the library handles the disconnect in a goroutine.
		c.leave()
		c.toLibrary(p, buf)
	case p.typ == pktConnect || p.typ == pktDisconnect:
		c.toLibrary(p, buf)
	case p.typ != pktEvent:
		c.reject("packet", fmt.Sprintf("packet type %c is not accepted from clients", p.typ), dropInvalid)
	case p.nsp != "/":
		c.reject("packet", fmt.Sprintf("namespace %q does not exist; use \"/\"", p.nsp), dropInvalid)
	case c.gone.Load():
		// the socket left its board; its last packets have no audience
	case c.bound.Load():
		c.event(p.data)
	default:
		c.mu.Lock()
		if c.bound.Load() {
			c.mu.Unlock()
			c.event(p.data)
			return
		}
		if len(c.early) < maxEarlyEvents {
			c.early = append(c.early, p.data)
		}
		c.mu.Unlock()
	}
}

// event dispatches one EVENT packet's payload.
func (c *client) event(data []byte) {
	name, args, err := parseEvent(data)
	if err != nil {
		c.reject("packet", err.Error(), dropInvalid)
		return
	}
	if knownEvents[name] {
		c.srv.metrics.events.WithLabelValues(name).Inc()
	} else {
		c.srv.metrics.events.WithLabelValues("other").Inc()
	}
	now := time.Now()
	if !c.limiter.allow(now) {
		c.reject(name, fmt.Sprintf("rate limit exceeded: at most %g events per second", c.srv.cfg.EventsPerSecond), dropRate)
		return
	}
	switch name {
	case EventMove:
		c.move(args, now)
	case EventHello:
		c.hello(args)
	case EventSync:
		c.sync(args)
	case EventDraw:
		c.draw(args)
	case EventUndo, EventRedo, EventClear:
		c.action(name, args)
	case EventClaim, EventLock, EventUnlock:
		c.ownership(name)
	default:
		c.reject(name, "unknown event", dropInvalid)
	}
}

// move is the hot path: validate, stamp the sender's id, fan out to the
// board's other members. Cursor moves are volatile: a lagging receiver
// misses some rather than slowing anyone down.
func (c *client) move(args []json.RawMessage, received time.Time) {
	if len(args) == 0 {
		c.reject(EventMove, "mousemove needs an object {x, y, drawing}", dropInvalid)
		return
	}
	pkt, mv, err := encodeMoving(args[0], c.id, c.srv.cfg.MaxExtraBytes)
	if err != nil {
		c.reject(EventMove, err.Error(), dropInvalid)
		return
	}
	if mv.drawing && !c.mayDraw() {
		c.reject(EventMove, c.whyNotDraw(), dropRefused)
		return
	}
	c.tellBoard(newFrame(pkt), true)
	c.srv.metrics.relay.Observe(time.Since(received).Seconds())
	if cl := c.srv.cluster; cl != nil {
		cl.move(c.board.name, pkt)
	}
	if !c.synced.Load() && !c.srv.cfg.DontRecordClassic { // pages that sync send their strokes as draw
		c.record(mv)
	}
}

// user is one entry of the presence list.
type user struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

const maxNameLen = 40

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// hello records the sender's display name and colour. Presence is opt-in:
// only clients that said hello get presence and joined events, so old
// clients (and load testers) on a big board never pay for them. The first
// hello is answered with who is here.
func (c *client) hello(args []json.RawMessage) {
	var h struct {
		Name  *string `json:"name"`
		Color *string `json:"color"`
	}
	if len(args) == 0 || json.Unmarshal(args[0], &h) != nil {
		c.reject(EventHello, "hello needs an object {name, color}", dropInvalid)
		return
	}
	name, color := "", ""
	if h.Name != nil {
		name = *h.Name
	}
	if h.Color != nil {
		color = *h.Color
	}
	if len([]rune(name)) > maxNameLen {
		c.reject(EventHello, fmt.Sprintf("name is longer than %d characters", maxNameLen), dropInvalid)
		return
	}
	if color != "" && !colorRE.MatchString(color) {
		c.reject(EventHello, `color must look like "#1e90ff"`, dropInvalid)
		return
	}
	c.presenceMu.Lock()
	if c.grant == nil { // a token's name is who the holder is
		c.name = name
	}
	c.color = color
	c.presenceMu.Unlock()
	if c.wantsPresence.CompareAndSwap(false, true) {
		c.sendPresence()
	}
	u := c.user()
	c.tellPresence(newFrame(encodeEvent(EventJoined, u)))
	c.board.feedPresence(EventJoined, u)
	if cl := c.srv.cluster; cl != nil {
		cl.joined(c.board.name, u)
	}
}

func (c *client) user() user {
	c.presenceMu.Lock()
	defer c.presenceMu.Unlock()
	return user{ID: c.id, Name: c.name, Color: c.color}
}

// maxPresenceList caps the users listed in one presence event; count still
// says how many there are.
const maxPresenceList = 200

// sendPresence tells c who else is on its board, on every node.
func (c *client) sendPresence() {
	users, count := []user{}, 0
	for _, m := range c.board.snapshot() {
		if m == c || m.gone.Load() {
			continue
		}
		if count++; len(users) < maxPresenceList {
			users = append(users, m.user())
		}
	}
	if cl := c.srv.cluster; cl != nil {
		for _, u := range cl.users(c.board.name) {
			if count++; len(users) < maxPresenceList {
				users = append(users, u)
			}
		}
	}
	c.emit(EventPresence, map[string]any{"users": users, "count": count})
}
