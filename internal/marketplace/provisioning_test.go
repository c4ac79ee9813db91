package marketplace_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/marketplace"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// resolverPolicies stands for a built-in service: it records, in the same
// transaction, the policy it would create for the agency.
type resolverPolicies struct {
	fail    error
	created []string
	removed []string
}

func (r *resolverPolicies) Provision(ctx context.Context, tx *db.Tx, sub marketplace.Subscription) error {
	if r.fail != nil {
		return r.fail
	}
	// A write in the activating transaction, to prove it commits with it.
	if _, err := tx.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?)", "test-policy-"+sub.ID, sub.AgencyOrgID); err != nil {
		return err
	}
	r.created = append(r.created, sub.AgencyOrgID)
	return nil
}

func (r *resolverPolicies) Deprovision(ctx context.Context, tx *db.Tx, sub marketplace.Subscription) error {
	r.removed = append(r.removed, sub.AgencyOrgID)
	_, err := tx.ExecContext(ctx, "DELETE FROM settings WHERE key = ?", "test-policy-"+sub.ID)
	return err
}

// officePDNS lists an office-operated Protective DNS offering.
func (w *world) officePDNS() marketplace.Offering {
	w.t.Helper()
	w.publishStandard("protective-dns", []marketplace.RequirementInput{
		{Code: "PDNS-01", Text: "Blocks domains on the office's feeds within 15 minutes.", Mandatory: true, Tiers: maturity.Tiers()}})
	admin := w.p("office/admin")
	o, err := w.svc.CreateOffering(w.ctx, admin, marketplace.OfferingInput{ProviderOrgID: w.office.ID, AreaID: "protective-dns", Name: "Protective DNS",
		Summary: "The office's protective resolver.", ProviderType: marketplace.OfficeOperated, OnboardingDays: 3,
		Tiers: []marketplace.TierInput{{Tier: maturity.Foundational, AvailabilityBP: 9990, ResponseMinutes: 60, SupportHours: "24x7"}}})
	w.must(err)
	_, err = w.svc.SetPrices(w.ctx, admin, o.ID, maturity.Foundational, []money.Line{{Kind: money.Usage, Unit: "dns_queries", UnitPrice: 85}})
	w.must(err)
	w.answerAll(o, admin, true)
	_, err = w.svc.OfferingAction(w.ctx, admin, o.ID, lifecycle.SubmitOffering, "", nil)
	w.must(err)
	o, err = w.svc.OfferingAction(w.ctx, w.p("office/analyst"), o.ID, lifecycle.ListOffering, "", nil)
	w.must(err)
	return o
}

func (w *world) pdnsOrderToSigning(off marketplace.Offering) marketplace.Order {
	w.t.Helper()
	o, err := w.svc.RequestOrder(w.ctx, w.p("energy/buyer"), marketplace.OrderInput{AgencyOrgID: w.orgs["energy"].ID, OfferingID: off.ID, Tier: maturity.Foundational, Quantity: 1, Needs: "All sites' resolvers."})
	w.must(err)
	w.must2(w.svc.ApproveOrder(w.ctx, w.p("office/analyst"), o.ID, ""))
	lines, _ := w.svc.SuggestedQuote(w.ctx, w.p("office/analyst"), o)
	w.must2(w.svc.SubmitQuote(w.ctx, w.p("office/analyst"), o.ID, marketplace.QuoteInput{Lines: lines}))
	w.must2(w.svc.AcceptQuote(w.ctx, w.p("energy/approver"), o.ID, funding))
	w.must2(w.svc.SendAgreement(w.ctx, w.p("office/admin"), o.ID))
	w.must2(w.svc.SignAgreement(w.ctx, w.p("energy/approver"), o.ID, marketplace.SignInput{Title: "CIO", Tracking: "DOE-1"}))
	return o
}

