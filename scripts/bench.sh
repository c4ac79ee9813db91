#!/usr/bin/env bash
# Runs every bench/*.sh in name order and fails if one fails. Each
# script runs its peer in the same run and prints ratios; see docs/development.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

shopt -s nullglob
scripts=(bench/*.sh)
if [ "${#scripts[@]}" -eq 0 ]; then
	echo "no benchmark scripts in bench/"
	exit 0
fi
failed=0
for s in "${scripts[@]}"; do
	printf '\n==> %s\n' "$s"
	if ! bash "$s"; then
		echo "--- $s: FAIL"
		failed=1
	fi
done
exit "$failed"
