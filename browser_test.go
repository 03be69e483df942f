package main

// Browser tests: headless Chromium (driven by the Node scripts in
// e2e/browser/) uses the real pages against a real server. Each script prints
// one JSON object; these tests check it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/drawing/draw/draw"
)

// browserScriptTimeout bounds one script: a browser start plus a few strokes
// at a human pace, with every wait inside bounded at 10 s.
const browserScriptTimeout = 90 * time.Second

// chromiumPath is Debian's Chromium; CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// needBrowser skips the test when there is no browser to drive.
func needBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are skipped in -short mode")
	}
	if _, err := os.Stat(chromiumPath()); err != nil {
		t.Skipf("no Chromium at %s (apt-get install chromium, or set CHROMIUM): %v", chromiumPath(), err)
	}
	if _, err := os.Stat("node_modules/playwright-core"); err != nil {
		t.Fatalf("node_modules/playwright-core is missing: run `npm ci`")
	}
}

// runBrowserScript starts a server, runs e2e/browser/<script> against it and
// decodes the script's JSON into out.
func runBrowserScript(t *testing.T, script string, out any, args ...string) {
	t.Helper()
	needBrowser(t)
	ts := startServer(t, testConfig(t))
	stdout := runNode(t, browserScriptTimeout, filepath.Join("e2e", "browser", script), append([]string{ts.URL}, args...)...)
	decodeResult(t, script, stdout, out)
}

// decodeResult decodes the last line a script printed.
func decodeResult(t *testing.T, script string, stdout []byte, out any) {
	t.Helper()
	lines := bytes.Split(bytes.TrimSpace(stdout), []byte("\n"))
	last := lines[len(lines)-1]
	if err := json.Unmarshal(last, out); err != nil {
		t.Fatalf("%s printed no JSON result: %v\n%s", script, err, stdout)
	}
	t.Logf("%s: %s", script, last)
}

// pageErrors is what every script reports besides its own fields.
type pageErrors struct {
	OK     bool     `json:"ok"`
	Errors []string `json:"errors"`
}

func (p pageErrors) check(t *testing.T) {
	t.Helper()
	if !p.OK {
		t.Errorf("script did not report ok")
	}
	if len(p.Errors) > 0 {
		t.Errorf("the pages logged errors: %q", p.Errors)
	}
}

type box struct{ X0, Y0, X1, Y1 float64 }

type point struct{ X, Y float64 }

// TestBrowserClassicPage is issue 2 on the original page: a drag on one page
// draws on the other and shows a pointer there, which goes when the first
// page closes.
func TestBrowserClassicPage(t *testing.T) {
	var r struct {
		pageErrors
		BlankBefore         int  `json:"blankBefore"`
		Ink                 int  `json:"ink"`
		Box                 *box `json:"box"`
		PointersBeforeClose int  `json:"pointersBeforeClose"`
		PointersAfterClose  int  `json:"pointersAfterClose"`
	}
	runBrowserScript(t, "classic.mjs", &r)
	r.check(t)
	if r.BlankBefore != 0 {
		t.Errorf("receiver's canvas had %d ink pixels before anything was drawn", r.BlankBefore)
	}
	if r.Ink < 100 || r.Box == nil {
		t.Fatalf("receiver shows %d ink pixels of the stroke, want at least 100", r.Ink)
	}
	// Drawn from (300,300) to (700,450); the original page loses the first
	// segment of a stroke, so only the far end is pinned down.
	if math.Abs(r.Box.X1-700) > 3 || math.Abs(r.Box.Y1-450) > 3 {
		t.Errorf("stroke ends at (%v,%v) on the receiver, want about (700,450)", r.Box.X1, r.Box.Y1)
	}
	if r.PointersBeforeClose != 1 || r.PointersAfterClose != 0 {
		t.Errorf("receiver's pointers: %d before the sender closed, %d after; want 1 and 0",
			r.PointersBeforeClose, r.PointersAfterClose)
	}
}

