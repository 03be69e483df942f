package draw

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func (s *Server) routes() {
	page := func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, s.cfg.Public, "index.html")
	}
	s.mux.HandleFunc("GET /{$}", page)
	s.mux.HandleFunc("GET /b/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := CheckBoardName(r.PathValue("name")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		page(w, r)
	})
	s.mux.Handle("/", http.FileServerFS(s.cfg.Public))
	s.mux.HandleFunc("GET /socket.io/socket.io.js", s.clientBundle("socket.io.js"))
	s.mux.HandleFunc("GET /socket.io/socket.io.min.js", s.clientBundle("socket.io.min.js"))
	s.mux.HandleFunc("GET /socket.io/socket.io.js.map", s.clientBundle("socket.io.js.map"))
	s.mux.Handle("/socket.io/", s.socketIO())
	s.exportRoutes()
	s.apiRoutes()
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		// Live drawing still works while saving fails: stay in rotation, say so.
		if reason := s.history.health(); reason != "" {
			fmt.Fprintln(w, "degraded:", reason)
			return
		}
		if s.cluster != nil {
			if reason := s.cluster.health(); reason != "" {
				fmt.Fprintln(w, "degraded:", reason)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	s.mux.Handle("GET /metrics", s.metrics.handler())

	if _, err := os.Stat(filepath.Join(s.cfg.ClientDist, "socket.io.js")); err != nil {
		s.log.Error("socket.io client bundle not found: pages will not connect until you run `npm ci` in the repository", "dir", s.cfg.ClientDist)
	}
	if _, err := fs.Stat(s.cfg.Public, "index.html"); err != nil {
		s.log.Error("page not found in Config.Public", "file", "index.html")
	}
}

// clientBundle serves a file of the official socket.io-client bundle, or
// says plainly how to install it.
func (s *Server) clientBundle(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		path := filepath.Join(s.cfg.ClientDist, name)
		if _, err := os.Stat(path); err != nil {
			msg := fmt.Sprintf("socket.io client bundle missing at %s: run `npm ci` in the repository (or set -client-dist)", path)
			w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "console.error(%q);\n", msg)
			return
		}
		if strings.HasSuffix(name, ".js") {
			w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
		}
		http.ServeFile(w, r, path)
	}
}
