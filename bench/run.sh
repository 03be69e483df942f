#!/usr/bin/env bash
# `make bench`: our draw-server against the original app's Node server
# (bench/node-reference), same load, same machine, one fresh server process
# per cell. Server on CPU 0, load tester on CPU 1. Writes
# bench/results/{results.json,results.md,chart.svg,profile-ours-1000.txt};
# raw per-run JSON and logs go to bench/results/raw/ (not committed).
# Then boards that remember (bench/memory): recording on against off, a
# sustained-recording ladder, the writer alone and the late join of a busy
# board, into bench/results/{memory.md,memory.json,profile-memory-*.txt}.
# Every start of our server gets a fresh SQLite file in a temporary
# directory, deleted when it stops (the late-join board is kept across its
# restarts), so nothing is written into the repository.
# Takes about 14 minutes (7 with BENCH_SKIP_MEMORY=1). Knobs (environment):
# BENCH_CLIENTS, BENCH_SENDERS, BENCH_RATE, BENCH_DURATION, BENCH_WARMUP,
# BENCH_IDLE, BENCH_SERVERS ("ours ours-fixed node"; ours-fixed only in the
# fan-out cells), BENCH_SKIP_IDLE=1 (the report then keeps the idle rows of
# the previous results.json), BENCH_SKIP_PROFILE=1,
# BENCH_SKIP_MEMORY=1, BENCH_LADDER (nominal segments/s, "5000 10000 20000
# 40000"), BENCH_LADDER_REPEATS (2), BENCH_SOLO ("40000"),
# BENCH_MEMORY_REPEATS (on/off pairs at 1000 clients, 2),
# BENCH_MEMORY_PROFILE_RUNG (10000), BENCH_MAX_OTHER_CPU (2), BENCH_SKIP_BROWSER=1.
# Several nodes (docs/BENCHMARK.md): a redis-server started here and two
# nodes with -redis, 1000 clients split over them on one board, against one
# node under the same load in the same run, into bench/results/{cluster.md,
# cluster.json,profile-cluster-*.txt}: BENCH_SKIP_CLUSTER=1 leaves it out,
# BENCH_ONLY=cluster runs nothing else (about 4 minutes; needs no Node),
# BENCH_CLUSTER_REPEATS (2), BENCH_CLUSTER_CLIENTS (1000),
# BENCH_CLUSTER_SERVER_FLAGS (extra flags for every server of those cells).
# Apps (tokens at CONNECT, the HTTP API's draw throughput, SSE memory;
# bench/app.sh, docs/BENCHMARK.md "Apps: tokens, API, feed") run last, into
# bench/results/{app.md,app.json,profile-app-*.txt}: BENCH_SKIP_APP=1 leaves
# them out, BENCH_ONLY=app runs nothing else (about 4 minutes; needs no Node
# and no Redis).
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${BENCH_CLIENTS:-"100 500 1000 2000"}
SENDERS=${BENCH_SENDERS:-10}
RATE=${BENCH_RATE:-20}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
IDLE=${BENCH_IDLE:-10000}
# ours-fixed is our server with -flush-fixed (the whole 16 ms gathering
# window at every load, as before adaptive gathering): fan-out cells only.
SERVERS=${BENCH_SERVERS:-"ours ours-fixed node"}
IDLE_SERVERS=$(for s in $SERVERS; do [ "$s" = ours-fixed ] || printf '%s ' "$s"; done)
OUT=bench/results
RAW=$OUT/raw

BENCH_NAME=bench
. bench/lib.sh

ONLY=${BENCH_ONLY:-}
case $ONLY in
"") ;;
app)
	[ "${BENCH_SKIP_APP:-}" != 1 ] || die "BENCH_ONLY=app and BENCH_SKIP_APP=1 leave nothing to run"
	exec bash bench/app.sh
	;;
cluster)
	[ "${BENCH_SKIP_CLUSTER:-}" != 1 ] || die "BENCH_ONLY=cluster and BENCH_SKIP_CLUSTER=1 leave nothing to run"
	CLIENTS="" BENCH_SKIP_IDLE=1 BENCH_SKIP_MEMORY=1
	;;
*) die "BENCH_ONLY=$ONLY: the parts that run alone are cluster and app" ;;
esac

