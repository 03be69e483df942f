package main

// The HTTP API under /api/ (README "Use it from your app"), its live feed
// and webhooks, as an app's developer sees them. Helpers here start with api.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/jwt"
	"github.com/drawing/draw/draw/webhook"
)

const apiKey = "test-api-key-0123456789abcdef"

var apiTokenSecret = []byte("api-test-token-secret-32-bytes-or-more!!")

// apiServer starts a server that takes the API key and tokens signed with
// apiTokenSecret; edit changes its config first.
func apiServer(t *testing.T, edit func(*draw.Config)) *testServer {
	t.Helper()
	v, err := jwt.New(apiTokenSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.APIKey, cfg.Tokens = apiKey, v
	if edit != nil {
		edit(&cfg)
	}
	return startServer(t, cfg)
}

// apiAddr is the server's host:port, as durJoin takes it.
func apiAddr(ts *testServer) string { return strings.TrimPrefix(ts.URL, "http://") }

// apiToken mints a token for role on board, valid for an hour.
func apiToken(t testing.TB, board string, role draw.Role, name, sub string) string {
	t.Helper()
	tok, err := jwt.Mint(apiTokenSecret, draw.Grant{Board: board, Role: role, Name: name, Subject: sub, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var apiHTTP = &http.Client{Timeout: 10 * time.Second}

// apiDo sends one request with cred as the bearer credential (none if
// empty). body is sent as is when it is a string or []byte, else as JSON.
func apiDo(t testing.TB, method, u, cred string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := apiHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, u, err)
	}
	return resp.StatusCode, resp.Header, out
}

// apiOK does a request that must answer want and decodes its JSON into v
// (if not nil).
func apiOK(t testing.TB, method, u, cred string, body any, want int, v any) {
	t.Helper()
	code, _, out := apiDo(t, method, u, cred, body)
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, u, code, want, out)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, u, err, out)
		}
	}
}

// apiWantError checks that a request fails with status and a JSON
// {"error": "..."} that contains each of the words.
func apiWantError(t testing.TB, method, u, cred string, body any, status int, words ...string) http.Header {
	t.Helper()
	code, hdr, out := apiDo(t, method, u, cred, body)
	if code != status {
		t.Errorf("%s %s: status %d, want %d: %s", method, u, code, status, out)
		return hdr
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, u, ct)
	}
	var e map[string]any
	if err := json.Unmarshal(out, &e); err != nil || len(e) != 1 {
		t.Errorf(`%s %s: body %q is not {"error": "..."} (%v)`, method, u, out, err)
		return hdr
	}
	msg, _ := e["error"].(string)
	if msg == "" {
		t.Errorf(`%s %s: body %q has no "error" string`, method, u, out)
	}
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("%s %s: error %q does not say %q", method, u, msg, w)
		}
	}
	return hdr
}

// apiStrokes is a draw request's body with one stroke per points list.
func apiStrokes(points ...[]float64) map[string]any {
	var ss []map[string]any
	for i, p := range points {
		ss = append(ss, map[string]any{"color": fmt.Sprintf("#00%02x00", i), "width": 3, "points": p})
	}
	return map[string]any{"strokes": ss}
}

// apiDrawn is what the API answers to a draw.
type apiDrawn struct {
	Board   string   `json:"board"`
	Strokes []string `json:"strokes"`
	Seqs    []int64  `json:"seqs"`
}

// apiDetails is a board as GET /api/boards/{board} describes it.
type apiDetails struct {
	Board    string            `json:"board"`
	Head     int64             `json:"head"`
	Updated  time.Time         `json:"updated"`
	People   int               `json:"people"`
	Users    []json.RawMessage `json:"users"`
	Segments *int64            `json:"segments"`
	Strokes  *int              `json:"strokes"`
	Locked   *bool             `json:"locked"`
}

