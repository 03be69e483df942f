package main

// Several nodes on Redis (README "Several nodes"): real binaries in empty
// working directories, a real redis-server, the official client, HAProxy.
// Helpers and tests here start with clu.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/drawing/draw/internal/testredis"
)

// cluNode starts one node of a cluster on Redis at redisURL, in an empty
// directory, with nothing else configured, and waits until it is ready.
func cluNode(t testing.TB, bin, redisURL string, extra ...string) *durProc {
	t.Helper()
	addr := durFreeAddr(t)
	p := durStart(t, bin, t.TempDir(), append([]string{"-addr", addr, "-redis", redisURL}, extra...)...)
	p.addr = addr
	p.waitReady(t)
	return p
}

// cluCluster is a redis-server and n nodes on it.
func cluCluster(t testing.TB, n int, redisArgs ...string) (*testredis.Server, []*durProc, string) {
	t.Helper()
	rs := testredis.Start(t, redisArgs...)
	bin := durBuild(t)
	var nodes []*durProc
	for range n {
		nodes = append(nodes, cluNode(t, bin, rs.URL()))
	}
	return rs, nodes, bin
}

type cluRelayClient struct {
	K           int              `json:"k"`
	URL         string           `json:"url"`
	Transport   string           `json:"transport"`
	Moving      [][4]any         `json:"moving"`
	Disconnects []string         `json:"disconnects"`
	Presence    []map[string]any `json:"presence"`
	Events      []string         `json:"events"` // every event name it got
}

type cluRelayResult struct {
	IDs      []string         `json:"ids"`
	Senders  []int            `json:"senders"`
	Leaver   string           `json:"leaver"`
	Clients  []cluRelayClient `json:"clients"`
	Outsider []string         `json:"outsider"`
}

// cluRelay runs e2e/cluster/relay.js and checks the wire contract across
// nodes: every move reaches every other member exactly once and in order,
// never another board; presence counts everyone; a leave is announced.
func cluRelay(t *testing.T, urls []string, transports [][]string, clients, senders, moves int, cookies ...bool) cluRelayResult {
	t.Helper()
	spec, _ := json.Marshal(map[string]any{"urls": urls, "board": "cluster", "other": "elsewhere",
		"transports": transports, "clients": clients, "senders": senders, "moves": moves, "cookies": len(cookies) > 0 && cookies[0]})
	out := runNode(t, 90*time.Second, "e2e/cluster/relay.js", string(spec))
	var res cluRelayResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("relay.js output: %v\n%s", err, out)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(res.IDs)))) != clients {
		t.Errorf("socket ids are not unique across nodes: %v", res.IDs)
	}
	leaverK := res.Senders[len(res.Senders)-1]
	for _, c := range res.Clients {
		// From each sender: moves 0..moves-1, once each, in order.
		from := map[string][]int{}
		for _, m := range c.Moving {
			id, _ := m[0].(string)
			x, _ := m[1].(float64)
			from[id] = append(from[id], int(x))
		}
		for _, k := range res.Senders {
			if k == c.K {
				if len(from[res.IDs[k]]) > 0 {
					t.Errorf("client %d (%s) got its own moves back", c.K, c.URL)
				}
				continue
			}
			got := from[res.IDs[k]]
			want := make([]int, moves)
			for i := range want {
				want[i] = i
			}
			if !slices.Equal(got, want) {
				t.Errorf("client %d on %s (%s) got sender %d's moves %s, want 0..%d once each in order",
					c.K, c.URL, c.Transport, k, cluShort(got), moves-1)
			}
		}
		// The seed contract, exactly: a client that never said hello gets
		// moving and clientdisconnect, nothing else, from any node.
		if len(c.Presence) == 0 {
			for _, e := range c.Events {
				if e != "moving" && e != "clientdisconnect" {
					t.Errorf("client %d on %s got %q: a classic client must see only the seed contract", c.K, c.URL, e)
				}
			}
		}
		if c.K != leaverK {
			n := strings.Count(strings.Join(c.Disconnects, " "), res.Leaver)
			if n != 1 {
				t.Errorf("client %d on %s got clientdisconnect for the leaver %d times, want 1 (%v)", c.K, c.URL, n, c.Disconnects)
			}
		}
	}
	for _, e := range res.Outsider {
		if e == "moving" || e == "clientdisconnect" {
			t.Errorf("a client on another board got %q: boards are not isolated across nodes", e)
			break
		}
	}
	return res
}

func cluShort(xs []int) string {
	if len(xs) <= 12 {
		return fmt.Sprint(xs)
	}
	return fmt.Sprintf("%v … %v (%d)", xs[:6], xs[len(xs)-6:], len(xs))
}

