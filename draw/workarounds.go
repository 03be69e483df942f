package draw

// Every workaround for a defect of github.com/zishang520/socket.io/v2 and
// engine.io/v2 v2.5.0 lives in this file, except the websocket transport
// (wstransport.go, defects 2, 7 and 8). The numbers are those of
// shared/LIBRARY-NOTES.md; the two without a number were found by our own
// tests. The README's table names the test that fails without each.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"

	"github.com/zishang520/engine.io/v2/engine"
	"github.com/zishang520/engine.io/v2/types"
)

// --- Defects 1, 3 and 4: the tap -------------------------------------------
//
// The library decodes each packet, then handles it in a fresh goroutine
// (reordering a sender's events, defect 3), panics on some malformed packets
// inside that goroutine (killing the process, defect 1), and drops events that
// arrive before the connection handler has run (defect 4). So every engine
// connection reaches the socket.io server wrapped in a tappedConn whose
// "data" listener is ours: client.onData sees each message in arrival order on
// the connection's reader, validates it, handles our events itself and passes
// only well-formed CONNECT/DISCONNECT packets on to the library.

// tapEngine is handed to socket.Server.Bind in place of the engine.
type tapEngine struct {
	engine.Server
	srv *Server
}

func (e *tapEngine) On(ev types.EventName, listeners ...types.Listener) error {
	if ev != "connection" {
		return e.Server.On(ev, listeners...)
	}
	for _, l := range listeners {
		e.Server.On(ev, func(args ...any) {
			conn, ok := args[0].(engine.Socket)
			if !ok {
				return
			}
			l(&tappedConn{Socket: conn, client: newClient(e.srv, conn)})
			// Everyone listens now: let the connection's first messages in.
			if t, ok := conn.Transport().(*wsTransport); ok {
				t.openGate()
			}
		})
	}
	return nil
}

// tappedConn is the engine connection as the socket.io library sees it.
type tappedConn struct {
	engine.Socket
	client *client
}

func (t *tappedConn) On(ev types.EventName, listeners ...types.Listener) error {
	if ev == "data" && len(listeners) == 1 {
		t.client.lib.Store(&listeners[0])
		return nil
	}
	return t.Socket.On(ev, listeners...)
}

func (t *tappedConn) RemoveListener(ev types.EventName, l types.Listener) bool {
	if ev == "data" {
		return t.client.lib.Swap(nil) != nil
	}
	return t.Socket.RemoveListener(ev, l)
}

// clientOf finds our client behind a socket.io connection.
func clientOf(conn engine.Socket) *client {
	if t, ok := conn.(*tappedConn); ok {
		return t.client
	}
	return nil
}

// toLibrary passes a CONNECT or DISCONNECT packet to socket.io, after
// checking what its decoder would choke on.
func (c *client) toLibrary(p sioPacket, buf types.BufferInterface) {
	if p.ack || (p.typ == pktDisconnect && len(p.data) > 0) {
		c.reject("packet", "malformed connect or disconnect packet", dropInvalid)
		return
	}
	if p.typ == pktConnect && len(p.data) > 0 && !isJSONObject(p.data) {
		c.srv.metrics.dropped.WithLabelValues(dropInvalid).Inc()
		nsp := ""
		if p.nsp != "/" {
			nsp = p.nsp + ","
		}
		msg, _ := json.Marshal(map[string]string{"message": "the connect payload (auth) must be a JSON object"})
		c.send(newFrame(append([]byte("4"+nsp), msg...)), false)
		return
	}
	if l := c.lib.Load(); l != nil {
		(*l)(buf)
	}
}

func isJSONObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

// --- Defect 4, outbound: the CONNECT ack before "connection" -----------------
//
// The library writes a socket's CONNECT ack before it emits "connection",
// where a client used to join its board: a move relayed in between missed a
// client already told it is connected. So the client joins its board in the
// admit middleware, before the ack (Server.admit → client.join), and frames
// sent to it until the ack is queued wait here, then follow the ack (bind).
// Test: TestEarlyEvents/relayed-right-after-connect-ack.

type heldFrame struct {
	f        *frame
	volatile bool
}

// hold keeps f until bind; held is false once c no longer holds.
func (c *client) hold(f *frame, volatile bool) (queued, held bool) {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	if !c.holding.Load() {
		return false, false
	}
	if len(c.held) >= c.srv.cfg.SendQueue {
		c.srv.metrics.dropped.WithLabelValues(dropSlow).Inc()
		return false, true
	}
	c.held = append(c.held, heldFrame{f, volatile})
	return true, true
}

