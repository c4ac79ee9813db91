#!/usr/bin/env bash
# Runs the whole test suite, the one command behind `make test` and CI:
#
#   scripts/test.sh              everything: lint, go, e2e
#   scripts/test.sh go           only the Go tests (with PostgreSQL)
#   scripts/test.sh lint e2e     any subset, in the fixed order lint, go, e2e
#
# Stages:
#   lint  gofmt, go vet, staticcheck, gosec (high severity), govulncheck
#   go    go test -race -count=1 ./... against a throwaway PostgreSQL
#   e2e   browser tests in headless Chromium (e2e/), against a fresh build
#
# It installs what the tests need when missing (Debian packages through
# apt-get, npm packages from e2e/package-lock.json), starts and stops its own
# servers, runs every step even after a failure so one run shows all of them,
# and exits non-zero if any step failed. With CI=true a test that needs a
# missing component fails instead of skipping.
#
# Environment:
#   CI=true            missing components are failures (passed to the tests)
#   QSMO_TEST_RACE=0   run go test without the race detector (default: on)
#   QSMO_VULNDB=DIR    govulncheck database folder (default: the offline copy
#                      in ../shared/data/go-vulndb/osv, else the public one)
#   QSMO_PG_BINDIR     PostgreSQL server programs (default: newest
#                      /usr/lib/postgresql/*/bin)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

# The static-check tools are pinned in tools/go.mod and built from the Go
# build cache, so the main go.mod carries none of their dependencies.
TOOL=(go tool -modfile="$ROOT/tools/go.mod")

# gosec reports high-severity findings of medium or high confidence only.
# G115 (integer conversion may overflow) is excluded: it flags every
# narrowing conversion, including masked bit packing and hashing whose range
# is bounded by construction, and would bury the findings that matter;
# overflow in code that reads outside input is covered by fuzz tests.
# bench/ is not scanned: it holds load generators and peers' drivers, never
# part of the product binary. Everything else high is kept, G404 (math/rand)
# included, because tokens and private links must come from crypto/rand; a
# deliberate non-security use carries `// #nosec G404 -- <why>` on its line.
GOSEC_FLAGS=(-severity high -confidence medium -exclude G115 -exclude-dir=bench -exclude-generated -quiet -color=false -fmt text)

# --- stages ----------------------------------------------------------------

want_lint=0 want_go=0 want_e2e=0
if [ "$#" -eq 0 ]; then
	set -- lint go e2e
fi
for a in "$@"; do
	case "$a" in
	lint) want_lint=1 ;;
	go) want_go=1 ;;
	e2e) want_e2e=1 ;;
	all) want_lint=1 want_go=1 want_e2e=1 ;;
	*)
		echo "usage: scripts/test.sh [lint] [go] [e2e]" >&2
		exit 2
		;;
	esac
done

RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/qsmo-test.XXXXXXXX")
cleanup() {
	pg_stop
	rm -rf "$RUN_TMP"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# --- step bookkeeping --------------------------------------------------------

SKIP=77 # a step returns this when it did not apply
RESULTS=()
FAILED=0
LAST_STATUS=""
RUN_START=$EPOCHREALTIME

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

record() { # name rc seconds
	local status=ok
	if [ "$2" -eq "$SKIP" ]; then
		status=skip
	elif [ "$2" -ne 0 ]; then
		status=FAIL
		FAILED=1
	fi
	LAST_STATUS=$status
	RESULTS+=("$(printf '  %-5s %7ss  %s' "$status" "$3" "$1")")
	printf -- '--- %s: %s (%ss)\n' "$1" "$status" "$3"
}

# step runs a step function in a subshell with errexit in force, so a failing
# command ends the step but not the run.
step() {
	local name=$1 t0=$EPOCHREALTIME rc
	shift
	printf '\n==> %s\n' "$name"
	set +e
	(
		set -e
		"$@"
	)
	rc=$?
	set -e
	record "$name" "$rc" "$(elapsed "$t0")"
}

# step_here runs a step function in this shell, for steps that export
# variables or start servers that the EXIT trap must stop. Such functions
# check their own errors.
step_here() {
	local name=$1 t0=$EPOCHREALTIME rc
	shift
	printf '\n==> %s\n' "$name"
	set +e
	"$@"
	rc=$?
	set -e
	record "$name" "$rc" "$(elapsed "$t0")"
}

in_ci() { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; }

# missing_component fails the step in CI and skips it elsewhere.
missing_component() {
	echo "$*"
	if in_ci; then
		echo "CI=true: a missing component is a failure"
		return 1
	fi
	return "$SKIP"
}

# --- steps -----------------------------------------------------------------

step_env() {
	go version
	echo "node: $(node --version 2>/dev/null || echo absent)"
	echo "CI=${CI:-unset} QSMO_TEST_RACE=${QSMO_TEST_RACE:-1} cores=$(nproc)"
}

step_gofmt() {
	local out
	out=$(find . -name '*.go' -not -path './.git/*' -not -path './e2e/node_modules/*' -not -path '*/testdata/*' -print0 |
		xargs -0 -r gofmt -l)
	if [ -n "$out" ]; then
		echo "not gofmt-formatted (run gofmt -w on them):"
		echo "$out"
		return 1
	fi
	echo "all Go files formatted"
}

step_vet() { go vet ./...; }

step_staticcheck() {
	"${TOOL[@]}" staticcheck -version
	"${TOOL[@]}" staticcheck ./...
}

step_gosec() {
	echo "gosec ${GOSEC_FLAGS[*]}"
	"${TOOL[@]}" gosec "${GOSEC_FLAGS[@]}" ./...
}

# vulndb_date prints the newest date among the entries of an OSV folder. It
# takes the newest "modified"; when the copy leaves those empty (year 0001,
# as the repository form of the Go database does) it falls back to the
# newest "published" or "withdrawn" and says so.
vulndb_date() {
	local dir=$1 d
	d=$(grep -rhoE --include='*.json' '"modified": *"[0-9]{4}-[0-9]{2}-[0-9]{2}' "$dir" |
		grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' | grep -v '^0001-' | sort | tail -n 1 || true)
	if [ -n "$d" ]; then
		echo "$d"
		return
	fi
	d=$(grep -rhoE --include='*.json' '"(published|withdrawn)": *"[0-9]{4}-[0-9]{2}-[0-9]{2}' "$dir" |
		grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' | grep -v '^0001-' | sort | tail -n 1 || true)
	echo "${d:-unknown} (newest published/withdrawn; the copy's modified dates are empty)"
}

step_govulncheck() {
	local db=${QSMO_VULNDB:-}
	if [ -z "$db" ] && [ -d "$ROOT/../shared/data/go-vulndb/osv" ]; then
		db="$ROOT/../shared/data/go-vulndb/osv"
	fi
	if [ -z "$db" ]; then
		echo "database: public (vuln.go.dev), current as of this run"
		"${TOOL[@]}" govulncheck ./...
		return
	fi
	db=$(cd "$db" && pwd)
	local count date
	count=$(find "$db" -maxdepth 1 -name '*.json' | wc -l)
	date=$(vulndb_date "$db")
	echo "database: offline copy $db, $count entries, newest entry $date"
	"${TOOL[@]}" govulncheck -db "file://$db" ./...
	echo "(checked against vulnerability data up to ${date%% *})"
}

step_go_test() {
	local flags=(-count=1)
	if [ "${QSMO_TEST_RACE:-1}" != 0 ]; then
		flags+=(-race)
	fi
	if [ -z "${QSMO_TEST_POSTGRES_URL:-}" ]; then
		echo "note: no throwaway PostgreSQL; tests that need it skip (fail with CI=true)"
	fi
	echo "go test ${flags[*]} ./..."
	go test "${flags[@]}" ./...
}

step_node() {
	if ! command -v node >/dev/null 2>&1; then
		missing_component "Node.js not found: the browser tests need Node.js 20 or newer and npm"
		return
	fi
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	if [ "$major" -lt 20 ]; then
		missing_component "Node.js $(node --version) is too old: the browser tests need Node.js 20 or newer"
		return
	fi
	echo "node $(node --version), npm $(npm --version 2>/dev/null)"
}

# step_npm installs e2e/node_modules from the lockfile, only when it is
# missing or was made from another lockfile.
step_npm() {
	local stamp=e2e/node_modules/.qsmo-lock.sha256 want
	want="$(sha256sum e2e/package-lock.json | cut -d' ' -f1) node-$(node -p 'process.versions.node.split(".")[0]')"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		echo "e2e/node_modules is up to date with package-lock.json"
		return 0
	fi
	(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
	echo "$want" >"$stamp"
}

# step_build builds the binary the browser tests start and exports QSMO_BIN.
step_build() {
	if ! compgen -G 'cmd/qsmo/*.go' >/dev/null; then
		echo "cmd/qsmo has no Go files yet: no binary to test; tests that need it skip (fail with CI=true)"
		return "$SKIP"
	fi
	go build -o "$RUN_TMP/qsmo" ./cmd/qsmo || return 1
	export QSMO_BIN="$RUN_TMP/qsmo"
	echo "built $QSMO_BIN"
}

step_e2e() {
	cd e2e
	node run.mjs
}

# --- run -------------------------------------------------------------------

echo "qsmo test run: stages$([ $want_lint = 1 ] && echo -n ' lint')$([ $want_go = 1 ] && echo -n ' go')$([ $want_e2e = 1 ] && echo -n ' e2e') in $ROOT"
step "environment" step_env
if [ $want_go = 1 ] || [ $want_e2e = 1 ]; then
	step_here "test packages (apt)" ensure_packages
fi
if [ $want_go = 1 ]; then
	step_here "throwaway PostgreSQL" pg_start
fi
if [ $want_lint = 1 ]; then
	step "gofmt" step_gofmt
	step "go vet" step_vet
	step "staticcheck" step_staticcheck
	step "gosec" step_gosec
	step "govulncheck" step_govulncheck
fi
if [ $want_go = 1 ]; then
	step "go test" step_go_test
	pg_stop
fi
if [ $want_e2e = 1 ]; then
	step "node" step_node
	if [ "$LAST_STATUS" = ok ]; then
		step "npm ci (e2e)" step_npm
		step_here "build qsmo" step_build
		step "browser tests" step_e2e
	fi
fi

printf '\n==> summary\n'
printf '%s\n' "${RESULTS[@]}"
total=$(elapsed "$RUN_START")
secs=${total%.*}
printf 'total time %ss (%dm%02ds)\n' "$total" $((secs / 60)) $((secs % 60))
if [ "$FAILED" -ne 0 ]; then
	echo "result: FAILED"
	exit 1
fi
echo "result: all steps passed"
