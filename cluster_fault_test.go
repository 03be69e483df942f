package main

// Faults under a cluster (README "Several nodes"; BOARD-STATE-NOTES.md
// "Several nodes"): Redis killed, Redis hung, a node killed. Real binaries,
// a real redis-server, the official client where the wire contract is
// observed (e2e/cluster/moves.js, nodekill.js), HAProxy in front of the
// nodes. Helpers here start with cluf.
//
// Every wait is bounded; assertions are about counts and contents. Times are
// only used to sort arrivals into one-second windows of the outage.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clufScript is a running e2e script that talks over stdin and stdout, one
// JSON object a line.
type clufScript struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte
	stderr *durLogBuf
}

func clufRun(t testing.TB, script string, spec any) *clufScript {
	t.Helper()
	if _, err := os.Stat("node_modules/socket.io-client"); err != nil {
		t.Fatalf("node_modules is missing: run `npm ci` (the README's test command does)")
	}
	b, _ := json.Marshal(spec)
	s := &clufScript{t: t, name: script, cmd: exec.Command("node", script, string(b)), lines: make(chan []byte, 16), stderr: &durLogBuf{}}
	s.cmd.Stderr = s.stderr
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			s.lines <- append([]byte(nil), sc.Bytes()...)
		}
	}()
	go func() { s.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-done
	})
	return s
}

// next decodes the script's next line into v, waiting up to d.
func (s *clufScript) next(d time.Duration, v any) {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			s.t.Fatalf("node %s ended without answering\nstderr:\n%s", s.name, s.stderr)
		}
		if err := json.Unmarshal(line, v); err != nil {
			s.t.Fatalf("node %s: %v\n%s", s.name, err, line)
		}
	case <-time.After(d):
		s.t.Fatalf("node %s: no answer within %v\nstderr:\n%s", s.name, d, s.stderr)
	}
}

func (s *clufScript) say(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatalf("node %s: %v", s.name, err)
	}
}

// clufCPU is the CPU time (user + system) a process has used, from /proc.
func clufCPU(t testing.TB, p *durProc) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): state is 3rd,
	// utime 14th, stime 15th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// clufHealth is what /healthz says, trimmed.
func clufHealth(t testing.TB, p *durProc) string {
	t.Helper()
	_, body, _ := durMustGet(t, "http://"+p.addr+"/healthz")
	return strings.TrimSpace(string(body))
}

// clufWaitHealth waits (up to d) until every node's /healthz starts with want.
func clufWaitHealth(t testing.TB, nodes []*durProc, want string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		var bad []string
		for i, n := range nodes {
			if h := clufHealth(t, n); !strings.HasPrefix(h, want) {
				bad = append(bad, fmt.Sprintf("node %d: %q", i, h))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz does not say %q within %v: %s", want, d, strings.Join(bad, "; "))
		}
	}
}

// clufMetricSum adds up every series of a metric (all its labels).
func clufMetricSum(t testing.TB, addr, name string) float64 {
	t.Helper()
	_, body, _ := durMustGet(t, "http://"+addr+"/metrics")
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric %q: %v", line, err)
		}
		sum += f
	}
	return sum
}

// clufLogCount counts a node's log lines whose message starts with prefix.
func clufLogCount(p *durProc, prefix string) int {
	return len(durLogLines(p.stderr.String(), func(_, msg, _ string) bool { return strings.HasPrefix(msg, prefix) }))
}

// clufMoves is what e2e/cluster/moves.js reports.
type clufMoves struct {
	Clients []struct {
		Node   int       `json:"node"`
		ID     string    `json:"id"`
		Sender bool      `json:"sender"`
		Sent   []int64   `json:"sent"`   // when each move was sent, ms
		Moving [][3]any  `json:"moving"` // sender id, n, when received (ms)
		parsed []clufArr // Moving, decoded
	} `json:"clients"`
}

type clufArr struct {
	from string
	n    int
	at   int64
}

// clufMovesStart runs moves.js on the nodes: per node two senders (a move
// every 50 ms) and a receiver, and waits until they all know each other.
func clufMovesStart(t testing.TB, nodes []*durProc, board string) *clufScript {
	t.Helper()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, "http://"+n.addr)
	}
	s := clufRun(t, "e2e/cluster/moves.js", map[string]any{"urls": urls, "board": board, "senders": 2, "receivers": 1, "every": 50})
	var ready struct{ Ready bool }
	s.next(30*time.Second, &ready)
	return s
}

