#!/usr/bin/env bash
# DNS benchmark: qsmo's resolver (the real "qsmo dns" command, reading its
# policy from a database prepared by bench/dns/setup, the blocklist as a
# file feed) against Unbound, each pinned to one core (taskset -c 0;
# GOMAXPROCS=1 / num-threads 1) with dnsperf pinned to the other core, both
# forwarding to the same loopback stub and both loading the same 1M-name
# blocklist. Prints one table of ratios (ours / Unbound).
#
#   bench/dns/run.sh                 # 3 repeats of 10 s per load
#   REPEATS=1 DURATION=5 bench/dns/run.sh
#   REAL_NAMES=/path/to/names.txt bench/dns/run.sh   # default ../shared/data/threat-domains/...
#   PORT_BASE=6300 bench/dns/run.sh                  # ports PORT_BASE..+99 (default 5300)
#
# Only loopback addresses are used; every load is bounded by dnsperf -l.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-10}
NAMES=${NAMES:-1000000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
WORK=$(mktemp -d /tmp/qsmo-dns-bench.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "# $*" >&2; }

need() {
	local missing=()
	command -v unbound >/dev/null || missing+=(unbound)
	command -v dnsperf >/dev/null || missing+=(dnsperf)
	command -v dig >/dev/null || missing+=(dnsutils)
	command -v openssl >/dev/null || missing+=(openssl)
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# PORT_BASE moves every port (two runs on one machine must not share them).
PORT_BASE=${PORT_BASE:-5300}
STUB=127.0.0.1:$((PORT_BASE + 99))
Q_PORT=$PORT_BASE Q_DOT=$((PORT_BASE + 1)) Q_DOH=$((PORT_BASE + 2))
U_PORT=$((PORT_BASE + 10)) U_DOT=$((PORT_BASE + 11)) U_DOH=$((PORT_BASE + 12))
CLK_TCK=$(getconf CLK_TCK)

build() {
	log "building"
	(cd "$ROOT" && go build -o "$WORK/stub" ./bench/dns/stub &&
		go build -o "$WORK/gen" ./bench/dns/gen &&
		go build -o "$WORK/qsmo" ./cmd/qsmo &&
		go build -o "$WORK/setup" ./bench/dns/setup)
	local real=${REAL_NAMES:-$ROOT/../shared/data/threat-domains/malicious-domains.txt}
	if [[ ! -r $real ]]; then
		log "warning: $real not found: the blocklist is synthetic only"
		real=""
	fi
	mkdir -p "$WORK/data"
	"$WORK/gen" -real "$real" -names "$NAMES" -out "$WORK/data" 2>&1 | sed 's/^/# /' >&2
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
		-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
	# The office, 202 agencies with their policies, and the list as a feed
	# (in list/ only), written through the product's services.
	"$WORK/setup" -out "$WORK/qsmo-data" -blocklist "$WORK/data/blocklist.txt" -fillers 200 2>&1 | grep -v 'applied migration' | sed 's/^/# /' >&2 || true
}

# cpu_ticks PID: user+system clock ticks used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# wait_answer PORT NAME RCODE: poll until the server answers NAME with RCODE (max 120 s).
wait_answer() {
	for _ in $(seq 1 2400); do
		if dig @127.0.0.1 -p "$1" "$2" A +tries=1 +time=1 2>/dev/null | grep -q "status: $3"; then
			return 0
		fi
		sleep 0.05
	done
	log "server on port $1 never answered $2 with $3"
	return 1
}

start_stub() {
	taskset -c "$CLIENT_CPU" "$WORK/stub" -addr "$STUB" >/dev/null 2>&1 &
	PIDS+=($!)
	sleep 0.3
}

BLOCKED=$(sed -n 7p "$WORK/data/blocklist.txt" 2>/dev/null || true)

# start_qsmo [list|nolist] [log|nolog] : sets SERVER_PID and LOAD_S.
# Every start loads the feed from its file (the kept copy a restart would
# use is removed), so the load time is the first start's.
start_qsmo() {
	local dir="$WORK/qsmo-data/$1"
	rm -rf "$dir/dns-feeds" "$dir/dns-querylog"
	local args=(dns --data-dir "$dir" --dns-addr "127.0.0.1:$Q_PORT" --dot-addr "127.0.0.1:$Q_DOT"
		--http-addr "127.0.0.1:$Q_DOH" --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
		--dns-upstream "$STUB" --log-level warn)
	[[ $2 == log ]] || args+=(--dns-query-log=false)
	local t0
	t0=$(date +%s.%N)
	GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$WORK/qsmo" "${args[@]}" >"$WORK/qsmo.out" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	if [[ $1 == list ]]; then
		wait_answer "$Q_PORT" "$BLOCKED" NXDOMAIN
	else
		wait_answer "$Q_PORT" h1.qsmo-bench.net NOERROR
	fi
	LOAD_S=$(echo "$(date +%s.%N) - $t0" | bc)
}

# start_unbound [list|nolist] : sets SERVER_PID and LOAD_S.
start_unbound() {
	cat >"$WORK/unbound.conf" <<EOF
server:
	interface: 127.0.0.1@$U_PORT
	interface: 127.0.0.1@$U_DOT
	interface: 127.0.0.1@$U_DOH
	tls-port: $U_DOT
	https-port: $U_DOH
	tls-service-key: "$WORK/key.pem"
	tls-service-pem: "$WORK/cert.pem"
	http-endpoint: "/dns-query"
	num-threads: 1
	do-daemonize: no
	use-syslog: no
	logfile: ""
	verbosity: 0
	username: ""
	chroot: ""
	directory: "$WORK"
	pidfile: ""
	do-ip6: no
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	module-config: "iterator"
	qname-minimisation: no
	minimal-responses: yes
	prefetch: yes
	serve-expired: yes
	msg-cache-size: 128m
	rrset-cache-size: 256m
	num-queries-per-thread: 4096
	incoming-num-tcp: 1000
	so-rcvbuf: 4m
	so-sndbuf: 4m
	edns-buffer-size: 1232
EOF
	[[ $1 == list ]] && echo "include: \"$WORK/data/unbound-blocklist.conf\"" >>"$WORK/unbound.conf"
	cat >>"$WORK/unbound.conf" <<EOF
forward-zone:
	name: "."
	forward-addr: ${STUB/:/@}
EOF
	local t0
	t0=$(date +%s.%N)
	taskset -c "$SERVER_CPU" unbound -c "$WORK/unbound.conf" >"$WORK/unbound.out" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	if [[ $1 == list ]]; then
		wait_answer "$U_PORT" "$BLOCKED" NXDOMAIN
	else
		wait_answer "$U_PORT" h1.qsmo-bench.net NOERROR
	fi
	LOAD_S=$(echo "$(date +%s.%N) - $t0" | bc)
}

stop_server() {
	kill "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	sleep 0.3
}

# perf PORT FILE [dnsperf args...]: runs dnsperf on the client core; sets
# QPS, LOST, SENT and CPU_US (server CPU µs per completed query).
perf() {
	local port=$1 file=$2
	shift 2
	local c0 c1 out
	c0=$(cpu_ticks "$SERVER_PID")
	out=$(taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$file" -l "$DURATION" -t 2 "$@" 2>&1)
	c1=$(cpu_ticks "$SERVER_PID")
	QPS=$(awk '/Queries per second/ {print $4}' <<<"$out")
	SENT=$(awk '/Queries sent/ {print $3}' <<<"$out")
	LOST=$(awk '/Queries lost/ {print $3}' <<<"$out")
	local done
	done=$(awk '/Queries completed/ {print $3}' <<<"$out")
	CPU_US=$(echo "scale=2; ($c1 - $c0) * 1000000 / $CLK_TCK / ($done + 1)" | bc)
	LAST_OUT=$out
}

# warm PORT FILE: one pass through the file to fill the cache.
warm() { taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$1" -d "$2" -n 1 -c 4 -q 200 -t 5 >/dev/null 2>&1; }

# latency PORT FILE RATE: per-query latencies at a fixed rate; sets P99_US, P999_US, LOST.
latency() {
	local out
	out=$(taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$1" -d "$2" -l "$DURATION" -Q "$3" -c 4 -q 1000 -t 2 -v "${@:4}" 2>&1)
	LOST=$(awk '/Queries lost/ {print $3}' <<<"$out")
	SENT=$(awk '/Queries sent/ {print $3}' <<<"$out")
	read -r P99_US P999_US < <(awk '/^> / {print $NF * 1000000}' <<<"$out" | sort -n |
		awk '{a[NR]=$1} END {if (NR == 0) {print "nan nan"; exit} i=int(NR*0.99); if (i<1) i=1; j=int(NR*0.999); if (j<1) j=1; printf "%d %d\n", a[i], a[j]}')
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.2f", a / b }'; }

declare -A R # R[metric,server] = space-separated samples

add() { R[$1,$2]="${R[$1,$2]:-} $3"; }

measure() { # measure SERVER(qsmo|unbound)
	local who=$1 port dot doh
	if [[ $who == qsmo ]]; then port=$Q_PORT dot=$Q_DOT doh=$Q_DOH; else port=$U_PORT dot=$U_DOT doh=$U_DOH; fi
	local start="start_$who"

	# Memory and load time: without, then with the list. Both qsmo runs
	# log queries, so the query log's own buffers do not count as list
	# memory; the resident size is read once the server has settled (qsmo
	# keeps the new feed version on disk after serving it, then returns the
	# build's garbage).
	$start nolist log
	warm "$port" "$WORK/data/queries-hit.txt"
	sleep 3
	local rss0
	rss0=$(rss_kb "$SERVER_PID")
	stop_server
	if [[ $who == qsmo ]]; then $start list log; else $start list; fi
	add load "$who" "$LOAD_S"
	warm "$port" "$WORK/data/queries-hit.txt"
	sleep 3
	add rss "$who" "$(echo "scale=1; ($(rss_kb "$SERVER_PID") - $rss0) / 1024" | bc)"

	perf "$port" "$WORK/data/queries-hit.txt" -c 16 -q 1000
	add hit "$who" "$QPS"
	add cpu "$who" "$CPU_US"
	perf "$port" "$WORK/data/queries-hit.txt" -c 16 -q 1000 -Q 20000
	add cpu20k "$who" "$CPU_US"
	warm "$port" "$WORK/data/queries-mix.txt"
	perf "$port" "$WORK/data/queries-mix.txt" -c 16 -q 1000
	add mix "$who" "$QPS"
	latency "$port" "$WORK/data/queries-mix.txt" 5000
	add p99 "$who" "$P99_US"

	if [[ $who == qsmo ]]; then
		# A full reload of the 1M-name list and snapshot swap at 20k qps
		# (qsmo rebuilds every list on SIGHUP).
		(sleep $((DURATION / 3)) && kill -HUP "$SERVER_PID") &
		latency "$port" "$WORK/data/queries-mix.txt" 20000
		wait $! 2>/dev/null || true
		add swaplost "$who" "$LOST"
		add swapp999 "$who" "$P999_US"
	fi

	perf "$dot" "$WORK/data/queries-hit.txt" -m dot -c 16 -q 1000
	add dot "$who" "$QPS"
	perf "$doh" "$WORK/data/queries-hit.txt" -m doh -c 16 -q 1000 -O "doh-uri=https://127.0.0.1:$doh/dns-query"
	add doh "$who" "$QPS"
	stop_server

	if [[ $who == qsmo ]]; then
		# The cost of the query log: the same cache-hit load without it.
		$start list nolog
		warm "$port" "$WORK/data/queries-hit.txt"
		perf "$port" "$WORK/data/queries-hit.txt" -c 16 -q 1000
		add hitnolog "$who" "$QPS"
		stop_server
	fi
}

ports_free() {
	local p
	for p in 5399 $Q_PORT $Q_DOT $Q_DOH $U_PORT $U_DOT $U_DOH; do
		if ss -Hlnu "sport = :$p" | grep -q . || ss -Hlnt "sport = :$p" | grep -q .; then
			echo "run.sh: port $p is in use on loopback; stop what holds it" >&2
			exit 1
		fi
	done
}

need
ports_free
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
build
BLOCKED=$(sed -n 7p "$WORK/data/blocklist.txt")
start_stub
for i in $(seq 1 "$REPEATS"); do
	log "round $i/$REPEATS: qsmo"
	measure qsmo
	log "round $i/$REPEATS: unbound"
	measure unbound
done

log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
m() { tr ' ' '\n' <<<"${R[$1,$2]:-}" | grep -v '^$' | median; }
printf '\n%-44s %12s %12s %8s  %s\n' "metric (median of $REPEATS)" qsmo unbound ratio target
row() { # row LABEL KEY TARGET [lower-is-better]
	local a b
	a=$(m "$2" qsmo)
	b=$(m "$2" unbound)
	printf '%-44s %12s %12s %8s  %s\n' "$1" "$a" "$b" "$(ratio "$a" "$b")" "$3"
}
row "cache-hit QPS" hit ">= 1.0x"
row "10%-blocked mix QPS" mix ">= 1.0x"
row "CPU us/query at saturation (cache hit)" cpu "<= 1.0x"
row "CPU us/query at a fixed 20k qps" cpu20k "<= 1.0x"
row "p99 latency at 5k qps (us)" p99 "<= 250 us"
row "extra RSS for the blocklist (MiB)" rss "<= 32 MiB"
row "list load to serving (s)" load "<= 1 s"
printf '%-44s %12s %12s %8s  %s\n' "swap at 20k qps: lost queries" "$(m swaplost qsmo)" "-" "" "0"
printf '%-44s %12s %12s %8s  %s\n' "swap at 20k qps: p99.9 (us)" "$(m swapp999 qsmo)" "-" "" "<= 5000 us"
a=$(m hit qsmo)
b=$(m hitnolog qsmo)
printf '%-44s %12s %12s %8s  %s\n' "cache-hit QPS: log on / log off" "$a" "$b" "$(ratio "$a" "$b")" ">= 0.90"
row "DoT QPS" dot ">= 1.0x"
row "DoH QPS" doh ">= 1.0x"
