package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drawing/draw/loadtest"
)

// The report reads bench/results/raw/memory/ (what run.sh left there) and
// writes memory.md and memory.json:
//
//	rec-on-K.json, rec-off-K.json      loadtest -metrics, 1000 clients, recording on / off, repeat K
//	ladder-N-on.json, ladder-N-off.json loadtest -metrics, 100 boards of 20 drawing users, N segments/s nominal
//	writer.json                         memory writer
//	seed.json, fetch.json               memory seed, memory fetch (steady)
//	first-history-K.json, first-join-K.json, warm-join-K.json   right after a restart / on a warm server
//	browser.json                        latejoin.mjs

// Targets of the issue.
const (
	targetCPURatio    = 1.15  // recording on / off, CPU per million deliveries
	targetP99Ms       = 100.0 // relay p99 at 1000 clients
	targetCommitP99Ms = 50.0
	targetWireBytes   = 2_000_000
	targetFetchCPUms  = 100.0
	targetFirstByteMs = 300.0
	targetCompleteMs  = 1000.0
	drawingShare      = 49.0 / 50 // loadtest senders: drawing true 49 moves of 50
)

// Cell is one load-test run with what the server's metrics said.
type Cell struct {
	File               string  `json:"file"`
	Recording          bool    `json:"recording"`
	Clients            int     `json:"clients"`
	Connected          int     `json:"connected"`
	Boards             int     `json:"boards"`
	Senders            int     `json:"senders"`
	Rate               float64 `json:"rate"`
	SegmentsOffered    float64 `json:"segments_offered_per_second"` // drawing moves the senders sent
	Deliveries         float64 `json:"deliveries_per_second"`
	LossPercent        float64 `json:"loss_percent"`
	P50Ms              float64 `json:"p50_ms"`
	P99Ms              float64 `json:"p99_ms"`
	MaxMs              float64 `json:"max_ms"`
	CPUSeconds         float64 `json:"server_cpu_seconds"`
	CPUPerSecond       float64 `json:"server_cpu_per_second"`
	CPUPerM            float64 `json:"server_cpu_seconds_per_million_deliveries"`
	RSSPeakMiB         float64 `json:"server_rss_peak_mib"`
	StoredPerSecond    float64 `json:"stored_per_second"`
	CommitsPerSecond   float64 `json:"commits_per_second"`
	OpsPerCommit       float64 `json:"ops_per_commit"`
	CommitP50Ms        float64 `json:"commit_p50_ms"`
	CommitP99Ms        float64 `json:"commit_p99_ms"`
	CommitsOver50ms    float64 `json:"commits_over_50ms"`
	Unrecorded         float64 `json:"unrecorded"`         // classic segments the full writer queue turned away
	SlowConsumerShed   float64 `json:"slow_consumer_shed"` // cursor moves shed for lagging receivers
	StoreFailures      float64 `json:"store_append_failures"`
	TesterCores        float64 `json:"tester_cores"`
	OtherCPUSeconds    float64 `json:"other_cpu_seconds"`
	WindowSeconds      float64 `json:"window_seconds"`
	MetricsSeconds     float64 `json:"metrics_seconds"`   // between the two /metrics readings
	ScrapeMs           float64 `json:"metrics_scrape_ms"` // the slower reading: a saturated server answers late
	Problems           int64   `json:"check_failures"`    // out of order, duplicates, echoes, wrong ids, failed or dropped connections
	ServerMetricsError string  `json:"server_metrics_error,omitempty"`
}

