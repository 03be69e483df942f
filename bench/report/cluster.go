package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drawing/draw/loadtest"
)

// Several nodes (bench/cluster.sh): per repeat K, single-K (one node,
// SQLite), redis1-K (one node on Redis) and cluster-K (two nodes and a
// redis-server), each with its load test's JSON, and for the Redis cells
// INFO before and after (LABEL.redis-before.txt, LABEL.redis-after.txt) and
// for the cluster the nodes' queue lengths sampled every 200 ms
// (LABEL.queue.txt, "URL value" lines).

// ClusterCell is one cell's numbers; CPU is the window's.
type ClusterCell struct {
	Label  string           `json:"label"`
	Kind   string           `json:"kind"` // single, redis1, cluster
	Repeat int              `json:"repeat"`
	Result *loadtest.Result `json:"result"`

	NodesCPUSeconds         float64 `json:"nodes_cpu_seconds"`
	NodesCPUPerMillion      float64 `json:"nodes_cpu_seconds_per_million_deliveries"`
	RedisCPUSeconds         float64 `json:"redis_cpu_seconds,omitempty"` // /proc, over the window
	BatchesPublished        float64 `json:"batches_published,omitempty"` // draw_cluster_batches_published_total, summed, window
	RedisCPUPerKPublishes   float64 `json:"redis_cpu_ms_per_thousand_publishes,omitempty"`
	MovesPerBatch           float64 `json:"moves_per_batch,omitempty"` // in-window moves ÷ batches (batches also carry ops, joins, heartbeats)
	PublishP99Ms            float64 `json:"publish_p99_ms,omitempty"`
	ClusterDeliveries       float64 `json:"cluster_deliveries,omitempty"`
	Gaps                    float64 `json:"gaps"`
	Dropped                 float64 `json:"dropped"`
	Errors                  float64 `json:"errors"`
	QueuePeak               float64 `json:"queue_peak"`      // largest draw_cluster_queue seen on any node
	QueueSamples            int     `json:"queue_samples"`   // how many readings that is of
	RedisRun                *Redis  `json:"redis,omitempty"` // INFO deltas over the whole run
	CrossMinusSameP50Ms     float64 `json:"cross_minus_same_p50_ms,omitempty"`
	CPURatioToSingle        float64 `json:"cpu_ratio_to_single,omitempty"`
	CPURatioToRedisOneNode  float64 `json:"cpu_ratio_to_redis_one_node,omitempty"`
	ServerLogWarningsErrors int     `json:"server_log_warnings_errors"`
}

// Redis is what INFO said changed over a whole run (connect to drain).
type Redis struct {
	Seconds           float64 `json:"seconds"`
	CPUSeconds        float64 `json:"cpu_seconds"`
	Commands          float64 `json:"commands"`
	PublishCalls      float64 `json:"publish_calls"`
	PublishUsecPerCal float64 `json:"publish_usec_per_call"`
	CPUPerKPublishes  float64 `json:"cpu_ms_per_thousand_publishes"`
	NetInputBytes     float64 `json:"net_input_bytes"`
	NetOutputBytes    float64 `json:"net_output_bytes"`
	InBytesPerPublish float64 `json:"input_bytes_per_publish"`
	PubsubChannels    float64 `json:"pubsub_channels"`
	PubsubPatterns    float64 `json:"pubsub_patterns"`
	// Top lists the commands by calls over the run: "name calls usec_per_call".
	Top []string `json:"top_commands"`
}

// ClusterReport is cluster.json.
type ClusterReport struct {
	Generated time.Time         `json:"generated"`
	Machine   map[string]string `json:"machine"`
	Cells     []ClusterCell     `json:"cells"`
	Profiles  []string          `json:"profiles,omitempty"`
}

