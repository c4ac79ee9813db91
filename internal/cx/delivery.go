package cx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
)

// Subscription is an active subscription as the delivery survey needs it.
type Subscription struct {
	ID          string
	AgencyID    string
	OfferingID  string
	ProviderID  string
	ServiceArea string
	// ActiveSince is when the subscription became active.
	ActiveSince time.Time
}

// SubscriptionLister lists active subscriptions; the marketplace
// implements it.
type SubscriptionLister interface {
	// ActiveSubscriptions returns up to limit subscriptions active at
	// asOf whose ID sorts after the cursor after, in ID order; fewer than
	// limit means there are no more.
	ActiveSubscriptions(ctx context.Context, asOf time.Time, after string, limit int) ([]Subscription, error)
}

// DeliveryTrigger sends the quarterly delivery survey for every active
// subscription that has not had one this quarter. Run owns one goroutine
// (the caller's) and stops when its context ends; each pass is bounded by
// MaxPerRun surveys, so a large backlog spreads over several passes.
type DeliveryTrigger struct {
	S      *Service
	Lister SubscriptionLister
	// Interval between passes (default 6 hours).
	Interval time.Duration
	// MinActive is how long a subscription must have been active before
	// its first delivery survey (default 30 days): onboarding has its own.
	MinActive time.Duration
	// MaxPerRun bounds the surveys one pass sends (default 500).
	MaxPerRun int
	// PageSize is how many subscriptions one call to the lister returns
	// (default 100).
	PageSize int
	Log      *slog.Logger
}

func (d *DeliveryTrigger) defaults() {
	if d.Interval <= 0 {
		d.Interval = 6 * time.Hour
	}
	if d.MinActive <= 0 {
		d.MinActive = 30 * 24 * time.Hour
	}
	if d.MaxPerRun <= 0 {
		d.MaxPerRun = 500
	}
	if d.PageSize <= 0 {
		d.PageSize = 100
	}
	if d.Log == nil {
		d.Log = d.S.Log
	}
}

// Run makes a pass at once and then every Interval until ctx ends.
func (d *DeliveryTrigger) Run(ctx context.Context) {
	d.defaults()
	t := time.NewTicker(d.Interval)
	defer t.Stop()
	for {
		n, err := d.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			d.Log.Warn("cx: delivery surveys", "err", err, "sent", n)
		case n > 0:
			d.Log.Info("cx: delivery surveys sent", "sent", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce makes one pass and returns how many surveys it sent. It stops
// early, without error, when MaxPerRun is reached; the next pass goes on.
func (d *DeliveryTrigger) RunOnce(ctx context.Context) (int, error) {
	d.defaults()
	ctx = actor.With(ctx, actor.Actor{Label: "delivery survey schedule"})
	now := d.S.DB.Now()
	q := a11.QuarterOf(now)
	sent, after := 0, ""
	// The page count is bounded too: a lister that never runs dry cannot
	// hold the pass forever.
	for page := 0; page < 10_000; page++ {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		subs, err := d.Lister.ActiveSubscriptions(ctx, now, after, d.PageSize)
		if err != nil {
			return sent, fmt.Errorf("cx: list subscriptions: %w", err)
		}
		for _, sub := range subs {
			if sub.ID <= after {
				return sent, fmt.Errorf("cx: subscriptions out of order after %q", after)
			}
			after = sub.ID
			if now.Sub(sub.ActiveSince) < d.MinActive {
				continue
			}
			ev := StageEvent{Stage: StageDelivery, AgencyID: sub.AgencyID, OfferingID: sub.OfferingID, ProviderID: sub.ProviderID,
				ServiceArea: sub.ServiceArea, SubscriptionID: sub.ID}
			done, err := d.alreadySent(ctx, ev.dedupeKey(q))
			if err != nil {
				return sent, err
			}
			if done {
				continue
			}
			if sent >= d.MaxPerRun {
				return sent, nil
			}
			var ok bool
			err = d.S.DB.InTx(ctx, func(tx *db.Tx) error {
				var err error
				ok, err = d.S.stage(ctx, tx, ev)
				return err
			})
			if err != nil {
				// One subscription's bad data must not stop the others.
				d.Log.Warn("cx: delivery survey", "subscription_id", sub.ID, "org_id", sub.AgencyID, "err", err)
				continue
			}
			if ok {
				sent++
			}
		}
		if len(subs) < d.PageSize {
			return sent, nil
		}
	}
	return sent, nil
}

func (d *DeliveryTrigger) alreadySent(ctx context.Context, key string) (bool, error) {
	var one int
	err := d.S.DB.QueryRowContext(ctx, "SELECT 1 FROM cx_surveys WHERE dedupe_key = ?", key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cx: delivery survey sent: %w", err)
	}
	return true, nil
}
