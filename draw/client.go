package draw

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/engine.io/v2/engine"
	"github.com/zishang520/engine.io/v2/types"
)

// client is one connection: what the relay knows about a sender and how it
// reaches a receiver. It is created when the engine accepts a connection and
// bound to its Socket.IO socket once that connects.
type client struct {
	srv  *Server
	conn engine.Socket
	ip   string

	// The socket.io library's own data listener; we hand it only the packets
	// it should see (see workarounds.go).
	lib atomic.Pointer[types.Listener]

	// Until bound, events wait in early (LIBRARY-NOTES defect 4).
	mu        sync.Mutex
	bound     atomic.Bool
	early     [][]byte
	left      bool
	joined    bool
	gone      atomic.Bool // left its board: ignore whatever it still sends
	counted   bool        // counted out of its board's list; under boards.mu
	admitted  atomic.Bool // holds a slot in srv.limits
	refusal   error       // why the limits refused this connection; set at creation
	closeOnce sync.Once
	// slowDropped: this long-polling receiver was disconnected for lagging
	slowDropped atomic.Bool

	// Set at bind, read-only after.
	id    string
	board *board

	synced atomic.Bool // sent sync: gets the board's ops
	author string      // public author id from its sync; the reader's
	rec    recorder    // a classic client's drawing; the reader's

	grant *Grant // what its token grants; nil without one. Set at admission.

	wantsPresence atomic.Bool // said hello: gets presence and joined events
	presenceMu    sync.Mutex
	name, color   string // what the client said in its last hello

	// Receiving side: direct is our websocket transport once every older
	// packet is known to be in its queue; until then frames go through the
	// engine (long-polling, or an upgrade in progress).
	direct     atomic.Pointer[wsTransport]
	upgradedTo atomic.Pointer[wsTransport]
	backlog    atomic.Int64 // frames handed to the engine since its last flush

	// From the join until socket.io has queued its CONNECT ack, frames for
	// this client wait in held: sent at once they would overtake the ack.
	holding atomic.Bool
	holdMu  sync.Mutex
	held    []heldFrame

	limiter tokenBucket
	notices noticeThrottle
}

const maxEarlyEvents = 256

// loadTimeout bounds reading a board's history at its first join.
const loadTimeout = 30 * time.Second

// refusedGrace is how long a connection over a limit stays open: long
// enough for its CONNECT to be answered with the reason, no longer.
const refusedGrace = 5 * time.Second

func newClient(srv *Server, conn engine.Socket) *client {
	c := &client{srv: srv, conn: conn, ip: clientIP(conn.Request())}
	c.limiter = tokenBucket{rate: srv.cfg.EventsPerSecond, burst: float64(srv.cfg.EventBurst)}
	// Limits apply to every Engine.IO session, CONNECT or not; a refused one
	// learns why at its CONNECT (see Server.admit) and is then closed.
	if reason, err := srv.limits.admit(c.ip, time.Now()); err != nil {
		c.refusal = err
		srv.refuse(c, reason, err)
		time.AfterFunc(refusedGrace, func() { conn.Close(true) })
	} else {
		c.admitted.Store(true)
	}
	if t, ok := conn.Transport().(*wsTransport); ok {
		c.direct.Store(t)
		srv.metrics.wsConns.Add(1)
	} else {
		srv.metrics.pollConns.Add(1)
	}
	conn.On("upgrade", func(args ...any) {
		if t, ok := args[0].(*wsTransport); ok {
			c.upgradedTo.Store(t)
			srv.metrics.pollConns.Add(-1)
			srv.metrics.wsConns.Add(1)
		}
	})
	conn.On("flush", func(...any) { c.backlog.Store(0) })
	conn.On("data", c.onData)
	conn.Once("close", func(...any) { c.closed() })
	if conn.ReadyState() == "closed" { // it closed before we listened
		c.closed()
	}
	return c
}

// closed runs once when the engine connection is gone, whatever the reason:
// the client leaves its board and gives back its connection slot.
func (c *client) closed() {
	c.closeOnce.Do(func() {
		c.leave()
		if c.upgradedTo.Load() != nil || c.direct.Load() != nil {
			c.srv.metrics.wsConns.Add(-1)
		} else {
			c.srv.metrics.pollConns.Add(-1)
		}
		if c.admitted.Load() {
			c.srv.limits.release(c.ip)
		}
	})
}

// send hands one frame to this receiver without blocking. Volatile frames
// (cursor moves) are shed when the receiver lags; anything else that does
// not fit disconnects it.
func (c *client) send(f *frame, volatile bool) (queued bool) {
	if c.holding.Load() {
		if queued, held := c.hold(f, volatile); held {
			return queued
		}
	}
	return c.sendNow(f, volatile)
}