// TestAPIAuthAndErrors: every way a request can go wrong answers the status
// that says what kind of problem it is, with a JSON error that says which.
func TestAPIAuthAndErrors(t *testing.T) {
	ts := apiServer(t, func(c *draw.Config) { c.MaxBoardSegments = 5 })
	api := ts.URL + "/api/boards"
	line := []float64{10, 10, 20, 20} // one segment

	// A board somebody drew on, for the cases that need one.
	apiOK(t, "POST", api+"/maths/strokes", apiKey, apiStrokes(line), http.StatusCreated, nil)

	t.Run("401", func(t *testing.T) {
		expired, err := jwt.Mint(apiTokenSecret, draw.Grant{Board: "maths", Role: draw.RoleOwner, Expires: time.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, cred string
			words      []string
		}{
			{"no credentials", "", []string{"missing credentials", "Authorization: Bearer"}},
			{"wrong key", "not-the-key", []string{"neither the API key nor a valid token"}},
			{"expired token", expired, []string{"token expired at"}},
		} {
			hdr := apiWantError(t, "GET", api+"/maths", c.cred, nil, http.StatusUnauthorized, c.words...)
			if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: 401 without WWW-Authenticate: Bearer (got %q)", c.name, hdr.Get("WWW-Authenticate"))
			}
		}
		// The scheme is case-insensitive.
		req, _ := http.NewRequest("GET", api+"/maths", nil)
		req.Header.Set("Authorization", "bearer "+apiKey)
		resp, err := apiHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf(`"Authorization: bearer <key>": status %d, want 200`, resp.StatusCode)
		}
	})

	t.Run("403", func(t *testing.T) {
		view := apiToken(t, "maths", draw.RoleView, "Viewer", "")
		drawTok := apiToken(t, "maths", draw.RoleDraw, "Drawer", "")
		apiWantError(t, "GET", api+"/physics", drawTok, nil, http.StatusForbidden, `token is for board "maths", not "physics"`)
		apiWantError(t, "POST", api+"/maths/strokes", view, apiStrokes(line), http.StatusForbidden, `role is "view"`, `needs "draw"`)
		apiWantError(t, "POST", api+"/maths/clear", view, nil, http.StatusForbidden, `role is "view"`)
		apiWantError(t, "POST", api+"/maths/lock", drawTok, nil, http.StatusForbidden, `role is "draw"`, `needs "owner"`)
		apiWantError(t, "DELETE", api+"/maths", drawTok, nil, http.StatusForbidden, `needs "owner"`)
		apiWantError(t, "GET", api, drawTok, nil, http.StatusForbidden, "listing boards needs the API key")
		// What it may do, it can.
		apiOK(t, "GET", api+"/maths", view, nil, http.StatusOK, nil)
	})

	t.Run("404", func(t *testing.T) {
		apiWantError(t, "GET", api+"/nobody-here", apiKey, nil, http.StatusNotFound, `no board "nobody-here"`)
		apiWantError(t, "DELETE", api+"/nobody-here", apiKey, nil, http.StatusNotFound, `no board "nobody-here"`)
		apiWantError(t, "GET", ts.URL+"/api/nope", apiKey, nil, http.StatusNotFound, "no such API endpoint")
		apiWantError(t, "GET", api+"/maths/nope", apiKey, nil, http.StatusNotFound, "no such API endpoint")
	})

	t.Run("400", func(t *testing.T) {
		u := api + "/maths/strokes"
		apiWantError(t, "GET", api+"/not.a.board", apiKey, nil, http.StatusBadRequest, "invalid board name")
		apiWantError(t, "POST", u, apiKey, `{"strokes": [`, http.StatusBadRequest, "not the JSON expected")
		apiWantError(t, "POST", u, apiKey, "", http.StatusBadRequest, "body is empty")
		apiWantError(t, "POST", u, apiKey, `{"strokes": [{"color": "#000000", "width": 2, "points": [1, 2]}], "colour": "red"}`,
			http.StatusBadRequest, `unknown field "colour"`)
		apiWantError(t, "POST", u, apiKey, `{"strokes": [{"color": "#000000", "width": "wide", "points": [1, 2]}]}`,
			http.StatusBadRequest, "width")
		apiWantError(t, "POST", u, apiKey, `{"strokes": []}`, http.StatusBadRequest, "1 to 100 strokes")
		bad := func(k int, field string, v any) map[string]any {
			body := apiStrokes(line, line)
			body["strokes"].([]map[string]any)[k][field] = v
			return body
		}
		apiWantError(t, "POST", u, apiKey, bad(0, "color", "red"), http.StatusBadRequest, "stroke 0", "color")
		apiWantError(t, "POST", u, apiKey, bad(1, "width", 0), http.StatusBadRequest, "stroke 1", "width")
		apiWantError(t, "POST", u, apiKey, bad(1, "points", []float64{1, 2, 3}), http.StatusBadRequest, "stroke 1", "points")
		apiWantError(t, "POST", u, apiKey, bad(0, "points", []float64{1, 1e9}), http.StatusBadRequest, "stroke 0", "points")
		// Nothing of a refused request was stored.
		var d apiDetails
		apiOK(t, "GET", api+"/maths", apiKey, nil, http.StatusOK, &d)
		if d.Head != 1 {
			t.Errorf("head is %d after refused draws, want 1", d.Head)
		}
	})

	t.Run("413", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(`{"strokes": [{"color": "#000000", "width": 2, "points": [`)
		for b.Len() < 1<<20+100<<10 {
			b.WriteString("1000.5,")
		}
		b.WriteString("1]}]}")
		apiWantError(t, "POST", api+"/maths/strokes", apiKey, b.String(), http.StatusRequestEntityTooLarge, "over 1048576 bytes")
	})

	t.Run("409", func(t *testing.T) {
		apiOK(t, "POST", api+"/busy/strokes", apiKey, apiStrokes(line), http.StatusCreated, nil)
		durJoin(t, "visitor", apiAddr(ts), "busy", "")
		apiWantError(t, "DELETE", api+"/busy", apiKey, nil, http.StatusConflict, "1 people or feeds", "when it is empty")

		// The board holds 5 segments since its last clear: 3 + 3 is too many.
		three := []float64{0, 0, 10, 10, 20, 20, 30, 30}
		apiOK(t, "POST", api+"/full/strokes", apiKey, apiStrokes(three), http.StatusCreated, nil)
		apiWantError(t, "POST", api+"/full/strokes", apiKey, apiStrokes(three), http.StatusConflict, "board is full", "the limit is 5")
		apiOK(t, "POST", api+"/full/clear", apiKey, nil, http.StatusOK, nil)
		apiOK(t, "POST", api+"/full/strokes", apiKey, apiStrokes(three), http.StatusCreated, nil)
		// Two strokes of which only the first fits: the answer says the
		// first went in, so that a retry does not draw it twice.
		apiWantError(t, "POST", api+"/part/strokes", apiKey, apiStrokes(three, three), http.StatusConflict,
			"board is full", "1 of the 2 were stored", "seqs [1]")
		var d apiDetails
		apiOK(t, "GET", api+"/part", apiKey, nil, http.StatusOK, &d)
		if d.Head != 1 || *d.Strokes != 1 {
			t.Errorf("after a half-refused draw: head %d, %d strokes; want 1 and 1", d.Head, *d.Strokes)
		}
	})

	t.Run("429", func(t *testing.T) {
		// A token of its own: the limit is per caller.
		tok := apiToken(t, "rate", draw.RoleView, "Hammer", "")
		ok, limited := 0, false
		var hdr http.Header
		start := time.Now()
		for range 1000 {
			code, h, out := apiDo(t, "GET", api+"/rate", tok, nil)
			if code == http.StatusTooManyRequests {
				limited, hdr = true, h
				var e map[string]string
				if json.Unmarshal(out, &e) != nil || !strings.Contains(e["error"], "too many requests") {
					t.Errorf("429 body %q does not say too many requests", out)
				}
				break
			}
			ok++
		}
		elapsed := time.Since(start)
		if !limited {
			t.Fatalf("no 429 in %d requests in %v", ok, elapsed)
		}
		// A burst of 100, refilled at 50 a second while the loop ran.
		if most := 100 + int(50*elapsed.Seconds()) + 1; ok < 100 || ok > most {
			t.Errorf("%d requests passed before the first 429 in %v; want 100 to %d", ok, elapsed, most)
		}
		if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("429 with Retry-After %q, want a number of seconds ≥ 1", hdr.Get("Retry-After"))
		}
		t.Logf("%d requests before the first 429 (%v)", ok, elapsed)
		// Other callers are not held back.
		apiOK(t, "GET", api+"/maths", apiKey, nil, http.StatusOK, nil)
	})
}

