package draw

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/zishang520/socket.io/v2/socket"
)

// Several nodes. Each node relays to its own clients first and then tells
// the others through a Broker: cursor moves, joins and leaves, and the ops
// it stored. Nodes never wait for each other: what is told goes through a
// bounded queue to one publisher goroutine, and what arrives is handled by
// the broker's one subscriber goroutine, in the order each node published.
// Redis pub/sub may lose messages (an outage, a full queue); every batch is
// numbered per node, so a gap makes the receiver ask for the sender's
// membership again and read the boards' logs from the store, which is the
// truth every node shares.

// Broker carries batches between the nodes of a cluster (draw/redis).
type Broker interface {
	// Adapter is set on the socket.io server: the broker rides on it.
	Adapter() socket.AdapterConstructor
	// Start delivers the other nodes' batches to deliver, one at a time, in
	// the order each node published them, until Close.
	Start(nsp socket.Namespace, deliver func(batch []byte)) error
	// Publish sends one batch to every other node. Only one goroutine calls
	// it; it may block until ctx ends.
	Publish(ctx context.Context, batch []byte) error
	// Beat says this node is alive for ttl; Alive asks whether another node
	// said so. They tell a dead node from a quiet one.
	Beat(ctx context.Context, node string, ttl time.Duration) error
	Alive(ctx context.Context, node string) (bool, error)
	// Health says what is wrong with the broker's connection, if anything.
	Health() string
	Close() error
}

// Record types in a batch.
const (
	recMove   = 'm' // a moving packet for a board
	recLeft   = 'd' // a client left a board: its id
	recJoined = 'j' // a client joined a board or said hello: its user
	recOps    = 'o' // ops stored on a board: their wire form, a JSON array
	recHeads  = 'h' // heartbeat: {board: head} of the boards this node has open
	recState  = 's' // this node's members: {board: [user, ...]}
	recWant   = 'w' // the named node should send its state
)

const (
	clusterQueue     = 8192                   // records waiting for the publisher; beyond it they are dropped
	maxBatchRecords  = 256                    // records in one publish
	maxBatchBytes    = 256 << 10              // bytes in one publish
	publishTimeout   = time.Second            // one publish; then the batch is dropped
	beatEvery        = time.Second            // heartbeat
	peerSilence      = 3 * beatEvery          // a peer this quiet is asked after
	nodeTTL          = peerSilence            // how long a beat says a node is alive
	clusterCallWait  = 500 * time.Millisecond // a liveness question to the broker
	clusterDrainWait = 2 * time.Second        // at shutdown, for the departures to be published
)

type cluster struct {
	srv    *Server
	broker Broker
	node   string
	out    chan []byte
	done   chan struct{} // closed once what was queued at shutdown is published
	once   sync.Once

	mu    sync.Mutex
	peers map[string]*peer
}

// peer is what this node knows of another node.
type peer struct {
	seq   uint64                     // last batch number received
	heard time.Time                  // when
	users map[string]map[string]user // board → id → user, its members
}

func newCluster(srv *Server, b Broker) *cluster {
	id := make([]byte, 6)
	rand.Read(id)
	return &cluster{srv: srv, broker: b, node: hex.EncodeToString(id), out: make(chan []byte, clusterQueue), done: make(chan struct{}), peers: make(map[string]*peer)}
}

func (c *cluster) start(nsp socket.Namespace, quit <-chan struct{}) error {
	if err := c.broker.Start(nsp, c.receive); err != nil {
		return err
	}
	go c.publishLoop()
	go c.beatLoop(quit)
	c.tell(record(recWant, "", nil)) // everyone: who is where
	return nil
}

