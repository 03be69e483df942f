package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// cmdReport gathers bench/app.sh's raw cells into app.json and app.md.
func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	raw := fs.String("raw", "bench/results/raw/app", "directory of the cells' JSON")
	out := fs.String("out", "bench/results", "where app.md and app.json go")
	commit := fs.String("commit", "unknown", "commit measured")
	fs.Parse(args)

	load := func(pattern string) map[string]json.RawMessage {
		m := map[string]json.RawMessage{}
		files, _ := filepath.Glob(filepath.Join(*raw, pattern))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err == nil && json.Valid(b) {
				m[strings.TrimSuffix(filepath.Base(f), ".json")] = b
			}
		}
		return m
	}
	conn := map[string]connectResult{}
	for k, b := range load("connect-*.json") {
		var r connectResult
		json.Unmarshal(b, &r)
		conn[k] = r
	}
	api := map[string]apiResult{}
	for k, b := range load("api-*.json") {
		var r apiResult
		json.Unmarshal(b, &r)
		api[k] = r
	}
	mem := map[string]memResult{}
	for k, b := range load("mem-*.json") {
		var r memResult
		json.Unmarshal(b, &r)
		mem[k] = r
	}

	var md strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&md, format, a...) }
	host, _ := os.Hostname()
	p("# Apps: tokens, API, feed\n\n")
	p("Run of %s on %s (%d CPUs), commit %s, by `bench/app.sh` (docs/BENCHMARK.md, \"Apps: tokens, API, feed\"). ",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), *commit)
	p("Server on CPU 0, tool on CPU 1; every cell a fresh server. *CPU 0 other* is the CPU time other processes took on the server's core during the window: the machine is shared, so compare cells of one run, as ratios.\n\n")

	summary := map[string]any{}

	// 1. Connect churn.
	p("## 1. Token check at CONNECT: server CPU per connection at ~1000 connections/s\n\n")
	p("Each connection: websocket, Engine.IO open, socket.io CONNECT (with `auth {token}` or without), the CONNECT answer, DISCONNECT, close. The server has `-token-secret` in both.\n\n")
	p("| pair | token | connections | conn/s | failed | server CPU-s | server cores | CPU µs per connection | handshake p50 ms | p99 ms | CPU 0 other CPU-s |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var ratios []float64
	for k := 1; ; k++ {
		t, ok1 := conn[fmt.Sprintf("connect-tok-%d", k)]
		n, ok2 := conn[fmt.Sprintf("connect-none-%d", k)]
		if !ok1 && !ok2 {
			break
		}
		for _, r := range []connectResult{n, t} {
			if r.Kind == "" {
				continue
			}
			p("| %d | %s | %d | %.0f | %d | %.2f | %.3f | %.1f | %.2f | %.2f | %.2f |\n", k, map[bool]string{true: "yes", false: "no"}[r.Token],
				r.Connections, r.ConnPerS, r.Failed, r.ServerCPUS, r.ServerCores, r.CPUPerConnUs, r.Handshake.P50Ms, r.Handshake.P99Ms, r.CPU0OtherS)
		}
		if ok1 && ok2 && n.CPUPerConnUs > 0 {
			ratios = append(ratios, t.CPUPerConnUs/n.CPUPerConnUs)
		}
	}
	var ver verifyResult
	if b, err := os.ReadFile(filepath.Join(*raw, "verify.json")); err == nil && json.Unmarshal(b, &ver) == nil && ver.N > 0 {
		var none []float64
		for k, r := range conn {
			if strings.HasPrefix(k, "connect-none-") {
				none = append(none, r.CPUPerConnUs)
			}
		}
		p("\nCross-check: one token check alone (`jwt.Verifier.Verify` of the same token in a loop on CPU 0, %d times) costs %.2f µs of CPU: %.1f %% of the median CPU per connection without a token (%.1f µs).\n",
			ver.N, ver.CPUPerUs, 100*ver.CPUPerUs/median(none), median(none))
		summary["verify_cpu_us"] = ver.CPUPerUs
	}
	if len(ratios) > 0 {
		med := median(ratios)
		p("\nCPU per connection, token ÷ no token, pair by pair: %s; **median %.3f** (%+.1f %%). Target ≤ 1.05: **%s**.\n\n",
			fmtList(ratios, 3), med, (med-1)*100, met(med <= 1.05))
		summary["connect_ratios"] = ratios
		summary["connect_ratio_median"] = round(med, 4)
		summary["connect_target_met"] = med <= 1.05
	}

	// 2. API draw throughput.
	p("## 2. API draw throughput with 1000 watchers\n\n")
	p("Requests of N strokes (2 points each) from C callers, each its own `draw` token (the limit is 50 requests/s per caller), paced open-loop; the watchers are socket.io clients that `sync` on the board and count every `ops` they get (every seq, no gap, no duplicate). Reference in the same run: the same requests with 1 watcher (the board stays open; no fan-out); and once with 0 watchers (nobody on the board). Default SQLite store (fresh file). Latencies: *API* = request sent → response; *delivery* = request sent → op at a watcher; *commit* = `draw_store_commit_seconds` over the window.\n\n")
	p("| cell | watchers | callers × req/s × N | offered strokes/s | stored strokes/s | 429s | errors | server cores | CPU 0 other CPU-s | tester cores | API p50 / p99 ms | commit p50 / p99 ms (n) | delivery p50 / p99 / max ms | loss %% | dropped watchers | frames/s per watcher |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|\n")
	keys := make([]string, 0, len(api))
	for k := range api {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var apiOK []bool
	for _, k := range keys {
		r := api[k]
		p("| %s | %d/%d | %d × %g × %d | %.0f | %.0f | %d | %d | %.3f | %.2f | %.3f | %.1f / %.1f | %.2f / %.1f (%.0f) | %s | %s | %d | %.1f |\n", k, r.WatchersUp, r.Watchers,
			r.Callers, r.RatePerCaller, r.StrokesPerReq, r.OfferedStrokesS, r.StrokesPerS, r.Status429, r.OtherErrors, r.ServerCores, r.CPU0OtherS, r.TesterCores,
			r.API.P50Ms, r.API.P99Ms, r.Commit.P50Ms, r.Commit.P99Ms, r.Commit.Count,
			dash(r.Watchers > 0, fmt.Sprintf("%.1f / %.1f / %.1f", r.Delivery.P50Ms, r.Delivery.P99Ms, r.Delivery.MaxMs)),
			dash(r.Watchers > 0, fmt.Sprintf("%.4f", r.LossPct)), r.WatchersDropped, r.FramesPerWS)
		if r.Watchers > 0 {
			apiOK = append(apiOK, r.StrokesPerS >= 5000 && r.LossPct == 0 && r.WatchersDropped == 0)
		}
	}
	var fan, zero []float64
	for k := 1; ; k++ {
		a, ok1 := api[fmt.Sprintf("api-w1000-%d", k)]
		b, ok2 := api[fmt.Sprintf("api-w1-%d", k)]
		if !ok1 || !ok2 {
			break
		}
		if b.ServerCores > 0 {
			fan = append(fan, a.ServerCores/b.ServerCores)
		}
		if z, ok := api[fmt.Sprintf("api-w0-%d", k)]; ok && b.ServerCores > 0 {
			zero = append(zero, z.ServerCores/b.ServerCores)
		}
	}
	if len(fan) > 0 {
		p("\nServer CPU, 1000 watchers ÷ 1 watcher, pair by pair: %s (median %.2f).", fmtList(fan, 2), median(fan))
		summary["api_fanout_cpu_ratios"] = fan
	}
	if len(zero) > 0 {
		p(" Nobody on the board ÷ 1 watcher: %s: each request reloads the board's whole log (see the profile).", fmtList(zero, 2))
		summary["api_nobody_cpu_ratios"] = zero
	}
	p("\n")
	allOK := len(apiOK) > 0
	for _, ok := range apiOK {
		allOK = allOK && ok
	}
	p("\nTarget ≥ 5,000 strokes/s on one core, live to 1000 watchers with no loss, in every 1000-watcher cell: **%s**.\n\n", met(allOK))
	summary["api_target_met"] = allOK

	// 3. Memory.
	p("## 3. Memory: SSE readers against websocket clients, 1000 on one board\n\n")
	p("Fresh server per cell; samples after a forced GC (`/debug/pprof/heap?gc=1`): before the first connection, after 3 s idle, and after 10 API requests of 10 strokes (every reader must get all 100 ops). Per connection = (sample − before) ÷ connections. Each connection brings its own `view` token (SSE: `Authorization: Bearer`; websocket: `auth {token}`, then `sync`).\n\n")
	p("| cell | up | ops got/expected | lost | idle: RSS B/conn | heap B/conn | stack B/conn | heap+stack B/conn | goroutines/conn | after strokes: RSS B/conn | heap+stack B/conn |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	keys = keys[:0]
	for k := range mem {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := mem[k]
		p("| %s | %d/%d | %d/%d | %d | %.0f | %.0f | %.0f | %.0f | %.2f | %.0f | %.0f |\n", k, r.Up, r.N, r.OpsGot, r.OpsWant, r.Lost,
			r.PerIdle.RSS, r.PerIdle.HeapInuse, r.PerIdle.StackInuse, r.PerIdle.HeapStack, r.PerIdle.Goroutines, r.PerAfter.RSS, r.PerAfter.HeapStack)
	}
	var hsR, rssR []float64
	for k := 1; ; k++ {
		s, ok1 := mem[fmt.Sprintf("mem-sse-%d", k)]
		w, ok2 := mem[fmt.Sprintf("mem-ws-%d", k)]
		if !ok1 || !ok2 {
			break
		}
		if w.PerAfter.HeapStack > 0 {
			hsR = append(hsR, s.PerAfter.HeapStack/w.PerAfter.HeapStack)
		}
		if w.PerAfter.RSS > 0 {
			rssR = append(rssR, s.PerAfter.RSS/w.PerAfter.RSS)
		}
	}
	if len(hsR) > 0 {
		p("\nSSE reader ÷ websocket client, after strokes, pair by pair: heap+stack %s (median %.2f), RSS %s (median %.2f). Target ≤ 1: **%s**.\n",
			fmtList(hsR, 2), median(hsR), fmtList(rssR, 2), median(rssR), met(median(hsR) <= 1 && median(rssR) <= 1))
		summary["mem_heapstack_ratios"] = hsR
		summary["mem_rss_ratios"] = rssR
		summary["mem_target_met"] = median(hsR) <= 1 && median(rssR) <= 1
	}

	all := map[string]any{"commit": *commit, "date": time.Now().UTC().Format(time.RFC3339), "host": host, "cpus": runtime.NumCPU(),
		"connect": conn, "api": api, "mem": mem, "summary": summary}
	b, _ := json.MarshalIndent(all, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "app.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "app.md"), []byte(md.String()), 0o644)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtList(v []float64, d int) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.*f", d, x)
	}
	return strings.Join(parts, ", ")
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func dash(ok bool, s string) string {
	if ok {
		return s
	}
	return "–"
}