// TestAPIBotStrokes: what a bot draws through the API is what everyone on
// the board sees and what is stored; lock, unlock, clear and delete do what
// they say, within each caller's rights.
func TestAPIBotStrokes(t *testing.T) {
	ts := apiServer(t, nil)
	addr := apiAddr(ts)
	api := ts.URL + "/api/boards/bots"
	peer := durJoin(t, "peer", addr, "bots", "peer-secret-0123456789")

	// seen waits until the peer has the op with seq and returns it.
	seen := func(key string, seq int64) durOp {
		t.Helper()
		var op durOp
		ok := peer.waitFor(10*time.Second, func() bool {
			for _, o := range peer.seen[key] {
				if o.Seq == seq {
					op = o
					return true
				}
			}
			return false
		})
		if !ok {
			t.Fatalf("peer did not get %s with seq %d (it saw %v)", key, seq, peer.seqsOf(key))
		}
		return op
	}
	details := func() apiDetails {
		t.Helper()
		var d apiDetails
		apiOK(t, "GET", api, apiKey, nil, http.StatusOK, &d)
		return d
	}

	a, b := []float64{100, 100, 150, 120, 200, 180}, []float64{300, 300, 320, 340}
	var drawn apiDrawn
	apiOK(t, "POST", api+"/strokes", apiKey, apiStrokes(a, b), http.StatusCreated, &drawn)
	if drawn.Board != "bots" || len(drawn.Strokes) != 2 || !slices.Equal(drawn.Seqs, []int64{1, 2}) {
		t.Fatalf("draw answered %+v; want board bots, 2 stroke ids, seqs [1 2]", drawn)
	}
	for k, pts := range [][]float64{a, b} {
		op := seen(drawn.Strokes[k]+"/0", drawn.Seqs[k])
		if op.Type != "stroke" || op.Author != "app:key" || op.Name != "app" || !slices.Equal(op.Points, pts) || op.Width != 3 {
			t.Errorf("peer got %+v; want a stroke by app:key named app with points %v", op, pts)
		}
	}
	hist := durMustHistory(t, addr, "bots")
	if len(hist) != 2 || hist[0].Stroke != drawn.Strokes[0] || hist[1].Stroke != drawn.Strokes[1] || hist[1].Author != "app:key" {
		t.Errorf("history.ndjson: %+v; want the two strokes by app:key", hist)
	}

	d := details()
	if d.Board != "bots" || d.Head != 2 || *d.Strokes != 2 || *d.Segments != 3 || d.People != 1 || len(d.Users) != 1 || *d.Locked || d.Updated.IsZero() {
		t.Errorf("details: %+v (strokes %d, segments %d); want head 2, 2 strokes, 3 segments, 1 person, unlocked", d, *d.Strokes, *d.Segments)
	}
	var list struct {
		Boards []apiDetails `json:"boards"`
		Next   string       `json:"next"`
	}
	apiOK(t, "GET", ts.URL+"/api/boards", apiKey, nil, http.StatusOK, &list)
	if i := slices.IndexFunc(list.Boards, func(b apiDetails) bool { return b.Board == "bots" }); i < 0 || list.Boards[i].Head != 2 || list.Boards[i].People != 1 {
		t.Errorf("list: %+v; want bots with head 2 and 1 person", list)
	}

	// Locked: the peer may not draw, the API key still does.
	var lock struct {
		Locked bool    `json:"locked"`
		Seqs   []int64 `json:"seqs"`
	}
	apiOK(t, "POST", api+"/lock", apiKey, nil, http.StatusOK, &lock)
	if !lock.Locked || len(lock.Seqs) != 1 {
		t.Errorf("lock answered %+v", lock)
	}
	if d := details(); !*d.Locked {
		t.Errorf("details after lock: locked false")
	}
	piece := &durPiece{Stroke: "peer-stroke-1", Color: "#ff0000", Width: 2, Points: []float64{5, 5, 6, 6}}
	peer.emit(t, "draw", []*durPiece{piece})
	if !peer.waitFor(10*time.Second, func() bool {
		return slices.ContainsFunc(peer.rejected, func(r string) bool { return strings.Contains(r, "locked") })
	}) {
		t.Fatalf("the peer's draw on a locked board was not rejected (rejected: %v)", peer.rejected)
	}
	apiOK(t, "POST", api+"/strokes", apiKey, apiStrokes(a), http.StatusCreated, &drawn)
	seen(drawn.Strokes[0]+"/0", drawn.Seqs[0])
	if s := peer.storedSeq(piece.key()); s != 0 {
		t.Errorf("the peer's piece was stored (seq %d) on a locked board", s)
	}

	// Unlocked: the peer draws again.
	apiOK(t, "POST", api+"/unlock", apiKey, nil, http.StatusOK, &lock)
	if lock.Locked {
		t.Errorf("unlock answered %+v", lock)
	}
	peer.drawAcked(t, []*durPiece{piece})
	if peer.storedSeq(piece.key()) == 0 {
		t.Errorf("the peer's piece was not stored after unlock")
	}

	// Clear: everyone sees it; the board is empty again.
	var cleared struct {
		Clear string  `json:"clear"`
		Seqs  []int64 `json:"seqs"`
	}
	apiOK(t, "POST", api+"/clear", apiKey, nil, http.StatusOK, &cleared)
	if op := seen(cleared.Clear+"/0", cleared.Seqs[0]); op.Type != "clear" || op.Author != "app:key" {
		t.Errorf("peer got %+v for the clear", op)
	}
	if d := details(); *d.Segments != 0 || *d.Strokes != 0 || d.Head != cleared.Seqs[0] {
		t.Errorf("details after clear: head %d, %d strokes, %d segments; want head %d, 0 and 0", d.Head, *d.Strokes, *d.Segments, cleared.Seqs[0])
	}

	// A draw token draws and clears as its holder, but does not lock.
	drawTok := apiToken(t, "bots", draw.RoleDraw, "Bot", "bot-7")
	apiOK(t, "POST", api+"/strokes", drawTok, apiStrokes(b), http.StatusCreated, &drawn)
	if op := seen(drawn.Strokes[0]+"/0", drawn.Seqs[0]); op.Author != "app:bot-7" || op.Name != "Bot" {
		t.Errorf("token's stroke reached the peer as %+v; want author app:bot-7, name Bot", op)
	}
	apiOK(t, "POST", api+"/clear", drawTok, nil, http.StatusOK, nil)
	apiWantError(t, "POST", api+"/lock", drawTok, nil, http.StatusForbidden, `needs "owner"`)
	ownerTok := apiToken(t, "bots", draw.RoleOwner, "Teacher", "t-1")
	apiOK(t, "POST", api+"/lock", ownerTok, nil, http.StatusOK, nil)
	apiWantError(t, "POST", api+"/strokes", drawTok, apiStrokes(b), http.StatusForbidden, "locked")
	apiOK(t, "POST", api+"/strokes", ownerTok, apiStrokes(b), http.StatusCreated, nil)
	apiOK(t, "POST", api+"/unlock", ownerTok, nil, http.StatusOK, nil)

	// Delete once everyone left: the board starts over.
	peer.c.Close()
	for deadline := time.Now().Add(10 * time.Second); details().People != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the peer is still on the board 10 s after it closed")
		}
	}
	if code, _, out := apiDo(t, "DELETE", api, apiKey, nil); code != http.StatusNoContent || len(out) != 0 {
		t.Fatalf("DELETE: status %d %q; want 204 and no body", code, out)
	}
	if h := durMustHistory(t, addr, "bots"); len(h) != 0 {
		t.Errorf("history after delete: %d ops", len(h))
	}
	apiWantError(t, "GET", api, apiKey, nil, http.StatusNotFound, "no board")
	apiOK(t, "POST", api+"/strokes", apiKey, apiStrokes(a), http.StatusCreated, &drawn)
	if !slices.Equal(drawn.Seqs, []int64{1}) {
		t.Errorf("first draw after delete got seqs %v; want [1]", drawn.Seqs)
	}
}

