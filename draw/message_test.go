package draw

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParsePacket(t *testing.T) {
	for _, tc := range []struct {
		in       string
		typ      byte
		nsp, dat string
		ack, err bool
	}{
		{in: `42["mousemove",{}]`[1:], typ: '2', nsp: "/", dat: `["mousemove",{}]`},
		{in: `2/admin,["x"]`, typ: '2', nsp: "/admin", dat: `["x"]`},
		{in: `212["x"]`, typ: '2', nsp: "/", dat: `["x"]`, ack: true},
		{in: `0`, typ: '0', nsp: "/"},
		{in: `0/foo`, typ: '0', nsp: "/foo"},
		{in: `0{"token":1}`, typ: '0', nsp: "/", dat: `{"token":1}`},
		{in: `50-["x"]`, err: true},
		{in: `9`, err: true},
		{in: ``, err: true},
	} {
		p, err := parsePacket([]byte(tc.in))
		if (err != nil) != tc.err {
			t.Errorf("parsePacket(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && (p.typ != tc.typ || p.nsp != tc.nsp || string(p.data) != tc.dat || p.ack != tc.ack) {
			t.Errorf("parsePacket(%q) = %c %q %q ack=%v", tc.in, p.typ, p.nsp, p.data, p.ack)
		}
	}
}

func TestEncodeMoving(t *testing.T) {
	out, _, err := encodeMoving(json.RawMessage(`{"x":1.5,"y":-2,"drawing":true,"id":"spoofed","color":"#ff0000"}`), "sock1", 1024)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), `2["moving",`) {
		t.Fatalf("not a moving event: %s", out)
	}
	var ev []json.RawMessage
	if err := json.Unmarshal(out[1:], &ev); err != nil {
		t.Fatalf("output is not JSON: %s", out)
	}
	var m map[string]any
	json.Unmarshal(ev[1], &m)
	want := map[string]any{"x": 1.5, "y": -2.0, "drawing": true, "id": "sock1", "color": "#ff0000"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (all: %s)", k, m[k], v, out)
		}
	}
	if len(m) != len(want) {
		t.Errorf("fields = %v, want exactly %v", m, want)
	}
}

func TestEncodeMovingRejects(t *testing.T) {
	for _, in := range []string{
		`null`, `"str"`, `5`, `[1,2]`, `{}`,
		`{"x":"abc","y":1,"drawing":true}`,
		`{"x":1,"y":1}`,
		`{"x":1,"y":1,"drawing":"yes"}`,
		`{"x":1e400,"y":1,"drawing":true}`,
		`{"x":1e300,"y":1,"drawing":true}`,
		`{"x":100001,"y":1,"drawing":true}`,
		`{"x":1,"y":1,"drawing":true,"pad":"` + strings.Repeat("a", 1100) + `"}`,
		`{"x":1,"y":1,"drawing":true`,
	} {
		if out, _, err := encodeMoving(json.RawMessage(in), "id", 1024); err == nil {
			t.Errorf("encodeMoving(%.60s) = %s, want an error", in, out)
		}
	}
}

func TestParseEvent(t *testing.T) {
	for _, bad := range []string{``, `[`, `[]`, `{}`, `[1]`, `[""]`, `null`} {
		if _, _, err := parseEvent([]byte(bad)); err == nil {
			t.Errorf("parseEvent(%q) succeeded, want an error", bad)
		}
	}
	name, args, err := parseEvent([]byte(`["mousemove",{"x":1},2]`))
	if err != nil || name != "mousemove" || len(args) != 2 {
		t.Errorf("parseEvent = %q %v %v", name, args, err)
	}
}

// FuzzPacket drives raw Socket.IO packets through the same parsing and
// validation the relay applies: no input may panic, and whatever is accepted
// for relaying must be a well-formed moving event carrying our id.
func FuzzPacket(f *testing.F) {
	for _, seed := range []string{
		`2["mousemove",{"x":1,"y":2,"drawing":true}]`, `2`, `2[`, `2["mousemove"]`, `50-`, `garbage`,
		`2["mousemove",null]`, `2["mousemove",{"x":"abc"}]`, `2["mousemove",{"x":1e400,"y":0,"drawing":false}]`,
		`0`, `0{}`, `0/x,`, `1`, `3`, `2/nsp,1["mousemove",{}]`, `2["hello",{"name":"a","color":"#000000"}]`,
		`2["mousemove",{"x":1,"y":2,"drawing":true,"id":"x","\u0078":"y"}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := parsePacket(raw)
		if err != nil || p.typ != pktEvent {
			return
		}
		name, args, err := parseEvent(p.data)
		if err != nil || name != EventMove || len(args) == 0 {
			return
		}
		out, _, err := encodeMoving(args[0], "ID", 1024)
		if err != nil {
			return
		}
		var ev []json.RawMessage
		if json.Unmarshal(out[1:], &ev) != nil || len(ev) != 2 {
			t.Fatalf("relayed packet is not a JSON event: %q", out)
		}
		var m map[string]any
		if json.Unmarshal(ev[1], &m) != nil || m["id"] != "ID" {
			t.Fatalf("relayed object lacks our id: %q", out)
		}
		if _, ok := m["x"].(float64); !ok {
			t.Fatalf("relayed x is not a number: %q", out)
		}
	})
}
