package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/sqlite"
)

// The boards' writer alone, without sockets: what one core can commit.
// Ops have the shape the server records for a classic client's drawing move
// (a piece of 2 points, author "", stroke "~<socket id>.<n>"), spread over
// -boards boards the way 20 drawing users per board interleave, and are
// JSON-encoded in the loop as draw's writer does before each commit.
//
// Two parts, each run against SQLite (a fresh file) and, as the reference,
// draw's memory store:
//   - batch: back-to-back commits of a fixed size: throughput and the cost
//     per op as a function of how many ops one commit carries;
//   - paced: a producer offers R ops a second (1 ms ticks) and a writer loop
//     shaped like draw's (take everything queued, at most 512 requests, one
//     commit) stores them: commit latency, queue and CPU at that rate.

type writerPoint struct {
	Store       string  `json:"store"`
	Mode        string  `json:"mode"` // batch or paced
	Batch       int     `json:"batch,omitempty"`
	OfferedRate float64 `json:"offered_per_second,omitempty"`
	Ops         int64   `json:"ops"`
	Commits     int64   `json:"commits"`
	Seconds     float64 `json:"seconds"`
	OpsPerSec   float64 `json:"ops_per_second"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	CPUusPerOp  float64 `json:"cpu_us_per_op"`
	MeanBatch   float64 `json:"mean_ops_per_commit"`
	CommitP50ms float64 `json:"commit_p50_ms"`
	CommitP99ms float64 `json:"commit_p99_ms"`
	CommitMaxms float64 `json:"commit_max_ms"`
	MaxQueued   int     `json:"max_queued,omitempty"`
	Refused     int64   `json:"refused,omitempty"`     // offered while the queue was full (draw counts these as unrecorded)
	LeftQueued  int     `json:"left_queued,omitempty"` // still queued when the time was up
	OtherCPU    float64 `json:"other_cpu_seconds"`
}

type writerResult struct {
	Boards     int           `json:"boards"`
	Points     []writerPoint `json:"points"`
	FileBytes  int64         `json:"sqlite_file_bytes"`
	GOMAXPROCS string        `json:"gomaxprocs,omitempty"`
}

// classicOp is one recorded classic move, as draw's writer would encode it.
type classicGen struct {
	r       *rand.Rand
	boards  int
	sockets [][]string // per board: 20 socket ids
	strokes []int
	pieces  []int
}

func newClassicGen(boards int) *classicGen {
	g := &classicGen{r: rand.New(rand.NewPCG(7, 7)), boards: boards}
	for range boards {
		var ids []string
		for range 20 {
			ids = append(ids, randomID(g.r, 20))
		}
		g.sockets = append(g.sockets, ids)
	}
	g.strokes = make([]int, boards*20)
	g.pieces = make([]int, boards*20)
	return g
}

func (g *classicGen) next() (board string, o draw.OpFields) {
	b, u := g.r.IntN(g.boards), g.r.IntN(20)
	k := b*20 + u
	if g.pieces[k] == 49 {
		g.strokes[k]++
		g.pieces[k] = 0
	}
	g.pieces[k]++
	x, y := float64(100+g.r.IntN(1800)), float64(100+g.r.IntN(800))
	return "load-" + strconv.Itoa(b), draw.OpFields{
		Type: draw.OpStroke, Stroke: "~" + g.sockets[b][u] + "." + strconv.Itoa(g.strokes[k]), I: g.pieces[k] - 1,
		Color: "#1c1917", Width: 2, Points: []float64{x, y, x + float64(g.r.IntN(7)-3), y + float64(g.r.IntN(7)-3)},
	}
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return ms(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))])
}

// commitOps encodes and stores one batch the way draw's writer does,
// numbering each board's ops on from heads (filled from st.Info the first
// time a board comes up) and moving heads on once they are stored.
func commitOps(st draw.Store, heads map[string]int64, board []string, fields []draw.OpFields, now int64) (time.Duration, error) {
	ops := make([]draw.Op, len(fields))
	next := make(map[string]int64, len(heads))
	for i := range fields {
		h, ok := next[board[i]]
		if !ok {
			if h, ok = heads[board[i]]; !ok {
				info, _, err := st.Info(context.Background(), board[i])
				if err != nil {
					return 0, err
				}
				h = info.Head
			}
		}
		next[board[i]] = h + 1
		data, _ := json.Marshal(fields[i])
		ops[i] = draw.Op{Board: board[i], Seq: h + 1, Time: now, Data: data}
	}
	start := time.Now()
	err := st.Append(context.Background(), ops)
	d := time.Since(start)
	if err == nil {
		maps.Copy(heads, next)
	}
	return d, err
}

func runBatch(st draw.Store, name string, g *classicGen, batch int, budget time.Duration) (writerPoint, error) {
	p := writerPoint{Store: name, Mode: "batch", Batch: batch}
	var lat []time.Duration
	boards := make([]string, batch)
	fields := make([]draw.OpFields, batch)
	heads := make(map[string]int64)
	cpu0, other0 := cpuNow(), machineCPU()
	start := time.Now()
	for time.Since(start) < budget && p.Ops < 2_000_000 { // the memory store keeps everything
		for i := range fields {
			boards[i], fields[i] = g.next()
		}
		d, err := commitOps(st, heads, boards, fields, time.Now().UnixMilli())
		if err != nil {
			return p, err
		}
		lat = append(lat, d)
		p.Commits++
		p.Ops += int64(batch)
	}
	p.finish(time.Since(start), cpuNow()-cpu0, machineCPU()-other0, lat)
	return p, nil
}

func (p *writerPoint) finish(elapsed, cpu, machine time.Duration, lat []time.Duration) {
	p.Seconds = elapsed.Seconds()
	p.CPUSeconds = cpu.Seconds()
	p.OtherCPU = max(0, (machine - cpu).Seconds())
	if p.Seconds > 0 {
		p.OpsPerSec = float64(p.Ops) / p.Seconds
	}
	if p.Ops > 0 {
		p.CPUusPerOp = float64(cpu.Microseconds()) / float64(p.Ops)
	}
	if p.Commits > 0 {
		p.MeanBatch = float64(p.Ops) / float64(p.Commits)
	}
	slices.Sort(lat)
	p.CommitP50ms, p.CommitP99ms = quantile(lat, 0.5), quantile(lat, 0.99)
	if len(lat) > 0 {
		p.CommitMaxms = ms(lat[len(lat)-1])
	}
}

// Like draw's writer: a request queue of 4096, at most 512 requests a commit.
const (
	writerQueue    = 4096
	writerMaxBatch = 512
)

type offered struct {
	board string
	op    draw.OpFields
}

func runPaced(st draw.Store, name string, g *classicGen, rate float64, budget time.Duration) (writerPoint, error) {
	p := writerPoint{Store: name, Mode: "paced", OfferedRate: rate}
	in := make(chan offered, writerQueue)
	var refused atomic.Int64
	var maxQ atomic.Int64
	stop := make(chan struct{})
	producerDone := make(chan struct{})
	// The producer owns g while it runs.
	go func() {
		defer close(in)
		defer close(producerDone)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		sent := 0.0
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			due := rate * time.Since(start).Seconds()
			for ; sent < due; sent++ {
				b, o := g.next()
				select {
				case in <- offered{b, o}:
				default:
					refused.Add(1)
				}
			}
			if q := int64(len(in)); q > maxQ.Load() {
				maxQ.Store(q)
			}
		}
	}()
	var lat []time.Duration
	boards := make([]string, 0, writerMaxBatch)
	fields := make([]draw.OpFields, 0, writerMaxBatch)
	heads := make(map[string]int64)
	cpu0, other0 := cpuNow(), machineCPU()
	start := time.Now()
	deadline := time.After(budget)
	var err error
loop:
	for {
		var first offered
		var ok bool
		select {
		case first, ok = <-in:
			if !ok {
				break loop
			}
		case <-deadline:
			break loop
		}
		boards, fields = append(boards[:0], first.board), append(fields[:0], first.op)
		for len(fields) < writerMaxBatch && len(in) > 0 {
			o := <-in
			boards, fields = append(boards, o.board), append(fields, o.op)
		}
		var d time.Duration
		if d, err = commitOps(st, heads, boards, fields, time.Now().UnixMilli()); err != nil {
			break
		}
		lat = append(lat, d)
		p.Commits++
		p.Ops += int64(len(fields))
	}
	elapsed := time.Since(start)
	close(stop)
	<-producerDone
	for range in { // offered but not stored when the time was up
		p.LeftQueued++
	}
	p.Refused = refused.Load()
	p.MaxQueued = int(maxQ.Load())
	p.finish(elapsed, cpuNow()-cpu0, machineCPU()-other0, lat)
	return p, err
}

func writerMain(args []string) error {
	fs := flag.NewFlagSet("writer", flag.ExitOnError)
	dir := fs.String("dir", os.TempDir(), "directory for the SQLite file (removed after)")
	boards := fs.Int("boards", 100, "boards the ops are spread over")
	batchList := fs.String("batches", "1,4,16,64,256,512", "ops per commit for the back-to-back part")
	rateList := fs.String("rates", "10000,20000,40000", "offered ops per second for the paced part")
	batchFor := fs.Duration("batch-for", time.Second, "time per batch size and store")
	pacedFor := fs.Duration("paced-for", 4*time.Second, "time per rate and store")
	fs.Parse(args)
	ints := func(s string) ([]int, error) {
		var out []int
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > 100000 {
				return nil, fmt.Errorf("writer: bad list %q", s)
			}
			out = append(out, n)
		}
		return out, nil
	}
	batches, err := ints(*batchList)
	if err != nil {
		return err
	}
	rates, err := ints(*rateList)
	if err != nil {
		return err
	}
	if *batchFor > 10*time.Second || *pacedFor > 30*time.Second {
		return errors.New("writer: -batch-for at most 10s, -paced-for at most 30s")
	}
	tmp, err := os.MkdirTemp(*dir, "writer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, "writer.db")
	lite, err := sqlite.Open(file)
	if err != nil {
		return err
	}
	defer lite.Close()
	res := writerResult{Boards: *boards, GOMAXPROCS: os.Getenv("GOMAXPROCS")}
	// One SQLite file grows through every part; the memory store starts
	// empty each time, so the heap it keeps does not slow the parts after.
	type namedStore struct {
		name string
		st   draw.Store
	}
	stores := func() []namedStore { return []namedStore{{"sqlite", lite}, {"memory", draw.NewMemoryStore()}} }
	for _, b := range batches {
		for _, s := range stores() {
			p, err := runBatch(s.st, s.name, newClassicGen(*boards), b, *batchFor)
			if err != nil {
				return fmt.Errorf("writer: %s batch %d: %w", s.name, b, err)
			}
			res.Points = append(res.Points, p)
			fmt.Fprintf(os.Stderr, "writer: %-6s batch %4d: %8.0f ops/s, %6.2f µs CPU per op, commit p99 %.2f ms\n", s.name, b, p.OpsPerSec, p.CPUusPerOp, p.CommitP99ms)
		}
	}
	for _, r := range rates {
		for _, s := range stores() {
			p, err := runPaced(s.st, s.name, newClassicGen(*boards), float64(r), *pacedFor)
			if err != nil {
				return fmt.Errorf("writer: %s paced %d/s: %w", s.name, r, err)
			}
			res.Points = append(res.Points, p)
			fmt.Fprintf(os.Stderr, "writer: %-6s paced %6d/s: stored %8.0f ops/s in %5.1f-op commits, %.2f CPU-s/s, commit p99 %.2f ms, max queue %d, refused %d\n",
				s.name, r, p.OpsPerSec, p.MeanBatch, p.CPUSeconds/p.Seconds, p.CommitP99ms, p.MaxQueued, p.Refused)

		}
	}
	if err := lite.Close(); err != nil {
		return err
	}
	if fi, err := os.Stat(file); err == nil {
		res.FileBytes = fi.Size()
	}
	return printJSON(res)
}