// TestClusterRelay: two nodes, clients split over them on websocket and
// polling: the seed contract holds across nodes.
func TestClusterRelay(t *testing.T) {
	_, nodes, _ := cluCluster(t, 2)
	urls := []string{"http://" + nodes[0].addr, "http://" + nodes[1].addr}
	res := cluRelay(t, urls, [][]string{{"websocket"}, {"websocket"}, {"polling"}, {"polling"}}, 8, 4, 50)
	// presence: the asker (on the second node) counts the 7 others.
	for _, c := range res.Clients {
		for _, p := range c.Presence {
			if n, _ := p["count"].(float64); int(n) != 7 {
				t.Errorf("presence on %s counts %v others, want 7 (on both nodes)", c.URL, p["count"])
			}
		}
	}
}

// cluHAProxy runs HAProxy in front of nodes with two frontends: one that
// balances every connection round-robin (websocket-only clients need
// nothing more) and one that pins a client to a node with a cookie
// (long-polling needs it: its requests must all reach the node that holds
// its session). It returns both URLs.
func cluHAProxy(t testing.TB, nodes []*durProc) (roundRobin, sticky string) {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatal("haproxy not found: run `make deps` (scripts/deps.sh installs it)")
	}
	rr, st := durFreeAddr(t), durFreeAddr(t)
	var servers, cookieServers strings.Builder
	for i, n := range nodes {
		fmt.Fprintf(&servers, "  server n%d %s check inter 500ms fall 2 rise 1\n", i, n.addr)
		fmt.Fprintf(&cookieServers, "  server n%d %s cookie n%d check inter 500ms fall 2 rise 1\n", i, n.addr, i)
	}
	cfg := fmt.Sprintf(cluHAProxyConfig, rr, st, servers.String(), cookieServers.String())
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy config: %v\n%s", err, out)
	}
	p := durStart(t, bin, "", "-db", "-f", path)
	for _, a := range []string{rr, st} {
		p.addr = a
		p.waitReady(t)
	}
	return "http://" + rr, "http://" + st
}

// cluHAProxyConfig is the README's example, with test ports.
const cluHAProxyConfig = `global
  maxconn 8000
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
  option redispatch
  retries 2
frontend any_node
  bind %s
  default_backend round_robin
frontend same_node
  bind %s
  default_backend sticky
backend round_robin
  balance roundrobin
  option httpchk GET /healthz
%sbackend sticky
  balance roundrobin
  option httpchk GET /healthz
  cookie DRAWNODE insert indirect nocache
%s`

// TestClusterHAProxy: behind HAProxy, websocket-only clients on the
// round-robin frontend and long-polling clients on the sticky one, spread
// over two nodes: the seed contract holds.
func TestClusterHAProxy(t *testing.T) {
	_, nodes, _ := cluCluster(t, 2)
	rr, sticky := cluHAProxy(t, nodes)
	// Both nodes must have had senders, or nothing crossed.
	const moves = `draw_events_received_total{event="mousemove"}`
	spread := func(t *testing.T, before []float64) {
		for i, n := range nodes {
			if got := durMetric(t, n.addr, moves); got-max(before[i], 0) <= 0 {
				t.Errorf("node %d received no moves: the load balancer did not spread the clients", i)
			}
		}
	}
	counts := func() []float64 {
		return []float64{durMetric(t, nodes[0].addr, moves), durMetric(t, nodes[1].addr, moves)}
	}
	t.Run("websocket/round-robin", func(t *testing.T) {
		before := counts()
		cluRelay(t, []string{rr}, [][]string{{"websocket"}}, 6, 4, 30)
		spread(t, before)
	})
	t.Run("polling/sticky", func(t *testing.T) {
		before := counts()
		cluRelay(t, []string{sticky}, [][]string{{"polling"}, {"polling", "websocket"}}, 6, 4, 30, true)
		spread(t, before)
	})
}

// cluOps lists every ops entry a peer received, in arrival order.
func cluOps(p *durPeer) []durOp {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []durOp
	for _, m := range p.events {
		if m.Event == "ops" {
			var ops []durOp
			json.Unmarshal(m.Data, &ops)
			out = append(out, ops...)
		}
	}
	return out
}

