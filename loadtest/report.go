package loadtest

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Result is what one run measured; -json prints it as is.
type Result struct {
	URL string `json:"url"` // the first of URLs
	// URLs are every -url, in order: with several, the k-th sender and the
	// k-th receiver connected to URLs[k mod len(URLs)].
	URLs            []string `json:"urls"`
	Clients         int      `json:"clients"`
	Senders         int      `json:"senders"`
	Rate            float64  `json:"rate"`
	PollingShare    float64  `json:"polling_share"`
	Boards          int      `json:"boards"`
	WarmupSeconds   float64  `json:"warmup_seconds"`
	DurationSeconds float64  `json:"duration_seconds"`
	Interrupted     bool     `json:"interrupted,omitempty"`

	Connected        int     `json:"connected"`
	Failed           int     `json:"failed"`
	Dropped          int     `json:"dropped"` // connected, then lost before the end
	SendersConnected int     `json:"senders_connected"`
	ConnectSeconds   float64 `json:"connect_seconds"`
	WindowSeconds    float64 `json:"window_seconds"`
	DrainSeconds     float64 `json:"drain_seconds"`

	EmitsSent      int64   `json:"emits_sent"` // stamped inside the window
	EmitsPerSecond float64 `json:"emits_per_second"`
	SendErrors     int64   `json:"send_errors"`
	// Expected is every in-window emit times the other members of its board;
	// Delivered is how many of those arrived by the end of the drain.
	Expected    int64   `json:"expected"`
	Delivered   int64   `json:"delivered"`
	LossPercent float64 `json:"loss_percent"`
	// Received counts moves that arrived during the window, whenever sent:
	// the throughput the server sustained.
	Received            int64   `json:"received"`
	DeliveriesPerSecond float64 `json:"deliveries_per_second"`

	OutOfOrder        int64 `json:"out_of_order"`
	Duplicates        int64 `json:"duplicates"`
	SelfEchoes        int64 `json:"self_echoes"`
	WrongID           int64 `json:"wrong_id"`
	CrossBoard        int64 `json:"cross_board"`
	UnknownSender     int64 `json:"unknown_sender"`
	Malformed         int64 `json:"malformed"`
	ClientDisconnects int64 `json:"client_disconnects"`
	Rejected          int64 `json:"rejected"` // the server refused an emit
	OtherEvents       int64 `json:"other_events"`

	Latency LatencyStats `json:"latency"`
	// With several URLs, Latency split: a delivery is same-node when the
	// sender connected to the receiver's URL, cross-node when not.
	LatencySameNode  *LatencyStats `json:"latency_same_node,omitempty"`
	LatencyCrossNode *LatencyStats `json:"latency_cross_node,omitempty"`
	// Server is the -pid processes together: CPU and RSS summed, CPU per
	// million deliveries over every delivery; Servers each one, in -pid
	// order, when there are several.
	Server  *ServerStats  `json:"server,omitempty"`
	Servers []ServerStats `json:"servers,omitempty"`
	// Aux is the CPU of each -aux-pid process over the window.
	Aux []ProcessCPU `json:"aux,omitempty"`
	// ServerMetrics (with -metrics) is how the server's draw_ metrics
	// changed over the window: counters and histogram buckets, sums and
	// counts as end − start, gauges as their value at the end. Keys are
	// sample names with their labels, e.g. draw_store_commit_seconds_bucket{le="0.05"}.
	// With several URLs it is the sum over every node (gauges too: a
	// queue's length summed), and ServerMetricsPerNode each node's.
	ServerMetrics        map[string]float64 `json:"server_metrics,omitempty"`
	ServerMetricsPerNode []NodeMetrics      `json:"server_metrics_per_node,omitempty"`
	// ServerMetricsSeconds is the time between the two readings (divide
	// by it for rates); ServerMetricsScrapeMs the slower reading's time,
	// which bounds how uncertain that is.
	ServerMetricsSeconds  float64 `json:"server_metrics_seconds,omitempty"`
	ServerMetricsScrapeMs float64 `json:"server_metrics_scrape_ms,omitempty"`
	ServerMetricsError    string  `json:"server_metrics_error,omitempty"`

	TesterCPUSeconds float64 `json:"tester_cpu_seconds"`
	TesterCPUCores   float64 `json:"tester_cpu_cores"` // CPU seconds per window second
	// TesterCPUSecondsTotal covers the whole run, connecting included.
	TesterCPUSecondsTotal float64 `json:"tester_cpu_seconds_total"`
	// ProcessesCPUSeconds is every process's CPU time in the window and
	// OtherCPUSeconds the part neither the tester nor the -pid server used:
	// load from elsewhere that makes the numbers less trustworthy.
	// KernelCPUSeconds is interrupt, softirq and steal time in the window.
	// (and none of the -aux-pid processes)
	ProcessesCPUSeconds float64 `json:"processes_cpu_seconds"`
	OtherCPUSeconds     float64 `json:"other_cpu_seconds"`
	KernelCPUSeconds    float64 `json:"kernel_cpu_seconds"`
	TesterGOMAXPROCS    int     `json:"tester_gomaxprocs"`
	TesterMaxRSSKiB     int64   `json:"tester_max_rss_kib"`

	Errors []ErrorCount `json:"errors,omitempty"`
}