func buildCluster(rawDir, outDir, commit string) error {
	rep := ClusterReport{Generated: time.Now().UTC().Truncate(time.Second), Machine: machine()}
	if commit != "" {
		rep.Machine["commit"] = commit
	}
	if b, err := exec.Command("redis-server", "--version").Output(); err == nil {
		rep.Machine["redis"] = strings.TrimSpace(string(b))
	}
	files, err := filepath.Glob(filepath.Join(rawDir, "*-*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		label := strings.TrimSuffix(filepath.Base(f), ".json")
		kind, k, ok := strings.Cut(label, "-")
		n, err := strconv.Atoi(k)
		if !ok || err != nil || (kind != "single" && kind != "redis1" && kind != "cluster") {
			continue
		}
		r, err := load(f)
		if err != nil {
			return err
		}
		c := clusterCell(rawDir, label, kind, n, r)
		rep.Cells = append(rep.Cells, c)
	}
	if len(rep.Cells) == 0 {
		return fmt.Errorf("no cluster results in %s", rawDir)
	}
	rank := map[string]int{"single": 0, "redis1": 1, "cluster": 2}
	sort.Slice(rep.Cells, func(i, j int) bool {
		a, b := rep.Cells[i], rep.Cells[j]
		if a.Repeat != b.Repeat {
			return a.Repeat < b.Repeat
		}
		return rank[a.Kind] < rank[b.Kind]
	})
	for i := range rep.Cells {
		c := &rep.Cells[i]
		for _, o := range rep.Cells {
			if o.Repeat != c.Repeat || o.NodesCPUPerMillion <= 0 {
				continue
			}
			switch o.Kind {
			case "single":
				c.CPURatioToSingle = c.NodesCPUPerMillion / o.NodesCPUPerMillion
			case "redis1":
				c.CPURatioToRedisOneNode = c.NodesCPUPerMillion / o.NodesCPUPerMillion
			}
		}
	}
	for _, p := range []string{"profile-cluster-node1.txt", "profile-cluster-node2.txt"} {
		if _, err := os.Stat(filepath.Join(outDir, p)); err == nil {
			rep.Profiles = append(rep.Profiles, p)
		}
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "cluster.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, "cluster.md"), clusterMarkdown(rep), 0o644)
}

func clusterCell(rawDir, label, kind string, n int, r *loadtest.Result) ClusterCell {
	c := ClusterCell{Label: label, Kind: kind, Repeat: n, Result: r}
	if s := r.Server; s != nil {
		c.NodesCPUSeconds, c.NodesCPUPerMillion = s.CPUSeconds, s.CPUSecondsPerMillion
	}
	for _, a := range r.Aux {
		c.RedisCPUSeconds += a.CPUSeconds
	}
	m := r.ServerMetrics
	c.BatchesPublished = m["draw_cluster_batches_published_total"]
	if c.BatchesPublished > 0 {
		c.RedisCPUPerKPublishes = 1000 * c.RedisCPUSeconds / c.BatchesPublished * 1000
		c.MovesPerBatch = float64(r.EmitsSent) / c.BatchesPublished
		c.PublishP99Ms = 1000 * loadtest.HistogramQuantile(m, "draw_cluster_publish_seconds", 0.99)
	}
	c.ClusterDeliveries = m["draw_cluster_deliveries_total"]
	c.Gaps = m["draw_cluster_gaps_total"]
	c.Dropped = m["draw_cluster_dropped_total"]
	for k, v := range m {
		if strings.HasPrefix(k, "draw_cluster_errors_total") {
			c.Errors += v
		}
	}
	if r.LatencySameNode != nil && r.LatencyCrossNode != nil {
		c.CrossMinusSameP50Ms = r.LatencyCrossNode.P50Ms - r.LatencySameNode.P50Ms
	}
	if b, err := os.ReadFile(filepath.Join(rawDir, label+".queue.txt")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				c.QueuePeak = max(c.QueuePeak, v)
				c.QueueSamples++
			}
		}
	}
	before, err1 := readInfo(filepath.Join(rawDir, label+".redis-before.txt"))
	after, err2 := readInfo(filepath.Join(rawDir, label+".redis-after.txt"))
	if err1 == nil && err2 == nil {
		c.RedisRun = redisDelta(before, after)
	}
	logs, _ := filepath.Glob(filepath.Join(rawDir, label+".*.log"))
	for _, l := range logs {
		if strings.HasSuffix(l, ".tester.log") || strings.HasSuffix(l, ".redis.log") {
			continue
		}
		b, _ := os.ReadFile(l)
		c.ServerLogWarningsErrors += bytes.Count(b, []byte(`"level":"WARN"`)) + bytes.Count(b, []byte(`"level":"ERROR"`))
	}
	return c
}

// readInfo parses INFO output: "key:value" lines; commandstats values
// ("calls=1,usec=2,…") are split into key.field.
func readInfo(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[key] = v
			continue
		}
		for _, kv := range strings.Split(val, ",") {
			if f, v, ok := strings.Cut(kv, "="); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					out[key+"."+f] = x
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New(path + ": no INFO fields")
	}
	return out, sc.Err()
}

