package draw

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	ws "github.com/gorilla/websocket"
	"github.com/zishang520/engine.io-go-parser/packet"
	"github.com/zishang520/engine.io/v2/transports"
	"github.com/zishang520/engine.io/v2/types"
)

// Our websocket transport replaces the library's (LIBRARY-NOTES defects 2, 7
// and 8). The library's transport writes one frame per syscall, re-prepares
// every broadcast frame per recipient, drops all but the first pre-encoded
// packet of a batch, buffers without bound and has no write deadline. This one
// keeps a bounded queue of complete frames per connection, shares one encoded
// frame among all recipients, writes a whole batch in one syscall under a
// deadline, and sheds cursor moves (volatile) when a receiver falls behind.

// wsBuilder registers as the engine's "websocket" transport. The transport
// table is process-wide, so settings come from the Server that owns the
// request (see Server.socketIO).
type wsBuilder struct{}

func (wsBuilder) New(ctx *types.HttpContext) transports.Transport {
	t := &wsTransport{Transport: transports.MakeTransport()}
	t.Prototype(t)
	t.Construct(ctx)
	return t
}
func (wsBuilder) HandlesUpgrades() bool                              { return true }
func (wsBuilder) UpgradesTo() *types.Set[string]                     { return types.NewSet[string]() }
func (wsBuilder) Name() string                                       { return transports.WEBSOCKET }
func (t *wsTransport) Name() string                                  { return transports.WEBSOCKET }
func (t *wsTransport) HandlesUpgrades() bool                         { return true }
func (t *wsTransport) SetPerMessageDeflate(*types.PerMessageDeflate) {} // we never compress

var registerTransport sync.Once

type wsTransport struct {
	transports.Transport

	conn  *types.WebSocketConn
	net   net.Conn
	owner *Server // nil outside a Server (then defaults apply)

	mu       sync.Mutex
	queue    []queued // complete frames waiting for the flusher
	spare    []queued // the flusher's previous batch, reused
	flushing bool     // a flusher goroutine is running
	closing  bool     // DoClose was called: flush, then close
	dead     bool     // the connection is gone or was dropped

	closeOnce sync.Once
	deadline  time.Time // the write deadline in force; only the flusher touches it

	// Incoming messages wait until the engine and socket.io have attached
	// their listeners; a client may answer the open packet faster than that.
	gate     chan struct{}
	gateOnce sync.Once
	upgrade  bool          // created to upgrade an existing session
	done     chan struct{} // closed by shutdown
	doneOnce sync.Once
}

func (t *wsTransport) Construct(ctx *types.HttpContext) {
	t.Transport.Construct(ctx)
	t.conn = ctx.Websocket
	t.net = t.conn.UnderlyingConn()
	t.owner, _ = ctx.Request().Context().Value(serverKey{}).(*Server)
	t.gate, t.done = make(chan struct{}), make(chan struct{})
	t.upgrade = ctx.Query().Has("sid")

	// Control replies go through our queue: we are the connection's only writer.
	t.conn.SetPingHandler(func(data string) error {
		t.enqueue(append(wsFrame(opPong, len(data)), data...), false)
		return nil
	})
	t.conn.SetCloseHandler(func(int, string) error { return nil })
	t.conn.Once("close", func(...any) { t.OnClose() })

	t.SetWritable(true)
	go t.read()
}

func (t *wsTransport) settings() (queue int, writeTimeout time.Duration) {
	if t.owner == nil {
		return DefaultSendQueue, DefaultWriteTimeout
	}
	return t.owner.cfg.SendQueue, t.owner.cfg.WriteTimeout
}

// window is how long frames gather after a write (gather.go).
func (t *wsTransport) window() time.Duration {
	if t.owner == nil {
		return DefaultFlushInterval
	}
	return t.owner.gather.current()
}

// openGate lets incoming messages through.
func (t *wsTransport) openGate() { t.gateOnce.Do(func() { close(t.gate) }) }

// On opens the gate of an upgrading transport once the engine listens for
// its packets (the probe would be lost otherwise). A new session's gate is
// opened by the tap, once socket.io is attached too.
func (t *wsTransport) On(ev types.EventName, listeners ...types.Listener) error {
	err := t.Transport.On(ev, listeners...)
	if ev == "packet" && t.upgrade {
		t.openGate()
	}
	return err
}

// read is the connection's read pump: each message goes up through the
// engine synchronously, so one sender's events are handled in arrival order.
func (t *wsTransport) read() {
	for {
		mt, r, err := t.conn.NextReader()
		if err != nil {
			t.readFailed(err)
			return
		}
		var buf types.BufferInterface
		if mt == ws.BinaryMessage {
			buf = types.NewBytesBuffer(nil)
		} else {
			buf = types.NewStringBuffer(nil)
		}
		if _, err := buf.ReadFrom(r); err != nil {
			t.readFailed(err)
			return
		}
		select {
		case <-t.gate:
		case <-t.done:
			return
		}
		t.Transport.OnData(buf)
	}
}

func (t *wsTransport) readFailed(err error) {
	var ce *ws.CloseError
	clean := errors.As(err, &ce) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if !clean {
		if errors.Is(err, ws.ErrReadLimit) && t.owner != nil {
			t.owner.metrics.dropped.WithLabelValues(dropSize).Inc()
			t.owner.log.Warn("dropped client", "reason", "message over the size limit", "sid", t.Sid(), "limit", t.owner.cfg.MaxMessageBytes)
		}
		t.OnError("websocket error", err)
	}
	t.shutdown()
	t.OnClose()
}

