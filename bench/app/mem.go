package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawing/draw/draw"
)

// memSample is the server's memory at one moment, after a forced GC.
type memSample struct {
	RSS        int64   `json:"rss"`         // VmRSS
	ProcRSS    float64 `json:"process_rss"` // process_resident_memory_bytes
	HeapInuse  float64 `json:"heap_inuse"`
	HeapAlloc  float64 `json:"heap_alloc"`
	StackInuse float64 `json:"stack_inuse"`
	Sys        float64 `json:"sys"`
	Goroutines float64 `json:"goroutines"`
}

func sampleMem(base, pprofBase string, pid int) (memSample, error) {
	if err := forceGC(pprofBase); err != nil {
		return memSample{}, err
	}
	time.Sleep(300 * time.Millisecond)
	m, err := scrape(base)
	if err != nil {
		return memSample{}, err
	}
	return memSample{RSS: procRSS(pid), ProcRSS: m["process_resident_memory_bytes"], HeapInuse: m["go_memstats_heap_inuse_bytes"],
		HeapAlloc: m["go_memstats_alloc_bytes"], StackInuse: m["go_memstats_stack_inuse_bytes"], Sys: m["go_memstats_sys_bytes"],
		Goroutines: m["go_goroutines"]}, nil
}

// perConn is (s - base) / n, in bytes per connection.
type perConn struct {
	RSS        float64 `json:"rss"`
	HeapInuse  float64 `json:"heap_inuse"`
	HeapAlloc  float64 `json:"heap_alloc"`
	StackInuse float64 `json:"stack_inuse"`
	HeapStack  float64 `json:"heap_plus_stack"`
	Goroutines float64 `json:"goroutines"`
}

func per(s, base memSample, n int) perConn {
	f := float64(n)
	p := perConn{
		RSS: float64(s.RSS-base.RSS) / f, HeapInuse: (s.HeapInuse - base.HeapInuse) / f, HeapAlloc: (s.HeapAlloc - base.HeapAlloc) / f,
		StackInuse: (s.StackInuse - base.StackInuse) / f, Goroutines: (s.Goroutines - base.Goroutines) / f,
	}
	p.HeapStack = p.HeapInuse + p.StackInuse
	for _, v := range []*float64{&p.RSS, &p.HeapInuse, &p.HeapAlloc, &p.StackInuse, &p.HeapStack} {
		*v = round(*v, 0)
	}
	p.Goroutines = round(p.Goroutines, 2)
	return p
}

type memResult struct {
	Kind       string    `json:"kind"` // "mem"
	Mode       string    `json:"mode"` // "sse" or "ws"
	N          int       `json:"n"`
	Up         int       `json:"up"`
	Lost       int       `json:"lost"` // connections that ended before the run did
	OpsWant    int64     `json:"ops_expected"`
	OpsGot     int64     `json:"ops_received"` // summed over readers
	Base       memSample `json:"base"`
	Idle       memSample `json:"idle"`
	After      memSample `json:"after_strokes"`
	PerIdle    perConn   `json:"per_conn_idle"`
	PerAfter   perConn   `json:"per_conn_after_strokes"`
	FirstError string    `json:"first_error,omitempty"`
}