// release sends what was held, in order, and stops holding.
func (c *client) release() {
	for {
		// Sent outside holdMu (a send may close the connection, which
		// takes other locks); frames held meanwhile go in the next round.
		c.holdMu.Lock()
		held := c.held
		c.held = nil
		if len(held) == 0 {
			c.holding.Store(false)
			c.holdMu.Unlock()
			return
		}
		c.holdMu.Unlock()
		for _, h := range held {
			c.sendNow(h.f, h.volatile)
		}
	}
}

// --- Defect 5: long-polling bodies ------------------------------------------
//
// The engine checks Content-Length only, so a chunked POST of any size is read
// into memory. limitBody refuses a body over the limit having buffered at most
// limit+1 bytes.
func (s *Server) limitBody(next http.Handler) http.Handler {
	limit := s.cfg.MaxMessageBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := func() {
			s.metrics.dropped.WithLabelValues(dropSize).Inc()
			http.Error(w, fmt.Sprintf("message too large: the limit is %d bytes", limit), http.StatusRequestEntityTooLarge)
		}
		if r.ContentLength > limit {
			tooLarge()
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		r.Body.Close()
		if err != nil {
			http.Error(w, "could not read the request body", http.StatusBadRequest)
			return
		}
		if int64(len(body)) > limit {
			tooLarge()
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// --- Long-polling writes after the request ended (found by our tests) ------
//
// The polling transport writes a poll's response from a goroutine of its own,
// while the HTTP handler returns as soon as the client goes away; net/http
// then recycles the response's buffers under that write (a data race, and a
// write into another request's buffer). pollWriter serialises every write
// with the handler's return and drops writes that come after it.
type pollWriter struct {
	mu     sync.Mutex
	w      http.ResponseWriter
	header http.Header // ours until WriteHeader copies it, so late writers never touch net/http's
	ended  bool
}

func (p *pollWriter) Header() http.Header { return p.header }

func (p *pollWriter) WriteHeader(code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	for k, v := range p.header {
		p.w.Header()[k] = slices.Clone(v)
	}
	p.w.WriteHeader(code)
}

func (p *pollWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return 0, errPollEnded
	}
	return p.w.Write(b)
}

var errPollEnded = errors.New("the poll request has ended")

// servePolling runs a long-polling request through a pollWriter and waits
// for any write in flight before the request may end.
func servePolling(next http.Handler, w http.ResponseWriter, r *http.Request) {
	pw := &pollWriter{w: w, header: w.Header().Clone()}
	next.ServeHTTP(pw, r)
	pw.mu.Lock()
	pw.ended = true
	pw.mu.Unlock()
}

// --- The handshake's response is kept for the connection's life ---------------
//
// The engine keeps every connection's handshake context, and with it
// net/http's response and its ~10 KiB of buffers. upgradeWriter lets go of
// the response once the websocket is hijacked (measured: 51 → 38 KiB per
// idle connection, docs/BENCHMARK.md).
type upgradeWriter struct {
	http.ResponseWriter
	hijacked bool
}

func (u *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := u.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("this connection cannot be upgraded")
	}
	conn, brw, err := h.Hijack()
	if err == nil {
		u.ResponseWriter, u.hijacked = hijackedWriter{}, true
	}
	return conn, brw, err
}

// hijackedWriter stands in for a response that no longer exists.
type hijackedWriter struct{}

func (hijackedWriter) Header() http.Header       { return http.Header{} }
func (hijackedWriter) Write([]byte) (int, error) { return 0, http.ErrHijacked }
func (hijackedWriter) WriteHeader(int)           {}

// --- Defect 6: websocket origins --------------------------------------------
//
// The engine's websocket upgrader accepts every Origin. checkOrigin applies the
// same allowlist to upgrades and to long-polling requests.
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && !s.originAllowed(origin, r.Host) {
			s.metrics.refused.WithLabelValues("origin").Inc()
			s.log.Info("refused connection", "reason", "origin not allowed", "origin", origin, "ip", hostOf(r.RemoteAddr))
			http.Error(w, fmt.Sprintf("origin %s is not allowed: add it to -allowed-origins", origin), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
