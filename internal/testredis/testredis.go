// Package testredis runs a real redis-server for tests: on a free port of
// 127.0.0.1, in a temporary directory, without persistence unless asked,
// stopped when the test ends.
package testredis

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is one redis-server process (and the ones Restart starts after it).
type Server struct {
	t    testing.TB
	port int
	dir  string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	out  *syncBuffer   // the server's log, shown when it fails to start
}

// Start runs redis-server --port <free port> --bind 127.0.0.1 --save ""
// --appendonly no --dir <t.TempDir()>, then args, which override those (a
// later option wins: --appendonly yes --dir …), and waits until it answers
// PING. The server is stopped when the test ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found: run `make deps` (scripts/deps.sh installs it)")
	}
	s := &Server{t: t, dir: t.TempDir()}
	t.Cleanup(s.Stop)
	for attempt := 0; ; attempt++ {
		s.port = freePort(t)
		s.args = append([]string{bin,
			"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", s.dir, "--daemonize", "no", "--logfile", ""}, args...)
		err := s.start()
		if err == nil {
			return s
		}
		if attempt == 2 || !strings.Contains(s.Log(), "Address already in use") {
			t.Fatalf("redis-server: %v\n%s", err, s.Log())
		}
	}
}

// freePort returns a port that was free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs the server and waits until it answers PING (not while it
// loads its data).
func (s *Server) start() error {
	cmd := exec.Command(s.args[0], s.args[1:]...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	s.mu.Lock()
	s.out = out
	s.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("exited while starting: %v", cmd.ProcessState)
		default:
		}
		reply, err := ping(s.Addr())
		if err == nil && reply == "+PONG" {
			return nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("no PONG within 10 s (last: %q, %v)", reply, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ping(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is redis://host:port/0, for go-redis's ParseURL or a -redis flag.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Dir is the server's working directory, where AOF and RDB files go.
func (s *Server) Dir() string { return s.dir }

// PID is the running server's process id.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// Log is what the server has printed so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// Kill ends the server with SIGKILL, as a crash would, and waits until it has
// exited.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill(syscall.SIGKILL)
}

// Stop ends the server with SIGTERM (then SIGKILL after 5 s) and waits: a
// clean shutdown, which writes the AOF out. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill(syscall.SIGTERM)
}

// kill signals the process and waits for it; s.mu is held.
func (s *Server) kill(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // a paused server would not act on SIGTERM
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
		return
	case <-time.After(5 * time.Second):
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Restart stops the server if it runs (SIGTERM) and starts it again on the
// same port with the same directory and options: with AOF on, it loads what
// it had.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("redis-server restart: %v\n%s", err, s.Log())
	}
}

// Pause stops the process (SIGSTOP): connections stay open but nothing is
// answered, as with a hung server or a network partition.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused server go on (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redis-server: %v: %v", sig, err)
	}
}

// syncBuffer is a bytes.Buffer safe for the process's writes and our reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
