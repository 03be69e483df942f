package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawing/draw/draw"
	"github.com/gorilla/websocket"
)

// connectResult is one churn cell: connections opened, CONNECTed and closed
// at a steady rate, and the server's CPU per connection over the window.
type connectResult struct {
	Kind          string     `json:"kind"` // "connect"
	Token         bool       `json:"token"`
	Rate          float64    `json:"rate"`
	WindowS       float64    `json:"window_s"`
	Connections   int64      `json:"connections"` // completed, started in the window
	Failed        int64      `json:"failed"`
	Late          int64      `json:"late"` // started more than 50 ms after their slot
	ConnPerS      float64    `json:"conn_per_s"`
	ServerCPUS    float64    `json:"server_cpu_s"`
	ServerCores   float64    `json:"server_cores"`
	CPUPerConnUs  float64    `json:"cpu_per_conn_us"`
	TesterCPUS    float64    `json:"tester_cpu_s"`
	OtherCPUS     float64    `json:"other_cpu_s"`
	CPU0OtherS    float64    `json:"cpu0_other_s"` // CPU 0 busy with other processes than the server
	Handshake     latSummary `json:"handshake"`
	RefusedTokens float64    `json:"refused_tokens"` // draw_refused_connections_total{reason="token"} change
	FirstError    string     `json:"first_error,omitempty"`
}

func cmdConnect(args []string) (any, error) {
	fs := flag.NewFlagSet("connect", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "server URL")
	pid := fs.Int("pid", 0, "server PID (CPU from /proc)")
	rate := fs.Float64("rate", 1000, "connections per second")
	warmup := fs.Duration("warmup", 2*time.Second, "churn before the window")
	dur := fs.Duration("duration", 8*time.Second, "measurement window")
	secret := fs.String("token-secret", "", "mint a token with this secret and pass it in CONNECT (empty: no token)")
	board := fs.String("board", "churn", "board to connect to")
	inflight := fs.Int("inflight", 500, "connections in progress at once, at most")
	fs.Parse(args)
	if *pid == 0 {
		return nil, fmt.Errorf("-pid is required")
	}
	token := ""
	if *secret != "" {
		var err error
		if token, err = mint(*secret, *board, draw.RoleDraw, "churn-user"); err != nil {
			return nil, err
		}
	}
	endpoint := wsURL(*base, *board)
	res := connectResult{Kind: "connect", Token: token != "", Rate: *rate}
	hist := newLatHist()
	var inWindow atomic.Bool
	var done, failed, late atomic.Int64
	var errOnce sync.Once
	sem := make(chan struct{}, *inflight)
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	winStart, winEnd := start.Add(*warmup), start.Add(*warmup+*dur)
	var cpu0, mcpu0, tcpu0, c00 float64
	refused := func() float64 {
		m, err := scrape(*base)
		if err != nil {
			return 0
		}
		return m[`draw_refused_connections_total{reason="token"}`]
	}
	var ref0 float64
	for i := 0; ; i++ {
		slot := start.Add(time.Duration(i) * interval)
		if !slot.Before(winEnd) {
			break
		}
		if d := time.Until(slot); d > 0 {
			time.Sleep(d)
		}
		if !inWindow.Load() && !slot.Before(winStart) {
			cpu0, _ = procCPU(*pid)
			mcpu0, tcpu0, c00 = machineCPU(), selfCPU(), cpuBusy("cpu0")
			ref0 = refused()
			inWindow.Store(true)
		}
		counted := inWindow.Load()
		if counted && time.Since(slot) > 50*time.Millisecond {
			late.Add(1)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			t0 := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := sioConnect(ctx, endpoint, token)
			cancel()
			if err != nil {
				if counted {
					failed.Add(1)
					errOnce.Do(func() { res.FirstError = err.Error() })
				}
				return
			}
			if counted {
				hist.addN(time.Since(t0), 1)
				done.Add(1)
			}
			// As socket.io-client leaves: DISCONNECT, then close.
			c.WriteMessage(websocket.TextMessage, []byte("41"))
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			c.Close()
		}()
	}
	wg.Wait()
	// The teardown of the last connections is part of their cost.
	time.Sleep(200 * time.Millisecond)
	cpu1, _ := procCPU(*pid)
	c01 := cpuBusy("cpu0")
	window := time.Since(winStart).Seconds()
	res.WindowS = round(window, 3)
	res.Connections, res.Failed, res.Late = done.Load(), failed.Load(), late.Load()
	res.ConnPerS = round(float64(res.Connections)/dur.Seconds(), 1)
	res.CPU0OtherS = round(max(0, c01-c00-(cpu1-cpu0)), 2)
	res.ServerCPUS = round(cpu1-cpu0, 2)
	res.ServerCores = round((cpu1-cpu0)/window, 3)
	if res.Connections > 0 {
		res.CPUPerConnUs = round((cpu1-cpu0)/float64(res.Connections)*1e6, 1)
	}
	res.TesterCPUS = round(selfCPU()-tcpu0, 2)
	res.OtherCPUS = round(max(0, machineCPU()-mcpu0-(cpu1-cpu0)-res.TesterCPUS), 2)
	res.Handshake = hist.summary()
	res.RefusedTokens = refused() - ref0
	return res, nil
}
