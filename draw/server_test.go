package draw

import (
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
