// Package notify delivers messages to people: in-app notifications, and
// email through an outbox table that a sender drains over SMTP. Without SMTP
// the outbox keeps every message for office admins to read, so nothing is
// lost and links still reach their recipients in a test or demo setup.
package notify

import (
	"context"
	"database/sql"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
)

// Message is one email.
type Message struct {
	OrgID   string // organization the message concerns, for the outbox view
	To      string
	Subject string
	Body    string // plain text
	Kind    string // e.g. "invite", "password_reset", "notification"
}

// Enqueue stores m in the outbox inside tx, so the email is sent if and only
// if the change that caused it commits.
func Enqueue(ctx context.Context, tx *db.Tx, m Message) error {
	addr, err := mail.ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("notify: bad recipient address: %w", err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("notify: subject contains a line break")
	}
	now := tx.Now()
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox (id, org_id, to_addr, subject, body, kind, created_at, next_try_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id.New("msg"), m.OrgID, addr.Address, m.Subject, m.Body, m.Kind, db.TS(now), db.TS(now))
	if err != nil {
		return fmt.Errorf("notify: enqueue: %w", err)
	}
	return nil
}

// Notification is an in-app message to one user, mirrored by email.
type Notification struct {
	UserID  string
	OrgID   string
	Subject string
	Body    string
	Link    string // path inside the portal, e.g. /orders/ord_...
	// EmailLink, when set, replaces Link in the email: a one-time link
	// that works without signing in (a survey to answer), while the in-app
	// notification keeps the signed-in path.
	EmailLink string
}

// Notify records an in-app notification and queues the same text by email
// to the user's address, inside tx.
func Notify(ctx context.Context, tx *db.Tx, n Notification, publicURL string) error {
	var email string
	var status string
	err := tx.QueryRowContext(ctx, "SELECT email, status FROM users WHERE id = ?", n.UserID).Scan(&email, &status)
	if err != nil {
		return fmt.Errorf("notify: recipient %s: %w", n.UserID, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO notifications (id, user_id, org_id, subject, body, link, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id.New("ntf"), n.UserID, n.OrgID, n.Subject, n.Body, n.Link, db.TS(tx.Now()))
	if err != nil {
		return fmt.Errorf("notify: insert notification: %w", err)
	}
	if status == "suspended" {
		return nil
	}
	body := n.Body
	link := n.Link
	if n.EmailLink != "" {
		link = n.EmailLink
	}
	if link != "" {
		body += "\n\n" + strings.TrimSuffix(publicURL, "/") + link
	}
	return Enqueue(ctx, tx, Message{OrgID: n.OrgID, To: email, Subject: n.Subject, Body: body, Kind: "notification"})
}

// Item is a stored in-app notification.
type Item struct {
	ID        string
	OrgID     string
	Subject   string
	Body      string
	Link      string
	CreatedAt time.Time
	ReadAt    time.Time
}

// ForUser lists a user's notifications, newest first.
func ForUser(ctx context.Context, q db.Queryer, userID string, limit int) ([]Item, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, org_id, subject, body, link, created_at, read_at FROM notifications
		WHERE user_id = ? ORDER BY created_at DESC, id LIMIT ?`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.ID, &it.OrgID, &it.Subject, &it.Body, &it.Link, (*db.Time)(&it.CreatedAt), (*db.Time)(&it.ReadAt)); err != nil {
			return nil, fmt.Errorf("notify: scan: %w", err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// Unread counts a user's unread notifications.
func Unread(ctx context.Context, q db.Queryer, userID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read_at IS NULL", userID).Scan(&n)
	return n, err
}

// MarkAllRead marks a user's notifications read.
func MarkAllRead(ctx context.Context, tx *db.Tx, userID string) (int64, error) {
	res, err := tx.ExecContext(ctx, "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL", db.TS(tx.Now()), userID)
	if err != nil {
		return 0, fmt.Errorf("notify: mark read: %w", err)
	}
	return res.RowsAffected()
}

// OutboxItem is a stored email.
type OutboxItem struct {
	ID        string
	OrgID     string
	To        string
	Subject   string
	Body      string
	Kind      string
	CreatedAt time.Time
	SentAt    time.Time
	Attempts  int
	LastError string
}

// Outbox lists stored email, newest first, optionally for one recipient.
func Outbox(ctx context.Context, q db.Queryer, to string, limit int) ([]OutboxItem, error) {
	query := `SELECT id, org_id, to_addr, subject, body, kind, created_at, sent_at, attempts, last_error FROM outbox`
	var args []any
	if to != "" {
		query += " WHERE LOWER(to_addr) = ?"
		args = append(args, strings.ToLower(to))
	}
	query += " ORDER BY created_at DESC, id LIMIT ?"
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("notify: outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var it OutboxItem
		if err := rows.Scan(&it.ID, &it.OrgID, &it.To, &it.Subject, &it.Body, &it.Kind, (*db.Time)(&it.CreatedAt), (*db.Time)(&it.SentAt), &it.Attempts, &it.LastError); err != nil {
			return nil, fmt.Errorf("notify: scan outbox: %w", err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// OutboxMessage returns one stored email.
func OutboxMessage(ctx context.Context, q db.Queryer, msgID string) (OutboxItem, error) {
	var it OutboxItem
	err := q.QueryRowContext(ctx, `SELECT id, org_id, to_addr, subject, body, kind, created_at, sent_at, attempts, last_error FROM outbox WHERE id = ?`, msgID).
		Scan(&it.ID, &it.OrgID, &it.To, &it.Subject, &it.Body, &it.Kind, (*db.Time)(&it.CreatedAt), (*db.Time)(&it.SentAt), &it.Attempts, &it.LastError)
	if err == sql.ErrNoRows {
		return it, err
	}
	return it, err
}
