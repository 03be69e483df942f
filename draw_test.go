package main

// End-to-end tests of the wire contract (issue 2): the real server on
// 127.0.0.1, driven by the official socket.io clients (the scripts in e2e/,
// which measure and print JSON; the assertions are here) and by raw
// Engine.IO clients for what no official client sends: broken frames, a
// client that stops answering pings, oversized polling bodies.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// ---------------------------------------------------------------------------
// Relay with socket.io-client 4.x

type relayEvent struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

func TestRelayTransports(t *testing.T) {
	for _, mode := range []string{"websocket", "polling", "default"} {
		t.Run(mode, func(t *testing.T) {
			srv := startServer(t, testConfig(t))
			var r struct {
				Complete       bool              `json:"complete"`
				IDs            map[string]string `json:"ids"`
				FinalTransport map[string]string `json:"finalTransport"`
				SentA, SentE   []map[string]any
				Got            map[string][]relayEvent `json:"got"`
			}
			decodeLastLine(t, runNode(t, 60*time.Second, "e2e/relay.js", srv.URL, mode), &r)

			if !r.Complete {
				t.Errorf("not every receiver got its mousemoves within the deadline")
			}
			for n, id := range r.IDs {
				if id == "" {
					t.Fatalf("socket %s has no id", n)
				}
			}
			want := func(sent []map[string]any, id string) []relayEvent {
				var evs []relayEvent
				for _, m := range sent {
					m["id"] = id // the server's stamp replaces the client's
					evs = append(evs, relayEvent{Event: "moving", Data: mustJSON(t, m)})
				}
				return evs
			}
			// A, B, C are on the default board, D and E on board "x"; only A and E send.
			expect := map[string][]relayEvent{
				"A": nil,
				"B": want(r.SentA, r.IDs["A"]),
				"C": want(r.SentA, r.IDs["A"]),
				"D": want(r.SentE, r.IDs["E"]),
				"E": nil,
			}
			for _, n := range []string{"A", "B", "C", "D", "E"} {
				assertEvents(t, n, r.Got[n], expect[n])
			}
			wantTransport := map[string]string{"websocket": "websocket", "polling": "polling", "default": "websocket"}[mode]
			for n, tr := range r.FinalTransport {
				if tr != wantTransport {
					t.Errorf("socket %s ended on transport %q, want %q", n, tr, wantTransport)
				}
			}
		})
	}
}

func TestBoardNames(t *testing.T) {
	srv := startServer(t, testConfig(t))
	var r struct {
		Results []struct {
			Board     string  `json:"board"`
			Connected bool    `json:"connected"`
			Error     *string `json:"error"`
		} `json:"results"`
	}
	decodeLastLine(t, runNode(t, 60*time.Second, "e2e/boards.js", srv.URL), &r)
	valid := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	if len(r.Results) == 0 {
		t.Fatal("no results")
	}
	for _, res := range r.Results {
		switch {
		case valid.MatchString(res.Board) && !res.Connected:
			t.Errorf("board %q is valid but the socket did not connect: %v", res.Board, deref(res.Error))
		case !valid.MatchString(res.Board) && res.Connected:
			t.Errorf("board %q is invalid but the socket connected", res.Board)
		case !valid.MatchString(res.Board) && !strings.Contains(strings.ToLower(deref(res.Error)), "board"):
			t.Errorf("board %q refused with connect_error %q: the message should say the board name is what is wrong", res.Board, deref(res.Error))
		}
	}
}

// TestCompatV2 relays both ways between socket.io-client 2.x (Engine.IO v3)
// and 4.x, and the 4.x client sees the 2.x client leave.
func TestCompatV2(t *testing.T) {
	for _, mode := range []string{"default", "websocket", "polling"} {
		t.Run(mode, func(t *testing.T) {
			srv := startServer(t, testConfig(t))
			var r struct {
				Complete         bool              `json:"complete"`
				IDs              map[string]string `json:"ids"`
				SentOld, SentNew []map[string]any
				GotOld, GotNew   []relayEvent
			}
			decodeLastLine(t, runNode(t, 60*time.Second, "e2e/compat-v2.js", srv.URL, mode), &r)
			if !r.Complete {
				t.Errorf("mousemoves did not arrive both ways within the deadline")
			}
			if r.IDs["old"] == "" || r.IDs["new"] == "" {
				t.Fatalf("missing socket ids: %v", r.IDs)
			}
			stamp := func(sent []map[string]any, id string) []relayEvent {
				var evs []relayEvent
				for _, m := range sent {
					m["id"] = id
					evs = append(evs, relayEvent{Event: "moving", Data: mustJSON(t, m)})
				}
				return evs
			}
			assertEvents(t, "2.x client", r.GotOld, stamp(r.SentNew, r.IDs["new"]))
			assertEvents(t, "4.x client", r.GotNew, append(stamp(r.SentOld, r.IDs["old"]),
				relayEvent{Event: "clientdisconnect", Data: mustJSON(t, r.IDs["old"])}))
		})
	}
}

// ---------------------------------------------------------------------------
// clientdisconnect

type disconnectResult struct {
	Case          string       `json:"case"`
	ID            string       `json:"id"`
	Arrived       bool         `json:"arrived"`
	Count         int          `json:"count"`
	WatcherGot    []relayEvent `json:"watcherGot"`
	OtherBoardGot []relayEvent `json:"otherBoardGot"`
}

func checkDisconnectResults(t *testing.T, out []byte, cases int) {
	t.Helper()
	var r struct{ Results []disconnectResult }
	decodeLastLine(t, out, &r)
	if len(r.Results) != cases {
		t.Fatalf("got %d results, want %d", len(r.Results), cases)
	}
	for _, res := range r.Results {
		if !res.Arrived {
			t.Errorf("%s: the watcher got no clientdisconnect for %s within the deadline; it got %s", res.Case, res.ID, eventsString(res.WatcherGot))
			continue
		}
		assertEvents(t, res.Case+" watcher", res.WatcherGot, []relayEvent{{Event: "clientdisconnect", Data: mustJSON(t, res.ID)}})
		assertEvents(t, res.Case+" watcher on another board", res.OtherBoardGot, nil)
	}
}

