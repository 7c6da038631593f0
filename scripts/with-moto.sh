#!/usr/bin/env bash
# with-moto.sh MOTO_VERSION COMMAND [ARGS...]
#
# Starts moto_server (the AWS emulator; Secrets Manager and KMS are what the
# otelaudit/awskeys and CLI tests use) on a free 127.0.0.1 port, runs COMMAND
# with the AWS test environment exported, then stops the server, whether
# COMMAND succeeds, fails or is interrupted. Exits with COMMAND's status.
#
# moto is a Python package, and PyPI is not reachable from the project's
# machines, so this script does not install it: it uses the moto_server on
# PATH (the machine image ships moto) and refuses any version other than
# MOTO_VERSION, the one the tests were written against.
#
# Exported for COMMAND (read by internal/awstest):
#   OTELAUDIT_AWS_ENDPOINT   http://127.0.0.1:PORT
#   OTELAUDIT_AWS_REQUIRED=1 a missing emulator is a test failure, not a skip
#   OTELAUDIT_AWS_REPORT     a file test binaries append a summary line to; printed at the end
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 MOTO_VERSION COMMAND [ARGS...]" >&2
	exit 2
fi
want=$1
shift

moto=$(command -v moto_server || true)
if [ -z "$moto" ]; then
	echo "with-moto: moto_server is not on PATH; install moto $want (pip install 'moto[server]==$want')" >&2
	exit 1
fi
# The interpreter moto_server runs with tells the installed version.
py=$(head -1 "$(readlink -f "$moto")" | sed -n 's/^#! *//p')
case "$py" in *bash* | *sh | "") py=python3 ;; esac
have=$($py -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)
if [ -z "$have" ]; then
	have=$(python3 -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)
fi
if [ "$have" != "$want" ]; then
	echo "with-moto: $moto is moto '${have:-unknown}', the tests are pinned to moto $want" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/otelaudit-moto.XXXXXX")
log="$work/moto.log"
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
		echo "with-moto: stopped moto_server (pid $pid)" >&2
	fi
	pid=""
	if [ -s "$work/report" ]; then
		cat "$work/report" >&2
	else
		echo "with-moto: no test reported running against the AWS emulator" >&2
	fi
	rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for attempt in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	port_in_use "$port" && continue
	"$moto" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
	pid=$!
	# moto imports every service at start: allow it 60 s on a loaded machine.
	for _ in $(seq 600); do
		port_in_use "$port" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null && port_in_use "$port"; then
		break
	fi
	echo "with-moto: moto_server did not start on port $port (attempt $attempt):" >&2
	cat "$log" >&2 || true
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
done
if [ -z "$pid" ]; then
	echo "with-moto: giving up" >&2
	exit 1
fi

export OTELAUDIT_AWS_ENDPOINT="http://127.0.0.1:$port"
export OTELAUDIT_AWS_REQUIRED=1
export OTELAUDIT_AWS_REPORT="$work/report"
echo "with-moto: moto_server $have (pid $pid) on $OTELAUDIT_AWS_ENDPOINT" >&2

status=0
"$@" || status=$?
exit "$status"