func redisDelta(a, b map[string]float64) *Redis {
	d := func(k string) float64 { return b[k] - a[k] }
	r := &Redis{
		Seconds:        d("uptime_in_seconds"),
		CPUSeconds:     d("used_cpu_user") + d("used_cpu_sys"),
		Commands:       d("total_commands_processed"),
		PublishCalls:   d("cmdstat_publish.calls"),
		NetInputBytes:  d("total_net_input_bytes"),
		NetOutputBytes: d("total_net_output_bytes"),
		PubsubChannels: b["pubsub_channels"],
		PubsubPatterns: b["pubsub_patterns"],
	}
	if r.PublishCalls > 0 {
		r.PublishUsecPerCal = d("cmdstat_publish.usec") / r.PublishCalls
		r.CPUPerKPublishes = 1000 * r.CPUSeconds / r.PublishCalls * 1000
		r.InBytesPerPublish = r.NetInputBytes / r.PublishCalls
	}
	type cmd struct {
		name        string
		calls, usec float64
	}
	var cmds []cmd
	for k, v := range b {
		name, ok := strings.CutSuffix(k, ".calls")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		if calls := v - a[k]; calls > 0 {
			cmds = append(cmds, cmd{strings.TrimPrefix(name, "cmdstat_"), calls, b[name+".usec"] - a[name+".usec"]})
		}
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].calls > cmds[j].calls })
	for i, c := range cmds {
		if i == 8 {
			break
		}
		r.Top = append(r.Top, fmt.Sprintf("%s %.0f %.2f", c.name, c.calls, c.usec/c.calls))
	}
	return r
}

