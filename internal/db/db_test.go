package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
)

func TestRebind(t *testing.T) {
	d := &db.DB{Dialect: db.Postgres}
	cases := map[string]string{
		"SELECT 1":                              "SELECT 1",
		"SELECT * FROM t WHERE a = ? AND b = ?": "SELECT * FROM t WHERE a = $1 AND b = $2",
		"SELECT '?' , ? FROM t":                 "SELECT '?' , $1 FROM t",
		`SELECT "we?rd" FROM t WHERE x=?`:       `SELECT "we?rd" FROM t WHERE x=$1`,
	}
	for in, want := range cases {
		if got := d.Rebind(in); got != want {
			t.Errorf("Rebind(%q) = %q, want %q", in, got, want)
		}
	}
	s := &db.DB{Dialect: db.SQLite}
	if got := s.Rebind("a = ?"); got != "a = ?" {
		t.Errorf("sqlite rebind changed query: %q", got)
	}
}

func TestStore(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		t.Run("migrate is idempotent", func(t *testing.T) {
			n, err := d.Migrate(ctx)
			if err != nil || n != 0 {
				t.Fatalf("second Migrate = %d, %v; want 0, nil", n, err)
			}
			v, err := d.Version(ctx)
			if err != nil || v < 2 {
				t.Fatalf("Version = %d, %v", v, err)
			}
		})
		t.Run("times round-trip in UTC with microseconds", func(t *testing.T) {
			in := time.Date(2026, 3, 4, 5, 6, 7, 891234000, time.FixedZone("EST", -5*3600))
			if _, err := d.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?)", "k", "v"); err != nil {
				t.Fatal(err)
			}
			var out db.Time
			if err := d.QueryRowContext(ctx, "SELECT ?", db.TS(in)).Scan(&out); err != nil {
				t.Fatal(err)
			}
			if !time.Time(out).Equal(in) {
				t.Fatalf("got %v, want %v", time.Time(out), in)
			}
		})
		t.Run("failed transaction changes nothing", func(t *testing.T) {
			err := d.InTx(ctx, func(tx *db.Tx) error {
				if _, err := tx.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?)", "rolled", "back"); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?)", "k", "duplicate")
				return err
			})
			if !db.IsUniqueViolation(err) {
				t.Fatalf("want unique violation, got %v", err)
			}
			var n int
			if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM settings WHERE key = ?", "rolled").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatal("rolled-back insert is visible")
			}
		})
		t.Run("audit table refuses update and delete", func(t *testing.T) {
			_, err := d.ExecContext(ctx, `INSERT INTO audit_events (seq, id, at, action, prev_hash, hash) VALUES (1, 'a', '2026-01-01T00:00:00.000000Z', 'x', '', 'h')`)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.ExecContext(ctx, "UPDATE audit_events SET action = 'y'"); err == nil {
				t.Error("update of audit_events succeeded")
			}
			if _, err := d.ExecContext(ctx, "DELETE FROM audit_events"); err == nil {
				t.Error("delete from audit_events succeeded")
			}
		})
	})
}