// TestBrowserNamedBoard: two new pages on /b/<name>; colour, name label,
// presence, and the pointer going away when the sender leaves.
func TestBrowserNamedBoard(t *testing.T) {
	var r struct {
		pageErrors
		Board               string   `json:"board"`
		ShownBoard          string   `json:"shownBoard"`
		PeopleListed        []string `json:"peopleListed"`
		Matching            int      `json:"matching"`
		Label               string   `json:"label"`
		PointersBeforeClose int      `json:"pointersBeforeClose"`
		PointersAfterClose  int      `json:"pointersAfterClose"`
		PeopleAfterClose    int      `json:"peopleAfterClose"`
	}
	runBrowserScript(t, "board.mjs", &r)
	r.check(t)
	if r.ShownBoard != r.Board {
		t.Errorf("page shows board %q, want %q", r.ShownBoard, r.Board)
	}
	if len(r.PeopleListed) != 2 || !slices.Contains(r.PeopleListed, "Alice") {
		t.Errorf("receiver lists %q, want itself and Alice", r.PeopleListed)
	}
	if r.Matching < 200 {
		t.Errorf("receiver has %d pixels in the sender's colour, want at least 200", r.Matching)
	}
	if r.Label != "Alice" {
		t.Errorf("remote pointer label is %q, want Alice", r.Label)
	}
	if r.PointersBeforeClose != 1 || r.PointersAfterClose != 0 {
		t.Errorf("receiver's pointers: %d before the sender closed, %d after; want 1 and 0",
			r.PointersBeforeClose, r.PointersAfterClose)
	}
	if r.PeopleAfterClose != 1 {
		t.Errorf("receiver counts %d people after the sender left, want 1", r.PeopleAfterClose)
	}
}

// TestBrowserTouch: a finger drag draws on another page, and the page does not
// scroll or zoom under the finger.
func TestBrowserTouch(t *testing.T) {
	var r struct {
		pageErrors
		PointerTypes  []string  `json:"pointerTypes"`
		TouchAction   string    `json:"touchAction"`
		ScrollBefore  []float64 `json:"scrollBefore"`
		ScrollAfter   []float64 `json:"scrollAfter"`
		Matching      int       `json:"matching"`
		LocalMatching int       `json:"localMatching"`
	}
	runBrowserScript(t, "touch.mjs", &r)
	r.check(t)
	if len(r.PointerTypes) == 0 || slices.ContainsFunc(r.PointerTypes, func(s string) bool { return s != "touch" }) {
		t.Errorf("the stroke came as pointer types %q, want only touch", r.PointerTypes)
	}
	if r.TouchAction != "none" {
		t.Errorf("canvas touch-action is %q, want none", r.TouchAction)
	}
	if !slices.Equal(r.ScrollBefore, r.ScrollAfter) {
		t.Errorf("scroll/zoom changed from %v to %v while drawing", r.ScrollBefore, r.ScrollAfter)
	}
	if r.Matching < 200 || r.LocalMatching < 200 {
		t.Errorf("pixels in the stroke's colour: %d on the other page, %d on the touch page; want at least 200 each",
			r.Matching, r.LocalMatching)
	}
}

