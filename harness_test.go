package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/drawing/draw/draw"
)

// testServer is a real drawing server listening on 127.0.0.1.
type testServer struct {
	URL string // http://127.0.0.1:PORT
	Srv *draw.Server
}

// testConfig is the configuration tests start from: the embedded page, the
// npm-installed client bundle, logs into the test log.
func testConfig(t testing.TB) draw.Config {
	return draw.Config{
		Public:     publicFS(),
		ClientDist: "node_modules/socket.io-client/dist",
		Logger:     slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// startServer runs a server with cfg until the test ends.
func startServer(t testing.TB, cfg draw.Config) *testServer {
	t.Helper()
	srv, err := draw.New(cfg)
	if err != nil {
		t.Fatalf("draw.New: %v", err)
	}
	// The original app's page, kept as a fixture, is served beside ours at
	// /classic/ so compatibility tests can load it from the same origin.
	mux := http.NewServeMux()
	mux.Handle("/classic/", http.StripPrefix("/classic/", http.FileServer(http.Dir("testdata/original"))))
	mux.Handle("/", srv.Handler())
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.CloseClientConnections()
		hs.Close()
	})
	return &testServer{URL: hs.URL, Srv: srv}
}

// runNode runs a Node script from the repository root and returns its stdout.
// The script gets the arguments and must exit by itself within timeout.
func runNode(t testing.TB, timeout time.Duration, script string, args ...string) []byte {
	t.Helper()
	if _, err := os.Stat("node_modules/socket.io-client"); err != nil {
		t.Fatalf("node_modules is missing: run `npm ci` (the README's test command does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node %s timed out after %v\nstderr:\n%s", script, timeout, stderr.String())
	}
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// testLogWriter sends server logs to the test's log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

var _ io.Writer = testLogWriter{}

// inChildProcess runs the calling test alone in a child test process, so a
// server panic (a goroutine nobody recovers kills the process) fails this
// test only, and goroutine and heap measurements see nothing left by other
// tests. It returns true in the parent, which then has nothing more to do.
func inChildProcess(t *testing.T) bool {
	t.Helper()
	const env = "DRAW_TEST_CHILD"
	if os.Getenv(env) == t.Name() {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), env+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in a child process: %v\n%s", t.Name(), err, out)
	}
	if testing.Verbose() {
		t.Logf("child process:\n%s", out)
	}
	return true
}
