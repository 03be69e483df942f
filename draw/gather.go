package draw

import (
	"runtime"
	"sync/atomic"
	"time"
)

// How long a receiver's frames gather before a write. Gathering turns many
// small writes into few large ones, which halves the CPU per delivery under
// load, but every frame it holds waits: at 100 clients a fixed 16 ms window
// made us slower than Node's socket.io. So the window follows the load: none
// while the process delivers few frames per second per core (each one goes
// out at once), growing to FlushInterval as deliveries approach the rate
// where batching decides the CPU bill. Deliveries, unlike CPU time, do not
// fall when the window grows, so the window does not oscillate.
const (
	gatherSample = 100 * time.Millisecond
	gatherFrom   = 50000  // deliveries per second per core with no window
	gatherFull   = 200000 // deliveries per second per core with the whole window
)

type gatherer struct {
	max    time.Duration
	fixed  bool         // always max (Config.FixedFlush)
	frames atomic.Int64 // frames queued to websocket receivers, ever
	window atomic.Int64 // nanoseconds
}

func newGatherer(max time.Duration, fixed bool) *gatherer {
	g := &gatherer{max: max, fixed: fixed}
	if fixed {
		g.window.Store(int64(max))
	} else {
		g.window.Store(int64(g.windowFor(0)))
	}
	return g
}

// current is the window in force.
func (g *gatherer) current() time.Duration { return time.Duration(g.window.Load()) }

// run samples the delivery rate until quit.
func (g *gatherer) run(quit <-chan struct{}) {
	if g.fixed || g.max <= 0 {
		return
	}
	tick := time.NewTicker(gatherSample)
	defer tick.Stop()
	last, lastAt, rate := g.frames.Load(), time.Now(), 0.0
	for {
		select {
		case <-quit:
			return
		case now := <-tick.C:
			n := g.frames.Load()
			perCore := float64(n-last) / now.Sub(lastAt).Seconds() / float64(runtime.GOMAXPROCS(0))
			last, lastAt = n, now
			rate = (rate + perCore) / 2 // smooths one odd sample
			g.window.Store(int64(g.windowFor(rate)))
		}
	}
}

// windowFor maps a delivery rate per core to a window.
func (g *gatherer) windowFor(rate float64) time.Duration {
	share := min(1, max(0, (rate-gatherFrom)/(gatherFull-gatherFrom)))
	return time.Duration(share * float64(g.max))
}
