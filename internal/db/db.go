// Package db opens qsmo's database — embedded SQLite by default, PostgreSQL
// when a postgres:// URL is given — runs the embedded migrations, and hides
// the few dialect differences (placeholders, locking) behind one small API.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names the SQL engine behind a DB.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is a database handle that knows its dialect. Queries are written with
// "?" placeholders; DB rewrites them for PostgreSQL.
type DB struct {
	*sql.DB
	Dialect Dialect
	// Path is the SQLite file path; empty for PostgreSQL.
	Path string
	// Now is the clock used for timestamps written by stores; tests replace it.
	Now func() time.Time
}

// Open connects to the database named by databaseURL, or, when it is empty,
// to the SQLite file qsmo.db inside dataDir (created if missing).
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	if databaseURL == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("db: create data dir: %w", err)
		}
		return OpenSQLite(ctx, filepath.Join(dataDir, "qsmo.db"))
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("db: database URL is not a valid URL")
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return OpenPostgres(ctx, databaseURL)
	case "sqlite", "file":
		p := u.Opaque
		if p == "" {
			p = u.Path
		}
		return OpenSQLite(ctx, p)
	default:
		return nil, fmt.Errorf("db: unsupported database URL scheme %q (use postgres:// or leave empty for SQLite)", u.Scheme)
	}
}

// OpenSQLite opens (creating if needed) a SQLite database file in WAL mode
// with foreign keys on. Write transactions take the lock at BEGIN so that
// concurrent writers wait for each other instead of failing mid-transaction.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("db: open sqlite: %w", err)
	}
	sqldb.SetMaxOpenConns(8)
	sqldb.SetMaxIdleConns(8)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{DB: sqldb, Dialect: SQLite, Path: path, Now: now}
	if err := d.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("db: open sqlite %s: %w", path, err)
	}
	return d, nil
}

// OpenPostgres connects to PostgreSQL through pgx.
func OpenPostgres(ctx context.Context, databaseURL string) (*DB, error) {
	sqldb, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("db: open postgres: %w", err)
	}
	sqldb.SetMaxOpenConns(25)
	sqldb.SetMaxIdleConns(10)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{DB: sqldb, Dialect: Postgres, Now: now}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.PingContext(pctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("db: connect to postgres: %w", redactURLError(err, databaseURL))
	}
	return d, nil
}

func now() time.Time { return time.Now().UTC() }

// redactURLError makes sure a connection error never repeats a password
// from the URL.
func redactURLError(err error, databaseURL string) error {
	u, perr := url.Parse(databaseURL)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

// Rebind rewrites "?" placeholders to the dialect's form ($1, $2, ... for
// PostgreSQL). Question marks inside quoted strings and identifiers are left
// alone.
func (d *DB) Rebind(query string) string {
	if d.Dialect != Postgres {
		return query
	}
	return rebindDollar(query)
}

func rebindDollar(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(fmt.Sprint(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ExecContext runs a statement written with "?" placeholders.
func (d *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, d.Rebind(query), args...)
}

// QueryContext runs a query written with "?" placeholders.
func (d *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, d.Rebind(query), args...)
}

// QueryRowContext runs a single-row query written with "?" placeholders.
func (d *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.DB.QueryRowContext(ctx, d.Rebind(query), args...)
}

// Tx is a transaction that rewrites placeholders like DB.
type Tx struct {
	*sql.Tx
	db *DB
}

// DB returns the database the transaction belongs to.
func (tx *Tx) DB() *DB { return tx.db }

// Dialect returns the dialect of the transaction's database.
func (tx *Tx) Dialect() Dialect { return tx.db.Dialect }

// Now returns the database clock's current time.
func (tx *Tx) Now() time.Time { return tx.db.Now() }

// ExecContext runs a statement written with "?" placeholders.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.Tx.ExecContext(ctx, tx.db.Rebind(query), args...)
}

// QueryContext runs a query written with "?" placeholders.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.Tx.QueryContext(ctx, tx.db.Rebind(query), args...)
}

// QueryRowContext runs a single-row query written with "?" placeholders.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(ctx, tx.db.Rebind(query), args...)
}

// Begin starts a transaction. SQLite transactions take the write lock at
// BEGIN (see OpenSQLite).
func (d *DB) Begin(ctx context.Context) (*Tx, error) {
	t, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("db: begin: %w", err)
	}
	return &Tx{Tx: t, db: d}, nil
}

// InTx runs fn in a transaction and commits when fn returns nil; any error
// or panic rolls back. Every store method that changes state uses it so the
// change and its audit record commit together.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := d.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	return nil
}

// Queryer is satisfied by *DB and *Tx so read helpers work in and out of
// transactions.
type Queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// IsUniqueViolation reports whether err is a unique-constraint violation in
// either dialect, so stores can turn it into a clear "already exists".
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "duplicate key value")
}

// Ping checks that the database answers, for readiness probes.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var one int
	return d.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}