func clufMovesStop(t testing.TB, s *clufScript) *clufMoves {
	t.Helper()
	s.say("stop")
	var res clufMoves
	s.next(30*time.Second, &res)
	for i := range res.Clients {
		c := &res.Clients[i]
		for _, m := range c.Moving {
			id, _ := m[0].(string)
			n, _ := m[1].(float64)
			at, _ := m[2].(float64)
			c.parsed = append(c.parsed, clufArr{id, int(n), int64(at)})
		}
	}
	return &res
}

// clufCheckMoves judges moves.js's report:
//   - no move arrives twice anywhere;
//   - in every second of [from, to), each receiver gets at least half of
//     the moves its own node's senders sent in that second (same-node
//     delivery does not wait for Redis);
//   - in [resumed, end), each receiver gets moves from every sender of the
//     other nodes again.
func clufCheckMoves(t *testing.T, res *clufMoves, from, to, resumed, end time.Time) {
	t.Helper()
	r := durReport{t: t}
	defer r.done()
	nodeOf := map[string]int{}
	sent := map[int][]int64{} // node → send times of its senders
	for _, c := range res.Clients {
		nodeOf[c.ID] = c.Node
		if c.Sender {
			sent[c.Node] = append(sent[c.Node], c.Sent...)
		}
	}
	dup := 0
	for _, c := range res.Clients {
		seen := map[string]bool{}
		for _, a := range c.parsed {
			k := a.from + "/" + strconv.Itoa(a.n)
			if seen[k] {
				dup++
				r.errorf("dup", "client %s on node %d got move %d of %s (node %d) twice", c.ID, c.Node, a.n, a.from, nodeOf[a.from])
			}
			seen[k] = true
		}
	}
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	for _, c := range res.Clients {
		if c.Sender {
			continue
		}
		for w := from; w.Add(time.Second).Compare(to) <= 0; w = w.Add(time.Second) {
			lo, hi := ms(w), ms(w.Add(time.Second))
			got, want := 0, 0
			for _, a := range c.parsed {
				if nodeOf[a.from] == c.Node && a.at >= lo && a.at < hi {
					got++
				}
			}
			for _, s := range sent[c.Node] {
				if s >= lo && s < hi {
					want++
				}
			}
			if got == 0 || 2*got < want {
				r.errorf("local", "receiver on node %d got %d of the %d moves its node's senders sent in second %d of the outage: same-node delivery stalled",
					c.Node, got, want, w.Sub(from)/time.Second)
			}
		}
		for _, s := range res.Clients {
			if !s.Sender || s.Node == c.Node {
				continue
			}
			n := 0
			for _, a := range c.parsed {
				if a.from == s.ID && a.at >= ms(resumed) && a.at < ms(end) {
					n++
				}
			}
			if n == 0 {
				r.errorf("cross", "receiver on node %d got no move from sender %s on node %d after Redis came back", c.Node, s.ID, s.Node)
			}
		}
	}
	if dup == 0 {
		t.Logf("no move delivered twice among %d clients", len(res.Clients))
	}
}

// clufFirstCross is when the first move crossed nodes after t0 (for the log).
func clufFirstCross(res *clufMoves, t0 time.Time) time.Duration {
	nodeOf := map[string]int{}
	for _, c := range res.Clients {
		nodeOf[c.ID] = c.Node
	}
	first := int64(-1)
	for _, c := range res.Clients {
		for _, a := range c.parsed {
			if nodeOf[a.from] != c.Node && a.at >= t0.UnixMilli() && (first < 0 || a.at < first) {
				first = a.at
			}
		}
	}
	if first < 0 {
		return -1
	}
	return time.UnixMilli(first).Sub(t0)
}

// clufDrawer is a page drawing on one node (durDrawer), with a synced peer
// on the same board that only watches.
func clufDrawer(t testing.TB, name string, node *durProc, board string, seed uint64, i int) *durDrawer {
	secret := fmt.Sprintf("clufault-secret-%s-%d", name, seed%1000000)
	return &durDrawer{
		name: name, secret: secret, author: durAuthorID(secret), board: board, addr: node.addr,
		ledger: &durLedger{seqs: make(map[int64]string)}, byKey: make(map[string]*durPiece),
		pen: durPen{rng: rand.New(rand.NewPCG(seed, uint64(i+1))), prefix: name + "_"},
	}
}