func (c *client) sendNow(f *frame, volatile bool) (queued bool) {
	if t := c.direct.Load(); t != nil {
		return t.enqueue(f.ws, volatile)
	}
	if c.conn.ReadyState() != "open" {
		return false
	}
	limit := int64(c.srv.cfg.SendQueue)
	if n := c.backlog.Load(); n >= limit {
		if volatile {
			c.srv.metrics.dropped.WithLabelValues(dropSlow).Inc()
			return false
		}
		if c.slowDropped.CompareAndSwap(false, true) { // several senders may get here at once
			c.srv.log.Warn("dropped client", "reason", "slow consumer: polling backlog full", "id", c.id, "queue", limit)
			c.srv.metrics.dropped.WithLabelValues(dropSlowClient).Inc()
			c.conn.Close(true)
		}
		return false
	}
	// Checked before the write: once the upgrade happened, this write goes
	// straight through the engine into the new transport's queue behind
	// everything older, so later frames may skip the engine.
	upgraded := c.upgradedTo.Load()
	c.backlog.Add(1)
	c.conn.Write(types.NewStringBuffer(f.pkt), nil, nil) // a StringBuffer is sent as text
	if upgraded != nil {
		c.direct.CompareAndSwap(nil, upgraded)
	}
	return true
}

// emit sends one of our own events to this client alone.
func (c *client) emit(name string, arg any) {
	if c.send(newFrame(encodeEvent(name, arg)), false) {
		c.srv.metrics.deliveries.Inc()
	}
}

// reject tells the sender why its input was not relayed, at most once per
// second; the notices in between are counted in the next one's "dropped".
func (c *client) reject(event, reason, dropReason string) {
	c.srv.metrics.dropped.WithLabelValues(dropReason).Inc()
	if dropped, ok := c.notices.allow(time.Now()); ok {
		c.emit(EventRejected, map[string]any{"event": event, "reason": reason, "dropped": dropped})
		c.srv.log.Debug("rejected input", "id", c.id, "event", event, "reason", reason)
	}
}

// join puts the client on its board. It runs before socket.io acknowledges
// the CONNECT (Server.admit): the library sends the ack before it emits
// "connection", and a client told it is connected must get every frame sent
// to its board from then on. Until bind, those frames are held.
func (c *client) join(id, boardName string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left {
		return errors.New("this connection already left its board: open a new connection")
	}
	c.id = id
	c.holding.Store(true) // before the board lists it
	b, err := c.srv.boards.join(boardName, c)
	if err != nil {
		c.holding.Store(false)
		return err
	}
	c.board, c.joined = b, true
	// The board's history loads beside the relay, which never waits for it;
	// a sync waits for the load (sync.go), a classic move before it is not
	// recorded.
	if !b.log.loaded.Load() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
			defer cancel()
			if err := b.log.load(ctx, c.srv.history); err != nil {
				c.srv.log.Error("cannot load a board; it works live only until a later sync loads it", "board", b.name, "err", err)
			}
		}()
	}
	u := c.user()
	c.tellPresence(newFrame(encodeEvent(EventJoined, u)))
	b.feedPresence(EventJoined, u)
	if cl := c.srv.cluster; cl != nil {
		cl.joined(boardName, u)
	}
	c.srv.notify(Event{Type: "joined", Board: boardName, Time: time.Now().UnixMilli(), ID: id, Name: u.Name, Subject: c.subject()})
	return nil
}

// subject is the app's id for this client's user, from its token.
func (c *client) subject() string {
	if c.grant != nil {
		return c.grant.Subject
	}
	return ""
}

// bind runs once socket.io has queued the CONNECT ack: the frames held since
// the join follow it, then the events that arrived before now are handled,
// in order.
func (c *client) bind() error {
	c.release()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left {
		return errors.New("this connection already left its board: open a new connection")
	}
	for _, data := range c.early {
		c.event(data)
	}
	c.early = nil
	c.bound.Store(true)
	return nil
}

// leave takes the client off its board and tells the others, exactly once.
func (c *client) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left {
		return
	}
	c.left = true
	c.gone.Store(true)
	if !c.joined {
		return
	}
	remaining := c.srv.boards.leave(c.board, c)
	if cl := c.srv.cluster; cl != nil {
		cl.left(c.board.name, c.id)
	}
	c.board.feedPresence("left", map[string]string{"id": c.id})
	u := c.user()
	c.srv.notify(Event{Type: "left", Board: c.board.name, Time: time.Now().UnixMilli(), ID: c.id, Name: u.Name, Subject: c.subject()})
	// At shutdown everyone leaves at once and each departure is news to all
	// who remain: N² notices, 50 million for 10,000 on one board. Nobody is
	// sent more of them than its send queue holds; their own disconnect
	// tells them the rest.
	if remaining == 0 || (!c.srv.ready.Load() && remaining >= c.srv.cfg.SendQueue) {
		return
	}
	c.tellBoard(newFrame(encodeEvent(EventClientDisconnect, c.id)), false)
}

// tokenBucket limits one client's events. Only the client's reader touches it.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *tokenBucket) allow(now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// noticeThrottle lets one notice through per second and counts the rest.
type noticeThrottle struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (n *noticeThrottle) allow(now time.Time) (suppressedBefore int, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.last.IsZero() && now.Sub(n.last) < time.Second {
		n.suppressed++
		return 0, false
	}
	n.last = now
	s := n.suppressed
	n.suppressed = 0
	return s + 1, true
}
