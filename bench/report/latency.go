package main

import (
	"bytes"
	"fmt"
	"math"
	"strings"
)

// latency.svg: p50 and p99 latency against the number of clients, side by
// side on one log scale, one line per server, so the cost of gathering when
// quiet (ours-fixed at 100 clients) and Node's collapse under load are both
// visible at a glance. Drawn by hand like chart.svg.

const (
	latPanelW, latPanelH = 330, 300
	latMarginL           = 62
	latMarginT           = 70
	latGap               = 60
	latW                 = latMarginL + 2*latPanelW + latGap + 24
	latH                 = latMarginT + latPanelH + 112
)

// latPoint is one server's latency at one cell.
type latPoint struct {
	n        int // clients
	p50, p99 float64
	loss     float64 // percent
}

func latencyChart(rep Report) []byte {
	pts := map[string][]latPoint{}
	var ns []int
	lo, hi := math.Inf(1), 0.0
	for _, c := range rep.Cells {
		if !strings.HasPrefix(c.Label, "ws-") {
			continue
		}
		_, n, _ := parseLabel(c.Label)
		found := false
		for _, s := range servers {
			r := c.Results[s]
			if r == nil {
				continue
			}
			found = true
			p := latPoint{n, r.Latency.P50Ms, r.Latency.P99Ms, r.LossPercent}
			pts[s] = append(pts[s], p)
			for _, v := range []float64{p.p50, p.p99} {
				if v > 0 {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
		if found {
			ns = append(ns, n)
		}
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		latW, latH, latW, latH)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	fmt.Fprintf(&b, `<text x="12" y="22" font-size="15" font-weight="bold">Latency against load: 10 senders × 20 moves/s, every move to every other client</text>`+"\n")
	fmt.Fprintf(&b, `<text x="12" y="40" fill="#444">Time from a move's emit to its arrival at each receiver; lower is better. Same machine, server on CPU 0, tester on CPU 1.</text>`+"\n")
	if len(ns) == 0 {
		b.WriteString("</svg>\n")
		return b.Bytes()
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	l0, l1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if l1 == l0 {
		l1++
	}
	y := func(v float64) float64 {
		if v <= 0 {
			return latPanelH
		}
		return latPanelH - (math.Log10(v)-l0)/(l1-l0)*latPanelH
	}
	x := func(n int) float64 {
		for i, m := range ns {
			if m == n {
				if len(ns) == 1 {
					return latPanelW / 2
				}
				return 28 + float64(i)*(latPanelW-56)/float64(len(ns)-1)
			}
		}
		return 0
	}

	for k, title := range []string{"p50 (median)", "p99"} {
		ox := float64(latMarginL + k*(latPanelW+latGap))
		oy := float64(latMarginT)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-weight="bold">%s, ms (log scale)</text>`+"\n", ox, oy-10, title)
		// Grid: a labelled line at every power of ten, faint ones at 2 and 5.
		for e := l0; e <= l1; e++ {
			d := math.Pow(10, e)
			fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ccc"/>`+"\n", ox, oy+y(d), ox+latPanelW, oy+y(d))
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", ox-6, oy+y(d)+4, latLabel(d))
			if e < l1 {
				for _, m := range []float64{2, 5} {
					fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`+"\n", ox, oy+y(m*d), ox+latPanelW, oy+y(m*d))
				}
			}
		}
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", ox, oy, latPanelW, latPanelH)
		for _, n := range ns {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`+"\n", ox+x(n), oy+latPanelH+18, n)
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">clients</text>`+"\n", ox+latPanelW/2, oy+latPanelH+36)

		for _, s := range []string{"node", "ours-fixed", "ours"} {
			if len(pts[s]) == 0 {
				continue
			}
			var coords []string
			for _, p := range pts[s] {
				coords = append(coords, fmt.Sprintf("%.1f,%.1f", ox+x(p.n), oy+y(pick(p, k))))
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" %s/>`+"\n", strings.Join(coords, " "), colors[s], latStroke(s))
			for _, p := range pts[s] {
				cx, cy := ox+x(p.n), oy+y(pick(p, k))
				b.WriteString(latMarker(s, cx, cy))
				// Where a server lost deliveries its latency is only that of
				// what arrived: say how much did not.
				if p.loss >= 1 {
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" font-size="11" fill="%s">%.0f%% lost</text>`+"\n", cx-8, cy-8, colors[s], p.loss)
				}
			}
		}
	}

	// Legend.
	lyy := float64(latMarginT + latPanelH + 62)
	i := 0
	for _, s := range servers {
		if len(pts[s]) == 0 {
			continue
		}
		fx := float64(latMarginL) + float64(i)*235
		i++
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" %s/>`, fx, lyy, fx+30, lyy, colors[s], latStroke(s))
		b.WriteString(latMarker(s, fx+15, lyy))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", fx+38, lyy+4, names[s])
	}
	fmt.Fprintf(&b, `<text x="%d" y="%.0f" fill="#444">ours gathers a receiver's frames for 0–16 ms as the delivery rate grows; ours-fixed always for 16 ms.</text>`+"\n",
		latMarginL, lyy+26)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func latStroke(s string) string {
	if s == "ours-fixed" {
		return `stroke-width="2.5" stroke-dasharray="7,4"`
	}
	return `stroke-width="2.5"`
}

// latMarker: ours a filled circle, ours-fixed a filled square, Node a hollow
// circle, so lines that meet stay apart.
func latMarker(s string, x, y float64) string {
	switch s {
	case "ours-fixed":
		return fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="9" height="9" fill="%s" stroke="%s" stroke-width="1.5"/>`+"\n", x-4.5, y-4.5, colors[s], colors["ours"])
	case "node":
		return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="4.5" fill="white" stroke="%s" stroke-width="2"/>`+"\n", x, y, colors[s])
	}
	return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="4.5" fill="%s" stroke="%s" stroke-width="2"/>`+"\n", x, y, colors[s], colors[s])
}

// pick is a point's p50 (k 0) or p99 (k 1).
func pick(p latPoint, k int) float64 {
	if k == 1 {
		return p.p99
	}
	return p.p50
}

// latLabel labels a power of ten of milliseconds.
func latLabel(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%g s", v/1000)
	case v < 1:
		return fmt.Sprintf("%g", math.Round(v*1000)/1000)
	}
	return fmt.Sprintf("%g", v)
}