tools="go curl"
[ "$ONLY" = cluster ] || tools="$tools node npm"
[ "${BENCH_SKIP_CLUSTER:-}" = 1 ] || tools="$tools redis-server redis-cli"
for tool in $tools; do
	command -v "$tool" >/dev/null || die "$tool is needed (see docs/BENCHMARK.md)"
done

# Pinning keeps the server and the tester from competing for one core; on a
# one-CPU machine both share it and the numbers say less.
pin_cpus

# Every connection is a descriptor in the tester and one in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 1000)) ]; then
	IDLE=$(($(ulimit -n) - 1000))
	say "warning: open-file limit $(ulimit -n): idle cell reduced to $IDLE connections"
fi

WORK=$(mktemp -d)
SERVER_PID= SERVER_DB= KEEP_DB=
CLUSTER_PIDS=() # the cluster cells' nodes and redis-server, while they run
cleanup() {
	[ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null || true
	for p in "${CLUSTER_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$RAW"
[ "$ONLY" = cluster ] || rm -f "$RAW"/*.json "$RAW"/*.log "$RAW"/*.pprof

say "building draw-server and the report tool"
COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
go build -o "$WORK/draw-server" .
go build -o "$WORK/report" ./bench/report
go build -o "$WORK/memory" ./bench/memory
if [ "$ONLY" != cluster ]; then
	say "installing the Node reference (npm ci)"
	(cd bench/node-reference && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

HAVE_PPROF=
if "$WORK/draw-server" -h 2>&1 | grep -q -- '-pprof'; then HAVE_PPROF=1; fi

# start_server NAME PORT LOG [extra server flags...] sets SERVER_PID. Our
# server keeps its boards in $KEEP_DB when that is set, else in a fresh
# SQLite file under $WORK that stop_server deletes.
start_server() {
	local name=$1 port=$2 log=$3
	shift 3
	case $name in
	ours | ours-fixed)
		[ "$name" = ours-fixed ] && set -- -flush-fixed "$@"
		SERVER_DB=${KEEP_DB:-$WORK/$(basename "$log" .log)-$port.db}
		[ -n "$KEEP_DB" ] || rm -f "$SERVER_DB" "$SERVER_DB-wal" "$SERVER_DB-shm"
		"${PIN_SERVER[@]}" "$WORK/draw-server" -addr "127.0.0.1:$port" -db "$SERVER_DB" -log-level warn "$@" >"$log" 2>&1 &
		;;
	node) "${PIN_SERVER[@]}" node bench/node-reference/server.js -addr "127.0.0.1:$port" >"$log" 2>&1 & ;;
	*) die "unknown server $name" ;;
	esac
	SERVER_PID=$!
	wait_ready "$SERVER_PID" "$port" "$log" "$name server"
}

stop_server() {
	stop_pid "$SERVER_PID"
	SERVER_PID=
	if [ -n "$SERVER_DB" ] && [ -z "$KEEP_DB" ]; then
		rm -f "$SERVER_DB" "$SERVER_DB-wal" "$SERVER_DB-shm"
	fi
	SERVER_DB=
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
if [ "$ONLY" != cluster ]; then
	for s in $SERVERS; do
		cell "$s" poll10-1000 -clients 1000 -polling 0.1 -ramp 2s "${fanout[@]}"
	done
fi

if [ "${BENCH_SKIP_IDLE:-}" != 1 ]; then
	idle=(-clients "$IDLE" -senders 0 -warmup 2s -duration 5s -ramp "$(ramp "$IDLE")" -connect-timeout 60s -drain 0s)
	for s in $IDLE_SERVERS; do
		cell "$s" "idle-$IDLE" "${idle[@]}"
		cell "$s" "idle-$IDLE-b100" "${idle[@]}" -boards 100
	done
fi

# A CPU profile of our server under the 1000-client load, in its own run so
# the profiler's cost stays out of the measured cells.
if [ "${BENCH_SKIP_PROFILE:-}" != 1 ] && [ "$ONLY" != cluster ] && [[ " $SERVERS " == *" ours "* ]]; then
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

# Boards that remember (docs/BENCHMARK.md): the same server with recording
# on and off, side by side in this run, each start fresh (and with a fresh
# SQLite file); the tester reads the server's /metrics at the window's edges
# (-metrics) for what was stored and how long the commits took.
if [ "${BENCH_SKIP_MEMORY:-}" != 1 ] && [[ " $SERVERS " == *" ours "* ]]; then
	MRAW=$RAW/memory
	mkdir -p "$MRAW"
	rm -f "$MRAW"/*.json "$MRAW"/*.log "$MRAW"/*.pprof "$OUT"/profile-memory-*.txt

	# mcell LABEL "SERVER FLAGS" [loadtest flags...]: one fresh server, one
	# load test with -metrics, into $MRAW/LABEL.json; tried once more if it
	# lost connections, like cell, or if other work on the machine used more
	# than BENCH_MAX_OTHER_CPU (2) CPU-s in its window. The second is kept.
	mcell() {
		local label=$1 sflags=$2 port why
		shift 2
		local base=$MRAW/$label
		for try in 1 2; do
			port=$(free_port)
			# shellcheck disable=SC2086 # the server flags are words without spaces
			start_server ours "$port" "$base.server.log" $sflags
			"${PIN_TESTER[@]}" timeout 180 "$WORK/draw-server" loadtest -url "http://127.0.0.1:$port" -pid "$SERVER_PID" -metrics -json "$@" \
				>"$base.json" 2>"$base.tester.log" || true
			stop_server
			if [ ! -s "$base.json" ]; then
				say "memory $label: no result; see $base.tester.log"
				rm -f "$base.json"
				return
			fi
			if [ "$try" = 1 ] && { ! why=$("$WORK/report" check "$base.json") ||
				! why=$("$WORK/report" quiet "$base.json" "${BENCH_MAX_OTHER_CPU:-2}"); }; then
				say "memory $label: $why; trying once more"
				continue
			fi
			break
		done
		say "memory $label: $("$WORK/report" line "$base.json")"
	}

	# 1. Recording on against off at 1000 clients on one board; in each pair
	# the other one goes first.
	for k in $(seq "${BENCH_MEMORY_REPEATS:-2}"); do
		if [ $((k % 2)) = 1 ]; then
			mcell "rec-on-$k" "" -clients 1000 -ramp 2s "${fanout[@]}"
			mcell "rec-off-$k" "-record-classic=false" -clients 1000 -ramp 2s "${fanout[@]}"
		else
			mcell "rec-off-$k" "-record-classic=false" -clients 1000 -ramp 2s "${fanout[@]}"
			mcell "rec-on-$k" "" -clients 1000 -ramp 2s "${fanout[@]}"
		fi
	done

	# 2. Sustained recording: 100 boards of 20 users who all draw, every move
	# relayed to the 19 others and recorded; rate = segments/s ÷ 2000 users.
	ladder=(-clients 2000 -senders 2000 -boards 100 -ramp 4s -warmup 3s -duration 8s -drain 5s -connect-timeout 30s)
	# On and off take turns going first, so a drift of the machine does not
	# always favour one.
	# Near saturation one run says little, so each rung runs
	# BENCH_LADDER_REPEATS times (2) each way.
	first=on
	for k in $(seq "${BENCH_LADDER_REPEATS:-2}"); do
		for n in ${BENCH_LADDER:-5000 10000 20000 40000}; do
			rate=$(awk -v n="$n" 'BEGIN { printf "%g", n / 2000 }')
			for mode in $first $([ $first = on ] && echo off || echo on); do
				if [ "$mode" = on ]; then
					mcell "ladder-$n-on-$k" "" -rate "$rate" "${ladder[@]}"
				else
					mcell "ladder-$n-off-$k" "-record-classic=false" -rate "$rate" "${ladder[@]}"
				fi
			done
			first=$([ $first = on ] && echo off || echo on)
		done
	done
	# The same users and rates with nobody to relay to (each on a board of
	# its own): what recording costs when the fan-out does not.
	for n in ${BENCH_SOLO:-40000}; do
		rate=$(awk -v n="$n" 'BEGIN { printf "%g", n / 2000 }')
		mcell "solo-$n-on" "" -rate "$rate" "${ladder[@]}" -boards 2000
		mcell "solo-$n-off" "-record-classic=false" -rate "$rate" "${ladder[@]}" -boards 2000
	done

	# Where the CPU goes at one rung: a separate run with the profiler.
	profile_args=()
	prung=${BENCH_MEMORY_PROFILE_RUNG:-10000}
	if [ "${BENCH_SKIP_PROFILE:-}" != 1 ] && [ -n "$HAVE_PPROF" ]; then
		port=$(free_port)
		pport=$(free_port)
		start_server ours "$port" "$MRAW/profile.server.log" -pprof "127.0.0.1:$pport"
		"${PIN_TESTER[@]}" timeout 180 "$WORK/draw-server" loadtest -url "http://127.0.0.1:$port" \
			-rate "$(awk -v n="$prung" 'BEGIN { printf "%g", n / 2000 }')" "${ladder[@]}" -duration 12s -json \
			>"$MRAW/profile.loadtest.out" 2>"$MRAW/profile.tester.log" &
		tester=$!
		sleep 9 # ramp and warm-up, then 8 s of the 12 s window
		curl -fso "$MRAW/ladder-$prung.cpu.pprof" "http://127.0.0.1:$pport/debug/pprof/profile?seconds=8" || say "memory profile fetch failed"
		wait "$tester" || true
		stop_server
		if [ -s "$MRAW/ladder-$prung.cpu.pprof" ]; then
			pfile=$OUT/profile-memory-$prung.txt
			{
				echo "# CPU profile of draw-server recording: 100 boards x 20 drawing users, $prung segments/s nominal, 8 s (go tool pprof -top -cum)"
				go tool pprof -top -cum -nodecount=70 "$WORK/draw-server" "$MRAW/ladder-$prung.cpu.pprof" 2>/dev/null
				echo
				echo "# by own time"
				go tool pprof -top -nodecount=30 "$WORK/draw-server" "$MRAW/ladder-$prung.cpu.pprof" 2>/dev/null
			} >"$pfile"
			profile_args=(-profile "$pfile")
			say "memory profile: $pfile"
		fi
	fi

	# 3. The writer alone, on the server's core: SQLite against the memory store.
	say "memory: the writer alone"
	"${PIN_SERVER[@]}" timeout 120 "$WORK/memory" writer -dir "$WORK" >"$MRAW/writer.json" 2>"$MRAW/writer.log" ||
		{ say "memory writer failed; see $MRAW/writer.log"; rm -f "$MRAW/writer.json"; }

	# 4. Late join of a busy board: 100,000 segments seeded into a SQLite
	# file the way the page draws; the server restarts on that file.
	say "memory: late join of a board with 100,000 segments"
	KEEP_DB=$WORK/latejoin.db
	# Beside it, as a reference for the browser, the same drawing without its
	# undos and redos (the page redraws everything for each).
	if timeout 60 "$WORK/memory" seed -db "$KEEP_DB" -board busy -segments 100000 >"$MRAW/seed.json" 2>"$MRAW/seed.log" &&
		timeout 60 "$WORK/memory" seed -db "$KEEP_DB" -add -board plain -undos 0 -segments 100000 >"$MRAW/seed-plain.json" 2>>"$MRAW/seed.log"; then
		for k in 1 2 3; do # the first history fetch after a restart
			port=$(free_port)
			start_server ours "$port" "$MRAW/first-history-$k.server.log"
			"${PIN_TESTER[@]}" timeout 60 "$WORK/memory" fetch -url "http://127.0.0.1:$port" -board busy -n 1 -identity=false \
				>"$MRAW/first-history-$k.json" 2>>"$MRAW/latejoin.log" || rm -f "$MRAW/first-history-$k.json"
			stop_server
		done
		for k in 1 2 3; do # the first socket join after a restart, then one on the warm server
			port=$(free_port)
			start_server ours "$port" "$MRAW/first-join-$k.server.log"
			"${PIN_TESTER[@]}" timeout 60 "$WORK/memory" join -url "http://127.0.0.1:$port" -board busy \
				>"$MRAW/first-join-$k.json" 2>>"$MRAW/latejoin.log" || rm -f "$MRAW/first-join-$k.json"
			"${PIN_TESTER[@]}" timeout 60 "$WORK/memory" join -url "http://127.0.0.1:$port" -board busy \
				>"$MRAW/warm-join-$k.json" 2>>"$MRAW/latejoin.log" || rm -f "$MRAW/warm-join-$k.json"
			stop_server
		done
		port=$(free_port)
		pport=$(free_port)
		start_server ours "$port" "$MRAW/latejoin.server.log" -pprof "127.0.0.1:$pport"
		"${PIN_TESTER[@]}" timeout 120 "$WORK/memory" fetch -url "http://127.0.0.1:$port" -board busy -pid "$SERVER_PID" -n 10 \
			>"$MRAW/fetch.json" 2>>"$MRAW/latejoin.log" || rm -f "$MRAW/fetch.json"
		# Where a fetch's CPU goes: a profile over more fetches, kept out of the numbers above.
		if [ "${BENCH_SKIP_PROFILE:-}" != 1 ] && [ -n "$HAVE_PPROF" ]; then
			curl -fso "$MRAW/fetch.cpu.pprof" "http://127.0.0.1:$pport/debug/pprof/profile?seconds=4" &
			prof=$!
			sleep 0.2
			"${PIN_TESTER[@]}" timeout 60 "$WORK/memory" fetch -url "http://127.0.0.1:$port" -board busy -n 30 -identity=false \
				>/dev/null 2>>"$MRAW/latejoin.log" || true
			wait "$prof" || say "memory: fetch profile failed"
			if [ -s "$MRAW/fetch.cpu.pprof" ]; then
				{
					echo "# CPU profile of draw-server serving history.ndjson (gzip) of a 100,000-segment board, 4 s of back-to-back fetches (go tool pprof -top -cum)"
					go tool pprof -top -cum -nodecount=45 "$WORK/draw-server" "$MRAW/fetch.cpu.pprof" 2>/dev/null
				} >"$OUT/profile-memory-fetch.txt"
			fi
		fi
		if [ "${BENCH_SKIP_BROWSER:-}" != 1 ] && [ -x "${CHROMIUM:-/usr/bin/chromium}" ] && [ -d node_modules/playwright-core ]; then
			head=$(sed -n 's/^ *"head": \([0-9]*\),*$/\1/p' "$MRAW/seed.json")
			visible=$(sed -n 's/^ *"visible_pieces": \([0-9]*\),*$/\1/p' "$MRAW/seed.json")
			# Chromium on the tester's core (a browser with one core to itself),
			# then free to use both (the server is idle but for the join).
			"${PIN_TESTER[@]}" timeout 150 node bench/memory/latejoin.mjs "http://127.0.0.1:$port" busy "$head" "$visible" 3 \
				>"$MRAW/browser-1cpu.json" 2>>"$MRAW/latejoin.log" || say "memory: the browser run failed; see $MRAW/browser-1cpu.json"
			timeout 150 node bench/memory/latejoin.mjs "http://127.0.0.1:$port" busy "$head" "$visible" 3 \
				>"$MRAW/browser.json" 2>>"$MRAW/latejoin.log" || say "memory: the browser run failed; see $MRAW/browser.json"
			head=$(sed -n 's/^ *"head": \([0-9]*\),*$/\1/p' "$MRAW/seed-plain.json")
			timeout 150 node bench/memory/latejoin.mjs "http://127.0.0.1:$port" plain "$head" "$head" 3 \
				>"$MRAW/browser-plain.json" 2>>"$MRAW/latejoin.log" || say "memory: the browser run failed; see $MRAW/browser-plain.json"
		else
			say "memory: no Chromium or playwright-core: browser late join skipped"
		fi
		stop_server
	else
		say "memory: seeding failed; see $MRAW/seed.log"
	fi
	rm -f "$KEEP_DB" "$KEEP_DB-wal" "$KEEP_DB-shm"
	KEEP_DB=

	if "$WORK/memory" report -raw "$MRAW" -out "$OUT" -commit "$COMMIT" "${profile_args[@]}"; then
		say "memory: $OUT/memory.md"
	else
		say "memory: no report (see the messages above)"
	fi
fi

. bench/cluster.sh

if [ "$ONLY" = cluster ]; then
	say "done"
	exit 0
fi
"$WORK/report" build -raw "$RAW" -out "$OUT" -commit "$COMMIT"
say "done: $OUT/results.md, $OUT/results.json, $OUT/chart.svg"

# Apps: tokens, API, feed (bench/app.sh, with its own servers and cleanup).
if [ "${BENCH_SKIP_APP:-}" != 1 ]; then
	bash bench/app.sh || say "apps: bench/app.sh failed"
fi
