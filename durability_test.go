package main

// Durability of the boards' logs, end to end, on the real binary and a real
// SQLite file: kill -9 in the middle of drawing, SIGTERM and restart, a full
// disk that heals while the server runs, files that are not ours, and
// -db :memory:. Clients here speak Engine.IO v4 / Socket.IO v5 frames over a
// websocket (one late joiner uses the official client, e2e/durability/).
//
// Every wait is bounded; assertions are about counts and contents, never
// about how long something took.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ws "github.com/gorilla/websocket"
	_ "modernc.org/sqlite" // driver "sqlite", to open the server's file beside it

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/sqlite"
)

// ---------------------------------------------------------------------------
// The real binary.

// durBuild builds the server binary into a temporary directory.
func durBuild(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "draw-server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// durFreeAddr picks a loopback address nobody listens on.
func durFreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// durLogBuf collects a process's stderr.
type durLogBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *durLogBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *durLogBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// durProc is one run of the binary.
type durProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *durLogBuf
	done   chan struct{} // closed once the process has exited
	err    error         // what Wait said; read after done
}

// durStart starts the binary with args in dir ("" = here) and kills it when
// the test ends if it is still running.
func durStart(t testing.TB, bin, dir string, args ...string) *durProc {
	t.Helper()
	p := &durProc{cmd: exec.Command(bin, args...), stderr: &durLogBuf{}, done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Signal(syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
			}
		}
	})
	return p
}

// durServe starts the server on addr with the database db and waits until
// /healthz answers.
func durServe(t testing.TB, bin, addr, db string, extra ...string) *durProc {
	t.Helper()
	p := durStart(t, bin, "", append([]string{"-addr", addr, "-db", db}, extra...)...)
	p.addr = addr
	p.waitReady(t)
	return p
}

func (p *durProc) waitReady(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case <-p.done:
			t.Fatalf("the server exited before it was ready: %v\nstderr:\n%s", p.err, p.stderr)
		default:
		}
		if resp, err := durHTTP.Get("http://" + p.addr + "/healthz"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer /healthz within 20 s\nstderr:\n%s", p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exit waits up to timeout for the process to end and returns its exit
// code (-1 when a signal ended it); ok is false if it is still running.
func (p *durProc) exit(timeout time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		return 0, false
	}
	if p.err == nil {
		return 0, true
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), true
	}
	return -1, true
}

// kill9 sends SIGKILL to the process (by its PID) and waits for it.
func (p *durProc) kill9(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", p.cmd.Process.Pid, err)
	}
	if _, ok := p.exit(10 * time.Second); !ok {
		t.Fatalf("pid %d still running 10 s after SIGKILL", p.cmd.Process.Pid)
	}
}

// term sends SIGTERM and expects a clean exit (status 0).
func (p *durProc) term(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %d: %v", p.cmd.Process.Pid, err)
	}
	code, ok := p.exit(30 * time.Second)
	if !ok {
		t.Fatalf("the server did not exit within 30 s of SIGTERM\nstderr:\n%s", p.stderr)
	}
	if code != 0 {
		t.Fatalf("after SIGTERM the server exited with %d (%v), want 0\nstderr:\n%s", code, p.err, p.stderr)
	}
}

// durHTTP never reuses connections: servers come and go under it.
var durHTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// durGet fetches a URL and returns its status, body and headers.
func durGet(ctx context.Context, u string) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := durHTTP.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header, err
}

func durMustGet(t testing.TB, u string) (int, []byte, http.Header) {
	t.Helper()
	code, body, hdr, err := durGet(context.Background(), u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return code, body, hdr
}

// durBoardURL is the board's HTTP path: / or /b/<name>/.
func durBoardURL(addr, board string) string {
	if board == "" {
		return "http://" + addr + "/"
	}
	return "http://" + addr + "/b/" + url.PathEscape(board) + "/"
}

// durOp is an op as clients and history.ndjson see it.
type durOp struct {
	Seq    int64     `json:"seq"` // 0: live but not saved
	Time   int64     `json:"time"`
	Type   string    `json:"type"`
	Stroke string    `json:"stroke"`
	I      int       `json:"i"`
	Author string    `json:"author"`
	Color  string    `json:"color"`
	Width  float64   `json:"width"`
	Points []float64 `json:"points"`
	Name   string    `json:"name"`
}

func (o durOp) key() string { return o.Stroke + "/" + strconv.Itoa(o.I) }

// durHistory fetches a board's ops with seq > since.
func durHistory(ctx context.Context, addr, board string, since int64) ([]durOp, error) {
	code, body, _, err := durGet(ctx, durBoardURL(addr, board)+"history.ndjson?since="+strconv.FormatInt(since, 10))
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("history.ndjson: status %d: %s", code, body)
	}
	return durParseHistory(body)
}

func durParseHistory(body []byte) ([]durOp, error) {
	var ops []durOp
	for n, line := range bytes.Split(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var op durOp
		if err := json.Unmarshal(line, &op); err != nil {
			return nil, fmt.Errorf("history.ndjson line %d %q: %v", n+1, line, err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func durMustHistory(t testing.TB, addr, board string) []durOp {
	t.Helper()
	ops, err := durHistory(context.Background(), addr, board, 0)
	if err != nil {
		t.Fatalf("history of board %q: %v", board, err)
	}
	return ops
}

// durCheckContiguous: the ops' seqs are exactly 1..N in order and no piece
// appears twice. It returns the ops by key.
func durCheckContiguous(t testing.TB, what string, ops []durOp) map[string]durOp {
	t.Helper()
	r := durReport{t: t}
	defer r.done()
	byKey := make(map[string]durOp, len(ops))
	for i, op := range ops {
		if op.Seq != int64(i+1) {
			r.errorf("seq gap", "%s: line %d has seq %d, want %d (seqs must be 1..N without gaps)", what, i+1, op.Seq, i+1)
		}
		if op.Type != "stroke" {
			continue
		}
		if prev, dup := byKey[op.key()]; dup {
			r.errorf("stored twice", "%s: piece %s stored twice: seq %d and seq %d", what, op.key(), prev.Seq, op.Seq)
			continue
		}
		byKey[op.key()] = op
	}
	return byKey
}

// durReport reports the first few failures of each kind and counts the rest.
type durReport struct {
	t testing.TB
	n map[string]int
}

func (r *durReport) errorf(kind, format string, args ...any) {
	r.t.Helper()
	if r.n == nil {
		r.n = make(map[string]int)
	}
	if r.n[kind]++; r.n[kind] <= 10 {
		r.t.Errorf(format, args...)
	}
}

func (r *durReport) done() {
	r.t.Helper()
	for kind, n := range r.n {
		if n > 10 {
			r.t.Errorf("… %d failures in all of the kind %q", n, kind)
		}
	}
}

// durAuthorID is the public id the server derives from a page's secret.
func durAuthorID(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(h[:])[:16]
}

const durAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func durRandID(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = durAlphabet[r.IntN(len(durAlphabet))]
	}
	return string(b)
}

// durMetric reads one series from /metrics (-1 when absent).
func durMetric(t testing.TB, addr, series string) float64 {
	t.Helper()
	_, body, _ := durMustGet(t, "http://"+addr+"/metrics")
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %q: %v", series, line, err)
			}
			return f
		}
	}
	return -1
}

