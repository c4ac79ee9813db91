package marketplace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// UsageRecord is a metered quantity reported by a service.
type UsageRecord struct {
	SubscriptionID string
	Metric         string // a metered unit, e.g. dns_queries
	Quantity       int64
	OccurredAt     time.Time
	// IdempotencyKey is chosen by the reporting service; reporting the same
	// key again returns the first record instead of counting twice.
	IdempotencyKey string
}

// Usage is a stored usage record.
type Usage struct {
	UsageRecord
	ID         string
	RecordedAt time.Time
	RecordedBy string
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,100}$`)

// maxUsageQuantity bounds one record (a quadrillion base units) so sums
// over a month stay far from overflow.
const maxUsageQuantity = 1_000_000_000_000_000

func (r *UsageRecord) check() map[string]string {
	errs := map[string]string{}
	if u, ok := money.Units[r.Metric]; !ok || !u.Metered {
		errs["metric"] = "Give a metered unit: dns_queries, bytes_ingested, reports, assets or hours."
	}
	if r.Quantity < 0 || r.Quantity > maxUsageQuantity {
		errs["quantity"] = "Give a quantity from 0 to 10^18."
	}
	if r.OccurredAt.IsZero() {
		errs["occurred_at"] = "Give when the usage happened (RFC 3339)."
	}
	if !keyRE.MatchString(r.IdempotencyKey) {
		errs["idempotency_key"] = "Give an idempotency key of 1 to 100 letters, digits and . _ : / -."
	}
	return errs
}

// RecordUsageAs records usage reported over the API: the token must act
// for the subscription's provider (for the office's own services, the
// office) with market.usage.record.
func (s *Service) RecordUsageAs(ctx context.Context, p *authz.Principal, r UsageRecord) (Usage, bool, error) {
	sub, err := s.GetSubscription(ctx, p, r.SubscriptionID)
	if err != nil {
		return Usage{}, false, err
	}
	if err := s.actFor(ctx, p, authz.MarketUsageRecord, sub.ProviderOrgID, "Usage is recorded by the subscription's provider."); err != nil {
		return Usage{}, false, err
	}
	return s.recordUsage(ctx, sub, r, actorLabel(p))
}

// RecordUsage records usage reported by a service running inside qsmo
// (the Go side of the metering API). It returns the stored record and
// whether it was a replay of an earlier one with the same key.
func (s *Service) RecordUsage(ctx context.Context, r UsageRecord) (Usage, bool, error) {
	if !id.Valid("sub", r.SubscriptionID) {
		return Usage{}, false, notFound("Subscription")
	}
	sub, err := loadSubscription(ctx, s.DB, r.SubscriptionID, s.now())
	if err != nil {
		return Usage{}, false, err
	}
	if actor.From(ctx).Label == "system" {
		ctx = actor.With(ctx, actor.Actor{Label: "metering"})
	}
	return s.recordUsage(ctx, sub, r, "metering")
}

func (s *Service) recordUsage(ctx context.Context, sub Subscription, r UsageRecord, by string) (Usage, bool, error) {
	r.OccurredAt = r.OccurredAt.UTC()
	if errs := r.check(); len(errs) > 0 {
		return Usage{}, false, apperr.Validation(errs)
	}
	priced := false
	for _, l := range sub.Rates {
		priced = priced || (l.Kind == money.Usage && l.Unit == r.Metric)
	}
	if !priced {
		return Usage{}, false, apperr.Validation(map[string]string{"metric": fmt.Sprintf("This subscription has no price for %s.", money.Units[r.Metric].Label)})
	}
	now := s.now()
	if r.OccurredAt.Before(sub.StartedAt.Add(-24*time.Hour)) || r.OccurredAt.After(now.Add(time.Hour)) {
		return Usage{}, false, apperr.Validation(map[string]string{"occurred_at": "Usage must fall between the subscription's start and now."})
	}
	if !sub.EndedAt.IsZero() && r.OccurredAt.After(sub.EndedAt) {
		return Usage{}, false, apperr.Validation(map[string]string{"occurred_at": "The subscription had ended by then."})
	}
	u := Usage{UsageRecord: r, ID: id.New("use"), RecordedAt: now, RecordedBy: by}
	replayed := false
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		prev, err := usageByKey(ctx, tx, r.SubscriptionID, r.IdempotencyKey)
		if err == nil {
			if prev.Metric != r.Metric || prev.Quantity != r.Quantity || !prev.OccurredAt.Equal(r.OccurredAt.Truncate(time.Microsecond)) {
				return apperr.New(apperr.Conflict, "The idempotency key %q was used for different usage.", r.IdempotencyKey)
			}
			u, replayed = prev, true
			return nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var issued int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM market_statements WHERE agency_org_id = ? AND period = ?", sub.AgencyOrgID, r.OccurredAt.Format("2006-01")).Scan(&issued); err != nil {
			return err
		}
		if issued > 0 {
			return apperr.New(apperr.Conflict, "The statement for %s is issued; usage for that month can no longer be recorded.", r.OccurredAt.Format("January 2006"))
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO market_usage (id, subscription_id, metric, quantity, occurred_at, idempotency_key, recorded_at, recorded_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, u.ID, r.SubscriptionID, r.Metric, r.Quantity, db.TS(r.OccurredAt), r.IdempotencyKey, db.TS(now), by)
		if err != nil {
			return fmt.Errorf("marketplace: insert usage: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: sub.AgencyOrgID, Action: "market.usage.record", TargetType: "subscription", TargetID: sub.ID,
			Summary: fmt.Sprintf("Recorded %s %s for “%s”", formatInt(r.Quantity), money.Units[r.Metric].Label, sub.OfferingName),
			After:   map[string]any{"metric": r.Metric, "quantity": r.Quantity, "occurred_at": r.OccurredAt, "key": r.IdempotencyKey}})
	})
	return u, replayed, err
}

func usageByKey(ctx context.Context, q db.Queryer, subID, key string) (Usage, error) {
	var u Usage
	err := q.QueryRowContext(ctx, `SELECT id, subscription_id, metric, quantity, occurred_at, idempotency_key, recorded_at, recorded_by FROM market_usage
		WHERE subscription_id = ? AND idempotency_key = ?`, subID, key).Scan(&u.ID, &u.SubscriptionID, &u.Metric, &u.Quantity, (*db.Time)(&u.OccurredAt),
		&u.IdempotencyKey, (*db.Time)(&u.RecordedAt), &u.RecordedBy)
	return u, err
}

// UsageTotal is a month's usage of one metric and what it costs.
type UsageTotal struct {
	Metric   string
	Quantity int64
	Amount   int64
}

// Label names the metric.
func (t UsageTotal) Label() string { return money.Units[t.Metric].Label }

// MonthUsage totals a subscription's usage in a month and rates it.
func (s *Service) MonthUsage(ctx context.Context, p *authz.Principal, subID string, month time.Time) ([]UsageTotal, error) {
	sub, err := s.GetSubscription(ctx, p, subID)
	if err != nil {
		return nil, err
	}
	start, end := monthBounds(month)
	totals, err := usageTotals(ctx, s.DB, sub.ID, start, end)
	if err != nil {
		return nil, err
	}
	for i := range totals {
		totals[i].Amount, _, _ = money.RateUsage(sub.Rates, totals[i].Metric, totals[i].Quantity)
	}
	return totals, nil
}

func usageTotals(ctx context.Context, q db.Queryer, subID string, start, end time.Time) ([]UsageTotal, error) {
	rows, err := q.QueryContext(ctx, `SELECT metric, SUM(quantity) FROM market_usage WHERE subscription_id = ? AND occurred_at >= ? AND occurred_at < ?
		GROUP BY metric ORDER BY metric`, subID, db.TS(start), db.TS(end))
	if err != nil {
		return nil, fmt.Errorf("marketplace: usage totals: %w", err)
	}
	defer rows.Close()
	var out []UsageTotal
	for rows.Next() {
		var t UsageTotal
		if err := rows.Scan(&t.Metric, &t.Quantity); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// monthBounds returns the first instant of t's month and of the next, UTC.
func monthBounds(t time.Time) (time.Time, time.Time) {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// MeteredSubscriptions returns, by agency, the subscription to charge for
// usage of metric in [from, to) on the office's own offerings in a service
// area (e.g. Protective DNS queries): one that was active during the
// period and has a usage price for the metric, the earliest started when
// an agency has several. The office's services use it to report usage
// without a token.
func (s *Service) MeteredSubscriptions(ctx context.Context, areaID, metric string, from, to time.Time) (map[string]Subscription, error) {
	office, err := s.OfficeID(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT "+subColumns+subFrom+`
		WHERE s.service_area_id = ? AND s.provider_org_id = ? AND s.started_at < ? AND (s.ended_at IS NULL OR s.ended_at >= ?)
		AND EXISTS (SELECT 1 FROM market_rates r WHERE r.subscription_id = s.id AND r.kind = ? AND r.unit = ?)
		ORDER BY s.started_at, s.id`, areaID, office, db.TS(to), db.TS(from), string(money.Usage), metric)
	if err != nil {
		return nil, fmt.Errorf("marketplace: metered subscriptions: %w", err)
	}
	var subs []Subscription
	for rows.Next() {
		x, err := scanSub(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("marketplace: scan metered subscription: %w", err)
		}
		subs = append(subs, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[string]Subscription{}
	for _, x := range subs {
		if _, ok := out[x.AgencyOrgID]; !ok {
			out[x.AgencyOrgID] = x
		}
	}
	return out, nil
}

// OtherActiveSubscription reports whether the agency of sub has another
// active subscription from the same provider in the same service area, in
// the caller's transaction: a provisioner keeps the service on while one
// remains.
func OtherActiveSubscription(ctx context.Context, q db.Queryer, sub Subscription) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM market_subscriptions WHERE agency_org_id = ? AND provider_org_id = ? AND service_area_id = ?
		AND status = 'active' AND id <> ?`, sub.AgencyOrgID, sub.ProviderOrgID, sub.AreaID, sub.ID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("marketplace: other subscriptions: %w", err)
	}
	return n > 0, nil
}
