package draw

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The HTTP API under /api/ (README "Use it from your app"): JSON in and out,
// authorised by Authorization: Bearer with the API key (every board, every
// right) or a token (its board, its role). Errors are {"error": "..."} with
// the status that says what kind of problem it is.

const (
	apiMaxBody     = 1 << 20 // bytes in one request body
	apiMaxStrokes  = 100     // strokes in one draw request
	apiRate        = 50      // requests per second per caller
	apiBurst       = 100
	apiWait        = 10 * time.Second // for the writer to answer
	apiListDefault = 100
	apiListMax     = 500
	apiLinger      = 30 * time.Second // a board the API wrote to stays loaded
	// apiDefaultBoard names the default board in /api/ paths, where an
	// empty name cannot go; no board name can contain "~".
	apiDefaultBoard = "~"
)

// caller is who an API request comes from.
type caller struct {
	key   bool   // the API key: every right on every board
	grant *Grant // a token: its role on its board
	id    string // for rate limits and attribution
}

// may says whether the caller has role r (or more) on board.
func (c caller) may(board string, r Role) error {
	if c.key {
		return nil
	}
	if c.grant.Board != board {
		return fmt.Errorf("token is for board %q, not %q", boardLabel(c.grant.Board), boardLabel(board))
	}
	rank := map[Role]int{RoleView: 1, RoleDraw: 2, RoleOwner: 3}
	if rank[c.grant.Role] < rank[r] {
		return fmt.Errorf("your token's role is %q; this needs %q", c.grant.Role, r)
	}
	return nil
}

// author is how the caller's strokes are attributed in the log: never an
// id a page can have (those are base64url, without ':').
func (c caller) author() string {
	if c.key {
		return "app:key"
	}
	if c.grant.Subject != "" {
		return "app:" + c.grant.Subject
	}
	return "app:token"
}

func (c caller) name() string {
	if c.grant != nil && c.grant.Name != "" {
		return c.grant.Name
	}
	return "app"
}

type apiHandler func(w http.ResponseWriter, r *http.Request, who caller, board string)

func (s *Server) apiRoutes() {
	limits := &apiLimits{m: map[string]*tokenBucket{}}
	wrap := func(perBoard bool, h apiHandler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			who, status, err := s.apiCaller(r)
			if err != nil && !limits.allow("failed:"+hostOf(r.RemoteAddr), time.Now()) {
				// Guessing keys costs the guesser the same rate as using one.
				w.Header().Set("Retry-After", "1")
				apiError(w, http.StatusTooManyRequests, fmt.Sprintf("too many requests: at most %d a second per caller", apiRate))
				return
			}
			if err != nil {
				// RFC 9110: a 401 must name the scheme that would work.
				w.Header().Set("WWW-Authenticate", `Bearer realm="draw"`)
				apiError(w, status, err.Error())
				return
			}
			if !limits.allow(who.id, time.Now()) {
				w.Header().Set("Retry-After", "1")
				apiError(w, http.StatusTooManyRequests, fmt.Sprintf("too many requests: at most %d a second per caller", apiRate))
				return
			}
			board := ""
			if perBoard {
				if board, err = apiBoardName(r.PathValue("board")); err != nil {
					apiError(w, http.StatusBadRequest, err.Error())
					return
				}
			}
			r.Body = http.MaxBytesReader(w, r.Body, apiMaxBody)
			h(w, r, who, board)
		}
	}
	s.mux.HandleFunc("GET /api/boards", wrap(false, s.apiList))
	s.mux.HandleFunc("GET /api/boards/{board}", wrap(true, s.apiDetails))
	s.mux.HandleFunc("DELETE /api/boards/{board}", wrap(true, s.apiDelete))
	s.mux.HandleFunc("POST /api/boards/{board}/strokes", wrap(true, s.apiDraw))
	s.mux.HandleFunc("POST /api/boards/{board}/clear", wrap(true, s.apiClear))
	s.mux.HandleFunc("POST /api/boards/{board}/lock", wrap(true, s.apiLock(OpLock)))
	s.mux.HandleFunc("POST /api/boards/{board}/unlock", wrap(true, s.apiLock(OpUnlock)))
	s.mux.HandleFunc("GET /api/boards/{board}/events", wrap(true, func(w http.ResponseWriter, r *http.Request, who caller, board string) {
		if err := who.may(board, RoleView); err != nil {
			apiError(w, http.StatusForbidden, err.Error())
			return
		}
		s.serveFeed(w, r, board)
	}))
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "no such API endpoint: see README \"Use it from your app\"")
	})
}

