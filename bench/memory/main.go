// Command memory measures boards that remember (docs/BENCHMARK.md, "Boards
// that remember"). bench/run.sh builds it and calls its parts; each prints
// one JSON object on stdout.
//
//	memory seed   -db FILE -board NAME -segments N   write a busy hour's board into a SQLite file
//	memory writer -dir DIR                           the writer alone: SQLite against the memory store
//	memory fetch  -url URL -board NAME [-pid PID]    history.ndjson: bytes on the wire, time to first byte, CPU per fetch
//	memory join   -url URL -board NAME               a socket joins and syncs: the board's load, then its history
//	memory report -raw DIR -out DIR                  memory.md and memory.json from the raw results
//
// Everything is bounded: fixed counts, a time budget and a deadline per step.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "seed":
		err = seedMain(args)
	case "writer":
		err = writerMain(args)
	case "fetch":
		err = fetchMain(args)
	case "join":
		err = joinMain(args)
	case "report":
		err = reportMain(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "memory:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: memory seed|writer|fetch|join|report [flags] (see -h of each)")
	os.Exit(2)
}

// printJSON writes v to stdout, indented.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// loopbackURL refuses anything but a server on this machine.
func loopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("-url %q: want http://127.0.0.1:PORT", raw)
	}
	switch h := u.Hostname(); {
	case h == "localhost", h == "::1", strings.HasPrefix(h, "127."):
	default:
		return nil, fmt.Errorf("-url %q: only a server on this machine's loopback", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// boardPath is where a board's HTTP resources live.
func boardPath(board string) string {
	if board == "" {
		return "/"
	}
	return "/b/" + url.PathEscape(board) + "/"
}

// procCPU is a process's user+system time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("too few fields in /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad CPU times in /proc stat")
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil // USER_HZ is 100
}

// otherCPU is the CPU time every process but pids used so far (from
// /proc/stat's user, nice and system), to say how disturbed a measurement was.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != "cpu" {
		return 0
	}
	var t int64
	for _, s := range f[1:4] {
		v, _ := strconv.ParseInt(s, 10, 64)
		t += v
	}
	return time.Duration(t) * 10 * time.Millisecond
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
