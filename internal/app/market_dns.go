package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/marketplace"
	"github.com/qsmo/qsmo/internal/pdns"
)

// dnsArea is the marketplace's service area of Protective DNS, and
// dnsMetric the unit its queries are charged in.
const (
	dnsArea   = "protective-dns"
	dnsMetric = "dns_queries"
)

// connectMarketDNS makes the office's Protective DNS offering provision
// itself: an order that completes creates the agency's default resolver
// policy, and the end of its last subscription removes it. Queries are
// metered by the resolver nodes (see DNSMeter).
func (a *App) connectMarketDNS() {
	a.Market.RegisterProvisioner(dnsArea, dnsProvisioner{})
}

// dnsProvisioner adapts pdns.Provisioner to the marketplace's interface.
// Both run in the marketplace's transaction; resolvers pick the change up
// when they next poll the policy version.
type dnsProvisioner struct{}

func (dnsProvisioner) Provision(ctx context.Context, tx *db.Tx, sub marketplace.Subscription) error {
	_, err := pdns.Provisioner{}.Provision(ctx, tx, sub.AgencyOrgID)
	return err
}

func (dnsProvisioner) Deprovision(ctx context.Context, tx *db.Tx, sub marketplace.Subscription) error {
	other, err := marketplace.OtherActiveSubscription(ctx, tx, sub)
	if err != nil || other {
		return err
	}
	return pdns.Provisioner{}.Deprovision(ctx, tx, sub.AgencyOrgID)
}

// DNSMeter reports the queries each agency made through this process's
// resolver as marketplace usage, one record per agency, node and finished
// UTC day, so chargeback statements charge them. Records are idempotent
// (the key names the node and the day), so reporting a day again, after a
// restart or from a second pass, never counts twice.
type DNSMeter struct {
	Market *marketplace.Service
	Log    *pdns.Service
	Node   string // the resolver node's ID, part of each record's key
	// Days is how many finished days each pass looks back (the query log
	// must still hold them: keep it within the log's retention).
	Days int
	// Settle is how long after midnight a day is left for late batches of
	// the query log before it is reported.
	Settle time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// MeterResult counts what one pass did.
type MeterResult struct {
	Recorded, Replayed, Skipped int
}

// Pass reports every finished day in the look-back window.
func (m *DNSMeter) Pass(ctx context.Context) (MeterResult, error) {
	var res MeterResult
	if m.Log == nil || m.Log.QueryLog == nil {
		return res, nil
	}
	ctx = actor.With(ctx, actor.Actor{Label: "metering"})
	now := m.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	last := today
	if now.Sub(today) < m.Settle {
		last = today.AddDate(0, 0, -1) // yesterday is not settled yet
	}
	for from := last.AddDate(0, 0, -m.Days); from.Before(last); from = from.AddDate(0, 0, 1) {
		to := from.AddDate(0, 0, 1)
		totals, err := m.Log.QueryLog.Totals(from, to)
		if err != nil {
			return res, fmt.Errorf("dns metering: %s: %w", from.Format(time.DateOnly), err)
		}
		if len(totals) == 0 {
			continue
		}
		subs, err := m.Market.MeteredSubscriptions(ctx, dnsArea, dnsMetric, from, to)
		if err != nil {
			return res, err
		}
		for _, t := range totals {
			sub, ok := subs[t.Tenant]
			if !ok || t.Counts.Queries == 0 {
				continue // no agency, or queries outside any priced subscription
			}
			at := from.Add(12 * time.Hour)
			if at.Before(sub.StartedAt) {
				at = sub.StartedAt
			}
			if !sub.EndedAt.IsZero() && at.After(sub.EndedAt) {
				at = sub.EndedAt
			}
			_, replayed, err := m.Market.RecordUsage(ctx, marketplace.UsageRecord{SubscriptionID: sub.ID, Metric: dnsMetric,
				Quantity: int64(t.Counts.Queries), OccurredAt: at, IdempotencyKey: "dns:" + m.Node + ":" + from.Format(time.DateOnly)})
			switch {
			case err == nil && replayed:
				res.Replayed++
			case err == nil:
				res.Recorded++
			case apperr.Is(err, apperr.Conflict), apperr.Is(err, apperr.Invalid):
				// The month's statement is issued, or the day was reported
				// with another count: leave the record as it stands.
				res.Skipped++
				m.Logger.Warn("dns metering: usage not recorded", "subscription", sub.ID, "day", from.Format(time.DateOnly), "err", err)
			default:
				return res, err
			}
		}
	}
	return res, nil
}

// Run makes a pass shortly after start and then every hour until ctx ends.
func (m *DNSMeter) Run(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := m.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			m.Logger.Warn("dns metering", "err", err)
		} else if res.Recorded > 0 {
			m.Logger.Info("dns metering: usage recorded", "records", res.Recorded)
		}
		t.Reset(time.Hour)
	}
}

// dnsMeter returns the meter of this process's resolver node, nil without
// one.
func (a *App) dnsMeter() *DNSMeter {
	if a.DNS == nil || a.DNS.Node == nil || a.DNS.QueryLog == nil {
		return nil
	}
	return &DNSMeter{Market: a.Market, Log: a.DNS, Node: a.DNS.Node.ID(), Days: 7, Settle: 15 * time.Minute, Now: time.Now, Logger: a.Log}
}
