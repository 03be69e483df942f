package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// fetchOnce is one GET of a board's history.ndjson.
type fetchOnce struct {
	Gzip         bool    `json:"gzip"`
	Status       int     `json:"status"`
	WireBytes    int64   `json:"wire_bytes"` // body as it came over the connection
	Bytes        int64   `json:"bytes"`      // after decompression
	Lines        int     `json:"lines"`
	FirstSeq     int64   `json:"first_seq"`
	LastSeq      int64   `json:"last_seq"`
	HeadHeader   int64   `json:"x_board_head"`
	HeadersMs    float64 `json:"headers_ms"`    // request sent → response headers
	FirstByteMs  float64 `json:"first_byte_ms"` // → first body byte on the wire
	FirstLineMs  float64 `json:"first_line_ms"` // → first whole op decoded
	LastByteMs   float64 `json:"last_byte_ms"`  // → the end of the body
	ContentType  string  `json:"content_type"`
	ContentCoded string  `json:"content_encoding,omitempty"`
}

// countingReader counts bytes and notes when the first one came.
type countingReader struct {
	r     io.Reader
	n     int64
	start time.Time
	first time.Duration
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && c.n == 0 {
		c.first = time.Since(c.start)
	}
	c.n += int64(n)
	return n, err
}

var plainClient = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}

func getHistory(ctx context.Context, base, board string, since int64, gz bool) (fetchOnce, error) {
	f := fetchOnce{Gzip: gz}
	u := base + boardPath(board) + "history.ndjson?since=" + strconv.FormatInt(since, 10)
	start := time.Now()
	var headers time.Duration
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { headers = time.Since(start) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, u, nil)
	if err != nil {
		return f, err
	}
	if gz {
		req.Header.Set("Accept-Encoding", "gzip") // the transport leaves the body compressed
	}
	resp, err := plainClient.Do(req)
	if err != nil {
		return f, err
	}
	defer resp.Body.Close()
	f.Status = resp.StatusCode
	f.ContentType, f.ContentCoded = resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding")
	f.HeadHeader, _ = strconv.ParseInt(resp.Header.Get("X-Board-Head"), 10, 64)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return f, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(b))
	}
	cr := &countingReader{r: resp.Body, start: start}
	var body io.Reader = cr
	if f.ContentCoded == "gzip" {
		zr, err := gzip.NewReader(cr)
		if err != nil {
			return f, fmt.Errorf("GET %s: bad gzip: %w", u, err)
		}
		body = zr
	} else if gz {
		return f, fmt.Errorf("GET %s: asked for gzip, got Content-Encoding %q", u, f.ContentCoded)
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		f.Bytes += int64(len(line)) + 1
		if len(line) == 0 {
			continue
		}
		var op struct {
			Seq int64 `json:"seq"`
		}
		if f.Lines == 0 || f.Lines%10000 == 0 { // parse a sample, and the seq of every line cheaply below
			if err := json.Unmarshal(line, &op); err != nil {
				return f, fmt.Errorf("GET %s: line %d is not JSON: %v", u, f.Lines+1, err)
			}
		} else {
			op.Seq = seqOf(line)
		}
		if f.Lines == 0 {
			f.FirstLineMs = ms(time.Since(start))
			f.FirstSeq = op.Seq
		} else if op.Seq != f.LastSeq+1 {
			return f, fmt.Errorf("GET %s: seq %d after %d", u, op.Seq, f.LastSeq)
		}
		f.LastSeq = op.Seq
		f.Lines++
	}
	if err := sc.Err(); err != nil {
		return f, fmt.Errorf("GET %s: %w", u, err)
	}
	f.LastByteMs = ms(time.Since(start))
	f.HeadersMs, f.FirstByteMs, f.WireBytes = ms(headers), ms(cr.first), cr.n
	return f, nil
}

