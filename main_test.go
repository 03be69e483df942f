package main

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ws "github.com/gorilla/websocket"
)

// The real binary on SIGTERM: the page stops being served as healthy,
// connected sockets are closed (so clients reconnect elsewhere), and the
// process exits 0 by itself.
func TestGracefulShutdown(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "draw-server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	cmd := exec.Command(bin, "-addr", addr, "-shutdown-timeout", "5s", "-db", filepath.Join(t.TempDir(), "draw.db"))
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	logs := bufio.NewScanner(stderr)
	for logs.Scan() && !strings.Contains(logs.Text(), "listening") {
	}

	var conn *ws.Conn
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, _, err = ws.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	conn.ReadMessage() // engine open
	conn.WriteMessage(ws.TextMessage, []byte("40"))
	if _, msg, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), "40") {
		t.Fatalf("socket.io connect: %q %v", msg, err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	// The socket is told: its connection ends (a close frame, then EOF).
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			if ws.IsUnexpectedCloseError(err, ws.CloseGoingAway) && !strings.Contains(err.Error(), "EOF") {
				t.Errorf("connection ended with %v, want a going-away close", err)
			}
			break
		}
	}
	go func() {
		for logs.Scan() {
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not exit within 15s of SIGTERM")
	}
}