func cellOf(path string, r *loadtest.Result) Cell {
	c := Cell{
		File: filepath.Base(path), Recording: !strings.Contains(filepath.Base(path), "-off"),
		Clients: r.Clients, Connected: r.Connected, Boards: r.Boards, Senders: r.Senders, Rate: r.Rate,
		SegmentsOffered: r.EmitsPerSecond * drawingShare, Deliveries: r.DeliveriesPerSecond, LossPercent: r.LossPercent,
		P50Ms: r.Latency.P50Ms, P99Ms: r.Latency.P99Ms, MaxMs: r.Latency.MaxMs,
		TesterCores: r.TesterCPUCores, OtherCPUSeconds: r.OtherCPUSeconds, WindowSeconds: r.WindowSeconds,
		Problems:           r.OutOfOrder + r.Duplicates + r.SelfEchoes + r.WrongID + r.CrossBoard + int64(r.Failed+r.Dropped),
		ServerMetricsError: r.ServerMetricsError,
	}
	if s := r.Server; s != nil {
		c.CPUSeconds, c.CPUPerM, c.RSSPeakMiB = s.CPUSeconds, s.CPUSecondsPerMillion, float64(s.RSSPeakKiB)/1024
		if r.WindowSeconds > 0 {
			c.CPUPerSecond = s.CPUSeconds / r.WindowSeconds
		}
	}
	if m := r.ServerMetrics; m != nil && r.WindowSeconds > 0 {
		w := r.WindowSeconds
		if r.ServerMetricsSeconds > 0 {
			w = r.ServerMetricsSeconds // the time between the two readings
		}
		c.MetricsSeconds, c.ScrapeMs = w, r.ServerMetricsScrapeMs
		c.StoredPerSecond = m["draw_store_ops_total"] / w
		n := m["draw_store_commit_seconds_count"]
		c.CommitsPerSecond = n / w
		if n > 0 {
			c.OpsPerCommit = m["draw_store_ops_total"] / n
			c.CommitP50Ms = 1000 * loadtest.HistogramQuantile(m, "draw_store_commit_seconds", 0.5)
			c.CommitP99Ms = 1000 * loadtest.HistogramQuantile(m, "draw_store_commit_seconds", 0.99)
			c.CommitsOver50ms = n - m[`draw_store_commit_seconds_bucket{le="0.05"}`]
		}
		c.Unrecorded = m[`draw_dropped_total{reason="unrecorded"}`]
		c.SlowConsumerShed = m[`draw_dropped_total{reason="slow_consumer"}`]
		c.StoreFailures = m[`draw_store_failures_total{what="append"}`]
	}
	return c
}

// lossless: every move delivered, every check passed, nothing refused.
func (c Cell) lossless() bool {
	return c.Connected == c.Clients && c.LossPercent == 0 && c.Problems == 0
}

// recorded: the server stored what was drawn, in time.
func (c Cell) recorded() bool {
	return c.ServerMetricsError == "" && c.Unrecorded == 0 && c.StoreFailures == 0 && c.CommitsOver50ms <= 0.01*c.CommitsPerSecond*c.MetricsSeconds &&
		c.CommitP99Ms <= targetCommitP99Ms && c.StoredPerSecond >= 0.95*c.SegmentsOffered
}

// Rung is one load of a ladder, run with recording on and off, each
// possibly repeated (ladder-N-on-K.json).
type Rung struct {
	Nominal int    `json:"nominal_segments_per_second"`
	On      []Cell `json:"on,omitempty"`
	Off     []Cell `json:"off,omitempty"`
	// Sustained: every run with recording on lost nothing and stored
	// everything with commit p99 ≤ 50 ms; SustainedRuns says how many did.
	Sustained     bool `json:"sustained"`
	SustainedRuns int  `json:"sustained_runs"`
	// RelayUnaffected: with recording on, the median relay p50 and p99
	// stayed within 1.25× or 10 ms (whichever is more) of recording off.
	RelayUnaffected bool `json:"relay_unaffected"`
	// Ratios of the medians, on / off.
	CPURatio float64 `json:"cpu_per_second_on_over_off,omitempty"`
	P50Ratio float64 `json:"p50_on_over_off,omitempty"`
	P99Ratio float64 `json:"p99_on_over_off,omitempty"`
}

// med is the median of f over cells.
func med(cells []Cell, f func(Cell) float64) float64 {
	var v []float64
	for _, c := range cells {
		v = append(v, f(c))
	}
	return median(v)
}