// durLogLines returns the JSON log lines that satisfy match.
func durLogLines(log string, match func(level, msg, line string) bool) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if match(rec.Level, rec.Msg, line) {
			out = append(out, line)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// A socket.io client over a websocket.

type durMsg struct {
	Event string
	Data  json.RawMessage
}

// durConn is one Socket.IO connection: events arrive on in, which is
// closed when the connection ends.
type durConn struct {
	ws      *ws.Conn
	wmu     sync.Mutex
	in      chan durMsg
	quit    chan struct{}
	quitOne sync.Once
}

// durDial opens an Engine.IO websocket and connects the default namespace.
func durDial(addr, board string, timeout time.Duration) (*durConn, error) {
	u := "ws://" + addr + "/socket.io/?EIO=4&transport=websocket"
	if board != "" {
		u += "&board=" + url.QueryEscape(board)
	}
	d := ws.Dialer{HandshakeTimeout: timeout}
	conn, _, err := d.Dial(u, nil)
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) (*durConn, error) {
		conn.Close()
		return nil, fmt.Errorf(format, args...)
	}
	conn.SetReadDeadline(time.Now().Add(timeout))
	_, msg, err := conn.ReadMessage()
	if err != nil || len(msg) == 0 || msg[0] != '0' {
		return fail("engine open: %q %v", msg, err)
	}
	conn.SetWriteDeadline(time.Now().Add(timeout))
	if err := conn.WriteMessage(ws.TextMessage, []byte("40")); err != nil {
		return fail("socket.io connect: %v", err)
	}
	for n := 0; ; n++ {
		_, msg, err = conn.ReadMessage()
		switch {
		case err != nil:
			return fail("socket.io connect: %v", err)
		case string(msg) == "2":
			conn.WriteMessage(ws.TextMessage, []byte("3"))
		case bytes.HasPrefix(msg, []byte("40")):
			c := &durConn{ws: conn, in: make(chan durMsg, 4096), quit: make(chan struct{})}
			go c.read()
			return c, nil
		case bytes.HasPrefix(msg, []byte("44")):
			return fail("connect_error: %s", msg[2:])
		case n > 100:
			return fail("no socket.io connect answer among 100 messages")
		}
	}
}

func (c *durConn) read() {
	defer close(c.in)
	defer c.ws.Close()
	for {
		c.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case string(msg) == "2":
			c.write("3")
		case string(msg) == "41" || string(msg) == "1":
			return
		case bytes.HasPrefix(msg, []byte("42")):
			var arr []json.RawMessage
			if json.Unmarshal(msg[2:], &arr) != nil || len(arr) == 0 {
				continue
			}
			m := durMsg{}
			json.Unmarshal(arr[0], &m.Event)
			if len(arr) > 1 {
				m.Data = arr[1]
			}
			select {
			case c.in <- m:
			case <-c.quit:
				return
			}
		}
	}
}

func (c *durConn) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(ws.TextMessage, []byte(s))
}

// emit sends one event with one argument.
func (c *durConn) emit(event string, arg any) error {
	b, err := json.Marshal([]any{event, arg})
	if err != nil {
		return err
	}
	return c.write("42" + string(b))
}

func (c *durConn) Close() {
	c.quitOne.Do(func() { close(c.quit) })
	c.ws.Close()
}

// durPiece is a stroke piece a client draws, as sent in draw.
type durPiece struct {
	Stroke string    `json:"stroke"`
	I      int       `json:"i"`
	Color  string    `json:"color"`
	Width  float64   `json:"width"`
	Points []float64 `json:"points"`

	seq   int64     // the seq it was stored with, once known
	via   string    // how that became known: "echo" (its ops echo) or "history"
	sends int       // times sent
	last  time.Time // last sent
}

func (p *durPiece) key() string { return p.Stroke + "/" + strconv.Itoa(p.I) }

// sameAs says whether a stored op is this piece, drawn by author.
func (p *durPiece) sameAs(op durOp, author string) bool {
	return op.Type == "stroke" && op.Stroke == p.Stroke && op.I == p.I && op.Author == author &&
		op.Color == p.Color && op.Width == p.Width && slices.Equal(op.Points, p.Points)
}

// durPen draws strokes as random walks over the 2000×1000 board: each piece
// starts at the previous piece's last point.
type durPen struct {
	rng    *rand.Rand
	prefix string
	points int  // points added per piece (0: 1 to 3 at random)
	fixed  bool // every coordinate has the same number of digits (x 1000-1999, y 100-999)

	stroke string
	i      int
	left   int
	x, y   float64
	color  string
	width  float64
}

func (p *durPen) next() *durPiece {
	if p.left == 0 {
		p.stroke = p.prefix + durRandID(p.rng, 10)
		p.i, p.left = 0, 3+p.rng.IntN(15)
		p.x, p.y = float64(100+p.rng.IntN(1800)), float64(100+p.rng.IntN(800))
		if p.fixed {
			p.x, p.y = float64(1100+p.rng.IntN(800)), float64(200+p.rng.IntN(700))
		}
		p.color = fmt.Sprintf("#%06x", p.rng.IntN(1<<24))
		p.width = float64(1 + p.rng.IntN(20))
	}
	pts := []float64{p.x, p.y}
	n := p.points
	if n == 0 {
		n = 1 + p.rng.IntN(3)
	}
	for range n {
		lo := [2]float64{0, 0}
		if p.fixed {
			lo = [2]float64{1000, 100}
		}
		p.x = min(1999, max(lo[0], p.x+float64(p.rng.IntN(61)-30)))
		p.y = min(999, max(lo[1], p.y+float64(p.rng.IntN(61)-30)))
		pts = append(pts, p.x, p.y)
	}
	pc := &durPiece{Stroke: p.stroke, I: p.i, Color: p.color, Width: p.width, Points: pts}
	p.i++
	p.left--
	return pc
}

// ---------------------------------------------------------------------------
// A peer: one connection whose events are all kept, for the tests that
// drive each step themselves.