// LatencyStats is send-to-receive time of delivered in-window moves.
type LatencyStats struct {
	Samples uint64  `json:"samples"`
	MeanMs  float64 `json:"mean_ms"`
	P50Ms   float64 `json:"p50_ms"`
	P90Ms   float64 `json:"p90_ms"`
	P99Ms   float64 `json:"p99_ms"`
	P999Ms  float64 `json:"p999_ms"`
	MaxMs   float64 `json:"max_ms"`
}

// ServerStats is what /proc said about the server given with -pid. CPU is
// counted over the window; RSS is sampled before connecting (baseline),
// once all are connected, at its peak during the window and at its end.
type ServerStats struct {
	PID                  int     `json:"pid"`
	PIDs                 []int   `json:"pids,omitempty"` // when several are summed
	CPUSeconds           float64 `json:"cpu_seconds"`
	CPUSecondsPerMillion float64 `json:"cpu_seconds_per_million_deliveries"`
	RSSBaselineKiB       int64   `json:"rss_baseline_kib"`
	RSSConnectedKiB      int64   `json:"rss_connected_kib"`
	RSSPeakKiB           int64   `json:"rss_peak_kib"`
	RSSEndKiB            int64   `json:"rss_end_kib"`
	RSSPerConnectionKiB  float64 `json:"rss_per_connection_kib"` // (end − baseline) / connected
	Error                string  `json:"error,omitempty"`
}

// ProcessCPU is the CPU time one -aux-pid process used in the window.
type ProcessCPU struct {
	PID        int     `json:"pid"`
	Name       string  `json:"name,omitempty"` // from /proc/PID/comm
	CPUSeconds float64 `json:"cpu_seconds"`
	Error      string  `json:"error,omitempty"`
}

// NodeMetrics is one node's part of ServerMetrics.
type NodeMetrics struct {
	URL     string             `json:"url"`
	Metrics map[string]float64 `json:"metrics"`
}

// ErrorCount is one distinct error and how often it happened.
type ErrorCount struct {
	Message string `json:"message"`
	Count   int    `json:"count"`
}

func newResult(cfg config) *Result {
	var urls []string
	for _, u := range cfg.bases {
		urls = append(urls, resultURL(u))
	}
	return &Result{
		URL:             urls[0],
		URLs:            urls,
		Clients:         cfg.clients,
		Senders:         cfg.senders,
		Rate:            cfg.rate,
		PollingShare:    cfg.polling,
		Boards:          cfg.boards,
		WarmupSeconds:   cfg.warmup.Seconds(),
		DurationSeconds: cfg.duration.Seconds(),
	}
}

