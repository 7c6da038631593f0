#!/usr/bin/env bash
# with-versitygw.sh VERSITYGW COMMAND [ARGS...]
#
# Starts the versitygw binary VERSITYGW (S3 gateway, posix backend) on a free
# 127.0.0.1 port over a fresh temporary root with fixed test credentials, runs
# COMMAND with the S3 test environment exported, then stops the server and
# removes the root, whether COMMAND succeeds, fails or is interrupted. Exits
# with COMMAND's status.
#
# Exported for COMMAND (read by storage/s3store tests):
#   OTELAUDIT_S3_ENDPOINT    http://127.0.0.1:PORT
#   OTELAUDIT_S3_ACCESS_KEY  test access key
#   OTELAUDIT_S3_SECRET_KEY  test secret key
#   OTELAUDIT_S3_REQUIRED=1  a missing server is a test failure, not a skip
#   OTELAUDIT_VERSITYGW      the binary, for tests that stop and restart their own server
#   OTELAUDIT_S3_REPORT      a file test binaries append a summary line to; printed at the end
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 VERSITYGW COMMAND [ARGS...]" >&2
	exit 2
fi
gw=$1
shift
if [ ! -x "$gw" ]; then
	echo "with-versitygw: $gw is not an executable (make installs it into its tools cache, see the Makefile)" >&2
	exit 1
fi
case "$gw" in /*) ;; *) gw="$PWD/$gw" ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/otelaudit-versitygw.XXXXXX")
root="$work/root"
log="$work/versitygw.log"
mkdir -m 0700 "$root"
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
		echo "with-versitygw: stopped versitygw (pid $pid)" >&2
	fi
	pid=""
	if [ -s "$work/report" ]; then
		cat "$work/report" >&2
	else
		echo "with-versitygw: no S3 test reported running against the server" >&2
	fi
	rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

export OTELAUDIT_S3_ACCESS_KEY=otelaudit-test
export OTELAUDIT_S3_SECRET_KEY=otelaudit-test-secret-0123456789

for attempt in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	port_in_use "$port" && continue
	ROOT_ACCESS_KEY="$OTELAUDIT_S3_ACCESS_KEY" ROOT_SECRET_KEY="$OTELAUDIT_S3_SECRET_KEY" \
		"$gw" --port "127.0.0.1:$port" --quiet posix "$root" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		port_in_use "$port" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null && port_in_use "$port"; then
		break
	fi
	echo "with-versitygw: versitygw did not start on port $port (attempt $attempt):" >&2
	cat "$log" >&2 || true
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
done
if [ -z "$pid" ]; then
	echo "with-versitygw: giving up" >&2
	exit 1
fi

export OTELAUDIT_S3_ENDPOINT="http://127.0.0.1:$port"
export OTELAUDIT_S3_REQUIRED=1
export OTELAUDIT_VERSITYGW="$gw"
export OTELAUDIT_S3_REPORT="$work/report"
echo "with-versitygw: $gw (pid $pid) on $OTELAUDIT_S3_ENDPOINT, posix root $root" >&2

status=0
"$@" || status=$?
exit "$status"
