package main

// Boards that remember (docs/PROTOCOL.md): sync/synced, draw and its ops
// acknowledgement, undo/redo/clear, rejected, history.ndjson and board.svg.
// The scripts in e2e/memory/ drive the official socket.io clients against
// the real server on 127.0.0.1 and print what they saw; the assertions are
// here. Pictures are rebuilt here from the ops with the protocol's
// visibility rule, independently of the scripts' own model.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawing/draw/draw"
)

// memOp is an op as clients see it.
type memOp struct {
	Seq    int64     `json:"seq"`
	Time   int64     `json:"time"`
	Type   string    `json:"type"`
	Stroke string    `json:"stroke"`
	I      *int      `json:"i,omitempty"`
	Author string    `json:"author"`
	Color  string    `json:"color,omitempty"`
	Width  float64   `json:"width,omitempty"`
	Points []float64 `json:"points,omitempty"`
	Name   string    `json:"name,omitempty"`
}

func (o memOp) i() int {
	if o.I == nil {
		return -1
	}
	return *o.I
}

func (o memOp) key() string { return o.Stroke + "/" + strconv.Itoa(o.i()) }

func (o memOp) String() string { b, _ := json.Marshal(o); return string(b) }

// memPiece is one visible piece of a picture.
type memPiece struct {
	Seq    int64     `json:"seq"`
	Stroke string    `json:"stroke"`
	I      int       `json:"i"`
	Author string    `json:"author"`
	Color  string    `json:"color"`
	Width  float64   `json:"width"`
	Points []float64 `json:"points"`
}

// memShape is what board.svg draws for a piece.
type memShape struct {
	Kind   string    `json:"kind"`
	Points []float64 `json:"points"`
	Color  string    `json:"color"`
	Width  float64   `json:"width"`
}

type memSynced struct {
	Author   string `json:"author"`
	Head     int64  `json:"head"`
	Saving   bool   `json:"saving"`
	Segments int64  `json:"segments"`
	Limit    int64  `json:"limit"`
}

type memRejected struct {
	Event   string `json:"event"`
	Reason  string `json:"reason"`
	Dropped int    `json:"dropped"`
}

type memHistory struct {
	Status          int     `json:"status"`
	Ops             []memOp `json:"ops"`
	Bad             int     `json:"bad"`
	Body            string  `json:"body"`
	EndsWithNewline bool    `json:"endsWithNewline"`
	ContentEncoding *string `json:"contentEncoding"`
	ContentType     *string `json:"contentType"`
	Head            *string `json:"head"`
}

// memPicture applies the visibility rule: a piece is visible when its
// stroke is not undone and no clear that is not undone has a larger seq.
func memPicture(ops []memOp) []memPiece {
	sorted := slices.Clone(ops)
	sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].Seq < sorted[b].Seq })
	undone := map[string]bool{}
	for _, o := range sorted {
		switch o.Type {
		case "undo":
			undone[o.Stroke] = true
		case "redo":
			undone[o.Stroke] = false
		}
	}
	var newestClear int64
	for _, o := range sorted {
		if o.Type == "clear" && !undone[o.Stroke] {
			newestClear = max(newestClear, o.Seq)
		}
	}
	pic := []memPiece{}
	for _, o := range sorted {
		if o.Type == "stroke" && !undone[o.Stroke] && o.Seq > newestClear {
			pic = append(pic, memPiece{Seq: o.Seq, Stroke: o.Stroke, I: o.i(), Author: o.Author, Color: o.Color, Width: o.Width, Points: o.Points})
		}
	}
	return pic
}

// memShapes is how board.svg draws a picture: a dot as a circle.
func memShapes(pic []memPiece) []memShape {
	out := []memShape{}
	for _, p := range pic {
		dot := true
		for k := 2; k+1 < len(p.Points); k += 2 {
			if p.Points[k] != p.Points[0] || p.Points[k+1] != p.Points[1] {
				dot = false
			}
		}
		if dot {
			out = append(out, memShape{Kind: "circle", Points: p.Points[:2], Color: p.Color, Width: p.Width})
		} else {
			out = append(out, memShape{Kind: "polyline", Points: p.Points, Color: p.Color, Width: p.Width})
		}
	}
	return out
}

// memSegments is what a piece counts against the board's cap.
func memSegments(o memOp) int64 { return int64(max(1, len(o.Points)/2-1)) }

// memAuthor is the public author id of a secret.
func memAuthor(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(h[:])[:16]
}

// memRun runs a script of e2e/memory and decodes its JSON answer.
func memRun(t *testing.T, timeout time.Duration, v any, script string, args ...string) {
	t.Helper()
	decodeLastLine(t, runNode(t, timeout, "e2e/memory/"+script, args...), v)
}

// memBoard is a fresh board name for this test.
func memBoard(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e9)
}

// memContiguous says whether seqs run from..to without gaps.
func memContiguous(seqs []int64, from int64) error {
	for k, s := range seqs {
		if s != from+int64(k) {
			return fmt.Errorf("seq %d at position %d, want %d (seqs %v)", s, k, from+int64(k), memShort(seqs))
		}
	}
	return nil
}

func memSeqs(ops []memOp) []int64 {
	out := make([]int64, len(ops))
	for k, o := range ops {
		out[k] = o.Seq
	}
	return out
}

func memShort[T any](v []T) string {
	if len(v) > 40 {
		return fmt.Sprintf("%v … (%d in all) … %v", v[:20], len(v), v[len(v)-10:])
	}
	return fmt.Sprint(v)
}

func memJSON(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 3000 {
		return string(b[:3000]) + "…"
	}
	return string(b)
}

func memSame(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func memStrokes(pic []memPiece) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pic {
		if !seen[p.Stroke] {
			seen[p.Stroke] = true
			out = append(out, p.Stroke)
		}
	}
	sort.Strings(out)
	return out
}

// memRejectedWith checks a rejected notice: the event and words of the reason.
func memRejectedWith(t *testing.T, what string, r *memRejected, event string, words ...string) {
	t.Helper()
	if r == nil {
		t.Errorf("%s: no rejected notice", what)
		return
	}
	if r.Event != event {
		t.Errorf("%s: rejected names event %q, want %q (reason %q)", what, r.Event, event, r.Reason)
	}
	for _, w := range words {
		if !strings.Contains(strings.ToLower(r.Reason), strings.ToLower(w)) {
			t.Errorf("%s: rejected reason %q does not mention %q", what, r.Reason, w)
		}
	}
}

// ---------------------------------------------------------------------------
// 1. Late join

type memLateJoin struct {
	Mode      string            `json:"mode"`
	Board     string            `json:"board"`
	Transport string            `json:"transport"`
	SyncedA   memSynced         `json:"syncedA"`
	SyncedB   memSynced         `json:"syncedB"`
	Sent      []memOp           `json:"sent"`
	AllAcked  bool              `json:"allAcked"`
	Actions   map[string]bool   `json:"actions"`
	AFrames   [][]*int64        `json:"aFrames"`
	AOps      []memOp           `json:"aOps"`
	APicture  []memPiece        `json:"aPicture"`
	ARejected []memRejected     `json:"aRejected"`
	AAcked    map[string]int64  `json:"aAcked"`
	HistGzip  memHistoryPicture `json:"histGzip"`
	HistPlain memHistoryPicture `json:"histPlain"`
	HistSince memHistory        `json:"histSince"`
	SVG       memSVG            `json:"svg"`
	AShapes   []memShape        `json:"aShapes"`
	Live      memLateJoinLive   `json:"live"`
}

type memHistoryPicture struct {
	memHistory
	Picture []memPiece `json:"picture"`
}

type memSVG struct {
	Status      int        `json:"status"`
	ContentType string     `json:"contentType"`
	Shapes      []memShape `json:"shapes"`
	Text        string     `json:"text"`
}

type memLateJoinLive struct {
	Acked   bool       `json:"acked"`
	AtB     *memOp     `json:"atB"`
	BHave   int64      `json:"bHave"`
	BFrames [][]*int64 `json:"bFrames"`
}