// TestClusterFaultRedisKilled: two nodes on a Redis that keeps its data
// (AOF, fsync always); clients move cursors on both nodes and pages draw
// pieces. Redis is killed for 5 s and restarted:
//   - same-node delivery goes on every second of the outage;
//   - the nodes do not spin (CPU < 0.3 s per node over the 5 s), their
//     subscribers report few errors, the log says "redis unreachable" once;
//   - /healthz says degraded during the outage and ok after;
//   - moves cross nodes again after the restart, no move arrives twice;
//   - every piece acknowledged on one node reaches the synced page on the
//     other, with its seq, including what was drawn during the outage (sent
//     again until stored); history.ndjson holds each piece once, seqs 1..N.
func TestClusterFaultRedisKilled(t *testing.T) {
	const board, outage = "fault-killed", 5 * time.Second
	rs, nodes, _ := cluCluster(t, 2, "--appendonly", "yes", "--appendfsync", "always")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	moves := clufMovesStart(t, nodes, board)
	ds := []*durDrawer{clufDrawer(t, "dA", nodes[0], board, seed, 0), clufDrawer(t, "dB", nodes[1], board, seed, 1)}
	watchers := []*durPeer{
		durJoin(t, "wA", nodes[0].addr, board, fmt.Sprintf("clufault-watch-A-%d", seed%1000000)),
		durJoin(t, "wB", nodes[1].addr, board, fmt.Sprintf("clufault-watch-B-%d", seed%1000000)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Add(1)
		go func() { defer wg.Done(); d.run(ctx) }()
	}
	stopDrawers := sync.OnceFunc(func() { cancel(); wg.Wait() })
	defer stopDrawers()
	time.Sleep(time.Second) // drawing and moving across nodes

	cpu0 := []time.Duration{clufCPU(t, nodes[0]), clufCPU(t, nodes[1])}
	subErr0 := []float64{clufMetricSum(t, nodes[0].addr, "draw_cluster_subscribe_errors_total"), clufMetricSum(t, nodes[1].addr, "draw_cluster_subscribe_errors_total")}
	killed := time.Now()
	rs.Kill()
	time.Sleep(outage / 2)
	for i, n := range nodes {
		if h := clufHealth(t, n); !strings.HasPrefix(h, "degraded:") {
			t.Errorf("node %d: /healthz during the outage says %q, want degraded: …", i, h)
		}
	}
	time.Sleep(outage - time.Since(killed))
	restarted := time.Now()
	for i, n := range nodes {
		cpu := clufCPU(t, n) - cpu0[i]
		subErrs := clufMetricSum(t, n.addr, "draw_cluster_subscribe_errors_total") - subErr0[i]
		t.Logf("node %d during the %v outage: %v CPU, %.0f subscriber errors", i, outage, cpu, subErrs)
		if cpu > 300*time.Millisecond {
			t.Errorf("node %d used %v of CPU during the %v outage, want < 300ms: it spins", i, cpu, outage)
		}
		// Two subscriber loops, one error per 200 ms pause each: ~50.
		if subErrs < 1 || subErrs > 200 {
			t.Errorf("node %d: draw_cluster_subscribe_errors_total rose by %.0f during the outage, want 1..200", i, subErrs)
		}
	}
	rs.Restart()
	clufWaitHealth(t, nodes, "ok", 15*time.Second)
	t.Logf("/healthz ok on both nodes %v after the restart", time.Since(restarted).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	resumed := time.Now()
	time.Sleep(time.Second)
	end := time.Now()
	res := clufMovesStop(t, moves)
	t.Logf("first move across nodes %v after the restart", clufFirstCross(res, restarted).Round(time.Millisecond))
	clufCheckMoves(t, res, killed, restarted, resumed, end)

	for i, n := range nodes {
		if e := clufMetricSum(t, n.addr, "draw_cluster_errors_total"); e < 1 {
			t.Errorf("node %d: draw_cluster_errors_total is %v after the outage, want it counted", i, e)
		}
		if k := clufLogCount(n, "redis unreachable"); k != 1 {
			t.Errorf("node %d logged \"redis unreachable\" %d times for one outage, want once", i, k)
		}
		if k := clufLogCount(n, "redis reachable again"); k != 1 {
			t.Errorf("node %d logged \"redis reachable again\" %d times, want once", i, k)
		}
	}

	// Pieces: the drawers finish re-sending; each watcher has every piece
	// the other node's drawer had acknowledged, with its seq.
	for _, d := range ds {
		d.draining.Store(true)
	}
	for deadline := time.Now().Add(30 * time.Second); !ds[0].settled.Load() || !ds[1].settled.Load(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			stopDrawers()
			t.Fatalf("the drawers did not get every piece acknowledged within 30 s of the restart (%d, %d unacknowledged)", ds[0].unacked, ds[1].unacked)
		}
	}
	stopDrawers()
	r := durReport{t: t}
	defer r.done()
	drawn, during := 0, 0
	for i, d := range ds {
		for _, p := range d.problems {
			if !strings.HasPrefix(p, "storage ") { // saving stops while Redis is down: expected
				t.Errorf("%s: %s", d.name, p)
			}
		}
		if len(d.rejected) > 0 {
			t.Errorf("%s: %d rejected, e.g. %s", d.name, len(d.rejected), d.rejected[0])
		}
		w := watchers[1-i]
		ok := w.waitFor(10*time.Second, func() bool {
			for _, pc := range d.pieces {
				if w.storedSeqLocked(pc.key()) != pc.seq {
					return false
				}
			}
			return true
		})
		for _, pc := range d.pieces {
			drawn++
			if pc.sends > 1 {
				during++
			}
			if !ok && w.storedSeq(pc.key()) != pc.seq {
				r.errorf("missing", "%s's piece %s (seq %d, drawn on node %d) reached the synced page on the other node as seqs %v",
					d.name, pc.key(), pc.seq, i, w.seqsOf(pc.key()))
			}
		}
	}
	for i, n := range nodes {
		hist := durMustHistory(t, n.addr, board)
		stored := durCheckContiguous(t, fmt.Sprintf("node %d: history.ndjson", i), hist)
		if len(hist) != drawn {
			t.Errorf("node %d: history.ndjson has %d ops, the pages drew %d pieces", i, len(hist), drawn)
		}
		for _, d := range ds {
			for _, pc := range d.pieces {
				if op, ok := stored[pc.key()]; !ok || op.Seq != pc.seq || !pc.sameAs(op, d.author) {
					r.errorf("history", "node %d: piece %s acknowledged with seq %d is stored as %+v", i, pc.key(), pc.seq, op)
				}
			}
		}
	}
	if during == 0 {
		t.Errorf("no piece had to be sent again: the outage did not stop saving")
	}
	t.Logf("%d pieces drawn, %d of them sent more than once (not saved during the outage); every one stored once", drawn, during)
}

// TestClusterFaultRedisPaused: Redis is paused (SIGSTOP) for 5 s under
// cursor moves on two nodes: same-node delivery goes on every second, no
// move arrives twice after SIGCONT (a publish retried after its timeout
// would), and moves cross nodes again.
func TestClusterFaultRedisPaused(t *testing.T) {
	const board, outage = "fault-paused", 5 * time.Second
	rs, nodes, _ := cluCluster(t, 2)
	moves := clufMovesStart(t, nodes, board)
	time.Sleep(time.Second)

	paused := time.Now()
	rs.Pause()
	time.Sleep(outage / 2)
	for i, n := range nodes {
		if h := clufHealth(t, n); !strings.HasPrefix(h, "degraded:") {
			t.Errorf("node %d: /healthz with Redis paused says %q, want degraded: …", i, h)
		}
	}
	time.Sleep(outage - time.Since(paused))
	resumedAt := time.Now()
	rs.Resume()
	clufWaitHealth(t, nodes, "ok", 15*time.Second)
	time.Sleep(2 * time.Second)
	resumed := time.Now()
	time.Sleep(time.Second)
	end := time.Now()
	res := clufMovesStop(t, moves)
	t.Logf("first move across nodes %v after SIGCONT", clufFirstCross(res, resumedAt).Round(time.Millisecond))
	clufCheckMoves(t, res, paused, resumedAt, resumed, end)
	for i, n := range nodes {
		t.Logf("node %d: %.0f batches published, %.0f cluster errors", i,
			clufMetricSum(t, n.addr, "draw_cluster_batches_published_total"), clufMetricSum(t, n.addr, "draw_cluster_errors_total"))
	}
}

// clufKill is what e2e/cluster/nodekill.js reports of each client.
type clufKill struct {
	K           int             `json:"k"`
	IDs         []string        `json:"ids"`
	Drops       int             `json:"drops"`
	History     json.RawMessage `json:"history"`
	Disconnects []string        `json:"disconnects"`
	After       []int64         `json:"after"` // ms from the kill to each clientdisconnect
}

// TestClusterFaultNodeKilled: two nodes behind HAProxy, a board drawn on
// both; one node is killed with SIGKILL. Its clients reconnect through
// HAProxy to the survivor and see the whole board; the survivor's clients
// hear that each of the dead node's clients left, exactly once, as soon as
// the cluster gives the node up.
func TestClusterFaultNodeKilled(t *testing.T) {
	const board = "fault-node"
	_, nodes, _ := cluCluster(t, 2)
	rr, _ := cluHAProxy(t, nodes)
	rrAddr := strings.TrimPrefix(rr, "http://")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	// History on both nodes, every piece acknowledged with its seq.
	secrets := []string{fmt.Sprintf("clufault-node-A-%d", seed%1000000), fmt.Sprintf("clufault-node-B-%d", seed%1000000)}
	acked := map[string]int64{}
	for i, n := range nodes {
		p := durJoin(t, fmt.Sprintf("p%d", i), n.addr, board, secrets[i])
		pen := durPen{rng: rand.New(rand.NewPCG(seed, uint64(i+1))), prefix: fmt.Sprintf("n%d_", i)}
		for range 3 {
			var pieces []*durPiece
			for range 10 {
				pieces = append(pieces, pen.next())
			}
			p.drawAcked(t, pieces)
			for _, pc := range pieces {
				if acked[pc.key()] = p.storedSeq(pc.key()); acked[pc.key()] == 0 {
					t.Fatalf("piece %s drawn on node %d was shown unsaved", pc.key(), i)
				}
			}
		}
	}

	script := clufRun(t, "e2e/cluster/nodekill.js", map[string]any{"url": rr, "board": board, "clients": 6})
	var ready struct{ Ready bool }
	script.next(30*time.Second, &ready)
	nodes[0].kill9(t)
	script.say("killed")

	// A page that was on the dead node comes back through HAProxy and
	// reads the board.
	back := durJoin(t, "back", rrAddr, board, secrets[0])
	backHist := durMustHistory(t, rrAddr, board)
	var res []clufKill
	script.next(60*time.Second, &res)
	var synced struct{ Head int64 }
	back.mu.Lock()
	json.Unmarshal(back.synced[0], &synced)
	back.mu.Unlock()
	if synced.Head != int64(len(acked)) {
		t.Errorf("a page back through HAProxy was told the board's head is %d, want %d", synced.Head, len(acked))
	}

	survivor := durMustHistory(t, nodes[1].addr, board)
	durCheckContiguous(t, "survivor's history.ndjson", survivor)
	for what, hist := range map[string][]durOp{"the survivor's history.ndjson": survivor, "history.ndjson read through HAProxy after a reconnect": backHist} {
		have := map[string]int64{}
		for _, op := range hist {
			have[op.key()] = op.Seq
		}
		for k, seq := range acked {
			if have[k] != seq {
				t.Errorf("%s: piece %s acknowledged with seq %d is there as seq %d", what, k, seq, have[k])
			}
		}
		if len(hist) != len(acked) {
			t.Errorf("%s has %d ops, %d were acknowledged", what, len(hist), len(acked))
		}
	}

	var dropped, stayed []clufKill
	for _, c := range res {
		if c.Drops > 0 {
			dropped = append(dropped, c)
		} else {
			stayed = append(stayed, c)
		}
	}
	if len(dropped) == 0 || len(stayed) == 0 {
		t.Fatalf("HAProxy did not spread the clients over both nodes: %d dropped, %d stayed", len(dropped), len(stayed))
	}
	want := make([]int64, len(survivor))
	for i := range want {
		want[i] = int64(i + 1)
	}
	for _, c := range dropped {
		var seqs []int64
		if len(c.IDs) < 2 || json.Unmarshal(c.History, &seqs) != nil || !slices.Equal(seqs, want) {
			t.Errorf("client %d was on the killed node: after its reconnect (ids %v) it read history seqs %s, want 1..%d", c.K, c.IDs, c.History, len(want))
		}
	}
	slowest := int64(0)
	for _, s := range stayed {
		for _, ms := range s.After {
			slowest = max(slowest, ms)
		}
		for _, d := range dropped {
			if n := slices.Index(s.Disconnects, d.IDs[0]); n < 0 || slices.Index(s.Disconnects[n+1:], d.IDs[0]) >= 0 {
				t.Errorf("client %d on the survivor: clientdisconnect for %s (on the killed node) came %d times, want once (got %v)",
					s.K, d.IDs[0], strings.Count(strings.Join(s.Disconnects, " "), d.IDs[0]), s.Disconnects)
			}
		}
	}
	if n := clufLogCount(nodes[1], "a node left the cluster"); n != 1 {
		t.Errorf("the survivor logged %d times that a node left, want once", n)
	}
	t.Logf("%d clients were on the killed node, %d on the survivor (told of the leaves within %v); %d ops on the board",
		len(dropped), len(stayed), time.Duration(slowest)*time.Millisecond, len(survivor))
}
