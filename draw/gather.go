package draw

import (
	"fmt"
	"os"
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
//
// A process that shares its cores (two nodes and Redis on one machine, a
// busy neighbour) delivers less per core than its core costs it, so the
// window also grows with how long its threads wait for a CPU while they
// could run (Linux: /proc/self/task/*/schedstat), per second and core.
// Alone on one core under load, this server's own threads wait 80-100 ms a
// second for each other; two nodes and Redis on one core wait 650-950 ms a
// second each. That wait falls as the window saves CPU, so what it asks for
// decays slowly instead of following it down.
const (
	gatherSample = 100 * time.Millisecond
	gatherFrom   = 50000  // deliveries per second per core with no window
	gatherFull   = 200000 // deliveries per second per core with the whole window
	waitFrom     = 0.30   // seconds a second per core waiting for a CPU with no window
	waitFull     = 0.60   // ... with the whole window
	waitDecay    = 0.98   // per sample: what contention asked for halves in ~3.5 s
	// Below this many deliveries per second per core gathering saves
	// nothing worth a frame's delay, contended or not: each write's
	// sleep costs a timer and gathers nothing.
	waitMinRate = gatherFrom
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
		g.window.Store(int64(g.windowFor(0, 0)))
	}
	return g
}

// current is the window in force.
func (g *gatherer) current() time.Duration { return time.Duration(g.window.Load()) }

// run samples the delivery rate (and how long the threads wait for a CPU)
// until quit.
func (g *gatherer) run(quit <-chan struct{}) {
	if g.fixed || g.max <= 0 {
		return
	}
	tick := time.NewTicker(gatherSample)
	defer tick.Stop()
	last, lastAt, rate := g.frames.Load(), time.Now(), 0.0
	lastWait, waitKnown := readCPUWait()
	contended := 0.0
	for {
		select {
		case <-quit:
			return
		case now := <-tick.C:
			n := g.frames.Load()
			perCore := float64(n-last) / now.Sub(lastAt).Seconds() / float64(runtime.GOMAXPROCS(0))
			rate = (rate + perCore) / 2 // smooths one odd sample
			if w, ok := readCPUWait(); ok && waitKnown {
				contended = max(contended*waitDecay, waitShare(w.sub(lastWait), now.Sub(lastAt)))
				lastWait = w
			}
			last, lastAt = n, now
			g.window.Store(int64(g.windowFor(rate, contended)))
		}
	}
}

// windowFor maps a delivery rate per core and a share asked for by
// contention to a window: whichever asks for more.
func (g *gatherer) windowFor(rate, contended float64) time.Duration {
	if rate < waitMinRate {
		contended = 0
	}
	share := min(1, max(0, (rate-gatherFrom)/(gatherFull-gatherFrom), contended))
	return time.Duration(share * float64(g.max))
}

// waitShare maps the threads' CPU wait over an interval to a window share.
func waitShare(w cpuWait, interval time.Duration) float64 {
	if interval <= 0 {
		return 0
	}
	perCore := float64(w.wait) / float64(interval) / float64(runtime.GOMAXPROCS(0))
	return min(1, max(0, (perCore-waitFrom)/(waitFull-waitFrom)))
}

// cpuWait is how long this process's threads ran, and waited for a CPU
// while runnable, in nanoseconds.
type cpuWait struct{ run, wait int64 }

func (a cpuWait) sub(b cpuWait) cpuWait { return cpuWait{a.run - b.run, a.wait - b.wait} }

// readCPUWait sums /proc/self/task/*/schedstat; false where there is none.
func readCPUWait() (cpuWait, bool) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return cpuWait{}, false
	}
	var sum cpuWait
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread ended
		}
		var run, wait int64
		if _, err := fmt.Sscan(string(b), &run, &wait); err != nil {
			return cpuWait{}, false
		}
		sum.run += run
		sum.wait += wait
	}
	return sum, true
}
