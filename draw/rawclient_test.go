package draw

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	ws "github.com/gorilla/websocket"
)

// startTestServer runs a Server on 127.0.0.1 for the test.
func startTestServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	cfg.Public = fstest.MapFS{"index.html": {Data: []byte(`<canvas id="canvas"></canvas>`)}}
	cfg.ClientDist = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.io.Close(nil)
		hs.CloseClientConnections()
		hs.Close()
	})
	return s, hs.URL
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// rawClient speaks Engine.IO v4 + Socket.IO by hand over a websocket, so
// tests can send exactly the frames they mean.
type rawClient struct {
	t    *testing.T
	conn *ws.Conn
	id   string
}

func dialRaw(t *testing.T, base, query string, header http.Header) (*rawClient, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket" + query
	conn, resp, err := ws.DefaultDialer.Dial(u, header)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn}, resp, nil
}

// connect dials and completes the Socket.IO handshake.
func connect(t *testing.T, base string) *rawClient {
	t.Helper()
	c, _, err := dialRaw(t, base, "", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("engine open = %q", open)
	}
	c.write("40")
	ack := c.readUntil(func(s string) bool { return strings.HasPrefix(s, "40") })
	var v struct{ Sid string }
	json.Unmarshal([]byte(ack[2:]), &v)
	c.id = v.Sid
	return c
}

func (c *rawClient) write(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(ws.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// read returns the next message, answering pings on the way.
func (c *rawClient) read() string {
	c.t.Helper()
	for {
		c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if string(b) == "2" {
			c.write("3")
			continue
		}
		return string(b)
	}
}

func (c *rawClient) readUntil(match func(string) bool) string {
	c.t.Helper()
	for {
		if s := c.read(); match(s) {
			return s
		}
	}
}

// event reads until the named event arrives and returns its argument.
func (c *rawClient) event(name string) json.RawMessage {
	c.t.Helper()
	prefix := `42["` + name + `"`
	s := c.readUntil(func(s string) bool { return strings.HasPrefix(s, prefix) })
	var ev []json.RawMessage
	if err := json.Unmarshal([]byte(s[2:]), &ev); err != nil {
		c.t.Fatalf("bad event %q", s)
	}
	if len(ev) < 2 {
		return nil
	}
	return ev[1]
}

func fstestFS() fstest.MapFS {
	return fstest.MapFS{"index.html": {Data: []byte(`<canvas id="canvas"></canvas>`)}}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
