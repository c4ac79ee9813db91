// Package testenv lets tests ask for outside components (PostgreSQL, a DNS
// client, a browser) and decide what happens when one is missing: skip on a
// developer machine, fail in CI (CI=true) so that a green run means every
// test really ran.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under continuous integration, where a
// missing component is an error rather than a reason to skip.
func InCI() bool {
	v := os.Getenv("CI")
	return v == "true" || v == "1"
}

// Missing stops the test because a component it needs is absent: it fails in
// CI and skips elsewhere.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("required component missing (CI=true): "+format, args...)
	}
	tb.Skipf("component missing: "+format, args...)
}

// LookPath returns the absolute path of a program the test needs, or stops
// the test through Missing.
func LookPath(tb testing.TB, program string) string {
	tb.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Missing(tb, "program %q not on PATH (the test command installs it)", program)
	}
	return p
}

// PostgresURL returns the URL of the throwaway PostgreSQL server started by
// the test command (QSMO_TEST_POSTGRES_URL), or stops the test through Missing.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("QSMO_TEST_POSTGRES_URL")
	if u == "" {
		Missing(tb, "QSMO_TEST_POSTGRES_URL is not set (make test starts a throwaway PostgreSQL)")
	}
	return u
}
