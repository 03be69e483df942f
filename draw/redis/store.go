// Package redis keeps board logs in Redis, so that several server nodes can
// share them: a draw.Store on a go-redis client the caller owns.
//
// # Keys
//
// With prefix P (say "draw:"), board B has
//
//	P log:B    LIST  its ops, oldest first: the op with seq n is at index n-1
//	P board:B  HASH  updated: Unix ms of its last append (the Redis server's
//	                 clock, TIME inside the append script, so that every node
//	                 agrees); epoch: a number new each time the board is
//	                 created (from the counter P epoch), so that a Trim never
//	                 touches a board deleted and created again under it;
//	                 trimmed: every op below this seq has lost its points
//	P boards   ZSET  every stored board's name, score 0, listed by name
//	P epoch    STRING the counter epochs come from
//
// (no space between P and the rest). An entry of the list is the op's time
// (Unix ms) as a signed varint (encoding/binary: 6 bytes for today's times)
// followed by the op's data, the JSON bytes as given. Logs have no gaps and
// lose entries only by Delete, so the head is LLEN and the seq of an entry
// is its index plus one.
//
// Append is one Lua script for the whole batch: it checks every board's LLEN
// against where the batch's ops for it start, and only then pushes them all,
// so that two nodes appending to one board at once never interleave or lose
// a batch: one of them gets draw.ErrConflict and nothing is stored. Redis
// runs a script alone and AOF keeps its writes together, so a batch is
// stored whole or not at all. An Append that fails for a timeout or a broken
// connection may still have been run by Redis: a retry with the same seqs
// then fails with draw.ErrConflict, and reading the board shows the ops.
//
// One Redis server (with replicas if you like), version 5 or newer; not
// Redis Cluster: scripts and listings assume all keys are on one server.
//
// # Persistence
//
// What Redis keeps is up to its configuration. Without AOF or RDB snapshots a
// Redis restart loses every board. With `appendonly yes`, `appendfsync
// always` loses nothing that was acknowledged (each append waits for an
// fsync); the default `appendfsync everysec` may lose up to about one second
// of acknowledged appends if Redis or the machine crashes or loses power (a
// crash of this server's process loses nothing). RDB snapshots alone lose
// everything since the last snapshot.
package redis

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/drawing/draw/draw"
	goredis "github.com/redis/go-redis/v9"
)

// Store is a draw.Store in Redis. Its methods may be called from any
// goroutine; several Stores, in one process or many, may share a database
// and prefix.
type Store struct {
	c      goredis.UniversalClient
	prefix string
}

var _ draw.Store = (*Store)(nil)

// readChunk is how many ops Read fetches with one LRANGE, trimChunk how many
// Trim rewrites with one script.
const (
	readChunk = 1000
	trimChunk = 1000
)

// OpenStore checks that Redis answers and can run the store's scripts, and
// returns a Store keeping its keys under prefix (such as "draw:"). The
// client stays the caller's: Store.Close does not close it. Its timeouts
// (ReadTimeout, WriteTimeout, DialTimeout) bound how long a call may hang
// when Redis does not answer.
func OpenStore(ctx context.Context, client goredis.UniversalClient, prefix string) (*Store, error) {
	if _, ok := client.(*goredis.ClusterClient); ok {
		return nil, errors.New("redis: Redis Cluster is not supported: use one Redis server (with replicas if you like)")
	}
	if err := client.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	for _, sc := range []*goredis.Script{appendScript, trimScript} {
		if err := sc.Load(ctx, client).Err(); err != nil {
			return nil, fmt.Errorf("redis: load script: %w", err)
		}
	}
	return &Store{c: client, prefix: prefix}, nil
}

func (s *Store) logKey(board string) string  { return s.prefix + "log:" + board }
func (s *Store) metaKey(board string) string { return s.prefix + "board:" + board }
func (s *Store) boardsKey() string           { return s.prefix + "boards" }
func (s *Store) epochKey() string            { return s.prefix + "epoch" }

// appendScript stores a batch if every board's log is where its ops start.
//
// KEYS: the log and meta key of each board, then the boards set and the
// epoch counter. ARGV: the number of boards n, then for each board its name,
// its first seq and its op count, then the entries, board after board.
// It returns {0, 0} when stored, {i, LLEN} when board i's log has LLEN
// entries instead of first seq - 1, having stored nothing.
var appendScript = goredis.NewScript(`
local n = tonumber(ARGV[1])
for i = 1, n do
	local len = redis.call('LLEN', KEYS[2*i-1])
	if len + 1 ~= tonumber(ARGV[3*i]) then
		return {i, len}
	end
end
local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
local e = 3*n + 2
for i = 1, n do
	local log, meta = KEYS[2*i-1], KEYS[2*i]
	local last = e + tonumber(ARGV[3*i+1]) - 1
	while e <= last do
		local k = math.min(e + 999, last)
		redis.call('RPUSH', log, unpack(ARGV, e, k))
		e = k + 1
	end
	if ARGV[3*i] == '1' then
		redis.call('DEL', meta)
		redis.call('HSET', meta, 'epoch', redis.call('INCR', KEYS[2*n+2]), 'updated', now)
		redis.call('ZADD', KEYS[2*n+1], 0, ARGV[3*i-1])
	else
		redis.call('HSET', meta, 'updated', now)
	end
end
return {0, 0}
`)

