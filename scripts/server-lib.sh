# server-lib.sh: sourced by with-versitygw.sh and with-moto.sh, which each run
# one local emulator for the length of a command. What they share lives here:
# a private work directory, the stop that runs whatever the command's outcome
# (it prints the tests' report lines, then removes the directory), and the
# start on a free 127.0.0.1 port with retries.
#
# Set before sourcing:
#   tag     the script's name in messages and in the work directory's name
#   server  the emulator's name in messages
#   nobody  what stop prints when no test reported running against it
# Provides: $work, $log, $pid, $port and start_server.

work=$(mktemp -d "${TMPDIR:-/tmp}/otelaudit-$tag.XXXXXX")
log="$work/$tag.log"
pid=""

stop() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		echo "with-$tag: stopped $server (pid $pid)" >&2
	fi
	pid=""
	if [ -s "$work/report" ]; then
		cat "$work/report" >&2
	else
		echo "with-$tag: $nobody" >&2
	fi
	rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server TENTHS: up to five times, picks a free port into $port, calls
# the caller's launch (which starts the server in the background on $port,
# output to $log) and waits up to TENTHS tenths of a second for the port to
# answer. Exits 1 when every attempt failed.
start_server() {
	local attempt
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		port_in_use "$port" && continue
		launch
		pid=$!
		for _ in $(seq "$1"); do
			port_in_use "$port" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null && port_in_use "$port"; then
			return 0
		fi
		echo "with-$tag: $server did not start on port $port (attempt $attempt):" >&2
		cat "$log" >&2 || true
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=""
	done
	echo "with-$tag: giving up" >&2
	exit 1
}