type durPeer struct {
	name string
	c    *durConn
	done chan struct{} // the connection ended

	mu       sync.Mutex
	events   []durMsg
	seen     map[string][]durOp // every ops entry by piece key, in arrival order
	synced   []json.RawMessage
	storage  []durStorage
	rejected []string
}

type durStorage struct {
	Saving bool   `json:"saving"`
	Reason string `json:"reason"`
}

// durJoin connects to board (retrying for a while) and, with a secret,
// syncs from 0 and waits for synced.
func durJoin(t testing.TB, name, addr, board, secret string) *durPeer {
	t.Helper()
	var c *durConn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err = durDial(addr, board, 5*time.Second); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: connect: %v", name, err)
	}
	p := &durPeer{name: name, c: c, done: make(chan struct{}), seen: make(map[string][]durOp)}
	t.Cleanup(c.Close)
	go p.collect()
	if secret != "" {
		p.emit(t, "sync", map[string]any{"author": secret, "since": 0})
		if !p.waitFor(10*time.Second, func() bool { return len(p.synced) > 0 }) {
			t.Fatalf("%s: no synced within 10 s", name)
		}
	}
	return p
}

func (p *durPeer) collect() {
	defer close(p.done)
	for m := range p.c.in {
		p.mu.Lock()
		p.events = append(p.events, m)
		switch m.Event {
		case "ops":
			var ops []durOp
			json.Unmarshal(m.Data, &ops)
			for _, op := range ops {
				p.seen[op.key()] = append(p.seen[op.key()], op)
			}
		case "synced":
			p.synced = append(p.synced, m.Data)
		case "storage":
			var s durStorage
			json.Unmarshal(m.Data, &s)
			p.storage = append(p.storage, s)
		case "rejected":
			p.rejected = append(p.rejected, string(m.Data))
		}
		p.mu.Unlock()
	}
}

func (p *durPeer) emit(t testing.TB, event string, arg any) {
	t.Helper()
	if err := p.c.emit(event, arg); err != nil {
		t.Fatalf("%s: emit %s: %v", p.name, event, err)
	}
}

// waitFor polls cond (under the peer's lock) until it holds or d passes.
func (p *durPeer) waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; {
		p.mu.Lock()
		ok := cond()
		p.mu.Unlock()
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seqsOf returns the seqs the peer saw for a piece (0 = unsaved).
func (p *durPeer) seqsOf(key string) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int64
	for _, op := range p.seen[key] {
		out = append(out, op.Seq)
	}
	return out
}

// storedSeq is the seq the peer saw a piece stored with (0: none yet).
func (p *durPeer) storedSeq(key string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.storedSeqLocked(key)
}

func (p *durPeer) storedSeqLocked(key string) int64 {
	for _, op := range p.seen[key] {
		if op.Seq > 0 {
			return op.Seq
		}
	}
	return 0
}

// drawAcked sends pieces in one draw event and waits until the echo of
// each has arrived (with or without seq).
func (p *durPeer) drawAcked(t testing.TB, pieces []*durPiece) {
	t.Helper()
	p.emit(t, "draw", pieces)
	ok := p.waitFor(10*time.Second, func() bool {
		for _, pc := range pieces {
			if len(p.seen[pc.key()]) == 0 {
				return false
			}
		}
		return true
	})
	if !ok {
		p.mu.Lock()
		defer p.mu.Unlock()
		t.Fatalf("%s: no ops echo for %d pieces within 10 s (rejected: %v)", p.name, len(pieces), p.rejected)
	}
}

// ---------------------------------------------------------------------------
// A drawer: a page that draws on its own, survives server restarts and
// keeps every piece until it is acknowledged, like the page does.

type durDrawer struct {
	name, secret, author, board string
	addr                        string
	ledger                      *durLedger
	pen                         durPen

	draining atomic.Bool // stop drawing new pieces; settle what is unacknowledged
	settled  atomic.Bool // draining and every piece is known stored

	// counters, read while it runs
	drawn, echoAcks, historyAcks, resent, sessions atomic.Int64

	// the loop's own; read by the test after run returns
	pieces   []*durPiece
	byKey    map[string]*durPiece
	unacked  int
	have     int64
	problems []string
	rejected []string
	unsaved  int
}

// durLedger is what every client observed: the piece stored at each seq.
// Different answers for one seq mean a committed op was lost or renumbered.
type durLedger struct {
	mu        sync.Mutex
	seqs      map[int64]string
	conflicts []string
}

func (l *durLedger) see(seq int64, key, who, via string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.seqs[seq]; !ok {
		l.seqs[seq] = key
	} else if prev != key && len(l.conflicts) < 20 {
		l.conflicts = append(l.conflicts, fmt.Sprintf("seq %d was piece %s, now %s (seen by %s via %s)", seq, prev, key, who, via))
	}
}

func (d *durDrawer) problem(format string, args ...any) {
	if len(d.problems) < 50 {
		d.problems = append(d.problems, fmt.Sprintf(format, args...))
	}
}

