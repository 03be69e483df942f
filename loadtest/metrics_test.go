package loadtest

import (
	"math"
	"strings"
	"testing"
)

const exposition = `# HELP draw_store_commit_seconds Time one group commit took.
# TYPE draw_store_commit_seconds histogram
draw_store_commit_seconds_bucket{le="0.001"} 10
draw_store_commit_seconds_bucket{le="0.01"} 90
draw_store_commit_seconds_bucket{le="0.05"} 99
draw_store_commit_seconds_bucket{le="+Inf"} 100
draw_store_commit_seconds_sum 0.5
draw_store_commit_seconds_count 100
# TYPE draw_store_ops_total counter
draw_store_ops_total 1.5e+06
# TYPE draw_store_queue gauge
draw_store_queue 7
# TYPE draw_dropped_total counter
draw_dropped_total{reason="slow_consumer"} 3 1700000000000
# TYPE go_goroutines gauge
go_goroutines 12
`

func TestParseMetricsKeepsPrefixesAndTypes(t *testing.T) {
	s, kinds, err := parseMetrics(strings.NewReader(exposition), []string{"draw_"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s["go_goroutines"]; ok {
		t.Error("go_goroutines kept though only draw_ was asked for")
	}
	if s["draw_store_ops_total"] != 1.5e6 || s[`draw_dropped_total{reason="slow_consumer"}`] != 3 || s[`draw_store_commit_seconds_bucket{le="+Inf"}`] != 100 {
		t.Errorf("samples %v", s)
	}
	if kinds["draw_store_commit_seconds"] != "histogram" || kinds["draw_store_queue"] != "gauge" {
		t.Errorf("kinds %v", kinds)
	}
	if _, _, err := parseMetrics(strings.NewReader("draw_x notanumber\n"), nil); err == nil {
		t.Error("a bad sample was accepted")
	}
}

func TestMetricsChange(t *testing.T) {
	start, kinds, _ := parseMetrics(strings.NewReader(exposition), nil)
	end := map[string]float64{}
	for k, v := range start {
		end[k] = v * 2
	}
	end[`draw_dropped_total{reason="unrecorded"}`] = 4 // appeared during the window
	d := metricsChange(start, end, kinds)
	for k, want := range map[string]float64{
		"draw_store_ops_total":                        1.5e6,
		`draw_store_commit_seconds_bucket{le="0.05"}`: 99,
		"draw_store_commit_seconds_count":             100,
		"draw_store_queue":                            14, // a gauge: its end value
		`draw_dropped_total{reason="unrecorded"}`:     4,
		`draw_dropped_total{reason="slow_consumer"}`:  3,
	} {
		if d[k] != want {
			t.Errorf("%s = %v, want %v", k, d[k], want)
		}
	}
}

func TestHistogramQuantile(t *testing.T) {
	s, _, _ := parseMetrics(strings.NewReader(exposition), nil)
	for _, c := range []struct{ q, want float64 }{
		{0.05, 0.0005}, // half-way through the first bucket, from 0
		{0.5, 0.0055},  // 40 of the 80 in (0.001, 0.01]
		{0.99, 0.05},   // the 99th is the last of (0.01, 0.05]
		{0.995, 0.05},  // in +Inf: the largest finite bound
	} {
		if got := HistogramQuantile(s, "draw_store_commit_seconds", c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("q%v = %v, want %v", c.q, got, c.want)
		}
	}
	if !math.IsNaN(HistogramQuantile(s, "draw_none", 0.5)) {
		t.Error("a missing histogram has a quantile")
	}
}

// Against our server: the window's metrics show the classic moves the
// server recorded and the commits that stored them.
func TestDrawServerMetricsOverTheWindow(t *testing.T) {
	url := startDrawServer(t)
	res, code, stderr := runMain(t, small(url, "-metrics")...)
	if code != 0 || res.ServerMetricsError != "" {
		t.Fatalf("exit %d, metrics error %q: %s", code, res.ServerMetricsError, explain(res, stderr))
	}
	m := res.ServerMetrics
	if m["draw_store_ops_total"] <= 0 || m["draw_store_commit_seconds_count"] <= 0 || m[`draw_store_commit_seconds_bucket{le="+Inf"}`] != m["draw_store_commit_seconds_count"] {
		t.Errorf("no recorded moves or commits in the window: %v", m)
	}
	if res.ServerMetricsSeconds <= 0 {
		t.Errorf("no time between the readings: %v", res.ServerMetricsSeconds)
	}
	if _, ok := m["draw_store_queue"]; !ok {
		t.Errorf("gauge draw_store_queue missing: %v", m)
	}
}
