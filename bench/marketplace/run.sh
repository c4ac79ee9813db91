#!/usr/bin/env bash
# Marketplace benchmark: loads a large marketplace (500 agencies, 200
# offerings, 20,000 orders with their timelines, subscriptions, assessments
# and statements) into qsmo's embedded SQLite, then drives three pages with
# wrk at 50 connections, each for a bounded time:
#
#   search     the storefront with free text, facets, sorting and paging
#              (signed in as an agency buyer; five queries in rotation)
#   compare    a side-by-side comparison of three offerings
#   dashboard  the office's marketplace dashboard (office admin)
#
# and /healthz as the floor of the same server on the same machine, so the
# pages' figures can be read as ratios to it. Prints p50, p99, requests per
# second and errors for each, and the time of the office dashboard's first
# (uncached) computation over the whole data set.
#
#   bench/marketplace/run.sh
#   DURATION=30s CONNECTIONS=50 bench/marketplace/run.sh
#
# Only loopback addresses are used; every load is bounded by wrk -d.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
AGENCIES=${AGENCIES:-500}
OFFERINGS=${OFFERINGS:-200}
ORDERS=${ORDERS:-20000}
PASSWORD='bench demo password 4242'
WORK=$(mktemp -d /tmp/qsmo-market-bench.XXXXXX)
SERVER=""

cleanup() {
	if [ -n "$SERVER" ]; then
		kill "$SERVER" 2>/dev/null || true
		wait "$SERVER" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "# $*" >&2; }

for prog in wrk curl go; do
	command -v "$prog" >/dev/null || { echo "missing $prog (apt-get install -y wrk curl)" >&2; exit 2; }
done

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"

log "building"
(cd "$ROOT" && go build -o "$WORK/qsmo" ./cmd/qsmo && go build -o "$WORK/load" ./bench/marketplace/load)

start_server() {
	QSMO_DEMO_PASSWORD="$PASSWORD" "$WORK/qsmo" serve --data-dir "$WORK/data" --http-addr "127.0.0.1:$PORT" --log-level warn "$@" \
		>>"$WORK/server.log" 2>&1 &
	SERVER=$!
	for _ in $(seq 1 600); do
		curl -sf -o /dev/null "$BASE/readyz" && return 0
		kill -0 "$SERVER" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; exit 1; }
		sleep 0.2
	done
	echo "server not ready" >&2
	exit 1
}

stop_server() {
	kill "$SERVER"
	wait "$SERVER" 2>/dev/null || true
	SERVER=""
}

log "demo data (people to sign in as)"
start_server --demo
stop_server
log "loading $AGENCIES agencies, $OFFERINGS offerings, $ORDERS orders"
"$WORK/load" -data-dir "$WORK/data" -agencies "$AGENCIES" -offerings "$OFFERINGS" -orders "$ORDERS" 2>&1 | sed 's/^/#   /' >&2
start_server

cookie() {
	local jar="$WORK/$1.jar"
	curl -s -c "$jar" -b "$jar" -o /dev/null "$BASE/sign-in"
	curl -s -c "$jar" -b "$jar" -o /dev/null -H 'Sec-Fetch-Site: same-origin' \
		--data-urlencode "email=$1" --data-urlencode "password=$PASSWORD" "$BASE/sign-in"
	awk '$6 == "qsmo_session" { print "qsmo_session=" $7 }' "$jar"
}
BUYER=$(cookie buyer@energy.example.gov)
OFFICE=$(cookie admin@office.example.gov)
[ -n "$BUYER" ] && [ -n "$OFFICE" ] || { echo "sign-in failed" >&2; exit 1; }

COLD=$(curl -s -o /dev/null -w '%{time_total}' -H "Cookie: $OFFICE" "$BASE/marketplace/dashboard/office")
mapfile -t IDS < <(curl -s -H "Cookie: $BUYER" "$BASE/marketplace?sort=agencies" | grep -o '/marketplace/offerings/off_[0-9a-z]*"' | tr -d '"' | sed 's#.*/##' | awk '!seen[$0]++' | head -3)
[ "${#IDS[@]}" -eq 3 ] || { echo "could not find three offerings to compare" >&2; exit 1; }
COUNT=$(curl -s -H "Cookie: $BUYER" "$BASE/marketplace?status=listed&status=paused&status=retired" | grep -o '<strong>[0-9,]* offerings</strong>' | head -1)
log "catalog shows $COUNT; comparing ${IDS[*]}"

cat >"$WORK/search.lua" <<'LUA'
local paths = {
  "/marketplace?q=managed+detection",
  "/marketplace?area=soc&area=protective-dns&sort=price",
  "/marketplace?q=threat&tier=advanced&page=2",
  "/marketplace?csf=detect&pricing=tiered&sort=agencies",
  "/marketplace?provider_type=commercial&status=listed&status=paused&sort=name&page=3",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
LUA

# run NAME COOKIE PATH [SCRIPT]: prints "name p50_ms p99_ms rps errors"
run() {
	local name=$1 ck=$2 path=$3 script=${4:-}
	local args=(-t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 5s --latency -H "Cookie: $ck")
	[ -n "$script" ] && args+=(-s "$script")
	local out
	out=$(wrk "${args[@]}" "$BASE$path")
	echo "$out" >"$WORK/wrk-$name.txt"
	local p50 p99 rps errs
	p50=$(echo "$out" | awk '$1 == "50%" { print $2 }')
	p99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
	rps=$(echo "$out" | awk '/^Requests\/sec/ { print $2 }')
	errs=$(echo "$out" | awk '/Non-2xx or 3xx responses/ { n += $NF } /Socket errors/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }')
	echo "$name $(ms "$p50") $(ms "$p99") $rps ${errs:-0}"
}

# ms converts wrk's "850.00us", "3.21ms", "1.02s" to milliseconds.
ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
		else print v }'
}

log "wrk: $CONNECTIONS connections, $THREADS threads, $DURATION per page"
RESULTS=()
RESULTS+=("$(run healthz "$BUYER" /healthz)")
RESULTS+=("$(run search "$BUYER" /marketplace "$WORK/search.lua")")
RESULTS+=("$(run compare "$BUYER" "/marketplace/compare?o=${IDS[0]}&o=${IDS[1]}&o=${IDS[2]}")")
RESULTS+=("$(run dashboard "$OFFICE" /marketplace/dashboard/office)")

echo
echo "marketplace benchmark: $AGENCIES agencies, $OFFERINGS offerings, $ORDERS orders; wrk -c$CONNECTIONS -t$THREADS -d$DURATION; $(nproc) cores"
printf '%-10s %10s %10s %10s %8s %14s %s\n' page p50_ms p99_ms req/s errors p99/healthz target
floor=""
for r in "${RESULTS[@]}"; do
	read -r name p50 p99 rps errs <<<"$r"
	[ "$name" = healthz ] && floor=$p99
	ratio=$(awk -v a="$p99" -v b="$floor" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }')
	target="p99<100ms"
	[ "$name" = healthz ] && target="(floor)"
	verdict=$(awk -v a="$p99" 'BEGIN { print (a < 100) ? "met" : "MISSED" }')
	[ "$name" = healthz ] && verdict=""
	printf '%-10s %10s %10s %10s %8s %14s %s %s\n' "$name" "$p50" "$p99" "$rps" "$errs" "$ratio" "$target" "$verdict"
done
printf 'office dashboard, first (uncached) computation: %.0f ms; later requests reuse it for 30 s\n' "$(awk -v t="$COLD" 'BEGIN { print t * 1000 }')"