func TestMemoryLateJoin(t *testing.T) {
	srv := startServer(t, testConfig(t))
	for _, tc := range []struct{ mode, board string }{
		{"websocket", memBoard("late")}, // under /b/<name>/
		{"polling", ""},                 // the default board, under /
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			var r memLateJoin
			args := []string{srv.URL, tc.mode}
			if tc.board != "" {
				args = append(args, tc.board)
			}
			memRun(t, 60*time.Second, &r, "latejoin.js", args...)
			if r.Transport != tc.mode {
				t.Errorf("A ended on transport %q, want %q", r.Transport, tc.mode)
			}
			if !r.AllAcked {
				t.Fatalf("A's pieces were not all acknowledged: acked %v, sent %d", r.AAcked, len(r.Sent))
			}
			for a, ok := range r.Actions {
				if !ok {
					t.Errorf("A's %s was not echoed as an op", a)
				}
			}
			if len(r.ARejected) > 0 {
				t.Errorf("A was told rejected: %v", r.ARejected)
			}
			if r.SyncedA.Head != 0 || r.SyncedA.Segments != 0 || !r.SyncedA.Saving || len(r.SyncedA.Author) != 16 {
				t.Errorf("synced on a fresh board = %+v, want head 0, segments 0, saving, a 16-character author", r.SyncedA)
			}

			// A's own log: 1..N, no gaps, and its ops frames in seq order.
			n := int64(len(r.AOps))
			if err := memContiguous(memSeqs(r.AOps), 1); err != nil {
				t.Errorf("A's ops: %v", err)
			}
			wantN := int64(len(r.Sent) + 3) // pieces, undo, redo, undo
			if n != wantN {
				t.Errorf("A holds %d ops, want %d (%d pieces, 3 actions)", n, wantN, len(r.Sent))
			}
			var frameSeqs []int64
			for _, f := range r.AFrames {
				for _, s := range f {
					if s == nil {
						t.Errorf("A got an op without seq (unsaved) from the in-memory store: %v", r.AFrames)
						continue
					}
					frameSeqs = append(frameSeqs, *s)
				}
			}
			if err := memContiguous(frameSeqs, 1); err != nil {
				t.Errorf("A's ops frames, in arrival order: %v", err)
			}

			// Every piece is stored once, as sent, with A's author.
			stored := map[string][]memOp{}
			for _, o := range r.AOps {
				if o.Type == "stroke" {
					stored[o.key()] = append(stored[o.key()], o)
				}
			}
			for _, p := range r.Sent {
				got := stored[p.key()]
				if len(got) != 1 {
					t.Errorf("piece %s stored %d times, want once", p.key(), len(got))
					continue
				}
				o := got[0]
				if o.Author != r.SyncedA.Author || o.Color != p.Color || o.Width != p.Width || !slices.Equal(o.Points, p.Points) {
					t.Errorf("piece %s stored as %v, sent %v by author %s", p.key(), o, p, r.SyncedA.Author)
				}
			}

			// B, the late joiner.
			if r.SyncedB.Head != n {
				t.Errorf("B's synced.head = %d, want %d", r.SyncedB.Head, n)
			}
			var segs int64
			for _, o := range r.AOps {
				if o.Type == "stroke" {
					segs += memSegments(o)
				}
			}
			if r.SyncedB.Segments != segs || r.SyncedB.Limit != 200000 {
				t.Errorf("B's synced segments/limit = %d/%d, want %d/200000", r.SyncedB.Segments, r.SyncedB.Limit, segs)
			}
			for name, h := range map[string]memHistoryPicture{"gzip": r.HistGzip, "identity": r.HistPlain} {
				if h.Status != 200 || h.Bad != 0 || !h.EndsWithNewline {
					t.Errorf("history.ndjson (%s): status %d, %d bad lines, ends with newline %v", name, h.Status, h.Bad, h.EndsWithNewline)
				}
				if got := memDerefOr(h.ContentType, ""); !strings.HasPrefix(got, "application/x-ndjson") {
					t.Errorf("history.ndjson (%s): Content-Type %q", name, got)
				}
				if !memSame(h.Ops, r.AOps) {
					t.Errorf("history.ndjson (%s) differs from the ops A received:\nhistory %s\nA       %s", name, memJSON(h.Ops), memJSON(r.AOps))
				}
			}
			if got := memDerefOr(r.HistGzip.ContentEncoding, ""); got != "gzip" {
				t.Errorf("history.ndjson with Accept-Encoding gzip: Content-Encoding %q, want gzip", got)
			}
			if got := memDerefOr(r.HistPlain.ContentEncoding, ""); got != "" {
				t.Errorf("history.ndjson with Accept-Encoding identity: Content-Encoding %q, want none", got)
			}
			if r.HistSince.Status != 200 || !memSame(r.HistSince.Ops, r.AOps[3:]) {
				t.Errorf("history.ndjson?since=3 = %d %s, want A's ops after seq 3", r.HistSince.Status, memJSON(r.HistSince.Ops))
			}

			// One picture for everyone: A's ops, B's history, board.svg.
			picA := memPicture(r.AOps)
			picB := memPicture(r.HistGzip.Ops)
			if !memSame(picA, picB) || !memSame(picA, r.APicture) || !memSame(picB, r.HistGzip.Picture) {
				t.Errorf("pictures differ:\nA (Go)  %s\nB (Go)  %s\nA (js)  %s", memJSON(picA), memJSON(picB), memJSON(r.APicture))
			}
			if got, want := memStrokes(picA), []string{"strokeAAA1", "strokeAAA3", "strokeAAA4"}; !slices.Equal(got, want) {
				t.Errorf("visible strokes %v, want %v (stroke 1 undone then redone, stroke 2 undone)", got, want)
			}
			if r.SVG.Status != 200 || r.SVG.ContentType != "image/svg+xml" {
				t.Errorf("board.svg: status %d, Content-Type %q", r.SVG.Status, r.SVG.ContentType)
			}
			if want := memShapes(picB); !memSame(r.SVG.Shapes, want) {
				t.Errorf("board.svg shapes differ from the picture:\nsvg  %s\nwant %s", memJSON(r.SVG.Shapes), memJSON(want))
			}
			circles := 0
			for _, s := range r.SVG.Shapes {
				if s.Kind == "circle" {
					circles++
				}
			}
			if circles != 1 {
				t.Errorf("board.svg has %d circles, want 1 (the dot of strokeAAA4)", circles)
			}

			// B goes on live.
			if !r.Live.Acked || r.Live.AtB == nil || r.Live.AtB.Seq != n+1 || r.Live.BHave != n+1 {
				t.Errorf("after the late join, A's next piece: acked %v, at B %v, B's have %d; want seq %d at B", r.Live.Acked, r.Live.AtB, r.Live.BHave, n+1)
			}

			t.Run("X-Board-Head", func(t *testing.T) {
				// docs/PROTOCOL.md: "Header X-Board-Head says the head at the start."
				for name, h := range map[string]memHistoryPicture{"gzip": r.HistGzip, "identity": r.HistPlain} {
					if h.Head == nil || *h.Head != strconv.FormatInt(n, 10) {
						t.Errorf("history.ndjson (%s): X-Board-Head = %v, want %d", name, memDerefOr(h.Head, "<missing>"), n)
					}
				}
			})
		})
	}
}

func memDerefOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

// ---------------------------------------------------------------------------
// 2. Reload: the same secret is the same author

type memAttempt struct {
	Author   string       `json:"author"`
	Rejected *memRejected `json:"rejected"`
}

type memOpsPicture struct {
	Ops     []memOp    `json:"ops"`
	Picture []memPiece `json:"picture"`
}

