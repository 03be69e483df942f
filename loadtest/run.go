package loadtest

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// run is one load test: its clients and what they share.
type run struct {
	cfg        config
	dialer     *websocket.Dialer
	httpClient *http.Client
	interval   time.Duration // between one sender's emits

	boardNames  []string
	clients     []*client
	senderBoard []int                    // board of each sender index
	senderNode  []int                    // index into cfg.bases of each sender
	senderIDs   []atomic.Pointer[[]byte] // socket id of each sender, once connected

	// The measurement window in unix µs: moves stamped inside it are the
	// ones counted for loss and latency.
	winStart, winEnd atomic.Int64
	// rxStart and rxEnd (unix µs) bound the receive-time throughput count.
	rxStart, rxEnd atomic.Int64
	stopping       atomic.Bool
	connectedN     atomic.Int64
	phase          atomic.Value // string, for the progress line
	latency        histogram    // µs
	// With several URLs, the same latencies split by whether the sender's
	// URL is the receiver's (same node) or not (cross node).
	latencySame, latencyCross histogram

	errMu  sync.Mutex
	errors map[string]int
}

// maxErrorKinds bounds how many distinct error messages are kept.
const maxErrorKinds = 20

func newRun(cfg config) *run {
	r := &run{
		cfg:      cfg,
		interval: time.Duration(float64(time.Second) / cfg.rate),
		errors:   map[string]int{},
		dialer: &websocket.Dialer{
			HandshakeTimeout: cfg.connectTimeout,
			// Small buffers: 10,000 idle clients must not cost the tester
			// more than the server. Writes borrow from a shared pool.
			ReadBufferSize:  2048,
			WriteBufferSize: 1024,
			WriteBufferPool: &sync.Pool{},
			NetDialContext:  (&net.Dialer{Timeout: cfg.connectTimeout}).DialContext,
		},
	}
	if cfg.boards <= 1 {
		r.boardNames = []string{cfg.board}
	} else {
		prefix := cfg.board
		if prefix == "" {
			prefix = "load-"
		}
		for b := 0; b < cfg.boards; b++ {
			r.boardNames = append(r.boardNames, fmt.Sprintf("%s%d", prefix, b))
		}
	}
	r.senderIDs = make([]atomic.Pointer[[]byte], cfg.senders)
	r.senderBoard = make([]int, cfg.senders)
	r.senderNode = make([]int, cfg.senders)
	k, j, nPolling := 0, 0, 0 // sender and non-sender ordinals
	for i := 0; i < cfg.clients; i++ {
		c := &client{run: r, idx: i, sender: -1}
		// Boards are contiguous blocks and senders spread evenly over the
		// clients, so every board gets its share of senders. The polling
		// share applies to senders and receivers alike.
		c.board = i * len(r.boardNames) / cfg.clients
		// With several URLs, senders and receivers are each dealt
		// round-robin, so both split evenly over the nodes (senders are
		// every clients/senders-th client: dealing all clients by index
		// would put every sender on one node whenever that is even).
		if (i*cfg.senders)%cfg.clients < cfg.senders {
			c.sender = k
			r.senderBoard[k] = c.board
			c.polling = crosses(k, cfg.polling)
			c.node = k % len(cfg.bases)
			r.senderNode[k] = c.node
			k++
		} else {
			c.polling = crosses(j, cfg.polling)
			c.node = j % len(cfg.bases)
			j++
		}
		if c.polling {
			nPolling++
		}
		r.clients = append(r.clients, c)
	}
	r.httpClient = &http.Client{Transport: &http.Transport{
		// Each polling client holds a GET and, at times, a POST.
		MaxIdleConns:        2*nPolling + 16,
		MaxIdleConnsPerHost: 2*nPolling + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: cfg.connectTimeout}).DialContext,
	}}
	r.winStart.Store(math.MaxInt64)
	r.winEnd.Store(math.MaxInt64)
	r.rxStart.Store(math.MaxInt64)
	r.rxEnd.Store(math.MaxInt64)
	return r
}

// crosses spreads a share evenly: it is true for floor(n·share) of the
// indexes 0…n-1, one at each step where the running total crosses an integer.
func crosses(i int, share float64) bool {
	return math.Floor(float64(i+1)*share) > math.Floor(float64(i)*share)
}

