package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/jwt"
	"github.com/drawing/draw/loadtest"
	"github.com/gorilla/websocket"
)

// clkTck is USER_HZ: /proc/PID/stat counts CPU time in these.
const clkTck = 100

// procCPU is a process's user + system CPU time in seconds.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clkTck, nil
}

// procRSS is a process's VmRSS in bytes.
func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// otherCPU is the CPU time (s) of every process but the listed ones, from
// /proc/stat minus theirs: how disturbed a window was.
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var sum float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 7 { // steal, guest: not ours
			break
		}
		n, _ := strconv.ParseFloat(v, 64)
		sum += n
	}
	return sum / clkTck
}

// scrape reads a server's /metrics into name{labels} → value.
func scrape(base string) (map[string]float64, error) {
	m, _, err := loadtest.ScrapeMetrics(context.Background(), http.DefaultClient, base+"/metrics", nil)
	return m, err
}

// histDiff turns a Prometheus histogram's change between two scrapes into
// count, mean and quantiles (linear inside the bucket).
type histSummary struct {
	Count  float64 `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
}

func histDiff(a, b map[string]float64, name string) histSummary {
	type bk struct{ le, n float64 }
	var bs []bk
	prefix := name + `_bucket{le="`
	for k, v := range b {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(k[len(prefix):], `"}`), 64)
		if err != nil {
			le = math.Inf(1)
		}
		bs = append(bs, bk{le, v - a[k]})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	h := histSummary{Count: b[name+"_count"] - a[name+"_count"]}
	if h.Count <= 0 {
		return h
	}
	h.MeanMs = (b[name+"_sum"] - a[name+"_sum"]) / h.Count * 1000
	q := func(p float64) float64 {
		want := p * h.Count
		prevLe, prevN := 0.0, 0.0
		for _, x := range bs {
			if x.n >= want {
				if math.IsInf(x.le, 1) {
					return prevLe * 1000
				}
				if x.n == prevN {
					return x.le * 1000
				}
				return (prevLe + (x.le-prevLe)*(want-prevN)/(x.n-prevN)) * 1000
			}
			prevLe, prevN = x.le, x.n
		}
		return prevLe * 1000
	}
	h.P50Ms, h.P90Ms, h.P99Ms = q(0.5), q(0.9), q(0.99)
	return h
}

// forceGC asks the server's pprof endpoint for a heap profile after a GC.
func forceGC(pprofBase string) error {
	resp, err := http.Get(pprofBase + "/debug/pprof/heap?gc=1")
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// mint makes a token for board (the default board is "").
func mint(secret, board string, role draw.Role, sub string) (string, error) {
	return jwt.Mint([]byte(secret), draw.Grant{Board: board, Role: role, Name: sub, Subject: sub, Expires: time.Now().Add(2 * time.Hour)})
}

// wsURL is the server's socket.io websocket endpoint for board.
func wsURL(base, board string) string {
	u, _ := url.Parse(base)
	u.Scheme = "ws"
	u.Path = "/socket.io/"
	q := url.Values{"EIO": {"4"}, "transport": {"websocket"}}
	if board != "" {
		q.Set("board", board)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

var dialer = &websocket.Dialer{
	HandshakeTimeout: 30 * time.Second,
	NetDialContext:   (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
	ReadBufferSize:   64 << 10,
	WriteBufferSize:  4 << 10,
}

// sioConnect opens a websocket, reads Engine.IO's open packet, sends
// CONNECT (with auth {token} when token is set) and waits for its answer.
func sioConnect(ctx context.Context, endpoint, token string) (*websocket.Conn, error) {
	c, _, err := dialer.DialContext(ctx, endpoint, nil)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetReadDeadline(dl)
	}
	_, m, err := c.ReadMessage()
	if err != nil || len(m) == 0 || m[0] != '0' {
		c.Close()
		return nil, fmt.Errorf("engine.io open: %q %v", m, err)
	}
	connect := []byte("40")
	if token != "" {
		connect = fmt.Appendf(nil, `40{"token":%q}`, token)
	}
	if err := c.WriteMessage(websocket.TextMessage, connect); err != nil {
		c.Close()
		return nil, err
	}
	for {
		_, m, err = c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, err
		}
		switch {
		case bytes.HasPrefix(m, []byte("40")):
			c.SetReadDeadline(time.Time{})
			return c, nil
		case bytes.HasPrefix(m, []byte("44")):
			c.Close()
			return nil, fmt.Errorf("connect_error: %s", m[2:])
		case len(m) == 1 && m[0] == '2':
			c.WriteMessage(websocket.TextMessage, []byte("3"))
		}
	}
}

// latHist is a log-linear latency histogram (1 % buckets from 1 µs).
type latHist struct {
	mu sync.Mutex
	b  map[int]int64
	n  int64
}

func newLatHist() *latHist { return &latHist{b: map[int]int64{}} }

func (h *latHist) addN(d time.Duration, n int64) {
	us := float64(d.Microseconds())
	if us < 1 {
		us = 1
	}
	k := int(math.Log(us) / math.Log(1.01))
	h.mu.Lock()
	h.b[k] += n
	h.n += n
	h.mu.Unlock()
}

func (h *latHist) q(p float64) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return 0
	}
	keys := make([]int, 0, len(h.b))
	for k := range h.b {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	want := int64(math.Ceil(p * float64(h.n)))
	var acc int64
	for _, k := range keys {
		if acc += h.b[k]; acc >= want {
			return math.Pow(1.01, float64(k)) / 1000
		}
	}
	return 0
}

type latSummary struct {
	N     int64   `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func (h *latHist) summary() latSummary {
	return latSummary{N: h.n, P50Ms: h.q(0.5), P90Ms: h.q(0.9), P99Ms: h.q(0.99), MaxMs: h.q(1)}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// cpuBusy is the busy time (s) of one CPU ("cpu0") from /proc/stat:
// everything but idle and iowait.
func cpuBusy(cpu string) float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != cpu {
			continue
		}
		var sum float64
		for i, v := range f[1:8] {
			if i == 3 || i == 4 {
				continue
			}
			n, _ := strconv.ParseFloat(v, 64)
			sum += n
		}
		return sum / clkTck
	}
	return 0
}
