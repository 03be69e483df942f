package loadtest

import (
	"bytes"
	"math"
	"strconv"
)

// The receive path runs hundreds of thousands of times a second, so frames
// are scanned in place instead of decoded: nothing here allocates.

// move is what a receiver needs from one `moving` event. id aliases the
// frame's bytes and is valid only until the next read.
type move struct {
	id      []byte
	k, s, t int64 // sender index, sequence number, send time (unix µs)
	hasK    bool
	hasS    bool
	hasT    bool
}

var (
	eventPrefix = []byte(`42[`)
	keyID       = []byte(`id`)
	keyK        = []byte(`k`)
	keyS        = []byte(`s`)
	keyT        = []byte(`t`)
	keySID      = []byte(`sid`)
	nameMoving  = []byte(`moving`)
	nameLeft    = []byte(`clientdisconnect`)
	nameRefused = []byte(`rejected`)
)

// splitEvent splits a socket.io EVENT packet for the default namespace,
// `42["name",arg,...]`, into the event name and the raw first argument.
// ok is false for anything else (other namespaces, acks, malformed frames).
func splitEvent(p []byte) (name, arg []byte, ok bool) {
	if !bytes.HasPrefix(p, eventPrefix) {
		return nil, nil, false
	}
	i := skipSpace(p, len(eventPrefix))
	name, i, ok = scanString(p, i)
	if !ok {
		return nil, nil, false
	}
	i = skipSpace(p, i)
	if i < len(p) && p[i] == ']' {
		return name, nil, true // an event without arguments
	}
	if i >= len(p) || p[i] != ',' {
		return nil, nil, false
	}
	i = skipSpace(p, i+1)
	end, ok := skipValue(p, i)
	if !ok {
		return nil, nil, false
	}
	return name, p[i:end], true
}

// scanMove reads id, k, s and t from the top level of a JSON object, in any
// key order, skipping every other field whatever its type.
func scanMove(obj []byte, m *move) bool {
	*m = move{}
	return walkObject(obj, func(key, val []byte) {
		switch {
		case bytes.Equal(key, keyID):
			if len(val) >= 2 && val[0] == '"' {
				m.id = val[1 : len(val)-1]
			}
		case bytes.Equal(key, keyK):
			m.k, m.hasK = parseInt(val)
		case bytes.Equal(key, keyS):
			m.s, m.hasS = parseInt(val)
		case bytes.Equal(key, keyT):
			m.t, m.hasT = parseInt(val)
		}
	})
}

// scanSID returns the "sid" string of an Engine.IO open packet or a
// socket.io CONNECT acknowledgement (both are a JSON object).
func scanSID(obj []byte) (sid []byte, ok bool) {
	okObj := walkObject(obj, func(key, val []byte) {
		if bytes.Equal(key, keySID) && len(val) >= 2 && val[0] == '"' {
			sid = val[1 : len(val)-1]
		}
	})
	return sid, okObj && len(sid) > 0
}

// walkObject calls fn with each top-level key (unquoted, escapes left as
// they are) and raw value of the JSON object obj. It reports false if obj is
// not a well-formed object as far as the walk can tell.
func walkObject(obj []byte, fn func(key, val []byte)) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return true
	}
	for i < len(obj) {
		key, j, ok := scanString(obj, i)
		if !ok {
			return false
		}
		j = skipSpace(obj, j)
		if j >= len(obj) || obj[j] != ':' {
			return false
		}
		j = skipSpace(obj, j+1)
		end, ok := skipValue(obj, j)
		if !ok {
			return false
		}
		fn(key, obj[j:end])
		i = skipSpace(obj, end)
		if i >= len(obj) {
			return false
		}
		switch obj[i] {
		case '}':
			return true
		case ',':
			i = skipSpace(obj, i+1)
		default:
			return false
		}
	}
	return false
}

// scanString reads the JSON string starting at p[i] (the opening quote) and
// returns its raw contents and the index just past the closing quote.
func scanString(p []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(p) || p[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(p); j++ {
		switch p[j] {
		case '\\':
			j++ // the escaped byte cannot end the string
		case '"':
			return p[i+1 : j], j + 1, true
		}
	}
	return nil, i, false
}

// skipValue returns the index just past the JSON value starting at p[i].
// Objects and arrays are skipped by depth, minding strings inside them;
// scalars end at the next delimiter.
func skipValue(p []byte, i int) (int, bool) {
	if i >= len(p) {
		return i, false
	}
	switch p[i] {
	case '"':
		_, next, ok := scanString(p, i)
		return next, ok
	case '{', '[':
		// One bit per open bracket (1 = object) so a ']' cannot close a '{';
		// 64 levels is far beyond any frame this tester should see.
		var stack uint64
		depth := 0
		for j := i; j < len(p); j++ {
			switch c := p[j]; c {
			case '"':
				_, next, ok := scanString(p, j)
				if !ok {
					return j, false
				}
				j = next - 1
			case '{', '[':
				if depth == 64 {
					return j, false
				}
				stack = stack<<1 | uint64(boolBit(c == '{'))
				depth++
			case '}', ']':
				if depth == 0 || stack&1 != uint64(boolBit(c == '}')) {
					return j, false
				}
				stack >>= 1
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return i, false
	default:
		j := i
		for j < len(p) {
			switch p[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return j, j > i
			}
			j++
		}
		return j, j > i
	}
}

func boolBit(b bool) int {
	if b {
		return 1
	}
	return 0
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n') {
		i++
	}
	return i
}

// parseInt reads a JSON number that should hold an integer. Servers that
// pass numbers through float64 may print 1.5e3-style forms; those take the
// slow path.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := b[0] == '-'
	i := 0
	if neg {
		i = 1
	}
	if i >= len(b) {
		return 0, false
	}
	var n int64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			f, err := strconv.ParseFloat(string(b), 64)
			if err != nil || math.IsNaN(f) || f > 9e18 || f < -9e18 {
				return 0, false
			}
			return int64(f), true
		}
		if n > (1<<63-1-9)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// appendMove writes the mousemove event a sender emits. x, y and drawing are
// what the page sends; k, s and t are the extra fields the server must relay
// unchanged: sender index, sequence number and send time in unix µs (µs keep
// it below 2^53, so a server that round-trips numbers through float64, as
// JavaScript does, relays it exactly).
func appendMove(b []byte, x, y int, drawing bool, k int, s, t int64, pad []byte) []byte {
	b = append(b, `42["mousemove",{"x":`...)
	b = strconv.AppendInt(b, int64(x), 10)
	b = append(b, `,"y":`...)
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, `,"drawing":`...)
	b = strconv.AppendBool(b, drawing)
	b = append(b, `,"k":`...)
	b = strconv.AppendInt(b, int64(k), 10)
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, s, 10)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, t, 10)
	if len(pad) > 0 {
		b = append(b, `,"p":"`...)
		b = append(b, pad...)
		b = append(b, '"')
	}
	return append(b, `}]`...)
}