// apiCaller authenticates a request: Authorization: Bearer <key or token>,
// or ?access_token= (browsers' EventSource cannot set headers).
func (s *Server) apiCaller(r *http.Request) (caller, int, error) {
	// The scheme is case-insensitive (RFC 9110): "bearer KEY" is the key.
	cred := r.Header.Get("Authorization")
	if len(cred) > 7 && strings.EqualFold(cred[:7], "Bearer ") {
		cred = cred[7:]
	} else {
		cred = r.URL.Query().Get("access_token")
	}
	cred = strings.TrimSpace(cred)
	if cred == "" {
		return caller{}, http.StatusUnauthorized, errors.New("missing credentials: send Authorization: Bearer <API key or token>")
	}
	if s.cfg.APIKey != "" && subtle.ConstantTimeCompare([]byte(cred), []byte(s.cfg.APIKey)) == 1 {
		return caller{key: true, id: "key"}, 0, nil
	}
	if s.cfg.Tokens == nil {
		return caller{}, http.StatusUnauthorized, errors.New("invalid API key")
	}
	g, err := s.cfg.Tokens.Verify(cred)
	if err != nil {
		return caller{}, http.StatusUnauthorized, fmt.Errorf("neither the API key nor a valid token: %v", err)
	}
	return caller{grant: &g, id: "token:" + g.Board + ":" + g.Subject + ":" + g.Name}, 0, nil
}

func apiBoardName(v string) (string, error) {
	if v == apiDefaultBoard {
		return DefaultBoard, nil
	}
	return v, CheckBoardName(v)
}

func apiError(w http.ResponseWriter, status int, msg string) {
	apiJSON(w, status, map[string]string{"error": msg})
}

func apiJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// apiDecode reads a JSON body into v, answering 413 or 400 when it cannot.
func apiDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("there is more after the JSON object: send exactly one")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over %d bytes", apiMaxBody))
	case err == io.EOF:
		apiError(w, http.StatusBadRequest, "request body is empty: send a JSON object")
	case err != nil:
		apiError(w, http.StatusBadRequest, "request body is not the JSON expected: "+err.Error())
	default:
		return true
	}
	return false
}

// apiBoard is a board as the API describes it.
type apiBoard struct {
	Board    string    `json:"board"` // "/" for the default board
	Head     int64     `json:"head"`  // newest seq
	Updated  time.Time `json:"updated,omitzero"`
	People   int       `json:"people"`
	Users    []user    `json:"users,omitempty"`
	Segments *int64    `json:"segments,omitempty"`
	Strokes  *int      `json:"strokes,omitempty"`
	Owner    *string   `json:"owner,omitempty"`
	Locked   *bool     `json:"locked,omitempty"`
}

// people counts who is on a board now, on every node.
func (s *Server) people(name string) ([]user, int) {
	if b := s.boards.get(name); b != nil {
		return s.boardUsers(b)
	}
	if s.cluster != nil {
		us := s.cluster.users(name)
		return us[:min(len(us), maxPresenceList)], len(us)
	}
	return nil, 0
}

func (s *Server) apiList(w http.ResponseWriter, r *http.Request, who caller, _ string) {
	if !who.key {
		apiError(w, http.StatusForbidden, "listing boards needs the API key; a token is for one board")
		return
	}
	limit := apiListDefault
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > apiListMax {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("limit must be 1 to %d", apiListMax))
			return
		}
		limit = n
	}
	after := r.URL.Query().Get("after")
	if after == apiDefaultBoard {
		after = DefaultBoard
	}
	list, err := s.cfg.Store.Boards(r.Context(), after, limit)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "cannot list boards right now: "+err.Error())
		return
	}
	out := []apiBoard{}
	for _, b := range list {
		_, n := s.people(b.Name)
		out = append(out, apiBoard{Board: boardLabel(b.Name), Head: b.Head, Updated: b.Updated, People: n})
	}
	next := ""
	if len(list) == limit {
		next = list[len(list)-1].Name
		if next == DefaultBoard {
			next = apiDefaultBoard
		}
	}
	apiJSON(w, http.StatusOK, map[string]any{"boards": out, "next": next})
}

