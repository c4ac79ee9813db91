package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

func qsmo(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	dd := []string{"--data-dir", dir, "--log-format", "text", "--log-level", "error"}

	if code, out, _ := qsmo(t, "version"); code != 0 || !strings.HasPrefix(out, "qsmo ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errs := qsmo(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
	code, out, errs := qsmo(t, append([]string{"migrate"}, dd...)...)
	if code != 0 || !strings.Contains(out, "sqlite database is at version") {
		t.Fatalf("migrate: %d %q %q", code, out, errs)
	}

	t.Run("user create prints a one-time setup link", func(t *testing.T) {
		code, out, errs := qsmo(t, append([]string{"user", "create", "--org", "office", "--role", "office_admin", "--email", "first@office.example.gov"}, dd...)...)
		if code != 0 || !strings.Contains(out, "/invite/") || !strings.Contains(out, "first@office.example.gov") {
			t.Fatalf("user create: %d %q %q", code, out, errs)
		}
		code, _, errs = qsmo(t, append([]string{"user", "create", "--org", "office", "--role", "agency_admin", "--email", "x@office.example.gov"}, dd...)...)
		if code != 1 || !strings.Contains(errs, "Choose a role for an office organization") {
			t.Fatalf("wrong role accepted: %d %q", code, errs)
		}
		code, _, errs = qsmo(t, append([]string{"user", "create", "--org", "nope", "--role", "agency_admin", "--email", "x@x.gov"}, dd...)...)
		if code != 1 || !strings.Contains(errs, `no organization with the short name "nope"`) {
			t.Fatalf("unknown org: %d %q", code, errs)
		}
	})

	t.Run("token create prints a token", func(t *testing.T) {
		code, out, errs := qsmo(t, append([]string{"token", "create", "--org", "office", "--role", "office_analyst", "--name", "Monitoring"}, dd...)...)
		if code != 0 || !strings.HasPrefix(out, "qsmo_") {
			t.Fatalf("token create: %d %q %q", code, out, errs)
		}
		code, _, errs = qsmo(t, append([]string{"token", "create", "--org", "office"}, dd...)...)
		if code != 1 || !strings.Contains(errs, "--org and --role are required") {
			t.Fatalf("missing role: %d %q", code, errs)
		}
		code, _, errs = qsmo(t, append([]string{"token", "create", "--org", "office", "--role", "office-admin", "--name", "Typo"}, dd...)...)
		if code != 1 || !strings.Contains(errs, "Choose a role: office_admin, office_analyst,") {
			t.Fatalf("unknown role: %d %q", code, errs)
		}
	})

	t.Run("backup writes a consistent copy", func(t *testing.T) {
		to := filepath.Join(t.TempDir(), "copy.db")
		code, out, errs := qsmo(t, append([]string{"backup", "--to", to}, dd...)...)
		if code != 0 || !strings.Contains(out, "Wrote a consistent copy") {
			t.Fatalf("backup: %d %q %q", code, out, errs)
		}
		copyDB, err := sql.Open("sqlite", "file:"+to)
		if err != nil {
			t.Fatal(err)
		}
		defer copyDB.Close()
		var n int
		if err := copyDB.QueryRow("SELECT COUNT(*) FROM api_tokens").Scan(&n); err != nil || n != 1 {
			t.Fatalf("backup content: %d tokens, %v", n, err)
		}
		if code, _, errs := qsmo(t, append([]string{"backup", "--to", to}, dd...)...); code != 1 || !strings.Contains(errs, "exists") {
			t.Fatalf("backup over an existing file: %d %q", code, errs)
		}
	})

	t.Run("audit verify finds tampering", func(t *testing.T) {
		code, out, _ := qsmo(t, append([]string{"audit", "verify"}, dd...)...)
		if code != 0 || !strings.Contains(out, "The audit log is intact") {
			t.Fatalf("verify: %d %q", code, out)
		}
		raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "qsmo.db"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec("DROP TRIGGER audit_events_no_update; UPDATE audit_events SET summary = 'nothing to see' WHERE seq = 1"); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		code, out, errs := qsmo(t, append([]string{"audit", "verify"}, dd...)...)
		if code != 1 || !strings.Contains(out, "TAMPERED: seq 1") || !strings.Contains(errs, "failed verification") {
			t.Fatalf("tampering not reported: %d %q %q", code, out, errs)
		}
	})
}

func TestParseOwn(t *testing.T) {
	fs := newFlags("x", &bytes.Buffer{})
	org := fs.String("org", "", "")
	rest, err := parseOwn(fs, []string{"--data-dir", "/tmp/x", "--org=office", "--log-level", "debug"})
	if err != nil || *org != "office" || strings.Join(rest, " ") != "--data-dir /tmp/x --log-level debug" {
		t.Fatalf("parseOwn = %v, %q, %v", rest, *org, err)
	}
}
