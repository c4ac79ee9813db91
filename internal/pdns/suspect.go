package pdns

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/notify"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// NotifySuspect tells an agency that one of its clients looks infected: it
// resolved names of known malware or command-and-control servers (see
// querylog.SuspectOptions). The admins and analysts of the agency and of
// the agencies above it get an in-app notification and an email, once per
// client and counting window: the alert is recorded in the same
// transaction, so several resolver nodes or a restart never send it twice.
// It runs on the query log's notification goroutine.
func (s *Service) NotifySuspect(ev querylog.SuspectEvent) {
	if ev.Tenant == "" || !ev.Client.IsValid() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ctx = actor.With(ctx, actor.Actor{Label: "Protective DNS"})
	sent := 0
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var known int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM orgs WHERE id = ?", ev.Tenant).Scan(&known); err != nil {
			return fmt.Errorf("pdns: suspected client's agency: %w", err)
		}
		if known == 0 {
			return nil // the agency is gone
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO dns_suspect_alerts (org_id, client, window_start, hits, qname, category, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, client, window_start) DO NOTHING`,
			ev.Tenant, ev.Client.String(), db.TS(ev.WindowStart), int64(ev.Hits), ev.QName, ev.Category, db.TS(tx.Now()))
		if err != nil {
			return fmt.Errorf("pdns: record suspected client: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // told already
		}
		users, err := alertRecipients(ctx, tx, ev.Tenant)
		if err != nil {
			return err
		}
		what := "malware"
		if ev.Category == querylog.CategoryC2 {
			what = "command-and-control"
		}
		window := ev.Window
		if window <= 0 {
			window = time.Hour
		}
		body := fmt.Sprintf("The device at %s looked up %d names of known malware or command-and-control servers between %s and %s UTC, "+
			"most recently %s (%s). It may be infected: find the device and check it.",
			ev.Client, ev.Hits, ev.WindowStart.UTC().Format("Jan 2 15:04"), ev.WindowStart.Add(window).UTC().Format("15:04"), ev.QName, what)
		for _, u := range users {
			err := notify.Notify(ctx, tx, notify.Notification{UserID: u, OrgID: ev.Tenant,
				Subject: "Possibly infected device at " + ev.Client.String(), Body: body, Link: "/dns/agencies/" + ev.Tenant + "#suspects"}, s.PublicURL)
			if err != nil {
				return err
			}
			sent++
		}
		return nil
	})
	if err != nil {
		s.Log.Error("dns: suspected client alert", "org_id", ev.Tenant, "client_ip", ev.Client.String(), "err", err)
		return
	}
	if sent > 0 {
		s.Log.Info("dns: suspected client reported", "org_id", ev.Tenant, "client_ip", ev.Client.String(), "recipients", sent)
	}
}

// alertRecipients returns the active admins and analysts of an agency and
// of the agencies above it.
func alertRecipients(ctx context.Context, tx *db.Tx, orgID string) ([]string, error) {
	orgs := []string{orgID}
	for cur := orgID; len(orgs) < 10; {
		var parent *string
		if err := tx.QueryRowContext(ctx, "SELECT parent_id FROM orgs WHERE id = ?", cur).Scan(&parent); err != nil || parent == nil || *parent == "" {
			break
		}
		cur = *parent
		orgs = append(orgs, cur)
	}
	args := []any{string(authz.AgencyAdmin), string(authz.AgencyAnalyst)}
	for _, o := range orgs {
		args = append(args, o)
	}
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT u.id FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.role IN (?, ?) AND u.status = 'active' AND m.org_id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(orgs)), ",")+`) ORDER BY u.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("pdns: alert recipients: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
