package main

// Tokens for apps (README "Use it from your app"), with the official
// client. Helpers and tests here start with acc.

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/jwt"
)

var accSecret = []byte("a-test-token-secret-of-32-bytes-or-more")

func accMint(t testing.TB, secret []byte, g draw.Grant) string {
	t.Helper()
	if g.Expires.IsZero() {
		g.Expires = time.Now().Add(time.Hour)
	}
	tok, err := jwt.Mint(secret, g)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTokens: with tokens required, every kind of bad token is refused at
// CONNECT with a connect_error that says what is wrong; a token's name is
// what presence shows whatever hello says; a view-only token cannot draw.
func TestTokens(t *testing.T) {
	v, err := jwt.New(accSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Tokens, cfg.RequireTokens = v, true
	ts := startServer(t, cfg)

	good := accMint(t, accSecret, draw.Grant{Board: "maths", Role: draw.RoleDraw, Name: "Ann", Subject: "user-1"})
	expired := accMint(t, accSecret, draw.Grant{Board: "maths", Role: draw.RoleDraw, Expires: time.Now().Add(-time.Hour)})
	forged := accMint(t, []byte("another-secret-that-is-32-bytes-long!!"), draw.Grant{Board: "maths", Role: draw.RoleDraw})
	parts := strings.Split(good, ".")
	unsigned := parts[0] + "." + parts[1] + "."
	spec := map[string]any{
		"cases": []map[string]any{
			{"name": "missing", "board": "maths"},
			{"name": "expired", "board": "maths", "token": expired},
			{"name": "forged", "board": "maths", "token": forged},
			{"name": "unsigned", "board": "maths", "token": unsigned},
			{"name": "garbage", "board": "maths", "token": "not-a-token"},
			{"name": "wrong-board", "board": "physics", "token": good},
			{"name": "good", "board": "maths", "token": good},
			{"name": "good-v2-query", "board": "maths", "token": good, "v2": true},
			{"name": "wrong-board-v2", "board": "physics", "token": good, "v2": true},
		},
		"named":  map[string]any{"board": "names", "token": accMint(t, accSecret, draw.Grant{Board: "names", Role: draw.RoleDraw, Name: "Ann"})},
		"viewer": map[string]any{"board": "watch", "token": accMint(t, accSecret, draw.Grant{Board: "watch", Role: draw.RoleView, Name: "Viewer"})},
		"drawer": map[string]any{"board": "watch", "token": accMint(t, accSecret, draw.Grant{Board: "watch", Role: draw.RoleDraw, Name: "Drawer"})},
	}
	arg, _ := json.Marshal(spec)
	out := runNode(t, 60*time.Second, "e2e/access/tokens.js", ts.URL, string(arg))
	var res struct {
		Cases map[string]struct {
			Connected bool   `json:"connected"`
			Error     string `json:"error"`
		} `json:"cases"`
		PresenceNames  []string         `json:"presenceNames"`
		JoinedNames    []string         `json:"joinedNames"`
		ViewerRejected []map[string]any `json:"viewerRejected"`
		ViewerSynced   []map[string]any `json:"viewerSynced"`
		OtherMoving    []map[string]any `json:"otherMoving"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("tokens.js: %v\n%s", err, out)
	}
	for name, want := range map[string]string{
		"missing":        "a token is required",
		"expired":        "token expired at",
		"forged":         "token signature is invalid",
		"unsigned":       "token signature is invalid",
		"garbage":        "token is malformed",
		"wrong-board":    `token is for board "maths", not "physics"`,
		"wrong-board-v2": `token is for board "maths", not "physics"`,
		"good":           "",
		"good-v2-query":  "",
	} {
		got := res.Cases[name]
		if want == "" {
			if !got.Connected {
				t.Errorf("%s: refused (%q), want connected", name, got.Error)
			}
			continue
		}
		if got.Connected || !strings.Contains(got.Error, want) {
			t.Errorf("%s: connected=%v error %q; want a connect_error containing %q", name, got.Connected, got.Error, want)
		}
	}
	for _, n := range append(res.PresenceNames, res.JoinedNames...) {
		if n == "Mallory" {
			t.Errorf("hello changed a token holder's name to %q: presence shows %v, joined %v", n, res.PresenceNames, res.JoinedNames)
		}
	}
	if len(res.JoinedNames) == 0 || res.JoinedNames[len(res.JoinedNames)-1] != "Ann" {
		t.Errorf("joined after hello names the holder %v, want Ann (the token's name)", res.JoinedNames)
	}
	for _, m := range res.OtherMoving {
		if m["drawing"] == true {
			t.Errorf("a view-only token's drawing move reached another client: %v", m)
		}
	}
	if len(res.OtherMoving) == 0 {
		t.Error("a view-only token's pointer (drawing:false) did not reach the board")
	}
	if len(res.ViewerSynced) == 0 || res.ViewerSynced[0]["role"] != "view" {
		t.Errorf("synced for a view-only token: %v, want role view", res.ViewerSynced)
	}
	if len(res.ViewerRejected) < 2 {
		t.Fatalf("view-only token: rejected %v, want its drawing move and its draw refused", res.ViewerRejected)
	}
	for _, r := range res.ViewerRejected {
		if !strings.Contains(r["reason"].(string), "watch only") {
			t.Errorf("view-only token refused with %q, want it to say the token lets it watch only", r["reason"])
		}
	}
}

// TestReadmeAppExamples runs the README's "Use it from your app" curl
// block, as it is, against the real binary: what a developer copies must
// work. A synced socket on the board sees the app's strokes live.
func TestReadmeAppExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "Try it (the tests run this block as it is")
	if !ok {
		t.Fatal(`README has no "Try it (the tests run this block as it is" section`)
	}
	_, rest, _ = strings.Cut(rest, "```sh\n")
	script, _, ok := strings.Cut(rest, "```")
	if !ok || !strings.Contains(script, "curl") {
		t.Fatalf("README's app example block not found or has no curl in it:\n%s", script)
	}
	bin := durBuild(t)
	const tokenSecret, apiKey = "0123456789abcdef0123456789abcdef-readme", "readme-api-key-0123456789"
	addr := durFreeAddr(t)
	p := durStart(t, bin, t.TempDir(), "-addr", addr, "-db", filepath.Join(t.TempDir(), "draw.db"),
		"-token-secret", tokenSecret, "-api-key", apiKey)
	p.addr = addr
	p.waitReady(t)
	watcher := durJoin(t, "watcher", addr, "maths", "secret-of-the-watcher-01")

	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "DRAW=http://"+addr, "API_KEY="+apiKey, "TOKEN_SECRET="+tokenSecret,
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's example failed: %v\n%s", err, out)
	}
	t.Logf("README example output:\n%s", out)
	for _, want := range []string{`"seqs":[1,2]`, `"seqs":[3]`, `"strokes":3`, `"board":"maths"`, `"locked":true`, "event: presence", "event: ops", "id: 4"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's example printed no %s", want)
		}
	}
	if strings.Contains(string(out), `"error"`) {
		t.Errorf("the README's example got an error answer")
	}
	if !watcher.waitFor(10*time.Second, func() bool { return len(watcher.seen) >= 3 }) {
		t.Fatalf("a page on the board did not get the app's strokes live (got %d)", len(watcher.seen))
	}
	for key, ops := range watcher.seen {
		if a := ops[0].Author; !strings.HasPrefix(a, "app:") {
			t.Errorf("stroke %s is attributed to %q, want the app (app:...)", key, a)
		}
	}
}

// TestTokensInThePage: where tokens are required, a page opened with
// ?token= joins, draws, and reads its history and exports with it; without
// one the page says why it cannot join, and the board's history cannot be
// read without a token for it either.
func TestTokensInThePage(t *testing.T) {
	needBrowser(t)
	v, err := jwt.New(accSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Tokens, cfg.RequireTokens = v, true
	ts := startServer(t, cfg)
	tok := accMint(t, accSecret, draw.Grant{Board: "class", Role: draw.RoleDraw, Name: "Ann"})
	other := accMint(t, accSecret, draw.Grant{Board: "other", Role: draw.RoleOwner})

	var r struct {
		pageErrors
		Ink     int `json:"ink"`
		Have    int `json:"have"`
		History struct {
			Status int `json:"status"`
			Lines  int `json:"lines"`
		} `json:"history"`
		RefusedText string `json:"refusedText"`
	}
	out := runNode(t, browserScriptTimeout, "e2e/browser/token.mjs", ts.URL, "class", tok)
	decodeResult(t, "token.mjs", out, &r)
	r.check(t)
	if r.Ink < 1000 || r.Have < 1 {
		t.Errorf("the page with a token drew %d ink pixels, %d ops stored", r.Ink, r.Have)
	}
	if r.History.Status != 200 || r.History.Lines != r.Have {
		t.Errorf("the page's history link answered %d with %d lines, want 200 with %d", r.History.Status, r.History.Lines, r.Have)
	}
	if !strings.Contains(r.RefusedText, "token is required") {
		t.Errorf("the page without a token says %q, want it to say a token is required", r.RefusedText)
	}
	for _, c := range []struct {
		url  string
		want int
	}{
		{"/b/class/history.ndjson", 401},
		{"/b/class/board.svg", 401},
		{"/b/class/history.ndjson?access_token=" + other, 403},
		{"/b/class/history.ndjson?access_token=" + tok, 200},
	} {
		resp, err := http.Get(ts.URL + c.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %d, want %d", strings.Split(c.url, "access_token=")[0], resp.StatusCode, c.want)
		}
	}
}