// apiEvent is one Server-Sent Event.
type apiEvent struct {
	Event, ID, Data string
}

// apiFeed is an open SSE stream.
type apiFeed struct {
	resp   *http.Response
	cancel context.CancelFunc
	events chan apiEvent // closed when the stream ends
}

// apiOpenFeed GETs an event stream; hdr are extra request headers.
func apiOpenFeed(t testing.TB, u, cred string, hdr map[string]string) *apiFeed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: status %d: %s", u, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("feed Content-Type %q", ct)
	}
	f := &apiFeed{resp: resp, cancel: cancel, events: make(chan apiEvent, 1024)}
	t.Cleanup(f.close)
	go f.read()
	return f
}

func (f *apiFeed) read() {
	defer close(f.events)
	r := bufio.NewReader(f.resp.Body)
	var e apiEvent
	var data []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch k, v, _ := strings.Cut(line, ": "); {
		case line == "":
			if e.Event != "" || len(data) > 0 {
				e.Data = strings.Join(data, "\n")
				f.events <- e
			}
			e, data = apiEvent{}, nil
		case strings.HasPrefix(line, ":"): // a comment: heartbeat
		case k == "event":
			e.Event = v
		case k == "id":
			e.ID = v
		case k == "data":
			data = append(data, v)
		}
	}
}

