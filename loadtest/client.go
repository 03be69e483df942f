package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// client is one simulated page: a socket.io connection that receives and
// checks every `moving`, and, if it is a sender, emits `mousemove`.
type client struct {
	run     *run
	idx     int
	board   int // index into run.boardNames
	sender  int // sender index, or -1
	node    int // index into cfg.bases: the URL it connects to
	polling bool

	tr        transport
	id        []byte // socket.io socket id; set by the read loop before any event
	order     orderChecker
	connected chan struct{} // closed on the CONNECT acknowledgement
	done      chan struct{} // closed when the read loop has returned
	connErr   error         // why CONNECT was refused; read after connected is closed
	up        atomic.Bool   // the handshakes succeeded

	st clientStats
}

// clientStats are written by the client's own goroutines and summed by the
// progress line and the report.
type clientStats struct {
	delivered     atomic.Int64 // moves sent in the window, from the client's board, counted once
	received      atomic.Int64 // such moves received in the window, whenever sent
	moves         atomic.Int64 // every move counted once, for the progress line
	outOfOrder    atomic.Int64
	duplicates    atomic.Int64
	echoes        atomic.Int64 // its own moves sent back to it
	wrongID       atomic.Int64 // id is not the socket id of the sender named by k
	crossBoard    atomic.Int64 // a move from a sender on another board
	unknown       atomic.Int64 // k outside the run's senders
	malformed     atomic.Int64 // unreadable packets or moves missing id, k, s or t
	left          atomic.Int64 // clientdisconnect events
	rejected      atomic.Int64 // our server's `rejected` replies (rate limit, validation)
	otherEvents   atomic.Int64
	emitted       atomic.Int64 // all emits written
	emittedWindow atomic.Int64 // emits stamped inside the measurement window
	sendErrors    atomic.Int64
	dropped       atomic.Bool // the connection ended before the run did
}

// connect does the Engine.IO and socket.io handshakes and starts the read
// loop. On error the client is closed.
func (c *client) connect(ctx context.Context) error {
	r := c.run
	c.order = newOrderChecker(r.cfg.senders)
	c.connected = make(chan struct{})
	c.done = make(chan struct{})
	u := r.endpoint(c)
	var err error
	if c.polling {
		var p *pollingTransport
		if p, err = dialPolling(ctx, r.httpClient, u); err == nil {
			c.tr = p
		}
	} else {
		var ws *wsTransport
		if ws, err = dialWebsocket(ctx, r.dialer, u); err == nil {
			c.tr = ws
		}
	}
	if err != nil {
		close(c.done)
		return err
	}
	go c.readLoop()
	// CONNECT to the default namespace, without auth.
	if err := c.tr.send([]byte("40")); err != nil {
		c.tr.close()
		<-c.done
		return fmt.Errorf("sending CONNECT: %w", err)
	}
	select {
	case <-c.connected:
		if c.connErr != nil {
			c.tr.close()
			<-c.done
			return c.connErr
		}
		c.up.Store(true)
		return nil
	case <-c.done:
		select {
		case <-c.connected:
			if c.connErr != nil {
				return c.connErr
			}
		default:
		}
		return errors.New("connection closed during the socket.io handshake")
	case <-ctx.Done():
		c.tr.close()
		<-c.done
		return fmt.Errorf("socket.io handshake: %w", ctx.Err())
	}
}

func (c *client) readLoop() {
	defer close(c.done)
	err := c.tr.readLoop(c.handle)
	if !c.run.stopping.Load() {
		c.st.dropped.Store(true)
		if c.up.Load() { // a failed handshake is reported by connect
			c.run.noteError("connection lost", err)
		}
	}
}

// handle processes one Engine.IO packet; it returns false to end the
// read loop.
func (c *client) handle(p []byte) bool {
	if len(p) == 0 {
		c.st.malformed.Add(1)
		return true
	}
	switch p[0] {
	case '4': // socket.io packet
		if len(p) < 2 {
			c.st.malformed.Add(1)
			return true
		}
		switch p[1] {
		case '2':
			c.onEvent(p)
		case '0':
			c.onConnect(p[2:])
		case '4':
			c.onConnectError(p[2:])
			return false
		case '1':
			return false // the server disconnected this socket
		default:
			c.st.otherEvents.Add(1)
		}
	case '2': // ping
		if len(p) == 1 {
			if err := c.tr.send(pongPacket); err != nil {
				return false
			}
		}
	case '1': // close
		return false
	case '3', '6': // pong, noop
	default:
		c.st.malformed.Add(1)
	}
	return true
}