func cmdMem(args []string) (any, error) {
	fs := flag.NewFlagSet("mem", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "server URL")
	pprofBase := fs.String("pprof", "", "server's -pprof URL (to force a GC before each sample)")
	pid := fs.Int("pid", 0, "server PID")
	mode := fs.String("mode", "sse", "sse (GET /api/boards/{board}/events) or ws (socket.io clients that sync)")
	n := fs.Int("n", 1000, "connections")
	board := fs.String("board", "memboard", "board")
	secret := fs.String("token-secret", "", "secret to mint each connection's token (view role)")
	apiKey := fs.String("api-key", "", "API key that draws the strokes")
	requests := fs.Int("requests", 10, "API requests of -strokes strokes once the readers idled")
	strokes := fs.Int("strokes", 10, "strokes per request")
	idle := fs.Duration("idle", 3*time.Second, "idle time before the idle sample")
	fs.Parse(args)
	if *pid == 0 || *pprofBase == "" || *secret == "" || *apiKey == "" {
		return nil, fmt.Errorf("-pid, -pprof, -token-secret and -api-key are required")
	}
	res := memResult{Kind: "mem", Mode: *mode, N: *n}
	var err error
	if res.Base, err = sampleMem(*base, *pprofBase, *pid); err != nil {
		return nil, err
	}
	var got atomic.Int64
	var stopping atomic.Bool
	var lost atomic.Int64
	var firstErr atomic.Value
	closers := make([]func(), *n)
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	hc := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	var rwg sync.WaitGroup
	for i := 0; i < *n; i++ {
		tok, err := mint(*secret, *board, draw.RoleView, fmt.Sprintf("reader-%d", i))
		if err != nil {
			return nil, err
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			switch *mode {
			case "sse":
				rctx, rcancel := context.WithCancel(context.Background())
				req, _ := http.NewRequestWithContext(rctx, "GET", *base+"/api/boards/"+*board+"/events", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := hc.Do(req)
				if err != nil || resp.StatusCode != 200 {
					rcancel()
					if err == nil {
						err = fmt.Errorf("status %d", resp.StatusCode)
						resp.Body.Close()
					}
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				br := bufio.NewReaderSize(resp.Body, 16<<10)
				// Up once the first event (presence) is read.
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						rcancel()
						firstErr.CompareAndSwap(nil, "sse: "+err.Error())
						return
					}
					if l == "\n" {
						break
					}
				}
				closers[i] = func() { rcancel(); resp.Body.Close() }
				rwg.Add(1)
				go func() {
					defer rwg.Done()
					for {
						l, err := br.ReadSlice('\n')
						if err != nil {
							if !stopping.Load() {
								lost.Add(1)
							}
							return
						}
						if bytes.HasPrefix(l, []byte("data: [")) {
							got.Add(int64(bytes.Count(l, seqKey)))
						}
					}
				}()
			case "ws":
				w, err := openWatcher(ctx, wsURL(*base, *board), tok)
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				closers[i] = func() { w.c.Close() }
				rwg.Add(1)
				go func() {
					defer rwg.Done()
					var wmu sync.Mutex
					w.readLoop(&stopping, &wmu)
					if w.dropped {
						lost.Add(1)
					}
					for _, r := range w.recs {
						got.Add(int64(r.n))
					}
				}()
			default:
				firstErr.CompareAndSwap(nil, "unknown -mode "+*mode)
			}
		}()
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	for _, c := range closers {
		if c != nil {
			res.Up++
		}
	}
	time.Sleep(*idle)
	if res.Idle, err = sampleMem(*base, *pprofBase, *pid); err != nil {
		return nil, err
	}
	// A few strokes, with the API key.
	for k := 0; k < *requests; k++ {
		var b strings.Builder
		b.WriteString(`{"strokes":[`)
		for j := 0; j < *strokes; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"color":"#dc2626","width":3,"points":[%d,%d,%d,%d]}`, 100+k*10, 100+j*10, 300+k*10, 200+j*10)
		}
		b.WriteString(`]}`)
		req, _ := http.NewRequest("POST", *base+"/api/boards/"+*board+"/strokes", strings.NewReader(b.String()))
		req.Header.Set("Authorization", "Bearer "+*apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			firstErr.CompareAndSwap(nil, fmt.Sprintf("draw: status %d", resp.StatusCode))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	if res.After, err = sampleMem(*base, *pprofBase, *pid); err != nil {
		return nil, err
	}
	stopping.Store(true)
	for _, c := range closers {
		if c != nil {
			c()
		}
	}
	rwg.Wait()
	res.OpsWant = int64(*requests * *strokes * res.Up)
	res.OpsGot = got.Load()
	res.Lost = int(lost.Load())
	if e := firstErr.Load(); e != nil {
		res.FirstError = e.(string)
	}
	res.PerIdle = per(res.Idle, res.Base, max(res.Up, 1))
	res.PerAfter = per(res.After, res.Base, max(res.Up, 1))
	return res, nil
}
