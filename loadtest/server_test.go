package loadtest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"testing/fstest"
	"time"

	"github.com/drawing/draw/draw"
)

// startDrawServer runs our real server on 127.0.0.1 until the test ends.
func startDrawServer(t *testing.T) string {
	t.Helper()
	srv, err := draw.New(draw.Config{
		Public: fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.CloseClientConnections()
		hs.Close()
	})
	return hs.URL
}

// explain turns a failed run into a message a server developer can act on.
func explain(res Result, stderr string) string {
	msg := stderr
	for _, e := range res.Errors {
		msg += fmt.Sprintf("\n  %d× %s", e.Count, e.Message)
	}
	if res.Failed > 0 {
		msg += "\n  (a 'socket.io handshake: context deadline exceeded' means the server answered the" +
			" Engine.IO open but never acknowledged the client's CONNECT packet \"40\")"
	}
	return msg
}

// A small load on our server, websocket and long-polling mixed: every move
// reaches every other client, in order, never its sender.
func TestDrawServerRelaysWithoutLoss(t *testing.T) {
	url := startDrawServer(t)
	res, code, stderr := runMain(t, "-url", url, "-clients", "20", "-senders", "3", "-polling", "0.2",
		"-warmup", "200ms", "-duration", "1s", "-ramp", "200ms", "-drain", "5s", "-strict")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, explain(res, stderr))
	}
	if res.Connected != 20 || res.Expected == 0 || res.Delivered != res.Expected {
		t.Errorf("connected %d, delivered %d of %d", res.Connected, res.Delivered, res.Expected)
	}
	if res.OutOfOrder != 0 || res.SelfEchoes != 0 || res.WrongID != 0 || res.Duplicates != 0 {
		t.Errorf("checks failed: %+v", res)
	}
}

// Boards isolate traffic: with two boards nothing crosses, and each move
// reaches only its own board's other members.
func TestDrawServerBoardsIsolate(t *testing.T) {
	url := startDrawServer(t)
	res, code, stderr := runMain(t, "-url", url, "-clients", "12", "-senders", "4", "-boards", "2",
		"-warmup", "200ms", "-duration", "500ms", "-ramp", "100ms", "-drain", "5s", "-strict")
	if code != 0 || res.CrossBoard != 0 {
		t.Fatalf("exit %d, %d cross-board: %s", code, res.CrossBoard, explain(res, stderr))
	}
	if res.Expected != 5*res.EmitsSent {
		t.Errorf("expected %d for %d emits; each should reach the 5 others on its board of 6", res.Expected, res.EmitsSent)
	}
}