func (c *client) onConnect(obj []byte) {
	if c.id != nil {
		return
	}
	sid, ok := scanSID(obj)
	if !ok {
		c.connErr = fmt.Errorf("malformed CONNECT acknowledgement %q", clip(obj))
	}
	c.id = bytes.Clone(sid)
	if c.sender >= 0 && ok {
		c.run.setSenderID(c.sender, c.id)
	}
	close(c.connected)
}

func (c *client) onConnectError(obj []byte) {
	if c.id == nil {
		c.connErr = fmt.Errorf("CONNECT refused: %s", clip(obj))
		c.id = []byte{}
		close(c.connected)
	}
}

func (c *client) onEvent(p []byte) {
	name, arg, ok := splitEvent(p)
	switch {
	case !ok:
		c.st.malformed.Add(1)
	case bytes.Equal(name, nameMoving):
		c.onMove(arg)
	case bytes.Equal(name, nameLeft):
		c.st.left.Add(1)
	case bytes.Equal(name, nameRefused):
		c.st.rejected.Add(1)
	default:
		c.st.otherEvents.Add(1)
	}
}

// onMove checks one relayed move: from another client, stamped with that
// client's id, on this board, in order, once.
func (c *client) onMove(arg []byte) {
	now := time.Now().UnixMicro()
	r := c.run
	var m move
	if !scanMove(arg, &m) || !m.hasK || !m.hasS || !m.hasT || len(m.id) == 0 {
		c.st.malformed.Add(1)
		return
	}
	if m.k < 0 || m.k >= int64(r.cfg.senders) {
		c.st.unknown.Add(1)
		return
	}
	k := int(m.k)
	if k == c.sender || bytes.Equal(m.id, c.id) {
		c.st.echoes.Add(1)
		return
	}
	if !bytes.Equal(m.id, r.senderID(k)) {
		c.st.wrongID.Add(1)
	}
	if r.senderBoard[k] != c.board {
		c.st.crossBoard.Add(1)
		return
	}
	switch c.order.observe(k, m.s) {
	case duplicate:
		c.st.duplicates.Add(1)
		return
	case outOfOrder:
		c.st.outOfOrder.Add(1)
	}
	c.st.moves.Add(1)
	if now >= r.rxStart.Load() && now < r.rxEnd.Load() {
		c.st.received.Add(1)
	}
	if m.t >= r.winStart.Load() && m.t < r.winEnd.Load() {
		c.st.delivered.Add(1)
		r.latency.record(now - m.t)
		if len(r.cfg.bases) > 1 {
			if r.senderNode[k] == c.node {
				r.latencySame.record(now - m.t)
			} else {
				r.latencyCross.record(now - m.t)
			}
		}
	}
}

// emitLoop sends rate moves a second until the window ends or stop closes.
// Ticks missed while a write blocks are dropped, not made up, the way a
// throttled page behaves.
func (c *client) emitLoop(stop <-chan struct{}, phase time.Duration) {
	r := c.run
	select {
	case <-time.After(phase):
	case <-stop:
		return
	}
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	pad := bytes.Repeat([]byte("a"), r.cfg.payload)
	var buf []byte
	var seq int64
	winStart, winEnd := r.winStart.Load(), r.winEnd.Load()
	for {
		now := time.Now().UnixMicro()
		if now >= winEnd {
			return
		}
		x, y := strokePoint(c.sender, seq)
		buf = appendMove(buf[:0], x, y, seq%50 != 49, c.sender, seq, now, pad)
		if err := c.tr.send(buf); err != nil {
			c.st.sendErrors.Add(1)
			if !errors.Is(err, errQueue) {
				return
			}
		} else {
			seq++
			c.st.emitted.Add(1)
			if now >= winStart {
				c.st.emittedWindow.Add(1)
			}
		}
		select {
		case <-tick.C:
		case <-stop:
			return
		}
	}
}

// strokePoint walks each sender round its own circle on an 800×600 canvas,
// so a page watching the run sees one ring per sender.
func strokePoint(k int, seq int64) (x, y int) {
	a := float64(seq%120) * (2 * math.Pi / 120)
	cx, cy := 160+float64(k%4)*160, 150+float64(k/4%3)*150
	return int(cx + 60*math.Cos(a)), int(cy + 60*math.Sin(a))
}
