package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

// Migrations are plain SQL files named NNNN_name.sql, shared by both
// dialects. Where the dialects cannot share a statement, a version has
// NNNN_name.sqlite.sql and NNNN_name.postgres.sql instead.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one schema version.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations for a dialect in version order.
func Migrations(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]Migration{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		target := ""
		if base, dialect, ok := strings.Cut(name, "."); ok {
			name, target = base, dialect
		}
		if target != "" && target != string(d) {
			continue
		}
		num, label, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("db: migration file %q is not named NNNN_name.sql", e.Name())
		}
		body, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		if prev, dup := byVersion[v]; dup && prev.Name != label {
			return nil, fmt.Errorf("db: two migrations with version %d", v)
		}
		byVersion[v] = Migration{Version: v, Name: label, SQL: string(body)}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies every migration newer than the database's version, each
// in its own transaction, and returns how many it applied. Concurrent
// migrators (several nodes starting at once) wait for each other.
func (d *DB) Migrate(ctx context.Context) (int, error) {
	ms, err := Migrations(d.Dialect)
	if err != nil {
		return 0, err
	}
	if _, err := d.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("db: create schema_migrations: %w", err)
	}
	applied := 0
	for _, m := range ms {
		done := false
		err := d.InTx(ctx, func(tx *Tx) error {
			if d.Dialect == Postgres {
				if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7262)"); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				done = true
				return nil
			}
			if _, err := tx.Tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %04d_%s: %w", m.Version, m.Name, err)
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.Version, m.Name, TS(d.Now()))
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("db: migrate: %w", err)
		}
		if !done {
			applied++
			slog.Info("applied migration", "version", m.Version, "name", m.Name, "dialect", string(d.Dialect))
		}
	}
	return applied, nil
}

// Version returns the highest applied migration version, 0 for an empty
// database.
func (d *DB) Version(ctx context.Context) (int, error) {
	var v int
	err := d.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("db: read schema version: %w", err)
	}
	return v, nil
}
