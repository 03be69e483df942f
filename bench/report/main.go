// Command report turns the benchmark's raw load-test results into
// bench/results/{results.json,results.md,chart.svg}. bench/run.sh calls it.
//
//	report line FILE                one line summarising one raw result
//	report check FILE               exit 1 if the run lost connections
//	report quiet FILE SECONDS       exit 1 if other processes used more CPU-s than that in its window
//	report build -raw DIR -out DIR  the table, the JSON and the chart
//	report cluster -raw DIR -out DIR  several nodes: cluster.md and cluster.json
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drawing/draw/loadtest"
)

// servers in the order they appear everywhere. ours-fixed is our server
// with -flush-fixed: the whole gathering window at every load, as before
// adaptive gathering (fan-out cells only).
var servers = []string{"ours", "ours-fixed", "node"}

// cellLabels finds the cells in rawDir (files are <server>-<label>.json) in
// table order: fan-out by size, then polling, then idle.
func cellLabels(rawDir string) ([]string, error) {
	seen := map[string]bool{}
	for _, s := range servers {
		files, err := filepath.Glob(filepath.Join(rawDir, s+"-*.json"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			// "ours-*" also matches ours-fixed's files; their labels
			// ("fixed-ws-100") do not parse and drop out below.
			seen[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), s+"-"), ".json")] = true
		}
	}
	var labels []string
	for l := range seen {
		if _, _, ok := parseLabel(l); ok {
			labels = append(labels, l)
		}
	}
	rank := map[string]int{"ws": 0, "poll10": 1, "idle": 2}
	sort.Slice(labels, func(i, j int) bool {
		ki, ni, _ := parseLabel(labels[i])
		kj, nj, _ := parseLabel(labels[j])
		if rank[ki] != rank[kj] {
			return rank[ki] < rank[kj]
		}
		if ni != nj {
			return ni < nj
		}
		return labels[i] < labels[j]
	})
	return labels, nil
}

