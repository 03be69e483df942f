package redis

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	rediscluster "github.com/zishang520/socket.io-go-redis/adapter"
	"github.com/zishang520/socket.io-go-redis/types"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/drawing/draw/draw"
)

// Broker links the nodes of a cluster through Redis pub/sub, riding on the
// socket.io Redis adapter (github.com/zishang520/socket.io-go-redis): a
// batch is a server-side emit, which every other node's adapter receives on
// one subscriber goroutine, in publish order, and which a node never
// receives from itself. Its defects under outages are fenced in
// workarounds.go.
type Broker struct {
	client goredis.UniversalClient
	prefix string
	log    *slog.Logger
	rc     *types.RedisClient
	cancel context.CancelFunc
	nsp    atomic.Pointer[socket.Namespace]

	errs     atomic.Uint64 // errors the adapter's subscribers reported
	mu       sync.Mutex
	failing  string    // what is wrong while Redis is unreachable
	failedAt time.Time // the last failure
}

var _ draw.Broker = (*Broker)(nil)

// clusterEvent is the server-side event that carries batches.
const clusterEvent = "draw:cluster"

// NewBroker makes a broker on client, whose options should come from
// ClientOptions (bounded, never retried). Keys and channels start with
// prefix.
func NewBroker(client goredis.UniversalClient, prefix string, log *slog.Logger) *Broker {
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{client: client, prefix: prefix, log: log, cancel: cancel}
	b.rc = types.NewRedisClient(ctx, client)
	b.rc.On("error", b.onSubscriberError)
	return b
}

func (b *Broker) Adapter() socket.AdapterConstructor {
	opts := rediscluster.DefaultRedisAdapterOptions()
	opts.SetKey(b.prefix + "socket.io")
	return &rediscluster.RedisAdapterBuilder{Redis: b.rc, Opts: opts}
}

func (b *Broker) Start(nsp socket.Namespace, deliver func([]byte)) error {
	b.nsp.Store(&nsp)
	return nsp.On(clusterEvent, func(args ...any) {
		if len(args) > 0 {
			if s, ok := args[0].(string); ok {
				deliver([]byte(s))
			}
		}
	})
}

func (b *Broker) Publish(ctx context.Context, batch []byte) error {
	p := b.nsp.Load()
	if p == nil {
		return errors.New("redis broker: not started")
	}
	// The adapter publishes with its own context: the client's timeouts
	// bound this call (ClientOptions).
	err := (*p).ServerSideEmit(clusterEvent, string(batch))
	b.outcome(err)
	return err
}

func (b *Broker) Beat(ctx context.Context, node string, ttl time.Duration) error {
	err := b.client.Set(ctx, b.prefix+"node:"+node, time.Now().UnixMilli(), ttl).Err()
	b.outcome(err)
	return err
}

func (b *Broker) Alive(ctx context.Context, node string) (bool, error) {
	n, err := b.client.Exists(ctx, b.prefix+"node:"+node).Result()
	b.outcome(err)
	return n > 0, err
}

// outcome logs the first failure of a burst and the recovery, once each.
func (b *Broker) outcome(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		if b.failing == "" {
			b.log.Error("redis unreachable: live drawing stays on this node until it is back", "err", err)
		}
		b.failing, b.failedAt = "redis unreachable: "+err.Error(), time.Now()
		return
	}
	if b.failing != "" {
		b.log.Info("redis reachable again")
		b.failing = ""
	}
}

func (b *Broker) Health() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failing
}

// SubscribeErrors counts the errors the adapter's subscribers reported.
func (b *Broker) SubscribeErrors() uint64 { return b.errs.Load() }

// Close stops the adapter's subscribers; the caller closes the client.
func (b *Broker) Close() error {
	b.cancel()
	return nil
}