// TestClusterBoard: the board's log across two nodes. Pages on different
// nodes draw on one board at the same time; every node numbers the ops the
// same way (one gapless log, each piece once), every page gets every op
// live, an author's undo works from the other node, a clear from one node
// reaches the other, and both nodes serve the same history.
func TestClusterBoard(t *testing.T) {
	_, nodes, _ := cluCluster(t, 2)
	const board = "shared"
	a := durJoin(t, "a", nodes[0].addr, board, "secret-of-author-a-0001")
	b := durJoin(t, "b", nodes[1].addr, board, "secret-of-author-b-0001")
	watcher := durJoin(t, "watcher", nodes[1].addr, board, "secret-of-a-watcher-001")

	// Both draw at once, in several events each: their commits race for the
	// same seqs in Redis, and the loser reads and numbers again.
	penA := &durPen{rng: rand.New(rand.NewPCG(1, 2)), prefix: "a"}
	penB := &durPen{rng: rand.New(rand.NewPCG(3, 4)), prefix: "b"}
	var piecesA, piecesB []*durPiece
	var wg sync.WaitGroup
	for _, side := range []struct {
		p      *durPeer
		pen    *durPen
		pieces *[]*durPiece
	}{{a, penA, &piecesA}, {b, penB, &piecesB}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				batch := []*durPiece{side.pen.next(), side.pen.next(), side.pen.next()}
				*side.pieces = append(*side.pieces, batch...)
				side.p.emit(t, "draw", batch)
			}
		}()
	}
	wg.Wait()
	all := append(slices.Clone(piecesA), piecesB...)
	everyone := []*durPeer{a, b, watcher}
	for _, p := range everyone {
		ok := p.waitFor(15*time.Second, func() bool {
			for _, pc := range all {
				if p.storedSeqLocked(pc.key()) == 0 {
					return false
				}
			}
			return true
		})
		if !ok {
			missing := 0
			for _, pc := range all {
				if p.storedSeq(pc.key()) == 0 {
					missing++
				}
			}
			h := durMustHistory(t, nodes[0].addr, board)
			t.Fatalf("%s did not get every stored piece within 15 s: %d of %d missing, history has %d (rejected: %v)\nA: %s\nB: %s", p.name, missing, len(all), len(h), p.rejected, nodes[0].stderr, nodes[1].stderr)
		}
	}
	// One log: the same seq for each piece everywhere, 1..N without gaps.
	histA, histB := durMustHistory(t, nodes[0].addr, board), durMustHistory(t, nodes[1].addr, board)
	byKey := durCheckContiguous(t, "history", histA)
	if len(histA) != len(all) || !slices.EqualFunc(histA, histB, func(x, y durOp) bool { return x.Seq == y.Seq && x.key() == y.key() }) {
		t.Fatalf("the nodes serve different histories (%d and %d ops, %d drawn)", len(histA), len(histB), len(all))
	}
	for _, p := range everyone {
		for _, pc := range all {
			if got := p.storedSeq(pc.key()); got != byKey[pc.key()].Seq {
				t.Errorf("%s saw piece %s stored as seq %d, history says %d", p.name, pc.key(), got, byKey[pc.key()].Seq)
			}
		}
	}
	// Pages see seqs in order: a page on either node heals gaps by seq, so
	// what arrives live must never go backwards.
	for _, p := range everyone {
		var last int64
		for _, op := range cluOps(p) {
			if op.Seq > 0 && op.Seq <= last {
				t.Errorf("%s got seq %d after %d: live ops out of order", p.name, op.Seq, last)
				break
			}
			last = max(last, op.Seq)
		}
	}

	// The author of a's strokes undoes one from the other node.
	a2 := durJoin(t, "a-on-b", nodes[1].addr, board, "secret-of-author-a-0001")
	target := piecesA[0].Stroke
	a2.emit(t, "undo", map[string]any{"stroke": target})
	b.emit(t, "undo", map[string]any{"stroke": piecesA[3].Stroke}) // not b's: refused
	undone := func(p *durPeer) bool {
		for _, op := range cluOps(p) {
			if op.Type == "undo" && op.Stroke == target && op.Seq > 0 {
				return true
			}
		}
		return false
	}
	for _, p := range everyone {
		if !waitUntil(10*time.Second, func() bool { return undone(p) }) {
			t.Errorf("%s never got the undo of %s made on the other node", p.name, target)
		}
	}
	if !b.waitFor(10*time.Second, func() bool { return len(b.rejected) > 0 }) {
		t.Error("b's undo of a's stroke was not refused")
	}

	// A clear from node B reaches node A's page; history agrees.
	b.emit(t, "clear", map[string]any{"stroke": "clear-from-b-1"})
	cleared := func(p *durPeer) bool {
		for _, op := range cluOps(p) {
			if op.Type == "clear" && op.Stroke == "clear-from-b-1" && op.Seq > 0 {
				return true
			}
		}
		return false
	}
	if !waitUntil(10*time.Second, func() bool { return cleared(a) }) {
		t.Fatal("a (node A) never got the clear made on node B")
	}
	histA, histB = durMustHistory(t, nodes[0].addr, board), durMustHistory(t, nodes[1].addr, board)
	if last := histA[len(histA)-1]; last.Type != "clear" || len(histA) != len(histB) {
		t.Errorf("after the clear: node A's history ends with %q (%d ops), node B's has %d ops", last.Type, len(histA), len(histB))
	}
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterBrowser: Chromium pages on two nodes of one board: one draws,
// one watches live, one opens late; all show the same pixels, and the
// watcher sees the drawer's pointer (a cross-node moving).
func TestClusterBrowser(t *testing.T) {
	needBrowser(t)
	_, nodes, _ := cluCluster(t, 2)
	var r struct {
		pageErrors
		Head        int              `json:"head"`
		PointersOnB int              `json:"pointersOnB"`
		InkA        int              `json:"inkA"`
		DiffLive    browserPixelDiff `json:"diffLive"`
		DiffLate    browserPixelDiff `json:"diffLate"`
	}
	out := runNode(t, browserScriptTimeout, "e2e/browser/cluster.mjs", "http://"+nodes[0].addr, "http://"+nodes[1].addr)
	decodeResult(t, "cluster.mjs", out, &r)
	r.check(t)
	if r.InkA < 10000 || r.Head < 2 {
		t.Fatalf("the drawing page on node A shows %d ink pixels and %d ops; want two strokes", r.InkA, r.Head)
	}
	if r.PointersOnB < 1 {
		t.Error("the watcher on node B never showed the drawer's pointer: moving did not cross nodes")
	}
	if !r.DiffLive.SameSize || r.DiffLive.Differing != 0 {
		t.Errorf("the watcher on node B differs from the drawer on node A: %+v", r.DiffLive)
	}
	if !r.DiffLate.SameSize || r.DiffLate.Differing != 0 {
		t.Errorf("the late joiner on node B differs from the drawer on node A: %+v", r.DiffLate)
	}
}

