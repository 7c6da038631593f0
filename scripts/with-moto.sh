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

tag=moto server=moto_server nobody="no test reported running against the AWS emulator"
. "$(dirname "$0")/server-lib.sh"

launch() { "$moto" -H 127.0.0.1 -p "$port" >"$log" 2>&1 & }
# moto imports every service at start: allow it 60 s on a loaded machine.
start_server 600

export OTELAUDIT_AWS_ENDPOINT="http://127.0.0.1:$port"
export OTELAUDIT_AWS_REQUIRED=1
export OTELAUDIT_AWS_REPORT="$work/report"
echo "with-moto: moto_server $have (pid $pid) on $OTELAUDIT_AWS_ENDPOINT" >&2

status=0
"$@" || status=$?
exit "$status"
