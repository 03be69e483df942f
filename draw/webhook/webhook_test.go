package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawing/draw/draw"
)

var secret = []byte("0123456789abcdef-test-secret")

// request is what the receiver saw.
type request struct {
	header http.Header
	body   []byte
	at     time.Time
	events []draw.Event
}

// receiver is a local webhook endpoint; respond decides each answer (n is
// the 1-based request number). It records every request.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p Payload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("body is not a payload: %v: %s", err, body)
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, request{header: r.Header.Clone(), body: body, at: time.Now(), events: p.Events})
		n := len(rc.reqs)
		rc.mu.Unlock()
		if respond != nil {
			respond(n, w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLogger(t *testing.T) (*slog.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// fast are options that keep retries quick.
var fast = []Option{WithBaseBackoff(time.Millisecond), WithMaxBackoff(10 * time.Millisecond), WithTimeout(2 * time.Second)}

func newSender(t *testing.T, url string, opts ...Option) (*Sender, *lockedBuffer) {
	t.Helper()
	log, buf := testLogger(t)
	s, err := New(url, secret, log, append(append([]Option(nil), fast...), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.Close(ctx)
		if t.Failed() {
			t.Logf("log:\n%s", buf)
		}
	})
	return s, buf
}

func closeOK(t *testing.T, s *Sender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func ev(i int) draw.Event {
	return draw.Event{Type: "joined", Board: "b" + strconv.Itoa(i%3), Time: int64(1700000000000 + i), ID: "sock" + strconv.Itoa(i), Name: "N" + strconv.Itoa(i), Subject: "u" + strconv.Itoa(i)}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		url    string
		secret []byte
		opts   []Option
		want   string
	}{
		{"ftp://example.com/hook", secret, nil, "http:// or https://"},
		{"example.com/hook", secret, nil, "http:// or https://"},
		{"http:///hook", secret, nil, "no host"},
		{"http://example.com/%zz", secret, nil, "url"},
		{"https://example.com/hook", nil, nil, "secret is required"},
		{"https://example.com/hook", []byte("short"), nil, "at least 16"},
		{"https://example.com/hook", secret, []Option{WithQueueSize(0)}, "queue size"},
		{"https://example.com/hook", secret, []Option{WithMaxAttempts(0)}, "max attempts"},
		{"https://example.com/hook", secret, []Option{WithBatchSize(0)}, "batch size"},
		{"https://example.com/hook", secret, []Option{WithBaseBackoff(0)}, "backoff"},
		{"https://example.com/hook", secret, []Option{WithTimeout(-1)}, "timeout"},
	} {
		s, err := New(tc.url, tc.secret, nil, tc.opts...)
		if err == nil {
			s.Close(context.Background())
			t.Errorf("New(%q, %q) accepted", tc.url, tc.secret)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %q): %v; want it to mention %q", tc.url, tc.secret, err, tc.want)
		}
	}
	s, err := New("https://user:pw@example.com/hook?token=x", secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeOK(t, s)
}

func TestSignatureAndHeaders(t *testing.T) {
	rc := newReceiver(t, nil)
	s, _ := newSender(t, rc.URL)
	want := []draw.Event{ev(1), ev(2)}
	s.Notify(want[0])
	s.Notify(want[1])
	closeOK(t, s)

	var got []draw.Event
	for _, r := range rc.requests() {
		h := r.header
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if ua := h.Get("User-Agent"); ua != "draw-webhook/1" {
			t.Errorf("User-Agent %q", ua)
		}
		if id := h.Get(HeaderDelivery); len(id) != 32 {
			t.Errorf("delivery id %q", id)
		}
		ts, sig := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
		if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
			t.Errorf("timestamp %q is not now in Unix seconds", ts)
		}
		if !strings.HasPrefix(sig, "sha256=") {
			t.Errorf("signature %q", sig)
		}
		if !Verify(secret, ts, sig, r.body) {
			t.Errorf("signature does not verify")
		}
		if Verify([]byte("another-secret-of-16+bytes"), ts, sig, r.body) {
			t.Errorf("signature verifies under a wrong secret")
		}
		if Verify(secret, ts, sig, append(bytes.Clone(r.body), ' ')) {
			t.Errorf("signature verifies for a changed body")
		}
		sec, _ := strconv.ParseInt(ts, 10, 64)
		if Verify(secret, strconv.FormatInt(sec+1, 10), sig, r.body) {
			t.Errorf("signature verifies for a changed timestamp")
		}
		got = append(got, r.events...)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %v; want %v", got, want)
	}
	if s.Delivered() != 2 || s.Failed() != 0 || s.Dropped() != 0 {
		t.Errorf("delivered %d failed %d dropped %d", s.Delivered(), s.Failed(), s.Dropped())
	}
}

func TestWireBody(t *testing.T) {
	rc := newReceiver(t, nil)
	s, _ := newSender(t, rc.URL)
	s.Notify(draw.Event{Type: "left", Board: "b", Time: 5, ID: "x"})
	closeOK(t, s)
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if want := `{"events":[{"type":"left","board":"b","time":5,"id":"x"}]}`; string(reqs[0].body) != want {
		t.Errorf("body %s; want %s", reqs[0].body, want)
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	body := []byte(`{"events":[]}`)
	good := Sign(secret, "123", body)
	if !Verify(secret, "123", good, body) {
		t.Fatal("good signature rejected")
	}
	for _, sig := range []string{"", strings.TrimPrefix(good, "sha256="), "sha1=" + good[7:], good[:len(good)-2], good + "00", "sha256=zz" + good[9:], strings.ToUpper(good)} {
		if Verify(secret, "123", sig, body) {
			t.Errorf("Verify accepted %q", sig)
		}
	}
	if Verify(nil, "123", good, body) || Verify(secret, "", Sign(secret, "", body), body) {
		t.Error("Verify accepted an empty secret or timestamp")
	}
}

func TestRetryAfter500ThenSuccess(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	s, _ := newSender(t, rc.URL)
	s.Notify(ev(1))
	waitFor(t, "delivery", func() bool { return s.Delivered() == 1 })
	closeOK(t, s)
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests; want 2", len(reqs))
	}
	if a, b := reqs[0].header.Get(HeaderDelivery), reqs[1].header.Get(HeaderDelivery); a == "" || a != b {
		t.Errorf("delivery ids %q and %q differ across a retry", a, b)
	}
	for _, r := range reqs {
		if !Verify(secret, r.header.Get(HeaderTimestamp), r.header.Get(HeaderSignature), r.body) {
			t.Error("a retry is not signed")
		}
	}
	if s.Delivered() != 1 || s.Failed() != 0 {
		t.Errorf("delivered %d failed %d", s.Delivered(), s.Failed())
	}
}

func TestRetriesOn408And429AndNetworkErrors(t *testing.T) {
	codes := []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable}
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= len(codes) {
			w.WriteHeader(codes[n-1])
		}
	})
	s, _ := newSender(t, rc.URL)
	s.Notify(ev(1))
	closeOK(t, s)
	if n := len(rc.requests()); n != 5 || s.Delivered() != 1 {
		t.Errorf("%d requests, delivered %d; want 5 and 1", n, s.Delivered())
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // nothing listens there any more
	s2, buf := newSender(t, dead.URL, WithMaxAttempts(3))
	s2.Notify(ev(1))
	closeOK(t, s2)
	if s2.Failed() != 1 || s2.Delivered() != 0 {
		t.Errorf("failed %d delivered %d; want 1 and 0", s2.Failed(), s2.Delivered())
	}
	if c := strings.Count(buf.String(), "webhook gave up"); c != 1 {
		t.Errorf("gave up logged %d times; want once:\n%s", c, buf)
	}
	if c := strings.Count(buf.String(), "retrying"); c != 2 {
		t.Errorf("%d retries logged; want 2:\n%s", c, buf)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	s, _ := newSender(t, rc.URL, WithMaxAttempts(3))
	s.Notify(ev(1))
	closeOK(t, s)
	if n := len(rc.requests()); n != 3 {
		t.Errorf("%d requests; want 3", n)
	}
	if s.Failed() != 1 || s.Delivered() != 0 {
		t.Errorf("failed %d delivered %d", s.Failed(), s.Delivered())
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusFound} {
		rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if code == http.StatusFound {
				w.Header().Set("Location", "/elsewhere")
			}
			w.WriteHeader(code)
		})
		s, buf := newSender(t, rc.URL)
		s.Notify(ev(1))
		waitFor(t, "give-up", func() bool { return s.Failed() == 1 })
		time.Sleep(30 * time.Millisecond) // retries would come within ~10ms
		closeOK(t, s)
		if n := len(rc.requests()); n != 1 {
			t.Errorf("status %d: %d requests; want 1", code, n)
		}
		if s.Delivered() != 0 {
			t.Errorf("status %d: delivered %d", code, s.Delivered())
		}
		if log := buf.String(); strings.Count(log, "not retrying") != 1 || !strings.Contains(log, "status="+strconv.Itoa(code)) {
			t.Errorf("status %d: log should name the status once:\n%s", code, log)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	// The backoff alone would be ~1ms; the cap lets Retry-After's 1s through.
	s, _ := newSender(t, rc.URL, WithMaxBackoff(5*time.Second))
	s.Notify(ev(1))
	waitFor(t, "delivery", func() bool { return s.Delivered() == 1 })
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests; want 2", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 900*time.Millisecond {
		t.Errorf("retried after %v; Retry-After asked for 1s", gap)
	}
}

