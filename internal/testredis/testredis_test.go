package testredis

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestServer(t *testing.T) {
	s := Start(t, "--appendonly", "yes")
	if reply, err := ping(s.Addr()); err != nil || reply != "+PONG" {
		t.Fatalf("PING: %q, %v", reply, err)
	}
	if s.URL() != "redis://"+s.Addr()+"/0" {
		t.Fatalf("URL = %s", s.URL())
	}
	s.Pause()
	start := time.Now()
	if reply, err := ping(s.Addr()); err == nil {
		t.Fatalf("a paused server answered %q", reply)
	}
	t.Logf("paused: PING failed after %v", time.Since(start))
	s.Resume()
	if _, err := ping(s.Addr()); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
	pid := s.PID()
	s.Kill()
	if _, err := ping(s.Addr()); err == nil {
		t.Fatal("a killed server answered")
	}
	s.Restart()
	if s.PID() == pid {
		t.Fatal("Restart kept the old process")
	}
	if _, err := ping(s.Addr()); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "appendonlydir")); err != nil {
		t.Fatalf("--appendonly yes wrote no AOF in Dir: %v", err)
	}
	s.Pause() // Stop (and the cleanup) must end a paused server too
	s.Stop()
	if _, err := ping(s.Addr()); err == nil {
		t.Fatal("a stopped server answered")
	}
	s.Stop()
}
