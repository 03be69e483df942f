package draw

import (
	"sync"
	"testing"
)

// live lists b's members that have not left, in list order.
func live(b *board) []*client {
	var out []*client
	for _, m := range b.snapshot() {
		if !m.gone.Load() {
			out = append(out, m)
		}
	}
	return out
}

// leaveBoard does what client.leave does to the board.
func leaveBoard(bs *boards, b *board, c *client) {
	c.gone.Store(true)
	bs.leave(b, c)
}

func TestBoardJoinsAndLeavesKeepExactlyTheMembers(t *testing.T) {
	bs := newBoards(10)
	var cs []*client
	var b *board
	for range 1000 {
		c := &client{}
		got, err := bs.join("x", c)
		if err != nil {
			t.Fatal(err)
		}
		if b != nil && got != b {
			t.Fatal("a join opened a second board of the same name")
		}
		b, cs = got, append(cs, c)
	}
	for i := 0; i < len(cs); i += 2 {
		leaveBoard(bs, b, cs[i])
	}
	if got := live(b); len(got) != 500 || got[0] != cs[1] || got[499] != cs[999] {
		t.Fatalf("after half left: %d members, want the 500 odd ones", len(got))
	}
	for i := 1; i < 900; i += 2 {
		leaveBoard(bs, b, cs[i])
	}
	if got := live(b); len(got) != 50 {
		t.Fatalf("after 950 left: %d members, want 50", len(got))
	}
	if n := len(b.snapshot()); n > 2*50+1 {
		t.Fatalf("the list holds %d entries for 50 members: it was never rebuilt", n)
	}
	if bs.count() != 1 {
		t.Fatal("the board was forgotten while it had members")
	}
	for i := 901; i < 1000; i += 2 {
		leaveBoard(bs, b, cs[i])
	}
	if bs.count() != 0 {
		t.Fatal("an empty board is still registered")
	}
	c := &client{}
	again, _ := bs.join("x", c)
	if again == b || len(again.snapshot()) != 1 {
		t.Fatal("joining an emptied board's name should open a fresh board")
	}
}

// A member marks itself gone before it takes the board's lock; a rebuild in
// between must keep it listed, or its own leave is counted twice and the
// board is forgotten while someone is still on it.
func TestBoardRebuildKeepsMembersStillLeaving(t *testing.T) {
	bs := newBoards(10)
	a, b1, c := &client{}, &client{}, &client{}
	b, _ := bs.join("x", a)
	bs.join("x", b1)
	bs.join("x", c)
	a.gone.Store(true) // a is on its way out, not yet counted
	leaveBoard(bs, b, b1)
	leaveBoard(bs, b, c) // two of three gone: rebuild
	bs.leave(b, a)
	if bs.count() != 0 {
		t.Fatal("the board outlived its last member")
	}
	d := &client{}
	b, _ = bs.join("y", d)
	e := &client{}
	bs.join("y", e)
	e.gone.Store(true)
	leaveBoard(bs, b, d) // d counted, e still leaving: one gone, one live
	if bs.count() != 1 {
		t.Fatal("the board was forgotten while a member was still leaving")
	}
	bs.leave(b, e)
	if bs.count() != 0 {
		t.Fatal("the board outlived its last member")
	}
}

// Readers walk the list while members come and go (run with -race).
func TestBoardReadersDuringJoinsAndLeaves(t *testing.T) {
	bs := newBoards(10)
	first := &client{}
	b, _ := bs.join("x", first)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				seen := map[*client]bool{}
				for _, m := range live(b) {
					if seen[m] {
						t.Error("a member is listed twice")
						return
					}
					seen[m] = true
				}
			}
		}()
	}
	var mine []*client
	for i := range 5000 {
		c := &client{}
		bs.join("x", c)
		mine = append(mine, c)
		if i%3 == 2 {
			leaveBoard(bs, b, mine[0])
			mine = mine[1:]
		}
	}
	close(stop)
	wg.Wait()
	if got := len(live(b)); got != len(mine)+1 {
		t.Fatalf("%d members listed, want %d", got, len(mine)+1)
	}
}
