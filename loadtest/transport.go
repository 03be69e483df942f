package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// transport carries Engine.IO v4 packets for one client, after the
// Engine.IO handshake.
type transport interface {
	// send writes one packet; safe for concurrent use (a sender's emits and
	// the read loop's pongs).
	send(p []byte) error
	// readLoop calls handle with every packet received, in order, until the
	// connection ends or handle returns false. p is only valid during the call.
	readLoop(handle func(p []byte) bool) error
	// close ends the connection; readLoop then returns.
	close()
}

// Engine.IO timings when the server's open packet does not say otherwise.
const (
	defaultPingInterval = 25 * time.Second
	defaultPingTimeout  = 20 * time.Second
	// writeWait bounds one write so a stuck server cannot hang a sender.
	writeWait = 10 * time.Second
	// maxPayload bounds what one read may buffer.
	maxPayload = 1 << 20
	// maxKeptBuffer is the largest read buffer a connection keeps between
	// messages: 10,000 idle clients must stay cheap.
	maxKeptBuffer = 16 << 10
)

var (
	pongPacket  = []byte("3")
	closePacket = []byte("1")
	errQueue    = errors.New("polling send queue full")
)

// openInfo is what the client takes from the Engine.IO open packet.
type openInfo struct {
	sid          string
	pingInterval time.Duration
	pingTimeout  time.Duration
}

// parseOpen reads an Engine.IO open packet, `0{"sid":…,"pingInterval":…}`.
func parseOpen(p []byte) (openInfo, error) {
	if len(p) < 2 || p[0] != '0' {
		return openInfo{}, fmt.Errorf("expected an Engine.IO open packet, got %q", clip(p))
	}
	info := openInfo{pingInterval: defaultPingInterval, pingTimeout: defaultPingTimeout}
	ok := walkObject(p[1:], func(key, val []byte) {
		switch string(key) {
		case "sid":
			if len(val) >= 2 {
				info.sid = string(val[1 : len(val)-1])
			}
		case "pingInterval":
			if v, ok := parseInt(val); ok && v > 0 {
				info.pingInterval = time.Duration(v) * time.Millisecond
			}
		case "pingTimeout":
			if v, ok := parseInt(val); ok && v > 0 {
				info.pingTimeout = time.Duration(v) * time.Millisecond
			}
		}
	})
	if !ok || info.sid == "" {
		return openInfo{}, fmt.Errorf("malformed Engine.IO open packet %q", clip(p))
	}
	return info, nil
}

// deadAfter is how long a connection may be silent before it is dead: the
// server pings every pingInterval and gives up after pingTimeout more.
func (o openInfo) deadAfter() time.Duration {
	return o.pingInterval + o.pingTimeout + 5*time.Second
}

func clip(p []byte) []byte {
	if len(p) > 80 {
		return p[:80]
	}
	return p
}

// wsTransport is Engine.IO over a websocket: one text frame per packet.
type wsTransport struct {
	conn *websocket.Conn
	open openInfo
	mu   sync.Mutex // serialises writers: gorilla allows one at a time
	buf  []byte     // read buffer, owned by readLoop
}

func dialWebsocket(ctx context.Context, d *websocket.Dialer, url string) (*wsTransport, error) {
	conn, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
		}
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	conn.SetReadLimit(maxPayload)
	t := &wsTransport{conn: conn}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	p, err := t.next()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading the open packet: %w", err)
	}
	if t.open, err = parseOpen(p); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(t.open.deadAfter()))
	return t, nil
}