// run connects, syncs, catches up, re-sends and draws, over and over,
// until ctx ends.
func (d *durDrawer) run(ctx context.Context) {
	for ctx.Err() == nil {
		d.session(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (d *durDrawer) session(ctx context.Context) {
	c, err := durDial(d.addr, d.board, 2*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	d.sessions.Add(1)
	if c.emit("sync", map[string]any{"author": d.secret, "since": d.have}) != nil {
		return
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for synced := false; !synced; {
		select {
		case <-ctx.Done():
			return
		case <-timeout.C:
			d.problem("session %d: no synced within 10 s", d.sessions.Load())
			return
		case m, ok := <-c.in:
			if !ok {
				return
			}
			if m.Event != "synced" {
				if !d.handle(ctx, m) {
					return
				}
				continue
			}
			var s struct {
				Author string `json:"author"`
				Head   int64  `json:"head"`
				Saving bool   `json:"saving"`
			}
			if err := json.Unmarshal(m.Data, &s); err != nil {
				d.problem("synced %s: %v", m.Data, err)
				return
			}
			if s.Author != d.author {
				d.problem("synced author %q, want %q", s.Author, d.author)
			}
			if s.Head < d.have {
				d.problem("after a restart the board's head is %d but this client already had every op up to %d: committed ops were lost", s.Head, d.have)
			}
			if !s.Saving {
				d.problem("synced says saving is off")
			}
			// Everything not acknowledged goes again: it may or may not
			// have been stored before the connection dropped, and the
			// server must store it once. Half the time it goes before the
			// catch-up, so pieces already stored are sent again too.
			early := d.pen.rng.IntN(2) == 0
			if early && d.resend(c, 0) != nil {
				return
			}
			if s.Head > d.have && !d.catchUp(ctx) {
				return
			}
			if !early && d.resend(c, 0) != nil {
				return
			}
			synced = true
		}
	}
	draw := time.NewTicker(25 * time.Millisecond)
	defer draw.Stop()
	again := time.NewTicker(time.Second)
	defer again.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-c.in:
			if !ok || !d.handle(ctx, m) {
				return
			}
		case <-draw.C:
			if d.draining.Load() {
				if d.unacked == 0 {
					d.settled.Store(true)
				}
				continue
			}
			pieces := make([]*durPiece, 1+d.pen.rng.IntN(3))
			now := time.Now()
			for i := range pieces {
				pc := d.pen.next()
				pc.sends, pc.last = 1, now
				d.pieces = append(d.pieces, pc)
				d.byKey[pc.key()] = pc
				d.unacked++
				pieces[i] = pc
			}
			d.drawn.Add(int64(len(pieces)))
			if c.emit("draw", pieces) != nil {
				return
			}
		case <-again.C: // as the page does every few seconds
			if d.resend(c, time.Second) != nil {
				return
			}
		}
	}
}

// resend sends again every unacknowledged piece last sent at least minAge ago.
func (d *durDrawer) resend(c *durConn, minAge time.Duration) error {
	var batch []*durPiece
	now := time.Now()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		d.resent.Add(int64(len(batch)))
		err := c.emit("draw", batch)
		batch = batch[:0]
		return err
	}
	for _, pc := range d.pieces {
		if pc.seq != 0 || now.Sub(pc.last) < minAge {
			continue
		}
		pc.sends++
		pc.last = now
		if batch = append(batch, pc); len(batch) == draw.MaxDrawPieces {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// handle takes one event; false ends the session.
func (d *durDrawer) handle(ctx context.Context, m durMsg) bool {
	switch m.Event {
	case "ops":
		var ops []durOp
		if err := json.Unmarshal(m.Data, &ops); err != nil {
			d.problem("ops %s: %v", m.Data, err)
			return true
		}
		first := int64(0)
		for _, op := range ops {
			if op.Seq == 0 {
				d.unsaved++
				continue
			}
			if first == 0 {
				first = op.Seq
			}
			d.ledger.see(op.Seq, op.key(), d.name, "echo")
			d.ack(op, "echo")
		}
		if first == 0 {
			return true
		}
		if first > d.have+1 { // a gap: what lies between is in the history
			return d.catchUp(ctx)
		}
		for _, op := range ops {
			if op.Seq == d.have+1 {
				d.have++
			}
		}
	case "rejected":
		d.rejected = append(d.rejected, string(m.Data))
	case "storage":
		d.problem("storage %s while the disk is fine", m.Data)
	}
	return true
}

// catchUp reads the history since have, as the page does after synced.
func (d *durDrawer) catchUp(ctx context.Context) bool {
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ops, err := durHistory(hctx, d.addr, d.board, d.have)
	if err != nil {
		return false // the server went away: reconnect
	}
	for _, op := range ops {
		d.ledger.see(op.Seq, op.key(), d.name, "history")
		d.ack(op, "history")
		switch {
		case op.Seq == d.have+1:
			d.have++
		case op.Seq > d.have+1:
			d.problem("history.ndjson?since=%d jumps from %d to %d", d.have, d.have, op.Seq)
			d.have = op.Seq
		}
	}
	return true
}

// ack records that one of this client's pieces is stored at op.Seq.
func (d *durDrawer) ack(op durOp, via string) {
	if op.Type != "stroke" || op.Author != d.author {
		return
	}
	pc := d.byKey[op.key()]
	switch {
	case pc == nil:
		d.problem("the board has piece %s by me (seq %d) that I never drew", op.key(), op.Seq)
	case pc.seq == 0:
		pc.seq, pc.via = op.Seq, via
		d.unacked--
		if via == "echo" {
			d.echoAcks.Add(1)
		} else {
			d.historyAcks.Add(1)
		}
	case pc.seq != op.Seq:
		d.problem("piece %s was stored with seq %d, now %s says seq %d", op.key(), pc.seq, via, op.Seq)
	}
}

// ---------------------------------------------------------------------------
// 1. kill -9 while drawing.

// TestDurabilityKill9: three clients draw continuously while the server is
// killed with SIGKILL 20 times and restarted on the same file; each client
// reconnects, syncs with its have, catches up and re-sends what was not
// acknowledged. In the end every acknowledged piece is stored exactly once,
// with the seq it was acknowledged with, and the seqs are 1..N.
func TestDurabilityKill9(t *testing.T) {
	const cycles, drawers, board = 20, 3, "durkill"
	bin := durBuild(t)
	addr := durFreeAddr(t)
	db := filepath.Join(t.TempDir(), "draw.db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	srv := durServe(t, bin, addr, db)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ledger := &durLedger{seqs: make(map[int64]string)}
	var ds []*durDrawer
	var wg sync.WaitGroup
	for i := range drawers {
		secret := fmt.Sprintf("durkill-secret-%d-%s", i, durRandID(rng, 12))
		d := &durDrawer{
			name: fmt.Sprintf("d%d", i), secret: secret, author: durAuthorID(secret), board: board, addr: addr,
			ledger: ledger, byKey: make(map[string]*durPiece),
			pen: durPen{rng: rand.New(rand.NewPCG(seed, uint64(i+1))), prefix: fmt.Sprintf("d%d_", i)},
		}
		ds = append(ds, d)
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.run(ctx)
		}()
	}
	stopDrawers := sync.OnceFunc(func() {
		cancel()
		wg.Wait()
	})
	defer stopDrawers()

	acked := func() (n int64) {
		for _, d := range ds {
			n += d.echoAcks.Load() + d.historyAcks.Load()
		}
		return n
	}
	for cycle := 1; cycle <= cycles; cycle++ {
		if cycle > 1 {
			srv = durServe(t, bin, addr, db)
		}
		before := acked()
		// Mostly while drawing; now and then right as the clients come back
		// (syncing, catching up, re-sending).
		wait := time.Duration(150+rng.IntN(1050)) * time.Millisecond
		if rng.IntN(4) == 0 {
			wait = time.Duration(rng.IntN(150)) * time.Millisecond
		}
		time.Sleep(wait)
		srv.kill9(t)
		t.Logf("cycle %2d: killed after %4d ms; %d pieces acknowledged in this cycle", cycle, wait.Milliseconds(), acked()-before)
		if ctx.Err() != nil {
			t.Fatalf("ran out of time at cycle %d", cycle)
		}
	}

	// Last start: the clients finish re-sending, then everyone leaves and
	// the server stops cleanly.
	srv = durServe(t, bin, addr, db)
	for _, d := range ds {
		d.draining.Store(true)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		all := true
		for _, d := range ds {
			all = all && d.settled.Load()
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			for _, d := range ds {
				t.Logf("%s: settled %v, drawn %d, acknowledged %d+%d", d.name, d.settled.Load(), d.drawn.Load(), d.echoAcks.Load(), d.historyAcks.Load())
			}
			stopDrawers()
			t.Fatalf("the clients did not get every piece acknowledged within 30 s of the last restart")
		}
	}
	stopDrawers()
	srv.term(t)
	for _, line := range durLogLines(srv.stderr.String(), func(level, _, _ string) bool { return level == "ERROR" }) {
		t.Errorf("server error on the last run: %s", line)
	}

	// A clean restart; what is stored is what was acknowledged.
	srv = durServe(t, bin, addr, db)
	hist := durMustHistory(t, addr, board)
	srv.term(t)
	stored := durCheckContiguous(t, "history.ndjson", hist)

	var drawn, echo, viaHistory, resent, resentStored, sessions, unsaved int
	r := durReport{t: t}
	defer r.done()
	for _, d := range ds {
		for _, p := range d.problems {
			t.Errorf("%s: %s", d.name, p)
		}
		if len(d.rejected) > 0 {
			t.Errorf("%s: %d rejected events, e.g. %s", d.name, len(d.rejected), d.rejected[0])
		}
		unsaved += d.unsaved
		for _, pc := range d.pieces {
			drawn++
			op, ok := stored[pc.key()]
			switch {
			case pc.seq == 0:
				r.errorf("unacknowledged", "%s: piece %s was never acknowledged", d.name, pc.key())
			case !ok:
				r.errorf("missing", "%s: piece %s acknowledged with seq %d (via %s) is not in history.ndjson", d.name, pc.key(), pc.seq, pc.via)
			case op.Seq != pc.seq:
				r.errorf("renumbered", "%s: piece %s acknowledged with seq %d (via %s) is stored with seq %d", d.name, pc.key(), pc.seq, pc.via, op.Seq)
			case !pc.sameAs(op, d.author):
				r.errorf("changed", "%s: piece %s is stored as %+v, drawn as %+v", d.name, pc.key(), op, *pc)
			}
			if pc.via == "echo" {
				echo++
			} else if pc.via == "history" {
				viaHistory++
				if pc.sends > 1 {
					resentStored++
				}
			}
		}
		resent += int(d.resent.Load())
		sessions += int(d.sessions.Load())
	}
	if unsaved > 0 {
		t.Errorf("%d ops arrived without seq (unsaved) although the disk never failed", unsaved)
	}
	for _, c := range ledger.conflicts {
		t.Errorf("clients disagree: %s", c)
	}
	histBySeq := make(map[int64]durOp, len(hist))
	for _, op := range hist {
		histBySeq[op.Seq] = op
	}
	for seq, key := range ledger.seqs {
		if op, ok := histBySeq[seq]; !ok || op.key() != key {
			r.errorf("ledger", "a client saw seq %d as piece %s; history.ndjson has %+v", seq, key, op)
		}
	}
	if len(hist) != drawn {
		t.Errorf("history.ndjson has %d ops, the clients drew %d pieces", len(hist), drawn)
	}
	if echo == 0 {
		t.Errorf("no piece was ever acknowledged by its ops echo")
	}
	t.Logf("%d cycles, %d clients, %d sessions: %d pieces drawn; %d acknowledged by their ops echo, %d found stored in history.ndjson after a restart (echo lost to the kill; %d of them re-sent first, dropped as duplicates); %d re-sent in all; %d stored (seq 1..%d)",
		cycles, drawers, sessions, drawn, echo, viaHistory, resentStored, resent, len(hist), len(hist))
}

// ---------------------------------------------------------------------------
// 2. SIGTERM and restart.

// durSnapshot is what the HTTP API says about a board.
type durSnapshot struct {
	history, svg []byte
	head         string
}

func durSnap(t testing.TB, addr, board string) durSnapshot {
	t.Helper()
	base := durBoardURL(addr, board)
	code, hist, hdr := durMustGet(t, base+"history.ndjson")
	if code != http.StatusOK {
		t.Fatalf("history.ndjson of %q: %d %s", board, code, hist)
	}
	code, svg, _ := durMustGet(t, base+"board.svg")
	if code != http.StatusOK {
		t.Fatalf("board.svg of %q: %d %s", board, code, svg)
	}
	return durSnapshot{history: hist, svg: svg, head: hdr.Get("X-Board-Head")}
}

// TestDurabilitySIGTERMRestart: a board drawn on (pieces, an undo, a classic
// client's recorded moves) is the same after SIGTERM and a restart:
// history.ndjson and board.svg byte for byte; a late joiner with the
// official client sees all of it, and numbering goes on after it.
func TestDurabilitySIGTERMRestart(t *testing.T) {
	bin := durBuild(t)
	addr := durFreeAddr(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "draw.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	srv := durServe(t, bin, addr, db)

	boards := []string{"", "durterm"} // the default board and a named one
	drawn := map[string]int{}
	for bi, board := range boards {
		secret := "durterm-secret-" + durRandID(rng, 16)
		a := durJoin(t, "drawer", addr, board, secret)
		pen := durPen{rng: rng, prefix: fmt.Sprintf("t%d_", bi)}
		var pieces []*durPiece
		for ev := 0; ev < 20; ev++ {
			batch := make([]*durPiece, 1+rng.IntN(10))
			for i := range batch {
				batch[i] = pen.next()
			}
			pieces = append(pieces, batch...)
			a.drawAcked(t, batch)
		}
		// Undo the first stroke: the picture changes, the log grows.
		first := pieces[0].Stroke
		a.emit(t, "undo", map[string]string{"stroke": first})
		if !a.waitFor(10*time.Second, func() bool {
			for _, op := range a.seen[first+"/0"] {
				if op.Type == "undo" {
					return true
				}
			}
			return false
		}) {
			t.Fatalf("board %q: the undo of %s was not echoed", board, first)
		}
		// A classic client (no sync): its drawing moves are recorded.
		classic := durJoin(t, "classic", addr, board, "")
		for i := range 12 {
			mv := map[string]any{"x": 300 + 10*i, "y": 400 + 5*i, "drawing": i > 0}
			if err := classic.c.emit("mousemove", mv); err != nil {
				t.Fatal(err)
			}
		}
		want := len(pieces) + 1 + 11
		var hist []durOp
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if hist = durMustHistory(t, addr, board); len(hist) >= want || time.Now().After(deadline) {
				break
			}
		}
		if len(hist) != want {
			t.Fatalf("board %q: history has %d ops, want %d (%d pieces, 1 undo, 11 classic segments)", board, len(hist), want, len(pieces))
		}
		byKey := durCheckContiguous(t, "board "+board, hist)
		for _, pc := range pieces {
			if op, ok := byKey[pc.key()]; !ok || !pc.sameAs(op, durAuthorID(secret)) {
				t.Errorf("board %q: piece %s is stored as %+v", board, pc.key(), op)
			}
		}
		drawn[board] = want
		a.c.Close()
		classic.c.Close()
	}

	before := map[string]durSnapshot{}
	for _, b := range boards {
		before[b] = durSnap(t, addr, b)
	}
	srv.term(t)
	if !strings.Contains(srv.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no \"stopped\" log line after SIGTERM:\n%s", srv.stderr)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(db + suffix); err == nil {
			t.Logf("note: %s%s is left after a clean stop", filepath.Base(db), suffix)
		}
	}

	srv = durServe(t, bin, addr, db)
	for _, b := range boards {
		after := durSnap(t, addr, b)
		if !bytes.Equal(before[b].history, after.history) {
			t.Errorf("board %q: history.ndjson differs after the restart:\nbefore:\n%s\nafter:\n%s", b, before[b].history, after.history)
		}
		if !bytes.Equal(before[b].svg, after.svg) {
			t.Errorf("board %q: board.svg differs after the restart (%d bytes before, %d after)", b, len(before[b].svg), len(after.svg))
		}
		switch {
		case after.head == "":
			// docs/PROTOCOL.md: "Header X-Board-Head says the head at the start."
			t.Errorf("board %q: history.ndjson has no X-Board-Head header, which docs/PROTOCOL.md promises (want %d)", b, drawn[b])
		case before[b].head != after.head || after.head != strconv.Itoa(drawn[b]):
			t.Errorf("board %q: X-Board-Head %q before, %q after, want %d", b, before[b].head, after.head, drawn[b])
		}

		// A late joiner with the official client sees all of it.
		var late struct {
			Synced struct {
				Head   int64 `json:"head"`
				Saving bool  `json:"saving"`
			} `json:"synced"`
			Status int     `json:"status"`
			Head   string  `json:"head"`
			Ops    []durOp `json:"ops"`
		}
		args := []string{"http://" + addr}
		if b != "" {
			args = append(args, b)
		}
		out := runNode(t, 30*time.Second, "e2e/durability/latejoin.js", args...)
		if err := json.Unmarshal(durLastLine(out), &late); err != nil {
			t.Fatalf("latejoin.js: %v\n%s", err, out)
		}
		hist, _ := durParseHistory(before[b].history)
		if late.Synced.Head != int64(len(hist)) || !late.Synced.Saving || late.Status != 200 || len(late.Ops) != len(hist) {
			t.Errorf("board %q: the late joiner got synced head %d saving %v, history status %d with %d ops; want head %d, saving, 200 with %d ops",
				b, late.Synced.Head, late.Synced.Saving, late.Status, len(late.Ops), len(hist), len(hist))
		}
		for i := range min(len(late.Ops), len(hist)) {
			g, w := late.Ops[i], hist[i]
			if g.Seq != w.Seq || g.Type != w.Type || g.Stroke != w.Stroke || g.I != w.I || g.Author != w.Author {
				t.Errorf("board %q: the late joiner's op %d is %+v, want %+v", b, i, g, w)
				break
			}
		}
	}

	// Numbering goes on where it stopped.
	secret := "durterm-after-" + durRandID(rng, 16)
	a := durJoin(t, "after", addr, "durterm", secret)
	pen := durPen{rng: rng, prefix: "after_"}
	pc := pen.next()
	a.drawAcked(t, []*durPiece{pc})
	if got := a.seqsOf(pc.key()); len(got) != 1 || got[0] != int64(drawn["durterm"]+1) {
		t.Errorf("the first piece after the restart got seqs %v, want [%d]", got, drawn["durterm"]+1)
	}
	srv.term(t)
	t.Logf("boards %q: %d and %d ops survived SIGTERM and a restart byte for byte (history.ndjson and board.svg)", boards, drawn[""], drawn["durterm"])
}

// durLastLine is the last non-empty line of a script's output.
func durLastLine(out []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	return lines[len(lines)-1]
}

// ---------------------------------------------------------------------------
// 3. The disk fills up, then room is made while the server runs.

// durFillerOps are ops of a new board nobody draws on, to fill the file.
func durFillerOps(board string, n int) []draw.Op {
	ops := make([]draw.Op, n)
	for i := range ops {
		data := fmt.Appendf(nil, `{"type":"stroke","stroke":"filler%04d","i":0,"author":"","color":"#000000","width":2,"points":[`, i)
		for j := 0; len(data) < 900; j++ {
			if j > 0 {
				data = append(data, ',')
			}
			data = strconv.AppendInt(data, int64(100+j%800), 10)
		}
		ops[i] = draw.Op{Board: board, Seq: int64(i + 1), Time: int64(i), Data: append(data, "]}"...)}
	}
	return ops
}

// TestDurabilityDatabaseFull: with max_page_count the file fills up while A
// draws and B watches. Saving stops once per burst (storage, /healthz,
// metric, one log line), live drawing goes on without seqs, nothing partial
// is stored. Deleting another board's rows from beside the server makes
// room: A's re-sent pieces are stored and everyone is told, no restart.
func TestDurabilityDatabaseFull(t *testing.T) {
	const board, filler, headroom = "durfull", "durfiller", 48
	bin := durBuild(t)
	addr := durFreeAddr(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "full.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))

	// The filler board goes in before the server starts.
	st, err := sqlite.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append(context.Background(), durFillerOps(filler, 400)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	side, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	var pages, pageSize int
	if err := side.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	side.QueryRow("PRAGMA page_size").Scan(&pageSize)
	limit := pages + headroom
	t.Logf("filler: %d pages of %d bytes; max_page_count(%d)", pages, pageSize, limit)

	srv := durServe(t, bin, addr, fmt.Sprintf("file:%s?_pragma=max_page_count(%d)", file, limit))
	secretA, secretB := "durfull-A-"+durRandID(rng, 16), "durfull-B-"+durRandID(rng, 16)
	a := durJoin(t, "A", addr, board, secretA)
	b := durJoin(t, "B", addr, board, secretB)
	authorA := durAuthorID(secretA)

	// A draws, one draw event (one commit) at a time, until a commit fails.
	pen := durPen{rng: rng, prefix: "full_", points: 40, fixed: true}
	var pieces []*durPiece
	event := func() []*durPiece {
		batch := make([]*durPiece, 8)
		for i := range batch {
			batch[i] = pen.next()
		}
		pieces = append(pieces, batch...)
		a.drawAcked(t, batch)
		return batch
	}
	failedAt := -1
	for ev := 0; ev < 400 && failedAt < 0; ev++ {
		for _, pc := range event() {
			if a.seqsOf(pc.key())[0] == 0 {
				failedAt = ev
			}
		}
	}
	if failedAt < 0 {
		t.Fatalf("the database did not fill up after %d pieces", len(pieces))
	}
	storedBefore := 0
	for _, pc := range pieces {
		if a.seqsOf(pc.key())[0] > 0 {
			storedBefore++
		}
	}
	t.Logf("saving failed at draw event %d, after %d pieces stored", failedAt+1, storedBefore)

	// Live drawing goes on: five more events, then A re-sends all it has
	// unacknowledged once (not relayed again: it was shown already). A
	// failed commit changes nothing, and each of these needs more room than
	// the one that failed (bigger pieces, or that very batch first), so none
	// fits: this is one burst.
	pen.points = 60
	for range 5 {
		event()
	}
	var unsaved []*durPiece
	for _, pc := range pieces {
		if a.seqsOf(pc.key())[0] == 0 {
			unsaved = append(unsaved, pc)
		}
	}
	failures0 := durMetric(t, addr, `draw_store_failures_total{what="append"}`)
	for chunk := range slices.Chunk(unsaved, draw.MaxDrawPieces) {
		a.emit(t, "draw", chunk)
	}
	for deadline := time.Now().Add(10 * time.Second); durMetric(t, addr, `draw_store_failures_total{what="append"}`) <= failures0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("re-sending while the disk is full did not try another commit within 10 s")
		}
	}
	failures := durMetric(t, addr, `draw_store_failures_total{what="append"}`)

	// Both peers see every unsaved piece, once, without seq.
	if !b.waitFor(10*time.Second, func() bool {
		for _, pc := range unsaved {
			if len(b.seen[pc.key()]) == 0 {
				return false
			}
		}
		return true
	}) {
		t.Errorf("B did not receive A's unsaved pieces live within 10 s")
	}
	for _, p := range []*durPeer{a, b} {
		for _, pc := range unsaved {
			if got := p.seqsOf(pc.key()); !slices.Equal(got, []int64{0}) {
				t.Errorf("%s: unsaved piece %s arrived with seqs %v, want exactly once without seq", p.name, pc.key(), got)
			}
		}
		p.mu.Lock()
		if len(p.storage) != 1 || p.storage[0].Saving || !strings.Contains(strings.ToLower(p.storage[0].Reason), "full") {
			t.Errorf("%s: storage events %+v, want one {saving: false} whose reason mentions full", p.name, p.storage)
		}
		if len(p.rejected) > 0 {
			t.Errorf("%s: rejected %v", p.name, p.rejected)
		}
		p.mu.Unlock()
	}
	code, health, _ := durMustGet(t, "http://"+addr+"/healthz")
	if code != http.StatusOK || !strings.HasPrefix(string(health), "degraded") {
		t.Errorf("/healthz while the disk is full: %d %q, want 200 degraded: …", code, health)
	}
	if failures < 7 {
		t.Errorf(`draw_store_failures_total{what="append"} = %v after at least 7 failed commits`, failures)
	}
	failLines := durLogLines(srv.stderr.String(), func(level, _, line string) bool {
		return level == "ERROR" && strings.Contains(line, "full")
	})
	if len(failLines) != 1 {
		t.Errorf("%d error log lines about the full disk for %v failed commits of %d pieces, want 1 per burst:\n%s",
			len(failLines), failures, len(unsaved), strings.Join(failLines, "\n"))
	}
	// Nothing partial: the history is exactly what was acknowledged.
	hist := durMustHistory(t, addr, board)
	byKey := durCheckContiguous(t, "history while full", hist)
	if len(hist) != storedBefore {
		t.Errorf("history has %d ops while full, %d were acknowledged", len(hist), storedBefore)
	}
	for _, pc := range pieces {
		op, ok := byKey[pc.key()]
		if seq := a.seqsOf(pc.key())[0]; seq != 0 && (!ok || op.Seq != seq || !pc.sameAs(op, authorA)) {
			t.Errorf("acknowledged piece %s (seq %d) is stored as %+v", pc.key(), seq, op)
		} else if seq == 0 && ok {
			t.Errorf("unacknowledged piece %s is stored (seq %d)", pc.key(), op.Seq)
		}
	}
	t.Logf("while full: %d pieces unsaved, shown live; %v failed commits, %d error log lines; /healthz %q",
		len(unsaved), failures, len(failLines), strings.TrimSpace(string(health)))

	// Make room beside the running server.
	res, err := side.Exec("DELETE FROM ops WHERE board = ?", filler)
	if err != nil {
		t.Fatalf("deleting the filler board: %v", err)
	}
	freed, _ := res.RowsAffected()
	if _, err := side.Exec("DELETE FROM boards WHERE name = ?", filler); err != nil {
		t.Fatalf("deleting the filler board: %v", err)
	}
	t.Logf("deleted %d filler ops", freed)

	// A re-sends what is unacknowledged, as the page does every few seconds.
	resends := 0
	ackedAll := func() bool {
		for _, pc := range unsaved {
			if a.storedSeqLocked(pc.key()) == 0 {
				return false
			}
		}
		return true
	}
	for ; resends < 10 && !a.waitFor(0, ackedAll); resends++ {
		var todo []*durPiece
		for _, pc := range unsaved {
			if a.storedSeq(pc.key()) == 0 {
				todo = append(todo, pc)
			}
		}
		for chunk := range slices.Chunk(todo, draw.MaxDrawPieces) {
			a.emit(t, "draw", chunk)
		}
		a.waitFor(2*time.Second, ackedAll)
	}
	if !a.waitFor(0, ackedAll) {
		t.Fatalf("A's unsaved pieces were not stored after %d re-sends", resends)
	}
	if !b.waitFor(10*time.Second, func() bool {
		for _, pc := range unsaved {
			if b.storedSeqLocked(pc.key()) == 0 {
				return false
			}
		}
		return true
	}) {
		t.Errorf("B did not receive A's re-sent pieces with seqs")
	}
	for _, pc := range unsaved {
		if sa, sb := a.seqsOf(pc.key()), b.seqsOf(pc.key()); len(sa) != 2 || sa[1] == 0 || !slices.Equal(sa, sb) {
			t.Errorf("piece %s: A saw seqs %v, B %v; want [0 N] for both", pc.key(), sa, sb)
		}
	}
	for _, p := range []*durPeer{a, b} {
		if !p.waitFor(5*time.Second, func() bool { return len(p.storage) >= 2 }) {
			t.Errorf("%s: no storage event after saving resumed", p.name)
		}
		p.mu.Lock()
		if len(p.storage) != 2 || !p.storage[1].Saving {
			t.Errorf("%s: storage events %+v, want {saving: false} then {saving: true}", p.name, p.storage)
		}
		p.mu.Unlock()
	}
	if code, health, _ := durMustGet(t, "http://"+addr+"/healthz"); code != http.StatusOK || strings.TrimSpace(string(health)) != "ok" {
		t.Errorf("/healthz after room was made: %d %q, want 200 ok", code, health)
	}
	if n := len(durLogLines(srv.stderr.String(), func(_, msg, _ string) bool { return strings.Contains(msg, "saving drawings again") })); n != 1 {
		t.Errorf("%d \"saving drawings again\" log lines, want 1", n)
	}

	hist = durMustHistory(t, addr, board)
	byKey = durCheckContiguous(t, "history after room was made", hist)
	if len(hist) != len(pieces) {
		t.Errorf("history has %d ops, A drew %d pieces", len(hist), len(pieces))
	}
	for _, pc := range pieces {
		if op, ok := byKey[pc.key()]; !ok || op.Seq != a.storedSeq(pc.key()) || !pc.sameAs(op, authorA) {
			t.Errorf("piece %s (acknowledged with seq %d) is stored as %+v", pc.key(), a.storedSeq(pc.key()), op)
		}
	}
	srv.term(t)
	t.Logf("after deleting the filler: %d re-send round(s); every one of A's %d pieces stored once (seq 1..%d)", resends, len(pieces), len(hist))
}

// ---------------------------------------------------------------------------
// 4. Files that are not ours.

func durSHA(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func durListDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestDurabilityRefusesForeignFiles: the binary refuses a file that is not
// a drawing database, says which and why, exits non-zero and leaves the
// file (and its directory) as it was.
func TestDurabilityRefusesForeignFiles(t *testing.T) {
	bin := durBuild(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))

	// A real drawing database, drawn through the server and stopped cleanly.
	realDir := t.TempDir()
	realDB := filepath.Join(realDir, "draw.db")
	{
		addr := durFreeAddr(t)
		srv := durServe(t, bin, addr, realDB)
		a := durJoin(t, "A", addr, "durreal", "durreal-secret-"+durRandID(rng, 16))
		pen := durPen{rng: rng, prefix: "real_", points: 20}
		for range 20 {
			batch := make([]*durPiece, draw.MaxDrawPieces)
			for i := range batch {
				batch[i] = pen.next()
			}
			a.drawAcked(t, batch)
		}
		a.c.Close()
		srv.term(t)
		if left := durListDir(t, realDir); !slices.Equal(left, []string{"draw.db"}) {
			t.Logf("note: after a clean stop the directory holds %v", left)
		}
	}
	realBytes, err := os.ReadFile(realDB)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.BigEndian.Uint16(realBytes[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	nPages := len(realBytes) / pageSize
	if nPages < 8 {
		t.Fatalf("the drawing database has only %d pages", nPages)
	}

	cases := []struct {
		name, why string
		make      func(path string)
	}{
		{"random-text", "not a SQLite database", func(path string) {
			b := make([]byte, 16<<10)
			for i := range b {
				b[i] = durAlphabet[rng.IntN(len(durAlphabet))]
				if rng.IntN(60) == 0 {
					b[i] = '\n'
				}
			}
			os.WriteFile(path, b, 0o644)
		}},
		{"other-application", "another application", func(path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE customers(id INTEGER); INSERT INTO customers VALUES (1), (2)"); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage-pages", "corrupt", func(path string) {
			b := slices.Clone(realBytes)
			for p := nPages / 2; p < nPages/2+3; p++ {
				for i := p * pageSize; i < (p+1)*pageSize; i++ {
					b[i] = byte(rng.Uint32())
				}
			}
			os.WriteFile(path, b, 0o644)
		}},
		{"truncated", "corrupt", func(path string) {
			os.WriteFile(path, realBytes[:len(realBytes)*3/5+123], 0o644)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "draw.db")
			tc.make(path)
			sum, files := durSHA(t, path), durListDir(t, dir)

			p := durStart(t, bin, "", "-addr", durFreeAddr(t), "-db", path)
			code, ok := p.exit(30 * time.Second)
			if !ok {
				t.Fatalf("the server is still running 30 s after start on %s\nstderr:\n%s", tc.name, p.stderr)
			}
			log := p.stderr.String()
			if code == 0 {
				t.Errorf("exit status 0, want non-zero")
			}
			if !strings.Contains(log, path) || !strings.Contains(log, tc.why) || !strings.Contains(log, "cannot open the database") {
				t.Errorf("stderr should name %s and say %q:\n%s", path, tc.why, log)
			}
			if strings.Contains(log, "listening") {
				t.Errorf("the server started listening on a file it refuses")
			}
			if got := durSHA(t, path); got != sum {
				t.Errorf("the file changed: sha256 %s before, %s after", sum, got)
			}
			if got := durListDir(t, dir); !slices.Equal(got, files) {
				t.Errorf("the directory held %v before, %v after", files, got)
			}
			var msg string
			if lines := durLogLines(log, func(level, _, _ string) bool { return level == "ERROR" }); len(lines) > 0 {
				msg = lines[0]
			}
			t.Logf("exit %d: %s", code, msg)
		})
	}
}

// ---------------------------------------------------------------------------
// 5. -db :memory:

// TestDurabilityMemoryOnly: -db :memory: writes no file and says so.
func TestDurabilityMemoryOnly(t *testing.T) {
	bin := durBuild(t)
	dir := t.TempDir()
	addr := durFreeAddr(t)
	p := durStart(t, bin, dir, "-addr", addr, "-db", ":memory:")
	p.addr = addr
	p.waitReady(t)

	secret := "durmem-secret-" + durRandID(rand.New(rand.NewPCG(4, 4)), 16)
	a := durJoin(t, "A", addr, "durmem", secret)
	pen := durPen{rng: rand.New(rand.NewPCG(5, 5)), prefix: "mem_"}
	batch := make([]*durPiece, 10)
	for i := range batch {
		batch[i] = pen.next()
	}
	a.drawAcked(t, batch)
	for _, pc := range batch {
		if a.storedSeq(pc.key()) == 0 {
			t.Errorf("piece %s was not acknowledged in memory", pc.key())
		}
	}
	a.c.Close()
	p.term(t)

	if files := durListDir(t, dir); len(files) != 0 {
		t.Errorf("-db :memory: left files in the working directory: %v", files)
	}
	lines := durLogLines(p.stderr.String(), func(_, msg, _ string) bool { return strings.Contains(msg, "memory only") })
	if len(lines) != 1 {
		t.Errorf("want one log line saying boards are kept in memory only, got %d:\n%s", len(lines), p.stderr)
	} else {
		t.Logf("%s", lines[0])
	}
}
