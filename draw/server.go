package draw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/zishang520/engine.io/v2/engine"
	"github.com/zishang520/engine.io/v2/transports"
	"github.com/zishang520/engine.io/v2/types"
	"github.com/zishang520/socket.io/v2/socket"
)

// Server is the drawing server: the page, the client bundle and the
// socket.io endpoint, with the boards behind it.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	io      *socket.Server
	engine  engine.Server
	boards  *boards
	limits  *connLimits
	metrics *metrics
	history *history
	cluster *cluster // nil on a single node
	gather  *gatherer
	ready   atomic.Bool   // false once Shutdown begins
	quit    chan struct{} // closed by Shutdown
}

// serverKey marks requests with their Server, for the process-wide transport.
type serverKey struct{}

// New builds a server from cfg.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if cfg.Public == nil {
		return nil, errors.New("draw: Config.Public (the page's files) is required")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), boards: newBoards(cfg.MaxBoards), limits: newConnLimits(cfg)}
	if cfg.Broker != nil {
		s.cluster = newCluster(s, cfg.Broker)
	}
	s.metrics = newMetrics(s.boards.count, func() int { return len(s.history.in) }, func() int {
		if s.cluster == nil {
			return 0
		}
		return len(s.cluster.out)
	})
	s.history = newHistory(s, cfg.Store)

	registerTransport.Do(func() { transports.Transports()[transports.WEBSOCKET] = wsBuilder{} })

	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetAllowEIO3(true) // socket.io-client 2.x
	opts.SetPingInterval(cfg.PingInterval)
	opts.SetPingTimeout(cfg.PingTimeout)
	opts.SetMaxHttpBufferSize(cfg.MaxMessageBytes)
	opts.SetTransports(types.NewSet(transports.POLLING, transports.WEBSOCKET))
	if len(cfg.AllowedOrigins) > 0 {
		origins := make([]any, len(cfg.AllowedOrigins))
		for i, o := range cfg.AllowedOrigins {
			origins[i] = o
		}
		opts.SetCors(&types.Cors{Origin: origins, Credentials: true})
	}
	if h, ok := cfg.Events.(interface {
		Delivered() uint64
		Dropped() uint64
		Failed() uint64
	}); ok {
		for name, n := range map[string]func() uint64{"delivered": h.Delivered, "dropped": h.Dropped, "failed": h.Failed} {
			s.metrics.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "draw_webhook_events_total", Help: "Webhook events by outcome: delivered, dropped (the queue was full), failed (every attempt failed).",
				ConstLabels: prometheus.Labels{"outcome": name},
			}, func() float64 { return float64(n()) }))
		}
	}
	if s.cluster != nil {
		opts.SetAdapter(s.cluster.broker.Adapter())
		if b, ok := cfg.Broker.(interface{ SubscribeErrors() uint64 }); ok {
			s.metrics.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "draw_cluster_subscribe_errors_total", Help: "Errors the broker's subscribers reported (Redis unreachable).",
			}, func() float64 { return float64(b.SubscribeErrors()) }))
		}
	}
	s.io = socket.NewServer(nil, opts)
	s.engine = engine.NewServer(opts)
	s.io.Bind(&tapEngine{Server: s.engine, srv: s})
	s.io.Use(s.admit)
	s.io.On("connection", s.onConnection)

	s.routes()
	s.quit = make(chan struct{})
	if s.cluster != nil {
		if err := s.cluster.start(s.io.Sockets(), s.quit); err != nil {
			return nil, fmt.Errorf("draw: joining the cluster: %w", err)
		}
	}
	s.gather = newGatherer(cfg.FlushInterval, cfg.FixedFlush)
	go s.gather.run(s.quit)
	if cfg.BoardTTL > 0 {
		go s.sweep(cfg.BoardTTL, s.quit)
	}
	s.ready.Store(true)
	return s, nil
}

// Handler serves everything: page, bundle, socket.io, health and metrics.
func (s *Server) Handler() http.Handler { return s.mux }

// socketIO is the /socket.io/ endpoint: origin check, body limit, then the engine.
func (s *Server) socketIO() http.Handler {
	eng := http.Handler(s.engine)
	return s.checkOrigin(s.limitBody(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), serverKey{}, s))
		if websocket.IsWebSocketUpgrade(r) {
			eng.ServeHTTP(&upgradeWriter{ResponseWriter: w}, r)
			return
		}
		servePolling(eng, w, r)
	})))
}

