#!/usr/bin/env bash
# `make bench`: our draw-server against the original app's Node server
# (bench/node-reference), same load, same machine, one fresh server process
# per cell. Server on CPU 0, load tester on CPU 1. Writes
# bench/results/{results.json,results.md,chart.svg,profile-ours-1000.txt};
# raw per-run JSON and logs go to bench/results/raw/ (not committed).
# Takes about 5 minutes. Knobs (environment): BENCH_CLIENTS, BENCH_SENDERS,
# BENCH_RATE, BENCH_DURATION, BENCH_WARMUP, BENCH_IDLE, BENCH_SERVERS,
# BENCH_SKIP_IDLE=1, BENCH_SKIP_PROFILE=1.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${BENCH_CLIENTS:-"100 500 1000 2000"}
SENDERS=${BENCH_SENDERS:-10}
RATE=${BENCH_RATE:-20}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
IDLE=${BENCH_IDLE:-10000}
SERVERS=${BENCH_SERVERS:-"ours node"}
OUT=bench/results
RAW=$OUT/raw

say() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "$*"; exit 1; }

for tool in go node npm curl; do
	command -v "$tool" >/dev/null || die "$tool is needed (see docs/BENCHMARK.md)"
done

# Pinning keeps the server and the tester from competing for one core; on a
# one-CPU machine both share it and the numbers say less.
PIN_SERVER=() PIN_TESTER=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	PIN_SERVER=(taskset -c 0) PIN_TESTER=(taskset -c 1)
else
	say "warning: no taskset or fewer than 2 CPUs: server and tester are not pinned"
fi

# Every connection is a descriptor in the tester and one in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 1000)) ]; then
	IDLE=$(($(ulimit -n) - 1000))
	say "warning: open-file limit $(ulimit -n): idle cell reduced to $IDLE connections"
fi

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
	[ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$RAW"
rm -f "$RAW"/*.json "$RAW"/*.log "$RAW"/*.pprof

say "building draw-server and the report tool"
COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
go build -o "$WORK/draw-server" .
go build -o "$WORK/report" ./bench/report
say "installing the Node reference (npm ci)"
(cd bench/node-reference && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

HAVE_PPROF=
if "$WORK/draw-server" -h 2>&1 | grep -q -- '-pprof'; then HAVE_PPROF=1; fi

# free_port prints a loopback port nobody listens on. A fresh port per cell
# also keeps the last cell's TIME_WAIT sockets out of the way.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 10000))
		if ! (: </dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# start_server NAME PORT LOG [extra server flags...] sets SERVER_PID.
start_server() {
	local name=$1 port=$2 log=$3
	shift 3
	case $name in
	ours) "${PIN_SERVER[@]}" "$WORK/draw-server" -addr "127.0.0.1:$port" -log-level warn "$@" >"$log" 2>&1 & ;;
	node) "${PIN_SERVER[@]}" node bench/node-reference/server.js -addr "127.0.0.1:$port" >"$log" 2>&1 & ;;
	*) die "unknown server $name" ;;
	esac
	SERVER_PID=$!
	for _ in $(seq 150); do
		if curl -fso /dev/null "http://127.0.0.1:$port/socket.io/?EIO=4&transport=polling"; then
			return
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || die "$name server exited at start; see $log"
		sleep 0.1
	done
	die "$name server did not answer within 15 s; see $log"
}

stop_server() {
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}

# cell SERVER LABEL [loadtest flags...]: one fresh server, one load test.
# A run that lost connections is tried once more: on a shared machine a
# server is sometimes stopped from outside, and one bad run should not stand
# for the server. The second result is kept either way.
cell() {
	local server=$1 label=$2
	shift 2
	local port base=$RAW/$server-$label why
	for try in 1 2; do
		port=$(free_port)
		start_server "$server" "$port" "$base.server.log"
		"${PIN_TESTER[@]}" "$WORK/draw-server" loadtest -url "http://127.0.0.1:$port" -pid "$SERVER_PID" -json "$@" \
			>"$base.json" 2>"$base.tester.log" || true
		stop_server
		if [ ! -s "$base.json" ]; then
			say "$server $label: no result; see $base.tester.log"
			return
		fi
		if [ "$try" = 1 ] && ! why=$("$WORK/report" check "$base.json"); then
			say "$server $label: $why; trying once more"
			continue
		fi
		break
	done
	say "$server $label: $("$WORK/report" line "$base.json")"
}

# ramp opens connections at about 500 a second, at least over one second.
ramp() { echo "$(((${1} + 499) / 500))s"; }

fanout=(-senders "$SENDERS" -rate "$RATE" -warmup "$WARMUP" -duration "$DURATION" -drain 5s -connect-timeout 30s)
for n in $CLIENTS; do
	for s in $SERVERS; do
		cell "$s" "ws-$n" -clients "$n" -ramp "$(ramp "$n")" "${fanout[@]}"
	done
done
for s in $SERVERS; do
	cell "$s" poll10-1000 -clients 1000 -polling 0.1 -ramp 2s "${fanout[@]}"
done

if [ "${BENCH_SKIP_IDLE:-}" != 1 ]; then
	idle=(-clients "$IDLE" -senders 0 -warmup 2s -duration 5s -ramp "$(ramp "$IDLE")" -connect-timeout 60s -drain 0s)
	for s in $SERVERS; do
		cell "$s" "idle-$IDLE" "${idle[@]}"
		cell "$s" "idle-$IDLE-b100" "${idle[@]}" -boards 100
	done
fi

# A CPU profile of our server under the 1000-client load, in its own run so
# the profiler's cost stays out of the measured cells.
if [ "${BENCH_SKIP_PROFILE:-}" != 1 ] && [[ " $SERVERS " == *" ours "* ]]; then
	if [ -n "$HAVE_PPROF" ]; then
		port=$(free_port)
		pport=$(free_port)
		start_server ours "$port" "$RAW/profile.server.log" -pprof "127.0.0.1:$pport"
		"${PIN_TESTER[@]}" "$WORK/draw-server" loadtest -url "http://127.0.0.1:$port" -clients 1000 -ramp 2s \
			-senders "$SENDERS" -rate "$RATE" -warmup 3s -duration 12s -json \
			>"$RAW/profile.loadtest.json" 2>"$RAW/profile.tester.log" &
		tester=$!
		sleep 6 # ramp and warm-up, then profile 8 s of the 12 s window
		curl -fso "$RAW/ours-1000.cpu.pprof" "http://127.0.0.1:$pport/debug/pprof/profile?seconds=8" || say "profile fetch failed"
		wait "$tester" || true
		stop_server
		if [ -s "$RAW/ours-1000.cpu.pprof" ]; then
			{
				echo "# CPU profile of draw-server, 1000 clients, 10 senders x 20/s, 8 s (go tool pprof -top)"
				go tool pprof -top -nodecount=30 "$WORK/draw-server" "$RAW/ours-1000.cpu.pprof" 2>/dev/null
				echo
				echo "# by cumulative time"
				go tool pprof -top -cum -nodecount=40 "$WORK/draw-server" "$RAW/ours-1000.cpu.pprof" 2>/dev/null
			} >"$OUT/profile-ours-1000.txt"
			say "profile: $OUT/profile-ours-1000.txt"
		fi
	else
		say "draw-server has no -pprof flag: skipping the profile"
	fi
fi

"$WORK/report" build -raw "$RAW" -out "$OUT" -commit "$COMMIT"
say "done: $OUT/results.md, $OUT/results.json, $OUT/chart.svg"