// parseLabel splits "ws-1000", "poll10-1000", "idle-10000" or
// "idle-10000-b100" into kind and clients.
func parseLabel(l string) (kind string, clients int, ok bool) {
	parts := strings.Split(l, "-")
	if len(parts) < 2 {
		return "", 0, false
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil {
		return "", 0, false
	}
	switch parts[0] {
	case "ws", "poll10", "idle":
		return parts[0], n, true
	}
	return "", 0, false
}

// cellTitle says what a label means in the table.
func cellTitle(l string) string {
	kind, n, _ := parseLabel(l)
	switch {
	case kind == "ws":
		return fmt.Sprintf("%d clients", n)
	case kind == "poll10":
		return fmt.Sprintf("%d clients, 10%% long-polling", n)
	case strings.HasSuffix(l, "-b100"):
		return fmt.Sprintf("%d idle clients, 100 boards", n)
	default:
		return fmt.Sprintf("%d idle clients, one board", n)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: report line FILE | report check FILE | report build -raw DIR -out DIR")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "line":
		if len(os.Args) != 3 {
			err = errors.New("usage: report line FILE")
			break
		}
		err = summaryLine(os.Args[2], os.Stdout)
	case "check":
		// Exit 1 if a run lost connections, which on a shared machine
		// usually means the server was disturbed; run.sh retries once.
		if len(os.Args) != 3 {
			err = errors.New("usage: report check FILE")
			break
		}
		var r *loadtest.Result
		if r, err = load(os.Args[2]); err == nil && r.Failed+r.Dropped > 0 {
			fmt.Printf("%d failed and %d dropped connections", r.Failed, r.Dropped)
			os.Exit(1)
		}
	case "quiet":
		// Exit 1 if other work on the machine took more than the given CPU
		// seconds during the window: run.sh runs such a cell once more.
		if len(os.Args) != 4 {
			err = errors.New("usage: report quiet FILE SECONDS")
			break
		}
		var limit float64
		if limit, err = strconv.ParseFloat(os.Args[3], 64); err != nil {
			break
		}
		var r *loadtest.Result
		if r, err = load(os.Args[2]); err == nil && r.OtherCPUSeconds > limit {
			fmt.Printf("other processes used %.1f CPU-s in the window", r.OtherCPUSeconds)
			os.Exit(1)
		}
	case "build":
		fs := flag.NewFlagSet("build", flag.ExitOnError)
		raw := fs.String("raw", "bench/results/raw", "directory of raw results")
		out := fs.String("out", "bench/results", "directory for results.json, results.md and chart.svg")
		commit := fs.String("commit", "", "the commit the measured server was built from (default: git describe now)")
		fs.Parse(os.Args[2:])
		err = build(*raw, *out, *commit)
	case "cluster":
		fs := flag.NewFlagSet("cluster", flag.ExitOnError)
		raw := fs.String("raw", "bench/results/raw/cluster", "directory of the cluster cells' raw results")
		out := fs.String("out", "bench/results", "directory for cluster.json and cluster.md")
		commit := fs.String("commit", "", "the commit the measured server was built from (default: git describe now)")
		fs.Parse(os.Args[2:])
		err = buildCluster(*raw, *out, *commit)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func load(path string) (*loadtest.Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r loadtest.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &r, nil
}

func summaryLine(path string, w io.Writer) error {
	r, err := load(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d/%d connected in %.1fs, %.0f deliveries/s, loss %.2f%%, p50 %.1f ms, p99 %.1f ms",
		r.Connected, r.Clients, r.ConnectSeconds, r.DeliveriesPerSecond, r.LossPercent, r.Latency.P50Ms, r.Latency.P99Ms)
	if s := r.Server; s != nil {
		fmt.Fprintf(w, ", server %.2f CPU-s, RSS %.0f MiB", s.CPUSeconds, float64(s.RSSPeakKiB)/1024)
	}
	fmt.Fprintf(w, ", tester %.2f cores, other processes %.2f CPU-s\n", r.TesterCPUCores, r.OtherCPUSeconds)
	return nil
}

// Cell is one row of the benchmark: the same load against each server.
type Cell struct {
	Label   string                      `json:"label"`
	Title   string                      `json:"title"`
	Results map[string]*loadtest.Result `json:"results"`
	// Ratios are ours / node for the headline numbers.
	Ratios map[string]float64 `json:"ratios_ours_over_node,omitempty"`
	// FixedRatios are ours / ours-fixed: what adaptive gathering costs or
	// saves against the whole window at every load.
	FixedRatios map[string]float64 `json:"ratios_ours_over_fixed,omitempty"`
	// CarriedFrom, when set, says this cell was not measured in this run
	// but kept from an earlier results.json (say, idle cells in a run with
	// BENCH_SKIP_IDLE=1): "<generated> at commit <commit>".
	CarriedFrom string `json:"carried_from,omitempty"`
}

// Report is results.json.
type Report struct {
	Generated time.Time         `json:"generated"`
	Machine   map[string]string `json:"machine"`
	Cells     []Cell            `json:"cells"`
	Profile   string            `json:"profile,omitempty"`
	Memory    string            `json:"memory,omitempty"` // boards that remember: memory.md beside this
}

func build(rawDir, outDir, commit string) error {
	rep := Report{Generated: time.Now().UTC().Truncate(time.Second), Machine: machine()}
	if commit != "" {
		rep.Machine["commit"] = commit
	}
	labels, err := cellLabels(rawDir)
	if err != nil {
		return err
	}
	for _, label := range labels {
		c := Cell{Label: label, Title: cellTitle(label), Results: map[string]*loadtest.Result{}}
		for _, s := range servers {
			r, err := load(filepath.Join(rawDir, s+"-"+label+".json"))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			c.Results[s] = r
		}
		if len(c.Results) == 0 {
			continue
		}
		c.Ratios = ratios(c.Results["ours"], c.Results["node"])
		c.FixedRatios = fixedRatios(c.Results["ours"], c.Results["ours-fixed"])
		rep.Cells = append(rep.Cells, c)
	}
	if len(rep.Cells) == 0 {
		return fmt.Errorf("no raw results in %s", rawDir)
	}
	if err := carryIdle(&rep, filepath.Join(outDir, "results.json")); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(outDir, "profile-ours-1000.txt")); err == nil {
		rep.Profile = "profile-ours-1000.txt"
	}
	if _, err := os.Stat(filepath.Join(outDir, "memory.md")); err == nil {
		rep.Memory = "memory.md"
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "results.md"), markdown(rep), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "chart.svg"), chart(rep), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, "latency.svg"), latencyChart(rep), 0o644)
}

