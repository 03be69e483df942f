package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawing/draw/draw"
	"github.com/gorilla/websocket"
)

// watcher is a socket.io client synced on the board: it counts the ops it
// gets and notes when each frame came.
type watcher struct {
	c       *websocket.Conn
	last    int64 // newest seq seen
	recs    []opRec
	gaps    int64
	dupes   int64
	frames  int64
	dropped bool
}

type opRec struct {
	first int64
	n     int32
	at    int64 // unix ns
}

var seqKey = []byte(`{"seq":`)

// openWatcher connects, syncs and returns once synced.
func openWatcher(ctx context.Context, endpoint, token string) (*watcher, error) {
	c, err := sioConnect(ctx, endpoint, token)
	if err != nil {
		return nil, err
	}
	author := make([]byte, 12)
	rand.Read(author)
	if err := c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `42["sync",{"author":"%x"}]`, author)); err != nil {
		c.Close()
		return nil, err
	}
	w := &watcher{c: c}
	if dl, ok := ctx.Deadline(); ok {
		c.SetReadDeadline(dl)
	}
	for {
		_, m, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, err
		}
		if bytes.HasPrefix(m, []byte(`42["synced",`)) {
			var v []json.RawMessage
			var s struct {
				Head int64 `json:"head"`
			}
			if json.Unmarshal(m[2:], &v) == nil && len(v) == 2 && json.Unmarshal(v[1], &s) == nil {
				w.last = s.Head
			}
			c.SetReadDeadline(time.Time{})
			return w, nil
		}
		if len(m) == 1 && m[0] == '2' {
			c.WriteMessage(websocket.TextMessage, []byte("3"))
		}
	}
}

// readLoop counts ops until the connection closes.
func (w *watcher) readLoop(stopping *atomic.Bool, wmu *sync.Mutex) {
	var buf bytes.Buffer
	for {
		_, r, err := w.c.NextReader()
		if err != nil {
			if !stopping.Load() {
				w.dropped = true
			}
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			if !stopping.Load() {
				w.dropped = true
			}
			return
		}
		now := time.Now().UnixNano()
		m := buf.Bytes()
		if len(m) == 1 && m[0] == '2' {
			wmu.Lock()
			w.c.WriteMessage(websocket.TextMessage, []byte("3"))
			wmu.Unlock()
			continue
		}
		if !bytes.HasPrefix(m, []byte(`42["ops",`)) {
			continue
		}
		w.frames++
		i := bytes.Index(m, seqKey)
		if i < 0 {
			continue
		}
		j := i + len(seqKey)
		k := j
		for k < len(m) && m[k] >= '0' && m[k] <= '9' {
			k++
		}
		first, _ := strconv.ParseInt(string(m[j:k]), 10, 64)
		n := int64(bytes.Count(m[i:], seqKey))
		switch {
		case first <= w.last:
			w.dupes++
		case first != w.last+1:
			w.gaps++
		}
		if first+n-1 > w.last {
			w.last = first + n - 1
		}
		w.recs = append(w.recs, opRec{first: first, n: int32(n), at: now})
	}
}

type apiResult struct {
	Kind            string      `json:"kind"` // "api"
	Watchers        int         `json:"watchers"`
	WatchersUp      int         `json:"watchers_up"`
	WatchersDropped int         `json:"watchers_dropped"`
	Callers         int         `json:"callers"`
	RatePerCaller   float64     `json:"rate_per_caller"`
	StrokesPerReq   int         `json:"strokes_per_request"`
	OfferedStrokesS float64     `json:"offered_strokes_per_s"`
	WindowS         float64     `json:"window_s"`
	Requests        int64       `json:"requests"` // sent in the window
	OK              int64       `json:"ok"`
	Status429       int64       `json:"status_429"`
	OtherErrors     int64       `json:"other_errors"`
	FirstError      string      `json:"first_error,omitempty"`
	StrokesStored   int64       `json:"strokes_stored"` // from requests sent in the window
	StrokesPerS     float64     `json:"strokes_per_s"`
	API             latSummary  `json:"api_latency"` // request → response
	ServerCPUS      float64     `json:"server_cpu_s"`
	ServerCores     float64     `json:"server_cores"`
	ServerRSSMiB    float64     `json:"server_rss_mib"`
	TesterCores     float64     `json:"tester_cores"`
	OtherCPUS       float64     `json:"other_cpu_s"`
	CPU0OtherS      float64     `json:"cpu0_other_s"` // CPU 0 busy with other processes than the server
	Commit          histSummary `json:"commit"`       // draw_store_commit_seconds over the window
	Commits         float64     `json:"commits"`
	StoredOps       float64     `json:"stored_ops"` // draw_store_ops_total change
	DeliveriesWant  int64       `json:"deliveries_expected"`
	DeliveriesGot   int64       `json:"deliveries"`
	LossPct         float64     `json:"loss_pct"`
	Gaps            int64       `json:"gaps"`
	Duplicates      int64       `json:"duplicates"`
	FramesPerWS     float64     `json:"frames_per_watcher_per_s"`
	Delivery        latSummary  `json:"delivery_latency"` // request sent → op at the watcher
	DroppedMetric   float64     `json:"server_dropped"`   // draw_dropped_total change, all reasons
}