func TestMemoryReload(t *testing.T) {
	srv := startServer(t, testConfig(t))
	board := memBoard("reload")
	var r struct {
		X           string `json:"X"`
		Secret      string `json:"secret"`
		OtherSecret string `json:"otherSecret"`
		DrawnAcked  bool   `json:"drawnAcked"`
		Before      struct {
			Synced memSynced
			Head   int64
		}
		SyncedAfterReload memSynced     `json:"syncedAfterReload"`
		A2Rejected        []memRejected `json:"a2Rejected"`
		EUndo             memAttempt    `json:"eUndo"`
		EDraw             memAttempt    `json:"eDraw"`
		EDraw0            memAttempt    `json:"eDraw0"`
		ERedo             memAttempt    `json:"eRedo"`
		AfterOthers       memOpsPicture `json:"afterOthers"`
		UndoOp            *memOp        `json:"undoOp"`
		AfterUndo         memOpsPicture `json:"afterUndo"`
		AfterRedo         memOpsPicture `json:"afterRedo"`
		SVG               []memShape    `json:"svg"`
	}
	memRun(t, 60*time.Second, &r, "reload.js", srv.URL, board)

	if !r.DrawnAcked || r.Before.Head != 2 {
		t.Fatalf("A's stroke was not stored: acked %v, head %d", r.DrawnAcked, r.Before.Head)
	}
	if want := memAuthor(r.Secret); r.Before.Synced.Author != want || r.SyncedAfterReload.Author != want {
		t.Errorf("author before/after reload = %q/%q, want %q (base64url(SHA-256(secret))[:16])", r.Before.Synced.Author, r.SyncedAfterReload.Author, want)
	}
	if r.SyncedAfterReload.Head != 2 || r.SyncedAfterReload.Segments != 4 {
		t.Errorf("synced after the reload = %+v, want head 2 and 4 segments", r.SyncedAfterReload)
	}
	if r.EUndo.Author != memAuthor(r.OtherSecret) || r.EUndo.Author == r.Before.Synced.Author {
		t.Errorf("the other secret got author %q, want %q (A is %q)", r.EUndo.Author, memAuthor(r.OtherSecret), r.Before.Synced.Author)
	}
	memRejectedWith(t, "undo of A's stroke by another author", r.EUndo.Rejected, "undo", "own")
	memRejectedWith(t, "redo of A's stroke by another author", r.ERedo.Rejected, "redo", "own")
	memRejectedWith(t, "a new piece of A's stroke by another author", r.EDraw.Rejected, "draw", "belongs to someone else")
	memRejectedWith(t, "piece 0 of A's stroke again by another author", r.EDraw0.Rejected, "draw", "belongs to someone else")

	if len(r.AfterOthers.Ops) != 2 || len(memPicture(r.AfterOthers.Ops)) != 2 {
		t.Errorf("after the other author's attempts history = %s, want A's 2 pieces, visible", memJSON(r.AfterOthers.Ops))
	}
	if len(r.A2Rejected) > 0 {
		t.Errorf("A after the reload was told rejected: %v", r.A2Rejected)
	}
	if r.UndoOp == nil || r.UndoOp.Author != r.Before.Synced.Author || r.UndoOp.Seq != 3 {
		t.Fatalf("A's undo after the reload: op %v, want seq 3 by %s", r.UndoOp, r.Before.Synced.Author)
	}
	if len(r.AfterUndo.Ops) != 3 || len(memPicture(r.AfterUndo.Ops)) != 0 {
		t.Errorf("after A's undo history = %s, want the 2 pieces and the undo, nothing visible", memJSON(r.AfterUndo.Ops))
	}
	if !memSame(r.AfterRedo.Ops, r.AfterUndo.Ops) || len(r.SVG) != 0 {
		t.Errorf("the other author's redo changed something: history %s, svg %s", memJSON(r.AfterRedo.Ops), memJSON(r.SVG))
	}
}

// ---------------------------------------------------------------------------
// 3. Idempotent pieces

func TestMemoryIdempotentResend(t *testing.T) {
	srv := startServer(t, testConfig(t))
	board := memBoard("resend")
	var r struct {
		Author string `json:"author"`
		Steps  struct {
			SameSocket struct {
				Acked  bool      `json:"acked"`
				Frames [][]int64 `json:"frames"`
			} `json:"sameSocket"`
			Reconnect struct {
				Acked  bool      `json:"acked"`
				Synced memSynced `json:"synced"`
			} `json:"reconnect"`
			Reload struct {
				Acked  bool      `json:"acked"`
				Synced memSynced `json:"synced"`
			} `json:"reload"`
		} `json:"steps"`
		OPieces     [][2]int64       `json:"oPieces"`
		OFrames     [][]int64        `json:"oFrames"`
		AAcked      map[string]int64 `json:"aAcked"`
		ADuplicates []any            `json:"aDuplicates"`
		ARejected   []memRejected    `json:"aRejected"`
		OConflicts  []any            `json:"oDuplicateSeqs"`
		History     []memOp          `json:"history"`
		Trim        struct {
			Q0Acked   bool       `json:"q0Acked"`
			Q0Seq     int64      `json:"q0Seq"`
			MarkAcked bool       `json:"markAcked"`
			OQ        []int64    `json:"oQ"`
			History   []memOp    `json:"history"`
			Picture   []memPiece `json:"picture"`
			OPicture  []memPiece `json:"oPicture"`
			SVG       []memShape `json:"svg"`
		} `json:"trim"`
	}
	memRun(t, 60*time.Second, &r, "resend.js", srv.URL, board)

	if !r.Steps.SameSocket.Acked || !r.Steps.Reconnect.Acked || !r.Steps.Reload.Acked {
		t.Fatalf("pieces not acknowledged: same socket %v, after reconnect %v, after reload %v", r.Steps.SameSocket.Acked, r.Steps.Reconnect.Acked, r.Steps.Reload.Acked)
	}
	if len(r.ARejected) > 0 {
		t.Errorf("resending was answered with rejected: %v", r.ARejected)
	}
	// Same socket: p0,p1 / p0,p1 / p1,p2 / marker -> 4 ops, one ack each
	// (frames may group them: one frame per commit).
	var acks []int64
	for _, f := range r.Steps.SameSocket.Frames {
		acks = append(acks, f...)
	}
	if !slices.Equal(acks, []int64{1, 2, 3, 4}) {
		t.Errorf("ops frames for p0,p1 + p0,p1 + p1,p2 + marker = %v, want seqs 1, 2, 3, 4 once each: one ack per piece", r.Steps.SameSocket.Frames)
	}
	wantPieces := [][2]int64{{0, 1}, {1, 2}, {2, 3}, {3, 5}, {4, 7}}
	if !memSame(r.OPieces, wantPieces) {
		t.Errorf("the observer saw pieces (i, seq) %v, want %v: each once", r.OPieces, wantPieces)
	}
	for _, f := range r.OFrames {
		if len(f) == 0 {
			t.Errorf("an empty ops frame: %v", r.OFrames)
		}
	}
	for _, d := range r.ADuplicates {
		if !strings.Contains(memJSON(d), "resendStroke2") { // that one is the trim case below
			t.Errorf("A saw its piece acknowledged twice: %v", d)
		}
	}
	count := map[string]int{}
	for _, o := range r.History {
		count[o.key()]++
	}
	for i := 0; i <= 4; i++ {
		if k := "resendStroke1/" + strconv.Itoa(i); count[k] != 1 {
			t.Errorf("history holds %s %d times, want once", k, count[k])
		}
	}
	if err := memContiguous(memSeqs(r.History), 1); err != nil || len(r.History) != 8 {
		t.Errorf("history = %s, want 8 ops (5 pieces, 3 markers) numbered 1..8 (%v)", memJSON(r.History), err)
	}
	if r.Steps.Reconnect.Synced.Head != 4 || r.Steps.Reload.Synced.Head != 6 || r.Steps.Reload.Synced.Author != r.Author {
		t.Errorf("synced after reconnect / reload = %+v / %+v, want heads 4 / 6 and author %s", r.Steps.Reconnect.Synced, r.Steps.Reload.Synced, r.Author)
	}

	t.Run("after two clears", func(t *testing.T) {
		// q0 was stored (and acknowledged), then two clears cut the log
		// before the first of them; a page that never saw q0's ack sends it
		// again. It was stored once already: storing it again puts a
		// cleared piece back on the board.
		if !r.Trim.Q0Acked || !r.Trim.MarkAcked {
			t.Fatalf("q0 acked %v, marker acked %v", r.Trim.Q0Acked, r.Trim.MarkAcked)
		}
		if len(r.Trim.OQ) != 1 {
			t.Errorf("piece resendStroke2/0 was stored %d times (seqs %v; first at %d, before the two clears): a piece sent twice must be stored once", len(r.Trim.OQ), r.Trim.OQ, r.Trim.Q0Seq)
		}
		if pic := memPicture(r.Trim.History); len(pic) != 1 || pic[0].Stroke != "markerStroke4" {
			t.Errorf("after two clears and the resend, the visible picture is %s; want only the marker drawn after the clears (resendStroke2 was cleared)", memJSON(pic))
		}
		if !memSame(memPicture(r.Trim.History), r.Trim.OPicture) || !memSame(memShapes(r.Trim.OPicture), r.Trim.SVG) {
			t.Errorf("pictures differ: history %s, observer %s, svg %s", memJSON(memPicture(r.Trim.History)), memJSON(r.Trim.OPicture), memJSON(r.Trim.SVG))
		}
	})
}

