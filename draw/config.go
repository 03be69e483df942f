package draw

import (
	"io/fs"
	"log/slog"
	"time"
)

// Config is everything the server needs from its operator. main fills it from
// flags and environment; the zero value of a field means "use the default".
type Config struct {
	// Public holds index.html, script.js and the other page assets.
	Public fs.FS
	// ClientDist is the directory holding the official socket.io-client
	// bundle (node_modules/socket.io-client/dist after `npm ci`).
	ClientDist string
	Logger     *slog.Logger

	// MaxMessageBytes caps one Engine.IO message (websocket frame or polling
	// body); larger ones are refused before they are buffered.
	MaxMessageBytes int64
	// MaxExtraBytes caps the JSON size of one mousemove object, extra fields included.
	MaxExtraBytes int
	// EventsPerSecond and EventBurst form each socket's token bucket.
	EventsPerSecond float64
	EventBurst      int
	// SendQueue is how many frames may wait for one slow receiver; cursor
	// moves beyond it are dropped, anything else beyond it disconnects them.
	SendQueue int
	// WriteTimeout bounds one network write to a receiver; a receiver that
	// cannot take bytes for that long is disconnected.
	WriteTimeout time.Duration
	// FlushInterval is how long a receiver's frames may gather before they
	// leave in one write (fewer syscalls under load, at most this much
	// latency). The window grows with load up to it (gather.go); FixedFlush
	// applies it at every load.
	FlushInterval time.Duration
	FixedFlush    bool
	// MaxConnections caps concurrent connections (negative: no cap).
	MaxConnections int
	// MaxConnectionsPerIP caps concurrent connections from one IP; 0 = no cap.
	MaxConnectionsPerIP int
	// HandshakesPerIPPerSecond limits new connections from one address.
	HandshakesPerIPPerSecond float64
	// MaxBoards caps the number of boards that exist at once.
	MaxBoards int
	// AllowedOrigins lists origins besides the server's own that may connect
	// ("*" allows any).
	AllowedOrigins []string
	// PingInterval and PingTimeout are Engine.IO's heartbeat.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout time.Duration

	// Store keeps the boards' logs; nil keeps them in memory only.
	Store Store
	// Tokens verifies the tokens apps give their users (socket.io auth
	// {token}, or the query parameter token); nil: tokens are not accepted.
	// With RequireTokens, a socket without a valid token is refused.
	Tokens        TokenVerifier
	RequireTokens bool
	// Events receives what happens on boards (joined, left, cleared,
	// locked, unlocked) for webhooks; nil: nobody is told.
	Events Notifier
	// APIKey authorises every /api/ request (Authorization: Bearer); empty:
	// only tokens do.
	APIKey string
	// Broker links this node to the others of a cluster; nil: one node.
	// Every node of a cluster must share the same Store.
	Broker Broker
	// MaxBoardSegments caps the segments a board stores since its last clear.
	MaxBoardSegments int
	// BoardTTL deletes boards nobody has drawn on for this long; 0 keeps them.
	BoardTTL time.Duration
	// DontRecordClassic leaves the drawing of clients that never sync (the
	// classic page, load testers) out of the boards' logs.
	DontRecordClassic bool
}

// Defaults, documented in the README's configuration table.
const (
	DefaultMaxMessageBytes          = 1 << 20
	DefaultMaxExtraBytes            = 1024
	DefaultEventsPerSecond          = 60 // three times the page's 50 ms throttle
	DefaultEventBurst               = 120
	DefaultSendQueue                = 1024
	DefaultWriteTimeout             = 10 * time.Second
	DefaultFlushInterval            = 16 * time.Millisecond // one display frame; the page throttles to 50 ms anyway
	DefaultMaxConnections           = 20000
	DefaultMaxConnectionsPerIP      = 0
	DefaultHandshakesPerIPPerSecond = 0
	DefaultMaxBoards                = 10000
	DefaultPingInterval             = 25 * time.Second
	DefaultPingTimeout              = 20 * time.Second
	DefaultShutdownTimeout          = 10 * time.Second
	DefaultMaxBoardSegments         = 200000 // ~3 hours of one person drawing; ~2 MB to a late joiner
)

func (c Config) withDefaults() Config {
	orDefault(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	orDefault(&c.MaxExtraBytes, DefaultMaxExtraBytes)
	orDefault(&c.EventsPerSecond, DefaultEventsPerSecond)
	orDefault(&c.EventBurst, DefaultEventBurst)
	orDefault(&c.SendQueue, DefaultSendQueue)
	orDefault(&c.MaxBoards, DefaultMaxBoards)
	orDefault(&c.MaxConnections, DefaultMaxConnections)
	orDefault(&c.WriteTimeout, DefaultWriteTimeout)
	orDefault(&c.FlushInterval, DefaultFlushInterval)
	orDefault(&c.PingInterval, DefaultPingInterval)
	orDefault(&c.PingTimeout, DefaultPingTimeout)
	orDefault(&c.ShutdownTimeout, DefaultShutdownTimeout)
	orDefault(&c.MaxBoardSegments, DefaultMaxBoardSegments)
	if c.Store == nil {
		c.Store = NewMemoryStore()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// orDefault replaces a zero setting with its default.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
