package marketplace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/db"
)

// Quarter is how often an active subscription reaches the delivery stage.
const Quarter = 91 * 24 * time.Hour

// DueDeliveries lists active subscriptions due their quarterly delivery
// stage at asOf: active for a quarter since they started or since their
// last delivery stage. At most limit are returned, oldest first.
func (s *Service) DueDeliveries(ctx context.Context, asOf time.Time, limit int) ([]LifecycleEvent, error) {
	cut := db.TS(asOf.Add(-Quarter))
	rows, err := s.DB.QueryContext(ctx, `SELECT s.id, s.order_id, s.agency_org_id, s.provider_org_id, s.offering_id, s.service_area_id, o.requested_by
		FROM market_subscriptions s JOIN market_orders o ON o.id = s.order_id
		WHERE s.status = 'active' AND COALESCE(s.delivery_stage_at, s.started_at) <= ? ORDER BY COALESCE(s.delivery_stage_at, s.started_at), s.id LIMIT ?`, cut, limit)
	if err != nil {
		return nil, fmt.Errorf("marketplace: due deliveries: %w", err)
	}
	defer rows.Close()
	var out []LifecycleEvent
	for rows.Next() {
		ev := LifecycleEvent{Stage: StageDelivery, At: asOf}
		if err := rows.Scan(&ev.SubscriptionID, &ev.OrderID, &ev.AgencyID, &ev.ProviderID, &ev.OfferingID, &ev.ServiceArea, &ev.UserID); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// RunDeliveryStage sends the delivery stage of every subscription due it
// to the lifecycle hook, each in its own transaction that also records it
// was sent, so a failure retries that one subscription on the next run. It
// handles at most batch subscriptions per call and returns how many.
func (s *Service) RunDeliveryStage(ctx context.Context, batch int) (int, error) {
	now := s.now()
	due, err := s.DueDeliveries(ctx, now, batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range due {
		err := s.DB.InTx(ctx, func(tx *db.Tx) error {
			res, err := tx.ExecContext(ctx, "UPDATE market_subscriptions SET delivery_stage_at = ? WHERE id = ? AND status = 'active' AND COALESCE(delivery_stage_at, started_at) <= ?",
				db.TS(now), ev.SubscriptionID, db.TS(now.Add(-Quarter)))
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k != 1 {
				return nil // another worker took it
			}
			return s.Hook.Stage(ctx, tx, ev)
		})
		if err != nil {
			return n, fmt.Errorf("marketplace: delivery stage %s: %w", ev.SubscriptionID, err)
		}
		n++
	}
	return n, nil
}

// Run is the marketplace's background work, hourly until ctx ends: issue
// last month's statements once the month has ended, and send quarterly
// delivery stages. Errors are logged and retried on the next tick.
func (s *Service) Run(ctx context.Context) {
	ctx = actor.With(ctx, actor.Actor{Label: "marketplace worker"})
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.IssueDueStatements(ctx); err != nil {
			s.Log.Error("marketplace: issue statements", "err", err)
		} else if n > 0 {
			s.Log.Info("marketplace: statements issued", "count", n)
		}
		for {
			n, err := s.RunDeliveryStage(ctx, 200)
			if err != nil {
				s.Log.Error("marketplace: delivery stage", "err", err)
			}
			if err != nil || n < 200 || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ActiveSubscription is an active subscription as other areas see it (the
// customer-experience area's quarterly delivery survey walks them).
type ActiveSubscription struct {
	ID          string
	AgencyID    string
	OfferingID  string
	ProviderID  string // the office for office-operated offerings
	ServiceArea string
	ActiveSince time.Time
}

// ActiveSubscriptions returns up to limit subscriptions active at asOf
// whose ID sorts after the cursor after, in ID order; fewer than limit
// means there are no more. It is a system call with no access check.
func (s *Service) ActiveSubscriptions(ctx context.Context, asOf time.Time, after string, limit int) ([]ActiveSubscription, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT id, agency_org_id, offering_id, provider_org_id, service_area_id, started_at FROM market_subscriptions
		WHERE status = 'active' AND started_at <= ? AND id > ? ORDER BY id LIMIT ?`, db.TS(asOf), after, limit)
	if err != nil {
		return nil, fmt.Errorf("marketplace: active subscriptions: %w", err)
	}
	defer rows.Close()
	var out []ActiveSubscription
	for rows.Next() {
		var a ActiveSubscription
		if err := rows.Scan(&a.ID, &a.AgencyID, &a.OfferingID, &a.ProviderID, &a.ServiceArea, (*db.Time)(&a.ActiveSince)); err != nil {
			return nil, fmt.Errorf("marketplace: scan active subscription: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// OfferingName returns an offering's name, or "" when there is no such
// offering; q is the caller's transaction or database. No access check:
// names of offerings appear in surveys about them.
func OfferingName(ctx context.Context, q db.Queryer, offeringID string) (string, error) {
	var name string
	err := q.QueryRowContext(ctx, "SELECT name FROM market_offerings WHERE id = ?", offeringID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("marketplace: offering name: %w", err)
	}
	return name, nil
}
