// Command draw-server runs the collaborative drawing server.
//
//	draw-server [flags]            serve (see -h)
//	draw-server loadtest [flags]   load-test a socket.io drawing server
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with -pprof
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/sqlite"
	"github.com/drawing/draw/loadtest"
)

//go:embed public
var publicFiles embed.FS

func publicFS() fs.FS {
	sub, err := fs.Sub(publicFiles, "public")
	if err != nil {
		panic(err)
	}
	return sub
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "loadtest" {
		os.Exit(loadtest.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if _, set := os.LookupEnv("GOGC"); !set {
		// Connection state dominates this server's heap, and the default GC
		// headroom (100%) doubles it; 50% costs ~20% more CPU at 1000 busy
		// clients and saves ~20% of memory (docs/BENCHMARK.md).
		debug.SetGCPercent(50)
	}
	cfg, addr, dbPath, level, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log
	cfg.Public = publicFS()
	if dbPath != memoryDB {
		store, err := sqlite.Open(dbPath)
		if err != nil {
			log.Error("cannot open the database", "db", dbPath, "err", err)
			return 1
		}
		defer store.Close()
		cfg.Store = store
		log.Info("boards are kept in", "db", dbPath)
	} else {
		log.Warn("boards are kept in memory only: they are gone when the server stops", "db", dbPath)
	}

	srv, err := draw.New(cfg)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	hs := &http.Server{Addr: addr, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.Info("listening", "addr", addr)

	select {
	case err := <-errc:
		log.Error("cannot serve", "addr", addr, "err", err)
		return 1
	case <-ctx.Done():
	}
	stop()
	timeout := cfg.ShutdownTimeout
	if timeout == 0 {
		timeout = draw.DefaultShutdownTimeout
	}
	log.Info("shutting down", "timeout", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("sockets did not all close in time", "err", err)
	}
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("requests did not all finish in time", "err", err)
		hs.Close()
	}
	log.Info("stopped")
	return 0
}

// memoryDB is the -db value that keeps boards in memory only.
const memoryDB = ":memory:"

// parseFlags reads flags, each with an environment variable as its default.
func parseFlags(args []string) (cfg draw.Config, addr, db string, level slog.Level, err error) {
	fl := flag.NewFlagSet("draw-server", flag.ContinueOnError)
	env := func(name, def string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return def
	}
	addrFlag := fl.String("addr", env("ADDR", ":8080"), "listen address (env ADDR)")
	dbFlag := fl.String("db", env("DB", "draw.db"), "SQLite file that keeps the boards (created if missing; a file: URI may add _pragma options), or :memory: to keep them in memory only (env DB)")
	levelName := fl.String("log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (env LOG_LEVEL)")
	fl.StringVar(&cfg.ClientDist, "client-dist", env("CLIENT_DIST", "node_modules/socket.io-client/dist"), "directory of the socket.io-client bundle (env CLIENT_DIST)")
	pprofAddr := fl.String("pprof", env("PPROF_ADDR", ""), "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (env PPROF_ADDR; off when empty)")
	origins := fl.String("allowed-origins", env("ALLOWED_ORIGINS", ""), "comma-separated origins allowed besides the server's own; * for any (env ALLOWED_ORIGINS)")

	var errs []error
	intFlag := func(p *int, name, envName string, def int, usage string) {
		envFlag(fl, &errs, p, name, envName, def, strconv.Atoi, usage)
	}
	durFlag := func(p *time.Duration, name, envName string, def time.Duration, usage string) {
		envFlag(fl, &errs, p, name, envName, def, time.ParseDuration, usage)
	}
	floatFlag := func(p *float64, name, envName string, def float64, usage string) {
		envFlag(fl, &errs, p, name, envName, def, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }, usage)
	}
	var maxMsg int
	intFlag(&maxMsg, "max-message-bytes", "MAX_MESSAGE_BYTES", draw.DefaultMaxMessageBytes, "largest Engine.IO message, websocket frame or polling body")
	intFlag(&cfg.MaxExtraBytes, "max-move-bytes", "MAX_MOVE_BYTES", draw.DefaultMaxExtraBytes, "largest mousemove object in JSON bytes, extra fields included")
	floatFlag(&cfg.EventsPerSecond, "events-per-second", "EVENTS_PER_SECOND", draw.DefaultEventsPerSecond, "events one socket may send per second")
	intFlag(&cfg.EventBurst, "event-burst", "EVENT_BURST", draw.DefaultEventBurst, "events one socket may send in a burst")
	intFlag(&cfg.SendQueue, "send-queue", "SEND_QUEUE", draw.DefaultSendQueue, "frames queued per receiver before cursor moves are shed")
	durFlag(&cfg.WriteTimeout, "write-timeout", "WRITE_TIMEOUT", draw.DefaultWriteTimeout, "a receiver that takes no bytes this long is disconnected")
	durFlag(&cfg.FlushInterval, "flush-interval", "FLUSH_INTERVAL", draw.DefaultFlushInterval, "longest a receiver's frames gather before one write; the window grows with load up to this")
	envFlag(fl, &errs, &cfg.FixedFlush, "flush-fixed", "FLUSH_FIXED", false, strconv.ParseBool, "gather for the whole -flush-interval at every load (the behaviour before adaptive gathering)")
	intFlag(&cfg.MaxConnections, "max-connections", "MAX_CONNECTIONS", draw.DefaultMaxConnections, "connections at once, negative for no limit")
	intFlag(&cfg.MaxConnectionsPerIP, "max-connections-per-ip", "MAX_CONNECTIONS_PER_IP", draw.DefaultMaxConnectionsPerIP, "connections at once from one IP, 0 for no limit")
	floatFlag(&cfg.HandshakesPerIPPerSecond, "handshakes-per-ip", "HANDSHAKES_PER_IP", draw.DefaultHandshakesPerIPPerSecond, "new connections per second from one IP, 0 for no limit")
	intFlag(&cfg.MaxBoards, "max-boards", "MAX_BOARDS", draw.DefaultMaxBoards, "boards open at once")
	durFlag(&cfg.PingInterval, "ping-interval", "PING_INTERVAL", draw.DefaultPingInterval, "Engine.IO heartbeat interval")
	durFlag(&cfg.PingTimeout, "ping-timeout", "PING_TIMEOUT", draw.DefaultPingTimeout, "Engine.IO heartbeat timeout")
	durFlag(&cfg.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", draw.DefaultShutdownTimeout, "how long a graceful shutdown may take")
	intFlag(&cfg.MaxBoardSegments, "max-board-segments", "MAX_BOARD_SEGMENTS", draw.DefaultMaxBoardSegments, "segments a board keeps since its last clear; beyond it drawing is refused until someone clears")
	record := true
	envFlag(fl, &errs, &record, "record-classic", "RECORD_CLASSIC", true, strconv.ParseBool, "record the drawing of clients that never sync (the classic page, load testers) into the boards")
	durFlag(&cfg.BoardTTL, "board-ttl", "BOARD_TTL", 0, "delete boards nobody has drawn on for this long, e.g. 720h; 0 keeps them forever")

	if err = fl.Parse(args); err != nil {
		return
	}
	cfg.DontRecordClassic = !record
	if len(errs) > 0 {
		err = errors.Join(errs...)
		return
	}
	if fl.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q (see -h)", fl.Arg(0))
		return
	}
	cfg.MaxMessageBytes = int64(maxMsg)
	if *pprofAddr != "" {
		go func() {
			// the default mux holds only pprof's handlers
			if err := http.ListenAndServe(*pprofAddr, nil); err != nil {
				slog.Error("pprof listener stopped", "addr", *pprofAddr, "err", err)
			}
		}()
	}
	if *origins != "" {
		for _, o := range strings.Split(*origins, ",") {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, strings.TrimSpace(o))
		}
	}
	if err = level.UnmarshalText([]byte(*levelName)); err != nil {
		err = fmt.Errorf("-log-level: %v", err)
		return
	}
	return cfg, *addrFlag, *dbFlag, level, nil
}

// envFlag defines a flag whose default is def, or the environment variable
// envName when that is set; a bad environment value is reported in errs.
// A bool flag is a switch: -name alone means true.
func envFlag[T any](fl *flag.FlagSet, errs *[]error, p *T, name, envName string, def T, parse func(string) (T, error), usage string) {
	*p = def
	if s, ok := os.LookupEnv(envName); ok {
		v, err := parse(s)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %v", envName, err))
		}
		*p = v
	}
	fl.Var(&envValue[T]{p, parse}, name, fmt.Sprintf("%s (env %s)", usage, envName))
}

type envValue[T any] struct {
	p     *T
	parse func(string) (T, error)
}

func (v *envValue[T]) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return fmt.Sprint(*v.p)
}

func (v *envValue[T]) Set(s string) error {
	x, err := v.parse(s)
	if err == nil {
		*v.p = x
	}
	return err
}

// IsBoolFlag lets a bool flag go without a value, as flag.Bool does.
func (v *envValue[T]) IsBoolFlag() bool {
	_, ok := any(*new(T)).(bool)
	return ok
}