// OnClose reports the transport closed, once, whichever side noticed first.
func (t *wsTransport) OnClose() { t.closeOnce.Do(t.Transport.OnClose) }

// Send is the engine's write path (handshake, pings, library packets).
func (t *wsTransport) Send(packets []*packet.Packet) {
	for _, p := range packets {
		data, err := t.Parser().EncodePacket(p, t.SupportsBinary())
		if err != nil {
			continue
		}
		op := byte(opBinary)
		if _, ok := data.(*types.StringBuffer); ok {
			op = opText
		}
		t.enqueue(append(wsFrame(op, data.Len()), data.Bytes()...), false)
	}
	t.Emit("drain") // lets the engine release its per-flush callback slot
}

// enqueue queues a complete frame without ever blocking the caller. When
// the queue is full, cursor moves (volatile) are shed first: a new one is
// dropped, and anything else takes the place of the oldest queued one. A
// receiver whose queue holds nothing but frames it must get is dropped.
func (t *wsTransport) enqueue(f []byte, volatile bool) (sent bool) {
	limit, _ := t.settings()
	t.mu.Lock()
	if t.dead || t.closing {
		t.mu.Unlock()
		return false
	}
	if len(t.queue) >= limit {
		if volatile {
			t.mu.Unlock()
			t.countDrop(dropSlow)
			return false
		}
		i := slices.IndexFunc(t.queue, func(q queued) bool { return q.volatile })
		if i < 0 {
			t.dead = true
			t.mu.Unlock()
			if t.owner != nil {
				t.owner.log.Warn("dropped client", "reason", "slow consumer: send queue full", "sid", t.Sid(), "queue", limit)
				t.owner.metrics.dropped.WithLabelValues(dropSlowClient).Inc()
			}
			t.net.Close()
			return false
		}
		t.queue = slices.Delete(t.queue, i, i+1)
		t.countDrop(dropSlow)
	}
	t.queue = append(t.queue, queued{f, volatile})
	if t.owner != nil {
		t.owner.gather.frames.Add(1)
	}
	if !t.flushing {
		t.flushing = true
		go t.flush()
	}
	t.mu.Unlock()
	return true
}

// queued is one frame waiting in a send queue.
type queued struct {
	frame    []byte
	volatile bool
}

func (t *wsTransport) countDrop(reason string) {
	if t.owner != nil {
		t.owner.metrics.dropped.WithLabelValues(reason).Inc()
	}
}

var writeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// flush is the write pump. It runs only while frames are queued. The first
// frame after a quiet spell leaves at once; after each write the pump waits
// the gathering window, so under load frames gather into fewer, larger writes.
func (t *wsTransport) flush() {
	_, writeTimeout := t.settings()
	for wrote := false; ; wrote = true {
		if every := t.window(); wrote && every > 0 {
			time.Sleep(every)
		}
		t.mu.Lock()
		batch := t.queue
		if len(batch) == 0 || t.dead {
			t.flushing = false
			closing := t.closing && !t.dead
			t.mu.Unlock()
			if closing {
				t.finish()
			}
			return
		}
		t.queue, t.spare = t.spare[:0], nil
		t.mu.Unlock()

		bp := writeBuffers.Get().(*[]byte)
		buf := (*bp)[:0]
		for _, q := range batch {
			buf = append(buf, q.frame...)
		}
		// Renewing the deadline costs a syscall-sized lock dance; doing it
		// when half of it is used still bounds every write by writeTimeout/2.
		if now := time.Now(); now.After(t.deadline.Add(-writeTimeout / 2)) {
			t.deadline = now.Add(writeTimeout)
			t.net.SetWriteDeadline(t.deadline)
		}
		_, err := t.net.Write(buf)
		*bp = buf[:0]
		writeBuffers.Put(bp)
		clear(batch)

		t.mu.Lock()
		t.spare = batch[:0]
		if err != nil {
			t.dead, t.flushing = true, false
		}
		t.mu.Unlock()
		if err != nil {
			if t.owner != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				t.owner.log.Warn("dropped client", "reason", "write timed out", "sid", t.Sid(), "timeout", writeTimeout)
				t.owner.metrics.dropped.WithLabelValues(dropSlowClient).Inc()
			}
			t.net.Close()
			return
		}
	}
}

// finish ends a closing connection once its queue has been written.
func (t *wsTransport) finish() {
	_, writeTimeout := t.settings()
	closeMsg := ws.FormatCloseMessage(ws.CloseGoingAway, "")
	t.net.SetWriteDeadline(time.Now().Add(writeTimeout))
	t.net.Write(append(wsFrame(opClose, len(closeMsg)), closeMsg...))
	t.shutdown()
}

func (t *wsTransport) shutdown() {
	t.mu.Lock()
	t.dead = true
	t.mu.Unlock()
	t.doneOnce.Do(func() { close(t.done) })
	t.conn.Close()
}

// DoClose flushes what is queued (a server disconnect packet, say) before the
// connection closes.
func (t *wsTransport) DoClose(fn types.Callable) {
	t.mu.Lock()
	t.closing = true
	idle := !t.flushing && !t.dead
	t.mu.Unlock()
	if idle {
		t.finish()
	}
	if fn != nil {
		fn()
	}
}
