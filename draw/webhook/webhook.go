// Package webhook tells an app's server what happens on its boards: who
// joined or left, who cleared, locked or unlocked. It is the App Engine
// Channel API's connected/disconnected callbacks, done right: signed,
// batched, retried, and never in the way of the relay.
//
// A Sender is a draw.Notifier. Notify only puts the event in a bounded
// queue and returns; one worker goroutine POSTs what is queued, in order, to
// the app's URL. Events queued together go out together, up to the batch
// size, so a class of 30 joining at once costs one request, not 30.
//
// # Wire format
//
// Each request is
//
//	POST <url>
//	Content-Type: application/json
//	User-Agent: draw-webhook/1
//	X-Draw-Delivery: <random id; the same on every retry of this batch>
//	X-Draw-Timestamp: <Unix seconds when this attempt was signed>
//	X-Draw-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
//	{"events":[{"type":"joined","board":"b1","time":1700000000000,"id":"…","name":"Ann","subject":"u42"}, …]}
//
// Events in a body are in the order they happened; bodies are sent one at a
// time, a batch only after the one before it was delivered or given up on,
// so the receiver sees each board's events in order. Every attempt is
// signed afresh, so the timestamp is that of the attempt; the delivery id
// stays the same, so the receiver can drop a batch it already has (a retry
// after a response that was lost).
//
// A receiver checks Verify(secret, timestamp, signature, body) on the raw
// body before parsing it, rejects timestamps more than a few minutes from
// its clock (replays), and answers 2xx quickly. Network errors, 5xx, 408
// and 429 are retried with exponential backoff and jitter; a Retry-After
// (seconds or an HTTP date) on a 429 or 503 replaces the backoff, up to its
// cap. Any other status (3xx and 4xx; redirects are not followed) gives the
// batch up at once, as does the last failed attempt.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	randv2 "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawing/draw/draw"
)

// Header names and values of the wire format.
const (
	HeaderSignature = "X-Draw-Signature"
	HeaderTimestamp = "X-Draw-Timestamp"
	HeaderDelivery  = "X-Draw-Delivery"
	UserAgent       = "draw-webhook/1"

	// MinSecretLen is the shortest secret New accepts.
	MinSecretLen = 16

	signaturePrefix = "sha256="
)

// Defaults of the options.
const (
	DefaultQueueSize   = 10000
	DefaultMaxAttempts = 6
	DefaultBaseBackoff = 500 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	DefaultTimeout     = 5 * time.Second
	DefaultBatchSize   = 100
)

// Payload is the body of every request.
type Payload struct {
	Events []draw.Event `json:"events"`
}

type config struct {
	queueSize   int
	maxAttempts int
	baseBackoff time.Duration
	maxBackoff  time.Duration
	timeout     time.Duration
	batchSize   int
}

// Option changes a default of New.
type Option func(*config)

// WithQueueSize sets how many events may wait to be sent (default 10000);
// Notify drops events beyond that.
func WithQueueSize(n int) Option { return func(c *config) { c.queueSize = n } }

// WithMaxAttempts sets how often a batch is tried before it is given up,
// the first try included (default 6).
func WithMaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = n } }

// WithBaseBackoff sets the wait after the first failed attempt (default
// 500ms); it doubles after each further one, up to the maximum, and is
// jittered.
func WithBaseBackoff(d time.Duration) Option { return func(c *config) { c.baseBackoff = d } }

// WithMaxBackoff caps the wait between attempts, Retry-After included
// (default 30s).
func WithMaxBackoff(d time.Duration) Option { return func(c *config) { c.maxBackoff = d } }

// WithTimeout bounds each HTTP attempt, response included (default 5s).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithBatchSize sets how many queued events at most go in one request
// (default 100).
func WithBatchSize(n int) Option { return func(c *config) { c.batchSize = n } }

// Sender POSTs board events to one URL. Create it with New; it is safe for
// concurrent use. Call Close to flush and stop it.
type Sender struct {
	url    string
	secret []byte
	log    *slog.Logger
	cfg    config
	client *http.Client

	queue chan draw.Event

	mu     sync.RWMutex // Notify holds it for reading; Close for writing, to set closed
	closed bool

	stopOnce sync.Once
	stop     chan struct{}      // closed by Close: drain the queue, then exit
	ctx      context.Context    // cancelled when Close gives up on flushing
	cancel   context.CancelFunc //
	done     chan struct{}      // closed when the worker has exited

	dropping   atomic.Bool   // in a burst of drops (logged once)
	burst      atomic.Uint64 // drops in the current burst
	dropped    atomic.Uint64
	delivered  atomic.Uint64
	failed     atomic.Uint64
	afterClose atomic.Bool // an event arrived after Close (logged once)
}

