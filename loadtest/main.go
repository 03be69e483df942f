// Package loadtest is a fan-out load tester for the drawing server's wire
// contract: N socket.io clients, K of which emit `mousemove`, every one of
// which checks the `moving` events it gets (sender id, per-sender order, no
// echo) and times them. It speaks Engine.IO v4 itself, over websocket or
// long-polling, so it can drive this server and Node's socket.io alike.
package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// config is the parsed command line.
type config struct {
	base           *url.URL   // bases[0]
	bases          []*url.URL // every -url: client k of each kind connects to bases[k % len]
	clients        int
	senders        int
	rate           float64
	duration       time.Duration
	warmup         time.Duration
	ramp           time.Duration
	drain          time.Duration
	connectTimeout time.Duration
	inflight       int
	polling        float64
	board          string
	boards         int
	payload        int
	pid            int   // pids[0], or 0
	pids           []int // -pid: the servers' processes, CPU and RSS summed
	auxPids        []int // -aux-pid: other processes whose CPU is reported alone
	metrics        bool
	json           bool
	strict         bool
	allowRemote    bool
	cpuProfile     string
	memProfile     string
}

// Main runs the load tester with command-line args (without the program or
// subcommand name) and returns the exit status: 0 done, 1 failed (or, with
// -strict, any check failed), 2 bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res := newRun(cfg).execute(ctx, progressWriter(stderr))
	if cfg.memProfile != "" {
		if err := writeHeapProfile(cfg.memProfile); err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
		}
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 1
		}
	} else {
		res.writeSummary(stdout)
	}
	if res.Connected == 0 {
		fmt.Fprintf(stderr, "loadtest: no client could connect to %s: is the server running?\n", strings.Join(res.URLs, ", "))
		return 1
	}
	if cfg.strict {
		if problems := res.problems(); len(problems) > 0 {
			fmt.Fprintln(stderr, "loadtest: checks failed:", strings.Join(problems, "; "))
			return 1
		}
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: draw-server loadtest [flags]

Opens -clients socket.io connections to a drawing server; -senders of them
emit mousemove -rate times a second. Every client checks each moving event
(sender id, per-sender order, no echo) and times it. Moves sent during the
-duration window after -warmup are counted; a summary (or -json) follows.

`)
		fs.PrintDefaults()
	}
	var cfg config
	rawURL := fs.String("url", "http://127.0.0.1:8080", "server `URL`s, comma-separated; the socket.io endpoint is URL/socket.io/. With several (the nodes of a cluster), senders and receivers are each dealt round-robin: the k-th sender and the k-th receiver connect to URL k mod n, so both split evenly; latency is split into same-node and cross-node deliveries")
	fs.IntVar(&cfg.clients, "clients", 100, "connections to open")
	fs.IntVar(&cfg.senders, "senders", 10, "connections that emit mousemove (spread evenly over the clients)")
	fs.Float64Var(&cfg.rate, "rate", 20, "emits per second per sender (20 = the page's 50 ms throttle)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measurement window")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "emitting before the window opens, not counted")
	fs.DurationVar(&cfg.ramp, "ramp", 2*time.Second, "time over which connections are opened")
	fs.DurationVar(&cfg.drain, "drain", 5*time.Second, "how long to wait after the window for late deliveries")
	fs.DurationVar(&cfg.connectTimeout, "connect-timeout", 10*time.Second, "limit for one client's handshakes")
	fs.IntVar(&cfg.inflight, "inflight", 200, "handshakes in progress at once, at most")
	fs.Float64Var(&cfg.polling, "polling", 0, "`share` of clients (0…1) on HTTP long-polling instead of websocket")
	fs.StringVar(&cfg.board, "board", "", "board `name` to join (handshake query board=); with -boards, the name prefix")
	fs.IntVar(&cfg.boards, "boards", 1, "spread the clients over this many boards")
	fs.IntVar(&cfg.payload, "payload", 0, "extra `bytes` in each move (field p), relayed like any extra field")
	rawPIDs := fs.String("pid", "", "`PID`s (comma-separated) of local server processes to sample for CPU and RSS; several are summed and also listed one by one")
	rawAux := fs.String("aux-pid", "", "`PID`s (comma-separated) of other local processes (say, redis-server) whose CPU over the window is reported apart from the servers'")
	fs.BoolVar(&cfg.metrics, "metrics", false, "read the server's /metrics (Prometheus text) when the window opens and closes; the result lists how its draw_ counters and histograms changed and its draw_ gauges at the end. With several URLs every one is read: the result sums them and lists each node's too")
	fs.BoolVar(&cfg.json, "json", false, "print the result as JSON")
	fs.BoolVar(&cfg.strict, "strict", false, "exit 1 on any failed connection, loss, reorder, duplicate, echo or wrong id")
	fs.BoolVar(&cfg.allowRemote, "allow-remote", false, "allow a server that is not on this machine's loopback")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write the tester's own CPU profile to `file`")
	fs.StringVar(&cfg.memProfile, "memprofile", "", "write the tester's own heap profile to `file` at the end")
	err := fs.Parse(args)
	if err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if cfg.bases, err = parseURLs(*rawURL, cfg.allowRemote); err != nil {
		return cfg, err
	}
	cfg.base = cfg.bases[0]
	if cfg.pids, err = parsePIDs("-pid", *rawPIDs); err != nil {
		return cfg, err
	}
	if len(cfg.pids) > 0 {
		cfg.pid = cfg.pids[0]
	}
	if cfg.auxPids, err = parsePIDs("-aux-pid", *rawAux); err != nil {
		return cfg, err
	}

	switch {
	case cfg.clients < 1:
		return cfg, errors.New("-clients must be at least 1")
	case cfg.senders < 0 || cfg.senders > cfg.clients:
		return cfg, fmt.Errorf("-senders must be between 0 and -clients (%d)", cfg.clients)
	case cfg.rate <= 0 || cfg.rate > 1000:
		return cfg, errors.New("-rate must be above 0 and at most 1000 per second")
	case cfg.duration <= 0:
		return cfg, errors.New("-duration must be positive")
	case cfg.warmup < 0 || cfg.ramp < 0 || cfg.drain < 0:
		return cfg, errors.New("-warmup, -ramp and -drain cannot be negative")
	case cfg.connectTimeout <= 0:
		return cfg, errors.New("-connect-timeout must be positive")
	case cfg.inflight < 1:
		return cfg, errors.New("-inflight must be at least 1")
	case cfg.polling < 0 || cfg.polling > 1:
		return cfg, errors.New("-polling is a share between 0 and 1")
	case cfg.boards < 1 || cfg.boards > cfg.clients:
		return cfg, errors.New("-boards must be between 1 and -clients")
	case cfg.payload < 0 || cfg.payload > 64<<10:
		return cfg, errors.New("-payload must be between 0 and 65536 bytes")
	}
	for _, pid := range append(slices.Clone(cfg.pids), cfg.auxPids...) {
		if _, err := procCPU(pid); err != nil {
			return cfg, fmt.Errorf("pid %d: %v", pid, err)
		}
	}
	return cfg, nil
}

// parseURLs reads -url: one or more comma-separated http(s) URLs, each on
// this machine's loopback unless allowRemote, none twice (a delivery is
// cross-node when its sender's URL differs from its receiver's, so two
// spellings of one node would count as two nodes only if written so).
func parseURLs(raw string, allowRemote bool) ([]*url.URL, error) {
	var out []*url.URL
	seen := map[string]bool{}
	for _, one := range strings.Split(raw, ",") {
		one = strings.TrimSpace(one)
		u, err := url.Parse(one)
		if one == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-url %q: want http://host:port or https://host:port, comma-separated", one)
		}
		if !allowRemote && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("-url %q is not a loopback address; load only servers you run, and pass -allow-remote if that one is yours", one)
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/socket.io/"
		u.RawQuery, u.Fragment = "", ""
		if seen[u.String()] {
			return nil, fmt.Errorf("-url %q is given twice", one)
		}
		seen[u.String()] = true
		out = append(out, u)
	}
	return out, nil
}

// parsePIDs reads a comma-separated list of process ids; "" is none.
func parsePIDs(flagName, raw string) ([]int, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var out []int
	for _, one := range strings.Split(raw, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(one))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("%s %q: want process ids, comma-separated", flagName, raw)
		}
		if slices.Contains(out, pid) {
			return nil, fmt.Errorf("%s %q: pid %d is given twice", flagName, raw, pid)
		}
		out = append(out, pid)
	}
	return out, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// isLoopback reports whether host names this machine's loopback.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// progressWriter returns w if it is a terminal, else nil: the live line is
// for people, and would litter a log.
func progressWriter(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return w
}
