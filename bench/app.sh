#!/usr/bin/env bash
# Apps: tokens, API, feed (docs/BENCHMARK.md). Runs on its own (bash
# bench/app.sh, about 6 minutes) or from bench/run.sh (BENCH_ONLY=app runs
# only this; BENCH_SKIP_APP=1 leaves it out). Every cell is a fresh
# draw-server on CPU 0 with a fresh SQLite file in a temporary directory,
# the tool (bench/app) on CPU 1, side by side in one run:
#  1. token check at CONNECT: ~1000 connections/s (connect, CONNECT, close)
#     with a valid token against without one, -token-secret set in both,
#     APP_CONNECT_REPEATS (4) pairs, the order alternating; and one token
#     check alone (jwt Verify in a loop on CPU 0) as a cross-check;
#  2. API draw: APP_API_CALLERS (2) callers x APP_API_RATE (30) requests/s x
#     APP_API_STROKES (100) strokes, live to APP_API_WATCHERS (1000) synced
#     socket.io watchers, against the same requests with 1 watcher,
#     APP_API_REPEATS (2) pairs; then once with nobody on the board;
#  3. memory: 1000 SSE readers against 1000 websocket clients on one board,
#     APP_MEM_REPEATS (2) pairs.
# Then CPU profiles of a token churn cell and API cells with 1000 and 0
# watchers
# (BENCH_SKIP_PROFILE=1 leaves them out). Writes bench/results/app.md,
# app.json and profile-app-*.txt; raw cells in bench/results/raw/app/.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/results
RAW=$OUT/raw/app
BENCH_NAME=app
. bench/lib.sh
for tool in go curl; do command -v "$tool" >/dev/null || die "$tool is needed"; done