// TestClientDisconnect: every way of leaving gives one clientdisconnect to
// the board, well before the 45 s ping timeout could have noticed.
func TestClientDisconnect(t *testing.T) {
	srv := startServer(t, testConfig(t))
	t.Run("official-client", func(t *testing.T) {
		cases := []string{"disconnect:websocket", "disconnect:polling", "destroy:websocket", "kill:websocket"}
		out := runNode(t, 60*time.Second, "e2e/disconnect.js", append([]string{srv.URL, "10000"}, cases...)...)
		checkDisconnectResults(t, out, len(cases))
	})
	t.Run("raw-tcp-close", func(t *testing.T) {
		watcher := dialRaw(t, srv, "board=dc_raw").connect(t)
		other := dialRaw(t, srv, "board=dc_raw_other").connect(t)
		subject := dialRaw(t, srv, "board=dc_raw").connect(t)
		subject.conn.UnderlyingConn().Close() // no close frame, no 41
		expectOneDisconnect(t, watcher, subject.id, 10*time.Second)
		other.expectQuiet(t, 0)
	})
}

// TestClientDisconnectPingTimeout: a client that goes silent is dropped by
// the heartbeat and the board hears about it once.
func TestClientDisconnectPingTimeout(t *testing.T) {
	cfg := testConfig(t)
	// A silent client is dropped 1.3 s after its last pong; the official
	// clients watching answer within the second even on a loaded machine.
	cfg.PingInterval = 300 * time.Millisecond
	cfg.PingTimeout = time.Second
	srv := startServer(t, cfg)
	t.Run("raw-websocket-stops-answering", func(t *testing.T) {
		watcher := dialRaw(t, srv, "board=pt_raw").connect(t)
		other := dialRaw(t, srv, "board=pt_raw_other").connect(t)
		subject := dialRaw(t, srv, "board=pt_raw").connect(t)
		subject.answerPings.Store(false) // still reading, never answering
		expectOneDisconnect(t, watcher, subject.id, 10*time.Second)
		other.expectQuiet(t, 0)
	})
	t.Run("official-client-killed-on-polling", func(t *testing.T) {
		out := runNode(t, 60*time.Second, "e2e/disconnect.js", srv.URL, "10000", "kill:polling", "kill:websocket")
		checkDisconnectResults(t, out, 2)
	})
}

// expectOneDisconnect waits for watcher's first event, which must be
// clientdisconnect with id, then watches one more second for a second one.
func expectOneDisconnect(t *testing.T, watcher *rawSocket, id string, within time.Duration) {
	t.Helper()
	ev, err := watcher.nextEvent(within)
	if err != nil {
		t.Fatalf("watcher got no clientdisconnect for %s: %v", id, err)
	}
	if ev.name != "clientdisconnect" || string(ev.arg) != string(mustJSON(t, id)) {
		t.Fatalf("watcher's first event is %s, want clientdisconnect %q", ev, id)
	}
	watcher.expectQuiet(t, time.Second)
}

// TestPollingReceiverVanishes: long-polling receivers whose pending GET is
// cut off while moves are being delivered to it. The server must not touch a
// response after its request has ended (under -race this shows as a data race
// in the polling transport) and must keep relaying.
func TestPollingReceiverVanishes(t *testing.T) {
	cfg := testConfig(t)
	cfg.EventsPerSecond, cfg.EventBurst = 1e6, 1e6
	srv := startServer(t, cfg)
	sender := dialRaw(t, srv, "board=vanish").connect(t)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() { // a steady trickle, so that polls are often pending when a move comes
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(1500 * time.Microsecond):
			}
			sender.send(fmt.Sprintf(`42["mousemove",{"x":%d,"y":1,"drawing":true}]`, i%1000))
		}
	}()
	host := strings.TrimPrefix(srv.URL, "http://")
	for i := 0; i < 500; i++ {
		p := openPolling(t, srv, "board=vanish")
		p.post(t, "40")
		p.connectAck(t)
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", strings.TrimPrefix(p.base, srv.URL), host)
		time.Sleep(time.Duration(i%7) * 300 * time.Microsecond)
		conn.Close()
	}
	close(stop)
	<-stopped
	assertAlive(t, srv)
}

// ---------------------------------------------------------------------------
// Order and loss

