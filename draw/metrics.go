package draw

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Reasons an event, a frame or a client is dropped (label of draw_dropped_total).
const (
	dropInvalid    = "invalid"       // malformed packet or mousemove
	dropRate       = "rate"          // over the per-socket event rate
	dropSize       = "size"          // message over MaxMessageBytes
	dropSlow       = "slow_consumer" // cursor move shed for a lagging receiver
	dropSlowClient = "slow_client"   // receiver disconnected for lagging
	dropRefused    = "refused"       // a draw, undo, redo or clear the board refused (not yours, full, busy)
	dropUnrecorded = "unrecorded"    // a classic client's segment not recorded: the writer's queue was full
)

// metrics are per Server, so several servers (tests) can live in one process.
type metrics struct {
	registry   *prometheus.Registry
	wsConns    atomic.Int64
	pollConns  atomic.Int64
	events     *prometheus.CounterVec
	deliveries prometheus.Counter
	dropped    *prometheus.CounterVec
	refused    *prometheus.CounterVec
	relay      prometheus.Histogram

	stored        prometheus.Counter
	storeFailures *prometheus.CounterVec
	commit        prometheus.Histogram

	clusterPublish    prometheus.Histogram
	clusterPublished  prometheus.Counter
	clusterDropped    prometheus.Counter
	clusterErrors     *prometheus.CounterVec
	clusterDeliveries prometheus.Counter
	clusterGaps       prometheus.Counter

	feeds prometheus.Gauge
}

func newMetrics(boards, writeQueue, clusterQueue func() int) *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "draw_events_received_total", Help: "Socket.IO events received from clients, by event name (other = unknown).",
	}, []string{"event"})
	m.deliveries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "draw_deliveries_total", Help: "Frames handed to receivers' send queues (one per receiver).",
	})
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "draw_dropped_total", Help: "Events, frames or clients dropped, by reason: invalid, rate, size, slow_consumer (a cursor move shed), slow_client (a receiver disconnected), refused (a draw, undo, redo or clear the board refused), unrecorded (a classic client's segment not recorded).",
	}, []string{"reason"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "draw_refused_connections_total", Help: "Connections refused, by reason.",
	}, []string{"reason"})
	m.relay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "draw_relay_seconds",
		Help:    "Time from receiving a mousemove to having queued it for every receiver on the board.",
		Buckets: []float64{1e-6, 5e-6, 2e-5, 1e-4, 5e-4, 2e-3, 1e-2, 5e-2},
	})
	m.stored = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "draw_store_ops_total", Help: "Ops (stroke pieces, undo, redo, clear) committed to the store.",
	})
	m.storeFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "draw_store_failures_total", Help: "Failed writes, by what failed: append (a commit; its ops were not saved), queue_full (the writer was behind) or conflict (another node appended first; validated again).",
	}, []string{"what"})
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "draw_store_commit_seconds",
		Help:    "Time one group commit of the boards' ops took.",
		Buckets: []float64{1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1},
	})
	m.clusterPublish = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "draw_cluster_publish_seconds",
		Help:    "Time one publish of a batch to the other nodes took (Redis round trip).",
		Buckets: []float64{1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.25, 1},
	})
	m.clusterPublished = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "draw_cluster_batches_published_total", Help: "Batches of records published to the other nodes.",
	})
	m.clusterDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "draw_cluster_dropped_total", Help: "Records for the other nodes dropped because the publish queue was full.",
	})
	m.clusterErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "draw_cluster_errors_total", Help: "Cluster errors by what failed: publish (a batch lost), beat (the liveness key not renewed), malformed (a batch not understood), duplicate (a batch received twice, dropped).",
	}, []string{"what"})
	m.clusterDeliveries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "draw_cluster_deliveries_total", Help: "Frames from other nodes handed to this node's receivers.",
	})
	m.clusterGaps = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "draw_cluster_gaps_total", Help: "Times a gap in another node's batches was seen (lost news): members and logs were read again.",
	})
	m.feeds = prometheus.NewGauge(prometheus.GaugeOpts{Name: "draw_feed_readers", Help: "Open SSE feeds (/api/boards/{board}/events)."})
	conns := func(transport string, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "draw_connections", Help: "Open connections by transport.", ConstLabels: prometheus.Labels{"transport": transport},
		}, func() float64 { return float64(n.Load()) })
	}
	m.registry.MustRegister(m.events, m.deliveries, m.dropped, m.refused, m.relay, m.stored, m.storeFailures, m.commit,
		m.feeds, m.clusterPublish, m.clusterPublished, m.clusterDropped, m.clusterErrors, m.clusterDeliveries, m.clusterGaps,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "draw_cluster_queue", Help: "Records waiting to be published to the other nodes."},
			func() float64 { return float64(clusterQueue()) }),
		conns("websocket", &m.wsConns), conns("polling", &m.pollConns),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "draw_boards", Help: "Boards with at least one member."},
			func() float64 { return float64(boards()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "draw_store_queue", Help: "Requests waiting for the boards' writer."},
			func() float64 { return float64(writeQueue()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