pin_cpus
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d)
SERVER_PID= SERVER_DB=
cleanup() {
	[ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$RAW"
rm -f "$RAW"/*.json "$RAW"/*.log "$RAW"/*.pprof

say "building draw-server and bench/app"
COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
go build -o "$WORK/draw-server" .
go build -o "$WORK/app" ./bench/app

# Secrets for this run only.
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
APIKEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

# start_server PORT LOG [flags...] sets SERVER_PID.
start_server() {
	local port=$1 log=$2
	shift 2
	SERVER_DB=$WORK/$(basename "$log" .log)-$port.db
	rm -f "$SERVER_DB" "$SERVER_DB-wal" "$SERVER_DB-shm"
	"${PIN_SERVER[@]}" "$WORK/draw-server" -addr "127.0.0.1:$port" -db "$SERVER_DB" -log-level warn \
		-token-secret "$SECRET" -api-key "$APIKEY" "$@" >"$log" 2>&1 &
	SERVER_PID=$!
	wait_ready "$SERVER_PID" "$port" "$log" server
}

stop_server() {
	stop_pid "$SERVER_PID"
	SERVER_PID=
	rm -f "$SERVER_DB" "$SERVER_DB-wal" "$SERVER_DB-shm"
}

# cell NAME "SERVER FLAGS" SUBCOMMAND [tool flags...]: one fresh server, one
# run of the tool into $RAW/NAME.json. The tool gets -url and -pid; a -pprof
# server flag makes it get -pprof too.
cell() {
	local name=$1 sflags=$2 sub=$3 port pport extra=()
	shift 3
	port=$(free_port)
	if [[ " $sflags " == *" -pprof "* ]]; then
		pport=$(free_port)
		sflags=${sflags/-pprof/-pprof 127.0.0.1:$pport}
		extra=(-pprof "http://127.0.0.1:$pport")
	fi
	# shellcheck disable=SC2086 # the server flags are words without spaces
	start_server "$port" "$RAW/$name.server.log" $sflags
	"${PIN_TESTER[@]}" timeout 240 "$WORK/app" "$sub" -url "http://127.0.0.1:$port" -pid "$SERVER_PID" "${extra[@]}" "$@" \
		>"$RAW/$name.json" 2>"$RAW/$name.tool.log" || { say "$name failed; see $RAW/$name.tool.log"; rm -f "$RAW/$name.json"; }
	stop_server
	[ -s "$RAW/$name.json" ] && say "$name: $(tr -d '\n ' <"$RAW/$name.json" | cut -c1-220)"
	return 0
}

CONNECT_RATE=${APP_CONNECT_RATE:-1000}
connect=(-rate "$CONNECT_RATE" -warmup 2s -duration 8s)
for k in $(seq "${APP_CONNECT_REPEATS:-4}"); do
	if [ $((k % 2)) = 1 ]; then order="tok none"; else order="none tok"; fi
	for m in $order; do
		if [ "$m" = tok ]; then
			cell "connect-tok-$k" "" connect "${connect[@]}" -token-secret "$SECRET"
		else
			cell "connect-none-$k" "" connect "${connect[@]}"
		fi
	done
done

# One token check alone, on the server's core: what it adds to a CONNECT.
"${PIN_SERVER[@]}" "$WORK/app" verify >"$RAW/verify.json" 2>"$RAW/verify.tool.log" || rm -f "$RAW/verify.json"

api=(-token-secret "$SECRET" -callers "${APP_API_CALLERS:-2}" -rate "${APP_API_RATE:-30}" -strokes "${APP_API_STROKES:-100}"
	-warmup 3s -duration 10s -drain 5s)
aflags="-max-board-segments 100000000"
W=${APP_API_WATCHERS:-1000}
for k in $(seq "${APP_API_REPEATS:-2}"); do
	if [ $((k % 2)) = 1 ]; then order="$W 1"; else order="1 $W"; fi
	for w in $order; do
		cell "api-w$w-$k" "$aflags" api "${api[@]}" -watchers "$w"
	done
done
# Nobody on the board: the server opens it for each request and forgets it
# after (draw/api.go apiWrite), so each request reloads the board's log.
cell "api-w0-1" "$aflags" api "${api[@]}" -watchers 0

mem=(-token-secret "$SECRET" -api-key "$APIKEY" -n "${APP_MEM_CONNECTIONS:-1000}")
for k in $(seq "${APP_MEM_REPEATS:-2}"); do
	if [ $((k % 2)) = 1 ]; then order="sse ws"; else order="ws sse"; fi
	for m in $order; do
		cell "mem-$m-$k" "-pprof" mem "${mem[@]}" -mode "$m"
	done
done

# profile NAME SUBCOMMAND DELAY SECONDS [tool flags...]: a separate run with
# -pprof; a CPU profile of SECONDS taken DELAY seconds after the tool starts.
profile() {
	local name=$1 sub=$2 delay=$3 secs=$4 port pport tool
	shift 4
	port=$(free_port)
	pport=$(free_port)
	start_server "$port" "$RAW/profile-$name.server.log" -pprof "127.0.0.1:$pport" -max-board-segments 100000000
	"${PIN_TESTER[@]}" timeout 240 "$WORK/app" "$sub" -url "http://127.0.0.1:$port" -pid "$SERVER_PID" "$@" \
		>"$RAW/profile-$name.out" 2>"$RAW/profile-$name.tool.log" &
	tool=$!
	sleep "$delay"
	curl -fso "$RAW/$name.cpu.pprof" "http://127.0.0.1:$pport/debug/pprof/profile?seconds=$secs" || say "profile $name failed"
	wait "$tool" || true
	stop_server
	if [ -s "$RAW/$name.cpu.pprof" ]; then
		{
			echo "# CPU profile of draw-server: $name (go tool pprof -top -cum)"
			go tool pprof -top -cum -nodecount=50 "$WORK/draw-server" "$RAW/$name.cpu.pprof" 2>/dev/null
			echo
			echo "# by own time"
			go tool pprof -top -nodecount=30 "$WORK/draw-server" "$RAW/$name.cpu.pprof" 2>/dev/null
		} >"$OUT/profile-app-$name.txt"
		say "profile: $OUT/profile-app-$name.txt"
	fi
}
if [ "${BENCH_SKIP_PROFILE:-}" != 1 ]; then
	profile connect-token connect 3 6 -rate "$CONNECT_RATE" -warmup 2s -duration 8s -token-secret "$SECRET"
	profile api-w$W api 8 8 "${api[@]}" -watchers "$W"
	profile api-w0 api 5 8 "${api[@]}" -watchers 0
fi

"$WORK/app" report -raw "$RAW" -out "$OUT" -commit "$COMMIT"
say "done: $OUT/app.md, $OUT/app.json"