func TestRetryAfterCapped(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	s, _ := newSender(t, rc.URL, WithMaxBackoff(20*time.Millisecond))
	s.Notify(ev(1))
	// An uncapped Retry-After would take an hour; waitFor allows 10s.
	waitFor(t, "delivery", func() bool { return s.Delivered() == 1 })
}

func TestParseRetryAfter(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "0": 0, "-3": 0, "2": 2 * time.Second, " 7 ": 7 * time.Second, "soon": 0, "99999999999": 24 * time.Hour} {
		if got := parseRetryAfter(v); got != want {
			t.Errorf("parseRetryAfter(%q) = %v; want %v", v, got, want)
		}
	}
	d := parseRetryAfter(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	if d < 59*time.Minute || d > time.Hour {
		t.Errorf("HTTP date an hour ahead gave %v", d)
	}
}

func TestBackoffGrowsCappedWithJitter(t *testing.T) {
	s, _ := newSender(t, "http://127.0.0.1:1/", WithBaseBackoff(100*time.Millisecond), WithMaxBackoff(time.Second))
	for attempt, full := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := s.backoff(attempt)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v; want within [%v, %v]", attempt, d, full/2, full)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) has no jitter", attempt)
		}
	}
}

func TestQueueFullDropsWithoutBlocking(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 100)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	})
	s, buf := newSender(t, rc.URL, WithQueueSize(2), WithBatchSize(1), WithTimeout(30*time.Second))
	s.Notify(ev(0))
	<-arrived // the worker is now stuck in the receiver with event 0
	s.Notify(ev(1))
	s.Notify(ev(2)) // the queue (2) is full

	start := time.Now()
	for i := 3; i < 1003; i++ {
		s.Notify(ev(i))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("1000 Notify calls on a full queue took %v", took)
	}
	if s.Dropped() != 1000 {
		t.Errorf("dropped %d; want 1000", s.Dropped())
	}
	if c := strings.Count(buf.String(), "queue full"); c != 1 {
		t.Errorf("queue full logged %d times; want once per burst:\n%s", c, buf)
	}

	close(release)
	waitFor(t, "the queue to drain", func() bool { return s.Delivered() == 3 })
	s.Notify(ev(2000)) // accepted again: the end of the burst is logged
	closeOK(t, s)
	if !strings.Contains(buf.String(), "accepts events again") || !strings.Contains(buf.String(), "dropped=1000") {
		t.Errorf("end of burst not logged:\n%s", buf)
	}
	var got []string
	for _, r := range rc.requests() {
		for _, e := range r.events {
			got = append(got, e.ID)
		}
	}
	if want := "[sock0 sock1 sock2 sock2000]"; fmt.Sprint(got) != want {
		t.Errorf("delivered %v; want %v", got, want)
	}
	if s.Delivered() != 4 || s.Dropped() != 1000 {
		t.Errorf("delivered %d dropped %d", s.Delivered(), s.Dropped())
	}
}