func (s *Server) apiDetails(w http.ResponseWriter, r *http.Request, who caller, board string) {
	if err := who.may(board, RoleView); err != nil {
		apiError(w, http.StatusForbidden, err.Error())
		return
	}
	info, stored, err := s.cfg.Store.Info(r.Context(), board)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "cannot read this board right now: "+err.Error())
		return
	}
	users, n := s.people(board)
	if !stored && n == 0 {
		apiError(w, http.StatusNotFound, fmt.Sprintf("no board %q: nobody drew on it and nobody is on it", boardLabel(board)))
		return
	}
	st, _, err := readState(r.Context(), s.cfg.Store, board)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	segs, strokes := int64(st.sinceClear()), 0
	// Strokes on the board now, like segments: not cleared away or undone.
	for id, a := range st.actions {
		if !a.clear && st.visible(a.seq, id) {
			strokes++
		}
	}
	if users == nil {
		users = []user{}
	}
	apiJSON(w, http.StatusOK, apiBoard{Board: boardLabel(board), Head: info.Head, Updated: info.Updated, People: n, Users: users,
		Segments: &segs, Strokes: &strokes, Owner: &st.owner, Locked: &st.locked})
}

// apiWrite hands ops to the writer as who and waits for the answer.
func (s *Server) apiWrite(ctx context.Context, board string, who caller, ops []OpFields) (writeResult, int, error) {
	if !s.ready.Load() {
		return writeResult{}, http.StatusServiceUnavailable, errors.New("server is shutting down: try again in a moment")
	}
	// The board must be open for its log to be loaded and its state kept.
	b, release, err := s.boards.hold(board)
	if err != nil {
		return writeResult{}, http.StatusServiceUnavailable, err
	}
	// Kept open a while after the request: a bot drawing on a board
	// nobody watches would otherwise reload its whole log every time.
	defer time.AfterFunc(apiLinger, release)
	if err := s.loadBoard(ctx, b); err != nil {
		return writeResult{}, http.StatusServiceUnavailable, err
	}
	done := make(chan writeResult, 1)
	owner := who.key || (who.grant != nil && who.grant.Role == RoleOwner)
	subject := ""
	if who.grant != nil {
		subject = who.grant.Subject
	}
	if !s.history.enqueue(&writeReq{log: b.log, event: "api", ops: ops, owner: owner, subject: subject, answer: func(r writeResult) { done <- r }}) {
		return writeResult{}, http.StatusServiceUnavailable, errors.New("server busy: try again in a moment")
	}
	ctx, cancel := context.WithTimeout(ctx, apiWait)
	defer cancel()
	select {
	case res := <-done:
		var why string
		if len(res.Refused) > 0 {
			why = res.Refused[0]
			if len(res.Seqs) > 0 {
				// Part of the request went in: say so, or a retry stores it twice.
				why += fmt.Sprintf(" (%d of the %d were stored all the same, as seqs %v)", len(res.Seqs), len(ops), res.Seqs)
			}
		}
		switch {
		case res.Err != nil:
			return res, http.StatusServiceUnavailable, fmt.Errorf("not saved: %v", res.Err)
		case len(res.Refused) > 0 && strings.Contains(res.Refused[0], "locked"):
			return res, http.StatusForbidden, errors.New(why)
		case len(res.Refused) > 0:
			return res, http.StatusConflict, errors.New(why)
		}
		return res, 0, nil
	case <-ctx.Done():
		return writeResult{}, http.StatusServiceUnavailable, errors.New("the board's writer did not answer in time: the request may have been stored")
	}
}

// apiStroke is a stroke a bot draws.
type apiStroke struct {
	Color  string    `json:"color"`
	Width  float64   `json:"width"`
	Points []float64 `json:"points"`
}

