package loadtest

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestSplitEvent(t *testing.T) {
	tests := []struct {
		in        string
		name, arg string
		ok        bool
	}{
		{`42["moving",{"x":1}]`, "moving", `{"x":1}`, true},
		{`42[ "moving" , {"x":1} ]`, "moving", `{"x":1}`, true},
		{`42["clientdisconnect","abc"]`, "clientdisconnect", `"abc"`, true},
		{`42["moving",{"a":[1,{"b":"]}"}]},2]`, "moving", `{"a":[1,{"b":"]}"}]}`, true},
		{`42["ping"]`, "ping", ``, true},
		{`42["mo\"ving",1]`, `mo\"ving`, `1`, true},
		{`42`, "", "", false},
		{`42[`, "", "", false},
		{`42[1,2]`, "", "", false},
		{`42["moving"`, "", "", false},
		{`42["moving",{"x":1]`, "", "", false},
		{`42/admin,["moving",{}]`, "", "", false},
		{`43["moving",{}]`, "", "", false},
	}
	for _, tt := range tests {
		name, arg, ok := splitEvent([]byte(tt.in))
		if ok != tt.ok || string(name) != tt.name || string(arg) != tt.arg {
			t.Errorf("splitEvent(%s) = %q, %q, %v; want %q, %q, %v", tt.in, name, arg, ok, tt.name, tt.arg, tt.ok)
		}
	}
}

func TestScanMove(t *testing.T) {
	tests := []struct {
		in   string
		want move
		ok   bool
	}{
		// Node's order: the client's fields, then id.
		{`{"x":10,"y":20,"drawing":true,"k":3,"s":17,"t":1732240000123456,"id":"AbC_-1"}`,
			move{id: []byte("AbC_-1"), k: 3, s: 17, t: 1732240000123456, hasK: true, hasS: true, hasT: true}, true},
		// Sorted keys, as Go's encoding/json writes a map.
		{`{"drawing":false,"id":"zz","k":0,"s":0,"t":5,"x":1,"y":2}`,
			move{id: []byte("zz"), k: 0, s: 0, t: 5, hasK: true, hasS: true, hasT: true}, true},
		// Whitespace, nested values and strings that look like our keys.
		{` { "note" : "\"id\":\"evil\",\"k\":9" , "nested":{"id":"no","k":[1,2,{"s":3}]}, "id" : "yes", "k":1 , "s":2,"t":3 } `,
			move{id: []byte("yes"), k: 1, s: 2, t: 3, hasK: true, hasS: true, hasT: true}, true},
		// Numbers that went through float64 and came back in another form.
		{`{"id":"a","k":2.0,"s":1e2,"t":1.732e+15}`,
			move{id: []byte("a"), k: 2, s: 100, t: 1732000000000000, hasK: true, hasS: true, hasT: true}, true},
		// Missing fields are reported as missing, not as zero.
		{`{"x":1,"y":2,"drawing":true,"id":"a"}`, move{id: []byte("a")}, true},
		{`{}`, move{}, true},
		{`{"id":"a",}`, move{id: []byte("a")}, false},
		{`{"id":"a"`, move{id: []byte("a")}, false},
		{`["id","a"]`, move{}, false},
		{`{"k":-5}`, move{k: -5, hasK: true}, true},
		{`{"k":"3"}`, move{}, true},
		{`{"s":99999999999999999999}`, move{}, true},
	}
	for _, tt := range tests {
		var m move
		ok := scanMove([]byte(tt.in), &m)
		if ok != tt.ok || fmt.Sprint(m) != fmt.Sprint(tt.want) {
			t.Errorf("scanMove(%s) = %+v, %v; want %+v, %v", tt.in, m, ok, tt.want, tt.ok)
		}
	}
}

func TestScanSID(t *testing.T) {
	sid, ok := scanSID([]byte(`{"sid":"X1Uolq"}`))
	if !ok || string(sid) != "X1Uolq" {
		t.Errorf("scanSID = %q, %v", sid, ok)
	}
	for _, in := range []string{`{}`, `{"sid":""}`, `{"sid":1}`, `nope`} {
		if sid, ok := scanSID([]byte(in)); ok {
			t.Errorf("scanSID(%s) = %q, true; want false", in, sid)
		}
	}
}

