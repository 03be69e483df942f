package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// fakeRelay is a minimal socket.io server over websocket that relays
// mousemove as moving, with an optional fault, so the tests can show that
// each check catches what it is for.
type fakeRelay struct {
	fault string // "", "echo", "drop", "reorder", "wrongid"

	mu      sync.Mutex
	clients []*fakeConn
	nextID  int
}

type fakeConn struct {
	id   string
	conn *websocket.Conn
	mu   sync.Mutex
	n    int    // moves relayed to this connection, for the faults
	held []byte // a frame the reorder fault is holding back
}

func (c *fakeConn) write(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.WriteMessage(websocket.TextMessage, p)
}

func (f *fakeRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("transport") != "websocket" {
		http.Error(w, "websocket only", http.StatusBadRequest)
		return
	}
	conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.nextID++
	c := &fakeConn{id: fmt.Sprintf("sock%03d", f.nextID), conn: conn}
	f.mu.Unlock()
	defer conn.Close()
	c.write([]byte(`0{"sid":"eio-` + c.id + `","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	// Ping once at the start: the tester must answer.
	c.write([]byte("2"))
	for {
		_, p, err := conn.ReadMessage()
		if err != nil {
			f.leave(c)
			return
		}
		switch {
		case string(p) == "40":
			c.write([]byte(`40{"sid":"` + c.id + `"}`))
			f.mu.Lock()
			f.clients = append(f.clients, c)
			f.mu.Unlock()
		case bytes.HasPrefix(p, []byte(`42["mousemove",`)):
			f.relay(c, p[len(`42["mousemove",`):len(p)-1])
		}
	}
}

func (f *fakeRelay) leave(c *fakeConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, o := range f.clients {
		if o == c {
			f.clients = append(f.clients[:i], f.clients[i+1:]...)
			break
		}
	}
}

func (f *fakeRelay) relay(from *fakeConn, obj []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, to := range f.clients {
		if to == from && f.fault != "echo" {
			continue
		}
		id := from.id
		if f.fault == "wrongid" {
			id = "bogus"
		}
		frame := fmt.Appendf(nil, `42["moving",%s,"id":"%s"}]`, obj[:len(obj)-1], id)
		to.n++
		switch {
		case f.fault == "drop" && to.n%7 == 0:
			continue
		case f.fault == "reorder" && to.n%5 == 0:
			to.held = frame
			continue
		}
		to.write(frame)
		if to.held != nil {
			to.write(to.held)
			to.held = nil
		}
	}
}

// runMain runs the tester and decodes its -json result.
func runMain(t *testing.T, args ...string) (Result, int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(append(args, "-json"), &stdout, &stderr)
	var res Result
	if code != 2 {
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("exit %d, output is not JSON: %v\n%s\nstderr: %s", code, err, stdout.String(), stderr.String())
		}
	}
	return res, code, stderr.String()
}

// small is a tiny, quick load: every count below is exact, nothing depends
// on how fast the machine is.
func small(url string, extra ...string) []string {
	return append([]string{"-url", url, "-clients", "6", "-senders", "2", "-rate", "50",
		"-warmup", "100ms", "-duration", "400ms", "-ramp", "50ms", "-drain", "3s"}, extra...)
}

func TestCheckersCatchFaultyRelays(t *testing.T) {
	tests := []struct {
		fault string
		check func(r Result) bool
	}{
		{"", func(r Result) bool { return len(r.problems()) == 0 && r.Delivered == r.Expected && r.Expected > 0 }},
		{"echo", func(r Result) bool { return r.SelfEchoes > 0 }},
		{"drop", func(r Result) bool { return r.Delivered < r.Expected && r.LossPercent > 0 }},
		{"reorder", func(r Result) bool { return r.OutOfOrder > 0 }},
		{"wrongid", func(r Result) bool { return r.WrongID > 0 }},
	}
	for _, tt := range tests {
		t.Run("fault="+tt.fault, func(t *testing.T) {
			srv := httptest.NewServer(&fakeRelay{fault: tt.fault})
			defer srv.Close()
			res, code, stderr := runMain(t, small(srv.URL, "-strict")...)
			if !tt.check(res) {
				t.Errorf("the check did not see fault %q: %+v\nstderr: %s", tt.fault, res, stderr)
			}
			if wantCode := map[bool]int{true: 0, false: 1}[tt.fault == ""]; code != wantCode {
				t.Errorf("exit %d with -strict, want %d; stderr: %s", code, wantCode, stderr)
			}
			if res.Connected != 6 || res.SendersConnected != 2 {
				t.Errorf("connected %d (senders %d), want 6 (2)", res.Connected, res.SendersConnected)
			}
		})
	}
}

func TestExpectedCountsEveryOtherMember(t *testing.T) {
	srv := httptest.NewServer(&fakeRelay{})
	defer srv.Close()
	res, _, _ := runMain(t, small(srv.URL)...)
	// Each in-window emit should reach the 5 other clients.
	if res.EmitsSent == 0 || res.Expected != 5*res.EmitsSent {
		t.Errorf("expected %d for %d emits, want 5 each", res.Expected, res.EmitsSent)
	}
	if res.Latency.Samples != uint64(res.Delivered) {
		t.Errorf("%d latency samples for %d deliveries", res.Latency.Samples, res.Delivered)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-url", "http://192.0.2.1:8080"}, // not loopback
		{"-url", "ftp://127.0.0.1"},
		{"-clients", "0"},
		{"-clients", "5", "-senders", "6"},
		{"-polling", "1.5"},
		{"-rate", "0"},
		{"stray"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(args, &out, &errOut); code != 2 {
			t.Errorf("Main(%q) = %d, want 2", args, code)
		} else if !strings.Contains(errOut.String(), "loadtest:") {
			t.Errorf("Main(%q) said %q", args, errOut.String())
		}
	}
}

func TestNoServerIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there now
	res, code, stderr := runMain(t, "-url", srv.URL, "-clients", "2", "-senders", "1",
		"-duration", "100ms", "-warmup", "0s", "-ramp", "0s", "-drain", "0s", "-connect-timeout", "2s")
	if code != 1 || res.Failed != 2 || len(res.Errors) == 0 || !strings.Contains(stderr, "is the server running") {
		t.Errorf("exit %d, %d failed, errors %v, stderr %q", code, res.Failed, res.Errors, stderr)
	}
}

func TestAssignments(t *testing.T) {
	cfg, err := parseFlags([]string{"-clients", "1000", "-senders", "10", "-polling", "0.1", "-boards", "4"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(cfg)
	var senders, polling int
	perBoard := map[int]int{}
	for _, c := range r.clients {
		if c.sender >= 0 {
			senders++
			perBoard[c.board]++
		}
		if c.polling {
			polling++
		}
	}
	if senders != 10 || polling != 100 {
		t.Errorf("%d senders, %d polling; want 10 and 100", senders, polling)
	}
	for b := range 4 {
		if perBoard[b] < 2 {
			t.Errorf("board %d has %d senders; senders should spread over boards", b, perBoard[b])
		}
	}
	if got := r.endpoint(r.clients[0]); got != "ws://127.0.0.1:8080/socket.io/?EIO=4&board=load-0&transport=websocket" {
		t.Errorf("endpoint = %s", got)
	}
}
