package draw

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// connLimits counts sockets per IP and in total, and paces handshakes per IP.
type connLimits struct {
	maxTotal, maxPerIP int
	handshakeRate      float64

	mu      sync.Mutex
	total   int
	perIP   map[string]int
	buckets map[string]*tokenBucket
}

func newConnLimits(cfg Config) *connLimits {
	return &connLimits{
		maxTotal: cfg.MaxConnections, maxPerIP: cfg.MaxConnectionsPerIP, handshakeRate: cfg.HandshakesPerIPPerSecond,
		perIP: make(map[string]int), buckets: make(map[string]*tokenBucket),
	}
}

// admit reserves a connection slot for ip or says why there is none. Every
// admitted connection is released once, when its engine connection closes.
func (l *connLimits) admit(ip string, now time.Time) (reason string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.handshakeRate > 0 {
		b := l.buckets[ip]
		if b == nil {
			b = &tokenBucket{rate: l.handshakeRate, burst: max(1, l.handshakeRate)}
			l.buckets[ip] = b
		}
		if !b.allow(now) {
			return "handshake_rate", fmt.Errorf("too many new connections from your address: at most %g per second", l.handshakeRate)
		}
		if len(l.buckets) > 10000 { // forget idle addresses so the map stays small
			for k, v := range l.buckets {
				if now.Sub(v.last) > 10*time.Second {
					delete(l.buckets, k)
				}
			}
		}
	}
	if l.maxTotal > 0 && l.total >= l.maxTotal {
		return "server_full", fmt.Errorf("server full: %d connections is the limit, try again later", l.maxTotal)
	}
	if l.maxPerIP > 0 && l.perIP[ip] >= l.maxPerIP {
		return "ip_full", fmt.Errorf("too many connections from your address: the limit is %d", l.maxPerIP)
	}
	l.total++
	l.perIP[ip]++
	return "", nil
}

func (l *connLimits) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip] == 0 {
		return // never admitted
	}
	l.total--
	if l.perIP[ip]--; l.perIP[ip] == 0 {
		delete(l.perIP, ip)
	}
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func clientIP(ctx interface{ Request() *http.Request }) string {
	return hostOf(ctx.Request().RemoteAddr)
}

// originAllowed: same origin, or listed by the operator ("*" lists all).
func (s *Server) originAllowed(origin, host string) bool {
	if u, err := url.Parse(origin); err == nil && u.Host == host {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}
