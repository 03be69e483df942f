# Helpers the benchmark scripts share (sourced by bench/run.sh, which sources
# bench/cluster.sh, and by bench/app.sh). The caller sets BENCH_NAME, the
# prefix of its log lines.

say() { printf '%s %s: %s\n' "$(date +%H:%M:%S)" "${BENCH_NAME:-bench}" "$*" >&2; }
die() { say "$*"; exit 1; }

# pin_cpus sets PIN_SERVER and PIN_TESTER: the server(s) on CPU 0, the load
# on CPU 1, so that they do not compete for one core.
pin_cpus() {
	PIN_SERVER=() PIN_TESTER=()
	if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
		PIN_SERVER=(taskset -c 0) PIN_TESTER=(taskset -c 1)
	else
		say "warning: no taskset or fewer than 2 CPUs: server and tester are not pinned"
	fi
}

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

# wait_ready PID PORT LOG WHAT: waits up to 15 s for a socket.io server on
# PORT, dying (with LOG named) if PID exits first.
wait_ready() {
	local pid=$1 port=$2 log=$3 what=$4
	for _ in $(seq 150); do
		curl -fso /dev/null "http://127.0.0.1:$port/socket.io/?EIO=4&transport=polling" && return
		kill -0 "$pid" 2>/dev/null || die "$what exited at start; see $log"
		sleep 0.1
	done
	die "$what did not answer within 15 s; see $log"
}

# stop_pid PID: TERM, then KILL after 5 s.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