// next reads one message into the reused buffer.
func (t *wsTransport) next() ([]byte, error) {
	_, r, err := t.conn.NextReader()
	if err != nil {
		return nil, err
	}
	t.buf = t.buf[:0]
	for {
		if len(t.buf) == cap(t.buf) {
			t.buf = append(t.buf, 0)[:len(t.buf)]
		}
		n, err := r.Read(t.buf[len(t.buf):cap(t.buf)])
		t.buf = t.buf[:len(t.buf)+n]
		if err == io.EOF {
			return t.buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (t *wsTransport) send(p []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conn.SetWriteDeadline(time.Now().Add(writeWait))
	return t.conn.WriteMessage(websocket.TextMessage, p)
}

func (t *wsTransport) readLoop(handle func(p []byte) bool) error {
	for {
		p, err := t.next()
		if err != nil {
			return err
		}
		if len(p) == 1 && p[0] == '2' {
			// A ping: the server is alive, so push the deadline on.
			t.conn.SetReadDeadline(time.Now().Add(t.open.deadAfter()))
		}
		if !handle(p) {
			return nil
		}
		if cap(t.buf) > maxKeptBuffer {
			t.buf = nil // a one-off big message (a presence list) need not stay
		}
	}
}

func (t *wsTransport) close() {
	t.mu.Lock()
	t.conn.SetWriteDeadline(time.Now().Add(time.Second))
	t.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	t.mu.Unlock()
	t.conn.Close()
}

// pollingTransport is Engine.IO long-polling: a GET waits for the server's
// packets, a POST carries ours; packets in one body are separated by 0x1e.
// Engine.IO refuses overlapping POSTs, so one writer goroutine sends them in
// turn, batching whatever queued meanwhile.
type pollingTransport struct {
	client *http.Client
	url    string // the endpoint with EIO, transport and sid
	open   openInfo
	out    chan []byte
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error // the first write error, ends the read loop
}

// pollingQueue bounds what one polling client may have waiting to be POSTed.
const pollingQueue = 256

func dialPolling(ctx context.Context, client *http.Client, base string) (*pollingTransport, error) {
	body, err := pollGet(ctx, client, base, nil)
	if err != nil {
		return nil, fmt.Errorf("polling handshake: %w", err)
	}
	open, err := parseOpen(bytes.SplitN(body, []byte{0x1e}, 2)[0])
	if err != nil {
		return nil, err
	}
	tctx, cancel := context.WithCancel(context.Background())
	t := &pollingTransport{
		client: client,
		url:    base + "&sid=" + open.sid,
		open:   open,
		out:    make(chan []byte, pollingQueue),
		ctx:    tctx,
		cancel: cancel,
	}
	t.wg.Add(1)
	go t.writer()
	return t, nil
}

// pollGet does one GET and returns the body, reusing buf.
func pollGet(ctx context.Context, client *http.Client, url string, buf *bytes.Buffer) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxPayload+1)); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET: %s: %q", resp.Status, clip(buf.Bytes()))
	}
	if buf.Len() > maxPayload {
		return nil, fmt.Errorf("GET: payload over %d bytes", maxPayload)
	}
	return buf.Bytes(), nil
}

func (t *pollingTransport) send(p []byte) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	select {
	case t.out <- bytes.Clone(p):
		return nil
	default:
		return errQueue
	}
}

func (t *pollingTransport) writer() {
	defer t.wg.Done()
	var batch []byte
	for {
		select {
		case p := <-t.out:
			batch = append(batch[:0], p...)
		case <-t.ctx.Done():
			return
		}
	gather:
		for len(batch) < maxPayload/2 {
			select {
			case p := <-t.out:
				batch = append(batch, 0x1e)
				batch = append(batch, p...)
			default:
				break gather
			}
		}
		if err := t.post(batch); err != nil {
			t.fail(err)
			return
		}
	}
}

func (t *pollingTransport) post(body []byte) error {
	ctx, cancel := context.WithTimeout(t.ctx, writeWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST: %s", resp.Status)
	}
	return nil
}

func (t *pollingTransport) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
	t.cancel()
}

func (t *pollingTransport) readLoop(handle func(p []byte) bool) error {
	var buf bytes.Buffer
	for {
		ctx, cancel := context.WithTimeout(t.ctx, t.open.deadAfter())
		body, err := pollGet(ctx, t.client, t.url, &buf)
		cancel()
		if err != nil {
			t.mu.Lock()
			werr := t.err
			t.mu.Unlock()
			if werr != nil {
				return werr
			}
			return err
		}
		for len(body) > 0 {
			p := body
			if i := bytes.IndexByte(body, 0x1e); i >= 0 {
				p, body = body[:i], body[i+1:]
			} else {
				body = nil
			}
			if len(p) == 1 && p[0] == '1' {
				return errors.New("server closed the session")
			}
			if !handle(p) {
				return nil
			}
		}
	}
}

func (t *pollingTransport) close() {
	// Tell the server, best effort, then stop both loops.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(closePacket)); err == nil {
		if resp, err := t.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	t.cancel()
	t.wg.Wait()
}
