package draw

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zishang520/engine.io-go-parser/packet"
	"github.com/zishang520/engine.io/v2/types"
)

// Defect 6: the engine's upgrader accepts any Origin; ours refuses foreign ones.
func TestForeignOriginRefused(t *testing.T) {
	_, base := startTestServer(t, Config{AllowedOrigins: []string{"https://allowed.example"}})
	_, resp, err := dialRaw(t, base, "", http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err=%v resp=%v, want 403", err, resp)
	}
	for _, origin := range []string{"https://allowed.example", base} {
		if _, _, err := dialRaw(t, base, "", http.Header{"Origin": {origin}}); err != nil {
			t.Errorf("origin %s refused: %v", origin, err)
		}
	}
	req, _ := http.NewRequest("GET", base+"/socket.io/?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin over polling: %v %v, want 403", resp, err)
	}
}

// Defect 2: the library's transport writes only the first of several
// pre-encoded packets handed over in one batch. Ours writes them all.
func TestTransportWritesWholeBatch(t *testing.T) {
	s, base := startTestServer(t, Config{})
	c := connect(t, base)
	socks := s.engine.Clients().Values()
	if len(socks) != 1 {
		t.Fatalf("%d engine clients, want 1", len(socks))
	}
	tr := socks[0].Transport()
	var batch []*packet.Packet
	for i := range 3 {
		msg := fmt.Sprintf(`2["n",%d]`, i)
		batch = append(batch, &packet.Packet{Type: packet.MESSAGE, Data: types.NewStringBufferString(msg),
			Options: &packet.Options{WsPreEncodedFrame: types.NewStringBufferString("4" + msg)}})
	}
	tr.Send(batch)
	for i := range 3 {
		if got := string(c.event("n")); got != fmt.Sprint(i) {
			t.Fatalf("packet %d: got %s", i, got)
		}
	}
}

// A receiver that stops reading is shed, not waited for: the others keep
// getting everything in order, the laggard is disconnected, and the drop is
// counted.
func TestSlowReaderIsDropped(t *testing.T) {
	s, base := startTestServer(t, Config{SendQueue: 64, WriteTimeout: 300 * time.Millisecond, EventsPerSecond: 1e6, EventBurst: 1e6})
	sender, healthy, slow := connect(t, base), connect(t, base), connect(t, base)
	// The CONNECT ack can overtake the join (the library connects in a
	// goroutine), and a move relayed before a receiver joined is not its.
	waitMembers(t, s, DefaultBoard, 3)
	// slow never reads again; its kernel buffers fill, then its queue.
	pad := strings.Repeat("p", 900)
	left := false
	next := 0
	for batch := 0; batch < 400 && !left; batch++ {
		for range 50 {
			sender.write(fmt.Sprintf(`42["mousemove",{"x":%d,"y":0,"drawing":true,"pad":"%s"}]`, next, pad))
			next++
		}
		for want := next - 50; want < next; {
			msg := healthy.read()
			switch {
			case strings.HasPrefix(msg, `42["moving"`):
				if !strings.Contains(msg, fmt.Sprintf(`"x":%d,`, want)) {
					t.Fatalf("healthy receiver: expected x=%d, got %.60s", want, msg)
				}
				want++
			case msg == `42["clientdisconnect","`+slow.id+`"]`:
				left = true
			}
		}
	}
	if !left {
		t.Fatalf("the slow reader was not disconnected after %d moves", next)
	}
	var dropped float64
	mf, _ := s.metrics.registry.Gather()
	for _, f := range mf {
		if f.GetName() == "draw_dropped_total" {
			for _, m := range f.Metric {
				dropped += m.GetCounter().GetValue()
			}
		}
	}
	if dropped == 0 {
		t.Error("no drop was counted for the slow reader")
	}
}

// shutdownNotices connects n clients to one board, shuts the server down and
// returns how many clientdisconnect notices each received before its own
// connection ended, and how many receivers were dropped as too slow.
func shutdownNotices(t *testing.T, n int, cfg Config) (notices []int, slowDrops float64) {
	s, base := startTestServer(t, cfg)
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = connect(t, base)
	}
	// connect does not wait for the CONNECT ack: a client not yet on the
	// board at shutdown is told of nobody's departure.
	waitMembers(t, s, DefaultBoard, n)
	notices = make([]int, n)
	done := make(chan struct{})
	for i, c := range clients {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, b, err := c.conn.ReadMessage()
				if err != nil {
					return
				}
				if strings.HasPrefix(string(b), `42["clientdisconnect"`) {
					notices[i]++
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for range clients {
		<-done
	}
	mf, _ := s.metrics.registry.Gather()
	for _, f := range mf {
		if f.GetName() == "draw_dropped_total" {
			for _, m := range f.Metric {
				if m.GetLabel()[0].GetValue() == dropSlowClient {
					slowDrops += m.GetCounter().GetValue()
				}
			}
		}
	}
	return notices, slowDrops
}

// At shutdown everyone leaves at once. On a board bigger than the send
// queue, telling everyone about everyone would be N² notices, more than any
// queue holds: nobody gets more than its queue holds, and nobody is dropped
// as a slow consumer on the way out.
func TestShutdownNoticesBounded(t *testing.T) {
	const queue = 8
	notices, slow := shutdownNotices(t, 40, Config{SendQueue: queue})
	for i, got := range notices {
		if got >= queue {
			t.Errorf("client %d got %d departure notices at shutdown; its queue of %d holds fewer", i, got, queue)
		}
	}
	if slow != 0 {
		t.Errorf("%v clients dropped as slow consumers during shutdown", slow)
	}
}

// On a board that fits the send queue, shutdown still announces departures
// (a page written for the original relies on clientdisconnect to remove a
// peer's pointer).
func TestShutdownAnnouncesOnSmallBoards(t *testing.T) {
	const n = 5
	notices, _ := shutdownNotices(t, n, Config{})
	total := 0
	for _, got := range notices {
		total += got
	}
	// The sockets close one after another: each departure reaches everyone
	// still connected.
	if total != n*(n-1)/2 {
		t.Errorf("departure notices at shutdown: %v, want %d in all", notices, n*(n-1)/2)
	}
}

// waitMembers waits until n clients are on the board.
func waitMembers(t *testing.T, s *Server, name string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.boards.mu.Lock()
		b := s.boards.m[name]
		live := 0
		if b != nil {
			live = len(b.snapshot()) - b.gone
		}
		s.boards.mu.Unlock()
		if live >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d clients on board %q after 10 s", live, n, name)
		}
	}
}