// ---------------------------------------------------------------------------
// 4. Convergence of a random session

type memClientSummary struct {
	Name         string           `json:"name"`
	Author       string           `json:"author"`
	Have         int64            `json:"have"`
	Sockets      int              `json:"sockets"`
	Pending      []string         `json:"pending"`
	Acked        map[string]int64 `json:"acked"`
	Duplicates   []any            `json:"duplicates"`
	Conflicts    []any            `json:"conflicts"`
	Rejected     []memRejected    `json:"rejected"`
	Unsaved      int              `json:"unsaved"`
	Heals        int              `json:"heals"`
	TrimmedGaps  []any            `json:"trimmedGaps"`
	MissedFrames int              `json:"missedFrames"`
	Seqs         []int64          `json:"seqs"`
	Picture      []memPiece       `json:"picture"`
	Error        *string          `json:"error"`
	Reference    bool             `json:"reference"`
}

// memMove is a classic client's mousemove as sent.
type memMove struct {
	X       float64         `json:"x"`
	Y       float64         `json:"y"`
	Drawing bool            `json:"drawing"`
	Color   json.RawMessage `json:"color"`
	Width   json.RawMessage `json:"width"`
}

var memColorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// memClassicPieces is what the server records of a classic client's moves:
// a drawing move after an earlier position is a piece [x0, y0, x1, y1] of
// the stroke the drawing moves make, "#1c1917"/2 unless the move carries a
// valid colour or width. Strokes are numbered from 1 per socket.
func memClassicPieces(id string, moves []memMove) []memOp {
	var out []memOp
	var px, py float64
	has, inside, stroke, i := false, false, 0, 0
	for _, m := range moves {
		x0, y0, had := px, py, has
		px, py, has = m.X, m.Y, true
		if !m.Drawing {
			inside = false
			continue
		}
		if !had {
			continue
		}
		if !inside {
			inside, stroke, i = true, stroke+1, 0
		}
		o := memOp{Type: "stroke", Stroke: "~" + id + "." + strconv.Itoa(stroke), I: new(int), Author: "", Color: "#1c1917", Width: 2, Points: []float64{x0, y0, m.X, m.Y}}
		*o.I = i
		i++
		var c string
		if json.Unmarshal(m.Color, &c) == nil && memColorRE.MatchString(c) {
			o.Color = c
		}
		var w float64
		if json.Unmarshal(m.Width, &w) == nil && w >= 1 && w <= 40 {
			o.Width = w
		}
		out = append(out, o)
	}
	return out
}

// memSameStrokePiece compares what a piece draws and where it belongs.
func memSameStrokePiece(a, b memOp) bool {
	return a.Type == b.Type && a.Stroke == b.Stroke && a.i() == b.i() && a.Author == b.Author && a.Color == b.Color && a.Width == b.Width && slices.Equal(a.Points, b.Points)
}