// New returns a Sender that POSTs to rawURL, signing with secret, and starts
// its worker. log may be nil (nothing is logged).
func New(rawURL string, secret []byte, log *slog.Logger, opts ...Option) (*Sender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("webhook: url %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("webhook: url %q must start with http:// or https://", rawURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("webhook: url %q has no host", rawURL)
	}
	if len(secret) == 0 {
		return nil, errors.New("webhook: a secret is required to sign requests; use at least 16 random bytes")
	}
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("webhook: the secret is %d bytes; use at least %d random bytes", len(secret), MinSecretLen)
	}
	cfg := config{
		queueSize:   DefaultQueueSize,
		maxAttempts: DefaultMaxAttempts,
		baseBackoff: DefaultBaseBackoff,
		maxBackoff:  DefaultMaxBackoff,
		timeout:     DefaultTimeout,
		batchSize:   DefaultBatchSize,
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.queueSize < 1:
		return nil, fmt.Errorf("webhook: queue size %d must be at least 1", cfg.queueSize)
	case cfg.maxAttempts < 1:
		return nil, fmt.Errorf("webhook: max attempts %d must be at least 1", cfg.maxAttempts)
	case cfg.batchSize < 1:
		return nil, fmt.Errorf("webhook: batch size %d must be at least 1", cfg.batchSize)
	case cfg.baseBackoff <= 0 || cfg.maxBackoff <= 0:
		return nil, errors.New("webhook: backoffs must be positive")
	case cfg.timeout <= 0:
		return nil, errors.New("webhook: timeout must be positive")
	}
	if cfg.maxBackoff < cfg.baseBackoff {
		cfg.maxBackoff = cfg.baseBackoff
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sender{
		url:    u.String(),
		secret: bytes.Clone(secret),
		log:    log.With("webhook", redact(u)),
		cfg:    cfg,
		client: &http.Client{
			// A redirected POST would turn into a GET; a moved endpoint is
			// a configuration error, reported like any other 3xx/4xx.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		queue:  make(chan draw.Event, cfg.queueSize),
		stop:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go s.run()
	return s, nil
}

// redact drops credentials and the query (which may hold a token) from the
// URL for logs.
func redact(u *url.URL) string {
	r := *u
	r.User = nil
	r.RawQuery = ""
	r.Fragment = ""
	return r.String()
}

// Notify queues e for sending and returns at once. When the queue is full,
// or the Sender is closed, e is dropped and counted in Dropped; a burst of
// drops is logged once, when it starts, and once more when the queue
// accepts events again.
func (s *Sender) Notify(e draw.Event) {
	s.mu.RLock()
	closed := s.closed
	queued := false
	if !closed {
		select {
		case s.queue <- e:
			queued = true
		default:
		}
	}
	s.mu.RUnlock()

	switch {
	case queued:
		if s.dropping.Load() && s.dropping.CompareAndSwap(true, false) {
			s.log.Info("webhook queue accepts events again", "dropped", s.burst.Swap(0))
		}
	case closed:
		s.dropped.Add(1)
		if s.afterClose.CompareAndSwap(false, true) {
			s.log.Warn("webhook closed; dropping events notified after Close")
		}
	default:
		s.dropped.Add(1)
		s.burst.Add(1)
		if s.dropping.CompareAndSwap(false, true) {
			s.log.Warn("webhook queue full; dropping events until it drains", "queue", s.cfg.queueSize)
		}
	}
}

// Dropped is how many events Notify could not queue.
func (s *Sender) Dropped() uint64 { return s.dropped.Load() }

// Delivered is how many events a receiver accepted (2xx).
func (s *Sender) Delivered() uint64 { return s.delivered.Load() }

// Failed is how many queued events were given up on: rejected by the
// receiver, out of attempts, or still unsent when Close's context ended.
func (s *Sender) Failed() uint64 { return s.failed.Load() }

// Close stops accepting events and sends what is queued, retries included,
// until that is done or ctx ends. Then whatever is left counts as failed
// and Close returns ctx's error. It may be called more than once.
func (s *Sender) Close(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		select {
		case <-s.done: // finished just in time
			return nil
		default:
		}
		s.cancel() // ends the attempt in flight and any backoff
		<-s.done
		return ctx.Err()
	}
}

// run is the worker: it takes what is queued, up to a batch, and delivers
// it, one batch at a time, until closed and drained (or aborted).
func (s *Sender) run() {
	defer close(s.done)
	defer s.cancel()
	batch := make([]draw.Event, 0, s.cfg.batchSize)
	for {
		if s.ctx.Err() != nil {
			s.abandon()
			return
		}
		batch = batch[:0]
		select {
		case e := <-s.queue:
			batch = append(batch, e)
		case <-s.stop:
			select {
			case e := <-s.queue:
				batch = append(batch, e)
			default:
				return // closed and drained
			}
		}
	fill:
		for len(batch) < s.cfg.batchSize {
			select {
			case e := <-s.queue:
				batch = append(batch, e)
			default:
				break fill
			}
		}
		s.deliver(batch)
	}
}

// abandon counts what is still queued as failed, once Close gave up.
// Nothing can be queued any more: Close set closed before it could cancel.
func (s *Sender) abandon() {
	n := 0
	for {
		select {
		case <-s.queue:
			n++
		default:
			if n > 0 {
				s.failed.Add(uint64(n))
				s.log.Error("webhook closed before these events could be sent", "events", n)
			}
			return
		}
	}
}

// deliver sends one batch, retrying as the wire format says, and counts the
// outcome.
func (s *Sender) deliver(events []draw.Event) {
	n := uint64(len(events))
	body, err := json.Marshal(Payload{Events: events})
	if err != nil { // cannot happen with draw.Event; never lose silently
		s.failed.Add(n)
		s.log.Error("webhook: cannot encode events", "events", n, "err", err)
		return
	}
	id := newDeliveryID()
	for attempt := 1; ; attempt++ {
		status, retryAfter, err := s.post(id, body)
		if err == nil && status >= 200 && status < 300 {
			s.delivered.Add(n)
			if attempt > 1 {
				s.log.Info("webhook delivered after retrying", "delivery", id, "events", n, "attempts", attempt)
			}
			return
		}
		if s.ctx.Err() != nil {
			s.failed.Add(n)
			s.log.Error("webhook closed before these events could be sent", "delivery", id, "events", n, "attempts", attempt)
			return
		}
		if err == nil && !retryable(status) {
			s.failed.Add(n)
			s.log.Error("webhook receiver refused the events; not retrying", "delivery", id, "events", n, "status", status)
			return
		}
		if attempt >= s.cfg.maxAttempts {
			s.failed.Add(n)
			s.log.Error("webhook gave up", "delivery", id, "events", n, "attempts", attempt, "status", status, "err", err)
			return
		}
		wait := s.backoff(attempt)
		if retryAfter > 0 {
			wait = min(retryAfter, s.cfg.maxBackoff)
		}
		s.log.Debug("webhook attempt failed; retrying", "delivery", id, "attempt", attempt, "status", status, "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			s.failed.Add(n)
			s.log.Error("webhook closed before these events could be sent", "delivery", id, "events", n, "attempts", attempt)
			return
		}
	}
}

// retryable says whether a status is worth another attempt.
func retryable(status int) bool {
	return status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

// backoff is the wait after failed attempt number attempt (from 1): the
// base, doubled per further attempt, capped, then jittered into [d/2, d].
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.cfg.baseBackoff
	for i := 1; i < attempt && d < s.cfg.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.maxBackoff)
	half := d / 2
	return half + time.Duration(randv2.Int64N(int64(d-half)+1))
}

