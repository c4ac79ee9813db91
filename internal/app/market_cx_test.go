package app_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/app/apptest"
	"github.com/qsmo/qsmo/internal/cx"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/marketplace"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
)

// TestMarketplaceAndCXAreConnected: an order sends the procurement survey
// about the offering (named from the marketplace's catalog, the office as
// no provider), enough trust answers put the offering's score on its
// storefront card and in comparisons, and the delivery survey walks the
// marketplace's active subscriptions.
func TestMarketplaceAndCXAreConnected(t *testing.T) {
	e := apptest.New(t)
	ctx, d := e.Ctx, e.App.DB

	// Listed office-operated and provider offerings at the foundational
	// tier that none of these agencies has ordered.
	agencies := []string{"labor", "education", "sba"}
	pick := func(providerType string) string {
		var id string
		err := d.QueryRowContext(ctx, `SELECT o.id FROM market_offerings o JOIN market_offering_tiers t ON t.offering_id = o.id
			WHERE o.status = 'listed' AND o.provider_type = ? AND t.tier = 'foundational' AND t.listed
			AND NOT EXISTS (SELECT 1 FROM market_orders r WHERE r.offering_id = o.id AND r.agency_org_id IN (?, ?, ?))
			ORDER BY o.id LIMIT 1`, providerType, e.World.Agencies["labor"].ID, e.World.Agencies["education"].ID, e.World.Agencies["sba"].ID).Scan(&id)
		if err != nil {
			t.Fatalf("no listed %s offering to order: %v", providerType, err)
		}
		return id
	}
	office, provider := pick("office"), pick("federal_ssp")

	var orders []string
	for _, slug := range agencies {
		o, err := e.App.Market.RequestOrder(ctx, e.SignInPrincipal("buyer@"+slug+".example.gov"), marketplace.OrderInput{
			AgencyOrgID: e.World.Agencies[slug].ID, OfferingID: office, Tier: maturity.Foundational, Quantity: 1,
			Needs: "Cover the department's networks with the office's service."})
		if err != nil {
			t.Fatalf("%s orders: %v", slug, err)
		}
		orders = append(orders, o.ID)
	}
	po, err := e.App.Market.RequestOrder(ctx, e.SignInPrincipal("buyer@labor.example.gov"), marketplace.OrderInput{
		AgencyOrgID: e.World.Agencies["labor"].ID, OfferingID: provider, Tier: maturity.Foundational, Quantity: 1,
		Needs: "A second service from a shared service provider."})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("an order sends the procurement survey about the offering", func(t *testing.T) {
		off, err := e.App.Market.GetOffering(ctx, e.SignInPrincipal("admin@office.example.gov"), office)
		if err != nil {
			t.Fatal(err)
		}
		var stage, area, service, offering, offeringName string
		var prov sql.NullString
		err = d.QueryRowContext(ctx, `SELECT stage, service_area, service_name, offering_id, offering_name, provider_id FROM cx_surveys WHERE order_id = ?`, orders[0]).
			Scan(&stage, &area, &service, &offering, &offeringName, &prov)
		if err != nil {
			t.Fatalf("no survey for the order: %v", err)
		}
		if stage != "procurement" || area != off.AreaID || service != off.AreaName || offering != office || offeringName != off.Name || prov.Valid {
			t.Errorf("survey %s %s %q %s %q provider %v; want procurement %s %q %s %q and no provider (the office operates it)",
				stage, area, service, offering, offeringName, prov, off.AreaID, off.AreaName, office, off.Name)
		}
		pOff, err := e.App.Market.GetOffering(ctx, e.SignInPrincipal("admin@office.example.gov"), provider)
		if err != nil {
			t.Fatal(err)
		}
		err = d.QueryRowContext(ctx, "SELECT provider_id FROM cx_surveys WHERE order_id = ?", po.ID).Scan(&prov)
		if err != nil || !prov.Valid || prov.String != pOff.ProviderOrgID {
			t.Errorf("provider offering's survey: provider %v (%v), want %s", prov, err, pOff.ProviderOrgID)
		}
	})

	t.Run("trust answers show on the card and in comparisons once there are enough", func(t *testing.T) {
		buyer := e.SignInPrincipal("buyer@labor.example.gov")
		res, err := e.App.Market.Search(ctx, buyer, marketplace.Query{Text: strings.Fields(mustName(t, e, office))[0], PerPage: 48})
		if err != nil {
			t.Fatal(err)
		}
		if res.CXOf(office) != nil {
			t.Fatalf("a score before anyone answered: %+v", res.CXOf(office))
		}
		answered := 0
		for _, slug := range agencies {
			for _, local := range []string{"buyer", "approver"} {
				p := e.SignInPrincipal(local + "@" + slug + ".example.gov")
				invs, err := e.App.CX.MyInvitations(ctx, p, cx.InvitationFilter{})
				if err != nil {
					t.Fatal(err)
				}
				for _, inv := range invs {
					if inv.Survey.OfferingID != office || inv.Survey.Stage != cx.StageProcurement {
						continue
					}
					trust := "up"
					if answered == 0 {
						trust = "down"
					}
					if _, err := e.App.CX.RespondAsUser(ctx, p, inv.ID, a11.Raw{Trust: trust}); err != nil {
						t.Fatalf("%s answers: %v", p.Email, err)
					}
					answered++
				}
			}
		}
		if answered < cx.MinPublicResponses {
			t.Fatalf("only %d invitations answered", answered)
		}
		res, err = e.App.Market.Search(ctx, buyer, marketplace.Query{Text: strings.Fields(mustName(t, e, office))[0], PerPage: 48})
		if err != nil {
			t.Fatal(err)
		}
		want := (200*(answered-1) + answered) / (2 * answered)
		if c := res.CXOf(office); c == nil || c.TrustPercent != want || c.Responses != answered {
			t.Errorf("card score %+v, want %d%% of %d", c, want, answered)
		}
		cmp, err := e.App.Market.Compare(ctx, buyer, []string{office, provider})
		if err != nil {
			t.Fatal(err)
		}
		if cmp.Offerings[0].CX == nil || cmp.Offerings[1].CX != nil {
			t.Errorf("comparison scores %+v / %+v", cmp.Offerings[0].CX, cmp.Offerings[1].CX)
		}
		page := apptest.Body(e.SignIn("buyer@labor.example.gov").Get("/marketplace/compare?o=" + office + "&o=" + provider))
		if !strings.Contains(page, fmt.Sprintf("%d%% trust", want)) || !strings.Contains(page, "No ratings yet") {
			t.Error("the comparison page does not show the trust score of one and no ratings for the other")
		}
	})

	t.Run("the delivery survey walks active subscriptions", func(t *testing.T) {
		var active int
		if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM market_subscriptions WHERE status = 'active'").Scan(&active); err != nil {
			t.Fatal(err)
		}
		trig := &cx.DeliveryTrigger{S: e.App.CX, Lister: e.App.MarketSubscriptions(), MinActive: time.Nanosecond, PageSize: 3, Log: e.App.Log}
		sent, err := trig.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var surveys int
		if err := d.QueryRowContext(ctx, "SELECT COUNT(DISTINCT subscription_id) FROM cx_surveys WHERE stage = 'delivery' AND subscription_id LIKE 'sub_%'").Scan(&surveys); err != nil {
			t.Fatal(err)
		}
		if active == 0 || surveys != active {
			t.Errorf("%d delivery surveys (this pass sent %d) for %d active subscriptions", surveys, sent, active)
		}
	})
}

func mustName(t *testing.T, e *apptest.Env, offeringID string) string {
	t.Helper()
	name, err := marketplace.OfferingName(e.Ctx, e.App.DB, offeringID)
	if err != nil || name == "" {
		t.Fatalf("offering name: %q %v", name, err)
	}
	return name
}