// TestBrowserViewportSizes: windows of different sizes and pixel densities
// agree on where a stroke is, in board coordinates.
func TestBrowserViewportSizes(t *testing.T) {
	type view struct {
		CSSWidth      float64 `json:"cssWidth"`
		BackingWidth  float64 `json:"backingWidth"`
		BackingHeight float64 `json:"backingHeight"`
		DPR           float64 `json:"dpr"`
		Box           *box    `json:"box"`
		Centroid      *point  `json:"centroid"`
	}
	var r struct {
		pageErrors
		Drawn struct {
			From, To point
			Width    float64
		} `json:"drawn"`
		Sender   view `json:"sender"`
		Receiver view `json:"receiver"`
	}
	runBrowserScript(t, "viewport.mjs", &r)
	r.check(t)
	s, v := r.Sender, r.Receiver
	if s.CSSWidth == v.CSSWidth {
		t.Fatalf("both canvases are %v CSS pixels wide: the test needs different sizes", s.CSSWidth)
	}
	if v.DPR != 2 || v.BackingWidth != 2*v.CSSWidth {
		t.Errorf("receiver at devicePixelRatio %v has a %v-pixel backing store for %v CSS pixels, want 2x",
			v.DPR, v.BackingWidth, v.CSSWidth)
	}
	if s.Box == nil || v.Box == nil || v.Centroid == nil {
		t.Fatalf("stroke missing: sender box %v, receiver box %v", s.Box, v.Box)
	}
	// One backing pixel of the smaller canvas is 2000/BackingWidth board units;
	// allow that plus the line's round caps.
	tol := 2 + 2*2000/min(s.BackingWidth, v.BackingWidth)
	half := r.Drawn.Width / 2
	want := box{r.Drawn.From.X - half, r.Drawn.From.Y - half, r.Drawn.To.X + half, r.Drawn.To.Y + half}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"left end", v.Box.X0, want.X0}, {"right end", v.Box.X1, want.X1},
		{"top edge", v.Box.Y0, want.Y0}, {"bottom edge", v.Box.Y1, want.Y1},
		{"centre x", v.Centroid.X, (r.Drawn.From.X + r.Drawn.To.X) / 2}, {"centre y", v.Centroid.Y, r.Drawn.From.Y},
		{"left end vs sender", v.Box.X0, s.Box.X0}, {"right end vs sender", v.Box.X1, s.Box.X1},
		{"top edge vs sender", v.Box.Y0, s.Box.Y0}, {"bottom edge vs sender", v.Box.Y1, s.Box.Y1},
	} {
		if math.Abs(c.got-c.want) > tol {
			t.Errorf("receiver's %s at %v board units, want %v ± %.1f", c.what, c.got, c.want, tol)
		}
	}
}

// TestBrowserClassicAndNewPage: the original page and the new page, both on
// the default board, see each other's strokes.
func TestBrowserClassicAndNewPage(t *testing.T) {
	var r struct {
		pageErrors
		OnNew struct {
			Ink int  `json:"ink"`
			Box *box `json:"box"`
		} `json:"onNew"`
		OldLabel string `json:"oldLabel"`
		OnOld    struct {
			Ink int  `json:"ink"`
			Box *box `json:"box"`
		} `json:"onOld"`
		PointersOnNewAfterClose int `json:"pointersOnNewAfterClose"`
	}
	runBrowserScript(t, "mixed.mjs", &r)
	r.check(t)
	if r.OnNew.Ink < 50 {
		t.Errorf("new page shows %d ink pixels of the original page's stroke, want at least 50", r.OnNew.Ink)
	}
	if r.OnOld.Ink < 100 {
		t.Errorf("original page shows %d ink pixels of the new page's stroke, want at least 100", r.OnOld.Ink)
	}
	// The new page drew from (800,300) to (1200,500) in board units; the
	// original page draws them as page pixels 1:1.
	if b := r.OnOld.Box; b != nil && (math.Abs(b.X0-800) > 4 || math.Abs(b.X1-1200) > 4 || math.Abs(b.Y0-300) > 4 || math.Abs(b.Y1-500) > 4) {
		t.Errorf("original page drew the stroke in %+v, want about (800,300)-(1200,500)", *b)
	}
	if r.OldLabel != "Guest" {
		t.Errorf("the original page's pointer is labelled %q on the new page, want Guest", r.OldLabel)
	}
	if r.PointersOnNewAfterClose != 0 {
		t.Errorf("new page still shows %d pointers after the original page closed", r.PointersOnNewAfterClose)
	}
}

