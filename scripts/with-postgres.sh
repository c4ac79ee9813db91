#!/usr/bin/env bash
# Runs one command with a throwaway PostgreSQL cluster, the same one
# `make test` starts, and QSMO_TEST_POSTGRES_URL exported; stops and removes
# the cluster afterwards and exits with the command's status.
#
#   scripts/with-postgres.sh go test -count=1 ./internal/db/
#   scripts/with-postgres.sh bash
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: scripts/with-postgres.sh COMMAND [ARG...]" >&2
	exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

trap pg_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_start >&2
set +e
"$@"
rc=$?
set -e
exit "$rc"