// problems lists every check that failed, for -strict.
func (r *Result) problems() []string {
	var p []string
	add := func(n int64, what string) {
		if n > 0 {
			p = append(p, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(int64(r.Failed), "failed connections")
	add(int64(r.Dropped), "dropped connections")
	add(r.Expected-min(r.Delivered, r.Expected), "lost deliveries")
	add(r.OutOfOrder, "out of order")
	add(r.Duplicates, "duplicates")
	add(r.SelfEchoes, "self-echoes")
	add(r.WrongID, "wrong sender ids")
	add(r.CrossBoard, "cross-board deliveries")
	add(r.UnknownSender, "moves from unknown senders")
	add(r.Malformed, "malformed packets")
	add(r.SendErrors, "send errors")
	add(r.Rejected, "rejected emits")
	return p
}

// writeSummary prints the result for a person.
func (r *Result) writeSummary(w io.Writer) {
	fmt.Fprintf(w, "load test of %s: %d clients (%.0f%% polling) on %d board(s), %d senders × %g/s, %gs window after %gs warm-up\n",
		strings.Join(r.URLs, ", "), r.Clients, 100*r.PollingShare, r.Boards, r.Senders, r.Rate, r.DurationSeconds, r.WarmupSeconds)
	if r.Interrupted {
		fmt.Fprintf(w, "  INTERRUPTED after %.1fs of the window\n", r.WindowSeconds)
	}
	fmt.Fprintf(w, "  connections  %d connected, %d failed, %d dropped (connect took %.1fs)\n",
		r.Connected, r.Failed, r.Dropped, r.ConnectSeconds)
	fmt.Fprintf(w, "  emits        %d sent (%.0f/s), %d send errors\n", r.EmitsSent, r.EmitsPerSecond, r.SendErrors)
	fmt.Fprintf(w, "  deliveries   %d of %d expected, loss %.3f%%; %.0f/s received during the window\n",
		r.Delivered, r.Expected, r.LossPercent, r.DeliveriesPerSecond)
	fmt.Fprintf(w, "  checks       %d out of order, %d duplicates, %d self-echoes, %d wrong ids, %d cross-board, %d malformed, %d rejected\n",
		r.OutOfOrder, r.Duplicates, r.SelfEchoes, r.WrongID, r.CrossBoard, r.Malformed, r.Rejected)
	fmt.Fprintf(w, "  other        %d clientdisconnect, %d other events\n", r.ClientDisconnects, r.OtherEvents)
	l := r.Latency
	fmt.Fprintf(w, "  latency      p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (%d samples)\n",
		l.P50Ms, l.P90Ms, l.P99Ms, l.P999Ms, l.MaxMs, l.Samples)
	for _, x := range []struct {
		what string
		l    *LatencyStats
	}{{"same node", r.LatencySameNode}, {"cross node", r.LatencyCrossNode}} {
		if x.l != nil {
			fmt.Fprintf(w, "    %-10s p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (%d samples)\n",
				x.what, x.l.P50Ms, x.l.P90Ms, x.l.P99Ms, x.l.P999Ms, x.l.MaxMs, x.l.Samples)
		}
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "  server       pid %d: %.2f CPU-s in the window (%.2f per million deliveries); RSS %s baseline, %s connected, %s peak, %s end",
			s.PID, s.CPUSeconds, s.CPUSecondsPerMillion, kib(s.RSSBaselineKiB), kib(s.RSSConnectedKiB), kib(s.RSSPeakKiB), kib(s.RSSEndKiB))
		if r.Connected > 0 {
			fmt.Fprintf(w, " (%.1f KiB per connection)", s.RSSPerConnectionKiB)
		}
		fmt.Fprintln(w)
		if s.Error != "" {
			fmt.Fprintf(w, "               sampling error: %s\n", s.Error)
		}
		for _, one := range r.Servers {
			fmt.Fprintf(w, "    pid %-7d %.2f CPU-s (%.2f per million deliveries), RSS %s peak\n",
				one.PID, one.CPUSeconds, one.CPUSecondsPerMillion, kib(one.RSSPeakKiB))
		}
	}
	for _, a := range r.Aux {
		if a.Error != "" {
			fmt.Fprintf(w, "  aux          pid %d (%s): %s\n", a.PID, a.Name, a.Error)
		} else {
			fmt.Fprintf(w, "  aux          pid %d (%s): %.2f CPU-s in the window\n", a.PID, a.Name, a.CPUSeconds)
		}
	}
	if m := r.ServerMetrics; m != nil {
		fmt.Fprintf(w, "  metrics      %d samples over %.2fs (scrape took up to %.0f ms): %.0f ops stored, %.0f commits (p99 %.1f ms), %.0f deliveries counted by the server\n",
			len(m), r.ServerMetricsSeconds, r.ServerMetricsScrapeMs, m["draw_store_ops_total"], m["draw_store_commit_seconds_count"],
			1000*HistogramQuantile(m, "draw_store_commit_seconds", 0.99), m["draw_deliveries_total"])
		if len(r.ServerMetricsPerNode) > 0 {
			fmt.Fprintf(w, "               cluster: %.0f batches published, %.0f cross-node deliveries, %.0f records dropped, %.0f gaps, %.0f queued at the end\n",
				m["draw_cluster_batches_published_total"], m["draw_cluster_deliveries_total"], m["draw_cluster_dropped_total"],
				m["draw_cluster_gaps_total"], m["draw_cluster_queue"])
		}
	}
	if r.ServerMetricsError != "" {
		fmt.Fprintf(w, "  metrics      not read: %s\n", r.ServerMetricsError)
	}
	fmt.Fprintf(w, "  tester       %.2f CPU-s in the window = %.2f of %d usable cores (%.2f CPU-s in all); peak RSS %s\n",
		r.TesterCPUSeconds, r.TesterCPUCores, r.TesterGOMAXPROCS, r.TesterCPUSecondsTotal, kib(r.TesterMaxRSSKiB))
	if r.ProcessesCPUSeconds > 0 {
		fmt.Fprintf(w, "  machine      %.2f CPU-s used by processes in the window, %.2f of it by neither tester nor server; %.2f CPU-s irq/softirq/steal\n",
			r.ProcessesCPUSeconds, r.OtherCPUSeconds, r.KernelCPUSeconds)
	}
	if r.TesterGOMAXPROCS > 0 && r.TesterCPUCores > 0.85*float64(r.TesterGOMAXPROCS) {
		fmt.Fprintln(w, "               the tester was nearly saturated: treat throughput and latency as lower bounds")
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error ×%d     %s\n", e.Count, e.Message)
	}
}

func kib(v int64) string {
	if v >= 10*1024 {
		return fmt.Sprintf("%.0f MiB", float64(v)/1024)
	}
	return fmt.Sprintf("%d KiB", v)
}

// startProgress prints a live status line to w once a second until the
// returned function is called; w nil means no progress line.
func (r *run) startProgress(w io.Writer) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastMoves int64
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
			}
			moves := r.sum(func(s *clientStats) int64 { return s.moves.Load() })
			sent := r.sum(func(s *clientStats) int64 { return s.emitted.Load() })
			fmt.Fprintf(w, "\r\033[K%-8s connected %d/%d | emits %d | moves received %d (%d/s) | p99 %.2f ms",
				r.phase.Load(), r.connectedN.Load(), len(r.clients), sent, moves, moves-lastMoves,
				float64(r.latency.quantile(0.99))/1000)
			lastMoves = moves
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
