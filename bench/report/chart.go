package main

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/drawing/draw/loadtest"
)

// The chart is drawn by hand: two panels, deliveries/s (linear) and p99
// latency (log scale) against the number of clients, one line per server.

var colors = map[string]string{"ours": "#1f6fb4", "ours-fixed": "#7fb3dc", "node": "#c8372d"}

// names in legends.
var names = map[string]string{
	"ours":       "ours (Go, draw-server)",
	"ours-fixed": "ours, fixed 16 ms window",
	"node":       "Node reference (socket.io 4.8)",
}

const (
	panelW, panelH = 360, 260 // plot area of one panel
	marginL        = 70
	marginT        = 50
	gap            = 110 // between the panels
	chartW         = marginL + panelW + gap + panelW + 30
	chartH         = marginT + panelH + 100
)

type point struct {
	n int     // clients
	v float64 // value
}

func chart(rep Report) []byte {
	series := map[string][]point{}
	p99 := map[string][]point{}
	var offered []point
	var ns []int
	for _, c := range rep.Cells {
		if !strings.HasPrefix(c.Label, "ws-") {
			continue
		}
		var n int
		for _, s := range servers {
			r := c.Results[s]
			if r == nil {
				continue
			}
			n = r.Clients
			series[s] = append(series[s], point{n, r.DeliveriesPerSecond})
			p99[s] = append(p99[s], point{n, r.Latency.P99Ms})
			if len(offered) == 0 || offered[len(offered)-1].n != n {
				offered = append(offered, point{n, offeredRate(r)})
			}
		}
		ns = append(ns, n)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">Fan-out relay: 10 senders × 20 moves/s, same machine (server on CPU 0, tester on CPU 1)</text>`+"\n", marginL-50)
	if len(ns) == 0 {
		b.WriteString("</svg>\n")
		return b.Bytes()
	}
	x := func(i int) float64 {
		if len(ns) == 1 {
			return panelW / 2
		}
		return 20 + float64(i)*(panelW-40)/float64(len(ns)-1)
	}
	index := map[int]int{}
	for i, n := range ns {
		index[n] = i
	}

	// Left panel: deliveries per second.
	top := 0.0
	for _, ps := range append([][]point{offered}, series["ours"], series["ours-fixed"], series["node"]) {
		for _, p := range ps {
			top = math.Max(top, p.v)
		}
	}
	top = niceCeil(top)
	y := func(v float64) float64 { return panelH - v/top*panelH }
	ox := float64(marginL)
	panel(&b, ox, "deliveries per second (higher is better)", ns, x)
	for i := 0; i <= 5; i++ {
		v := top * float64(i) / 5
		tick(&b, ox, y(v), humanCount(v))
	}
	for _, s := range []string{"node", "ours-fixed", "ours"} {
		polyline(&b, ox, series[s], index, x, y, colors[s], false)
	}
	// On top, so it shows where a server keeps up and hides nothing.
	polyline(&b, ox, offered, index, x, y, "#444", true)

	// Right panel: p99 latency, log scale.
	lo, hi := math.Inf(1), 0.0
	for _, s := range servers {
		for _, p := range p99[s] {
			if p.v > 0 {
				lo, hi = math.Min(lo, p.v), math.Max(hi, p.v)
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	l0, l1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if l1 == l0 {
		l1++
	}
	ly := func(v float64) float64 {
		if v <= 0 {
			return panelH
		}
		return panelH - (math.Log10(v)-l0)/(l1-l0)*panelH
	}
	ox = float64(marginL + panelW + gap)
	panel(&b, ox, "p99 latency, ms (log scale, lower is better)", ns, x)
	for e := l0; e <= l1; e++ {
		tick(&b, ox, ly(math.Pow(10, e)), humanMs(math.Pow(10, e)))
	}
	for _, s := range []string{"node", "ours-fixed", "ours"} {
		polyline(&b, ox, p99[s], index, x, ly, colors[s], false)
	}

	// Legend.
	lx, lyy := float64(marginL), float64(marginT+panelH+58)
	i := 0
	for _, s := range servers {
		if len(series[s]) == 0 {
			continue
		}
		fx := lx + float64(i)*260
		i++
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="3"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			fx, lyy, fx+28, lyy, colors[s], fx+34, lyy+4, names[s])
	}
	lyy += 20
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#444" stroke-width="1.5" stroke-dasharray="5,4"/><text x="%.0f" y="%.0f">offered (every move to every other client)</text>`+"\n",
		lx, lyy, lx+28, lyy, lx+34, lyy+4)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// offeredRate is the delivery rate a lossless server would sustain.
func offeredRate(r *loadtest.Result) float64 {
	return r.EmitsPerSecond * float64(r.Connected-1)
}

func panel(b *bytes.Buffer, ox float64, title string, ns []int, x func(int) float64) {
	fmt.Fprintf(b, `<text x="%.0f" y="%d" font-weight="bold">%s</text>`+"\n", ox, marginT-12, title)
	fmt.Fprintf(b, `<rect x="%.0f" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", ox, marginT, panelW, panelH)
	for i, n := range ns {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", ox+x(i), marginT+panelH+18, n)
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%d" text-anchor="middle">clients</text>`+"\n", ox+panelW/2, marginT+panelH+36)
}

func tick(b *bytes.Buffer, ox, y float64, label string) {
	fmt.Fprintf(b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/>`+"\n", ox, marginT+y, ox+panelW, marginT+y)
	fmt.Fprintf(b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", ox-6, marginT+y+4, label)
}

func polyline(b *bytes.Buffer, ox float64, ps []point, index map[int]int, x func(int) float64, y func(float64) float64, color string, dashed bool) {
	if len(ps) == 0 {
		return
	}
	var pts []string
	for _, p := range ps {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", ox+x(index[p.n]), marginT+y(p.v)))
	}
	style := `stroke-width="2.5"`
	if dashed {
		style = `stroke-width="1.5" stroke-dasharray="5,4"`
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" %s/>`+"\n", strings.Join(pts, " "), color, style)
	if !dashed {
		for _, p := range pts {
			xy := strings.Split(p, ",")
			// Hollow markers for the reference, so equal values stay visible.
			fill := color
			if color == colors["node"] {
				fill = "white"
			}
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="4.5" fill="%s" stroke="%s" stroke-width="2"/>`+"\n", xy[0], xy[1], fill, color)
		}
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", math.Round(v/1e5)/10)
	case v >= 1e3:
		return fmt.Sprintf("%gk", math.Round(v/1e2)/10)
	}
	return fmt.Sprintf("%g", v)
}

func humanMs(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%gs", v/1000)
	}
	return fmt.Sprintf("%g", v)
}
