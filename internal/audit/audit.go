// Package audit keeps qsmo's append-only, hash-chained record of every state
// change: who did what, when, from where, to which record, with the before
// and after state. Events are written in the same transaction as the change.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
)

// Actor is who caused a change; see package actor.
type Actor = actor.Actor

// WithActor returns a context carrying a.
func WithActor(ctx context.Context, a Actor) context.Context { return actor.With(ctx, a) }

// ActorFrom returns the actor stored in ctx, or a "system" actor.
func ActorFrom(ctx context.Context) Actor { return actor.From(ctx) }

// Event describes one state change. Before and After are marshalled to
// JSON; callers pass views without secrets (never password hashes, token
// secrets or report bodies).
type Event struct {
	OrgID      string // the organization whose data changed ("" for global changes)
	Action     string // dotted verb, e.g. "org.create", "user.suspend"
	TargetType string // e.g. "org", "user", "token"
	TargetID   string
	Summary    string // one line a person reads in the log
	Before     any
	After      any
}

// Record is a stored event with its place in the chain.
type Record struct {
	Seq        int64
	ID         string
	At         time.Time
	Actor      Actor
	OrgID      string
	Action     string
	TargetType string
	TargetID   string
	Summary    string
	BeforeJSON string
	AfterJSON  string
	PrevHash   string
	Hash       string
}

// Append writes ev as the next link of the chain inside tx. Appends are
// serialized (PostgreSQL advisory lock; SQLite's write lock is taken at
// BEGIN) so the chain never forks.
func Append(ctx context.Context, tx *db.Tx, ev Event) error {
	if ev.Action == "" {
		return errors.New("audit: event without action")
	}
	if tx.Dialect() == db.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7263)"); err != nil {
			return fmt.Errorf("audit: lock chain: %w", err)
		}
	}
	var (
		lastSeq  int64
		lastHash string
	)
	err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").Scan(&lastSeq, &lastHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: read chain head: %w", err)
	}
	before, err := marshal(ev.Before)
	if err != nil {
		return fmt.Errorf("audit: %s: before: %w", ev.Action, err)
	}
	after, err := marshal(ev.After)
	if err != nil {
		return fmt.Errorf("audit: %s: after: %w", ev.Action, err)
	}
	a := ActorFrom(ctx)
	r := Record{
		Seq: lastSeq + 1, ID: id.New("aud"), At: tx.Now().UTC().Truncate(time.Microsecond), Actor: a,
		OrgID: ev.OrgID, Action: ev.Action, TargetType: ev.TargetType, TargetID: ev.TargetID, Summary: ev.Summary,
		BeforeJSON: before, AfterJSON: after, PrevHash: lastHash,
	}
	r.Hash = r.computeHash()
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_events
		(seq, id, at, actor_user_id, actor_token_id, actor_label, ip, user_agent, org_id, action, target_type, target_id, summary, before_json, after_json, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Seq, r.ID, db.TS(r.At), a.UserID, a.TokenID, a.Label, a.IP, truncate(a.UserAgent, 300), r.OrgID, r.Action, r.TargetType, r.TargetID, r.Summary, r.BeforeJSON, r.AfterJSON, r.PrevHash, r.Hash)
	if err != nil {
		return fmt.Errorf("audit: append %s: %w", ev.Action, err)
	}
	return nil
}