// endpoint is the Engine.IO URL a client opens.
func (r *run) endpoint(c *client) string {
	u := *r.cfg.bases[c.node]
	if c.polling {
		u.RawQuery = "EIO=4&transport=polling"
	} else {
		u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
		u.RawQuery = "EIO=4&transport=websocket"
	}
	if b := r.boardNames[c.board]; b != "" {
		q := u.Query()
		q.Set("board", b)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// metricsPrefixes are the samples -metrics keeps: the server's own.
var metricsPrefixes = []string{"draw_"}

// scrape is one reading of the server's metrics; at is the middle of the
// request, the best guess of when the server read its counters.
type scrape struct {
	samples map[string]float64
	kinds   map[string]string
	at      time.Time
	took    time.Duration
	err     error
}

func (r *run) scrape(ctx context.Context, node int) scrape {
	start := time.Now()
	s, k, err := ScrapeMetrics(ctx, r.httpClient, metricsURL(r.cfg.bases[node]), metricsPrefixes)
	took := time.Since(start)
	if err != nil && len(r.cfg.bases) > 1 {
		err = fmt.Errorf("%s: %w", resultURL(r.cfg.bases[node]), err)
	}
	return scrape{samples: s, kinds: k, at: start.Add(took / 2), took: took, err: err}
}

// scrapeAll reads every node's metrics at once.
func (r *run) scrapeAll(ctx context.Context) []scrape {
	out := make([]scrape, len(r.cfg.bases))
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = r.scrape(ctx, i) }()
	}
	wg.Wait()
	return out
}

// metricsURL is a server's /metrics beside its socket.io endpoint.
func metricsURL(base *url.URL) string {
	u := *base
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/socket.io") + "/metrics"
	u.RawQuery = ""
	return u.String()
}

// resultURL is a -url as the result shows it, without /socket.io/.
func resultURL(base *url.URL) string { return strings.TrimSuffix(base.String(), "/socket.io/") }

func (r *run) setSenderID(k int, id []byte) { r.senderIDs[k].Store(&id) }

func (r *run) senderID(k int) []byte {
	if p := r.senderIDs[k].Load(); p != nil {
		return *p
	}
	return nil
}

func (r *run) noteError(what string, err error) {
	msg := what
	if err != nil {
		msg += ": " + err.Error()
	}
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if _, ok := r.errors[msg]; ok || len(r.errors) < maxErrorKinds {
		r.errors[msg]++
	}
}

