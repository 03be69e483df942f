package redis

// Regression tests for workarounds.go, against a real redis-server: each
// fails without the workaround it checks.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/drawing/draw/internal/testredis"
)

// waNode is one node's broker on a socket.io server, as draw/server.go sets
// it up, keeping every batch it receives.
type waNode struct {
	broker *Broker
	client *goredis.Client

	mu  sync.Mutex
	got []string
}

func waStart(t testing.TB, rs *testredis.Server, prefix string) *waNode {
	t.Helper()
	client := goredis.NewClient(ClientOptions(&goredis.Options{Addr: rs.Addr()}))
	t.Cleanup(func() { client.Close() })
	n := &waNode{broker: NewBroker(client, prefix, slog.New(slog.NewTextHandler(io.Discard, nil))), client: client}
	t.Cleanup(func() { n.broker.Close() })
	opts := socket.DefaultServerOptions()
	opts.SetAdapter(n.broker.Adapter())
	srv := socket.NewServer(nil, opts)
	t.Cleanup(func() { srv.Close(nil) })
	err := n.broker.Start(srv.Sockets(), func(b []byte) {
		n.mu.Lock()
		n.got = append(n.got, string(b))
		n.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return n
}

func (n *waNode) received() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.got...)
}

// waDelivered publishes marker batches from a until b receives one (the
// subscriptions are up: the adapter subscribes asynchronously and again by
// itself after an outage). It fails the test after a generous deadline.
func waDelivered(t *testing.T, a, b *waNode, what string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		marker := fmt.Sprintf("%s %d", what, i)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		a.broker.Publish(ctx, []byte(marker))
		cancel()
		deadline := time.Now().Add(100 * time.Millisecond)
		for time.Now().Before(deadline) {
			for _, g := range b.received() {
				if strings.HasPrefix(g, what+" ") {
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Fatalf("%s: no batch crossed from one node to the other within ~20 s", what)
}

// TestWorkaroundSubscriberPause: while Redis is down, the adapter's two
// subscriber loops report a few errors per pause instead of spinning, and
// they subscribe again by themselves once Redis is back.
func TestWorkaroundSubscriberPause(t *testing.T) {
	const outage = 3 * time.Second
	rs := testredis.Start(t)
	a, b := waStart(t, rs, "wa1:"), waStart(t, rs, "wa1:")
	waDelivered(t, a, b, "before")

	before := a.broker.SubscribeErrors() + b.broker.SubscribeErrors()
	rs.Kill()
	time.Sleep(outage)
	during := a.broker.SubscribeErrors() + b.broker.SubscribeErrors() - before
	if h := a.broker.Health(); !strings.HasPrefix(h, "redis unreachable") {
		t.Errorf("Health during the outage = %q, want redis unreachable…", h)
	}
	rs.Restart()

	// 2 nodes × 2 loops, one error per subscriberPause at most; 3× that
	// for slack. Without the pause: hundreds of thousands.
	limit := uint64(3 * 2 * 2 * (outage/subscriberPause + 1))
	t.Logf("%d subscriber errors in a %v outage on 2 nodes (limit %d)", during, outage, limit)
	if during == 0 {
		t.Errorf("no subscriber error during the outage: the loops did not notice it")
	}
	if during > limit {
		t.Errorf("%d subscriber errors in a %v outage on 2 nodes, want at most %d: the subscriber loops spin", during, outage, limit)
	}
	waDelivered(t, a, b, "after")
}

// TestWorkaroundClientOptions: with Redis hung (SIGSTOP), a publish fails
// fast instead of holding the publisher, and once Redis goes on no batch
// arrives twice (a retry after a read timeout would have queued a copy).
func TestWorkaroundClientOptions(t *testing.T) {
	const batches, conns = 6, 8
	rs := testredis.Start(t)
	a, b := waStart(t, rs, "wa2:"), waStart(t, rs, "wa2:")
	waDelivered(t, a, b, "before")
	// A busy node's pool holds several connections (beats, liveness
	// questions, publishes). A retry takes the next one, where the copy
	// waits in Redis's buffer; on a new connection it would not even get
	// past the handshake while Redis is paused.
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.client.BLPop(context.Background(), time.Second, "wa2:nothing")
		}()
	}
	wg.Wait()
	if idle := a.client.PoolStats().IdleConns; idle < 2 {
		t.Fatalf("%d idle connections in the pool, want several", idle)
	}

	rs.Pause()
	paused := true
	defer func() {
		if paused {
			rs.Resume()
		}
	}()
	for i := range batches {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := a.broker.Publish(ctx, []byte("paused "+strconv.Itoa(i)))
		cancel()
		took := time.Since(start)
		if err == nil {
			t.Errorf("publish %d to a paused Redis succeeded after %v", i, took)
		}
		// The bound is loose (the timeouts are 250 ms); go-redis's
		// defaults wait 3 s per attempt and retry.
		if took > 2*time.Second {
			t.Errorf("publish %d to a paused Redis took %v, want it bounded (< 2 s)", i, took)
		}
	}
	rs.Resume()
	paused = false
	waDelivered(t, a, b, "after")
	time.Sleep(300 * time.Millisecond) // a late copy arrives by now

	seen := map[string]int{}
	for _, g := range b.received() {
		seen[g]++
	}
	delivered := 0
	for i := range batches {
		n := seen["paused "+strconv.Itoa(i)]
		delivered += n
		if n > 1 {
			t.Errorf("batch %d published while Redis was paused arrived %d times, want at most once", i, n)
		}
	}
	t.Logf("%d deliveries of %d batches published while Redis was paused", delivered, batches)
}