// carryIdle keeps the idle cells of the previous results.json at path when
// this run measured none (BENCH_SKIP_IDLE=1), so that a fan-out-only run
// does not wipe them; each says where it came from.
func carryIdle(rep *Report, path string) error {
	for _, c := range rep.Cells {
		if strings.HasPrefix(c.Label, "idle") {
			return nil
		}
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var prev Report
	if err := json.Unmarshal(b, &prev); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	for _, c := range prev.Cells {
		if !strings.HasPrefix(c.Label, "idle") || len(c.Results) == 0 {
			continue
		}
		if c.CarriedFrom == "" {
			c.CarriedFrom = prev.Generated.Format(time.RFC3339) + " at commit " + prev.Machine["commit"]
		}
		rep.Cells = append(rep.Cells, c)
	}
	return nil
}

// fixedRatios are ours / ours-fixed: CPU per delivery and latency.
func fixedRatios(ours, fixed *loadtest.Result) map[string]float64 {
	if ours == nil || fixed == nil {
		return nil
	}
	m := map[string]float64{}
	put := func(k string, a, b float64) {
		if b > 0 && a >= 0 {
			m[k] = math.Round(a/b*1000) / 1000
		}
	}
	put("p50", ours.Latency.P50Ms, fixed.Latency.P50Ms)
	put("p99", ours.Latency.P99Ms, fixed.Latency.P99Ms)
	if ours.Server != nil && fixed.Server != nil {
		put("cpu_seconds_per_million", ours.Server.CPUSecondsPerMillion, fixed.Server.CPUSecondsPerMillion)
	}
	return m
}

func ratios(ours, node *loadtest.Result) map[string]float64 {
	if ours == nil || node == nil {
		return nil
	}
	m := map[string]float64{}
	put := func(k string, a, b float64) {
		if b > 0 && a >= 0 {
			m[k] = math.Round(a/b*1000) / 1000
		}
	}
	put("deliveries_per_second", ours.DeliveriesPerSecond, node.DeliveriesPerSecond)
	put("p50", ours.Latency.P50Ms, node.Latency.P50Ms)
	put("p99", ours.Latency.P99Ms, node.Latency.P99Ms)
	if ours.Server != nil && node.Server != nil {
		put("cpu_seconds_per_million", ours.Server.CPUSecondsPerMillion, node.Server.CPUSecondsPerMillion)
		put("rss_peak", float64(ours.Server.RSSPeakKiB), float64(node.Server.RSSPeakKiB))
		put("rss_per_connection", ours.Server.RSSPerConnectionKiB, node.Server.RSSPerConnectionKiB)
	}
	return m
}

// machine describes where the numbers come from.
func machine() map[string]string {
	m := map[string]string{"go": runtime.Version(), "cpus": fmt.Sprint(runtime.NumCPU())}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("node", "--version").Output(); err == nil {
		m["node"] = strings.TrimSpace(string(b))
	}
	// The server changes often: say which one was measured.
	if b, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m["commit"] = strings.TrimSpace(string(b))
	}
	return m
}

