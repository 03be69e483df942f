package main

// Browser tests of boards that remember (docs/PROTOCOL.md): the page renders
// ink only from the board's log, so a late joiner sees exactly what the
// others see; undo/redo are per author; clear, reload, offline drawing and
// replay. Each test starts its own server (boards in memory) and runs one
// script from e2e/browser/; the scripts read the page through its read-only
// debug hook, window.__draw.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/drawing/draw/draw"
)

// browserPixelDiff is what pixelDiff in e2e/browser/lib.mjs reports.
type browserPixelDiff struct {
	SameSize  bool  `json:"sameSize"`
	Size      []int `json:"size"`
	Differing int   `json:"differing"`
	MaxDelta  int   `json:"maxDelta"`
}

// TestBrowserMemoryLateJoiner: strokes of several colours and widths, then a
// second page of the same size opens and renders the same pixels from the log.
func TestBrowserMemoryLateJoiner(t *testing.T) {
	var r struct {
		pageErrors
		Strokes     int              `json:"strokes"`
		StrokesSeen int              `json:"strokesSeen"`
		Head        int              `json:"head"`
		InkA        int              `json:"inkA"`
		InkB        int              `json:"inkB"`
		Diff        browserPixelDiff `json:"diff"`
		LateJoinMs  int              `json:"lateJoinMs"`
		Exports     map[string]struct {
			Path     string `json:"path"`
			Download string `json:"download"`
			Status   int    `json:"status"`
			Lines    int    `json:"lines"`
			SVG      bool   `json:"svg"`
		} `json:"exports"`
	}
	runBrowserScript(t, "memory-latejoin.mjs", &r)
	r.check(t)
	if r.StrokesSeen != r.Strokes {
		t.Errorf("late joiner's log has %d strokes, want %d", r.StrokesSeen, r.Strokes)
	}
	if r.InkA < 10000 {
		t.Errorf("the drawing page shows %d ink pixels, want at least 10000", r.InkA)
	}
	// Both pages paint the same pieces in the same order on same-sized
	// canvases: no pixel may differ.
	if !r.Diff.SameSize || r.Diff.Differing != 0 {
		t.Errorf("late joiner's canvas differs from the drawing page's: %+v (ink %d vs %d)", r.Diff, r.InkB, r.InkA)
	}
	// The export links: the board's SVG and its whole history, as downloads.
	svg, hist := r.Exports["SVG"], r.Exports["History (NDJSON)"]
	if !strings.HasSuffix(svg.Path, "/board.svg") || svg.Download == "" || svg.Status != 200 || !svg.SVG {
		t.Errorf("SVG link: %+v; want a download of <board>/board.svg", svg)
	}
	if !strings.HasSuffix(hist.Path, "/history.ndjson") || hist.Download == "" || hist.Status != 200 || hist.Lines != r.Head {
		t.Errorf("History link: %+v; want a download of <board>/history.ndjson with %d ops", hist, r.Head)
	}
}

