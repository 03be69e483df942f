package main

// Several nodes on Redis (README "Several nodes"): real binaries in empty
// working directories, a real redis-server, the official client, HAProxy.
// Helpers and tests here start with clu.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