func TestAutomaticProvisioning(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		off := w.officePDNS()
		prov := &resolverPolicies{fail: errors.New("resolver policy store unavailable")}
		w.svc.RegisterProvisioner("protective-dns", prov)
		o := w.pdnsOrderToSigning(off)
		// The office signs last: provisioning starts and the provisioner
		// fails; the order waits with the error and the checklist.
		o, err := w.svc.SignAgreement(w.ctx, w.p("office/admin"), o.ID, marketplace.SignInput{Title: "Director", Tracking: "QSMO-9"})
		w.must(err)
		if o.State != lifecycle.Provisioning || !strings.Contains(o.ProvisionError, "unavailable") {
			t.Fatalf("after a failed provisioning: %s %q", o.State, o.ProvisionError)
		}
		var n int
		w.must(d.QueryRowContext(w.ctx, "SELECT COUNT(*) FROM market_subscriptions WHERE order_id = ?", o.ID).Scan(&n))
		if n != 0 {
			t.Fatal("a failed provisioning left a subscription behind")
		}
		_, err = w.svc.RetryProvisioning(w.ctx, w.p("energy/approver"), o.ID)
		code(t, err, apperr.Forbidden)
		prov.fail = nil
		o, err = w.svc.RetryProvisioning(w.ctx, w.p("office/analyst"), o.ID)
		w.must(err)
		if o.State != lifecycle.Active || o.ProvisionError != "" || len(prov.created) != 1 {
			t.Fatalf("after retry: %s %q %v", o.State, o.ProvisionError, prov.created)
		}
		var policy string
		w.must(d.QueryRowContext(w.ctx, "SELECT value FROM settings WHERE key = ?", "test-policy-"+o.SubscriptionID).Scan(&policy))
		if policy != w.orgs["energy"].ID {
			t.Error("the provisioner's write did not commit with the activation")
		}
		// The office provides the service itself: no engagement row.
		w.must(d.QueryRowContext(w.ctx, "SELECT COUNT(*) FROM engagements").Scan(&n))
		if n != 0 {
			t.Errorf("%d engagements for an office-operated service", n)
		}
		w.must2(w.svc.CancelSubscription(w.ctx, w.p("energy/approver"), o.SubscriptionID, "Moving to a commercial resolver."))
		if len(prov.removed) != 1 {
			t.Error("cancellation did not take the service down")
		}
		tl, _ := w.svc.Timeline(w.ctx, w.p("energy/viewer"), o.ID)
		var actions []string
		for _, e := range tl {
			actions = append(actions, e.Action)
		}
		if !strings.Contains(strings.Join(actions, ","), "provision_failed,auto_provision,cancel") {
			t.Errorf("timeline %v", actions)
		}
	})
}

func TestQuarterlyDeliveryStage(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		hook := &recordingHook{}
		w.svc.Hook = hook
		o := w.orderIn("energy", "northwind", lifecycle.Active)
		due, err := w.svc.DueDeliveries(w.ctx, *w.clock, 10)
		w.must(err)
		if len(due) != 0 {
			t.Fatalf("a new subscription is due already: %+v", due)
		}
		w.advance(marketplace.Quarter + time.Hour)
		due, err = w.svc.DueDeliveries(w.ctx, *w.clock, 10)
		w.must(err)
		if len(due) != 1 || due[0].SubscriptionID != o.SubscriptionID || due[0].Stage != marketplace.StageDelivery || due[0].UserID == "" {
			t.Fatalf("due %+v", due)
		}
		before := len(hook.events)
		n, err := w.svc.RunDeliveryStage(w.ctx, 10)
		w.must(err)
		if n != 1 || len(hook.events) != before+1 || hook.events[len(hook.events)-1].Stage != marketplace.StageDelivery {
			t.Fatalf("delivery stage sent %d, hook saw %v", n, hook.stages())
		}
		if n, _ := w.svc.RunDeliveryStage(w.ctx, 10); n != 0 {
			t.Error("the same quarter was sent twice")
		}
		w.advance(marketplace.Quarter)
		if n, _ := w.svc.RunDeliveryStage(w.ctx, 10); n != 1 {
			t.Error("the next quarter was not sent")
		}
		// A hook failure rolls the stage back so it is retried.
		w.advance(marketplace.Quarter)
		w.svc.Hook = failingHook{}
		if _, err := w.svc.RunDeliveryStage(w.ctx, 10); err == nil {
			t.Fatal("hook failure not reported")
		}
		w.svc.Hook = hook
		if n, _ := w.svc.RunDeliveryStage(w.ctx, 10); n != 1 {
			t.Error("the failed stage was not retried")
		}
	})
}

