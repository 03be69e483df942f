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
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/jwt"
	redisstore "github.com/drawing/draw/draw/redis"
	"github.com/drawing/draw/draw/sqlite"
	"github.com/drawing/draw/draw/webhook"
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
	if len(os.Args) > 1 && os.Args[1] == "token" {
		os.Exit(jwt.TokenCommand(os.Args[2:], os.Stdout, os.Stderr))
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
	cfg, set, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: set.level}))
	cfg.Logger = log
	cfg.Public = publicFS()
	switch {
	case set.redis != "":
		closeRedis, err := joinCluster(&cfg, set.redis, log)
		if err != nil {
			log.Error("cannot use redis", "redis", redactURL(set.redis), "err", err)
			return 1
		}
		defer closeRedis()
	case set.db != memoryDB:
		store, err := sqlite.Open(set.db)
		if err != nil {
			log.Error("cannot open the database", "db", set.db, "err", err)
			return 1
		}
		defer store.Close()
		cfg.Store = store
		log.Info("boards are kept in", "db", set.db)
	default:
		log.Warn("boards are kept in memory only: they are gone when the server stops", "db", set.db)
	}

	if set.tokenSecret != "" {
		v, err := jwt.New([]byte(set.tokenSecret))
		if err != nil {
			log.Error("-token-secret", "err", err)
			return 1
		}
		cfg.Tokens = v
	} else if cfg.RequireTokens {
		log.Error("-require-tokens needs -token-secret (TOKEN_SECRET) to check them")
		return 1
	}
	if set.webhookURL != "" {
		hooks, err := webhook.New(set.webhookURL, []byte(set.webhookSecret), log)
		if err != nil {
			log.Error("-webhook-url", "err", err)
			return 1
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hooks.Close(ctx)
		}()
		cfg.Events = hooks
	}
	srv, err := draw.New(cfg)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	hs := &http.Server{Addr: set.addr, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.Info("listening", "addr", set.addr)

	select {
	case err := <-errc:
		log.Error("cannot serve", "addr", set.addr, "err", err)
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

// settings are the flags that main uses itself rather than draw.Config.
type settings struct {
	addr, db, redis           string
	tokenSecret               string
	webhookURL, webhookSecret string
	level                     slog.Level
}

// parseFlags reads flags, each with an environment variable as its default.
func parseFlags(args []string) (cfg draw.Config, set settings, err error) {
	fl := flag.NewFlagSet("draw-server", flag.ContinueOnError)
	env := func(name, def string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return def
	}
	addrFlag := fl.String("addr", env("ADDR", ":8080"), "listen address (env ADDR)")
	dbFlag := fl.String("db", env("DB", "draw.db"), "SQLite file that keeps the boards (created if missing; a file: URI may add _pragma options), or :memory: to keep them in memory only (env DB)")
	redisFlag := fl.String("redis", env("REDIS_URL", ""), "Redis URL, e.g. redis://127.0.0.1:6379/0: run as one node of a cluster that keeps the boards in Redis (-db is then unused); empty: one node (env REDIS_URL)")
	tokenSecret := fl.String("token-secret", env("TOKEN_SECRET", ""), "secret (32+ bytes) that signs the HS256 tokens apps give their users; empty: tokens are not accepted (env TOKEN_SECRET)")
	fl.StringVar(&cfg.APIKey, "api-key", env("API_KEY", ""), "key that authorises every /api/ request (Authorization: Bearer); empty: only tokens do (env API_KEY)")
	webhookURL := fl.String("webhook-url", env("WEBHOOK_URL", ""), "URL that receives signed JSON notifications: joined, left, cleared, locked, unlocked (env WEBHOOK_URL)")
	webhookSecret := fl.String("webhook-secret", env("WEBHOOK_SECRET", ""), "secret (16+ bytes) that signs the webhook notifications (env WEBHOOK_SECRET)")
	levelName := fl.String("log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (env LOG_LEVEL)")
	fl.StringVar(&cfg.ClientDist, "client-dist", env("CLIENT_DIST", defaultClientDist()), "directory of the socket.io-client bundle (env CLIENT_DIST)")
	pprofAddr := fl.String("pprof", env("PPROF_ADDR", ""), "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (env PPROF_ADDR; off when empty)")
	origins := fl.String("allowed-origins", env("ALLOWED_ORIGINS", ""), "comma-separated origins allowed besides the server's own; * for any (env ALLOWED_ORIGINS)")

	var errs []error
	envFlag(fl, &errs, &cfg.RequireTokens, "require-tokens", "REQUIRE_TOKENS", false, strconv.ParseBool, "refuse sockets without a valid token (needs -token-secret)")
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
	if err = set.level.UnmarshalText([]byte(*levelName)); err != nil {
		err = fmt.Errorf("-log-level: %v", err)
		return
	}
	set.addr, set.db, set.redis = *addrFlag, *dbFlag, *redisFlag
	set.tokenSecret, set.webhookURL, set.webhookSecret = *tokenSecret, *webhookURL, *webhookSecret
	return cfg, set, nil
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

// redisPrefix starts every key and channel the cluster uses in Redis.
const redisPrefix = "draw:"

// joinCluster keeps the boards in Redis and links this node to the others
// through it. The returned func closes what it opened.
func joinCluster(cfg *draw.Config, rawURL string, log *slog.Logger) (func(), error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("-redis: %v", err)
	}
	// Two clients: the broker's calls are bounded hard (a publish never
	// waits long, see draw/redis/workarounds.go); the store's may retry, as
	// its appends are compare-and-set.
	storeOpts := *opts
	storeClient := goredis.NewClient(&storeOpts)
	brokerClient := goredis.NewClient(redisstore.ClientOptions(opts))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := redisstore.OpenStore(ctx, storeClient, redisPrefix)
	if err != nil {
		storeClient.Close()
		brokerClient.Close()
		return nil, err
	}
	broker := redisstore.NewBroker(brokerClient, redisPrefix, log)
	cfg.Store, cfg.Broker = store, broker
	log.Info("cluster node: boards are kept in redis", "redis", redactURL(rawURL))
	return func() {
		broker.Close()
		store.Close()
		brokerClient.Close()
		storeClient.Close()
	}, nil
}

// redactURL hides a password in a URL for the logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// defaultClientDist finds the npm-installed client bundle: in the working
// directory, else beside the executable, else in the source tree it was
// built from, so a node started from an empty directory serves it too.
func defaultClientDist() string {
	const rel = "node_modules/socket.io-client/dist"
	candidates := []string{rel}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), rel))
	}
	if _, src, _, ok := runtime.Caller(0); ok && filepath.IsAbs(src) {
		candidates = append(candidates, filepath.Join(filepath.Dir(src), rel))
	}
	for _, dir := range candidates {
		if _, err := os.Stat(filepath.Join(dir, "socket.io.js")); err == nil {
			return dir
		}
	}
	return rel
}
