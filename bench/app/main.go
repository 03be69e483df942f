// Command app measures what apps use (docs/BENCHMARK.md, "Apps: tokens,
// API, feed"): the cost of a token at socket CONNECT, the HTTP API's draw
// throughput with its strokes live to socket.io watchers, and the memory
// of an SSE reader against a websocket client. bench/app.sh runs it
// against fresh servers pinned to CPU 0, the tool on CPU 1.
//
//	app connect -url U -pid P [-token-secret S] ...   one churn cell (JSON)
//	app api -url U -pid P -token-secret S ...         one API cell (JSON)
//	app mem -url U -pid P -pprof U -mode sse|ws ...   one memory cell (JSON)
//	app verify [-n N]                                 one token check alone (JSON)
//	app report -raw DIR -out DIR -commit C            bench/results/app.{md,json}
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
)

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: app connect|api|mem|report [flags]")
		os.Exit(2)
	}
	var v any
	var err error
	switch os.Args[1] {
	case "connect":
		v, err = cmdConnect(os.Args[2:])
	case "api":
		v, err = cmdAPI(os.Args[2:])
	case "mem":
		v, err = cmdMem(os.Args[2:])
	case "verify":
		v, err = cmdVerify(os.Args[2:])
	case "report":
		err = cmdReport(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
	if v != nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}
}