// record encodes one record: type, board, payload length, payload.
func record(typ byte, board string, payload []byte) []byte {
	b := make([]byte, 0, len(board)+len(payload)+12)
	b = append(b, typ)
	b = append(b, board...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	return append(b, payload...)
}

// tell queues a record for the other nodes without waiting.
func (c *cluster) tell(rec []byte) {
	select {
	case c.out <- rec:
	default:
		c.srv.metrics.clusterDropped.Inc()
	}
}

func (c *cluster) move(board string, pkt []byte) { c.tell(record(recMove, board, pkt)) }

func (c *cluster) joined(board string, u user) {
	p, _ := json.Marshal(u)
	c.tell(record(recJoined, board, p))
}

func (c *cluster) left(board, id string) { c.tell(record(recLeft, board, []byte(id))) }

func (c *cluster) stored(board string, wireOps []byte) { c.tell(record(recOps, board, wireOps)) }

// drain waits (up to ctx) until what is queued is published, then stops
// the publisher: at shutdown, the others hear that this node's clients left.
func (c *cluster) drain(ctx context.Context) {
	for len(c.out) > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	c.once.Do(func() { close(c.done) })
}

// publishLoop sends what is queued in batches: "<node> <n>\n" then records.
func (c *cluster) publishLoop() {
	var n uint64
	for {
		var first []byte
		select {
		case <-c.done:
			return
		case first = <-c.out:
		}
		n++
		batch := fmt.Appendf(nil, "%s %d\n", c.node, n)
		batch = append(batch, first...)
		for k := 1; k < maxBatchRecords && len(batch) < maxBatchBytes && len(c.out) > 0; k++ {
			batch = append(batch, <-c.out...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		start := time.Now()
		err := c.broker.Publish(ctx, batch)
		cancel()
		c.srv.metrics.clusterPublish.Observe(time.Since(start).Seconds())
		if err != nil {
			// Lost: the others see the gap in n and catch up.
			c.srv.metrics.clusterErrors.WithLabelValues("publish").Inc()
		} else {
			c.srv.metrics.clusterPublished.Inc()
		}
	}
}

// beatLoop tells the others which boards this node has open and how far
// their logs go, and notices nodes that went away.
func (c *cluster) beatLoop(quit <-chan struct{}) {
	t := time.NewTicker(beatEvery)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		heads := map[string]int64{}
		for _, b := range c.srv.boards.all() {
			if b.log.loaded.Load() {
				heads[b.name] = b.log.head.Load()
			}
		}
		p, _ := json.Marshal(heads)
		c.tell(record(recHeads, "", p))
		ctx, cancel := context.WithTimeout(context.Background(), clusterCallWait)
		if err := c.broker.Beat(ctx, c.node, nodeTTL); err != nil {
			c.srv.metrics.clusterErrors.WithLabelValues("beat").Inc()
		}
		cancel()
		c.forgetSilent()
	}
}

// forgetSilent drops the nodes that stopped beating, announcing that their
// members left. A node is only forgotten when the broker confirms it is
// gone: during an outage every other node looks silent.
func (c *cluster) forgetSilent() {
	c.mu.Lock()
	var silent []string
	for id, p := range c.peers {
		if time.Since(p.heard) > peerSilence {
			silent = append(silent, id)
		}
	}
	c.mu.Unlock()
	for _, id := range silent {
		ctx, cancel := context.WithTimeout(context.Background(), clusterCallWait)
		alive, err := c.broker.Alive(ctx, id)
		cancel()
		if err != nil || alive {
			continue
		}
		c.mu.Lock()
		p := c.peers[id]
		delete(c.peers, id)
		c.mu.Unlock()
		if p != nil {
			c.srv.log.Info("a node left the cluster; its clients are gone", "node", id)
			c.replaceUsers(p, nil)
		}
	}
}

// receive handles one batch from another node, on the broker's subscriber.
func (c *cluster) receive(batch []byte) {
	nl := bytes.IndexByte(batch, '\n')
	if nl < 0 {
		c.srv.metrics.clusterErrors.WithLabelValues("malformed").Inc()
		return
	}
	node, seqText, _ := bytes.Cut(batch[:nl], []byte(" "))
	seq, err := strconv.ParseUint(string(seqText), 10, 64)
	if err != nil || len(node) == 0 {
		c.srv.metrics.clusterErrors.WithLabelValues("malformed").Inc()
		return
	}
	from := string(node)
	if from == c.node {
		return // our own, echoed
	}
	c.mu.Lock()
	p := c.peers[from]
	if p != nil && seq <= p.seq {
		// Delivered again (a publish retried after its timeout had
		// reached Redis): handling it twice would repeat moves and could
		// roll members back. A restarted node has a new id.
		c.mu.Unlock()
		c.srv.metrics.clusterErrors.WithLabelValues("duplicate").Inc()
		return
	}
	gap := false
	if p == nil {
		p = &peer{users: map[string]map[string]user{}}
		c.peers[from] = p
		gap = seq != 1
	} else {
		gap = seq != p.seq+1
	}
	p.seq, p.heard = seq, time.Now()
	c.mu.Unlock()
	if gap {
		// Something was lost: who is where, and what was stored.
		c.srv.metrics.clusterGaps.Inc()
		c.tell(record(recWant, "", []byte(from)))
		c.catchUpAll()
	}
	for rest := batch[nl+1:]; len(rest) > 0; {
		typ, board, payload, next, err := nextRecord(rest)
		if err != nil {
			c.srv.metrics.clusterErrors.WithLabelValues("malformed").Inc()
			return
		}
		rest = next
		c.handle(p, from, typ, board, payload)
	}
}

func nextRecord(b []byte) (typ byte, board string, payload, rest []byte, err error) {
	sp := bytes.IndexByte(b, ' ')
	if sp < 1 {
		return 0, "", nil, nil, errors.New("no board")
	}
	typ, board = b[0], string(b[1:sp])
	b = b[sp+1:]
	sp = bytes.IndexByte(b, ' ')
	n, perr := strconv.Atoi(string(b[:max(sp, 0)]))
	if sp < 0 || perr != nil || n < 0 || n > len(b)-sp-1 {
		return 0, "", nil, nil, errors.New("bad length")
	}
	b = b[sp+1:]
	return typ, board, b[:n], b[n:], nil
}

func (c *cluster) handle(p *peer, from string, typ byte, board string, payload []byte) {
	switch typ {
	case recMove:
		if b := c.srv.boards.get(board); b != nil {
			n := b.broadcast(newFrame(payload), nil, true)
			c.srv.metrics.deliveries.Add(float64(n))
			c.srv.metrics.clusterDeliveries.Add(float64(n))
		}
	case recLeft:
		id := string(payload)
		c.mu.Lock()
		_, had := p.users[board][id]
		delete(p.users[board], id)
		c.mu.Unlock()
		if had {
			c.announceLeft(board, id)
		}
	case recJoined:
		var u user
		if json.Unmarshal(payload, &u) != nil {
			c.srv.metrics.clusterErrors.WithLabelValues("malformed").Inc()
			return
		}
		c.mu.Lock()
		if p.users[board] == nil {
			p.users[board] = map[string]user{}
		}
		p.users[board][u.ID] = u
		c.mu.Unlock()
		if b := c.srv.boards.get(board); b != nil {
			c.srv.metrics.deliveries.Add(float64(b.tellPresence(newFrame(encodeEvent(EventJoined, u)), nil)))
			b.feedPresence(EventJoined, u)
		}
	case recOps:
		if b := c.srv.boards.get(board); b != nil {
			c.srv.history.enqueue(&writeReq{log: b.log, remote: payload})
		}
	case recHeads:
		var heads map[string]int64
		if json.Unmarshal(payload, &heads) != nil {
			return
		}
		for name, head := range heads {
			if b := c.srv.boards.get(name); b != nil && b.log.loaded.Load() && b.log.head.Load() < head {
				c.srv.history.enqueue(&writeReq{log: b.log, catchUp: true})
			}
		}
	case recWant:
		if len(payload) == 0 || string(payload) == c.node {
			c.tell(record(recState, "", c.state()))
		}
	case recState:
		var st map[string][]user
		if json.Unmarshal(payload, &st) != nil {
			c.srv.metrics.clusterErrors.WithLabelValues("malformed").Inc()
			return
		}
		next := map[string]map[string]user{}
		for b, us := range st {
			next[b] = map[string]user{}
			for _, u := range us {
				next[b][u.ID] = u
			}
		}
		c.replaceUsers(p, next)
	}
}

// replaceUsers sets a peer's members and tells this node's clients who came
// and went meanwhile.
func (c *cluster) replaceUsers(p *peer, next map[string]map[string]user) {
	c.mu.Lock()
	prev := p.users
	p.users = next
	if p.users == nil {
		p.users = map[string]map[string]user{}
	}
	c.mu.Unlock()
	for board, us := range prev {
		for id := range us {
			if _, still := next[board][id]; !still {
				c.announceLeft(board, id)
			}
		}
	}
	for board, us := range next {
		b := c.srv.boards.get(board)
		if b == nil {
			continue
		}
		for id, u := range us {
			if _, had := prev[board][id]; !had {
				c.srv.metrics.deliveries.Add(float64(b.tellPresence(newFrame(encodeEvent(EventJoined, u)), nil)))
				b.feedPresence(EventJoined, u)
			}
		}
	}
}

func (c *cluster) announceLeft(board, id string) {
	if b := c.srv.boards.get(board); b != nil {
		n := b.broadcast(newFrame(encodeEvent(EventClientDisconnect, id)), nil, false)
		c.srv.metrics.deliveries.Add(float64(n))
		c.srv.metrics.clusterDeliveries.Add(float64(n))
		b.feedPresence("left", map[string]string{"id": id})
	}
}

// state is this node's members, by board.
func (c *cluster) state() []byte {
	st := map[string][]user{}
	for _, b := range c.srv.boards.all() {
		for _, m := range b.snapshot() {
			if !m.gone.Load() {
				st[b.name] = append(st[b.name], m.user())
			}
		}
	}
	p, _ := json.Marshal(st)
	return p
}

// users lists the other nodes' members of a board.
func (c *cluster) users(board string) []user {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []user
	for _, p := range c.peers {
		for _, u := range p.users[board] {
			out = append(out, u)
		}
	}
	return out
}

// catchUpAll has the writer read what it missed of every open board.
func (c *cluster) catchUpAll() {
	for _, b := range c.srv.boards.all() {
		if b.log.loaded.Load() {
			c.srv.history.enqueue(&writeReq{log: b.log, catchUp: true})
		}
	}
}

// health says what is wrong with the cluster, if anything.
func (c *cluster) health() string {
	if h := c.broker.Health(); h != "" {
		return "cluster: " + h
	}
	return ""
}