func TestOrderAndLoss(t *testing.T) {
	for _, senderTransport := range []string{"websocket", "polling"} {
		t.Run("sender-"+senderTransport, func(t *testing.T) {
			cfg := testConfig(t)
			// 2000 back-to-back events are far over the default rate limit,
			// which would drop them by design; this test is about the relay.
			cfg.EventsPerSecond, cfg.EventBurst = 1e6, 1e6
			// Room for the whole burst in each receiver's queue, so that only
			// a relay that loses or reorders events can fail here.
			cfg.SendQueue = 4096
			srv := startServer(t, cfg)
			var r struct {
				Complete  bool
				SenderID  string
				OwnEcho   int
				Receivers []struct {
					ID       string
					N        int
					FirstBad *struct{ At, Got int }
					WrongID  int
				}
			}
			const receivers, count = 50, 2000
			decodeLastLine(t, runNode(t, 90*time.Second, "e2e/order.js", srv.URL,
				strconv.Itoa(receivers), strconv.Itoa(count), senderTransport), &r)
			if r.OwnEcho != 0 {
				t.Errorf("the sender received %d of its own mousemoves", r.OwnEcho)
			}
			if len(r.Receivers) != receivers {
				t.Fatalf("%d receivers reported, want %d", len(r.Receivers), receivers)
			}
			bad := 0
			for i, rc := range r.Receivers {
				var problems []string
				if rc.N != count {
					problems = append(problems, fmt.Sprintf("got %d of %d", rc.N, count))
				}
				if rc.FirstBad != nil {
					problems = append(problems, fmt.Sprintf("out of order: event #%d had seq %d", rc.FirstBad.At, rc.FirstBad.Got))
				}
				if rc.WrongID != 0 {
					problems = append(problems, fmt.Sprintf("%d events without the sender's id", rc.WrongID))
				}
				if len(problems) > 0 {
					bad++
					if bad <= 5 {
						t.Errorf("receiver %d: %s", i, strings.Join(problems, "; "))
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d receivers did not get all %d events in order", bad, receivers, count)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Events sent right after connecting

func TestEarlyEvents(t *testing.T) {
	srv := startServer(t, testConfig(t))
	for _, mode := range []string{"websocket", "polling", "default"} {
		t.Run("official-client-"+mode, func(t *testing.T) {
			var r struct {
				Rounds []struct {
					Round    int
					Complete bool
					ID       string
					Seqs     [][]int
					IDs      [][]string
				}
			}
			decodeLastLine(t, runNode(t, 60*time.Second, "e2e/early.js", srv.URL, "5", mode), &r)
			if len(r.Rounds) != 5 {
				t.Fatalf("%d rounds reported, want 5", len(r.Rounds))
			}
			for _, rd := range r.Rounds {
				for k := range rd.Seqs {
					if !reflect.DeepEqual(rd.Seqs[k], seq(20)) {
						t.Errorf("round %d, receiver %d: got seqs %v, want 0..19", rd.Round, k, rd.Seqs[k])
					}
					if len(rd.IDs[k]) > 0 && !reflect.DeepEqual(rd.IDs[k], []string{rd.ID}) {
						t.Errorf("round %d, receiver %d: ids %v, want only the sender's %q", rd.Round, k, rd.IDs[k], rd.ID)
					}
				}
			}
		})
	}
	// A client told it is connected gets every frame sent to its board from
	// then on, though socket.io sends the CONNECT ack before it emits
	// "connection" (Server.admit joins the board before that).
	t.Run("relayed-right-after-connect-ack", func(t *testing.T) {
		for round := 0; round < 200; round++ {
			board := fmt.Sprintf("board=early_ack_%d", round)
			a := dialRaw(t, srv, board).connect(t)
			b := dialRaw(t, srv, board).connect(t)
			a.send(`42["mousemove",{"x":1,"y":2,"drawing":true}]`)
			if ev, err := b.nextEvent(5 * time.Second); err != nil || ev.name != "moving" {
				t.Fatalf("round %d: a move sent right after the newcomer's CONNECT ack did not reach it: %v %v", round, ev, err)
			}
			a.close()
			b.close()
		}
	})
	// The CONNECT packet and the events in one polling POST body.
	t.Run("raw-polling-one-body", func(t *testing.T) {
		for round := 0; round < 10; round++ {
			board := fmt.Sprintf("early_poll_%d", round)
			r1, r2 := dialRaw(t, srv, "board="+board).connect(t), dialRaw(t, srv, "board="+board).connect(t)
			p := openPolling(t, srv, "board="+board)
			var body strings.Builder
			body.WriteString("40")
			for i := 0; i < 20; i++ {
				fmt.Fprintf(&body, "\x1e42[\"mousemove\",{\"x\":%d,\"y\":1,\"drawing\":true,\"seq\":%d}]", i, i)
			}
			p.post(t, body.String())
			id := p.connectAck(t)
			for _, r := range []*rawSocket{r1, r2} {
				expectSeqs(t, r, id, 20)
			}
			r1.close()
			r2.close()
		}
	})
	// The CONNECT packet and the events back to back without waiting for the ack.
	t.Run("raw-websocket-no-wait", func(t *testing.T) {
		for round := 0; round < 10; round++ {
			board := fmt.Sprintf("early_ws_%d", round)
			r1, r2 := dialRaw(t, srv, "board="+board).connect(t), dialRaw(t, srv, "board="+board).connect(t)
			s := dialRaw(t, srv, "board="+board)
			s.send("40")
			for i := 0; i < 20; i++ {
				s.send(fmt.Sprintf("42[\"mousemove\",{\"x\":%d,\"y\":1,\"drawing\":true,\"seq\":%d}]", i, i))
			}
			s.awaitConnectAck(t)
			for _, r := range []*rawSocket{r1, r2} {
				expectSeqs(t, r, s.id, 20)
			}
			r1.close()
			r2.close()
			s.close()
		}
	})
}

// TestConnectAcknowledged: a client that sends CONNECT the moment it has the
// Engine.IO open packet (as every official client does) is always answered.
// Hundreds of tries, to catch a CONNECT lost between the open packet and the
// server's listeners being in place.
func TestConnectAcknowledged(t *testing.T) {
	srv := startServer(t, testConfig(t))
	t.Run("websocket", func(t *testing.T) {
		const tries = 500
		for i := 0; i < tries; i++ {
			r := dialRaw(t, srv, fmt.Sprintf("board=ack_%d", i%5))
			r.send("40")
			f, err := r.next(5 * time.Second)
			r.close()
			if err != nil || !strings.HasPrefix(f.text, "40{") {
				t.Fatalf("try %d of %d: CONNECT sent right after the open packet (Engine.IO session %s) got %q %v, want the CONNECT ack within 5 s",
					i+1, tries, r.sid, f.text, err)
			}
		}
	})
	t.Run("polling", func(t *testing.T) {
		const tries = 100
		for i := 0; i < tries; i++ {
			p := openPolling(t, srv, "board=ack")
			p.post(t, "40")
			if body := httpDo(t, "GET", p.base, ""); !strings.Contains(body, "40{") {
				t.Fatalf("try %d of %d: CONNECT posted right after the handshake (session %s) was not acknowledged in the next poll: %q", i+1, tries, p.sid, body)
			}
		}
	})
}

// expectSeqs reads n moving events from r: seq 0..n-1 in order, all from id.
func expectSeqs(t *testing.T, r *rawSocket, id string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		ev, err := r.nextEvent(5 * time.Second)
		if err != nil {
			t.Errorf("receiver got %d of %d events: %v", i, n, err)
			return
		}
		var m struct {
			Seq int    `json:"seq"`
			ID  string `json:"id"`
		}
		if ev.name != "moving" || json.Unmarshal(ev.arg, &m) != nil || m.Seq != i || m.ID != id {
			t.Errorf("receiver's event #%d is %s, want moving with seq %d and id %q", i, ev, i, id)
			return
		}
	}
}

// ---------------------------------------------------------------------------
// Bad input

// badCase is input a raw websocket client sends after connecting.
type badCase struct {
	name   string
	frames []any // string: text frame, []byte: binary frame
	// want: "reject" for an event the server must refuse with `rejected`
	// while keeping the client; "close" for input that must cost the client
	// its connection; "any" for protocol garbage where either is fine.
	want string
	// relayOK: the input contains a valid mousemove, so the listener may get it.
	relayOK bool
}

func badCases() []badCase {
	mm := func(arg string) string { return `42["mousemove",` + arg + `]` }
	nested := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	cases := []badCase{
		// Packets the socket.io parser cannot make sense of.
		{name: "event-no-payload", frames: []any{"42"}, want: "any"},
		{name: "event-truncated", frames: []any{"42["}, want: "any"},
		{name: "event-empty-array", frames: []any{"42[]"}, want: "any"},
		{name: "event-object", frames: []any{"42{}"}, want: "any"},
		{name: "event-string", frames: []any{`42"mousemove"`}, want: "any"},
		{name: "event-null-name", frames: []any{"42[null]"}, want: "any"},
		{name: "event-number-name", frames: []any{`42[1,{"x":1,"y":1,"drawing":true}]`}, want: "any"},
		{name: "event-object-name", frames: []any{`42[{},{"x":1,"y":1,"drawing":true}]`}, want: "any"},
		{name: "binary-event-no-payload", frames: []any{"450-"}, want: "any"},
		{name: "binary-event-missing-attachment", frames: []any{`451-["mousemove",{"_placeholder":true,"num":0}]`}, want: "any"},
		{name: "binary-event-with-attachment", frames: []any{`451-["mousemove",{"_placeholder":true,"num":0}]`, []byte{1, 2, 3}}, want: "any"},
		{name: "binary-extra-field", frames: []any{`451-["mousemove",{"x":1,"y":1,"drawing":true,"b":{"_placeholder":true,"num":0}}]`, []byte{1, 2, 3}}, want: "any", relayOK: true},
		{name: "ack-no-id", frames: []any{"43"}, want: "any"},
		{name: "ack-unknown-id", frames: []any{"4399[]"}, want: "any"},
		{name: "ack-no-payload", frames: []any{"4399"}, want: "any"},
		{name: "binary-ack-no-payload", frames: []any{"460-"}, want: "any"},
		{name: "garbage", frames: []any{"4garbage"}, want: "any"},
		{name: "message-empty", frames: []any{"4"}, want: "any"},
		{name: "packet-type-9", frames: []any{"49"}, want: "any"},
		{name: "disconnect-unknown-namespace", frames: []any{"41/nope,"}, want: "any"},
		{name: "connect-unknown-namespace", frames: []any{"40/nope,"}, want: "any"},
		{name: "event-unknown-namespace", frames: []any{`42/nope,["mousemove",{"x":1,"y":1,"drawing":true}]`}, want: "any"},
		{name: "event-with-ack", frames: []any{`427["mousemove",{"x":1,"y":1,"drawing":true}]`}, want: "any", relayOK: true},
		{name: "spoof-moving", frames: []any{`42["moving",{"x":1,"y":1,"drawing":true,"id":"fake"}]`}, want: "any"},
		{name: "spoof-clientdisconnect", frames: []any{`42["clientdisconnect","fake"]`}, want: "any"},
		{name: "deep-nesting", frames: []any{mm(`{"x":1,"y":1,"drawing":true,"n":` + nested + `}`)}, want: "any"},
		{name: "empty-frame", frames: []any{""}, want: "any"},
		{name: "engine-open", frames: []any{"0"}, want: "any"},
		{name: "engine-ping", frames: []any{"2"}, want: "any"},
		{name: "engine-pong-unasked", frames: []any{"3"}, want: "any"},
		{name: "engine-upgrade", frames: []any{"5"}, want: "any"},
		{name: "engine-noop", frames: []any{"6"}, want: "any"},
		{name: "engine-type-7", frames: []any{"7"}, want: "any"},
		{name: "invalid-utf8", frames: []any{"42[\"mousemove\",{\"x\":1,\"y\":1,\"drawing\":true,\"s\":\"\xff\xfe\"}]"}, want: "any", relayOK: true},
		{name: "binary-frame", frames: []any{[]byte{0x04, 'x', 0xff}}, want: "any"},
		{name: "binary-frame-empty", frames: []any{[]byte{}}, want: "any"},
		{name: "binary-frame-event-text", frames: []any{[]byte(mm(`{"x":1,"y":1,"drawing":true}`))}, want: "any", relayOK: true},
		{name: "socketio-disconnect", frames: []any{"41"}, want: "close"},
		{name: "engine-close", frames: []any{"1"}, want: "any"}, // Node ignores it on websocket

		// Well-formed mousemove events with data the contract refuses.
		{name: "mousemove-no-argument", frames: []any{`42["mousemove"]`}, want: "reject"},
		{name: "mousemove-null", frames: []any{mm("null")}, want: "reject"},
		{name: "mousemove-string", frames: []any{mm(`"str"`)}, want: "reject"},
		{name: "mousemove-number", frames: []any{mm("5")}, want: "reject"},
		{name: "mousemove-bool", frames: []any{mm("true")}, want: "reject"},
		{name: "mousemove-array", frames: []any{mm("[1,2]")}, want: "reject"},
		{name: "mousemove-empty-object", frames: []any{mm("{}")}, want: "reject"},
		{name: "x-string", frames: []any{mm(`{"x":"abc","y":1,"drawing":true}`)}, want: "reject"},
		{name: "x-numeric-string", frames: []any{mm(`{"x":"1","y":1,"drawing":true}`)}, want: "reject"},
		{name: "x-null", frames: []any{mm(`{"x":null,"y":1,"drawing":true}`)}, want: "reject"},
		{name: "x-array", frames: []any{mm(`{"x":[1],"y":1,"drawing":true}`)}, want: "reject"},
		{name: "x-missing", frames: []any{mm(`{"y":1,"drawing":true}`)}, want: "reject"},
		{name: "y-missing", frames: []any{mm(`{"x":1,"drawing":true}`)}, want: "reject"},
		{name: "x-overflows-float64", frames: []any{mm(`{"x":1e400,"y":1,"drawing":true}`)}, want: "reject"},
		{name: "y-overflows-negative", frames: []any{mm(`{"x":1,"y":-1e400,"drawing":true}`)}, want: "reject"},
		{name: "x-huge", frames: []any{mm(`{"x":1e300,"y":1,"drawing":true}`)}, want: "reject"},
		{name: "x-just-over-limit", frames: []any{mm(`{"x":100000.5,"y":1,"drawing":true}`)}, want: "reject"},
		{name: "y-just-under-limit", frames: []any{mm(`{"x":1,"y":-100001,"drawing":true}`)}, want: "reject"},
		{name: "drawing-missing", frames: []any{mm(`{"x":1,"y":1}`)}, want: "reject"},
		{name: "drawing-string", frames: []any{mm(`{"x":1,"y":1,"drawing":"yes"}`)}, want: "reject"},
		{name: "drawing-number", frames: []any{mm(`{"x":1,"y":1,"drawing":1}`)}, want: "reject"},
		{name: "drawing-null", frames: []any{mm(`{"x":1,"y":1,"drawing":null}`)}, want: "reject"},
		{name: "object-over-1024-bytes", frames: []any{mm(`{"x":1,"y":1,"drawing":true,"pad":"` + strings.Repeat("a", 1100) + `"}`)}, want: "reject"},
		{name: "object-over-1024-bytes-utf8", frames: []any{mm(`{"x":1,"y":1,"drawing":true,"pad":"` + strings.Repeat("é", 600) + `"}`)}, want: "reject"},

		// Over the message size limit (1 MiB): refused, connection closed.
		{name: "2MB-object", frames: []any{mm(`{"x":1,"y":1,"drawing":true,"pad":"` + strings.Repeat("a", 2<<20) + `"}`)}, want: "close"},
		{name: "2MB-binary-frame", frames: []any{make([]byte, 2<<20)}, want: "close"},
	}
	return cases
}

// TestBadInput sends each bad case from its own raw websocket client on its
// own board, next to a listener. Afterwards the sender must either still be
// served (a valid mousemove from it is relayed, and is the first thing the
// listener hears) or be gone (the listener's first event is its
// clientdisconnect); and a fresh pair of clients must relay.
func TestBadInput(t *testing.T) {
	if inChildProcess(t) {
		return
	}
	srv := startServer(t, testConfig(t))
	for i, c := range badCases() {
		t.Run(c.name, func(t *testing.T) {
			board := fmt.Sprintf("bad_%d", i)
			listener := dialRaw(t, srv, "board="+board).connect(t)
			sender := dialRaw(t, srv, "board="+board).connect(t)
			for _, f := range c.frames {
				switch f := f.(type) {
				case string:
					sender.send(f)
				case []byte:
					sender.sendBinary(f)
				}
			}
			if c.want == "reject" {
				ev, err := sender.nextEventNamed("rejected", 5*time.Second)
				if err != nil {
					t.Errorf("sender got no `rejected`: %v", err)
				} else {
					checkRejected(t, ev.arg)
				}
			}
			probe := `42["mousemove",{"x":7,"y":8,"drawing":false,"probe":"alive"}]`
			sender.send(probe)
			ev, err := listener.nextEvent(5 * time.Second)
			for c.relayOK && (errors.Is(err, errNotEvent) || err == nil && ev.name == "moving" && !strings.Contains(string(ev.arg), `"probe"`)) {
				// What the bad input carried may be relayed, in any form: skip it.
				ev, err = listener.nextEvent(5 * time.Second)
			}
			stillServed := err == nil && ev.name == "moving" && strings.Contains(string(ev.arg), `"probe":"alive"`) &&
				strings.Contains(string(ev.arg), `"id":"`+sender.id+`"`)
			gone := err == nil && ev.name == "clientdisconnect" && string(ev.arg) == `"`+sender.id+`"`
			switch {
			case err != nil:
				t.Errorf("after the bad input the sender is neither relayed nor disconnected (listener: %v); sender's connection closed: %v", err, sender.isClosed())
			case !stillServed && !gone:
				t.Errorf("listener's first event after the bad input is %s: bad input relayed?", ev)
			case c.want == "reject" && !stillServed:
				t.Errorf("sender was disconnected for an invalid mousemove; it should only get `rejected`")
			case c.want == "close" && !gone:
				t.Errorf("the server kept relaying for a client that sent %s: listener got %s", c.name, ev)
			}
			if c.want == "close" && gone {
				// The one clientdisconnect must not be followed by another.
				listener.expectQuiet(t, 300*time.Millisecond)
			}
			listener.close()
			sender.close()
			assertAlive(t, srv)
		})
	}
	t.Run("rejected-is-throttled", func(t *testing.T) {
		listener := dialRaw(t, srv, "board=bad_throttle").connect(t)
		sender := dialRaw(t, srv, "board=bad_throttle").connect(t)
		start := time.Now()
		for i := 0; i < 10; i++ {
			sender.send(`42["mousemove",{"x":"bad","y":1,"drawing":true}]`)
		}
		var first []time.Time
		for {
			ev, err := sender.nextEventNamed("rejected", time.Until(start.Add(time.Second)))
			if err != nil {
				break
			}
			checkRejected(t, ev.arg)
			first = append(first, time.Now())
		}
		if len(first) == 0 || len(first) > 2 {
			t.Errorf("10 invalid mousemoves in a burst gave %d `rejected` events in the first second, want 1 (at most 2)", len(first))
		}
		// After a second has passed the next invalid one is reported again.
		time.Sleep(time.Until(start.Add(1100 * time.Millisecond)))
		sender.send(`42["mousemove",{"x":1,"y":1,"drawing":"no"}]`)
		if ev, err := sender.nextEventNamed("rejected", 3*time.Second); err != nil {
			t.Errorf("an invalid mousemove a second later got no `rejected`: %v", err)
		} else {
			checkRejected(t, ev.arg)
			var r struct{ Dropped float64 }
			json.Unmarshal(ev.arg, &r)
			if want := float64(10 - len(first)); r.Dropped < want {
				t.Errorf("the next `rejected` says dropped %v; the %v reports held back in the first second should be counted in it", r.Dropped, want)
			}
		}
		listener.expectQuiet(t, 0)
	})
	t.Run("valid-edge-cases-relayed", func(t *testing.T) {
		listener := dialRaw(t, srv, "board=bad_edges").connect(t)
		sender := dialRaw(t, srv, "board=bad_edges").connect(t)
		pad := strings.Repeat("a", 950-len(`{"x":1,"y":1,"drawing":true,"pad":""}`))
		for _, m := range []string{
			`{"x":100000,"y":-100000,"drawing":false}`,
			`{"x":-0.0,"y":1e-300,"drawing":true}`,
			`{"x":1,"y":1,"drawing":true,"pad":"` + pad + `"}`, // 950 bytes, under 1024
		} {
			sender.send(`42["mousemove",` + m + `]`)
			ev, err := listener.nextEvent(5 * time.Second)
			if err != nil || ev.name != "moving" {
				t.Errorf("valid mousemove %.60s… not relayed: %v %v", m, ev, err)
				continue
			}
			var want, got map[string]any
			json.Unmarshal([]byte(m), &want)
			json.Unmarshal(ev.arg, &got)
			want["id"] = sender.id
			if !reflect.DeepEqual(want, got) {
				t.Errorf("relayed %.80s…, want %.80s…", ev.arg, m)
			}
		}
		sender.expectQuiet(t, 0)
	})
	t.Run("official-clients-still-relay", func(t *testing.T) {
		var r struct{ Complete bool }
		decodeLastLine(t, runNode(t, 60*time.Second, "e2e/relay.js", srv.URL, "websocket"), &r)
		if !r.Complete {
			t.Error("after the bad input, official clients no longer relay")
		}
	})
}

// checkRejected checks the shape of a `rejected` event's argument.
func checkRejected(t *testing.T, arg json.RawMessage) {
	t.Helper()
	var r struct {
		Event   string   `json:"event"`
		Reason  string   `json:"reason"`
		Dropped *float64 `json:"dropped"`
	}
	if err := json.Unmarshal(arg, &r); err != nil || r.Event != "mousemove" || r.Reason == "" || r.Dropped == nil || *r.Dropped < 1 || *r.Dropped != float64(int(*r.Dropped)) {
		t.Errorf(`rejected %s, want {"event":"mousemove","reason":"<text>","dropped":<n ≥ 1>}`, arg)
	}
}

// ---------------------------------------------------------------------------
// Oversized long-polling POST

// TestOversizedPollingPost streams a 50 MB body at a polling session, chunked
// and with a Content-Length: the server must answer 413 without reading it
// into memory, and keep working.
func TestOversizedPollingPost(t *testing.T) {
	if inChildProcess(t) {
		return
	}
	srv := startServer(t, testConfig(t))
	const size = 50 << 20
	for _, chunked := range []bool{true, false} {
		name := map[bool]string{true: "chunked", false: "content-length"}[chunked]
		t.Run(name, func(t *testing.T) {
			p := openPolling(t, srv, "")
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			peak := before.HeapAlloc
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() { // the heap's high-water mark while the body streams
				defer close(sampled)
				var m runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
					runtime.ReadMemStats(&m)
					peak = max(peak, m.HeapAlloc)
				}
			}()
			status, body, sent := postStream(t, srv, p.sid, size, chunked)
			close(stop)
			<-sampled
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			grew := int64(peak) - int64(before.HeapAlloc)
			t.Logf("status %d %q; sent %d MB before the server stopped us; allocated %d MB, heap peak +%d MB",
				status, body, sent>>20, allocated>>20, grew>>20)
			if status != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, want 413", status)
			}
			const tolerance = 10 << 20
			if allocated > tolerance || grew > tolerance {
				t.Errorf("the server allocated %d MB (heap peak +%d MB) for a refused %d MB body: it buffers the body", allocated>>20, grew>>20, size>>20)
			}
			assertAlive(t, srv)
		})
	}
}

// postStream POSTs size bytes of one huge message to polling session sid over
// a raw connection, reading the response while it writes. It returns the
// response status and body and how much of the body went out.
func postStream(t *testing.T, srv *testServer, sid string, size int, chunked bool) (int, string, int) {
	t.Helper()
	host := strings.TrimPrefix(srv.URL, "http://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	hdr := fmt.Sprintf("POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain;charset=UTF-8\r\n", url.QueryEscape(sid), host)
	if chunked {
		hdr += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		hdr += fmt.Sprintf("Content-Length: %d\r\n\r\n", size)
	}
	if _, err := io.WriteString(conn, hdr); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		const chunkSize = 64 << 10
		var prefix, suffix string
		if chunked {
			prefix, suffix = fmt.Sprintf("%x\r\n", chunkSize), "\r\n"
		}
		framed := []byte(prefix + strings.Repeat("a", chunkSize) + suffix)
		framed[len(prefix)] = '4' // one message packet, 50 MB long
		for n := 0; n < size; n += chunkSize {
			if _, err := conn.Write(framed); err != nil {
				return // the server closed on us: expected
			}
			sent.Add(chunkSize)
			framed[len(prefix)] = 'a'
		}
		if chunked {
			io.WriteString(conn, "0\r\n\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no HTTP response to the oversized POST: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	conn.Close() // stops the writer if the server left the connection open
	<-wrote
	return resp.StatusCode, strings.TrimSpace(string(body)), int(sent.Load())
}

// ---------------------------------------------------------------------------
// Static routes

func TestStaticRoutes(t *testing.T) {
	srv := startServer(t, testConfig(t))
	get := func(path string) (int, http.Header, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	t.Run("page", func(t *testing.T) {
		for _, path := range []string{"/", "/b/some_Board-1"} {
			status, _, body := get(path)
			if status != 200 || !strings.Contains(body, `id="canvas"`) || !strings.Contains(body, "/socket.io/socket.io.js") {
				t.Errorf("GET %s: status %d; want 200 and a page with id=\"canvas\" that loads /socket.io/socket.io.js", path, status)
			}
		}
	})
	t.Run("client-bundle", func(t *testing.T) {
		status, h, body := get("/socket.io/socket.io.js")
		if status != 200 || !strings.Contains(h.Get("Content-Type"), "javascript") || !strings.Contains(body, "io") {
			t.Errorf("GET /socket.io/socket.io.js: status %d, type %q, %d bytes; want 200 JavaScript", status, h.Get("Content-Type"), len(body))
		}
		want, err := os.ReadFile("node_modules/socket.io-client/dist/socket.io.js")
		if err == nil && body != string(want) {
			t.Errorf("GET /socket.io/socket.io.js is not the npm-installed socket.io-client bundle")
		}
	})
	t.Run("invalid-board-page", func(t *testing.T) {
		for _, path := range []string{"/b/bad%20name!", "/b/" + strings.Repeat("x", 65), "/b/a.b"} {
			status, _, body := get(path)
			if status != 400 || !strings.Contains(strings.ToLower(body), "board") {
				t.Errorf("GET %s: status %d %q; want 400 with a message about the board name", path, status, body)
			}
		}
	})
	t.Run("bundle-missing", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.ClientDist = t.TempDir() + "/missing"
		s := startServer(t, cfg)
		resp, err := http.Get(s.URL + "/socket.io/socket.io.js")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if (resp.StatusCode != 503 && resp.StatusCode != 500) || !strings.Contains(string(b), "npm ci") {
			t.Errorf("bundle missing: GET /socket.io/socket.io.js gave %d %q; want 503/500 telling to run `npm ci`", resp.StatusCode, b)
		}
	})
}

// ---------------------------------------------------------------------------
// Raw Engine.IO v4 clients

// rawSocket is a websocket Engine.IO v4 client with the socket.io packets
// written by hand. A reader goroutine answers pings (unless told not to) and
// queues every other frame.
type rawSocket struct {
	conn        *websocket.Conn
	wmu         sync.Mutex
	sid         string // Engine.IO session id
	id          string // socket.io id, once connected
	answerPings atomic.Bool
	frames      chan rawFrame
	done        chan struct{} // closed when reading fails
	readErr     error         // why, once done is closed
}

type rawFrame struct {
	binary bool
	text   string
}

// rawEvent is a socket.io EVENT packet on the main namespace.
type rawEvent struct {
	name string
	arg  json.RawMessage // first argument, nil if none
	raw  string
}

func (e rawEvent) String() string {
	if len(e.raw) > 200 {
		return e.raw[:200] + "…"
	}
	return e.raw
}

// dialRaw opens a websocket Engine.IO session; query is added to the URL.
func dialRaw(t testing.TB, srv *testServer, query string) *rawSocket {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	if query != "" {
		u += "&" + query
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", u, err, status)
	}
	r := &rawSocket{conn: conn, frames: make(chan rawFrame, 1<<14), done: make(chan struct{})}
	r.answerPings.Store(true)
	t.Cleanup(r.close)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, open, err := conn.ReadMessage()
	if err != nil || !bytes.HasPrefix(open, []byte("0{")) {
		t.Fatalf("no Engine.IO open packet: %q %v", open, err)
	}
	var hs struct{ Sid string }
	if err := json.Unmarshal(open[1:], &hs); err != nil || hs.Sid == "" {
		t.Fatalf("bad open packet %q", open)
	}
	r.sid = hs.Sid
	conn.SetReadDeadline(time.Time{})
	go r.read()
	return r
}

func (r *rawSocket) read() {
	defer close(r.done)
	for {
		typ, msg, err := r.conn.ReadMessage()
		if err != nil {
			r.readErr = err
			return
		}
		if typ == websocket.TextMessage && string(msg) == "2" {
			if r.answerPings.Load() {
				r.send("3")
			}
			continue
		}
		r.frames <- rawFrame{binary: typ == websocket.BinaryMessage, text: string(msg)}
	}
}

// send writes a text frame; errors (the server may have closed) are ignored:
// the tests judge the server by what it does, not by our writes.
func (r *rawSocket) send(s string) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	r.conn.WriteMessage(websocket.TextMessage, []byte(s))
}

func (r *rawSocket) sendBinary(b []byte) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	r.conn.WriteMessage(websocket.BinaryMessage, b)
}

func (r *rawSocket) close() { r.conn.Close() }

func (r *rawSocket) isClosed() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// connect joins the main namespace and waits for the CONNECT ack.
func (r *rawSocket) connect(t testing.TB) *rawSocket {
	t.Helper()
	r.send("40")
	r.awaitConnectAck(t)
	return r
}

func (r *rawSocket) awaitConnectAck(t testing.TB) {
	t.Helper()
	f, err := r.next(5 * time.Second)
	if err != nil || !strings.HasPrefix(f.text, "40") {
		t.Fatalf("no CONNECT ack for Engine.IO session %s: %q %v (connection closed: %v)", r.sid, f.text, err, r.isClosed())
	}
	var ack struct{ Sid string }
	if err := json.Unmarshal([]byte(f.text[2:]), &ack); err != nil || ack.Sid == "" {
		t.Fatalf("bad CONNECT ack %q", f.text)
	}
	r.id = ack.Sid
}

var (
	errQuiet    = errors.New("nothing within the deadline")
	errNotEvent = errors.New("frame is not an event")
)

// next returns the next frame other than a ping.
func (r *rawSocket) next(timeout time.Duration) (rawFrame, error) {
	timer := time.NewTimer(max(timeout, 0))
	defer timer.Stop()
	select {
	case f := <-r.frames:
		return f, nil
	default:
	}
	select {
	case f := <-r.frames:
		return f, nil
	case <-r.done:
		select {
		case f := <-r.frames:
			return f, nil
		default:
		}
		return rawFrame{}, fmt.Errorf("connection closed: %v", r.readErr)
	case <-timer.C:
		return rawFrame{}, errQuiet
	}
}

// nextEvent returns the next frame, which must be an EVENT on the main
// namespace; events outside the contract are skipped.
func (r *rawSocket) nextEvent(timeout time.Duration) (rawEvent, error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := r.next(time.Until(deadline))
		if err != nil {
			return rawEvent{}, err
		}
		ev := rawEvent{raw: f.text}
		var args []json.RawMessage
		if f.binary || !strings.HasPrefix(f.text, "42[") || json.Unmarshal([]byte(f.text[2:]), &args) != nil || len(args) == 0 ||
			json.Unmarshal(args[0], &ev.name) != nil {
			return ev, fmt.Errorf("%w: %q (binary %v)", errNotEvent, ev, f.binary)
		}
		if len(args) > 1 {
			ev.arg = args[1]
		}
		if contractEvents[ev.name] {
			return ev, nil
		}
	}
}

// nextEventNamed skips frames until an event called name.
func (r *rawSocket) nextEventNamed(name string, timeout time.Duration) (rawEvent, error) {
	deadline := time.Now().Add(timeout)
	for {
		ev, err := r.nextEvent(time.Until(deadline))
		if err == nil && ev.name == name {
			return ev, nil
		}
		if err != nil && (errors.Is(err, errQuiet) || r.isClosed() && len(r.frames) == 0) {
			return ev, err
		}
	}
}

// expectQuiet fails if a contract event or a non-event frame arrives within
// d (d = 0: if one is already queued).
func (r *rawSocket) expectQuiet(t testing.TB, d time.Duration) {
	t.Helper()
	if ev, err := r.nextEvent(d); err == nil || errors.Is(err, errNotEvent) {
		t.Errorf("unexpected frame %s", ev)
	}
}

var aliveBoards atomic.Int64

// assertAlive proves the server still relays: a fresh pair of clients on a
// fresh board, one mousemove.
func assertAlive(t testing.TB, srv *testServer) {
	t.Helper()
	board := fmt.Sprintf("board=alive_%d", aliveBoards.Add(1))
	a, b := dialRaw(t, srv, board).connect(t), dialRaw(t, srv, board).connect(t)
	defer a.close()
	defer b.close()
	a.send(`42["mousemove",{"x":1,"y":2,"drawing":true}]`)
	ev, err := b.nextEvent(5 * time.Second)
	if err != nil || ev.name != "moving" || !jsonEqual(ev.arg, `{"x":1,"y":2,"drawing":true,"id":"`+a.id+`"}`) {
		t.Fatalf("server no longer relays: got %v %v", ev, err)
	}
}

// pollingSession is a raw long-polling Engine.IO v4 client.
type pollingSession struct {
	base string // .../socket.io/?EIO=4&transport=polling&sid=...
	sid  string
}

func openPolling(t testing.TB, srv *testServer, query string) *pollingSession {
	t.Helper()
	u := srv.URL + "/socket.io/?EIO=4&transport=polling"
	if query != "" {
		u += "&" + query
	}
	body := httpDo(t, "GET", u, "")
	if !strings.HasPrefix(body, "0{") {
		t.Fatalf("polling handshake: %q", body)
	}
	var hs struct{ Sid string }
	if err := json.Unmarshal([]byte(body[1:]), &hs); err != nil || hs.Sid == "" {
		t.Fatalf("polling handshake: %q", body)
	}
	return &pollingSession{base: u + "&sid=" + url.QueryEscape(hs.Sid), sid: hs.Sid}
}

func (p *pollingSession) post(t testing.TB, body string) {
	t.Helper()
	if got := httpDo(t, "POST", p.base, body); got != "ok" {
		t.Fatalf("polling POST answered %q", got)
	}
}

// connectAck polls until the CONNECT ack and returns the socket id.
func (p *pollingSession) connectAck(t testing.TB) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, pkt := range strings.Split(httpDo(t, "GET", p.base, ""), "\x1e") {
			if strings.HasPrefix(pkt, "40{") {
				var ack struct{ Sid string }
				json.Unmarshal([]byte(pkt[2:]), &ack)
				return ack.Sid
			}
		}
	}
	t.Fatalf("no CONNECT ack over polling")
	return ""
}

var pollClient = &http.Client{Timeout: 30 * time.Second}

func httpDo(t testing.TB, method, u, body string) string {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := pollClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %q", method, u, resp.StatusCode, b)
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Helpers

// decodeLastLine decodes the last non-empty line of a script's output.
func decodeLastLine(t testing.TB, out []byte, v any) {
	t.Helper()
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	last := lines[len(lines)-1]
	if err := json.Unmarshal(last, v); err != nil {
		t.Fatalf("script output is not the JSON expected: %v\n%.2000s", err, out)
	}
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonEqual(a []byte, b string) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

// contractEvents are the server → client events of the wire contract. The
// server may send others (presence, say); these tests leave them alone.
var contractEvents = map[string]bool{"moving": true, "clientdisconnect": true, "rejected": true}

// assertEvents compares the contract events received to the expected ones,
// in order, comparing payloads as JSON values.
func assertEvents(t testing.TB, who string, all, want []relayEvent) {
	t.Helper()
	var got []relayEvent
	for _, e := range all {
		if contractEvents[e.Event] {
			got = append(got, e)
		}
	}
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		same = got[i].Event == want[i].Event && jsonEqual(got[i].Data, string(want[i].Data))
	}
	if !same {
		t.Errorf("%s received %d events, want %d\n got: %s\nwant: %s", who, len(got), len(want), eventsString(got), eventsString(want))
	}
}

func eventsString(evs []relayEvent) string {
	var b strings.Builder
	for i, e := range evs {
		if i == 8 {
			fmt.Fprintf(&b, " …(%d more)", len(evs)-i)
			break
		}
		fmt.Fprintf(&b, " %s %s", e.Event, e.Data)
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