type failingHook struct{}

func (failingHook) Stage(context.Context, *db.Tx, marketplace.LifecycleEvent) error {
	return errors.New("survey store down")
}

func TestHookFailureAbortsTheStep(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		off := w.listed("northwind")
		w.svc.Hook = failingHook{}
		_, err := w.svc.RequestOrder(w.ctx, w.p("energy/buyer"), marketplace.OrderInput{AgencyOrgID: w.orgs["energy"].ID, OfferingID: off.ID, Tier: maturity.Foundational, Quantity: 1, Needs: "Monitoring for our networks."})
		if err == nil {
			t.Fatal("the request went through although the hook failed")
		}
		orders, _, _ := w.svc.ListOrders(w.ctx, w.p("energy/buyer"), marketplace.OrderFilter{})
		if len(orders) != 0 {
			t.Errorf("%d orders after a failed request", len(orders))
		}
	})
}

func TestOfficeDashboardFigures(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		w.orderIn("energy", "northwind", lifecycle.Active)
		w.orderIn("treasury", "bluewater", lifecycle.Active)
		late := w.orderIn("energy", "bluewater", lifecycle.Requested)
		w.advance(5 * 24 * time.Hour)
		w.must2(w.svc.ApproveOrder(w.ctx, w.p("office/admin"), late.ID, ""))
		w.orderIn("treasury", "northwind", lifecycle.Quoted)
		_, err := w.svc.OfficeDashboard(w.ctx, w.p("energy/admin"))
		code(t, err, apperr.Forbidden)
		dash, err := w.svc.OfficeDashboard(w.ctx, w.p("office/analyst"))
		w.must(err)
		if dash.ActiveSubs != 2 || dash.Agencies != 2 || dash.OpenOrders != 2 {
			t.Errorf("active %d agencies %d open %d", dash.ActiveSubs, dash.Agencies, dash.OpenOrders)
		}
		var review marketplace.StepSLA
		for _, s := range dash.SLA {
			if s.State == lifecycle.Requested {
				review = s
			}
		}
		if review.Total != 4 || review.OnTime != 3 {
			t.Errorf("office review SLA %+v: want 3 of 4 on time", review)
		}
		var soc marketplace.AreaConformance
		for _, c := range dash.Conformance {
			if c.AreaID == "soc" {
				soc = c
			}
		}
		if soc.Listed != 4 || soc.Conformant != 4 || soc.Standard != 1 {
			t.Errorf("conformance %+v", soc)
		}
		if len(dash.OnboardByArea) != 1 || dash.OnboardByArea[0].N != 2 {
			t.Errorf("onboarding %+v", dash.OnboardByArea)
		}
	})
}

// TestOfficeDashboardCache: within the TTL viewers share one computation;
// after it, the next viewer recomputes while concurrent viewers are served
// the previous figures, and nobody gets an error.
func TestOfficeDashboardCache(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		w.svc.DashboardTTL = time.Hour
		w.orderIn("energy", "northwind", lifecycle.Requested)
		office := w.p("office/analyst")
		first, err := w.svc.OfficeDashboard(w.ctx, office)
		w.must(err)
		w.orderIn("treasury", "bluewater", lifecycle.Requested)
		cached, err := w.svc.OfficeDashboard(w.ctx, office)
		w.must(err)
		if first.OpenOrders != 1 || cached.OpenOrders != 1 {
			t.Errorf("within the TTL: %d then %d open orders, want the cached 1", first.OpenOrders, cached.OpenOrders)
		}
		w.svc.DashboardTTL = 0 // every view finds the figures stale
		w.svc.InvalidateDashboard()
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				d, err := w.svc.OfficeDashboard(w.ctx, office)
				if err == nil && d.OpenOrders != 2 {
					err = errors.New("stale figures after invalidation")
				}
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		w.orderIn("energy", "bluewater", lifecycle.Requested)
		fresh, err := w.svc.OfficeDashboard(w.ctx, office)
		w.must(err)
		if fresh.OpenOrders != 3 {
			t.Errorf("after the TTL: %d open orders, want 3", fresh.OpenOrders)
		}
	})
}