func (s *Server) apiDraw(w http.ResponseWriter, r *http.Request, who caller, board string) {
	if err := who.may(board, RoleDraw); err != nil {
		apiError(w, http.StatusForbidden, err.Error())
		return
	}
	var req struct {
		Strokes []apiStroke `json:"strokes"`
	}
	if !apiDecode(w, r, &req) {
		return
	}
	if len(req.Strokes) == 0 || len(req.Strokes) > apiMaxStrokes {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("strokes must hold 1 to %d strokes", apiMaxStrokes))
		return
	}
	var ops []OpFields
	var ids []string
	for k, st := range req.Strokes {
		id := "api-" + randomID()
		raw, _ := json.Marshal(map[string]any{"stroke": id, "i": 0, "color": st.Color, "width": st.Width, "points": st.Points})
		o, err := parsePiece(raw)
		if err != nil {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("stroke %d: %s", k, strings.TrimPrefix(err.Error(), "piece ")))
			return
		}
		o.Author, o.Name = who.author(), who.name()
		ops = append(ops, o)
		ids = append(ids, id)
	}
	res, status, err := s.apiWrite(r.Context(), board, who, ops)
	if err != nil {
		apiError(w, status, err.Error())
		return
	}
	apiJSON(w, http.StatusCreated, map[string]any{"board": boardLabel(board), "strokes": ids, "seqs": res.Seqs})
}

func (s *Server) apiClear(w http.ResponseWriter, r *http.Request, who caller, board string) {
	if err := who.may(board, RoleDraw); err != nil {
		apiError(w, http.StatusForbidden, err.Error())
		return
	}
	id := "api-" + randomID()
	res, status, err := s.apiWrite(r.Context(), board, who, []OpFields{{Type: OpClear, Stroke: id, Author: who.author(), Name: who.name()}})
	if err != nil {
		apiError(w, status, err.Error())
		return
	}
	apiJSON(w, http.StatusOK, map[string]any{"board": boardLabel(board), "clear": id, "seqs": res.Seqs})
}

func (s *Server) apiLock(typ string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, who caller, board string) {
		if err := who.may(board, RoleOwner); err != nil {
			apiError(w, http.StatusForbidden, err.Error())
			return
		}
		res, status, err := s.apiWrite(r.Context(), board, who, []OpFields{{Type: typ, Author: who.author(), Name: who.name()}})
		if err != nil {
			apiError(w, status, err.Error())
			return
		}
		apiJSON(w, http.StatusOK, map[string]any{"board": boardLabel(board), "locked": typ == OpLock, "seqs": res.Seqs})
	}
}

func (s *Server) apiDelete(w http.ResponseWriter, r *http.Request, who caller, board string) {
	if err := who.may(board, RoleOwner); err != nil {
		apiError(w, http.StatusForbidden, err.Error())
		return
	}
	_, stored, err := s.cfg.Store.Info(r.Context(), board)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if !stored {
		apiError(w, http.StatusNotFound, fmt.Sprintf("no board %q is stored", boardLabel(board)))
		return
	}
	// Under the registry's lock nobody joins meanwhile on this node.
	s.boards.mu.Lock()
	defer s.boards.mu.Unlock()
	n := 0
	if b := s.boards.m[board]; b != nil {
		n = len(b.snapshot()) - b.gone + b.readers()
	}
	if s.cluster != nil {
		n += len(s.cluster.users(board))
	}
	if n > 0 {
		apiError(w, http.StatusConflict, fmt.Sprintf("%d people or feeds are on board %q: delete it when it is empty", n, boardLabel(board)))
		return
	}
	if err := s.cfg.Store.Delete(r.Context(), board); err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// apiLimits is a token bucket per caller. The map is bounded: past
// apiCallers entries it starts over, which only forgives some callers.
type apiLimits struct {
	mu sync.Mutex
	m  map[string]*tokenBucket
}

const apiCallers = 10000

func (l *apiLimits) allow(id string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[id]
	if b == nil {
		if len(l.m) >= apiCallers {
			clear(l.m)
		}
		b = &tokenBucket{rate: apiRate, burst: apiBurst}
		l.m[id] = b
	}
	return b.allow(now)
}