// TestBrowserScreenshot draws with two people and keeps pictures of both views
// in test-artifacts/. DRAW_UPDATE_SCREENSHOT=1 also refreshes docs/screenshot.png.
func TestBrowserScreenshot(t *testing.T) {
	var r struct {
		pageErrors
		Files []struct {
			Path  string `json:"path"`
			Bytes int64  `json:"bytes"`
		} `json:"files"`
	}
	args := []string{"test-artifacts"}
	if os.Getenv("DRAW_UPDATE_SCREENSHOT") == "1" {
		args = append(args, filepath.Join("docs", "screenshot.png"))
	}
	runBrowserScript(t, "screenshot.mjs", &r, args...)
	r.check(t)
	if len(r.Files) < 2 {
		t.Fatalf("script wrote %d screenshots, want 2", len(r.Files))
	}
	for _, f := range r.Files {
		st, err := os.Stat(f.Path)
		if err != nil || st.Size() == 0 {
			t.Errorf("screenshot %s: %v (size %d)", f.Path, err, f.Bytes)
		}
		if filepath.Dir(f.Path) == "docs" && st != nil && st.Size() > 300<<10 {
			t.Errorf("%s is %d bytes; keep it under 300 KB", f.Path, st.Size())
		}
	}
}

// TestBrowserReconnect restarts the server on the same address under two open
// pages: they show the outage, reconnect by themselves, say hello again and
// draw again.
func TestBrowserReconnect(t *testing.T) {
	needBrowser(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	stop := serveOn(t, ln)
	t.Cleanup(func() { stop() })

	ctx, cancel := context.WithTimeout(context.Background(), browserScriptTimeout)
	defer cancel()
	script := filepath.Join("e2e", "browser", "reconnect.mjs")
	cmd := exec.CommandContext(ctx, "node", script, "http://"+addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	restarted := false
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		stdout.Write(sc.Bytes())
		stdout.WriteByte('\n')
		if !restarted && bytes.Contains(sc.Bytes(), []byte(`"phase":"ready"`)) {
			restarted = true
			stop()
			stop = serveOn(t, listenAgain(t, addr))
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node %s: %v (timed out: %v)\nstdout:\n%s\nstderr:\n%s", script, err, ctx.Err() != nil, stdout.String(), stderr.String())
	}
	if !restarted {
		t.Fatalf("%s never said it was ready for the restart:\n%s", script, stdout.String())
	}

	var r struct {
		pageErrors
		StatesA  []string `json:"statesA"`
		StatesB  []string `json:"statesB"`
		People   []string `json:"people"`
		Matching int      `json:"matching"`
	}
	decodeResult(t, script, stdout.Bytes(), &r)
	r.check(t)
	for _, states := range [][]string{r.StatesA, r.StatesB} {
		if len(states) < 2 || states[0] == "connected" || states[len(states)-1] != "connected" {
			t.Errorf("connection indicator went through %q, want a lost state and then connected", states)
		}
	}
	if !slices.Contains(r.People, "Rita") {
		t.Errorf("after the restart the second page lists %q, want Rita among them", r.People)
	}
	if r.Matching < 200 {
		t.Errorf("after the restart the second page has %d pixels of the new stroke, want at least 200", r.Matching)
	}
}

// serveOn runs a fresh server (with the original page at /classic/, as the
// harness does) on ln and returns a func that shuts it down.
func serveOn(t *testing.T, ln net.Listener) (stop func()) {
	t.Helper()
	srv, err := draw.New(testConfig(t))
	if err != nil {
		t.Fatalf("draw.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/classic/", http.StripPrefix("/classic/", http.FileServer(http.Dir("testdata/original"))))
	mux.Handle("/", srv.Handler())
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			hs.Close()
		})
	}
}

// listenAgain binds addr again right after the previous server let it go.
func listenAgain(t *testing.T, addr string) net.Listener {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln
		}
		if time.Now().After(deadline) {
			t.Fatalf("cannot listen on %s again: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