type Report struct {
	Generated   time.Time         `json:"generated"`
	Commit      string            `json:"commit,omitempty"`
	RecOn       []Cell            `json:"recording_on"`
	RecOff      []Cell            `json:"recording_off"`
	RecCPURatio float64           `json:"cpu_per_million_on_over_off"` // medians
	Ladder      []Rung            `json:"ladder"`
	Highest     int               `json:"highest_sustained_nominal,omitempty"`
	Solo        []Rung            `json:"solo,omitempty"` // every user on a board of its own: nothing to relay
	SoloHighest int               `json:"solo_highest_sustained_nominal,omitempty"`
	Writer      *writerResult     `json:"writer,omitempty"`
	Seed        *seedResult       `json:"seed,omitempty"`
	Fetch       *fetchResult      `json:"fetch,omitempty"`
	FirstHist   []fetchResult     `json:"first_history_after_restart,omitempty"`
	FirstJoin   []joinResult      `json:"first_join_after_restart,omitempty"`
	WarmJoin    []joinResult      `json:"join_warm,omitempty"`
	Browser     json.RawMessage   `json:"browser,omitempty"`       // Chromium free to use both CPUs
	Browser1CPU json.RawMessage   `json:"browser_1cpu,omitempty"`  // Chromium on the tester's CPU only
	BrowserRef  json.RawMessage   `json:"browser_plain,omitempty"` // both CPUs, the same drawing without undos
	SeedPlain   *seedResult       `json:"seed_plain,omitempty"`
	Profile     map[string]string `json:"profile_shares,omitempty"`
	ProfileFile string            `json:"profile_file,omitempty"`
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func reportMain(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	raw := fs.String("raw", "bench/results/raw/memory", "directory of raw results")
	out := fs.String("out", "bench/results", "directory for memory.md and memory.json")
	profile := fs.String("profile", "", "pprof -top -cum text of the server under the ladder, to split relay and writer CPU")
	commit := fs.String("commit", "", "the commit measured")
	fs.Parse(args)
	rep := Report{Generated: time.Now().UTC().Truncate(time.Second), Commit: *commit}

	files, _ := filepath.Glob(filepath.Join(*raw, "*.json"))
	sort.Strings(files)
	rungs := map[string]map[int]*Rung{"ladder": {}, "solo": {}}
	ladderRE := regexp.MustCompile(`^(ladder|solo)-(\d+)-(on|off)(-\d+)?\.json$`)
	for _, f := range files {
		base := filepath.Base(f)
		var err error
		switch {
		case strings.HasPrefix(base, "rec-"):
			var r loadtest.Result
			if err = readJSON(f, &r); err == nil {
				c := cellOf(f, &r)
				if c.Recording {
					rep.RecOn = append(rep.RecOn, c)
				} else {
					rep.RecOff = append(rep.RecOff, c)
				}
			}
		case ladderRE.MatchString(base):
			m := ladderRE.FindStringSubmatch(base)
			n, _ := strconv.Atoi(m[2])
			var r loadtest.Result
			if err = readJSON(f, &r); err == nil {
				c := cellOf(f, &r)
				kind := rungs[m[1]]
				if kind[n] == nil {
					kind[n] = &Rung{Nominal: n}
				}
				if m[3] == "on" {
					kind[n].On = append(kind[n].On, c)
				} else {
					kind[n].Off = append(kind[n].Off, c)
				}
			}
		case base == "writer.json":
			rep.Writer = &writerResult{}
			err = readJSON(f, rep.Writer)
		case base == "seed.json":
			rep.Seed = &seedResult{}
			err = readJSON(f, rep.Seed)
		case base == "fetch.json":
			rep.Fetch = &fetchResult{}
			err = readJSON(f, rep.Fetch)
		case strings.HasPrefix(base, "first-history-"):
			var r fetchResult
			if err = readJSON(f, &r); err == nil {
				rep.FirstHist = append(rep.FirstHist, r)
			}
		case strings.HasPrefix(base, "first-join-"), strings.HasPrefix(base, "warm-join-"):
			var r joinResult
			if err = readJSON(f, &r); err == nil {
				if strings.HasPrefix(base, "first-") {
					rep.FirstJoin = append(rep.FirstJoin, r)
				} else {
					rep.WarmJoin = append(rep.WarmJoin, r)
				}
			}
		case base == "seed-plain.json":
			rep.SeedPlain = &seedResult{}
			err = readJSON(f, rep.SeedPlain)
		case base == "browser.json", base == "browser-1cpu.json", base == "browser-plain.json":
			var b []byte
			if b, err = os.ReadFile(f); err == nil && json.Valid(bytes.TrimSpace(b)) {
				raw := json.RawMessage(bytes.TrimSpace(b))
				switch base {
				case "browser.json":
					rep.Browser = raw
				case "browser-1cpu.json":
					rep.Browser1CPU = raw
				default:
					rep.BrowserRef = raw
				}
			}
		}
		if err != nil {
			return fmt.Errorf("report: %s: %w", f, err)
		}
	}
	var on, off []float64
	for _, c := range rep.RecOn {
		on = append(on, c.CPUPerM)
	}
	for _, c := range rep.RecOff {
		off = append(off, c.CPUPerM)
	}
	if len(on) > 0 && len(off) > 0 && median(off) > 0 {
		rep.RecCPURatio = median(on) / median(off)
	}
	rep.Ladder, rep.Highest = sortRungs(rungs["ladder"])
	rep.Solo, rep.SoloHighest = sortRungs(rungs["solo"])
	if *profile != "" {
		rep.Profile, rep.ProfileFile = profileShares(*profile), filepath.Base(*profile)
	}
	if len(rep.RecOn)+len(rep.Ladder) == 0 && rep.Writer == nil && rep.Seed == nil {
		return fmt.Errorf("report: no raw results in %s", *raw)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "memory.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "memory.md"), rep.markdown(), 0o644)
}

// sortRungs orders a ladder, judges each rung and finds the highest one
// sustained: lossless, everything stored in time.
func sortRungs(m map[int]*Rung) (out []Rung, highest int) {
	var ns []int
	for n := range m {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	for _, n := range ns {
		r := m[n]
		for _, c := range r.On {
			if c.lossless() && c.recorded() {
				r.SustainedRuns++
			}
		}
		if len(r.On) > 0 && r.SustainedRuns == len(r.On) {
			r.Sustained = true
			highest = n
		}
		if len(r.On) > 0 && len(r.Off) > 0 {
			cpu := func(c Cell) float64 { return c.CPUPerSecond }
			p50 := func(c Cell) float64 { return c.P50Ms }
			p99 := func(c Cell) float64 { return c.P99Ms }
			r.CPURatio = ratioOf(med(r.On, cpu), med(r.Off, cpu))
			r.P50Ratio = ratioOf(med(r.On, p50), med(r.Off, p50))
			r.P99Ratio = ratioOf(med(r.On, p99), med(r.Off, p99))
			near := func(f func(Cell) float64) bool {
				on, off := med(r.On, f), med(r.Off, f)
				return on <= math.Max(1.25*off, off+10)
			}
			r.RelayUnaffected = r.On[0].Deliveries > 0 && near(p50) && near(p99)
		}
		out = append(out, *r)
	}
	return out, highest
}

func ratioOf(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return math.Round(a/b*1000) / 1000
}

// profileShares reads `go tool pprof -top -cum` output and returns the
// cumulative share of the parts that matter here.
func profileShares(path string) map[string]string {
	parts := map[string]string{
		"writer (draw.(*history).run)":               "draw.(*history).run",
		"  of it SQLite (sqlite.(*Store).Append)":    "sqlite.(*Store).Append",
		"  of it encoding ops (json.Marshal)":        "encoding/json.Marshal",
		"recording a move (draw.(*client).record)":   "draw.(*client).record",
		"relay: reading frames (wsTransport.read)":   "draw.(*wsTransport).read",
		"relay: writing frames (wsTransport.flush)":  "draw.(*wsTransport).flush",
		"garbage collector (runtime.gcBgMarkWorker)": "runtime.gcBgMarkWorker",
	}
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		fn := fields[len(fields)-1]
		for label, suffix := range parts {
			if _, done := out[label]; !done && strings.HasSuffix(fn, suffix) {
				out[label] = fields[4] // cum%
			}
		}
		if strings.HasPrefix(sc.Text(), "Duration:") {
			out["sampled"] = strings.TrimSpace(sc.Text())
		}
	}
	return out
}

func f0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
func x2(v float64) string {
	if v == 0 {
		return "–"
	}
	return f2(v) + "×"
}
func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func (rep Report) markdown() []byte {
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Boards that remember: benchmark results\n\nGenerated %s by `make bench` (bench/run.sh, bench/memory) at commit %s. Server on CPU 0, tester on CPU 1. Method: docs/BENCHMARK.md, \"Boards that remember\".\n",
		rep.Generated.Format(time.RFC3339), rep.Commit)

	if len(rep.RecOn)+len(rep.RecOff) > 0 {
		p("\n## Recording on vs off: 1000 clients, one board, 10 senders × 20 moves/s (drawing 49 of 50)\n\n")
		p("Each row a fresh server with a fresh SQLite file; on and off alternate.\n\n")
		cellHeader(&b)
		for i := 0; i < max(len(rep.RecOn), len(rep.RecOff)); i++ {
			if i < len(rep.RecOn) {
				cellRow(&b, "on", rep.RecOn[i])
			}
			if i < len(rep.RecOff) {
				cellRow(&b, "off", rep.RecOff[i])
			}
		}
		var p99 []float64
		for _, c := range rep.RecOn {
			p99 = append(p99, c.P99Ms)
		}
		lossless := true
		for _, c := range append(append([]Cell{}, rep.RecOn...), rep.RecOff...) {
			lossless = lossless && c.lossless() && c.Unrecorded == 0
		}
		p("\nCPU-s per million deliveries, median on / median off: **%s** (target ≤ %.2f×: %s). Recording on: loss %s, relay p99 median %s ms (target ≤ %.0f ms: %s).\n",
			x2(rep.RecCPURatio), targetCPURatio, yes(rep.RecCPURatio > 0 && rep.RecCPURatio <= targetCPURatio),
			map[bool]string{true: "0 everywhere", false: "**not 0** (see rows)"}[lossless], f1(median(p99)), targetP99Ms, yes(median(p99) <= targetP99Ms && len(p99) > 0))
	}

	if len(rep.Ladder) > 0 {
		p("\n## Sustained recording: 100 boards × 20 drawing users, every move relayed to the 19 others\n\n")
		ladderTable(&b, rep.Ladder, rep.Highest)
	}
	if len(rep.Solo) > 0 {
		p("\n## No fan-out: 2000 drawing users, each alone on a board\n\n")
		p("The ladder's moves and segments at that rate with nobody to relay them to: the server only reads the moves and records them, but every commit now spans hundreds of boards (one `boards` row each). Loss and latency columns are empty: nobody receives.\n\n")
		ladderTable(&b, rep.Solo, rep.SoloHighest)
	}
	if len(rep.Profile) > 0 {
		p("\nWhere the server's CPU went under the ladder (%s, cumulative share of the samples): ", rep.ProfileFile)
		var keys []string
		for k := range rep.Profile {
			if k != "sampled" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, strings.TrimSpace(k)+" "+rep.Profile[k])
		}
		p("%s.\n", strings.Join(parts, "; "))
	}

	if w := rep.Writer; w != nil {
		p("\n## The writer alone (bench/memory writer): SQLite against the memory store, one core\n\n")
		p("Recorded-move ops over %d boards, JSON-encoded and committed as draw's writer does. SQLite file at the end: %.1f MiB.\n\n", w.Boards, float64(w.FileBytes)/(1<<20))
		p("| part | ops per commit | store | ops/s | CPU µs per op | commit p50 ms | commit p99 ms | commit max ms | other CPU-s |\n|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, pt := range w.Points {
			if pt.Mode != "batch" {
				continue
			}
			p("| back to back | %d | %s | %s | %s | %s | %s | %s | %s |\n", pt.Batch, pt.Store, f0(pt.OpsPerSec), f2(pt.CPUusPerOp), f2(pt.CommitP50ms), f2(pt.CommitP99ms), f2(pt.CommitMaxms), f1(pt.OtherCPU))
		}
		p("\n| offered ops/s | store | stored ops/s | mean ops per commit | CPU-s per s | commit p50 ms | commit p99 ms | commit max ms | max queued | refused (queue full) | other CPU-s |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, pt := range w.Points {
			if pt.Mode != "paced" {
				continue
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %s |\n", f0(pt.OfferedRate), pt.Store, f0(pt.OpsPerSec), f1(pt.MeanBatch), f2(pt.CPUSeconds/max(pt.Seconds, 1e-9)), f2(pt.CommitP50ms), f2(pt.CommitP99ms), f2(pt.CommitMaxms), pt.MaxQueued, pt.Refused, f1(pt.OtherCPU))
		}
	}

	if s := rep.Seed; s != nil {
		p("\n## Late join of a busy board\n\n")
		p("Seeded board: %d segments in %d pieces (%d strokes by %d authors, %d undos, %d redos; %d pieces visible), %d ops; ops JSON %.2f MB, history.ndjson %.2f MB uncompressed; SQLite file %.2f MB.\n\n",
			s.Segments, s.Pieces, s.Strokes, s.Authors, s.Undos, s.Redos, s.VisibleEst, s.Ops, float64(s.DataBytes)/1e6, float64(s.NDJSONBytes)/1e6, float64(s.FileBytes)/1e6)
		p("| measure | value | reference | target | |\n|---|---:|---:|---:|---|\n")
		if f := rep.Fetch; f != nil && len(f.Fetches) > 0 {
			wire := f.Fetches[0].WireBytes
			ident := int64(0)
			if f.Identity != nil {
				ident = f.Identity.WireBytes
			}
			p("| history.ndjson on the wire, gzip | %.2f MB | %.2f MB without gzip (%.2f×) | ≤ %.2f MB | %s |\n", float64(wire)/1e6, float64(ident)/1e6, float64(wire)/math.Max(1, float64(ident)), float64(targetWireBytes)/1e6, yes(wire <= targetWireBytes))
			p("| server CPU per full gzip fetch (%d fetches, /proc utime+stime) | %s ms | – | ≤ %.0f ms | %s |\n", f.N, f1(f.CPUmsPerFetch), targetFetchCPUms, yes(f.CPUmsPerFetch <= targetFetchCPUms))
			p("| one gzip fetch, warm server: first op / last byte | %s / %s ms (median) | – | – | |\n", f1(f.FirstLineMedian), f1(f.WallMsMedian))
		}
		if len(rep.FirstHist) > 0 {
			var first, last []float64
			for _, r := range rep.FirstHist {
				if len(r.Fetches) > 0 {
					first, last = append(first, r.Fetches[0].FirstLineMs), append(last, r.Fetches[0].LastByteMs)
				}
			}
			ref := "–"
			if rep.Fetch != nil {
				ref = f1(rep.Fetch.FirstLineMedian) + " ms warm"
			}
			p("| first fetch after a restart: time to first op (%d restarts: median, max) | %s, %s ms | %s | ≤ %.0f ms | %s |\n", len(first), f1(median(first)), f1(slices.Max(first)), ref, targetFirstByteMs, yes(slices.Max(first) <= targetFirstByteMs))
			p("| first fetch after a restart: last byte (median) | %s ms | – | – | |\n", f1(median(last)))
		}
		if len(rep.FirstJoin) > 0 {
			var con, syn, tot []float64
			for _, r := range rep.FirstJoin {
				con, syn, tot = append(con, r.ConnectedMs), append(syn, r.SyncedMs), append(tot, r.TotalMs)
			}
			var wcon, wsyn []float64
			for _, r := range rep.WarmJoin {
				wcon, wsyn = append(wcon, r.ConnectedMs), append(wsyn, r.SyncedMs)
			}
			p("| first socket join after a restart (loads the board): connect acknowledged / synced (median of %d) | %s / %s ms | %s / %s ms on a warm server | – | |\n", len(con), f1(median(con)), f1(median(syn)), f1(median(wcon)), f1(median(wsyn)))
			p("| the same join, then the history as the page fetches it: last byte (median) | %s ms | – | – | |\n", f1(median(tot)))
		}
		var notes []string
		notes = append(notes, browserRow(&b, "Chromium with one CPU of its own", rep.Browser1CPU)...)
		notes = append(notes, browserRow(&b, "Chromium free to use both CPUs", rep.Browser)...)
		if rep.SeedPlain != nil {
			notes = append(notes, browserRow(&b, fmt.Sprintf("reference: the same kind of drawing without undos or redos (%d pieces), Chromium free", rep.SeedPlain.Pieces), rep.BrowserRef)...)
		}
		for _, n := range notes {
			p("\n%s\n", n)
		}
	}
	return b.Bytes()
}

// browserRow writes the table row of one latejoin.mjs result and returns
// the notes to print under the table.
func browserRow(b *bytes.Buffer, label string, raw json.RawMessage) (notes []string) {
	if len(raw) == 0 {
		return nil
	}
	var br struct {
		OK     bool     `json:"ok"`
		Error  string   `json:"error"`
		Median *float64 `json:"complete_ms_median"`
		Max    *float64 `json:"complete_ms_max"`
		Errors []string `json:"errors"`
		Runs   []struct {
			Complete  float64  `json:"complete_ms"`
			How       string   `json:"how"`
			Connected *float64 `json:"socket_connected_ms"`
			Applied   *float64 `json:"log_applied_ms"`
			Load      *float64 `json:"load"`
			HistStart *float64 `json:"history_start"`
			HistEnd   *float64 `json:"history_end"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(raw, &br); err != nil {
		return nil
	}
	if br.Median == nil {
		fmt.Fprintf(b, "| %s: navigation → canvas complete | failed: %s | – | ≤ %.0f ms | **not measured** |\n", label, br.Error, targetCompleteMs)
		return nil
	}
	var detail []string
	for _, r := range br.Runs {
		d := fmt.Sprintf("%.0f ms (%s", r.Complete, r.How)
		if r.Load != nil {
			d += fmt.Sprintf("; page loaded at %.0f", *r.Load)
		}
		if r.Connected != nil {
			d += fmt.Sprintf(", socket connected %.0f", *r.Connected)
		}
		if r.HistStart != nil && r.HistEnd != nil {
			d += fmt.Sprintf(", history fetched %.0f–%.0f", *r.HistStart, *r.HistEnd)
		}
		if r.Applied != nil {
			d += fmt.Sprintf(", log applied %.0f", *r.Applied)
		}
		detail = append(detail, d+")")
	}
	ok := *br.Max <= targetCompleteMs && br.OK
	fmt.Fprintf(b, "| %s: navigation → canvas complete (%d runs: median, max) | %.0f, %.0f ms | – | ≤ %.0f ms | %s |\n", label, len(br.Runs), *br.Median, *br.Max, targetCompleteMs, yes(ok))
	note := label + ": " + strings.Join(detail, "; ") + "."
	if len(br.Errors) > 0 {
		note += " Errors: " + strings.Join(br.Errors, "; ") + "."
	}
	return []string{note}
}

func ladderTable(b *bytes.Buffer, rungs []Rung, highest int) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("| segments/s nominal | recording | offered seg/s | stored/s | commits/s | ops/commit | commit p50 ms | commit p99 ms | commits > 50 ms | unrecorded | relay loss %% | p50 ms | p99 ms | deliveries/s | server CPU-s/s | other CPU-s | sustained | relay latency as without recording |\n")
	p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rungs {
		for i, c := range append(append([]Cell{}, r.On...), r.Off...) {
			sus, relay := "", ""
			if c.Recording {
				sus = map[bool]string{true: "yes", false: "**no**"}[c.lossless() && c.recorded()]
				if i == 0 && len(r.On) > 1 {
					sus += fmt.Sprintf(" (rung: %d of %d runs)", r.SustainedRuns, len(r.On))
				}
				if i == 0 && len(r.Off) > 0 && c.Deliveries > 0 {
					relay = map[bool]string{true: "yes", false: "**no**"}[r.RelayUnaffected]
				}
			}
			storage := []string{f0(c.StoredPerSecond), f0(c.CommitsPerSecond), f1(c.OpsPerCommit), f2(c.CommitP50Ms), f2(c.CommitP99Ms), f0(c.CommitsOver50ms), f0(c.Unrecorded)}
			switch {
			case !c.Recording:
				storage = []string{"–", "–", "–", "–", "–", "–", "–"}
			case c.ServerMetricsError != "":
				storage = []string{"metrics not read", "–", "–", "–", "–", "–", "–"}
			case c.ScrapeMs > 1000:
				storage[0] += fmt.Sprintf(" (metrics read in %.1f s)", c.ScrapeMs/1000)
			}
			p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Nominal, map[bool]string{true: "on", false: "off"}[c.Recording],
				f0(c.SegmentsOffered), strings.Join(storage, " | "), f2(c.LossPercent), f1(c.P50Ms), f1(c.P99Ms), f0(c.Deliveries), f2(c.CPUPerSecond), f1(c.OtherCPUSeconds), sus, relay)
		}
		if len(r.On) > 0 && len(r.Off) > 0 {
			what := "**on / off**"
			if len(r.On)+len(r.Off) > 2 {
				what = "**on / off, medians**"
			}
			p("| | %s | | | | | | | | | | **%s** | **%s** | | **%s** | | | |\n", what, x2(r.P50Ratio), x2(r.P99Ratio), x2(r.CPURatio))
		}
	}
	if highest > 0 {
		p("\nHighest sustained in every run (nothing lost, everything stored, commit p99 ≤ 50 ms): **%d segments/s nominal**.", highest)
	} else {
		p("\nNo rung was sustained.")
	}
	relayOK := 0
	for _, r := range rungs {
		if r.Sustained && r.RelayUnaffected {
			relayOK = r.Nominal
		}
	}
	if relayOK > 0 {
		p(" Highest sustained with the relay's median p50 and p99 within 1.25× or 10 ms of recording off: **%d segments/s nominal**.", relayOK)
	}
	p("\n")
}

func cellHeader(b *bytes.Buffer) {
	b.WriteString("| recording | connected | deliveries/s | loss % | p50 ms | p99 ms | max ms | server CPU-s | CPU-s per M deliveries | RSS peak MiB | stored/s | commits/s | commit p99 ms | unrecorded | other CPU-s |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
}

func cellRow(b *bytes.Buffer, label string, c Cell) {
	fmt.Fprintf(b, "| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, c.Connected, c.Clients,
		f0(c.Deliveries), f2(c.LossPercent), f2(c.P50Ms), f2(c.P99Ms), f2(c.MaxMs), f2(c.CPUSeconds), f2(c.CPUPerM), f0(c.RSSPeakMiB),
		f0(c.StoredPerSecond), f0(c.CommitsPerSecond), f2(c.CommitP99Ms), f0(c.Unrecorded), f2(c.OtherCPUSeconds))
}