// admit runs before a socket connects: it picks and checks the board and
// applies the connection limits. A refusal reaches the client as
// connect_error with this message.
func (s *Server) admit(sock *socket.Socket, next func(*socket.ExtendedError)) {
	c := clientOf(sock.Conn())
	if c == nil {
		next(socket.NewExtendedError("internal error: unknown connection", nil))
		return
	}
	if name := boardOf(sock); name != DefaultBoard {
		if err := CheckBoardName(name); err != nil {
			s.refuse(c, "board_name", err)
			next(socket.NewExtendedError(err.Error(), nil))
			return
		}
	}
	if !s.ready.Load() {
		err := errors.New("server is shutting down: reconnect in a moment")
		s.refuse(c, "shutting_down", err)
		next(socket.NewExtendedError(err.Error(), nil))
		return
	}
	if c.refusal != nil { // counted and logged when the connection came in
		next(socket.NewExtendedError(c.refusal.Error(), nil))
		return
	}
	if err := s.checkToken(sock, c); err != nil {
		s.refuse(c, "token", err)
		next(socket.NewExtendedError(err.Error(), nil))
		return
	}
	if err := s.boards.roomFor(boardOf(sock)); err != nil {
		s.refuse(c, "max_boards", err)
		next(socket.NewExtendedError(err.Error(), nil))
		return
	}
	if err := c.join(string(sock.Id()), boardOf(sock)); err != nil {
		// Lost a race (a board filled up, or the client left meanwhile).
		s.refuse(c, "max_boards", err)
		next(socket.NewExtendedError(err.Error(), nil))
		return
	}
	next(nil)
}

// checkToken verifies the socket's token, if it brings one or must, and
// keeps what it grants on c.
func (s *Server) checkToken(sock *socket.Socket, c *client) error {
	token := tokenOf(sock)
	switch {
	case token == "" && s.cfg.RequireTokens:
		return errors.New("a token is required: connect with auth {token} (or ?token=) from the app that embeds this board")
	case token == "":
		return nil
	case s.cfg.Tokens == nil:
		return errors.New("this server does not accept tokens (no token secret is set): connect without one")
	}
	g, err := s.cfg.Tokens.Verify(token)
	if err != nil {
		return err
	}
	if board := boardOf(sock); g.Board != board {
		return fmt.Errorf("token is for board %q, not %q", boardLabel(g.Board), boardLabel(board))
	}
	c.grant = &g
	c.name = g.Name
	return nil
}

// boardLabel names a board in messages: the default board is "/".
func boardLabel(name string) string {
	if name == DefaultBoard {
		return "/"
	}
	return name
}

// tokenOf reads a socket's token: socket.io auth {token}, else the
// handshake query (socket.io-client 2.x has no auth).
func tokenOf(sock *socket.Socket) string {
	h := sock.Handshake()
	if m, ok := h.Auth.(map[string]any); ok {
		if t, ok := m["token"].(string); ok {
			return t
		}
	}
	if v := h.Query["token"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (s *Server) refuse(c *client, reason string, err error) {
	s.metrics.refused.WithLabelValues(reason).Inc()
	s.log.Info("refused connection", "reason", err.Error(), "ip", c.ip)
}

// boardOf reads the board a socket asked for (handshake query "board").
func boardOf(sock *socket.Socket) string {
	if q := sock.Handshake().Query; q != nil {
		if v, ok := q["board"]; ok && len(v) > 0 {
			return v[0]
		}
	}
	return DefaultBoard
}

func (s *Server) onConnection(args ...any) {
	sock := args[0].(*socket.Socket)
	c := clientOf(sock.Conn())
	sock.On("disconnect", func(...any) { c.leave() })
	if err := c.bind(); err != nil {
		// Lost a race (the client left meanwhile).
		c.emit(EventRejected, map[string]any{"event": "connect", "reason": err.Error(), "dropped": 1})
		s.refuse(c, "max_boards", err)
		sock.Disconnect(true)
		return
	}
	if !sock.Connected() || c.conn.ReadyState() == "closed" { // it left before we got here
		c.leave()
	}
}

// Shutdown stops accepting sockets, closes every connection (clients see the
// transport close and reconnect, to this server's successor), stores what is
// queued and waits up to ctx for all that. The caller closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ready.CompareAndSwap(true, false) {
		close(s.quit)
	}
	done := make(chan struct{})
	go func() {
		s.io.Close(nil)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.cluster != nil {
		dctx, cancel := context.WithTimeout(ctx, clusterDrainWait)
		s.cluster.drain(dctx)
		cancel()
	}
	return s.history.stop(ctx)
}

// notify passes an event to the webhooks, if any.
func (s *Server) notify(e Event) {
	if s.cfg.Events != nil {
		s.cfg.Events.Notify(e)
	}
}
