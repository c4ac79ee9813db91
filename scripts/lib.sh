# shellcheck shell=bash
# Functions shared by the scripts in this folder: Debian packages the tests
# need, and a throwaway PostgreSQL cluster. Sourced, not run.

# as_root runs a command as root: directly when we are root, through
# non-interactive sudo otherwise (never prompts: CI has no terminal).
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		echo "need root for: $* (run as root or allow passwordless sudo)" >&2
		return 1
	fi
}

# pg_bindir prints the directory of the PostgreSQL server programs. Debian
# keeps them in /usr/lib/postgresql/<major>/bin, off PATH; the newest major
# wins. QSMO_PG_BINDIR overrides; initdb on PATH is the last resort.
pg_bindir() {
	if [ -n "${QSMO_PG_BINDIR:-}" ]; then
		[ -x "$QSMO_PG_BINDIR/initdb" ] && printf '%s\n' "$QSMO_PG_BINDIR" && return 0
		return 1
	fi
	local d
	d=$(for x in /usr/lib/postgresql/*/bin; do [ -x "$x/initdb" ] && printf '%s\n' "$x"; done | sort -V | tail -n 1)
	if [ -n "$d" ]; then
		printf '%s\n' "$d"
		return 0
	fi
	if command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return 0
	fi
	return 1
}

# missing_packages prints the Debian packages whose programs the tests use
# and cannot find. It looks for the programs, not the packages, so a
# component installed some other way counts as present.
missing_packages() {
	local out=()
	pg_bindir >/dev/null || out+=(postgresql)
	[ -x "${QSMO_CHROMIUM:-/usr/bin/chromium}" ] || out+=(chromium)
	command -v dig >/dev/null 2>&1 || out+=(dnsutils)
	command -v kdig >/dev/null 2>&1 || out+=(knot-dnsutils)
	command -v dnsperf >/dev/null 2>&1 || out+=(dnsperf)
	# go test -race needs cgo and so a C compiler.
	if [ "${QSMO_TEST_RACE:-1}" != 0 ]; then
		command -v "$(go env CC 2>/dev/null || echo gcc)" >/dev/null 2>&1 || out+=(gcc)
	fi
	if [ "${#out[@]}" -gt 0 ]; then
		printf '%s\n' "${out[@]}"
	fi
}

# ensure_packages installs the missing test packages with apt-get; it does
# nothing (and needs no root) when everything is present.
ensure_packages() {
	local missing
	mapfile -t missing < <(missing_packages)
	if [ "${#missing[@]}" -eq 0 ]; then
		echo "all present: PostgreSQL ($(pg_bindir)), chromium, dig, kdig, dnsperf, C compiler for -race"
		return 0
	fi
	echo "missing: ${missing[*]}"
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "apt-get not found: install ${missing[*]} by hand" >&2
		return 1
	fi
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
	as_root "${apt[@]}" update || return 1
	as_root "${apt[@]}" install -y "${missing[@]}" || return 1
	mapfile -t missing < <(missing_packages)
	if [ "${#missing[@]}" -gt 0 ]; then
		echo "still missing after install: ${missing[*]}" >&2
		return 1
	fi
}

# --- throwaway PostgreSQL -------------------------------------------------

PG_TMP=""      # temp dir of the running throwaway cluster ("" when none)
PG_RUNAS=()    # prefix that runs the server programs as the cluster owner

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now. A
# race with another program remains possible; pg_start retries on failure.
free_port() {
	local p _
	for _ in $(seq 1 50); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	return 1
}

# pg_start creates a cluster in a fresh temp dir, starts it on 127.0.0.1 on a
# free port with its unix socket in the temp dir, creates database
# qsmo_test and exports QSMO_TEST_POSTGRES_URL. The superuser qsmo has a
# random password (scram-sha-256), so other local users cannot connect.
# Settings favour speed over durability: the data is thrown away anyway.
# Pair with pg_stop (trap it on EXIT).
pg_start() {
	local bindir
	if ! bindir=$(pg_bindir); then
		echo "PostgreSQL server programs not found (install the postgresql package)" >&2
		return 1
	fi
	local base=${TMPDIR:-/tmp}
	PG_RUNAS=()
	if [ "$(id -u)" -eq 0 ]; then
		# initdb refuses to run as root: the cluster belongs to postgres, and
		# its temp dir must be reachable by that user, which /tmp is.
		if ! id postgres >/dev/null 2>&1; then
			echo "user postgres does not exist (the postgresql package creates it)" >&2
			return 1
		fi
		base=/tmp
		if command -v runuser >/dev/null 2>&1; then
			PG_RUNAS=(runuser -u postgres --)
		else
			PG_RUNAS=(setpriv --reuid=postgres --regid=postgres --init-groups --)
		fi
	fi
	PG_TMP=$(mktemp -d "$base/qsmo-pg.XXXXXXXX") || return 1
	local password
	password=$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$password" >"$PG_TMP/pwfile"
	chmod 600 "$PG_TMP/pwfile"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres:postgres "$PG_TMP"
	fi
	if ! "${PG_RUNAS[@]}" "$bindir/initdb" --pgdata="$PG_TMP/data" --username=qsmo --pwfile="$PG_TMP/pwfile" \
		--auth=scram-sha-256 --encoding=UTF8 --locale=C --no-sync >"$PG_TMP/initdb.log" 2>&1; then
		echo "initdb failed:" >&2
		cat "$PG_TMP/initdb.log" >&2
		return 1
	fi
	rm -f "$PG_TMP/pwfile"
	local port attempt started=0
	for attempt in 1 2 3 4 5; do
		port=$(free_port) || break
		if "${PG_RUNAS[@]}" "$bindir/pg_ctl" --pgdata="$PG_TMP/data" --log="$PG_TMP/postgres.log" \
			--wait --timeout=60 --silent \
			-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$PG_TMP'" \
			-o "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >/dev/null; then
			started=1
			break
		fi
		echo "start on port $port failed (attempt $attempt), retrying" >&2
	done
	if [ "$started" -ne 1 ]; then
		echo "could not start PostgreSQL; server log:" >&2
		tail -n 30 "$PG_TMP/postgres.log" >&2 || true
		return 1
	fi
	if ! PGPASSWORD=$password "$bindir/createdb" --host=127.0.0.1 --port="$port" --username=qsmo qsmo_test; then
		echo "createdb failed" >&2
		return 1
	fi
	export QSMO_TEST_POSTGRES_URL="postgres://qsmo:$password@127.0.0.1:$port/qsmo_test?sslmode=disable"
	echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, database qsmo_test, data in $PG_TMP"
	echo "QSMO_TEST_POSTGRES_URL=postgres://qsmo:***@127.0.0.1:$port/qsmo_test?sslmode=disable"
}

# pg_stop stops the throwaway cluster, if one runs, and removes its temp dir.
# Safe to call more than once and from a trap.
pg_stop() {
	[ -n "$PG_TMP" ] || return 0
	local bindir
	if [ -f "$PG_TMP/data/postmaster.pid" ] && bindir=$(pg_bindir); then
		if ! "${PG_RUNAS[@]}" "$bindir/pg_ctl" --pgdata="$PG_TMP/data" --mode=immediate --wait --timeout=30 --silent \
			stop >/dev/null 2>&1; then
			local pid
			pid=$(head -n 1 "$PG_TMP/data/postmaster.pid" 2>/dev/null || true)
			if [ -n "$pid" ]; then
				kill -QUIT "$pid" 2>/dev/null || true
			fi
		fi
	fi
	rm -rf "$PG_TMP"
	PG_TMP=""
	unset QSMO_TEST_POSTGRES_URL
}