type sentReq struct {
	at     time.Time
	rtt    time.Duration
	status int
	seqs   []int64
}

func cmdAPI(args []string) (any, error) {
	fs := flag.NewFlagSet("api", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "server URL")
	pid := fs.Int("pid", 0, "server PID")
	board := fs.String("board", "apibench", "board")
	watchers := fs.Int("watchers", 1000, "socket.io clients synced on the board")
	callers := fs.Int("callers", 2, "API callers (each its own token: the rate limit is per caller)")
	rate := fs.Float64("rate", 30, "requests per second per caller")
	n := fs.Int("strokes", 100, "strokes per request (1-100)")
	secret := fs.String("token-secret", "", "secret to mint the callers' tokens")
	warmup := fs.Duration("warmup", 3*time.Second, "load before the window")
	dur := fs.Duration("duration", 10*time.Second, "window")
	drain := fs.Duration("drain", 5*time.Second, "wait for late deliveries")
	fs.Parse(args)
	if *pid == 0 || *secret == "" {
		return nil, fmt.Errorf("-pid and -token-secret are required")
	}
	res := apiResult{Kind: "api", Watchers: *watchers, Callers: *callers, RatePerCaller: *rate, StrokesPerReq: *n,
		OfferedStrokesS: float64(*callers) * *rate * float64(*n)}

	// Watchers, at about 500 a second.
	endpoint := wsURL(*base, *board)
	ws := make([]*watcher, *watchers)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	var firstErr atomic.Value
	for i := range ws {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w, err := openWatcher(ctx, endpoint, "")
			if err != nil {
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			ws[i] = w
		}()
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	var stopping atomic.Bool
	var rwg sync.WaitGroup
	var wmu sync.Mutex
	for _, w := range ws {
		if w == nil {
			continue
		}
		res.WatchersUp++
		rwg.Add(1)
		go func() { defer rwg.Done(); w.readLoop(&stopping, &wmu) }()
	}
	if res.WatchersUp < *watchers {
		if e := firstErr.Load(); e != nil {
			res.FirstError = "watcher: " + e.(string)
		}
	}

	// Callers: open loop, one token each.
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var mu sync.Mutex
	var sent []*sentReq
	body := func(k int) []byte {
		var b bytes.Buffer
		b.WriteString(`{"strokes":[`)
		for j := 0; j < *n; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			x, y := (k*7+j*13)%1900+10, (k*11+j*17)%1000+10
			fmt.Fprintf(&b, `{"color":"#2563eb","width":4,"points":[%d,%d,%d,%d]}`, x, y, x+20, y+10)
		}
		b.WriteString(`]}`)
		return b.Bytes()
	}
	start := time.Now().Add(200 * time.Millisecond)
	winStart := start.Add(*warmup)
	winEnd := winStart.Add(*dur)
	var lwg sync.WaitGroup
	var errOnce sync.Once
	u := *base + "/api/boards/" + *board + "/strokes"
	for ci := 0; ci < *callers; ci++ {
		tok, err := mint(*secret, *board, draw.RoleDraw, "bot-"+strconv.Itoa(ci))
		if err != nil {
			return nil, err
		}
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			interval := time.Duration(float64(time.Second) / *rate)
			// Callers are staggered over one interval.
			t0 := start.Add(interval * time.Duration(ci) / time.Duration(*callers))
			for k := 0; ; k++ {
				at := t0.Add(time.Duration(k) * interval)
				if !at.Before(winEnd) {
					return
				}
				time.Sleep(time.Until(at))
				s := &sentReq{}
				mu.Lock()
				sent = append(sent, s)
				mu.Unlock()
				b := body(k*(*callers) + ci)
				lwg.Add(1)
				go func() {
					defer lwg.Done()
					req, _ := http.NewRequest("POST", u, bytes.NewReader(b))
					req.Header.Set("Authorization", "Bearer "+tok)
					req.Header.Set("Content-Type", "application/json")
					s.at = time.Now()
					resp, err := hc.Do(req)
					if err != nil {
						s.status = -1
						errOnce.Do(func() { res.FirstError = "api: " + err.Error() })
						return
					}
					rb, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					s.rtt = time.Since(s.at)
					s.status = resp.StatusCode
					var v struct {
						Seqs []int64 `json:"seqs"`
					}
					if resp.StatusCode == http.StatusCreated && json.Unmarshal(rb, &v) == nil {
						s.seqs = v.Seqs
					} else if resp.StatusCode != http.StatusTooManyRequests {
						errOnce.Do(func() { res.FirstError = fmt.Sprintf("api: %d %s", resp.StatusCode, rb) })
					}
				}()
			}
		}()
	}
	// The window's edges.
	time.Sleep(time.Until(winStart))
	m0, _ := scrape(*base)
	cpu0, _ := procCPU(*pid)
	mcpu0, tcpu0, c00 := machineCPU(), selfCPU(), cpuBusy("cpu0")
	var peakRSS int64
	rssDone := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-rssDone:
				return
			case <-t.C:
				peakRSS = max(peakRSS, procRSS(*pid))
			}
		}
	}()
	time.Sleep(time.Until(winEnd))
	cpu1, _ := procCPU(*pid)
	mcpu1, tcpu1, c01 := machineCPU(), selfCPU(), cpuBusy("cpu0")
	m1, _ := scrape(*base)
	close(rssDone)
	window := winEnd.Sub(winStart).Seconds()
	lwg.Wait()
	time.Sleep(*drain)
	stopping.Store(true)
	for _, w := range ws {
		if w != nil {
			w.c.Close()
		}
	}
	rwg.Wait()

	res.WindowS = window
	res.ServerCPUS = round(cpu1-cpu0, 2)
	res.ServerCores = round((cpu1-cpu0)/window, 3)
	res.ServerRSSMiB = round(float64(peakRSS)/(1<<20), 1)
	res.TesterCores = round((tcpu1-tcpu0)/window, 3)
	res.OtherCPUS = round(max(0, mcpu1-mcpu0-(cpu1-cpu0)-(tcpu1-tcpu0)), 2)
	res.CPU0OtherS = round(max(0, c01-c00-(cpu1-cpu0)), 2)
	res.Commit = histDiff(m0, m1, "draw_store_commit_seconds")
	res.Commits = res.Commit.Count
	res.StoredOps = m1["draw_store_ops_total"] - m0["draw_store_ops_total"]
	for k, v := range m1 {
		if len(k) > len("draw_dropped_total") && k[:len("draw_dropped_total")] == "draw_dropped_total" {
			res.DroppedMetric += v - m0[k]
		}
	}

	// Ops of the window's requests: seq → send time.
	apiH := newLatHist()
	sendAt := map[int64]int64{}
	var minSeq, maxSeq int64 = 1 << 62, 0
	for _, s := range sent {
		if s.at.Before(winStart) || !s.at.Before(winEnd) {
			continue
		}
		res.Requests++
		switch {
		case s.status == http.StatusCreated:
			res.OK++
			apiH.addN(s.rtt, 1)
		case s.status == http.StatusTooManyRequests:
			res.Status429++
		default:
			res.OtherErrors++
		}
		for _, q := range s.seqs {
			sendAt[q] = s.at.UnixNano()
			minSeq, maxSeq = min(minSeq, q), max(maxSeq, q)
		}
		res.StrokesStored += int64(len(s.seqs))
	}
	res.StrokesPerS = round(float64(res.StrokesStored)/window, 1)
	res.API = apiH.summary()
	var at []int64
	if maxSeq >= minSeq {
		at = make([]int64, maxSeq-minSeq+1)
		for q, t := range sendAt {
			at[q-minSeq] = t
		}
	}
	delH := newLatHist()
	var frames int64
	for _, w := range ws {
		if w == nil {
			continue
		}
		if w.dropped {
			res.WatchersDropped++
		}
		res.Gaps += w.gaps
		res.Duplicates += w.dupes
		frames += w.frames
		res.DeliveriesWant += int64(len(sendAt))
		seen := make([]bool, len(at))
		for _, r := range w.recs {
			// Runs of ops from one request share a latency.
			var runT int64
			var runN int64
			flush := func() {
				if runN > 0 {
					delH.addN(time.Duration(r.at-runT), runN)
				}
				runN = 0
			}
			for q := r.first; q < r.first+int64(r.n); q++ {
				if q < minSeq || q > maxSeq {
					continue
				}
				t := at[q-minSeq]
				if t == 0 || seen[q-minSeq] {
					continue
				}
				seen[q-minSeq] = true
				res.DeliveriesGot++
				if t != runT {
					flush()
					runT = t
				}
				runN++
			}
			flush()
		}
	}
	if res.DeliveriesWant > 0 {
		res.LossPct = round(100*float64(res.DeliveriesWant-res.DeliveriesGot)/float64(res.DeliveriesWant), 4)
	}
	if res.WatchersUp > 0 {
		res.FramesPerWS = round(float64(frames)/float64(res.WatchersUp)/(window+warmup.Seconds()), 1)
	}
	res.Delivery = delH.summary()
	sort.Slice(sent, func(i, j int) bool { return sent[i].at.Before(sent[j].at) })
	return res, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
