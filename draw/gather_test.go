package draw

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestGatherWindowFollowsLoad(t *testing.T) {
	g := newGatherer(16*time.Millisecond, false)
	for _, c := range []struct {
		rate float64
		want time.Duration
	}{
		{0, 0},
		{gatherFrom, 0},
		{(gatherFrom + gatherFull) / 2, 8 * time.Millisecond},
		{gatherFull, 16 * time.Millisecond},
		{10 * gatherFull, 16 * time.Millisecond},
	} {
		if got := g.windowFor(c.rate, 0); got != c.want {
			t.Errorf("window at %.0f deliveries/s per core = %v, want %v", c.rate, got, c.want)
		}
	}
	// Sharing the core: threads that wait for a CPU 0.65 s a second get the
	// whole window even at a modest rate; 0.1 s a second (alone, loaded) none.
	for _, c := range []struct {
		wait float64 // seconds a second on each core
		want time.Duration
	}{{0.1, 0}, {0.45, 8 * time.Millisecond}, {0.65, 16 * time.Millisecond}} {
		wait := int64(c.wait * float64(runtime.GOMAXPROCS(0)) * 1e9)
		if got := g.windowFor(waitMinRate, waitShare(cpuWait{wait: wait}, time.Second)); got != c.want {
			t.Errorf("window when threads wait %.2f s a second per core = %v, want %v", c.wait, got, c.want)
		}
	}
	// A quiet server sends at once however busy the machine is.
	if got := g.windowFor(waitMinRate-1, 1); got != 0 {
		t.Errorf("window at a low rate on a contended machine = %v, want 0", got)
	}
	if _, ok := readCPUWait(); !ok && runtime.GOOS == "linux" {
		t.Error("cannot read this process's CPU wait from /proc/self/task/*/schedstat")
	}
	if got := newGatherer(16*time.Millisecond, true).current(); got != 16*time.Millisecond {
		t.Errorf("fixed window = %v, want the whole interval", got)
	}
}

// On a quiet server a frame right after another is not held for the
// gathering window: with a 30 s window, a fixed gatherer would hold the
// second move for 30 s; the adaptive one sends it at once.
func TestQuietServerDoesNotGather(t *testing.T) {
	_, base := startTestServer(t, Config{FlushInterval: 30 * time.Second})
	a, b := connect(t, base), connect(t, base)
	done := make(chan string, 1)
	go func() {
		b.event(EventMoving)
		done <- string(b.event(EventMoving))
	}()
	a.write(`42["mousemove",{"x":1,"y":1,"drawing":false}]`)
	a.write(`42["mousemove",{"x":2,"y":2,"drawing":false}]`)
	select {
	case got := <-done:
		if !strings.Contains(got, `"x":2`) {
			t.Errorf("second move = %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second move was held back on a quiet server (gathered for the whole window)")
	}
}
