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

tag=versitygw server=versitygw nobody="no S3 test reported running against the server"
. "$(dirname "$0")/server-lib.sh"
root="$work/root"
mkdir -m 0700 "$root"

export OTELAUDIT_S3_ACCESS_KEY=otelaudit-test
export OTELAUDIT_S3_SECRET_KEY=otelaudit-test-secret-0123456789

launch() {
	ROOT_ACCESS_KEY="$OTELAUDIT_S3_ACCESS_KEY" ROOT_SECRET_KEY="$OTELAUDIT_S3_SECRET_KEY" \
		"$gw" --port "127.0.0.1:$port" --quiet posix "$root" >"$log" 2>&1 &
}
start_server 200

export OTELAUDIT_S3_ENDPOINT="http://127.0.0.1:$port"
export OTELAUDIT_S3_REQUIRED=1
export OTELAUDIT_VERSITYGW="$gw"
export OTELAUDIT_S3_REPORT="$work/report"
echo "with-versitygw: $gw (pid $pid) on $OTELAUDIT_S3_ENDPOINT, posix root $root" >&2

status=0
"$@" || status=$?
exit "$status"