// TestClusterRedisFull: Redis out of memory (maxmemory, noeviction) is the
// cluster's full disk. Drawing goes on live, the page is told its strokes
// are not saved and /healthz says so; once Redis has room again, what the
// page sends again is stored, once, and nothing acknowledged is lost.
func TestClusterRedisFull(t *testing.T) {
	rs, nodes, _ := cluCluster(t, 1)
	addr := nodes[0].addr
	rc := goredis.NewClient(&goredis.Options{Addr: rs.Addr()})
	defer rc.Close()
	ctx := context.Background()
	p := durJoin(t, "page", addr, "full", "secret-of-the-full-page1")
	pen := &durPen{rng: rand.New(rand.NewPCG(7, 8)), prefix: "f", points: 40}
	var drawn []*durPiece
	draw := func(n int) {
		batch := make([]*durPiece, n)
		for i := range batch {
			batch[i] = pen.next()
		}
		drawn = append(drawn, batch...)
		p.emit(t, "draw", batch)
	}
	draw(10)
	if !p.waitFor(10*time.Second, func() bool { return p.storedSeqLocked(drawn[9].key()) > 0 }) {
		t.Fatal("nothing stored before Redis filled up")
	}

	// Leave Redis 64 KiB of room, then draw until saving fails.
	info, err := rc.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	var used int64
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			used, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if err := rc.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used+64<<10, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	full := func() bool {
		for _, s := range p.storage {
			if !s.Saving {
				return true
			}
		}
		return false
	}
	for i := 0; i < 400 && !p.waitFor(50*time.Millisecond, full); i++ {
		draw(8)
	}
	if !p.waitFor(5*time.Second, full) {
		t.Fatalf("Redis is full but the page was never told its strokes are not saved (%d pieces drawn)", len(drawn))
	}
	if _, body, _ := durMustGet(t, "http://"+addr+"/healthz"); !strings.Contains(string(body), "degraded") {
		t.Errorf("/healthz while Redis is full: %q, want degraded", body)
	}

	// Room again: the page sends what has no seq yet until all of it does.
	if err := rc.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		var unsaved []*durPiece
		for _, pc := range drawn {
			if p.storedSeq(pc.key()) == 0 {
				unsaved = append(unsaved, pc)
			}
		}
		if len(unsaved) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pieces still not stored 30 s after Redis had room again", len(unsaved), len(drawn))
		}
		for len(unsaved) > 0 {
			n := min(len(unsaved), 64)
			p.emit(t, "draw", unsaved[:n])
			unsaved = unsaved[n:]
		}
		time.Sleep(500 * time.Millisecond)
	}
	hist := durMustHistory(t, addr, "full")
	byKey := durCheckContiguous(t, "history after Redis was full", hist)
	if len(hist) != len(drawn) {
		t.Errorf("history has %d ops for %d pieces drawn: each must be stored exactly once", len(hist), len(drawn))
	}
	for _, pc := range drawn {
		if op, ok := byKey[pc.key()]; !ok || op.Seq != p.storedSeq(pc.key()) {
			t.Errorf("piece %s acknowledged as seq %d, history has %+v", pc.key(), p.storedSeq(pc.key()), op.Seq)
			break
		}
	}
	if _, body, _ := durMustGet(t, "http://"+addr+"/healthz"); strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("/healthz after Redis had room again: %q, want ok", body)
	}
}
