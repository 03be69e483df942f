package loadtest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/drawing/draw/draw"
	redisstore "github.com/drawing/draw/draw/redis"
	"github.com/drawing/draw/internal/testredis"
)

func TestParseURLs(t *testing.T) {
	us, err := parseURLs(" http://127.0.0.1:1/ ,https://localhost:2/app,http://[::1]:3", false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range us {
		got = append(got, u.String())
	}
	want := "http://127.0.0.1:1/socket.io/ https://localhost:2/app/socket.io/ http://[::1]:3/socket.io/"
	if strings.Join(got, " ") != want {
		t.Errorf("parsed %q, want %q", got, want)
	}
	for _, bad := range []string{
		"",
		"http://127.0.0.1:1,",                    // an empty entry
		"http://127.0.0.1:1,http://192.0.2.1:80", // the second is not loopback
		"http://127.0.0.1:1,ftp://127.0.0.1:2",
		"http://127.0.0.1:1,http://127.0.0.1:1/", // the same node twice
	} {
		if _, err := parseURLs(bad, false); err == nil {
			t.Errorf("parseURLs(%q) accepted it", bad)
		}
	}
	if _, err := parseURLs("http://127.0.0.1:1,http://192.0.2.1:80", true); err != nil {
		t.Errorf("-allow-remote: %v", err)
	}
	var out, errOut bytes.Buffer
	if code := Main([]string{"-url", "http://127.0.0.1:1,http://192.0.2.1:80"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "192.0.2.1") {
		t.Errorf("Main with a remote second URL: exit %d, %q", code, errOut.String())
	}
	for _, bad := range []string{"0", "x", "1,1", "1,"} {
		if _, err := parsePIDs("-pid", bad); err == nil {
			t.Errorf("parsePIDs(%q) accepted it", bad)
		}
	}
}

// With two URLs, senders and receivers each split evenly: at 1000 clients
// and 10 senders the senders are clients 0, 100, …, 900, all even, so
// dealing clients by index alone would put every sender on the first node.
func TestURLAssignment(t *testing.T) {
	cfg, err := parseFlags([]string{"-url", "http://127.0.0.1:1,http://127.0.0.1:2", "-clients", "1000", "-senders", "10"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(cfg)
	var senders, receivers [2]int
	for _, c := range r.clients {
		if c.sender >= 0 {
			senders[c.node]++
			if r.senderNode[c.sender] != c.node {
				t.Errorf("sender %d: senderNode %d, client node %d", c.sender, r.senderNode[c.sender], c.node)
			}
		} else {
			receivers[c.node]++
		}
		port := map[int]string{0: ":1/", 1: ":2/"}[c.node]
		if e := r.endpoint(c); !strings.Contains(e, port) {
			t.Errorf("client %d on node %d opens %s", c.idx, c.node, e)
		}
	}
	if senders != [2]int{5, 5} || receivers != [2]int{495, 495} {
		t.Errorf("senders %v, receivers %v per node; want 5/5 and 495/495", senders, receivers)
	}
}

// startClusterNode runs our real server as a node of a cluster on Redis at
// redisURL, as main's joinCluster builds one, on 127.0.0.1.
func startClusterNode(t *testing.T, redisURL string) string {
	t.Helper()
	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	storeOpts := *opts
	storeClient := goredis.NewClient(&storeOpts)
	brokerClient := goredis.NewClient(redisstore.ClientOptions(opts))
	t.Cleanup(func() { brokerClient.Close(); storeClient.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := redisstore.OpenStore(ctx, storeClient, "draw:")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	broker := redisstore.NewBroker(brokerClient, "draw:", log)
	t.Cleanup(func() { broker.Close() })
	srv, err := draw.New(draw.Config{
		Public: fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}},
		Logger: log,
		Store:  store,
		Broker: broker,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.CloseClientConnections()
		hs.Close()
	})
	return hs.URL
}

// Two real nodes on a real redis-server: every move reaches every other
// client whichever node it is on, and the latency splits into same-node
// and cross-node deliveries in the proportions the assignment implies;
// -metrics reads both nodes.
func TestClusterSplitsSameAndCrossNode(t *testing.T) {
	rs := testredis.Start(t)
	a, b := startClusterNode(t, rs.URL()), startClusterNode(t, rs.URL())
	res, code, stderr := runMain(t, "-url", a+","+b, "-clients", "20", "-senders", "4", "-rate", "20",
		"-warmup", "500ms", "-duration", "1s", "-ramp", "200ms", "-drain", "5s", "-metrics", "-strict")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, explain(res, stderr))
	}
	if len(res.URLs) != 2 || res.URLs[0] != a || res.URLs[1] != b {
		t.Errorf("urls %q, want %q and %q", res.URLs, a, b)
	}
	if res.Expected == 0 || res.Delivered != res.Expected {
		t.Fatalf("delivered %d of %d", res.Delivered, res.Expected)
	}
	same, cross := res.LatencySameNode, res.LatencyCrossNode
	if same == nil || cross == nil {
		t.Fatalf("no split: %+v", res)
	}
	if same.Samples+cross.Samples != res.Latency.Samples {
		t.Errorf("same %d + cross %d != all %d", same.Samples, cross.Samples, res.Latency.Samples)
	}
	// 2 senders and 8 receivers per node, 10 clients: a move reaches the 9
	// others on its sender's node and the 10 on the other: same:cross = 9:10.
	if 10*same.Samples != 9*cross.Samples {
		t.Errorf("same %d, cross %d samples; want 9:10", same.Samples, cross.Samples)
	}
	if len(res.ServerMetricsPerNode) != 2 {
		t.Fatalf("metrics of %d nodes, want 2 (error %q)", len(res.ServerMetricsPerNode), res.ServerMetricsError)
	}
	var published float64
	for _, n := range res.ServerMetricsPerNode {
		if n.Metrics["draw_cluster_batches_published_total"] <= 0 {
			t.Errorf("node %s published no batches in the window", n.URL)
		}
		published += n.Metrics["draw_cluster_batches_published_total"]
	}
	if got := res.ServerMetrics["draw_cluster_batches_published_total"]; got != published {
		t.Errorf("summed batches %v, nodes' sum %v", got, published)
	}
	// Cross-node deliveries as the servers count them (over their own
	// window, close to the tester's): about the tester's cross-node count.
	if got := res.ServerMetrics["draw_cluster_deliveries_total"]; got < float64(cross.Samples)/2 {
		t.Errorf("servers counted %v cross-node deliveries, tester %d", got, cross.Samples)
	}
}