func markdown(rep Report) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Benchmark results\n\nGenerated %s by `make bench` at commit %s on %s CPUs (%s), kernel %s, %s, Node %s.\n",
		rep.Generated.Format(time.RFC3339), rep.Machine["commit"], rep.Machine["cpus"], rep.Machine["cpu"], rep.Machine["kernel"], rep.Machine["go"], rep.Machine["node"])
	b.WriteString("Server pinned to CPU 0, load tester to CPU 1. See docs/BENCHMARK.md for the method. ")
	b.WriteString("**ours-fixed** is our server with `-flush-fixed`: the whole 16 ms gathering window at every load, as before adaptive gathering.\n\n")

	b.WriteString("## Fan-out: 10 senders × 20 moves/s, every move to every other client\n\n")
	b.WriteString("| clients | server | connected | offered/s | deliveries/s | loss % | p50 ms | p99 ms | max ms | server CPU-s | CPU-s per M deliveries | server RSS peak MiB | tester cores | other CPU-s |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range rep.Cells {
		if strings.HasPrefix(c.Label, "idle") {
			continue
		}
		for _, s := range servers {
			r := c.Results[s]
			if r == nil {
				continue
			}
			offered := r.EmitsPerSecond * float64(r.Connected-1)
			cpu, perM, rss := "–", "–", "–"
			if r.Server != nil {
				cpu = fmt.Sprintf("%.2f", r.Server.CPUSeconds)
				perM = fmt.Sprintf("%.2f", r.Server.CPUSecondsPerMillion)
				rss = fmt.Sprintf("%.0f", float64(r.Server.RSSPeakKiB)/1024)
			}
			fmt.Fprintf(&b, "| %s | %s | %d/%d | %.0f | %.0f | %.2f | %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n",
				c.Title, s, r.Connected, r.Clients, offered, r.DeliveriesPerSecond, r.LossPercent,
				ms(r.Latency.P50Ms), ms(r.Latency.P99Ms), ms(r.Latency.MaxMs), cpu, perM, rss, r.TesterCPUCores, r.OtherCPUSeconds)
		}
		if len(c.Ratios) > 0 {
			fmt.Fprintf(&b, "| | **ours / node** | | | **%s** | | **%s** | **%s** | | | **%s** | **%s** | | |\n",
				ratio(c.Ratios, "deliveries_per_second"), ratio(c.Ratios, "p50"), ratio(c.Ratios, "p99"),
				ratio(c.Ratios, "cpu_seconds_per_million"), ratio(c.Ratios, "rss_peak"))
		}
		if len(c.FixedRatios) > 0 {
			fmt.Fprintf(&b, "| | **ours / ours-fixed** | | | | | **%s** | **%s** | | | **%s** | | | |\n",
				ratio(c.FixedRatios, "p50"), ratio(c.FixedRatios, "p99"), ratio(c.FixedRatios, "cpu_seconds_per_million"))
		}
	}
	b.WriteString("\n![p50 and p99 latency against clients, ours, ours-fixed and Node](latency.svg)\n")

	b.WriteString("\n## Idle connections: memory per connection\n\n")
	carried := map[string]bool{}
	for _, c := range rep.Cells {
		if strings.HasPrefix(c.Label, "idle") && c.CarriedFrom != "" {
			carried[c.CarriedFrom] = true
		}
	}
	for from := range carried {
		fmt.Fprintf(&b, "Not measured in this run (`BENCH_SKIP_IDLE=1`): kept from the run of %s.\n\n", from)
	}
	b.WriteString("| cell | server | connected | connect time s | RSS before MiB | RSS connected MiB | RSS end MiB | KiB per connection | server CPU-s while idle |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range rep.Cells {
		if !strings.HasPrefix(c.Label, "idle") {
			continue
		}
		for _, s := range servers {
			r := c.Results[s]
			if r == nil || r.Server == nil {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %d/%d | %.1f | %.0f | %.0f | %.0f | %.1f | %.2f |\n",
				c.Title, s, r.Connected, r.Clients, r.ConnectSeconds, mib(r.Server.RSSBaselineKiB),
				mib(r.Server.RSSConnectedKiB), mib(r.Server.RSSEndKiB), r.Server.RSSPerConnectionKiB, r.Server.CPUSeconds)
		}
		if len(c.Ratios) > 0 {
			fmt.Fprintf(&b, "| | **ours / node** | | | | | | **%s** | |\n", ratio(c.Ratios, "rss_per_connection"))
		}
	}

	b.WriteString("\n## Correctness during the runs\n\n")
	b.WriteString("| cell | server | failed | dropped | out of order | duplicates | self-echoes | wrong ids | rejected | send errors |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range rep.Cells {
		for _, s := range servers {
			if r := c.Results[s]; r != nil {
				fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", c.Title, s, r.Failed, r.Dropped,
					r.OutOfOrder, r.Duplicates, r.SelfEchoes, r.WrongID, r.Rejected, r.SendErrors)
			}
		}
	}
	b.WriteString("\n![deliveries per second and p99 latency against clients](chart.svg)\n")
	if rep.Profile != "" {
		fmt.Fprintf(&b, "\nCPU profile of our server at 1000 clients: [%s](%s).\n", rep.Profile, rep.Profile)
	}
	if rep.Memory != "" {
		fmt.Fprintf(&b, "\nBoards that remember (recording on against off, sustained recording, late join): [%s](%s).\n", rep.Memory, rep.Memory)
	}
	return b.Bytes()
}

func ms(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func ratio(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return fmt.Sprintf("%.2f×", v)
	}
	return "–"
}