// TestBrowserMemoryUndoOwn: Ctrl+Z and Ctrl+Shift+Z act on your own strokes
// only, on every page; the server refuses an undo of someone else's stroke.
func TestBrowserMemoryUndoOwn(t *testing.T) {
	type buttons struct{ Undo, Redo bool }
	var r struct {
		pageErrors
		AStroke             string  `json:"aStroke"`
		BStroke             string  `json:"bStroke"`
		ButtonsBefore       buttons `json:"buttonsBefore"`
		ButtonsAfterDrawing buttons `json:"buttonsAfterDrawing"`
		ButtonsAfterUndo    buttons `json:"buttonsAfterUndo"`
		AfterUndo           struct {
			AOnA int `json:"aOnA"`
			BOnA int `json:"bOnA"`
			AOnB int `json:"aOnB"`
			BOnB int `json:"bOnB"`
		} `json:"afterUndo"`
		AfterRedo struct {
			DiffA int `json:"diffA"`
			DiffB int `json:"diffB"`
		} `json:"afterRedo"`
		Rejection *struct {
			Event  string `json:"event"`
			Reason string `json:"reason"`
		} `json:"rejection"`
		HeadBefore int      `json:"headBefore"`
		HeadAfter  int      `json:"headAfter"`
		BStillOnA  int      `json:"bStillOnA"`
		BStillOnB  int      `json:"bStillOnB"`
		UndoneOnB  []string `json:"undoneOnB"`
	}
	runBrowserScript(t, "memory-undo.mjs", &r)
	r.check(t)
	if r.AStroke == "" || r.BStroke == "" || r.AStroke == r.BStroke {
		t.Fatalf("stroke ids %q (A) and %q (B): want two different strokes", r.AStroke, r.BStroke)
	}
	if r.ButtonsBefore != (buttons{}) || r.ButtonsAfterDrawing != (buttons{Undo: true}) || r.ButtonsAfterUndo != (buttons{Redo: true}) {
		t.Errorf("Undo/Redo enabled: %+v on an empty board, %+v after drawing, %+v after undoing; want none, Undo, Redo",
			r.ButtonsBefore, r.ButtonsAfterDrawing, r.ButtonsAfterUndo)
	}
	u := r.AfterUndo
	if u.AOnA != 0 || u.AOnB != 0 || u.BOnA < 200 || u.BOnB < 200 {
		t.Errorf("after A's Ctrl+Z: A's stroke %d/%d pixels (A/B), B's %d/%d; want A's gone and B's kept",
			u.AOnA, u.AOnB, u.BOnA, u.BOnB)
	}
	if r.AfterRedo.DiffA != 0 || r.AfterRedo.DiffB != 0 {
		t.Errorf("after Ctrl+Shift+Z the canvases differ from before the undo by %d (A) and %d (B) pixels",
			r.AfterRedo.DiffA, r.AfterRedo.DiffB)
	}
	if r.Rejection == nil {
		t.Errorf("A's crafted undo of B's stroke was not rejected")
	}
	if r.HeadAfter != r.HeadBefore || r.BStillOnA < 200 || r.BStillOnB < 200 || len(r.UndoneOnB) != 0 {
		t.Errorf("after A's crafted undo of B's stroke: head %d → %d, B's stroke %d/%d pixels, undone on B %q",
			r.HeadBefore, r.HeadAfter, r.BStillOnA, r.BStillOnB, r.UndoneOnB)
	}
}

