package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawing/draw/loadtest"
)

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func result(clients int, p50, p99, perM float64) *loadtest.Result {
	r := &loadtest.Result{Clients: clients, Connected: clients, EmitsPerSecond: 200, DeliveriesPerSecond: 200 * float64(clients-1)}
	r.Latency.P50Ms, r.Latency.P99Ms = p50, p99
	r.Server = &loadtest.ServerStats{CPUSeconds: 1, CPUSecondsPerMillion: perM}
	return r
}

// A fan-out-only run keeps the previous idle cells, reads ours-fixed as a
// server of its own and draws latency.svg with all three.
func TestBuildThreeServersKeepsIdle(t *testing.T) {
	raw, out := t.TempDir(), t.TempDir()
	writeJSON(t, filepath.Join(raw, "ours-ws-100.json"), result(100, 0.5, 1, 6))
	writeJSON(t, filepath.Join(raw, "ours-fixed-ws-100.json"), result(100, 9, 17, 5))
	writeJSON(t, filepath.Join(raw, "node-ws-100.json"), result(100, 0.5, 2, 7))
	prev := Report{Machine: map[string]string{"commit": "abc"}, Cells: []Cell{{
		Label: "idle-10000", Title: "10000 idle clients, one board",
		Results: map[string]*loadtest.Result{"ours": result(10000, 0, 0, 0)},
	}}}
	writeJSON(t, filepath.Join(out, "results.json"), prev)

	if err := build(raw, out, "test"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Cells) != 2 || rep.Cells[0].Label != "ws-100" || rep.Cells[1].Label != "idle-10000" {
		t.Fatalf("cells %+v", rep.Cells)
	}
	ws := rep.Cells[0]
	if len(ws.Results) != 3 || ws.FixedRatios["cpu_seconds_per_million"] != 1.2 || ws.Ratios["p99"] != 0.5 {
		t.Errorf("ws-100: %d results, ratios %v, fixed ratios %v", len(ws.Results), ws.Ratios, ws.FixedRatios)
	}
	if !strings.Contains(rep.Cells[1].CarriedFrom, "abc") {
		t.Errorf("idle cell carried from %q", rep.Cells[1].CarriedFrom)
	}
	md, _ := os.ReadFile(filepath.Join(out, "results.md"))
	for _, want := range []string{"| 100 clients | ours-fixed |", "**ours / ours-fixed**", "kept from the run", "latency.svg"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	svg, err := os.ReadFile(filepath.Join(out, "latency.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(svg), "<polyline"); n != 6 {
		t.Errorf("latency.svg has %d lines, want 6 (p50 and p99 for three servers)", n)
	}
}