func TestParseOpen(t *testing.T) {
	o, err := parseOpen([]byte(`0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	if err != nil || o.sid != "abc" || o.pingInterval.Seconds() != 25 || o.pingTimeout.Seconds() != 20 {
		t.Errorf("parseOpen = %+v, %v", o, err)
	}
	for _, in := range []string{``, `0`, `0{}`, `40{"sid":"a"}`, `0{"sid":"a"`} {
		if _, err := parseOpen([]byte(in)); err == nil {
			t.Errorf("parseOpen(%q) accepted", in)
		}
	}
}

// The frame a sender writes is valid socket.io JSON, and what the scanner
// reads back from a relayed copy (extra fields kept, id added) is what was sent.
func TestAppendMoveRoundTrip(t *testing.T) {
	b := appendMove(nil, 123, -4, true, 7, 42, 1732240000123456, []byte("pad"))
	var ev []json.RawMessage
	if err := json.Unmarshal(b[2:], &ev); err != nil {
		t.Fatalf("not JSON: %s: %v", b, err)
	}
	var data map[string]any
	if err := json.Unmarshal(ev[1], &data); err != nil {
		t.Fatal(err)
	}
	if string(ev[0]) != `"mousemove"` || data["x"] != 123.0 || data["y"] != -4.0 || data["drawing"] != true || data["p"] != "pad" {
		t.Errorf("unexpected frame %s", b)
	}
	// Relay it the way a Go server with sorted map keys would.
	data["id"] = "sender-7"
	obj, _ := json.Marshal(data)
	relayed := append([]byte(`42["moving",`), obj...)
	relayed = append(relayed, ']')
	name, arg, ok := splitEvent(relayed)
	var m move
	if !ok || string(name) != "moving" || !scanMove(arg, &m) {
		t.Fatalf("cannot read back %s", relayed)
	}
	if string(m.id) != "sender-7" || m.k != 7 || m.s != 42 || m.t != 1732240000123456 {
		t.Errorf("read back %+v from %s", m, relayed)
	}
}

// The receive path must not allocate: it runs for every delivery.
func TestScanDoesNotAllocate(t *testing.T) {
	frame := []byte(`42["moving",{"x":10,"y":20,"drawing":true,"k":3,"s":17,"t":1732240000123456,"id":"AbCdEfGhIjKlMnOpQrSt"}]`)
	var m move
	allocs := testing.AllocsPerRun(100, func() {
		_, arg, _ := splitEvent(frame)
		scanMove(arg, &m)
	})
	if allocs != 0 {
		t.Errorf("scanning a frame allocates %v times", allocs)
	}
}

func FuzzScanMove(f *testing.F) {
	f.Add([]byte(`{"x":10,"y":20,"drawing":true,"k":3,"s":17,"t":1732240000123456,"id":"AbC"}`))
	f.Add([]byte(`{"a":[1,{"b":"]}"}],"id":"\"","k":1e400}`))
	f.Fuzz(func(t *testing.T, obj []byte) {
		var m move
		ok := scanMove(obj, &m) // must not panic or hang
		// Whatever it accepts with an id, encoding/json must agree on.
		if ok && m.hasK && json.Valid(obj) {
			var v map[string]json.RawMessage
			if err := json.Unmarshal(obj, &v); err == nil {
				if _, has := v["k"]; !has {
					t.Errorf("scanner found k in %s, encoding/json did not", obj)
				}
			}
		}
	})
}

func BenchmarkScanMove(b *testing.B) {
	frame := []byte(`42["moving",{"x":10,"y":20,"drawing":true,"k":3,"s":17,"t":1732240000123456,"id":"AbCdEfGhIjKlMnOpQrSt"}]`)
	var m move
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		_, arg, _ := splitEvent(frame)
		scanMove(arg, &m)
	}
}
