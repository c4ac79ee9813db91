// Package dbtest gives tests a fresh, migrated database: SQLite in a temp
// dir, and PostgreSQL in a private schema of the throwaway server the test
// command starts. Store tests call Run so the same test runs on both.
package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/testenv"
)

// Run runs fn as two subtests, "sqlite" and "postgres", each with its own
// fresh migrated database.
func Run(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns a migrated SQLite database in t's temp dir.
func SQLite(tb testing.TB) *db.DB {
	tb.Helper()
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(tb.TempDir(), "test.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return d
}

// Postgres returns a migrated database in a fresh schema on the test
// PostgreSQL server; the schema is dropped when the test ends.
func Postgres(tb testing.TB) *db.DB {
	tb.Helper()
	base := testenv.PostgresURL(tb)
	ctx := context.Background()
	schema := "t_" + strings.TrimPrefix(id.New("s"), "s_")
	admin, err := db.OpenPostgres(ctx, base)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		tb.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	d, err := db.OpenPostgres(ctx, u.String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		d.Close()
		if _, err := admin.ExecContext(context.Background(), fmt.Sprintf("DROP SCHEMA %s CASCADE", schema)); err != nil {
			tb.Logf("drop test schema: %v", err)
		}
		admin.Close()
	})
	if _, err := d.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return d
}
