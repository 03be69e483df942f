package draw

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A board's log over HTTP, under the board's path (/ or /b/<name>/):
// history.ndjson (catch-up, late join and export) and board.svg.

func (s *Server) exportRoutes() {
	// Reading a big board costs tens of milliseconds of CPU: a crowd of
	// readers queues for a few slots instead of starving the relay.
	slots := make(chan struct{}, exportSlots)
	limited := func(serve func(http.ResponseWriter, *http.Request, string), w http.ResponseWriter, r *http.Request, name string) {
		// Where sockets need a token, so does reading a board: the
		// same token (Bearer or ?access_token=), or the API key.
		if s.cfg.RequireTokens {
			who, status, err := s.apiCaller(r)
			if err == nil {
				err, status = who.may(name, RoleView), http.StatusForbidden
			}
			if err != nil {
				http.Error(w, err.Error(), status)
				return
			}
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			// A reader that stalls gives its slot back after this.
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(exportTimeout))
			serve(w, r, name)
		case <-r.Context().Done():
		}
	}
	named := func(serve func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			if err := CheckBoardName(name); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			limited(serve, w, r, name)
		}
	}
	def := func(serve func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { limited(serve, w, r, DefaultBoard) }
	}
	s.mux.HandleFunc("GET /history.ndjson", def(s.serveHistory))
	s.mux.HandleFunc("GET /b/{name}/history.ndjson", named(s.serveHistory))
	s.mux.HandleFunc("GET /board.svg", def(s.serveSVG))
	s.mux.HandleFunc("GET /b/{name}/board.svg", named(s.serveSVG))
}

// exportSlots is how many history or SVG reads run at once; exportTimeout
// bounds one of them.
const (
	exportSlots   = 8
	exportTimeout = 2 * time.Minute
)

// flushEvery is how much history goes out before the response is flushed:
// a big board streams in pages instead of one giant message.
const flushEvery = 256 << 10

// serveHistory streams the board's ops with seq > since, one per line.
func (s *Server) serveHistory(w http.ResponseWriter, r *http.Request, board string) {
	var since int64
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "since must be a whole number ≥ 0 (the last seq you have)", http.StatusBadRequest)
			return
		}
		since = n
	}
	info, _, err := s.cfg.Store.Info(r.Context(), board)
	if err != nil {
		http.Error(w, "cannot read this board's history right now: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Board-Head", strconv.FormatInt(info.Head, 10))
	var out io.Writer = w
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer zw.Close()
		out = zw
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	flusher, _ := w.(http.Flusher)
	var line []byte
	written, unflushed := 0, 0
	err = s.cfg.Store.Read(r.Context(), board, since, func(op Op) error {
		line = append(wireOp(line[:0], op.Seq, op.Time, op.Data), '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
		written++
		if unflushed += len(line); unflushed >= flushEvery && flusher != nil {
			unflushed = 0
			if err := bw.Flush(); err != nil {
				return err
			}
			if zw, ok := out.(*gzip.Writer); ok {
				zw.Flush()
			}
			flusher.Flush()
		}
		return nil
	})
	if err != nil && r.Context().Err() == nil {
		s.log.Warn("reading a board's history failed", "board", board, "err", err)
		if written == 0 {
			w.Header().Del("Content-Encoding")
			http.Error(w, "cannot read this board's history right now: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	bw.Flush()
}

// serveSVG draws the board's visible pieces, as the page does.
func (s *Server) serveSVG(w http.ResponseWriter, r *http.Request, board string) {
	type piece struct {
		seq int64
		o   OpFields
	}
	st := newLogState()
	var pieces []piece
	err := s.cfg.Store.Read(r.Context(), board, 0, func(op Op) error {
		var o OpFields
		if err := json.Unmarshal(op.Data, &o); err != nil {
			return fmt.Errorf("op %d: %v", op.Seq, err)
		}
		st.apply(op.Seq, &o)
		if o.Type == OpStroke {
			pieces = append(pieces, piece{op.Seq, o})
		}
		return nil
	})
	if err != nil {
		http.Error(w, "cannot read this board's history right now: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d">`+"\n", BoardWidth, BoardHeight, BoardWidth, BoardHeight)
	fmt.Fprintf(bw, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", BoardWidth, BoardHeight)
	bw.WriteString(`<g fill="none" stroke-linecap="round" stroke-linejoin="round">` + "\n")
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, p := range pieces {
		if !st.visible(p.seq, p.o.Stroke) {
			continue
		}
		pts, w := p.o.Points, num(p.o.Width)
		if len(pts) == 2 || allSame(pts) { // a dot, as the page draws it
			fmt.Fprintf(bw, `<circle cx="%s" cy="%s" r="%s" fill="%s"/>`+"\n", num(pts[0]), num(pts[1]), num(p.o.Width/2), p.o.Color)
			continue
		}
		bw.WriteString(`<polyline points="`)
		for i := 0; i < len(pts); i += 2 {
			if i > 0 {
				bw.WriteByte(' ')
			}
			bw.WriteString(num(pts[i]) + "," + num(pts[i+1]))
		}
		fmt.Fprintf(bw, `" stroke="%s" stroke-width="%s"/>`+"\n", p.o.Color, w)
	}
	bw.WriteString("</g>\n</svg>\n")
}

// allSame: every point of the piece is the first one.
func allSame(pts []float64) bool {
	for i := 2; i < len(pts); i += 2 {
		if pts[i] != pts[0] || pts[i+1] != pts[1] {
			return false
		}
	}
	return true
}

// The board's size in its own units; the page scales it to the window.
const (
	BoardWidth  = 2000
	BoardHeight = 1000
)