func TestNotifyDuringRetriesQueues(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	s, _ := newSender(t, rc.URL, WithMaxAttempts(1000), WithBatchSize(1000))
	s.Notify(ev(0))
	waitFor(t, "a retry", func() bool { return len(rc.requests()) >= 2 })
	for i := 1; i < 50; i++ {
		s.Notify(ev(i))
	}
	fail.Store(false)
	closeOK(t, s)
	if s.Delivered() != 50 || s.Dropped() != 0 || s.Failed() != 0 {
		t.Errorf("delivered %d dropped %d failed %d", s.Delivered(), s.Dropped(), s.Failed())
	}
}

func TestBatchingKeepsOrder(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			arrived <- struct{}{}
			<-release
		}
	})
	s, _ := newSender(t, rc.URL, WithBatchSize(100))
	s.Notify(ev(0))
	<-arrived // held: the next 250 queue up together
	for i := 1; i <= 250; i++ {
		s.Notify(ev(i))
	}
	close(release)
	closeOK(t, s)

	reqs := rc.requests()
	var sizes []int
	var ids []string
	for _, r := range reqs {
		sizes = append(sizes, len(r.events))
		for _, e := range r.events {
			ids = append(ids, e.ID)
		}
	}
	if fmt.Sprint(sizes) != "[1 100 100 50]" {
		t.Errorf("batch sizes %v; want [1 100 100 50]", sizes)
	}
	for i, id := range ids {
		if id != "sock"+strconv.Itoa(i) {
			t.Fatalf("event %d is %s: order lost", i, id)
		}
	}
	if len(ids) != 251 || s.Delivered() != 251 {
		t.Errorf("%d events received, %d delivered; want 251", len(ids), s.Delivered())
	}
}

