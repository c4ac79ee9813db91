package app_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/app"
	"github.com/qsmo/qsmo/internal/app/apptest"
	"github.com/qsmo/qsmo/internal/marketplace"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// TestOrderingProtectiveDNS: an agency that orders the office's Protective
// DNS offering gets its resolver policy when the subscription starts, and
// loses it when the subscription ends.
func TestOrderingProtectiveDNS(t *testing.T) {
	e := apptest.New(t)
	ctx, m := e.Ctx, e.App.Market
	agency := e.World.Agencies["education"]
	office := e.SignInPrincipal("admin@office.example.gov")
	if _, err := e.App.DNS.GetPolicy(ctx, office, agency.ID); err == nil {
		t.Fatal("the agency has a DNS policy before ordering")
	}
	var offering string
	if err := e.App.DB.QueryRowContext(ctx, "SELECT id FROM market_offerings WHERE service_area_id = 'protective-dns' AND provider_type = 'office' AND status = 'listed'").Scan(&offering); err != nil {
		t.Fatal(err)
	}
	buyer, approver := e.SignInPrincipal("buyer@education.example.gov"), e.SignInPrincipal("approver@education.example.gov")
	o, err := m.RequestOrder(ctx, buyer, marketplace.OrderInput{AgencyOrgID: agency.ID, OfferingID: offering, Tier: maturity.Foundational, Quantity: 1,
		Needs: "Protect the department's resolvers."})
	must(t, err)
	_, err = m.ApproveOrder(ctx, office, o.ID, "")
	must(t, err)
	o, err = m.GetOrder(ctx, office, o.ID)
	must(t, err)
	lines, err := m.SuggestedQuote(ctx, office, o)
	must(t, err)
	_, err = m.SubmitQuote(ctx, office, o.ID, marketplace.QuoteInput{Lines: lines})
	must(t, err)
	_, err = m.AcceptQuote(ctx, approver, o.ID, marketplace.FundingInput{TAS: "091-X-0800", ObjectClass: "25.3", Obligated: 5_000_000})
	must(t, err)
	_, err = m.SendAgreement(ctx, office, o.ID)
	must(t, err)
	_, err = m.SignAgreement(ctx, approver, o.ID, marketplace.SignInput{Title: "CIO", Tracking: "ED-77"})
	must(t, err)
	o, err = m.SignAgreement(ctx, office, o.ID, marketplace.SignInput{Title: "Director", Tracking: "QSMO-77"})
	must(t, err)
	if o.State != "active" || o.SubscriptionID == "" {
		t.Fatalf("after both signatures: %s %q", o.State, o.ProvisionError)
	}
	pol, err := e.App.DNS.GetPolicy(ctx, office, agency.ID)
	if err != nil {
		t.Fatalf("no DNS policy after the subscription started: %v", err)
	}
	if len(pol.Categories) == 0 || pol.DoHToken == "" {
		t.Errorf("policy %+v: want the default categories and a DoH token", pol)
	}
	_, err = m.CancelSubscription(ctx, approver, o.SubscriptionID, "Moving to another resolver.")
	must(t, err)
	if _, err := e.App.DNS.GetPolicy(ctx, office, agency.ID); err == nil {
		t.Error("the DNS policy outlived the subscription")
	}
}

// TestDNSUsageMetering: each finished day's queries of an agency are
// recorded once as usage on its Protective DNS subscription and show on
// its statement; queries of agencies without a priced subscription are
// not charged.
func TestDNSUsageMetering(t *testing.T) {
	e := apptest.New(t)
	ctx := e.Ctx
	log := e.App.DNS.QueryLog
	if log == nil {
		t.Fatal("no query log in the test app")
	}
	energy, ssa := e.World.Agencies["energy"], e.World.Agencies["ssa"]
	subs, err := e.App.Market.MeteredSubscriptions(ctx, "protective-dns", "dns_queries", time.Now().AddDate(0, 0, -1), time.Now())
	must(t, err)
	sub, ok := subs[energy.ID]
	if !ok {
		t.Fatalf("energy has no metered Protective DNS subscription: %v", subs)
	}
	if _, ok := subs[ssa.ID]; ok {
		t.Fatal("ssa has a Protective DNS subscription in the demo data")
	}
	// Five queries from energy and two from ssa, two days ago (UTC); the
	// demo history is only hours old.
	now := time.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -2)
	var recs []querylog.Record
	for i, tenant := range []string{energy.ID, energy.ID, energy.ID, energy.ID, energy.ID, ssa.ID, ssa.ID} {
		r := querylog.Record{Time: day.Add(time.Duration(9+i) * time.Hour).UnixNano(), Tenant: tenant, Client: netip.MustParseAddr("10.0.0.9"),
			Transport: querylog.UDP, QType: 1, QClass: 1, Action: querylog.Allowed, Latency: 300}
		r.SetQName([]byte("www.example.gov."))
		recs = append(recs, r)
	}
	must(t, log.WriteBatch(recs))

	usage := func() (n int, qty int64) {
		t.Helper()
		must(t, e.App.DB.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(quantity), 0) FROM market_usage WHERE subscription_id = ? AND idempotency_key LIKE 'dns:%'", sub.ID).Scan(&n, &qty))
		return n, qty
	}
	meter := &app.DNSMeter{Market: e.App.Market, Log: e.App.DNS, Node: e.App.DNS.Node.ID(), Days: 3, Settle: 15 * time.Minute,
		Now: func() time.Time { return now }, Logger: e.App.Log}
	res, err := meter.Pass(ctx)
	must(t, err)
	if n, qty := usage(); n != 1 || qty != 5 || res.Recorded != 1 {
		t.Fatalf("after a pass: %d records for %d queries (%+v), want 1 for 5", n, qty, res)
	}
	var other int
	must(t, e.App.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM market_usage u JOIN market_subscriptions s ON s.id = u.subscription_id WHERE s.agency_org_id = ? AND u.idempotency_key LIKE 'dns:%'", ssa.ID).Scan(&other))
	if other != 0 {
		t.Errorf("%d usage records for an agency without a subscription", other)
	}
	// A second pass (a restart, the next hour) counts nothing twice.
	res, err = meter.Pass(ctx)
	must(t, err)
	if n, qty := usage(); n != 1 || qty != 5 || res.Recorded != 0 || res.Replayed != 1 {
		t.Errorf("after a second pass: %d records for %d queries (%+v)", n, qty, res)
	}
	// The audit log tells who recorded it.
	var by string
	must(t, e.App.DB.QueryRowContext(ctx, "SELECT recorded_by FROM market_usage WHERE subscription_id = ? AND idempotency_key LIKE 'dns:%'", sub.ID).Scan(&by))
	if by != "metering" {
		t.Errorf("recorded by %q", by)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