// TestBrowserMemoryClear: "Clear board" empties every page and says who did
// it; the clearer's Ctrl+Z restores the board on every page.
func TestBrowserMemoryClear(t *testing.T) {
	var r struct {
		pageErrors
		Dialog *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"dialog"`
		NoticeOnB string `json:"noticeOnB"`
		InkBefore struct {
			A int `json:"a"`
			B int `json:"b"`
		} `json:"inkBefore"`
		Restored struct {
			DiffA int `json:"diffA"`
			DiffB int `json:"diffB"`
		} `json:"restored"`
	}
	runBrowserScript(t, "memory-clear.mjs", &r)
	r.check(t)
	if r.Dialog == nil || r.Dialog.Type != "confirm" || r.Dialog.Message != "Clear the board for everyone?" {
		t.Errorf("clearing asked %+v, want confirm(\"Clear the board for everyone?\")", r.Dialog)
	}
	if r.NoticeOnB != "Alice cleared the board" {
		t.Errorf("the other page said %q, want \"Alice cleared the board\"", r.NoticeOnB)
	}
	if r.InkBefore.A < 1000 || r.Restored.DiffA != 0 || r.Restored.DiffB != 0 {
		t.Errorf("after undoing the clear the canvases differ from before by %d (A) and %d (B) pixels (ink before: %d)",
			r.Restored.DiffA, r.Restored.DiffB, r.InkBefore.A)
	}
}

// TestBrowserMemoryReload: a reloaded page shows its drawing from the log and
// can still undo its own strokes.
func TestBrowserMemoryReload(t *testing.T) {
	var r struct {
		pageErrors
		Strokes         []string `json:"strokes"`
		AuthorBefore    string   `json:"authorBefore"`
		AuthorAfter     string   `json:"authorAfter"`
		OwnAfterReload  []string `json:"ownAfterReload"`
		DiffAfterReload int      `json:"diffAfterReload"`
		Undone          []string `json:"undone"`
		RedoBefore      bool     `json:"redoBeforeNewStroke"`
		RedoAfter       bool     `json:"redoAfterNewStroke"`
	}
	runBrowserScript(t, "memory-reload.mjs", &r)
	r.check(t)
	if r.AuthorBefore == "" || r.AuthorAfter != r.AuthorBefore {
		t.Errorf("author id %q before the reload, %q after; want the same", r.AuthorBefore, r.AuthorAfter)
	}
	if len(r.Strokes) != 2 || len(r.OwnAfterReload) != 2 {
		t.Errorf("own strokes: %q before the reload, %q after; want the same two", r.Strokes, r.OwnAfterReload)
	}
	if r.DiffAfterReload != 0 {
		t.Errorf("the reloaded canvas differs from before by %d pixels", r.DiffAfterReload)
	}
	if len(r.Undone) != 2 {
		t.Errorf("after Undo and Ctrl+Z on the reloaded page, undone strokes are %q; want both", r.Undone)
	}
	if !r.RedoBefore || r.RedoAfter {
		t.Errorf("Redo enabled: %v with two strokes undone, %v after a new stroke; want true, then false", r.RedoBefore, r.RedoAfter)
	}
}

// TestBrowserMemoryOffline: a stroke drawn offline shows faded, and reaches
// the other page exactly once after reconnecting.
func TestBrowserMemoryOffline(t *testing.T) {
	type opacity struct {
		Opaque      int `json:"opaque"`
		Translucent int `json:"translucent"`
		Matching    int `json:"matching"`
	}
	var r struct {
		pageErrors
		SocketDropped   bool    `json:"socketDropped"`
		Stroke          string  `json:"stroke"`
		PieceCount      int     `json:"pieceCount"`
		FadedOnA        opacity `json:"fadedOnA"`
		OnBWhileOffline int     `json:"onBWhileOffline"`
		OnBStillOffline int     `json:"onBStillOffline"`
		ReconnectMs     int     `json:"reconnectMs"`
		ArrivedMs       int     `json:"arrivedMs"`
		OnBNow          int     `json:"onBNow"`
		OnBKeys         int     `json:"onBKeys"`
		OnBMatching     int     `json:"onBMatching"`
		Stored          int     `json:"stored"`
		StoredKeys      int     `json:"storedKeys"`
		SavedOnA        opacity `json:"savedOnA"`
		PendingAfter    int     `json:"pendingAfter"`
	}
	runBrowserScript(t, "memory-offline.mjs", &r)
	r.check(t)
	if !r.SocketDropped {
		t.Logf("going offline did not close the websocket; the script cut it")
	}
	if r.Stroke == "" || r.PieceCount < 2 {
		t.Fatalf("offline stroke %q has %d pending pieces, want at least 2", r.Stroke, r.PieceCount)
	}
	if r.FadedOnA.Opaque != 0 || r.FadedOnA.Translucent < 1000 {
		t.Errorf("offline stroke on A: %d opaque and %d translucent pixels; want it all faded", r.FadedOnA.Opaque, r.FadedOnA.Translucent)
	}
	if r.OnBWhileOffline != 0 || r.OnBStillOffline != 0 {
		t.Errorf("B had %d/%d pieces of the stroke while A was offline, want 0", r.OnBWhileOffline, r.OnBStillOffline)
	}
	if r.OnBNow != r.PieceCount || r.OnBKeys != r.PieceCount || r.Stored != r.PieceCount || r.StoredKeys != r.PieceCount {
		t.Errorf("after reconnecting: B holds %d pieces (%d distinct), the server %d (%d distinct); want each of the %d once",
			r.OnBNow, r.OnBKeys, r.Stored, r.StoredKeys, r.PieceCount)
	}
	if r.OnBMatching < 200 || r.SavedOnA.Matching < 200 || r.PendingAfter != 0 {
		t.Errorf("after reconnecting: %d stroke pixels on B, %d opaque on A, %d pieces still pending on A",
			r.OnBMatching, r.SavedOnA.Matching, r.PendingAfter)
	}
	if r.ArrivedMs > 10000 {
		t.Errorf("the stroke reached B %d ms after A came back online, want within 10 s", r.ArrivedMs)
	}
}

// TestBrowserMemoryReplay: a replay shows that it plays, changes nothing, and
// gives back the live board, with what arrived meanwhile, when it ends or stops.
func TestBrowserMemoryReplay(t *testing.T) {
	var r struct {
		pageErrors
		Shown *struct {
			Badge  string `json:"badge"`
			Button string `json:"button"`
		} `json:"shown"`
		StopButtonVisible bool   `json:"stopButtonVisible"`
		AfterEnd          int    `json:"afterEnd"`
		ButtonAfter       string `json:"buttonAfter"`
		StillReplaying    bool   `json:"stillReplaying"`
		AfterStopVsOther  int    `json:"afterStopVsOther"`
		AfterStopVsBefore int    `json:"afterStopVsBefore"`
		HeadBefore        int    `json:"headBefore"`
		HeadB             int    `json:"headB"`
		HeadAfter         int    `json:"headAfter"`
		StoredOps         int    `json:"storedOps"`
	}
	runBrowserScript(t, "memory-replay.mjs", &r)
	r.check(t)
	if r.Shown == nil || r.Shown.Button != "Stop" || !r.StopButtonVisible {
		t.Errorf("while replaying the page showed %+v (Stop visible: %v); want a Stop button and a badge", r.Shown, r.StopButtonVisible)
	}
	if r.AfterEnd != 0 || r.ButtonAfter != "Replay" {
		t.Errorf("after the replay ended the canvas differs from before by %d pixels; button says %q", r.AfterEnd, r.ButtonAfter)
	}
	if !r.StillReplaying || r.AfterStopVsOther != 0 || r.AfterStopVsBefore == 0 {
		t.Errorf("stopped replay: still replaying when the other stroke came %v; differs from the other page by %d pixels, from before by %d",
			r.StillReplaying, r.AfterStopVsOther, r.AfterStopVsBefore)
	}
	if r.HeadAfter != r.HeadB || r.StoredOps != r.HeadB || r.HeadBefore >= r.HeadB {
		t.Errorf("log heads: %d before, %d after the other page drew, %d at the end, %d ops stored; the replays must add none",
			r.HeadBefore, r.HeadB, r.HeadAfter, r.StoredOps)
	}
}

// browserFlakyStore is a memory store whose appends fail while failing is set, as a
// full or unplugged disk would.
type browserFlakyStore struct {
	draw.Store
	failing atomic.Bool
}

func (s *browserFlakyStore) Append(ctx context.Context, ops []draw.Op) error {
	if s.failing.Load() {
		return errors.New("disk unplugged (test)")
	}
	return s.Store.Append(ctx, ops)
}

// TestBrowserMemoryStorageFails: while the store fails, drawing stays live
// and the drawer says "Not saved"; when it works again the drawer's pieces
// are stored once each and the pages agree to the pixel.
func TestBrowserMemoryStorageFails(t *testing.T) {
	needBrowser(t)
	st := &browserFlakyStore{Store: draw.NewMemoryStore()}
	cfg := testConfig(t)
	cfg.Store = st
	ts := startServer(t, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), browserScriptTimeout)
	defer cancel()
	script := filepath.Join("e2e", "browser", "memory-storage.mjs")
	cmd := exec.CommandContext(ctx, "node", script, ts.URL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	var phases []string
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		line := sc.Bytes()
		stdout.Write(line)
		stdout.WriteByte('\n')
		switch {
		case bytes.Contains(line, []byte(`"phase":"fail"`)):
			st.failing.Store(true)
		case bytes.Contains(line, []byte(`"phase":"recover"`)):
			st.failing.Store(false)
		default:
			continue
		}
		phases = append(phases, string(line))
		if _, err := stdin.Write([]byte("ok\n")); err != nil {
			t.Fatalf("answering %s: %v", line, err)
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node %s: %v (timed out: %v)\nstdout:\n%s\nstderr:\n%s", script, err, ctx.Err() != nil, stdout.String(), stderr.String())
	}
	if len(phases) != 2 {
		t.Fatalf("%s went through phases %q, want fail and recover", script, phases)
	}

	var r struct {
		pageErrors
		Status       string `json:"status"`
		PendingOnA   int    `json:"pendingOnA"`
		LiveOnB      int    `json:"liveOnB"`
		CommittedOnB int    `json:"committedOnB"`
		PieceCount   int    `json:"pieceCount"`
		OnB          int    `json:"onB"`
		OnBKeys      int    `json:"onBKeys"`
		Stored       int    `json:"stored"`
		StoredKeys   int    `json:"storedKeys"`
		Diff         int    `json:"diff"`
	}
	decodeResult(t, script, stdout.Bytes(), &r)
	r.check(t)
	if !strings.HasPrefix(r.Status, "Not saved") || !strings.Contains(r.Status, "disk unplugged") {
		t.Errorf("the drawing page said %q while saving failed, want \"Not saved\" with the store's reason", r.Status)
	}
	if r.PendingOnA < 2 || r.LiveOnB < 200 || r.CommittedOnB != 0 {
		t.Errorf("while saving failed: %d pieces pending on A, %d stroke pixels live on B, %d committed there; want pending, shown, none committed",
			r.PendingOnA, r.LiveOnB, r.CommittedOnB)
	}
	if r.OnB != r.PieceCount || r.OnBKeys != r.PieceCount || r.Stored != r.PieceCount || r.StoredKeys != r.PieceCount {
		t.Errorf("after saving resumed: B holds %d pieces (%d distinct), the server %d (%d distinct); want each of the %d once",
			r.OnB, r.OnBKeys, r.Stored, r.StoredKeys, r.PieceCount)
	}
	if r.Diff != 0 {
		t.Errorf("after saving resumed the pages differ in %d pixels", r.Diff)
	}
}