func TestCloseFlushes(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n%3 == 1 {
			w.WriteHeader(http.StatusBadGateway) // every batch is retried once
		}
	})
	s, _ := newSender(t, rc.URL, WithBatchSize(7))
	for i := range 500 {
		s.Notify(ev(i))
	}
	closeOK(t, s)
	if s.Delivered() != 500 || s.Failed() != 0 {
		t.Errorf("delivered %d failed %d; want 500 and 0", s.Delivered(), s.Failed())
	}
	seen := map[string]bool{}
	for _, r := range rc.requests() {
		for _, e := range r.events {
			seen[e.ID] = true
		}
	}
	if len(seen) != 500 {
		t.Errorf("receiver saw %d distinct events; want 500", len(seen))
	}
	s.Notify(ev(1000))
	if s.Dropped() != 1 {
		t.Errorf("Notify after Close: dropped %d; want 1", s.Dropped())
	}
	closeOK(t, s) // again: fine
}

func TestCloseGivesUpWhenContextEnds(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	s, _ := newSender(t, rc.URL, WithBatchSize(1), WithTimeout(time.Minute))
	for i := range 5 {
		s.Notify(ev(i))
	}
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v; want deadline exceeded", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %v after its context ended", took)
	}
	if s.Failed() != 5 || s.Delivered() != 0 {
		t.Errorf("failed %d delivered %d; want 5 and 0", s.Failed(), s.Delivered())
	}
}

func TestConcurrentNotifyAndClose(t *testing.T) {
	rc := newReceiver(t, nil)
	s, _ := newSender(t, rc.URL, WithQueueSize(100000))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				s.Notify(draw.Event{Type: "joined", Board: "b" + strconv.Itoa(g), Time: int64(i)})
			}
		})
	}
	time.Sleep(time.Millisecond)
	closeOK(t, s) // while some goroutines may still notify: no race, no panic
	wg.Wait()
	if s.Delivered()+s.Dropped() != 4000 || s.Failed() != 0 {
		t.Errorf("delivered %d + dropped %d != 4000 (failed %d)", s.Delivered(), s.Dropped(), s.Failed())
	}
	last := map[string]int64{}
	n := 0
	for _, r := range rc.requests() {
		for _, e := range r.events {
			if prev, ok := last[e.Board]; ok && e.Time <= prev {
				t.Fatalf("board %s: event %d after %d", e.Board, e.Time, prev)
			}
			last[e.Board] = e.Time
			n++
		}
	}
	if uint64(n) != s.Delivered() {
		t.Errorf("receiver saw %d events; delivered %d", n, s.Delivered())
	}
}

// A receiver checks the signature on the raw body, rejects stale
// timestamps, skips deliveries it already has, and answers 2xx quickly.
func ExampleVerify() {
	secret := []byte("the same secret as the server's")
	seen := sync.Map{} // delivery ids already handled; expire them in real code
	http.HandleFunc("/draw-events", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		ts := r.Header.Get("X-Draw-Timestamp")
		if !Verify(secret, ts, r.Header.Get("X-Draw-Signature"), body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		sec, _ := strconv.ParseInt(ts, 10, 64)
		if time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			http.Error(w, "stale timestamp", http.StatusUnauthorized)
			return
		}
		if _, dup := seen.LoadOrStore(r.Header.Get("X-Draw-Delivery"), true); dup {
			return // a retry of a batch we already have
		}
		var p struct {
			Events []draw.Event `json:"events"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		for _, e := range p.Events {
			fmt.Println(e.Type, e.Board, e.Name) // joined, left, cleared, locked, unlocked
		}
	})
}
