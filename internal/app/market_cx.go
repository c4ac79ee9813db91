package app

import (
	"context"
	"time"

	"github.com/qsmo/qsmo/internal/cx"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/marketplace"
)

// connectMarketCX plugs the customer-experience area into the marketplace
// and back: lifecycle stages send surveys, the catalog names services and
// offerings in them, trust scores show on storefront cards and
// comparisons, and the quarterly delivery survey walks the active
// subscriptions. Neither package imports the other; these adapters are the
// only place they meet.
func (a *App) connectMarketCX() {
	a.Market.Hook = marketStages{market: a.Market, cx: a.CX}
	a.Market.CX = trustScores{cx: a.CX}
	a.CX.Catalog = marketCatalog{market: a.Market}
	a.AddDeliverySurveys(a.MarketSubscriptions())
}

// MarketSubscriptions lists the marketplace's active subscriptions for
// cx's quarterly delivery survey.
func (a *App) MarketSubscriptions() cx.SubscriptionLister {
	return activeSubscriptions{market: a.Market}
}

// marketStages forwards the needs, procurement and execution stages to
// cx.Service.Stage in the marketplace's transaction. The delivery stage is
// timed by cx.DeliveryTrigger over activeSubscriptions (once a calendar
// quarter, after 30 days active), so the marketplace's own quarterly
// delivery events are not forwarded: one trigger, not two.
type marketStages struct {
	market *marketplace.Service
	cx     *cx.Service
}

func (h marketStages) Stage(ctx context.Context, tx *db.Tx, ev marketplace.LifecycleEvent) error {
	if ev.Stage == marketplace.StageDelivery {
		return nil
	}
	provider, err := h.providerOf(ctx, ev.ProviderID)
	if err != nil {
		return err
	}
	return h.cx.Stage(ctx, tx, cx.StageEvent{Stage: cx.Stage(ev.Stage), AgencyID: ev.AgencyID, OfferingID: ev.OfferingID,
		ProviderID: provider, ServiceArea: ev.ServiceArea, OrderID: ev.OrderID, SubscriptionID: ev.SubscriptionID})
}

// providerOf maps the marketplace's provider (the office for the services it
// operates) to cx's ("" for the office).
func (h marketStages) providerOf(ctx context.Context, providerID string) (string, error) {
	if providerID == "" {
		return "", nil
	}
	office, err := h.market.OfficeID(ctx)
	if err != nil {
		return "", err
	}
	if providerID == office {
		return "", nil
	}
	return providerID, nil
}

// trustScores answers the storefront's CX scores from cx's tallies,
// leaving out offerings whose trust question has fewer than
// cx.MinPublicResponses answers (shown as "no ratings yet").
type trustScores struct{ cx *cx.Service }

func (t trustScores) TrustByOffering(ctx context.Context, offeringIDs []string) (map[string]marketplace.CXScore, error) {
	tallies, err := t.cx.OfferingTrust(ctx, offeringIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]marketplace.CXScore, len(tallies))
	for id, tl := range tallies {
		trust := tl.Trust()
		if trust.Whole < cx.MinPublicResponses {
			continue
		}
		out[id] = marketplace.CXScore{TrustPercent: trust.Percent(), Responses: trust.Whole}
	}
	return out, nil
}

// marketCatalog names service areas and offerings for cx from the
// marketplace's catalog.
type marketCatalog struct{ market *marketplace.Service }

func (c marketCatalog) ServiceAreas(ctx context.Context) ([]cx.ServiceArea, error) {
	areas, err := c.market.Areas(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cx.ServiceArea, len(areas))
	for i, a := range areas {
		out[i] = cx.ServiceArea{Key: a.ID, Name: a.Name}
	}
	return out, nil
}

func (c marketCatalog) OfferingName(ctx context.Context, q db.Queryer, offeringID string) (string, error) {
	return marketplace.OfferingName(ctx, q, offeringID)
}

// activeSubscriptions lists the marketplace's active subscriptions for the
// delivery survey.
type activeSubscriptions struct{ market *marketplace.Service }

func (l activeSubscriptions) ActiveSubscriptions(ctx context.Context, asOf time.Time, after string, limit int) ([]cx.Subscription, error) {
	subs, err := l.market.ActiveSubscriptions(ctx, asOf, after, limit)
	if err != nil {
		return nil, err
	}
	office, err := l.market.OfficeID(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cx.Subscription, len(subs))
	for i, s := range subs {
		provider := s.ProviderID
		if provider == office {
			provider = ""
		}
		out[i] = cx.Subscription{ID: s.ID, AgencyID: s.AgencyID, OfferingID: s.OfferingID, ProviderID: provider,
			ServiceArea: s.ServiceArea, ActiveSince: s.ActiveSince}
	}
	return out, nil
}