func (f *apiFeed) close() {
	f.cancel()
	f.resp.Body.Close()
}

// next is the next event, failing after 10 s.
func (f *apiFeed) next(t testing.TB) apiEvent {
	t.Helper()
	select {
	case e, ok := <-f.events:
		if !ok {
			t.Fatal("the feed ended")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event from the feed within 10 s")
	}
	return apiEvent{}
}

// quiet checks that nothing arrives for d.
func (f *apiFeed) quiet(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case e, ok := <-f.events:
		if ok {
			t.Errorf("unexpected event %+v", e)
		}
	case <-time.After(d):
	}
}

// ops reads ops events until it has n ops and checks that each event's
// id is the last seq in it.
func (f *apiFeed) ops(t testing.TB, n int) []durOp {
	t.Helper()
	var all []durOp
	for len(all) < n {
		e := f.next(t)
		if e.Event != "ops" {
			t.Fatalf("got %+v; want ops", e)
		}
		var ops []durOp
		if err := json.Unmarshal([]byte(e.Data), &ops); err != nil || len(ops) == 0 {
			t.Fatalf("ops event data %q: %v", e.Data, err)
		}
		if id := strconv.FormatInt(ops[len(ops)-1].Seq, 10); e.ID != id {
			t.Errorf("ops event id %q; want the last seq in it, %s", e.ID, id)
		}
		all = append(all, ops...)
	}
	return all
}

