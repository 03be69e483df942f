package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/storetest"
	"github.com/drawing/draw/internal/testredis"
	goredis "github.com/redis/go-redis/v9"
)

var storeCtx = context.Background()

// storeClient connects to srv; extra options (timeouts) come from opt.
func storeClient(t testing.TB, srv *testredis.Server, opt *goredis.Options) *goredis.Client {
	t.Helper()
	if opt == nil {
		opt = &goredis.Options{}
	}
	opt.Addr = srv.Addr()
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func openStore(t testing.TB, c goredis.UniversalClient, prefix string) *Store {
	t.Helper()
	s, err := OpenStore(storeCtx, c, prefix)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	srv := testredis.Start(t)
	c := storeClient(t, srv, nil)
	n := 0
	storetest.Run(t, func(t *testing.T) draw.Store {
		n++ // each subtest under its own prefix
		return openStore(t, c, fmt.Sprintf("test%d:", n))
	})
}

// TestStoreShared: two stores with their own connections on one database,
// as two nodes have.
func TestStoreShared(t *testing.T) {
	srv := testredis.Start(t)
	n := 0
	storetest.RunShared(t, func(t *testing.T) (draw.Store, draw.Store) {
		n++
		prefix := fmt.Sprintf("shared%d:", n)
		return openStore(t, storeClient(t, srv, nil), prefix), openStore(t, storeClient(t, srv, nil), prefix)
	})
}

// TestKeys checks the key layout the package comment promises, and that a
// store under another prefix sees none of it.
func TestKeys(t *testing.T) {
	srv := testredis.Start(t)
	c := storeClient(t, srv, nil)
	s := openStore(t, c, "draw:")
	if err := s.Append(storeCtx, []draw.Op{{Board: "", Seq: 1, Time: 1_700_000_000_123, Data: []byte(`{"type":"clear"}`)}, {Board: "b", Seq: 1, Time: 5, Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(storeCtx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"draw:log:": "list", "draw:log:b": "list", "draw:board:": "hash", "draw:board:b": "hash", "draw:boards": "zset", "draw:epoch": "string"}
	if len(keys) != len(want) {
		t.Errorf("keys %q, want %d", keys, len(want))
	}
	for k, typ := range want {
		if got := c.Type(storeCtx, k).Val(); got != typ {
			t.Errorf("key %q is a %q, want a %s", k, got, typ)
		}
	}
	entry := c.LIndex(storeCtx, "draw:log:", 0).Val()
	if op, err := decode("", 1, entry); err != nil || op.Time != 1_700_000_000_123 || string(op.Data) != `{"type":"clear"}` || len(entry) != 6+len(op.Data) {
		t.Errorf("entry %q decodes to %+v, %v", entry, op, err)
	}
	if boards, err := openStore(t, c, "other:").Boards(storeCtx, "", 0); err != nil || len(boards) != 0 {
		t.Errorf("another prefix lists %+v, %v", boards, err)
	}
	if _, err := OpenStore(storeCtx, goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{srv.Addr()}}), "x:"); err == nil {
		t.Error("OpenStore accepted a cluster client")
	}
}

// TestTrimAfterDeleteAndCreate: a Trim that read a board before it was
// deleted and created again does not strip the new board's ops.
func TestTrimAfterDeleteAndCreate(t *testing.T) {
	srv := testredis.Start(t)
	s := openStore(t, storeClient(t, srv, nil), "d:")
	piece := func(seq int64) draw.Op {
		return draw.Op{Board: "x", Seq: seq, Time: seq, Data: fmt.Appendf(nil, `{"type":"stroke","stroke":"s%d","i":0,"points":[1,2]}`, seq)}
	}
	if err := s.Append(storeCtx, []draw.Op{piece(1), piece(2)}); err != nil {
		t.Fatal(err)
	}
	oldEpoch := s.c.HGet(storeCtx, s.metaKey("x"), "epoch").Val()
	if err := s.Delete(storeCtx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(storeCtx, []draw.Op{piece(1), piece(2)}); err != nil {
		t.Fatal(err)
	}
	// What a Trim that read the old board would now run.
	stripped := encode(nil, 1, draw.StripPoints(piece(1).Data))
	done, err := trimScript.Run(storeCtx, s.c, []string{s.logKey("x"), s.metaKey("x")}, oldEpoch, 2, 0, stripped).Int64()
	if err != nil || done != 0 {
		t.Fatalf("trim script with the old epoch: %v, %v; want 0", done, err)
	}
	var n int
	s.Read(storeCtx, "x", 0, func(op draw.Op) error {
		if string(op.Data) != string(piece(op.Seq).Data) {
			t.Errorf("op %d = %s: a stale trim changed the new board", op.Seq, op.Data)
		}
		n++
		return nil
	})
	if n != 2 {
		t.Fatalf("read %d ops, want 2", n)
	}
	// A Delete during a Trim leaves nothing behind.
	if err := s.Delete(storeCtx, "x"); err != nil {
		t.Fatal(err)
	}
	trimScript.Run(storeCtx, s.c, []string{s.logKey("x"), s.metaKey("x")}, oldEpoch, 2)
	if n := s.c.Exists(storeCtx, s.logKey("x"), s.metaKey("x")).Val(); n != 0 {
		t.Fatalf("a trim after Delete left %d keys", n)
	}
}

// storeOp is op seq of board, recognisable when read back.
func storeOp(board string, seq int64) draw.Op {
	return draw.Op{Board: board, Seq: seq, Time: 1_700_000_000_000 + seq, Data: fmt.Appendf(nil, `{"type":"stroke","stroke":"%s-%d","i":0,"points":[%d,2]}`, board, seq, seq)}
}

// checkStoreLog reads board through s: seqs 1..n with the data storeOp gives, at
// least min of them and a whole number of batches of per.
func checkStoreLog(t *testing.T, s *Store, board string, atLeast, per int64) int64 {
	t.Helper()
	var n int64
	err := s.Read(storeCtx, board, 0, func(op draw.Op) error {
		n++
		want := storeOp(board, n)
		if op.Seq != n || op.Time != want.Time || string(op.Data) != string(want.Data) {
			return fmt.Errorf("op %d is {%d %d %s}, want {%d %d %s}", n, op.Seq, op.Time, op.Data, want.Seq, want.Time, want.Data)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", board, err)
	}
	if n < atLeast || n%per != 0 {
		t.Fatalf("board %s has %d ops; want at least the %d acknowledged, in whole batches of %d", board, n, atLeast, per)
	}
	if info, ok, err := s.Info(storeCtx, board); n > 0 && (!ok || err != nil || info.Head != n) {
		t.Fatalf("Info(%s) = %+v, %v, %v; want head %d", board, info, ok, err, n)
	}
	return n
}

// TestAOFKill: with appendonly yes and appendfsync always, every append
// Redis acknowledged is there after a SIGKILL and a restart, and every
// batch is there whole or not at all.
func TestAOFKill(t *testing.T) {
	srv := testredis.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	c := storeClient(t, srv, &goredis.Options{MaxRetries: -1, DialTimeout: 250 * time.Millisecond, ReadTimeout: 250 * time.Millisecond, WriteTimeout: 250 * time.Millisecond})
	s := openStore(t, c, "aof:")
	const per = 16 // ops per board per batch
	boards := []string{"a", "b", "c"}
	var acked [3]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 { // two writers: board a alone, boards b and c together
		wg.Go(func() {
			mine := boards[:1]
			if w == 1 {
				mine = boards[1:]
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				var batch []draw.Op
				for i, b := range mine {
					head := acked[w+i].Load()
					for k := range int64(per) {
						batch = append(batch, storeOp(b, head+k+1))
					}
				}
				if err := s.Append(storeCtx, batch); err != nil {
					return // Redis is gone; whether this one was stored is unknown
				}
				for i := range mine {
					acked[w+i].Add(per)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	srv.Kill()
	wg.Wait()
	close(stop)
	srv.Restart()
	total := int64(0)
	for i, b := range boards {
		total += checkStoreLog(t, s, b, acked[i].Load(), per)
	}
	t.Logf("acknowledged %d, %d, %d ops; %d stored after SIGKILL and restart", acked[0].Load(), acked[1].Load(), acked[2].Load(), total)
	if total == 0 {
		t.Fatal("nothing was appended before the kill")
	}
	// The store goes on: the scripts are loaded again (EVALSHA falls back).
	head := checkStoreLog(t, s, "a", 0, per)
	if err := s.Append(storeCtx, []draw.Op{storeOp("a", head+1)}); err != nil {
		t.Fatalf("Append after restart: %v", err)
	}
}

// TestUnavailable: while Redis is paused or down, Append fails within a
// bounded time (the client's timeouts), and the batch is stored whole or not
// at all; a retry with the same seqs never stores it twice.
func TestUnavailable(t *testing.T) {
	srv := testredis.Start(t)
	c := storeClient(t, srv, &goredis.Options{MaxRetries: -1, DialTimeout: 250 * time.Millisecond, ReadTimeout: 250 * time.Millisecond, WriteTimeout: 250 * time.Millisecond})
	s := openStore(t, c, "down:")
	batch := func(from int64) []draw.Op {
		var ops []draw.Op
		for k := range int64(100) {
			ops = append(ops, storeOp("p", from+k), storeOp("q", from+k))
		}
		return ops
	}
	if err := s.Append(storeCtx, batch(1)); err != nil {
		t.Fatal(err)
	}
	for _, down := range []struct {
		name        string
		stop, start func()
		lost        bool // the server forgets everything (no persistence)
	}{
		{"paused", srv.Pause, srv.Resume, false},
		{"killed", srv.Kill, srv.Restart, true},
	} {
		head := checkStoreLog(t, s, "p", 0, 100)
		down.stop()
		start := time.Now()
		err := s.Append(storeCtx, batch(head+1))
		took := time.Since(start)
		if err == nil {
			t.Fatalf("%s: Append succeeded", down.name)
		}
		if took > 2*time.Second {
			t.Errorf("%s: Append took %v to fail", down.name, took)
		}
		t.Logf("%s: Append failed after %v: %v", down.name, took.Round(time.Millisecond), err)
		for _, op := range []func() error{
			func() error { _, _, err := s.Info(storeCtx, "p"); return err },
			func() error { return s.Read(storeCtx, "p", 0, func(draw.Op) error { return nil }) },
		} {
			if err := op(); err == nil {
				t.Errorf("%s: a read succeeded", down.name)
			}
		}
		down.start()
		if down.lost {
			head = 0
		}
		// The failed batch is either all there (sent before the pause and
		// run after it) or not at all.
		p, q := checkStoreLog(t, s, "p", head, 100), checkStoreLog(t, s, "q", head, 100)
		if p != q || (p != head && p != head+100) {
			t.Fatalf("%s: after the failed Append, p has %d ops and q %d; want both %d or %d", down.name, p, q, head, head+100)
		}
		t.Logf("%s: the failed batch was stored: %v", down.name, p == head+100)
		err = s.Append(storeCtx, batch(head+1))
		if stored := p == head+100; stored != errors.Is(err, draw.ErrConflict) || (!stored && err != nil) {
			t.Fatalf("%s: retrying the batch (stored before: %v): %v", down.name, stored, err)
		}
		checkStoreLog(t, s, "p", head+100, 100)
		if n := checkStoreLog(t, s, "q", head+100, 100); n != head+100 {
			t.Fatalf("%s: q has %d ops after the retry, want %d", down.name, n, head+100)
		}
	}
}

// BenchmarkAppend256 appends batches of 256 small ops to one board, without
// persistence and with AOF (fsync every second, or on every write).
func BenchmarkAppend256(b *testing.B) {
	for _, p := range []struct {
		name string
		args []string
	}{
		{"NoPersistence", nil},
		{"AOFEverysec", []string{"--appendonly", "yes", "--appendfsync", "everysec"}},
		{"AOFAlways", []string{"--appendonly", "yes", "--appendfsync", "always"}},
	} {
		b.Run(p.name, func(b *testing.B) {
			srv := testredis.Start(b, p.args...)
			s := openStore(b, storeClient(b, srv, nil), "bench:")
			batch := make([]draw.Op, 256)
			for i := range batch {
				batch[i] = storeOp("bench", int64(i+1))
				batch[i].Data = fmt.Appendf(nil, `{"type":"stroke","stroke":"s%d","i":%d,"author":"","color":"#000000","width":2,"points":[100,200,103,198]}`, i/50, i%50)
			}
			for b.Loop() {
				if err := s.Append(storeCtx, batch); err != nil {
					b.Fatal(err)
				}
				for i := range batch {
					batch[i].Seq += int64(len(batch))
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

func BenchmarkRead50k(b *testing.B) {
	srv := testredis.Start(b)
	s := openStore(b, storeClient(b, srv, nil), "bench:")
	for i := range int64(50) {
		var batch []draw.Op
		for k := range int64(1000) {
			op := storeOp("bench", i*1000+k+1)
			op.Data = append(op.Data[:len(op.Data)-1], strconv.AppendInt([]byte(`,"pad":"`), k, 10)...)
			op.Data = append(op.Data, `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`...)
			batch = append(batch, op)
		}
		if err := s.Append(storeCtx, batch); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		n := 0
		if err := s.Read(storeCtx, "bench", 0, func(draw.Op) error { n++; return nil }); err != nil || n != 50_000 {
			b.Fatalf("read %d ops: %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*50_000)/b.Elapsed().Seconds(), "ops/s")
}