// connectAll opens every client, spread evenly over the ramp, with at most
// cfg.inflight handshakes at once. It returns when every attempt has ended.
func (r *run) connectAll(ctx context.Context) (ok []*client) {
	sem := make(chan struct{}, r.cfg.inflight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	n := len(r.clients)
	for i, c := range r.clients {
		if d := time.Until(start.Add(r.cfg.ramp * time.Duration(i) / time.Duration(n))); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
			defer cancel()
			if err := c.connect(cctx); err != nil {
				r.noteError("connect", err)
				return
			}
			r.connectedN.Add(1)
			mu.Lock()
			ok = append(ok, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(ok, func(i, j int) bool { return ok[i].idx < ok[j].idx })
	return ok
}

// sleepUntil waits for t or ctx, whichever comes first.
func sleepUntil(ctx context.Context, t time.Time) {
	if d := time.Until(t); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
}

// execute runs the whole test: connect, warm up, measure, drain, close.
func (r *run) execute(ctx context.Context, progress io.Writer) *Result {
	cfg := r.cfg
	res := newResult(cfg)
	var srv *serverSampler
	if len(cfg.pids) > 0 {
		srv = startServerSampler(cfg.pids)
		defer srv.stop()
		res.Server = &ServerStats{PID: cfg.pids[0], RSSBaselineKiB: srv.rss()}
		if len(cfg.pids) > 1 {
			res.Server.PIDs = cfg.pids
			res.Servers = make([]ServerStats, len(cfg.pids))
			for i, pid := range cfg.pids {
				res.Servers[i] = ServerStats{PID: pid, RSSBaselineKiB: srv.rssOf(i)}
			}
		}
	}
	r.phase.Store("connect")
	stopProgress := r.startProgress(progress)
	defer stopProgress()

	connStart := time.Now()
	connected := r.connectAll(ctx)
	res.ConnectSeconds = time.Since(connStart).Seconds()
	res.Connected = len(connected)
	res.Failed = cfg.clients - len(connected)
	if srv != nil {
		res.Server.RSSConnectedKiB = srv.rss()
		for i := range res.Servers {
			res.Servers[i].RSSConnectedKiB = srv.rssOf(i)
		}
	}

	members := make([]int, len(r.boardNames))
	var senders []*client
	for _, c := range connected {
		members[c.board]++
		if c.sender >= 0 {
			senders = append(senders, c)
		}
	}
	res.SendersConnected = len(senders)

	start := time.Now()
	winStart := start.Add(cfg.warmup)
	winEnd := winStart.Add(cfg.duration)
	r.winStart.Store(winStart.UnixMicro())
	r.winEnd.Store(winEnd.UnixMicro())
	r.rxStart.Store(winStart.UnixMicro())
	r.rxEnd.Store(winEnd.UnixMicro())
	stop := make(chan struct{})
	var sendersWG sync.WaitGroup
	for _, c := range senders {
		sendersWG.Add(1)
		go func() {
			defer sendersWG.Done()
			// Stagger senders across one interval so emits do not arrive
			// in bursts of K.
			c.emitLoop(stop, r.interval*time.Duration(c.sender)/time.Duration(max(cfg.senders, 1)))
		}()
	}

	r.phase.Store("warm-up")
	sleepUntil(ctx, winStart)
	r.phase.Store("measure")
	procs0, kernel0, busyErr := machineBusy()
	cpu0 := selfCPU()
	srvCPU0 := make([]time.Duration, len(cfg.pids))
	for i, pid := range cfg.pids {
		srvCPU0[i], _ = procCPU(pid)
	}
	if srv != nil {
		srv.resetPeak()
	}
	auxCPU0 := make([]time.Duration, len(cfg.auxPids))
	for i, pid := range cfg.auxPids {
		auxCPU0[i], _ = procCPU(pid)
	}
	measured := time.Now()
	// The first scrape runs beside the window: a saturated server may take
	// seconds to answer, and the window must not wait for it.
	var first chan []scrape
	if cfg.metrics {
		first = make(chan []scrape, 1)
		go func() { first <- r.scrapeAll(ctx) }()
	}
	sleepUntil(ctx, winEnd)
	if ctx.Err() != nil {
		res.Interrupted = true
		r.rxEnd.Store(time.Now().UnixMicro())
	}
	window := time.Since(measured)
	res.TesterCPUSeconds = (selfCPU() - cpu0).Seconds()
	if procs1, kernel1, err := machineBusy(); err == nil && busyErr == nil {
		res.ProcessesCPUSeconds = (procs1 - procs0).Seconds()
		res.KernelCPUSeconds = (kernel1 - kernel0).Seconds()
	}
	if srv != nil {
		for i, pid := range cfg.pids {
			cpu1, err := procCPU(pid)
			if err != nil {
				res.Server.Error = fmt.Sprintf("the server process %d is gone: %v", pid, err)
				if res.Servers != nil {
					res.Servers[i].Error = res.Server.Error
				}
				continue
			}
			res.Server.CPUSeconds += (cpu1 - srvCPU0[i]).Seconds()
			if res.Servers != nil {
				res.Servers[i].CPUSeconds = (cpu1 - srvCPU0[i]).Seconds()
			}
		}
		res.Server.RSSEndKiB = srv.rss()
		res.Server.RSSPeakKiB = srv.peak()
		for i := range res.Servers {
			res.Servers[i].RSSEndKiB = srv.rssOf(i)
			res.Servers[i].RSSPeakKiB = srv.peakOf(i)
		}
	}
	for i, pid := range cfg.auxPids {
		a := ProcessCPU{PID: pid, Name: procName(pid)}
		if cpu1, err := procCPU(pid); err != nil {
			a.Error = err.Error()
		} else {
			a.CPUSeconds = (cpu1 - auxCPU0[i]).Seconds()
		}
		res.Aux = append(res.Aux, a)
	}
	if cfg.metrics {
		r.fillMetrics(ctx, res, <-first)
	}
	close(stop)
	waitTimeout(&sendersWG, writeWait+time.Second)

	// Every move stamped in the window should reach every other member of
	// its sender's board.
	var expected int64
	for _, c := range senders {
		expected += c.st.emittedWindow.Load() * int64(members[c.board]-1)
	}
	r.phase.Store("drain")
	drainEnd := time.Now().Add(cfg.drain)
	for time.Now().Before(drainEnd) && ctx.Err() == nil {
		if r.sum(func(s *clientStats) int64 { return s.delivered.Load() }) >= expected {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.DrainSeconds = time.Since(winEnd).Seconds()
	stopProgress()

	r.fill(res, connected, expected, window)
	res.TesterCPUSecondsTotal = selfCPU().Seconds()
	r.stopping.Store(true)
	r.closeAll(connected)
	return res
}

// fillMetrics reads every node's metrics again at the window's end and puts
// the change since s0 into res: summed over the nodes, and per node when
// there are several.
func (r *run) fillMetrics(ctx context.Context, res *Result, s0 []scrape) {
	for _, s := range s0 {
		if s.err != nil {
			res.ServerMetricsError = s.err.Error()
			return
		}
	}
	s1 := r.scrapeAll(ctx)
	for _, s := range s1 {
		if s.err != nil {
			res.ServerMetricsError = s.err.Error()
			return
		}
	}
	var spans []float64
	for i := range s1 {
		ch := metricsChange(s0[i].samples, s1[i].samples, s1[i].kinds)
		if len(s1) > 1 {
			res.ServerMetricsPerNode = append(res.ServerMetricsPerNode, NodeMetrics{URL: resultURL(r.cfg.bases[i]), Metrics: ch})
		}
		if res.ServerMetrics == nil {
			res.ServerMetrics = map[string]float64{}
		}
		for k, v := range ch {
			res.ServerMetrics[k] += v
		}
		spans = append(spans, s1[i].at.Sub(s0[i].at).Seconds())
		res.ServerMetricsScrapeMs = max(res.ServerMetricsScrapeMs, 1000*max(s0[i].took, s1[i].took).Seconds())
	}
	var sum float64
	for _, v := range spans {
		sum += v
	}
	res.ServerMetricsSeconds = sum / float64(len(spans))
}

// sum adds one counter over every client.
func (r *run) sum(f func(*clientStats) int64) int64 {
	var n int64
	for _, c := range r.clients {
		n += f(&c.st)
	}
	return n
}

// closeAll closes the clients a few at a time and waits, bounded, for their
// read loops to end.
func (r *run) closeAll(cs []*client) {
	work := make(chan *client)
	var wg sync.WaitGroup
	for range min(64, len(cs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.tr.close()
			}
		}()
	}
	for _, c := range cs {
		work <- c
	}
	close(work)
	wg.Wait()
	deadline := time.After(5 * time.Second)
	for _, c := range cs {
		select {
		case <-c.done:
		case <-deadline:
			return
		}
	}
}

// waitTimeout waits for wg at most d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// fill copies the counters into res.
func (r *run) fill(res *Result, connected []*client, expected int64, window time.Duration) {
	get := func(f func(*clientStats) int64) int64 { return r.sum(f) }
	res.WindowSeconds = window.Seconds()
	res.EmitsSent = get(func(s *clientStats) int64 { return s.emittedWindow.Load() })
	res.SendErrors = get(func(s *clientStats) int64 { return s.sendErrors.Load() })
	res.Expected = expected
	res.Delivered = get(func(s *clientStats) int64 { return s.delivered.Load() })
	if expected > 0 {
		res.LossPercent = 100 * float64(expected-min(res.Delivered, expected)) / float64(expected)
	}
	res.Received = get(func(s *clientStats) int64 { return s.received.Load() })
	res.OutOfOrder = get(func(s *clientStats) int64 { return s.outOfOrder.Load() })
	res.Duplicates = get(func(s *clientStats) int64 { return s.duplicates.Load() })
	res.SelfEchoes = get(func(s *clientStats) int64 { return s.echoes.Load() })
	res.WrongID = get(func(s *clientStats) int64 { return s.wrongID.Load() })
	res.CrossBoard = get(func(s *clientStats) int64 { return s.crossBoard.Load() })
	res.UnknownSender = get(func(s *clientStats) int64 { return s.unknown.Load() })
	res.Malformed = get(func(s *clientStats) int64 { return s.malformed.Load() })
	res.ClientDisconnects = get(func(s *clientStats) int64 { return s.left.Load() })
	res.Rejected = get(func(s *clientStats) int64 { return s.rejected.Load() })
	res.OtherEvents = get(func(s *clientStats) int64 { return s.otherEvents.Load() })
	for _, c := range connected {
		if c.st.dropped.Load() {
			res.Dropped++
		}
	}
	if s := window.Seconds(); s > 0 {
		res.EmitsPerSecond = float64(res.EmitsSent) / s
		res.DeliveriesPerSecond = float64(res.Received) / s
		res.TesterCPUCores = res.TesterCPUSeconds / s
	}
	res.Latency = latencyStats(&r.latency)
	if len(r.cfg.bases) > 1 {
		same, cross := latencyStats(&r.latencySame), latencyStats(&r.latencyCross)
		res.LatencySameNode, res.LatencyCrossNode = &same, &cross
	}
	if res.Server != nil && res.Received > 0 {
		res.Server.CPUSecondsPerMillion = res.Server.CPUSeconds / float64(res.Received) * 1e6
		for i := range res.Servers {
			res.Servers[i].CPUSecondsPerMillion = res.Servers[i].CPUSeconds / float64(res.Received) * 1e6
		}
	}
	if res.Server != nil && res.Connected > 0 && res.Server.RSSBaselineKiB > 0 {
		res.Server.RSSPerConnectionKiB = float64(res.Server.RSSEndKiB-res.Server.RSSBaselineKiB) / float64(res.Connected)
	}
	for i := range res.Servers {
		if n := connectedTo(connected, i); n > 0 && res.Servers[i].RSSBaselineKiB > 0 {
			res.Servers[i].RSSPerConnectionKiB = float64(res.Servers[i].RSSEndKiB-res.Servers[i].RSSBaselineKiB) / float64(n)
		}
	}
	if res.ProcessesCPUSeconds > 0 {
		other := res.ProcessesCPUSeconds - res.TesterCPUSeconds
		if res.Server != nil {
			other -= res.Server.CPUSeconds
		}
		for _, a := range res.Aux {
			other -= a.CPUSeconds
		}
		res.OtherCPUSeconds = max(other, 0)
	}
	res.TesterGOMAXPROCS = runtime.GOMAXPROCS(0)
	res.TesterMaxRSSKiB = selfMaxRSS()
	r.errMu.Lock()
	for msg, n := range r.errors {
		res.Errors = append(res.Errors, ErrorCount{Message: msg, Count: n})
	}
	r.errMu.Unlock()
	sort.Slice(res.Errors, func(i, j int) bool { return res.Errors[i].Count > res.Errors[j].Count })
}

// latencyStats summarises a histogram of µs in ms.
func latencyStats(h *histogram) LatencyStats {
	return LatencyStats{
		Samples: h.count(),
		MeanMs:  h.mean() / 1000,
		P50Ms:   float64(h.quantile(0.50)) / 1000,
		P90Ms:   float64(h.quantile(0.90)) / 1000,
		P99Ms:   float64(h.quantile(0.99)) / 1000,
		P999Ms:  float64(h.quantile(0.999)) / 1000,
		MaxMs:   float64(h.maxValue()) / 1000,
	}
}

// connectedTo counts the connected clients of URL node. With several
// -pid and several -url, the i-th pid is taken to serve the i-th URL.
func connectedTo(cs []*client, node int) int {
	n := 0
	for _, c := range cs {
		if c.node == node {
			n++
		}
	}
	return n
}

// serverSampler polls local servers' RSS to catch the peak of their sum
// and of each.
type serverSampler struct {
	pids    []int
	mu      sync.Mutex
	last    []int64 // per pid
	max     []int64 // per pid
	sumLast int64
	sumMax  int64
	done    chan struct{}
	stopped sync.Once
}

// sampleEvery is how often the servers' RSS is read.
const sampleEvery = 200 * time.Millisecond

func startServerSampler(pids []int) *serverSampler {
	s := &serverSampler{pids: pids, last: make([]int64, len(pids)), max: make([]int64, len(pids)), done: make(chan struct{})}
	s.sample()
	go func() {
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.sample()
			case <-s.done:
				return
			}
		}
	}()
	return s
}

func (s *serverSampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum int64
	for i, pid := range s.pids {
		if v, err := procRSS(pid); err == nil {
			s.last[i] = v
			s.max[i] = max(s.max[i], v)
		}
		sum += s.last[i]
	}
	s.sumLast = sum
	s.sumMax = max(s.sumMax, sum)
}

func (s *serverSampler) rss() int64 { s.sample(); s.mu.Lock(); defer s.mu.Unlock(); return s.sumLast }
func (s *serverSampler) peak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sumMax
}
func (s *serverSampler) rssOf(i int) int64 {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[i]
}
func (s *serverSampler) peakOf(i int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max[i]
}
func (s *serverSampler) resetPeak() {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sumMax = s.sumLast
	copy(s.max, s.last)
}
func (s *serverSampler) stop() { s.stopped.Do(func() { close(s.done) }) }