func apiSeqs(ops []durOp) []int64 {
	var s []int64
	for _, o := range ops {
		s = append(s, o.Seq)
	}
	return s
}

// TestFeedResume: the feed tells presence first, then ops as they are
// stored; a reader that reconnects with Last-Event-ID gets exactly what it
// missed, then goes on live; people coming and going show as joined/left.
func TestFeedResume(t *testing.T) {
	ts := apiServer(t, nil)
	api := ts.URL + "/api/boards/live"
	feedURL := api + "/events"
	bot := func(n int) []int64 {
		var seqs []int64
		for range n {
			var d apiDrawn
			apiOK(t, "POST", api+"/strokes", apiKey, apiStrokes([]float64{1, 2, 3, 4}), http.StatusCreated, &d)
			seqs = append(seqs, d.Seqs...)
		}
		return seqs
	}

	f := apiOpenFeed(t, feedURL, apiKey, nil)
	if e := f.next(t); e.Event != "presence" || e.Data != `{"count":0,"users":[]}` {
		t.Fatalf("first event %+v; want presence with nobody", e)
	}
	want := bot(3)
	// Live, or from the log if they were stored before the feed's catch-up
	// read it: the same ops either way, each event's id its last seq.
	got := f.ops(t, 3)
	for _, o := range got {
		if o.Author != "app:key" {
			t.Fatalf("ops %+v; want them by app:key", got)
		}
	}
	if !slices.Equal(apiSeqs(got), []int64{1, 2, 3}) || !slices.Equal(want, []int64{1, 2, 3}) {
		t.Fatalf("feed seqs %v, drawn seqs %v; want 1 2 3", apiSeqs(got), want)
	}
	f.close()

	missed := bot(2)
	f = apiOpenFeed(t, feedURL, apiKey, map[string]string{"Last-Event-ID": "3"})
	if e := f.next(t); e.Event != "presence" {
		t.Fatalf("first event after reconnecting %+v; want presence", e)
	}
	if got := apiSeqs(f.ops(t, 2)); !slices.Equal(got, missed) {
		t.Fatalf("after Last-Event-ID 3 the feed sent seqs %v; want exactly the missed %v", got, missed)
	}
	live := bot(1)
	if got := apiSeqs(f.ops(t, 1)); !slices.Equal(got, live) {
		t.Fatalf("live after catching up: seqs %v; want %v", got, live)
	}

	// Somebody joins and leaves.
	p := durJoin(t, "visitor", apiAddr(ts), "live", "")
	e := f.next(t)
	var joined, left struct {
		ID string `json:"id"`
	}
	if e.Event != "joined" || json.Unmarshal([]byte(e.Data), &joined) != nil || joined.ID == "" {
		t.Fatalf("got %+v; want joined with an id", e)
	}
	p.c.Close()
	if e = f.next(t); e.Event != "left" || json.Unmarshal([]byte(e.Data), &left) != nil || left.ID != joined.ID {
		t.Fatalf("got %+v; want left with id %q", e, joined.ID)
	}
	f.quiet(t, 200*time.Millisecond)

	// ?since= resumes too; ?access_token= is for EventSource, which cannot
	// set headers: the key, or a token for this board.
	g := apiOpenFeed(t, feedURL+"?since=4&access_token="+url.QueryEscape(apiKey), "", nil)
	if e := g.next(t); e.Event != "presence" {
		t.Fatalf("?since=4: first event %+v", e)
	}
	if got := apiSeqs(g.ops(t, 2)); !slices.Equal(got, []int64{5, 6}) {
		t.Errorf("?since=4 sent seqs %v; want [5 6]", got)
	}
	// EventSource reconnects to the URL it started with, ?since= and all,
	// adding Last-Event-ID: that is where the reader got to.
	g.close()
	g = apiOpenFeed(t, feedURL+"?since=0&access_token="+url.QueryEscape(apiKey), "", map[string]string{"Last-Event-ID": "5"})
	if e := g.next(t); e.Event != "presence" {
		t.Fatalf("reconnect: first event %+v", e)
	}
	if got := apiSeqs(g.ops(t, 1)); !slices.Equal(got, []int64{6}) {
		t.Errorf("?since=0 with Last-Event-ID 5 sent seqs %v; want [6]", got)
	}
	g.quiet(t, 100*time.Millisecond)
	view := apiToken(t, "live", draw.RoleView, "Dashboard", "")
	h := apiOpenFeed(t, feedURL+"?access_token="+url.QueryEscape(view), "", map[string]string{"Last-Event-ID": "6"})
	if e := h.next(t); e.Event != "presence" {
		t.Fatalf("view token: first event %+v", e)
	}
	h.quiet(t, 100*time.Millisecond)
	apiWantError(t, "GET", ts.URL+"/api/boards/other/events?access_token="+url.QueryEscape(view), "", nil, http.StatusForbidden, `token is for board "live"`)
	apiWantError(t, "GET", feedURL, "", nil, http.StatusUnauthorized, "missing credentials")
	apiWantError(t, "GET", feedURL+"?since=yesterday", apiKey, nil, http.StatusBadRequest, "Last-Event-ID (or since) must be the last seq")
}

