package redis

import (
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Workarounds for socket.io-go-redis v1.3.0 under Redis outages
// (BOARD-STATE-NOTES.md, "Several nodes"). Each has a test in
// workarounds_test.go that fails without it.

// subscriberPause is how long an adapter subscriber waits after an error.
//
// Defect 1: the adapter's subscriber loops call ReceiveMessage again at once
// after an error, so while Redis is down they spin (~225k errors/s, 0.6 of a
// core per node). The loops report each error through the client's "error"
// event, synchronously, on the loop's own goroutine: pausing there is the
// only hook that slows them down. This broker only publishes server-side
// emits without acknowledgement, which return their errors instead of
// emitting them, so no other goroutine ever waits here.
const subscriberPause = 200 * time.Millisecond

func (b *Broker) onSubscriberError(args ...any) {
	b.errs.Add(1)
	var err error
	if len(args) > 0 {
		err, _ = args[0].(error)
	}
	if errors.Is(err, goredis.ErrClosed) {
		return // the loop ends
	}
	if err == nil {
		err = errors.New("unknown subscriber error")
	}
	b.outcome(err)
	time.Sleep(subscriberPause)
}

// ClientOptions bounds every Redis call of the broker.
//
// Defect 2: with go-redis defaults a publish during an outage is retried
// inside the emit (3 retries with backoff, 3 s timeouts), so a paused Redis
// holds the publisher for seconds, and a publish retried after its read
// timeout had already reached Redis is delivered twice. Never retry, time
// out fast: a publish that fails is counted and its batch dropped, and the
// receivers notice the gap in the batch numbers and catch up from the store.
func ClientOptions(o *goredis.Options) *goredis.Options {
	o.MaxRetries = -1
	o.DialTimeout = 250 * time.Millisecond
	o.ReadTimeout = 250 * time.Millisecond
	o.WriteTimeout = 250 * time.Millisecond
	o.PoolTimeout = 250 * time.Millisecond
	return o
}
