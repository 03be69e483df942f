package draw

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/zishang520/engine.io-go-parser/packet"
	eioparser "github.com/zishang520/engine.io-go-parser/parser"
	"github.com/zishang520/engine.io/v2/engine"
	"github.com/zishang520/engine.io/v2/transports"
	"github.com/zishang520/engine.io/v2/types"
)

// fakeConn stands in for an engine connection: it records what the server
// writes to it.
type fakeConn struct {
	engine.Socket // unused methods panic, which the fuzzer would report
	req           *types.HttpContext
	mu            sync.Mutex
	out           []string
}

// fakeRequest is every fakeConn's handshake request: each HttpContext runs a
// goroutine until its request ends, so one per fuzz input would pile up.
var fakeRequest = sync.OnceValue(func() *types.HttpContext {
	return types.NewHttpContext(httptest.NewRecorder(), httptest.NewRequest("GET", "/socket.io/", nil))
})

func newFakeConn() *fakeConn                                      { return &fakeConn{req: fakeRequest()} }
func (f *fakeConn) Request() *types.HttpContext                   { return f.req }
func (f *fakeConn) Transport() transports.Transport               { return nil }
func (f *fakeConn) On(types.EventName, ...types.Listener) error   { return nil }
func (f *fakeConn) Once(types.EventName, ...types.Listener) error { return nil }
func (f *fakeConn) ReadyState() string                            { return "open" }
func (f *fakeConn) Close(bool)                                    {}
func (f *fakeConn) Write(r io.Reader, _ *packet.Options, _ engine.SendCallback) engine.Socket {
	b, _ := io.ReadAll(r)
	f.mu.Lock()
	f.out = append(f.out, string(b))
	f.mu.Unlock()
	return f
}

// FuzzFrames drives raw Engine.IO long-polling payloads through the real
// engine parser and the relay, from a bound sender to a receiver on the same
// board: nothing may panic, and the receiver may only ever see well-formed
// events, with moving stamped with the sender's id.
func FuzzFrames(f *testing.F) {
	for _, seed := range []string{
		`42["mousemove",{"x":1,"y":2,"drawing":true}]`,
		"42[\"mousemove\",{\"x\":1,\"y\":2,\"drawing\":true}]\x1e42[\"mousemove\",{\"x\":3,\"y\":4,\"drawing\":false,\"c\":\"#fff\"}]",
		`42`, `42[`, `42["mousemove"]`, `450-`, `4garbage`, `42["mousemove",null]`, `42["mousemove","s"]`, `42["mousemove",5]`,
		`42["mousemove",[1,2]]`, `42["mousemove",{"x":"abc","y":1,"drawing":true}]`, `42["mousemove",{"x":1e400,"y":1,"drawing":true}]`,
		`43`, `41/nope,`, `40`, `40{"a":1}`, `40null`, `bAQID`, `2`, `3`, `6`, `42["hello",{"name":"Ann","color":"#112233"}]`,
		`42["hello",null]`, `42/x,["mousemove",{"x":1,"y":1,"drawing":true}]`, `4212["mousemove",{"x":1,"y":1,"drawing":true}]`,
	} {
		f.Add(seed)
	}
	srv, err := New(Config{Public: fstestFS(), EventsPerSecond: 1e9, EventBurst: 1e9, Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		sc, rc := newFakeConn(), newFakeConn()
		sender, receiver := newClient(srv, sc), newClient(srv, rc)
		receiver.join("R", "fuzz")
		sender.join("S", "fuzz")
		receiver.bind()
		sender.bind()
		defer sender.closed()
		defer receiver.closed()
		rc.out = nil

		packets, _ := eioparser.Parserv4().DecodePayload(types.NewStringBufferString(payload))
		for _, p := range packets {
			if p.Type == packet.MESSAGE && p.Data != nil {
				buf, ok := p.Data.(types.BufferInterface)
				if !ok {
					b, _ := io.ReadAll(p.Data)
					buf = types.NewBytesBuffer(b)
				}
				sender.onData(buf)
			}
		}
		for _, msg := range rc.out {
			var ev []json.RawMessage
			if !strings.HasPrefix(msg, "2") || json.Unmarshal([]byte(msg[1:]), &ev) != nil || len(ev) != 2 {
				t.Fatalf("receiver got a malformed packet %q from %q", msg, payload)
			}
			var name string
			json.Unmarshal(ev[0], &name)
			switch name {
			case EventMoving:
				var m struct{ ID string }
				if json.Unmarshal(ev[1], &m) != nil || m.ID != "S" {
					t.Fatalf("moving without the sender's id: %q", msg)
				}
			case EventJoined, EventClientDisconnect:
			default:
				t.Fatalf("receiver got unexpected event %q from %q", msg, payload)
			}
		}
	})
}