// apiDelivery is one webhook request as the receiver got it.
type apiDelivery struct {
	id, timestamp, signature string
	body                     []byte
	verified                 bool
	status                   int
}

// TestWebhooks: the app's receiver is told who joined and left and who
// cleared and locked, signed; a delivery it fails is retried with the same
// id and arrives once; /metrics counts what was delivered.
func TestWebhooks(t *testing.T) {
	secret := []byte("webhook-secret-0123456789")
	var mu sync.Mutex
	var got []apiDelivery
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := apiDelivery{id: r.Header.Get(webhook.HeaderDelivery), timestamp: r.Header.Get(webhook.HeaderTimestamp),
			signature: r.Header.Get(webhook.HeaderSignature), body: body, status: http.StatusNoContent}
		d.verified = webhook.Verify(secret, d.timestamp, d.signature, body)
		mu.Lock()
		if len(got) == 0 {
			d.status = http.StatusInternalServerError // the first one fails
		}
		got = append(got, d)
		mu.Unlock()
		w.WriteHeader(d.status)
	}))
	t.Cleanup(recv.Close)
	sender, err := webhook.New(recv.URL, secret, slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		webhook.WithBaseBackoff(20*time.Millisecond), webhook.WithMaxBackoff(100*time.Millisecond), webhook.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sender.Close(ctx)
	})
	ts := apiServer(t, func(c *draw.Config) { c.Events = sender })
	addr := apiAddr(ts)

	// delivered lists the events the receiver accepted, in order, once it
	// has n of them.
	delivered := func(n int) []draw.Event {
		t.Helper()
		var evs []draw.Event
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			evs = nil
			mu.Lock()
			for _, d := range got {
				var p webhook.Payload
				if d.status/100 == 2 && json.Unmarshal(d.body, &p) == nil {
					evs = append(evs, p.Events...)
				}
			}
			mu.Unlock()
			if len(evs) >= n {
				return evs
			}
			if time.Now().After(deadline) {
				t.Fatalf("the receiver has %d events after 10 s; want %d: %+v", len(evs), n, evs)
			}
		}
	}

	p := durJoin(t, "visitor", addr, "hooks", "")
	delivered(1)
	p.c.Close()
	delivered(2) // left before the clear: one board's events are in order anyway
	apiOK(t, "POST", ts.URL+"/api/boards/hooks/clear", apiKey, nil, http.StatusOK, nil)
	apiOK(t, "POST", ts.URL+"/api/boards/hooks/lock", apiKey, nil, http.StatusOK, nil)
	evs := delivered(4)

	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
		if e.Board != "hooks" || e.Time <= 0 {
			t.Errorf("event %+v: want board hooks and a time", e)
		}
	}
	if !slices.Equal(types, []string{"joined", "left", "cleared", "locked"}) {
		t.Fatalf("delivered %v; want joined, left, cleared, locked, each once", types)
	}
	if evs[0].ID == "" || evs[1].ID != evs[0].ID {
		t.Errorf("joined id %q, left id %q: want the socket's id in both", evs[0].ID, evs[1].ID)
	}
	if evs[2].Name != "app" || evs[3].Name != "app" {
		t.Errorf("cleared by %q, locked by %q: want the API's name, app", evs[2].Name, evs[3].Name)
	}

	mu.Lock()
	attempts := slices.Clone(got)
	mu.Unlock()
	ids := map[string]int{}
	for i, d := range attempts {
		if !d.verified {
			t.Errorf("attempt %d (delivery %s): signature %q does not verify", i, d.id, d.signature)
		}
		if sec, err := strconv.ParseInt(d.timestamp, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
			t.Errorf("attempt %d: timestamp %q is not now", i, d.timestamp)
		}
		if d.status/100 == 2 {
			ids[d.id]++
		}
	}
	// The failed first delivery came again, with its id and body, and was
	// accepted once.
	if len(attempts) < 2 || attempts[1].id != attempts[0].id || !bytes.Equal(attempts[1].body, attempts[0].body) {
		t.Fatalf("the delivery answered 500 was not retried as it was: %d attempts", len(attempts))
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("delivery %s accepted %d times", id, n)
		}
	}
	if ids[attempts[0].id] != 1 {
		t.Errorf("the retried delivery %s was accepted %d times; want once", attempts[0].id, ids[attempts[0].id])
	}

	// A receiver with the wrong secret, or a body changed on the way, fails.
	d := attempts[len(attempts)-1]
	if webhook.Verify([]byte("not-the-webhook-secret"), d.timestamp, d.signature, d.body) {
		t.Error("Verify accepted the wrong secret")
	}
	if webhook.Verify(secret, d.timestamp, d.signature, append(bytes.Clone(d.body), ' ')) {
		t.Error("Verify accepted a changed body")
	}
	if webhook.Verify(secret, d.timestamp+"0", d.signature, d.body) {
		t.Error("Verify accepted a changed timestamp")
	}

	// The sender counts a delivery once the receiver's answer is in.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := durMetric(t, addr, `draw_webhook_events_total{outcome="delivered"}`)
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf(`draw_webhook_events_total{outcome="delivered"} is %v; want 4`, n)
			break
		}
	}
	if n := durMetric(t, addr, `draw_webhook_events_total{outcome="failed"}`); n != 0 {
		t.Errorf(`draw_webhook_events_total{outcome="failed"} is %v; want 0`, n)
	}
}
