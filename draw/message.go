package draw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Socket.IO packet types (the first byte of every Socket.IO packet).
const (
	pktConnect      = '0'
	pktDisconnect   = '1'
	pktEvent        = '2'
	pktAck          = '3'
	pktConnectError = '4'
	pktBinaryEvent  = '5'
	pktBinaryAck    = '6'
)

// MaxCoordinate bounds |x| and |y| of a mousemove. The board is 2000×1000, but
// the original page sends page coordinates, which can run past the canvas.
const MaxCoordinate = 100000

// packet is one incoming Socket.IO packet, split but not yet decoded.
type sioPacket struct {
	typ  byte
	nsp  string
	ack  bool   // the sender asked for an acknowledgement
	data []byte // the JSON payload, possibly empty
}

// parsePacket splits a Socket.IO packet: type[attachments-][nsp,][ackid][json].
func parsePacket(b []byte) (sioPacket, error) {
	if len(b) == 0 {
		return sioPacket{}, errors.New("empty packet")
	}
	p := sioPacket{typ: b[0], nsp: "/"}
	if p.typ < pktConnect || p.typ > pktBinaryAck {
		return p, fmt.Errorf("unknown packet type %q", p.typ)
	}
	rest := b[1:]
	if p.typ == pktBinaryEvent || p.typ == pktBinaryAck {
		return p, errors.New("binary events and acks are not supported")
	}
	if len(rest) > 0 && rest[0] == '/' {
		end := bytes.IndexByte(rest, ',')
		if end < 0 {
			p.nsp, rest = string(rest), nil
		} else {
			p.nsp, rest = string(rest[:end]), rest[end+1:]
		}
	}
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	p.ack = digits > 0
	p.data = rest[digits:]
	return p, nil
}

// parseEvent decodes an EVENT payload: a JSON array whose first element is the
// event name.
func parseEvent(data []byte) (string, []json.RawMessage, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil || len(arr) == 0 {
		return "", nil, errors.New(`an event must be a JSON array ["name", ...args]`)
	}
	var name string
	if err := json.Unmarshal(arr[0], &name); err != nil || name == "" {
		return "", nil, errors.New("an event name must be a non-empty string")
	}
	return name, arr[1:], nil
}

// move is what the recorder needs of a mousemove.
type move struct {
	x, y         float64
	drawing      bool
	color, width json.RawMessage // as sent, if sent
}

// encodeMoving validates a mousemove argument and returns the Socket.IO
// packet `2["moving",{...same fields..., "id": id}]`. Extra fields pass
// through unchanged; a client-supplied id is replaced.
func encodeMoving(arg json.RawMessage, id string, maxBytes int) ([]byte, move, error) {
	var mv move
	if len(arg) > maxBytes {
		return nil, mv, fmt.Errorf("mousemove object is %d bytes; the limit is %d", len(arg), maxBytes)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(arg, &fields); err != nil || fields == nil {
		return nil, mv, errors.New("mousemove needs an object {x, y, drawing}")
	}
	var err error
	if mv.x, err = checkCoordinate("x", fields["x"]); err != nil {
		return nil, mv, err
	}
	if mv.y, err = checkCoordinate("y", fields["y"]); err != nil {
		return nil, mv, err
	}
	switch string(fields["drawing"]) {
	case "true":
		mv.drawing = true
	case "false":
	default:
		return nil, mv, errors.New("mousemove drawing must be true or false")
	}
	mv.color, mv.width = fields["color"], fields["width"]
	fields["id"], _ = json.Marshal(id)

	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf := make([]byte, 0, len(arg)+len(id)+32)
	buf = append(buf, `2["moving",{`...)
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		kb, _ := json.Marshal(k)
		buf = append(buf, kb...)
		buf = append(buf, ':')
		buf = append(buf, fields[k]...)
	}
	return append(buf, "}]"...), mv, nil
}

func checkCoordinate(name string, raw json.RawMessage) (float64, error) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, fmt.Errorf("mousemove %s must be a number", name)
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) || math.Abs(v) > MaxCoordinate {
		return 0, fmt.Errorf("mousemove %s must be a finite number within ±%d", name, MaxCoordinate)
	}
	return v, nil
}

// encodeEvent builds the Socket.IO packet for an event we originate.
func encodeEvent(name string, arg any) []byte {
	b, err := json.Marshal([]any{name, arg})
	if err != nil {
		panic(fmt.Sprintf("encoding %s: %v", name, err)) // our own values always encode
	}
	return append([]byte{pktEvent}, b...)
}

// frame is one outgoing Socket.IO packet, encoded once and shared by every
// recipient: ws is the complete websocket frame, pkt the packet alone (for
// long-polling, where the engine adds its own framing).
type frame struct {
	ws  []byte
	pkt []byte
}

func newFrame(pkt []byte) *frame {
	ws := wsFrame(opText, len(pkt)+1)
	ws = append(ws, '4') // Engine.IO MESSAGE
	hdr := len(ws)
	ws = append(ws, pkt...)
	return &frame{ws: ws, pkt: ws[hdr:]}
}

// Websocket opcodes used by the server side.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPong   = 0xA
)

// wsFrame returns an unmasked websocket frame header for a final frame of n
// payload bytes, with room for the payload.
func wsFrame(op byte, n int) []byte {
	b := make([]byte, 0, 10+n)
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return b
}