// trimScript rewrites entries Trim stripped, unless the board was deleted
// (and perhaps created again) since Trim read them.
//
// KEYS: log, meta. ARGV: the epoch Trim saw, the seq below which every op is
// now stripped, then pairs of list index and new entry. It returns 0 when
// the board is not the one Trim read, 1 when done.
var trimScript = goredis.NewScript(`
if redis.call('HGET', KEYS[2], 'epoch') ~= ARGV[1] then
	return 0
end
for i = 3, #ARGV, 2 do
	redis.call('LSET', KEYS[1], ARGV[i], ARGV[i+1])
end
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[2], 'trimmed') or 1) then
	redis.call('HSET', KEYS[2], 'trimmed', ARGV[2])
end
return 1
`)

// encode appends an op's list entry to buf.
func encode(buf []byte, time int64, data []byte) []byte {
	return append(binary.AppendVarint(buf, time), data...)
}

// decode reads entry v, the op with that seq.
func decode(board string, seq int64, v string) (draw.Op, error) {
	b := []byte(v)
	t, n := binary.Varint(b)
	if n <= 0 {
		return draw.Op{}, fmt.Errorf("op %d: entry %q is not a time and data", seq, v[:min(len(v), 16)])
	}
	return draw.Op{Board: board, Seq: seq, Time: t, Data: b[n:]}, nil
}

// checkSeq checks an op's number; the script checks a board's first op
// against the stored head.
func checkSeq(op draw.Op, head int64, inBatch bool) error {
	if !inBatch && op.Seq > 0 {
		return nil
	}
	return draw.CheckSeq(op, head, inBatch)
}

// Append stores the batch with one script run (see the package comment).
func (s *Store) Append(ctx context.Context, ops []draw.Op) error {
	if len(ops) == 0 {
		return nil
	}
	type group struct {
		name        string
		first, last int64
		ops         []int // indexes in ops
	}
	var groups []*group
	byName := make(map[string]*group)
	size := 0
	for i, op := range ops {
		g := byName[op.Board]
		var last int64
		if g != nil {
			last = g.last
		}
		if err := checkSeq(op, last, g != nil); err != nil {
			return fmt.Errorf("redis: store %d ops: %w", len(ops), err)
		}
		if g == nil {
			g = &group{name: op.Board, first: op.Seq}
			byName[op.Board] = g
			groups = append(groups, g)
		}
		g.last = op.Seq
		g.ops = append(g.ops, i)
		size += binary.MaxVarintLen64 + len(op.Data)
	}
	keys := make([]string, 0, 2*len(groups)+2)
	args := make([]any, 0, 1+3*len(groups)+len(ops))
	args = append(args, len(groups))
	for _, g := range groups {
		keys = append(keys, s.logKey(g.name), s.metaKey(g.name))
		args = append(args, g.name, g.first, len(g.ops))
	}
	keys = append(keys, s.boardsKey(), s.epochKey())
	buf := make([]byte, 0, size) // never grows: the entries below stay put
	for _, g := range groups {
		for _, i := range g.ops {
			start := len(buf)
			buf = encode(buf, ops[i].Time, ops[i].Data)
			args = append(args, buf[start:len(buf):len(buf)])
		}
	}
	res, err := appendScript.Run(ctx, s.c, keys, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis: store %d ops: %w", len(ops), err)
	}
	if len(res) != 2 || res[0] < 0 || res[0] > int64(len(groups)) {
		return fmt.Errorf("redis: store %d ops: the append script answered %v", len(ops), res)
	}
	if res[0] > 0 {
		g := groups[res[0]-1]
		return fmt.Errorf("redis: store %d ops: board %q has %d ops, the batch goes on from %d: %w", len(ops), g.name, res[1], g.first, draw.ErrConflict)
	}
	return nil
}

// Read fetches readChunk ops per LRANGE.
func (s *Store) Read(ctx context.Context, board string, since int64, fn func(draw.Op) error) error {
	since = max(since, 0)
	key := s.logKey(board)
	for {
		vals, err := s.c.LRange(ctx, key, since, since+readChunk-1).Result()
		if err != nil {
			return fmt.Errorf("redis: read board %q since %d: %w", board, since, err)
		}
		for i, v := range vals {
			op, err := decode(board, since+int64(i)+1, v)
			if err != nil {
				return fmt.Errorf("redis: read board %q: %w", board, err)
			}
			if err := fn(op); err != nil {
				if errors.Is(err, draw.ErrStopRead) {
					return nil
				}
				return err
			}
		}
		if len(vals) < readChunk {
			return ctx.Err()
		}
		since += int64(len(vals))
	}
}