func clusterMarkdown(rep ClusterReport) []byte {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Several nodes: benchmark results\n\n")
	w("Generated %s by `bench/run.sh` (`BENCH_ONLY=cluster` runs only this part) on %s; commit %s.\n\n",
		rep.Generated.Format(time.RFC3339), describeMachine(rep.Machine), rep.Machine["commit"])
	w("Cells: **single** is one node with its default SQLite store, as in the fan-out cells; **redis1** one node with " +
		"`-redis` (boards in Redis, no other node); **cluster** two nodes with `-redis` and the tester's clients dealt over " +
		"both, so each move reaches half its receivers on the other node. Every node and redis-server run on CPU 0, the " +
		"tester on CPU 1; every cell starts fresh processes and a fresh redis-server. Same load in each: 10 senders × 20 " +
		"moves/s, every move to every other client of one board, 10 s window.\n\n")
	w("| cell | connected | deliveries/s | loss %% | p50 ms | p99 ms | max ms | same-node p50 / p99 ms | cross-node p50 / p99 ms | nodes CPU-s | per M deliveries | × single | × redis1 | Redis CPU-s | batches | Redis CPU ms per 1000 publishes | gaps | dropped | errors | queue peak | tester cores | other CPU-s |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range rep.Cells {
		r := c.Result
		same, cross := "", ""
		if r.LatencySameNode != nil {
			same = fmt.Sprintf("%.2f / %.2f", r.LatencySameNode.P50Ms, r.LatencySameNode.P99Ms)
			cross = fmt.Sprintf("%.2f / %.2f", r.LatencyCrossNode.P50Ms, r.LatencyCrossNode.P99Ms)
		}
		opt := func(v float64, f string) string {
			if v == 0 || math.IsNaN(v) {
				return ""
			}
			return fmt.Sprintf(f, v)
		}
		queue := ""
		if c.Kind == "cluster" {
			queue = fmt.Sprintf("%.0f (%d readings)", c.QueuePeak, c.QueueSamples)
		}
		w("| %s | %d/%d | %.0f | %.2f | %.2f | %.2f | %.2f | %s | %s | %.2f | %.2f | %s | %s | %s | %s | %s | %.0f | %.0f | %.0f | %s | %.2f | %.2f |\n",
			c.Label, r.Connected, r.Clients, r.DeliveriesPerSecond, r.LossPercent, r.Latency.P50Ms, r.Latency.P99Ms, r.Latency.MaxMs,
			same, cross, c.NodesCPUSeconds, c.NodesCPUPerMillion, opt(c.CPURatioToSingle, "%.2f×"), opt(c.CPURatioToRedisOneNode, "%.2f×"),
			opt(c.RedisCPUSeconds, "%.2f"), opt(c.BatchesPublished, "%.0f"), opt(c.RedisCPUPerKPublishes, "%.1f"),
			c.Gaps, c.Dropped, c.Errors, queue, r.TesterCPUCores, r.OtherCPUSeconds)
	}
	w("\nEvery cell: %s.\n\n", checksLine(rep.Cells))

	w("### Per node (cluster cells)\n\n| cell | node | CPU-s | RSS peak MiB | batches published | cross-node deliveries | publish p99 ms |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, c := range rep.Cells {
		r := c.Result
		for i, n := range r.ServerMetricsPerNode {
			var cpu float64
			var rss int64
			if i < len(r.Servers) {
				cpu, rss = r.Servers[i].CPUSeconds, r.Servers[i].RSSPeakKiB
			}
			w("| %s | %s | %.2f | %.0f | %.0f | %.0f | %.2f |\n", c.Label, n.URL, cpu, float64(rss)/1024,
				n.Metrics["draw_cluster_batches_published_total"], n.Metrics["draw_cluster_deliveries_total"],
				1000*loadtest.HistogramQuantile(n.Metrics, "draw_cluster_publish_seconds", 0.99))
		}
	}

	w("\n### Redis over each whole run (INFO before and after: connect, warm-up, window, drain)\n\n")
	w("| cell | seconds | CPU-s | commands | PUBLISH calls | PUBLISH µs per call | CPU ms per 1000 PUBLISH | input bytes per PUBLISH | output bytes | channels / patterns | top commands (calls, µs per call) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, c := range rep.Cells {
		if x := c.RedisRun; x != nil {
			w("| %s | %.0f | %.2f | %.0f | %.0f | %.2f | %.1f | %.0f | %.0f | %.0f / %.0f | %s |\n", c.Label, x.Seconds, x.CPUSeconds, x.Commands,
				x.PublishCalls, x.PublishUsecPerCal, x.CPUPerKPublishes, x.InBytesPerPublish, x.NetOutputBytes,
				x.PubsubChannels, x.PubsubPatterns, strings.Join(x.Top, "; "))
		}
	}

	w("\n### Against the issue's targets (cluster cells)\n\n| target | measured | |\n|---|---|---|\n")
	var cl []ClusterCell
	for _, c := range rep.Cells {
		if c.Kind == "cluster" {
			cl = append(cl, c)
		}
	}
	all := func(f func(ClusterCell) bool) string {
		for _, c := range cl {
			if !f(c) {
				return "**not met**"
			}
		}
		return "met"
	}
	list := func(f func(ClusterCell) string) string {
		var s []string
		for _, c := range cl {
			s = append(s, f(c))
		}
		return strings.Join(s, ", ")
	}
	w("| 0 loss | %s | %s |\n", list(func(c ClusterCell) string { return fmt.Sprintf("%.3f %%", c.Result.LossPercent) }),
		all(func(c ClusterCell) bool { return c.Result.Delivered >= c.Result.Expected && c.Result.Expected > 0 }))
	w("| p99 ≤ 100 ms | %s | %s |\n", list(func(c ClusterCell) string { return fmt.Sprintf("%.1f ms", c.Result.Latency.P99Ms) }),
		all(func(c ClusterCell) bool { return c.Result.Latency.P99Ms <= 100 }))
	w("| cross-node p50 within 1 ms of same-node | %s | %s |\n", list(func(c ClusterCell) string {
		if c.Result.LatencyCrossNode == nil {
			return "—"
		}
		return fmt.Sprintf("%.2f vs %.2f ms (%+.2f)", c.Result.LatencyCrossNode.P50Ms, c.Result.LatencySameNode.P50Ms, c.CrossMinusSameP50Ms)
	}), all(func(c ClusterCell) bool {
		return c.Result.LatencyCrossNode != nil && math.Abs(c.CrossMinusSameP50Ms) <= 1
	}))
	w("| total CPU per M deliveries ≤ 1.5× single node | %s | %s |\n", list(func(c ClusterCell) string {
		return fmt.Sprintf("%.2f×", c.CPURatioToSingle)
	}), all(func(c ClusterCell) bool { return c.CPURatioToSingle > 0 && c.CPURatioToSingle <= 1.5 }))
	if len(rep.Profiles) > 0 {
		w("\nProfiles of both nodes under this load: %s.\n", strings.Join(rep.Profiles, ", "))
	}
	return b.Bytes()
}

// checksLine sums the correctness checks over cells.
func checksLine(cells []ClusterCell) string {
	var failed, dropped int
	var ooo, dup, echo, wrong, cross int64
	for _, c := range cells {
		r := c.Result
		failed += r.Failed
		dropped += r.Dropped
		ooo += r.OutOfOrder
		dup += r.Duplicates
		echo += r.SelfEchoes
		wrong += r.WrongID
		cross += r.CrossBoard
	}
	return fmt.Sprintf("%d failed and %d dropped connections, %d out of order, %d duplicates, %d self-echoes, %d wrong ids, %d cross-board (summed over cells)",
		failed, dropped, ooo, dup, echo, wrong, cross)
}

// describeMachine is the machine map in a few words.
func describeMachine(m map[string]string) string {
	var parts []string
	for _, k := range []string{"cpus", "cpu", "kernel", "go", "redis"} {
		if v := m[k]; v != "" {
			parts = append(parts, k+" "+v)
		}
	}
	if len(parts) == 0 {
		return "this machine"
	}
	return strings.Join(parts, ", ")
}