func marshal(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// computeHash hashes the previous link and every field of the record, each
// length-prefixed so no two different records serialize alike.
func (r *Record) computeHash() string {
	h := sha256.New()
	for _, f := range []string{
		r.PrevHash, strconv.FormatInt(r.Seq, 10), r.ID, r.At.UTC().Format(db.TimeLayout),
		r.Actor.UserID, r.Actor.TokenID, r.Actor.Label, r.Actor.IP, truncate(r.Actor.UserAgent, 300),
		r.OrgID, r.Action, r.TargetType, r.TargetID, r.Summary, r.BeforeJSON, r.AfterJSON,
	} {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Filter selects audit records. Zero fields do not filter.
type Filter struct {
	// OrgIDs limits records to these organizations; nil means every
	// organization (office staff only — callers decide through authz).
	OrgIDs    []string
	Action    string // prefix match: "user." matches every user action
	Actor     string // matches actor label (substring) or exact user/token ID
	TargetID  string
	From, To  time.Time
	BeforeSeq int64 // paging cursor: records with seq < BeforeSeq
	Limit     int
}

// List returns records newest first, and the cursor for the next page (0
// when there is none).
func List(ctx context.Context, q db.Queryer, f Filter) ([]Record, int64, error) {
	if f.OrgIDs != nil && len(f.OrgIDs) == 0 {
		return nil, 0, nil
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	var (
		where []string
		args  []any
	)
	if f.OrgIDs != nil {
		where = append(where, "org_id IN ("+placeholders(len(f.OrgIDs))+")")
		for _, o := range f.OrgIDs {
			args = append(args, o)
		}
	}
	if f.Action != "" {
		where = append(where, `action LIKE ? ESCAPE '\'`)
		args = append(args, escapeLike(f.Action)+"%")
	}
	if f.Actor != "" {
		where = append(where, `(LOWER(actor_label) LIKE ? ESCAPE '\' OR actor_user_id = ? OR actor_token_id = ?)`)
		args = append(args, "%"+escapeLike(strings.ToLower(f.Actor))+"%", f.Actor, f.Actor)
	}
	if f.TargetID != "" {
		where = append(where, "target_id = ?")
		args = append(args, f.TargetID)
	}
	if !f.From.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, db.TS(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "at < ?")
		args = append(args, db.TS(f.To))
	}
	if f.BeforeSeq > 0 {
		where = append(where, "seq < ?")
		args = append(args, f.BeforeSeq)
	}
	query := "SELECT " + columns + " FROM audit_events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY seq DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Seq
	}
	return out, next, nil
}

// Get returns one record by ID.
func Get(ctx context.Context, q db.Queryer, recordID string) (Record, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+columns+" FROM audit_events WHERE id = ?", recordID)
	if err != nil {
		return Record{}, fmt.Errorf("audit: get: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return Record{}, sql.ErrNoRows
	}
	return scan(rows)
}

const columns = "seq, id, at, actor_user_id, actor_token_id, actor_label, ip, user_agent, org_id, action, target_type, target_id, summary, before_json, after_json, prev_hash, hash"

func scan(rows *sql.Rows) (Record, error) {
	var r Record
	err := rows.Scan(&r.Seq, &r.ID, (*db.Time)(&r.At), &r.Actor.UserID, &r.Actor.TokenID, &r.Actor.Label, &r.Actor.IP, &r.Actor.UserAgent,
		&r.OrgID, &r.Action, &r.TargetType, &r.TargetID, &r.Summary, &r.BeforeJSON, &r.AfterJSON, &r.PrevHash, &r.Hash)
	if err != nil {
		return r, fmt.Errorf("audit: scan: %w", err)
	}
	return r, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	Count    int64
	HeadSeq  int64
	HeadHash string
	// Problems lists every broken link; empty when the chain is intact.
	Problems []string
}

// OK reports whether the chain verified.
func (v VerifyResult) OK() bool { return len(v.Problems) == 0 }

// Verify walks the whole chain and reports every record whose hash does not
// match its content, whose link to the previous record is broken, or whose
// sequence number skips (a deleted record). Truncating the newest records
// cannot be seen from inside the chain; compare HeadSeq and HeadHash with a
// value kept elsewhere (the verify command prints them).
func Verify(ctx context.Context, d *db.DB) (VerifyResult, error) {
	var res VerifyResult
	var prevHash string
	var prevSeq int64
	const page = 2000
	for {
		rows, err := d.QueryContext(ctx, "SELECT "+columns+" FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?", prevSeq, page)
		if err != nil {
			return res, fmt.Errorf("audit: verify: %w", err)
		}
		n := 0
		for rows.Next() {
			r, err := scan(rows)
			if err != nil {
				rows.Close()
				return res, err
			}
			n++
			res.Count++
			if r.Seq != prevSeq+1 {
				res.Problems = append(res.Problems, fmt.Sprintf("seq %d follows %d: %d record(s) missing", r.Seq, prevSeq, r.Seq-prevSeq-1))
			}
			if r.PrevHash != prevHash {
				res.Problems = append(res.Problems, fmt.Sprintf("seq %d: link to previous record broken", r.Seq))
			}
			if got := r.computeHash(); got != r.Hash {
				res.Problems = append(res.Problems, fmt.Sprintf("seq %d (%s): content does not match its hash", r.Seq, r.Action))
			}
			prevHash, prevSeq = r.Hash, r.Seq
			res.HeadSeq, res.HeadHash = r.Seq, r.Hash
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return res, fmt.Errorf("audit: verify: %w", err)
		}
		if n < page {
			return res, nil
		}
	}
}