// Trim strips the points of the ops from the board's trimmed mark up to
// before, trimChunk at a time, so that each op is stripped once however
// often Trim is called. Nodes trimming one board at once rewrite the same
// entries with the same bytes.
func (s *Store) Trim(ctx context.Context, board string, before int64) error {
	if err := s.trim(ctx, board, before); err != nil {
		return fmt.Errorf("redis: trim board %q before %d: %w", board, before, err)
	}
	return nil
}

func (s *Store) trim(ctx context.Context, board string, before int64) error {
	meta, err := s.c.HMGet(ctx, s.metaKey(board), "epoch", "trimmed").Result()
	if err != nil {
		return err
	}
	epoch, ok := meta[0].(string)
	if !ok {
		return nil // not stored
	}
	from := int64(1)
	if t, ok := meta[1].(string); ok {
		if from, err = strconv.ParseInt(t, 10, 64); err != nil {
			return fmt.Errorf("bad trimmed mark %q", t)
		}
	}
	keys := []string{s.logKey(board), s.metaKey(board)}
	for from < before {
		to := min(before-1, from+trimChunk-1) // seqs from..to
		vals, err := s.c.LRange(ctx, keys[0], from-1, to-1).Result()
		if err != nil {
			return err
		}
		if len(vals) == 0 {
			return nil
		}
		mark := from + int64(len(vals))
		args := []any{epoch, mark}
		for i, v := range vals {
			op, err := decode(board, from+int64(i), v)
			if err != nil {
				return err
			}
			if stripped := draw.StripPoints(op.Data); !bytes.Equal(stripped, op.Data) {
				args = append(args, op.Seq-1, encode(nil, op.Time, stripped))
			}
		}
		same, err := trimScript.Run(ctx, s.c, keys, args...).Int64()
		if err != nil {
			return err
		}
		if same == 0 || mark <= to {
			return nil // deleted since, or the end of the log
		}
		from = mark
	}
	return nil
}

// Boards lists boards by name with ZRANGEBYLEX; with after "" it starts at
// "-", so that the default board "" comes first.
func (s *Store) Boards(ctx context.Context, after string, limit int) ([]draw.BoardInfo, error) {
	out, err := s.boards(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("redis: list boards after %q: %w", after, err)
	}
	return out, nil
}

func (s *Store) boards(ctx context.Context, after string, limit int) ([]draw.BoardInfo, error) {
	from := "-"
	if after != "" {
		from = "(" + after
	}
	var out []draw.BoardInfo
	for {
		want := 0
		if limit > 0 {
			want = limit - len(out)
		}
		names, err := s.c.ZRangeByLex(ctx, s.boardsKey(), &goredis.ZRangeBy{Min: from, Max: "+", Count: int64(want)}).Result()
		if err != nil {
			return nil, err
		}
		infos, err := s.infos(ctx, names)
		if err != nil {
			return nil, err
		}
		for i, b := range infos {
			if b.Head > 0 { // else deleted since it was listed
				b.Name = names[i]
				out = append(out, b)
			}
		}
		if want == 0 || len(names) < want || len(out) == limit {
			return out, nil
		}
		from = "(" + names[len(names)-1]
	}
}

// infos reads the heads and update times of boards with one round trip; a
// board that is not stored has head 0.
func (s *Store) infos(ctx context.Context, names []string) ([]draw.BoardInfo, error) {
	if len(names) == 0 {
		return nil, nil
	}
	lens := make([]*goredis.IntCmd, len(names))
	updated := make([]*goredis.StringCmd, len(names))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, name := range names {
			lens[i] = p.LLen(ctx, s.logKey(name))
			updated[i] = p.HGet(ctx, s.metaKey(name), "updated")
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, err
	}
	out := make([]draw.BoardInfo, len(names))
	for i := range names {
		out[i].Head = lens[i].Val()
		if ms, err := updated[i].Int64(); err == nil {
			out[i].Updated = time.UnixMilli(ms)
		}
	}
	return out, nil
}

// Info reads the board's head (LLEN) and update time.
func (s *Store) Info(ctx context.Context, board string) (draw.BoardInfo, bool, error) {
	infos, err := s.infos(ctx, []string{board})
	if err != nil {
		return draw.BoardInfo{}, false, fmt.Errorf("redis: board %q: %w", board, err)
	}
	b := infos[0]
	if b.Head == 0 {
		return draw.BoardInfo{}, false, nil
	}
	b.Name = board
	return b, true, nil
}

// Delete removes the board's keys and name in one transaction.
func (s *Store) Delete(ctx context.Context, board string) error {
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, s.logKey(board), s.metaKey(board))
		p.ZRem(ctx, s.boardsKey(), board)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: delete board %q: %w", board, err)
	}
	return nil
}

// Close does nothing: the client belongs to the caller.
func (s *Store) Close() error { return nil }