// post makes one attempt. It returns the status, or an error for a network
// failure, and the wait a 429/503's Retry-After asks for (0 if none).
func (s *Sender) post(id string, body []byte) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(s.secret, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	// Read a little so the connection can be reused; receivers should
	// answer with an empty body anyway.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	var wait time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		wait = parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return resp.StatusCode, wait, nil
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 if neither.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second) // capped by the caller anyway
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// newDeliveryID is 16 random bytes in hex.
func newDeliveryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Sign returns the X-Draw-Signature value for a body sent at timestamp (the
// X-Draw-Timestamp value): "sha256=" and the hex HMAC-SHA256, keyed with
// secret, of timestamp + "." + body.
func Sign(secret []byte, timestamp string, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify is for receivers: it says whether signature (the X-Draw-Signature
// header) is right for the raw request body and timestamp (the
// X-Draw-Timestamp header) under secret. The comparison is constant-time.
// Verify does not judge the timestamp's age; receivers should also reject
// requests whose timestamp is more than a few minutes from their clock.
func Verify(secret []byte, timestamp, signature string, body []byte) bool {
	hexSig, ok := strings.CutPrefix(signature, signaturePrefix)
	if !ok || len(secret) == 0 || timestamp == "" {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, mac(secret, timestamp, body))
}

var _ draw.Notifier = (*Sender)(nil)