// seqOf reads the seq of a line that starts {"seq":N,
func seqOf(line []byte) int64 {
	rest, ok := bytes.CutPrefix(line, []byte(`{"seq":`))
	if !ok {
		return -1
	}
	i := bytes.IndexByte(rest, ',')
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseInt(string(rest[:i]), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

type fetchResult struct {
	URL              string      `json:"url"`
	Board            string      `json:"board"`
	Identity         *fetchOnce  `json:"identity,omitempty"` // one fetch without compression, for its size
	Fetches          []fetchOnce `json:"fetches"`            // gzip, as a browser asks
	N                int         `json:"n"`
	ServerCPUSeconds float64     `json:"server_cpu_seconds"` // over the gzip fetches
	CPUmsPerFetch    float64     `json:"server_cpu_ms_per_fetch"`
	WallMsMedian     float64     `json:"last_byte_ms_median"`
	FirstLineMedian  float64     `json:"first_line_ms_median"`
	OtherCPUSeconds  float64     `json:"other_cpu_seconds"` // the rest of the machine meanwhile
}

func fetchMain(args []string) error {
	fs := flag.NewFlagSet("fetch", flag.ExitOnError)
	rawURL := fs.String("url", "http://127.0.0.1:8080", "server")
	board := fs.String("board", "busy", "board name")
	pid := fs.Int("pid", 0, "server process, for its CPU time per fetch")
	n := fs.Int("n", 10, "gzip fetches, one after the other")
	identity := fs.Bool("identity", true, "first fetch once without compression")
	timeout := fs.Duration("timeout", 60*time.Second, "for everything")
	fs.Parse(args)
	u, err := loopbackURL(*rawURL)
	if err != nil {
		return err
	}
	if *n < 1 || *n > 200 {
		return errors.New("fetch: -n must be 1 to 200")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	base := u.String()
	res := fetchResult{URL: base, Board: *board, N: *n}
	if *identity {
		f, err := getHistory(ctx, base, *board, 0, false)
		if err != nil {
			return err
		}
		res.Identity = &f
	}
	var cpu0 time.Duration
	if *pid > 0 {
		if cpu0, err = procCPU(*pid); err != nil {
			return fmt.Errorf("fetch: -pid %d: %w", *pid, err)
		}
	}
	other0, self0 := machineCPU(), cpuNow()
	for range *n {
		f, err := getHistory(ctx, base, *board, 0, true)
		if err != nil {
			return err
		}
		res.Fetches = append(res.Fetches, f)
	}
	if *pid > 0 {
		cpu1, err := procCPU(*pid)
		if err != nil {
			return fmt.Errorf("fetch: -pid %d: %w", *pid, err)
		}
		res.ServerCPUSeconds = (cpu1 - cpu0).Seconds()
		res.CPUmsPerFetch = 1000 * res.ServerCPUSeconds / float64(*n)
	}
	res.OtherCPUSeconds = max(0, (machineCPU()-other0-(cpuNow()-self0)).Seconds()-res.ServerCPUSeconds)
	var wall, first []float64
	for _, f := range res.Fetches {
		wall, first = append(wall, f.LastByteMs), append(first, f.FirstLineMs)
	}
	res.WallMsMedian, res.FirstLineMedian = median(wall), median(first)
	return printJSON(res)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// joinResult times what a page's socket goes through on a board: the
// Engine.IO open, the socket.io connect (the server loads the board's log
// before it acknowledges the first member), sync → synced, and the history
// fetch the page makes next.
type joinResult struct {
	URL         string     `json:"url"`
	Board       string     `json:"board"`
	OpenMs      float64    `json:"open_ms"`      // dial → Engine.IO open packet
	ConnectedMs float64    `json:"connected_ms"` // → socket.io connect acknowledged
	SyncedMs    float64    `json:"synced_ms"`    // → synced received
	Head        int64      `json:"head"`
	Segments    int64      `json:"segments"`
	History     *fetchOnce `json:"history,omitempty"`
	TotalMs     float64    `json:"total_ms"` // dial → last history byte
}

func joinMain(args []string) error {
	fs := flag.NewFlagSet("join", flag.ExitOnError)
	rawURL := fs.String("url", "http://127.0.0.1:8080", "server")
	board := fs.String("board", "busy", "board name")
	history := fs.Bool("history", true, "after synced, fetch the history as the page does (gzip)")
	timeout := fs.Duration("timeout", 60*time.Second, "for everything")
	fs.Parse(args)
	u, err := loopbackURL(*rawURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res := joinResult{URL: u.String(), Board: *board}
	ws := *u
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	ws.Path += "/socket.io/"
	q := "EIO=4&transport=websocket"
	if *board != "" {
		q += "&board=" + strings.ReplaceAll(*board, "&", "%26")
	}
	ws.RawQuery = q
	start := time.Now()
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, ws.String(), nil)
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	// read returns the next packet that is not a ping (pings are answered).
	read := func() ([]byte, error) {
		for {
			_, p, err := conn.ReadMessage()
			if err != nil {
				return nil, err
			}
			if string(p) == "2" {
				if err := conn.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
					return nil, err
				}
				continue
			}
			return p, nil
		}
	}
	p, err := read()
	if err != nil || len(p) == 0 || p[0] != '0' {
		return fmt.Errorf("join: no Engine.IO open packet (%q, %v)", p, err)
	}
	res.OpenMs = ms(time.Since(start))
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		return err
	}
	for {
		if p, err = read(); err != nil {
			return fmt.Errorf("join: waiting for the connect: %w", err)
		}
		if bytes.HasPrefix(p, []byte("40")) {
			break
		}
		if bytes.HasPrefix(p, []byte("44")) {
			return fmt.Errorf("join: connect refused: %s", p)
		}
	}
	res.ConnectedMs = ms(time.Since(start))
	secret := make([]byte, 24)
	rand.Read(secret)
	sync := fmt.Sprintf(`42["sync",{"author":"bench%x","since":0}]`, secret)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(sync)); err != nil {
		return err
	}
	for {
		if p, err = read(); err != nil {
			return fmt.Errorf("join: waiting for synced: %w", err)
		}
		if rest, ok := bytes.CutPrefix(p, []byte(`42["synced",`)); ok {
			var s struct {
				Head     int64 `json:"head"`
				Segments int64 `json:"segments"`
			}
			if err := json.Unmarshal(bytes.TrimSuffix(rest, []byte("]")), &s); err != nil {
				return fmt.Errorf("join: bad synced %q: %v", p, err)
			}
			res.Head, res.Segments = s.Head, s.Segments
			break
		}
		if bytes.HasPrefix(p, []byte(`42["rejected"`)) {
			return fmt.Errorf("join: sync refused: %s", p)
		}
	}
	res.SyncedMs = ms(time.Since(start))
	if *history {
		f, err := getHistory(ctx, u.String(), *board, 0, true)
		if err != nil {
			return err
		}
		if f.LastSeq != res.Head {
			return fmt.Errorf("join: history ends at seq %d, synced said head %d", f.LastSeq, res.Head)
		}
		res.History = &f
	}
	res.TotalMs = ms(time.Since(start))
	return printJSON(res)
}
