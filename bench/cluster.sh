# Several nodes: sourced by bench/run.sh (which sources bench/lib.sh and
# defines start_server, stop_server, PIN_SERVER, PIN_TESTER, WORK, RAW,
# OUT, COMMIT, HAVE_PPROF and the fan-out load in fanout).
#
# Per repeat, in alternating order, each cell on fresh processes:
#   single-K   one node, default configuration (SQLite), as the fan-out cells
#   redis1-K   one node with -redis: boards in Redis, nobody to relay to
#   cluster-K  a redis-server and two nodes with -redis; the tester deals its
#              clients over both (-url A,B), so half of every move's
#              receivers are on the other node
# The nodes and redis-server share CPU 0, the tester has CPU 1. Redis is
# started here (--save '' --appendonly no) on a free loopback port; its CPU
# over the window comes from /proc (loadtest -aux-pid), its command counts
# and times from INFO before and after each run. While a cluster cell runs,
# each node's draw_cluster_queue is read every 200 ms for its peak.
# Then, with -pprof, a CPU profile of both nodes under the same load.
# Writes bench/results/{cluster.md,cluster.json,profile-cluster-node*.txt};
# raw files go to bench/results/raw/cluster/.

if [ "${BENCH_SKIP_CLUSTER:-}" != 1 ]; then
	CRAW=$RAW/cluster
	mkdir -p "$CRAW"
	rm -f "$CRAW"/*.json "$CRAW"/*.log "$CRAW"/*.txt "$CRAW"/*.pprof "$OUT"/profile-cluster-*.txt
	CN=${BENCH_CLUSTER_CLIENTS:-1000}
	# Extra flags for every server of these cells, e.g. -flush-fixed.
	read -r -a CFLAGS <<<"${BENCH_CLUSTER_SERVER_FLAGS:-}"
	cload=(-clients "$CN" -ramp "$(((CN + 499) / 500))s" "${fanout[@]}" -metrics -json)

	# redis_start LOG sets REDIS_PID and REDIS_PORT: a fresh redis-server on
	# the servers' core, without persistence.
	redis_start() {
		REDIS_PORT=$(free_port)
		"${PIN_SERVER[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$WORK" --daemonize no --logfile '' >"$1" 2>&1 &
		REDIS_PID=$!
		CLUSTER_PIDS+=("$REDIS_PID")
		for _ in $(seq 100); do
			[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return
			kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited at start; see $1"
			sleep 0.1
		done
		die "redis-server did not answer within 10 s; see $1"
	}

	# node_start PORT LOG [flags...] sets NODE_PID: one node of the cluster
	# on $REDIS_PORT, on the servers' core.
	node_start() {
		local port=$1 log=$2
		shift 2
		"${PIN_SERVER[@]}" "$WORK/draw-server" -addr "127.0.0.1:$port" -redis "redis://127.0.0.1:$REDIS_PORT/0" \
			-log-level warn "$@" >"$log" 2>&1 &
		NODE_PID=$!
		CLUSTER_PIDS+=("$NODE_PID")
		wait_ready "$NODE_PID" "$port" "$log" node
	}

	# stop_pids PID...: each in turn from the last (the nodes before
	# redis-server), TERM, then KILL after 5 s.
	stop_pids() {
		local p i
		for ((i = $# ; i > 0; i--)); do
			p=${!i}
			stop_pid "$p"
		done
		CLUSTER_PIDS=()
	}

	# queue_watch URL... prints "URL value" of draw_cluster_queue for each
	# node every 200 ms until killed.
	queue_watch() {
		local u
		while :; do
			for u in "$@"; do
				curl -fs --max-time 1 "$u/metrics" | awk -v u="$u" '$1 == "draw_cluster_queue" { print u, $2 }'
			done
			sleep 0.2
		done
	}

	# ccell KIND LABEL: one cell (single, redis1 or cluster), tried once
	# more if it lost connections or other work used more than
	# BENCH_MAX_OTHER_CPU (2) CPU-s in its window, into $CRAW/LABEL.*
	ccell() {
		local kind=$1 label=$2 base=$CRAW/$2 why p1 p2 urls pids aux watch
		for try in 1 2; do
			rm -f "$base".*
			aux=() pids=() watch=
			case $kind in
			single)
				p1=$(free_port)
				start_server ours "$p1" "$base.server.log" "${CFLAGS[@]}"
				urls=http://127.0.0.1:$p1 pids=$SERVER_PID
				;;
			redis1)
				redis_start "$base.redis.log"
				p1=$(free_port)
				node_start "$p1" "$base.node1.log" "${CFLAGS[@]}"
				urls=http://127.0.0.1:$p1 pids=$NODE_PID aux=(-aux-pid "$REDIS_PID")
				;;
			cluster)
				redis_start "$base.redis.log"
				p1=$(free_port)
				node_start "$p1" "$base.node1.log" "${CFLAGS[@]}"
				pids=$NODE_PID
				p2=$(free_port)
				node_start "$p2" "$base.node2.log" "${CFLAGS[@]}"
				pids=$pids,$NODE_PID
				urls=http://127.0.0.1:$p1,http://127.0.0.1:$p2 aux=(-aux-pid "$REDIS_PID")
				"${PIN_TESTER[@]}" bash -c "$(declare -f queue_watch); queue_watch http://127.0.0.1:$p1 http://127.0.0.1:$p2" \
					>"$base.queue.txt" 2>/dev/null &
				watch=$!
				;;
			esac
			[ "$kind" = single ] || redis-cli -p "$REDIS_PORT" info all >"$base.redis-before.txt"
			"${PIN_TESTER[@]}" timeout 180 "$WORK/draw-server" loadtest -url "$urls" -pid "$pids" "${aux[@]}" "${cload[@]}" \
				>"$base.json" 2>"$base.tester.log" || true
			[ "$kind" = single ] || redis-cli -p "$REDIS_PORT" info all >"$base.redis-after.txt"
			if [ -n "$watch" ]; then
				kill "$watch" 2>/dev/null || true
				wait "$watch" 2>/dev/null || true
			fi
			if [ "$kind" = single ]; then
				stop_server
			else
				stop_pids "${CLUSTER_PIDS[@]}"
			fi
			if [ ! -s "$base.json" ]; then
				say "cluster $label: no result; see $base.tester.log"
				rm -f "$base.json"
				return
			fi
			if [ "$try" = 1 ] && { ! why=$("$WORK/report" check "$base.json") ||
				! why=$("$WORK/report" quiet "$base.json" "${BENCH_MAX_OTHER_CPU:-2}"); }; then
				say "cluster $label: $why; trying once more"
				continue
			fi
			break
		done
		say "cluster $label: $("$WORK/report" line "$base.json")"
	}

	for k in $(seq "${BENCH_CLUSTER_REPEATS:-2}"); do
		if [ $((k % 2)) = 1 ]; then
			ccell single "single-$k"
			ccell redis1 "redis1-$k"
			ccell cluster "cluster-$k"
		else
			ccell cluster "cluster-$k"
			ccell redis1 "redis1-$k"
			ccell single "single-$k"
		fi
	done

	# Where each node's CPU goes: the cluster cell again with -pprof on
	# both nodes, profiled together for 8 s of the window.
	if [ "${BENCH_SKIP_PROFILE:-}" != 1 ] && [ -n "$HAVE_PPROF" ]; then
		redis_start "$CRAW/profile.redis.log"
		p1=$(free_port) pp1=$(free_port)
		node_start "$p1" "$CRAW/profile.node1.log" -pprof "127.0.0.1:$pp1"
		n1=$NODE_PID
		p2=$(free_port) pp2=$(free_port)
		node_start "$p2" "$CRAW/profile.node2.log" -pprof "127.0.0.1:$pp2"
		n2=$NODE_PID
		"${PIN_TESTER[@]}" timeout 180 "$WORK/draw-server" loadtest -url "http://127.0.0.1:$p1,http://127.0.0.1:$p2" \
			-pid "$n1,$n2" -aux-pid "$REDIS_PID" "${cload[@]}" -duration 12s \
			>"$CRAW/profile.json" 2>"$CRAW/profile.tester.log" &
		tester=$!
		sleep $((6 + (CN + 499) / 500)) # ramp and warm-up, then 8 s of the 12 s window
		curl -fso "$CRAW/node1.cpu.pprof" "http://127.0.0.1:$pp1/debug/pprof/profile?seconds=8" &
		c1=$!
		curl -fso "$CRAW/node2.cpu.pprof" "http://127.0.0.1:$pp2/debug/pprof/profile?seconds=8" || say "cluster: profile of node 2 failed"
		wait "$c1" || say "cluster: profile of node 1 failed"
		wait "$tester" || true
		stop_pids "${CLUSTER_PIDS[@]}"
		for n in 1 2; do
			[ -s "$CRAW/node$n.cpu.pprof" ] || continue
			{
				echo "# CPU profile of cluster node $n of 2 (both and redis-server on one core), $CN clients over both nodes on one board, 10 senders x 20/s, 8 s (go tool pprof -top -cum)"
				go tool pprof -top -cum -nodecount=70 "$WORK/draw-server" "$CRAW/node$n.cpu.pprof" 2>/dev/null
				echo
				echo "# by own time"
				go tool pprof -top -nodecount=30 "$WORK/draw-server" "$CRAW/node$n.cpu.pprof" 2>/dev/null
			} >"$OUT/profile-cluster-node$n.txt"
		done
		say "cluster profiles: $OUT/profile-cluster-node1.txt, $OUT/profile-cluster-node2.txt"
	fi

	if "$WORK/report" cluster -raw "$CRAW" -out "$OUT" -commit "$COMMIT"; then
		say "cluster: $OUT/cluster.md"
	else
		say "cluster: no report (see the messages above)"
	fi
fi