func TestMemoryConvergence(t *testing.T) {
	seed := int64(20260601)
	if s := os.Getenv("MEM_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("MEM_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (MEM_SEED=%d go test -run TestMemoryConvergence replays the choices; timing differs)", seed, seed)
	srv := startServer(t, testConfig(t))
	board := memBoard("conv")
	var r struct {
		Seed        int64              `json:"seed"`
		StoppedAt   int                `json:"stoppedAt"`
		SettleMs    int                `json:"settleMs"`
		Counts      map[string]int     `json:"counts"`
		FreshSynced memSynced          `json:"freshSynced"`
		Fresh       memOpsPicture      `json:"fresh"`
		SVG         []memShape         `json:"svg"`
		Clients     []memClientSummary `json:"clients"`
		S0Ops       []memOp            `json:"s0Ops"`
		Classic     []struct {
			Name      string    `json:"name"`
			ID        string    `json:"id"`
			Moves     []memMove `json:"moves"`
			Events    []string  `json:"events"`
			Connected bool      `json:"connected"`
		} `json:"classic"`
	}
	memRun(t, 90*time.Second, &r, "converge.js", srv.URL, board, strconv.FormatInt(seed, 10), "6000")
	t.Logf("session: %v; settled in %d ms", r.Counts, r.SettleMs)
	for _, c := range r.Clients {
		t.Logf("%s: have %d, %d sockets, %d heals (%d found trimmed seqs: %v), %d ops frames missed while deaf, %d rejected",
			c.Name, c.Have, c.Sockets, c.Heals, len(c.TrimmedGaps), c.TrimmedGaps, c.MissedFrames, len(c.Rejected))
	}

	// The session did what it claims to exercise.
	for _, k := range []string{"draw", "undo", "redo", "clear", "drop", "reconnect", "deaf", "moves"} {
		if r.Counts[k] == 0 {
			t.Errorf("the session had no %q (counts %v)", k, r.Counts)
		}
	}
	missed := 0
	for _, c := range r.Clients {
		missed += c.MissedFrames
	}
	if missed == 0 {
		t.Errorf("no client missed an ops frame: healing by sequence numbers was not exercised")
	}
	head := r.FreshSynced.Head
	if head == 0 || len(r.S0Ops) == 0 || len(r.Fresh.Ops) == 0 {
		t.Fatalf("nothing stored: fresh synced %+v", r.FreshSynced)
	}
	byseq := map[int64]memOp{}
	for _, o := range r.S0Ops {
		byseq[o.Seq] = o
	}

	t.Run("settled", func(t *testing.T) {
		// S0 never dropped nor lagged: it holds every op the board committed.
		if err := memContiguous(memSeqs(r.S0Ops), 1); err != nil || int64(len(r.S0Ops)) != head {
			t.Errorf("S0's log is not 1..%d: %v (%d ops)", head, err, len(r.S0Ops))
		}
		for _, c := range r.Clients {
			if c.Error != nil {
				t.Errorf("%s: %s", c.Name, *c.Error)
			}
			if c.Have != head || len(c.Pending) != 0 {
				t.Errorf("%s did not settle: have %d (head %d), pending %v", c.Name, c.Have, head, c.Pending)
			}
			if len(c.Conflicts) > 0 {
				t.Errorf("%s saw one seq as two different ops: %s", c.Name, memJSON(c.Conflicts))
			}
			if c.Unsaved > 0 {
				t.Errorf("%s got %d unsaved ops from the in-memory store", c.Name, c.Unsaved)
			}
			for _, rej := range c.Rejected {
				switch {
				case strings.HasPrefix(rej.Reason, "only the newest clear"):
					// another clear came first: the page's view was stale
				default:
					t.Errorf("%s: unexpected rejected %+v", c.Name, rej)
				}
			}
		}
	})

	t.Run("pictures converge", func(t *testing.T) {
		// The fresh joiner's history is S0's log, except that pieces no
		// clear can bring back may have lost their points (the trim).
		if err := memContiguous(memSeqs(r.Fresh.Ops), 1); err != nil || r.Fresh.Ops[len(r.Fresh.Ops)-1].Seq != head {
			t.Errorf("fresh history is not 1..%d: %v", head, err)
		}
		shown := map[int64]bool{}
		for _, p := range memPicture(r.S0Ops) {
			shown[p.Seq] = true
		}
		stripped := 0
		for _, o := range r.Fresh.Ops {
			want := byseq[o.Seq]
			if o.Type == "stroke" && o.Points == nil && want.Points != nil && !shown[o.Seq] {
				want.Points = nil
				stripped++
			}
			if !memSame(o, want) {
				t.Errorf("history seq %d = %v, S0 received %v", o.Seq, o, byseq[o.Seq])
			}
		}
		t.Logf("%d hidden pieces lost their points to the trim", stripped)
		// One picture: every client's, the fresh joiner's, S0's full log's
		// (so the trim hid nothing visible) and board.svg's.
		want := memPicture(r.Fresh.Ops)
		if !memSame(want, r.Fresh.Picture) {
			t.Errorf("the script's picture model differs from the test's:\njs %s\ngo %s", memJSON(r.Fresh.Picture), memJSON(want))
		}
		if full := memPicture(r.S0Ops); !memSame(full, want) {
			t.Errorf("S0's full log and the trimmed history draw different pictures:\nfull    %s\nhistory %s", memJSON(full), memJSON(want))
		}
		for _, c := range r.Clients {
			if !memSame(c.Picture, want) {
				t.Errorf("%s's picture differs from a fresh joiner's:\n%s %s\nfresh %s", c.Name, c.Name, memJSON(c.Picture), memJSON(want))
			}
		}
		if !memSame(r.SVG, memShapes(want)) {
			t.Errorf("board.svg differs from the picture:\nsvg  %s\nwant %s", memJSON(r.SVG), memJSON(memShapes(want)))
		}
		t.Logf("head %d, %d visible pieces", head, len(want))
	})

	t.Run("acknowledged pieces stored once", func(t *testing.T) {
		stored := map[string][]int64{}
		for _, o := range r.S0Ops {
			if o.Type == "stroke" {
				stored[o.key()] = append(stored[o.key()], o.Seq)
			}
		}
		var dups []string
		for k, seqs := range stored {
			if len(seqs) > 1 {
				dups = append(dups, fmt.Sprintf("%s at seqs %v", k, seqs))
			}
		}
		if len(dups) > 0 {
			sort.Strings(dups)
			t.Errorf("%d pieces were stored twice (a piece sent again must be stored once, also when a clear trimmed the first copy): %s",
				len(dups), memShort(dups))
		}
		inFresh := map[string]int{}
		for _, o := range r.Fresh.Ops {
			if o.Type == "stroke" {
				inFresh[o.key()]++
			}
		}
		acked := 0
		for _, c := range r.Clients {
			for k, seq := range c.Acked {
				acked++
				o, ok := byseq[seq]
				if !ok || o.Type != "stroke" || o.key() != k || o.Author != c.Author {
					t.Errorf("%s's piece %s was acknowledged with seq %d, which is %v", c.Name, k, seq, o)
					continue
				}
				if inFresh[k] != 1 {
					t.Errorf("%s's acknowledged piece %s (seq %d) is in history %d times, want once", c.Name, k, seq, inFresh[k])
				}
			}
		}
		if acked < r.Counts["pieces"]/2 {
			t.Errorf("only %d of %d pieces drawn were acknowledged", acked, r.Counts["pieces"])
		}
	})

	t.Run("classic recorded", func(t *testing.T) {
		for _, k := range r.Classic {
			exp := memClassicPieces(k.ID, k.Moves)
			var got []memOp
			for _, o := range r.S0Ops {
				if strings.HasPrefix(o.Stroke, "~"+k.ID+".") {
					got = append(got, o)
				}
			}
			if len(got) != len(exp) {
				t.Errorf("classic %s: %d pieces recorded, want %d", k.Name, len(got), len(exp))
			}
			for j := range min(len(got), len(exp)) {
				if !memSameStrokePiece(got[j], exp[j]) {
					t.Errorf("classic %s piece %d = %v, want %v", k.Name, j, got[j], exp[j])
					break
				}
			}
			for _, e := range k.Events {
				if e != "moving" && e != "clientdisconnect" {
					t.Errorf("classic %s received %q", k.Name, e)
				}
			}
			if !k.Connected {
				t.Errorf("classic %s was disconnected", k.Name)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// 5. The classic contract on a board that remembers

func TestMemoryClassicContract(t *testing.T) {
	srv := startServer(t, testConfig(t))
	board := memBoard("classic")
	type classicOut struct {
		ID        string            `json:"id"`
		Version   int               `json:"version"`
		Transport string            `json:"transport"`
		Moves     []json.RawMessage `json:"moves"`
		Events    []relayEvent      `json:"events"`
		Raw       []string          `json:"raw"`
	}
	var r struct {
		Acked          bool                  `json:"acked"`
		AllMoving      bool                  `json:"allMoving"`
		RecordedAll    bool                  `json:"recordedAll"`
		ToldDisconnect bool                  `json:"toldDisconnect"`
		S1ID           string                `json:"s1Id"`
		S2ID           string                `json:"s2Id"`
		S1Moves        []json.RawMessage     `json:"s1Moves"`
		Classic        map[string]classicOut `json:"classic"`
		History        []memOp               `json:"history"`
		S1Ops          []memOp               `json:"s1Ops"`
	}
	memRun(t, 60*time.Second, &r, "classic.js", srv.URL, board)
	if !r.Acked || !r.AllMoving || !r.RecordedAll || !r.ToldDisconnect {
		t.Errorf("script: synced acked %v, all moves relayed %v, all classic pieces recorded %v, disconnect told %v", r.Acked, r.AllMoving, r.RecordedAll, r.ToldDisconnect)
	}
	if len(r.Classic) != 3 {
		t.Fatalf("want 3 classic clients, got %d", len(r.Classic))
	}
	sent := map[string][]json.RawMessage{r.S1ID: r.S1Moves}
	for _, k := range r.Classic {
		sent[k.ID] = k.Moves
	}
	for name, k := range r.Classic {
		// Only moving and clientdisconnect, as events and on the wire.
		got := map[string][]json.RawMessage{}
		disconnects := 0
		for _, e := range k.Events {
			switch e.Event {
			case "moving":
				var m map[string]json.RawMessage
				if err := json.Unmarshal(e.Data, &m); err != nil {
					t.Errorf("%s: moving payload %s: %v", name, e.Data, err)
					continue
				}
				var id string
				json.Unmarshal(m["id"], &id)
				got[id] = append(got[id], e.Data)
			case "clientdisconnect":
				disconnects++
				if !jsonEqual(e.Data, strconv.Quote(r.S2ID)) {
					t.Errorf("%s: clientdisconnect %s, want %q", name, e.Data, r.S2ID)
				}
			default:
				t.Errorf("%s (socket.io-client %d.x, %s) received %q %s: a client that never syncs must see only moving and clientdisconnect", name, k.Version, k.Transport, e.Event, e.Data)
			}
		}
		if disconnects != 1 {
			t.Errorf("%s: %d clientdisconnect events, want 1", name, disconnects)
		}
		for _, raw := range k.Raw {
			switch {
			case raw == "0" || strings.HasPrefix(raw, `0{"sid":`): // CONNECT
			case strings.HasPrefix(raw, `2["moving",`), strings.HasPrefix(raw, `2["clientdisconnect",`):
			default:
				t.Errorf("%s: raw Engine.IO message %.200q: only CONNECT, moving and clientdisconnect may reach a classic client", name, raw)
			}
		}
		if len(k.Raw) != len(k.Events)+1 {
			t.Errorf("%s: %d raw messages for %d events (want one more: CONNECT)", name, len(k.Raw), len(k.Events))
		}
		// moving = the sender's object + id, nothing more, in order.
		for id, moves := range sent {
			if id == k.ID {
				if len(got[id]) != 0 {
					t.Errorf("%s got its own moves back", name)
				}
				continue
			}
			if len(got[id]) != len(moves) {
				t.Errorf("%s: %d moving events from %s, want %d", name, len(got[id]), id, len(moves))
				continue
			}
			for j, m := range moves {
				var want map[string]any
				json.Unmarshal(m, &want)
				want["id"] = id
				if !jsonEqual(got[id][j], string(mustJSON(t, want))) {
					t.Errorf("%s: moving %d from %s = %s, want %s (the sender's object plus id)", name, j, id, got[id][j], mustJSON(t, want))
				}
			}
		}
		delete(got, "")
		for id := range got {
			if _, ok := sent[id]; !ok {
				t.Errorf("%s: moving from unknown id %q", name, id)
			}
		}
	}

	// Their drawing is recorded, and only theirs.
	for name, k := range r.Classic {
		var moves []memMove
		for _, m := range k.Moves {
			var mv memMove
			json.Unmarshal(m, &mv)
			moves = append(moves, mv)
		}
		exp := memClassicPieces(k.ID, moves)
		var got []memOp
		for _, o := range r.History {
			if strings.HasPrefix(o.Stroke, "~"+k.ID+".") {
				got = append(got, o)
			}
		}
		if len(exp) == 0 || len(got) != len(exp) {
			t.Errorf("%s: %d pieces recorded, want %d: %s", name, len(got), len(exp), memJSON(got))
		}
		for j := range min(len(got), len(exp)) {
			if !memSameStrokePiece(got[j], exp[j]) {
				t.Errorf("%s: recorded piece %d = %v, want %v", name, j, got[j], exp[j])
			}
		}
	}
	classicIDs := map[string]bool{}
	for _, k := range r.Classic {
		classicIDs[k.ID] = true
	}
	live := map[string]bool{}
	for _, o := range r.S1Ops {
		live[o.key()+fmt.Sprint(o.Seq)] = true
	}
	for _, o := range r.History {
		if o.Author == "" || strings.HasPrefix(o.Stroke, "~") {
			id, _, _ := strings.Cut(strings.TrimPrefix(o.Stroke, "~"), ".")
			if o.Author != "" || !strings.HasPrefix(o.Stroke, "~") || !classicIDs[id] || o.Type != "stroke" {
				t.Errorf("history op %v: only classic clients' pieces have author \"\" and a '~' stroke id", o)
			}
		}
		if !live[o.key()+fmt.Sprint(o.Seq)] {
			t.Errorf("history op %v never reached synced S1 as an op", o)
		}
	}
	// The synced clients' own work is there too (S1's cursor moves are not).
	types := map[string]int{}
	for _, o := range r.History {
		types[o.Type]++
	}
	if types["undo"] != 3 || types["redo"] != 1 || types["clear"] != 1 {
		t.Errorf("synced ops in history %v, want 3 undo, 1 redo, 1 clear", types)
	}
}

// ---------------------------------------------------------------------------
// 6. Bad requests

func TestMemoryBadRequests(t *testing.T) {
	srv := startServer(t, testConfig(t))
	board := memBoard("bad")

	// HTTP first; the socket work below shows the server is still up.
	for _, c := range []struct{ path, words string }{
		{"/history.ndjson?since=-1", "since"},
		{"/history.ndjson?since=abc", "since"},
		{"/history.ndjson?since=1.5", "since"},
		{"/b/" + board + "/history.ndjson?since=-1", "since"},
		{"/b/bad%20name!/history.ndjson", "board name"},
		{"/b/bad%20name!/board.svg", "board name"},
		{"/b/" + strings.Repeat("x", 65) + "/history.ndjson", "board name"},
	} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatalf("GET %s: %v", c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), c.words) {
			t.Errorf("GET %s = %d %q, want 400 with a message about %s", c.path, resp.StatusCode, body, c.words)
		}
	}

	var r struct {
		Results []struct {
			Name      string       `json:"name"`
			Event     string       `json:"event"`
			Rejected  *memRejected `json:"rejected"`
			Notices   int          `json:"notices"`
			Ops       int          `json:"ops"`
			Connected bool         `json:"connected"`
		} `json:"results"`
		RedoShown struct {
			GAcked   bool          `json:"gAcked"`
			MAcked   bool          `json:"mAcked"`
			Rejected []memRejected `json:"rejected"`
			Ops      []memOp       `json:"ops"`
		} `json:"redoShown"`
		FinalAcked bool    `json:"finalAcked"`
		History    []memOp `json:"history"`
	}
	memRun(t, 60*time.Second, &r, "bad.js", srv.URL, board)

	// What each reason must say.
	want := map[string][]string{
		"draw before sync":                     {"sync"},
		"undo before sync":                     {"sync"},
		"sync short secret":                    {"secret", "16-64"},
		"sync secret with bad characters":      {"secret", "letters"},
		"sync since -1":                        {"since", "whole number"},
		"sync since 1.5":                       {"since", "whole number"},
		"sync without object":                  {"author", "since"},
		"draw 0 pieces":                        {"1 to 64"},
		"draw 65 pieces":                       {"1 to 64"},
		"draw not an array":                    {"array"},
		"bad colour name":                      {"color"},
		"bad colour short hex":                 {"color"},
		"width 0":                              {"width", "1 to 40"},
		"width 41":                             {"width", "1 to 40"},
		"odd number of coordinates":            {"points"},
		"no points":                            {"points"},
		"257 points":                           {"points", "256"},
		"NaN-like coordinate strings":          {"points", "number"},
		"NaN-like width":                       {"width", "number"},
		"coordinate beyond +100000":            {"points", "100000"},
		"coordinate beyond -100000":            {"points", "100000"},
		"stroke id too short":                  {"stroke", "8-32"},
		"stroke id with '~'":                   {"stroke", "8-32"},
		"piece i negative":                     {"piece i"},
		"one bad piece among good ones":        {"width"},
		"undo without {stroke}":                {"{stroke}"},
		"redo without {stroke}":                {"{stroke}"},
		"clear without {stroke}":               {"{stroke}"},
		"clear with a short id":                {"8-32"},
		"undo of a stroke that does not exist": {"no stroke noSuchStroke1"},
		"redo of a stroke that does not exist": {"no stroke noSuchStroke2"},
	}
	if len(r.Results) != len(want) {
		t.Errorf("%d cases ran, want %d", len(r.Results), len(want))
	}
	for _, c := range r.Results {
		t.Run(c.Name, func(t *testing.T) {
			words, ok := want[c.Name]
			if !ok {
				t.Fatalf("case %q has no expectation here", c.Name)
			}
			memRejectedWith(t, c.Name, c.Rejected, c.Event, words...)
			if c.Rejected != nil && c.Rejected.Dropped != 1 {
				t.Errorf("%s: rejected.dropped = %d, want 1", c.Name, c.Rejected.Dropped)
			}
			if c.Notices != 1 || c.Ops != 0 || !c.Connected {
				t.Errorf("%s: %d notices, %d ops received, connected %v; want 1 notice, no ops, still connected", c.Name, c.Notices, c.Ops, c.Connected)
			}
		})
	}

	// Redo of a shown stroke: no op, no notice.
	rs := r.RedoShown
	if !rs.GAcked || !rs.MAcked || len(rs.Rejected) != 0 {
		t.Errorf("redo of a shown stroke: drawn %v, marker acked %v, rejected %v; want silence", rs.GAcked, rs.MAcked, rs.Rejected)
	}
	for _, o := range rs.Ops {
		if o.Type != "stroke" {
			t.Errorf("redo of a shown stroke stored %v", o)
		}
	}

	// Nothing of the bad requests was stored.
	var strokes []string
	for _, o := range r.History {
		strokes = append(strokes, o.Type+":"+o.Stroke)
	}
	if !r.FinalAcked || !slices.Equal(strokes, []string{"stroke:shownStroke1", "stroke:markerStroke1", "stroke:finalStroke1"}) {
		t.Errorf("history after the bad requests = %v (final draw acked %v); want only the shown stroke, the marker and the final draw", strokes, r.FinalAcked)
	}
}

// ---------------------------------------------------------------------------
// 7. A full board

func TestMemoryBoardFull(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBoardSegments = 50
	srv := startServer(t, cfg)
	board := memBoard("full")
	type pictures struct {
		Synced         memSynced  `json:"synced"`
		History        []memOp    `json:"history"`
		FullPicture    []memPiece `json:"fullPicture"`
		BPicture       []memPiece `json:"bPicture"`
		HistoryPicture []memPiece `json:"historyPicture"`
		SVG            []memShape `json:"svg"`
	}
	var r struct {
		AuthorA string `json:"authorA"`
		AuthorB string `json:"authorB"`
		T       string `json:"T"`
		Steps   struct {
			Filled struct {
				Acked  bool      `json:"acked"`
				Synced memSynced `json:"synced"`
			} `json:"filled"`
			Refused struct {
				P5Rejected  *memRejected `json:"p5Rejected"`
				DotRejected *memRejected `json:"dotRejected"`
				Synced      memSynced    `json:"synced"`
				History     []memOp      `json:"history"`
			} `json:"refused"`
			Cleared struct {
				C1     *memOp    `json:"c1"`
				Synced memSynced `json:"synced"`
			} `json:"cleared"`
			DrawnAgain struct {
				Acked  bool      `json:"acked"`
				Synced memSynced `json:"synced"`
			} `json:"drawnAgain"`
			UndoClear struct {
				Op        *memOp       `json:"op"`
				Synced    memSynced    `json:"synced"`
				Picture   []memPiece   `json:"picture"`
				DRejected *memRejected `json:"dRejected"`
			} `json:"undoClear"`
			RedoClear struct {
				Op      *memOp     `json:"op"`
				Synced  memSynced  `json:"synced"`
				Picture []memPiece `json:"picture"`
			} `json:"redoClear"`
			SecondClear struct {
				pictures
				C2 *memOp `json:"c2"`
			} `json:"secondClear"`
			UndoSecondClear pictures `json:"undoSecondClear"`
			AfterTrim       struct {
				pictures
				UndoT         *memOp        `json:"undoT"`
				UndoTRejected []memRejected `json:"undoTRejected"`
				ERejected     *memRejected  `json:"eRejected"`
				P7Acked       bool          `json:"p7Acked"`
			} `json:"afterTrim"`
		} `json:"steps"`
		FullLogBefore []memOp `json:"fullLogBefore"`
		ASeqs         []int64 `json:"aSeqs"`
		AConflicts    []any   `json:"aConflicts"`
	}
	memRun(t, 60*time.Second, &r, "full.js", srv.URL, board)
	s := &r.Steps
	seg := func(step string, got memSynced, want int64) {
		t.Helper()
		if got.Segments != want || got.Limit != 50 {
			t.Errorf("%s: synced segments/limit = %d/%d, want %d/50", step, got.Segments, got.Limit, want)
		}
	}

	if !s.Filled.Acked {
		t.Fatalf("the first 50 segments were not all acknowledged")
	}
	seg("full", s.Filled.Synced, 50)
	memRejectedWith(t, "a 10-segment piece on a full board", s.Refused.P5Rejected, "draw", "full", "clear")
	memRejectedWith(t, "a dot on a full board", s.Refused.DotRejected, "draw", "full", "clear")
	seg("after the refusals", s.Refused.Synced, 50)
	for _, o := range s.Refused.History {
		if o.Stroke == "fullStroke5" || o.Stroke == "fullDot0001" {
			t.Errorf("a refused piece was stored: %v", o)
		}
	}
	if len(s.Refused.History) != 5 {
		t.Errorf("history on the full board has %d ops, want 5", len(s.Refused.History))
	}
	if s.Cleared.C1 == nil {
		t.Fatalf("the clear was not acknowledged")
	}
	seg("after the clear", s.Cleared.Synced, 0)
	if !s.DrawnAgain.Acked {
		t.Errorf("drawing after the clear was not acknowledged")
	}
	seg("20 segments after the clear", s.DrawnAgain.Synced, 20)
	if s.UndoClear.Op == nil {
		t.Fatalf("undo of the clear was not acknowledged")
	}
	seg("clear undone", s.UndoClear.Synced, 70)
	if got := memStrokes(s.UndoClear.Picture); len(s.UndoClear.Picture) != 7 {
		t.Errorf("with the clear undone the picture has %d pieces (%v), want 7", len(s.UndoClear.Picture), got)
	}
	memRejectedWith(t, "drawing with the clear undone (70 of 50 segments)", s.UndoClear.DRejected, "draw", "full", "clear")
	if s.RedoClear.Op == nil {
		t.Fatalf("redo of the clear was not acknowledged")
	}
	seg("clear redone", s.RedoClear.Synced, 20)
	if got := memStrokes(s.RedoClear.Picture); !slices.Equal(got, []string{"fullStroke6", r.T}) {
		t.Errorf("with the clear redone the visible strokes are %v, want [fullStroke6 %s]", got, r.T)
	}

	// Once the second clear is stored, what the first hid can never show
	// again: those pieces lose their points; every op stays, numbered.
	if s.SecondClear.C2 == nil {
		t.Fatalf("the second clear was not acknowledged")
	}
	c1 := s.Cleared.C1.Seq
	h := s.SecondClear.History
	if err := memContiguous(memSeqs(h), 1); err != nil {
		t.Errorf("history after the second clear: %v", err)
	}
	for _, o := range h {
		if o.Type == "stroke" && (o.Seq < c1) != (o.Points == nil) {
			t.Errorf("after the second clear, piece %v: want points dropped exactly for pieces older than the first clear (seq %d)", o, c1)
		}
	}
	seg("after the second clear", s.SecondClear.Synced, 0)
	if len(memPicture(h)) != 0 || len(s.SecondClear.FullPicture) != 0 || len(s.SecondClear.SVG) != 0 {
		t.Errorf("after the second clear something is visible: history %s, full log %s, svg %s", memJSON(memPicture(h)), memJSON(s.SecondClear.FullPicture), memJSON(s.SecondClear.SVG))
	}
	// Undoing it shows what lay between the clears, the same from the full
	// log as from the trimmed history: the trim hid nothing visible.
	u := s.UndoSecondClear
	full := memPicture(append(slices.Clone(r.FullLogBefore), memOpsAfter(u.History, r.FullLogBefore)...))
	if got := memPicture(u.History); !memSame(got, full) || !memSame(got, u.FullPicture) || !memSame(got, u.BPicture) || !memSame(memShapes(got), u.SVG) {
		t.Errorf("the trim changed the picture:\ntrimmed history %s\nfull log        %s\nA               %s\nB               %s\nsvg             %s", memJSON(got), memJSON(full), memJSON(u.FullPicture), memJSON(u.BPicture), memJSON(u.SVG))
	}
	if got := memStrokes(memPicture(u.History)); !slices.Equal(got, []string{"fullStroke6", r.T}) {
		t.Errorf("with the second clear undone the visible strokes are %v, want [fullStroke6 %s]", got, r.T)
	}
	seg("second clear undone", u.Synced, 20)

	a := s.AfterTrim
	if !a.P7Acked {
		t.Errorf("drawing after the trim was not acknowledged")
	}
	if got := memPicture(a.History); !memSame(got, a.FullPicture) || !memSame(memShapes(got), a.SVG) {
		t.Errorf("after the trim, pictures differ:\nhistory %s\nA       %s\nsvg     %s", memJSON(got), memJSON(a.FullPicture), memJSON(a.SVG))
	}
	if len(r.AConflicts) > 0 {
		t.Errorf("A saw one seq as two ops: %v", r.AConflicts)
	}

	t.Run("trim keeps strokes that go on", func(t *testing.T) {
		// Stroke T began before the first clear (piece 0, trimmed)
		// and went on after it (piece 1, visible). It is still A's: A may
		// undo it, and nobody else may add to it.
		if a.UndoT == nil || len(a.UndoTRejected) > 0 {
			t.Errorf("A's undo of its stroke %s, visible after the trim: op %v, rejected %v", r.T, a.UndoT, a.UndoTRejected)
		}
		memRejectedWith(t, "another author's piece of A's stroke after the trim", a.ERejected, "draw", "belongs to someone else")
		for _, o := range a.History {
			if o.Stroke == r.T && o.Type == "stroke" && o.Author != r.AuthorA {
				t.Errorf("another author's piece was stored in A's stroke: %v", o)
			}
		}
	})
}

// TestMemoryTrimKeepsPicture: the trim a second clear makes must not change
// the picture, also for a stroke undone before the first clear that has a
// piece after it.
func TestMemoryTrimKeepsPicture(t *testing.T) {
	srv := startServer(t, testConfig(t))
	var r struct {
		Steps          []bool        `json:"steps"`
		Rejected       []memRejected `json:"rejected"`
		Full           []memOp       `json:"full"`
		History        []memOp       `json:"history"`
		FullPicture    []memPiece    `json:"fullPicture"`
		HistoryPicture []memPiece    `json:"historyPicture"`
		SVG            []memShape    `json:"svg"`
	}
	memRun(t, 60*time.Second, &r, "trim.js", srv.URL, memBoard("trim"))
	if slices.Contains(r.Steps, false) || len(r.Rejected) > 0 {
		t.Fatalf("steps acknowledged %v, rejected %v", r.Steps, r.Rejected)
	}
	for _, o := range r.History {
		if o.Type == "stroke" && (o.Seq < 3) != (o.Points == nil) {
			t.Errorf("after the second clear, piece %v: want points dropped exactly for pieces older than the first clear (seq 3)", o)
		}
	}
	if err := memContiguous(memSeqs(r.History), 1); err != nil {
		t.Errorf("history after the second clear: %v", err)
	}
	full, trimmed := memPicture(r.Full), memPicture(r.History)
	if len(full) != 0 {
		t.Errorf("from the full log the picture is %s, want nothing (the stroke is undone)", memJSON(full))
	}
	if !memSame(trimmed, full) || !memSame(memShapes(full), r.SVG) {
		t.Errorf("the trim changed the picture (undoneStroke1 was undone at seq 2, before the first clear; its piece 1, seq 4, came after it):\nfull log %s\nhistory  %s\nsvg      %s\nhistory ops %s",
			memJSON(full), memJSON(trimmed), memJSON(r.SVG), memJSON(r.History))
	}
}

// memOpsAfter is the ops of h newer than every op of log.
func memOpsAfter(h, log []memOp) []memOp {
	var last int64
	for _, o := range log {
		last = max(last, o.Seq)
	}
	var out []memOp
	for _, o := range h {
		if o.Seq > last {
			out = append(out, o)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// 8. Paging: a big board streams and stalls nobody

// memWatchStore is the in-memory store, watched: how many ops HTTP reads
// of one board have handed out, and whether one is still going on.
type memWatchStore struct {
	draw.Store
	board     string
	active    atomic.Int64 // HTTP reads of board in progress
	delivered atomic.Int64 // ops they handed to the response
}

func (s *memWatchStore) Read(ctx context.Context, board string, since int64, fn func(draw.Op) error) error {
	if board != s.board || ctx.Value(http.ServerContextKey) == nil { // loads and other boards
		return s.Store.Read(ctx, board, since, fn)
	}
	s.active.Add(1)
	defer s.active.Add(-1)
	return s.Store.Read(ctx, board, since, func(op draw.Op) error {
		s.delivered.Add(1)
		return fn(op)
	})
}

func TestMemoryPaging(t *testing.T) {
	big, small := memBoard("big"), memBoard("small")
	store := &memWatchStore{Store: draw.NewMemoryStore(), board: big}
	cfg := testConfig(t)
	cfg.MaxBoardSegments = 5_000_000
	cfg.Store = store
	srv := startServer(t, cfg)

	// Bigger than what the kernel can hold for a reader that stops: the
	// server's socket send buffer (tcp_wmem max) plus 4 MiB, at least 3 MiB.
	wmem := int64(4 << 20)
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 3 {
			if v, err := strconv.ParseInt(f[2], 10, 64); err == nil {
				wmem = v
			}
		}
	}
	mb := max(3, (wmem+4<<20)>>20)
	var fill struct {
		Events   int           `json:"events"`
		Pieces   int           `json:"pieces"`
		Acked    bool          `json:"acked"`
		Head     int64         `json:"head"`
		Rejected []memRejected `json:"rejected"`
	}
	memRun(t, 90*time.Second, &fill, "paging.js", "fill", srv.URL, big, strconv.FormatInt(mb, 10))
	if !fill.Acked || fill.Head != int64(fill.Pieces) || len(fill.Rejected) > 0 {
		t.Fatalf("filling the big board: %d pieces in %d events, acked %v, head %d, rejected %v", fill.Pieces, fill.Events, fill.Acked, fill.Head, fill.Rejected)
	}

	// A reader with a small receive buffer, which stops after its first read.
	hc := &http.Client{Transport: &http.Transport{
		DisableCompression: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(16 << 10)
			}
			return c, err
		},
	}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(srv.URL + "/b/" + big + "/history.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != -1 || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("history.ndjson: status %d, Content-Length %d, Content-Encoding %q; want 200, streamed, identity", resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Encoding"))
	}
	var body bytes.Buffer
	first := make([]byte, 64<<10)
	n, err := io.ReadFull(resp.Body, first)
	if err != nil {
		t.Fatalf("first 64 KiB of history: %v after %d bytes", err, n)
	}
	body.Write(first[:n])

	// While the big history waits, half read: round trips on a small board
	// and on the big board itself. The server is in the middle of it: its
	// read of the log has handed out only part of the ops, and goes on.
	during := func(when string) {
		t.Helper()
		if a, d := store.active.Load(), store.delivered.Load(); a != 1 || d >= fill.Head {
			t.Errorf("%s: %d history reads in progress, %d of %d ops handed out; want the one read still going, part way (streamed, not built whole)", when, a, d, fill.Head)
		} else {
			t.Logf("%s: the server's read of the big history has handed out %d of %d ops", when, d, fill.Head)
		}
	}
	during("after the first 64 KiB")
	var rt struct {
		SyncedSmall  memSynced     `json:"syncedSmall"`
		SmallAcked   bool          `json:"smallAcked"`
		SmallHistory []memOp       `json:"smallHistory"`
		SyncedBig    *memSynced    `json:"syncedBig"`
		BigAcked     bool          `json:"bigAcked"`
		BigAck       *memOp        `json:"bigAck"`
		Rejected     []memRejected `json:"rejected"`
	}
	memRun(t, 60*time.Second, &rt, "paging.js", "roundtrip", srv.URL, big, small)
	during("after the round trips")
	if !rt.SmallAcked || len(rt.SmallHistory) != 1 || rt.SyncedSmall.Head != 0 {
		t.Errorf("the small board while a big history streams: synced %+v, acked %v, history %s", rt.SyncedSmall, rt.SmallAcked, memJSON(rt.SmallHistory))
	}
	if rt.SyncedBig == nil || rt.SyncedBig.Head != fill.Head || !rt.BigAcked || rt.BigAck == nil || rt.BigAck.Seq != fill.Head+1 {
		t.Errorf("the big board itself while its history streams: synced %+v, acked %v, op %v; want head %d and seq %d", rt.SyncedBig, rt.BigAcked, rt.BigAck, fill.Head, fill.Head+1)
	}
	if len(rt.Rejected) > 0 {
		t.Errorf("round trips rejected: %v", rt.Rejected)
	}

	// The rest, in reads as they come.
	reads := 1
	buf := make([]byte, 256<<10)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if n > 0 {
			reads++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading history: %v after %d bytes", err, body.Len())
		}
	}
	total := int64(body.Len())
	t.Logf("history: %d bytes in %d reads", total, reads)
	if total < 3<<20 {
		t.Errorf("history is %d bytes, want at least 3 MiB", total)
	}
	var seqs []int64
	sc := bufio.NewScanner(&body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var o memOp
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("history line %d: %v", len(seqs)+1, err)
		}
		if o.Type != "stroke" || len(o.Points) != 512 && o.Stroke != "bigStroke0001" {
			t.Errorf("history line %d: %.200s", len(seqs)+1, sc.Bytes())
		}
		seqs = append(seqs, o.Seq)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := memContiguous(seqs, 1); err != nil || int64(len(seqs)) < fill.Head {
		t.Errorf("history seqs: %v; %d lines, head %d", err, len(seqs), fill.Head)
	}

	// The same history gzip-compressed: its first lines decode before the
	// rest is read. (Only the beginning: compressing megabytes under the race
	// detector takes half a minute.)
	req, _ := http.NewRequest("GET", srv.URL+"/b/"+big+"/history.ndjson", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	zresp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer zresp.Body.Close()
	if zresp.Header.Get("Content-Encoding") != "gzip" || zresp.ContentLength != -1 {
		t.Fatalf("gzip history: Content-Encoding %q, Content-Length %d", zresp.Header.Get("Content-Encoding"), zresp.ContentLength)
	}
	zr, err := gzip.NewReader(zresp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var zseqs []int64
	zs := bufio.NewScanner(zr)
	zs.Buffer(make([]byte, 1<<20), 1<<20)
	for len(zseqs) < 100 && zs.Scan() {
		var o memOp
		if err := json.Unmarshal(zs.Bytes(), &o); err != nil {
			t.Fatalf("gzip history line %d: %v", len(zseqs)+1, err)
		}
		zseqs = append(zseqs, o.Seq)
	}
	if err := zs.Err(); err != nil {
		t.Fatalf("gzip history: %v", err)
	}
	if err := memContiguous(zseqs, 1); err != nil || len(zseqs) != 100 {
		t.Errorf("the first 100 lines of the gzip history: %v (%d lines)", err, len(zseqs))
	}
}
