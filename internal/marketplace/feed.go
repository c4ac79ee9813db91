package marketplace

import (
	"context"
	"fmt"
	"time"

	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// Feed is the public, machine-readable catalog: every listed offering with
// its listed tiers, SLAs, prices and conformance, and the published
// standards. It contains nothing about agencies beyond counts.
type Feed struct {
	Version     int            `json:"version" doc:"feed format version"`
	GeneratedAt time.Time      `json:"generated_at"`
	Office      string         `json:"office"`
	Areas       []FeedArea     `json:"service_areas"`
	Standards   []FeedStandard `json:"standards"`
	Offerings   []FeedOffering `json:"offerings"`
}

// FeedArea is a service area in the feed.
type FeedArea struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	CSFFunctions   []string `json:"csf_functions"`
	OfficeOperated bool     `json:"office_operated"`
}

// FeedStandard is a published standard in the feed.
type FeedStandard struct {
	ID           string    `json:"id"`
	ServiceArea  string    `json:"service_area"`
	Version      int       `json:"version"`
	Title        string    `json:"title"`
	URL          string    `json:"url"`
	PublishedAt  time.Time `json:"published_at"`
	Requirements int       `json:"requirements"`
	Mandatory    int       `json:"mandatory"`
}

// FeedOffering is a listed offering in the feed.
type FeedOffering struct {
	ID              string     `json:"id"`
	URL             string     `json:"url"`
	Name            string     `json:"name"`
	Summary         string     `json:"summary"`
	ServiceArea     string     `json:"service_area"`
	Provider        string     `json:"provider"`
	ProviderType    string     `json:"provider_type" doc:"office, federal_ssp or commercial"`
	ContractVehicle string     `json:"contract_vehicle,omitempty"`
	PricingModel    string     `json:"pricing_model" doc:"flat, per_unit or tiered"`
	AgenciesUsing   int        `json:"agencies_using"`
	ListedAt        time.Time  `json:"listed_at"`
	Tiers           []FeedTier `json:"tiers"`
}

// FeedTier is a listed tier in the feed.
type FeedTier struct {
	Tier            string      `json:"tier"`
	AvailabilityPct string      `json:"availability_percent"`
	ResponseMinutes int         `json:"critical_response_minutes"`
	SupportHours    string      `json:"support_hours"`
	MonthlyCents    int64       `json:"monthly_cents"`
	Prices          []FeedPrice `json:"prices"`
	MandatoryMet    int         `json:"mandatory_requirements_met"`
	MandatoryTotal  int         `json:"mandatory_requirements"`
}

// FeedPrice is one price line in the feed.
type FeedPrice struct {
	Kind           string `json:"kind" doc:"recurring, one_time or usage"`
	Unit           string `json:"unit"`
	Per            string `json:"per"`
	Description    string `json:"description,omitempty"`
	Quantity       int64  `json:"quantity"`
	FromUnits      int64  `json:"from_units,omitempty"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// CatalogFeed builds the public feed. It needs no principal: it holds
// only what the storefront shows any signed-in person about listed
// offerings.
func (s *Service) CatalogFeed(ctx context.Context, officeName string) (Feed, error) {
	f := Feed{Version: 1, GeneratedAt: s.now(), Office: officeName, Areas: []FeedArea{}, Standards: []FeedStandard{}, Offerings: []FeedOffering{}}
	areas, err := s.Areas(ctx)
	if err != nil {
		return f, err
	}
	for _, a := range areas {
		f.Areas = append(f.Areas, FeedArea{ID: a.ID, Name: a.Name, CSFFunctions: a.CSF, OfficeOperated: a.OfficeOperated})
	}
	stds := map[string]Standard{}
	for _, a := range areas {
		st, ok, err := currentStandard(ctx, s.DB, a.ID)
		if err != nil {
			return f, err
		}
		if ok {
			stds[a.ID] = st
			f.Standards = append(f.Standards, FeedStandard{ID: st.ID, ServiceArea: a.ID, Version: st.Version, Title: st.Title, URL: StandardURL(st.ID),
				PublishedAt: st.PublishedAt, Requirements: len(st.Requirements), Mandatory: st.Mandatory()})
		}
	}
	offs, err := s.offeringsWhere(ctx, "o.status = 'listed'", nil, "a.sort_order, o.name, o.id")
	if err != nil {
		return f, err
	}
	ids := make([]string, len(offs))
	for i, o := range offs {
		ids[i] = o.ID
	}
	answers, err := loadAnswers(ctx, s.DB, ids)
	if err != nil {
		return f, err
	}
	for _, o := range offs {
		fo := FeedOffering{ID: o.ID, URL: OfferingURL(o.ID), Name: o.Name, Summary: o.Summary, ServiceArea: o.AreaID, Provider: o.ProviderName,
			ProviderType: string(o.ProviderType), ContractVehicle: o.ContractVehicle, PricingModel: string(o.PricingModel), AgenciesUsing: o.AgenciesUsing,
			ListedAt: o.ListedAt, Tiers: []FeedTier{}}
		st := stds[o.AreaID]
		ev := evaluate(st.Requirements, answers[o.ID], offeringTiers(o))
		for _, t := range o.ListedTiers() {
			ft := FeedTier{Tier: string(t.Tier), AvailabilityPct: fmt.Sprintf("%d.%02d", t.AvailabilityBP/100, t.AvailabilityBP%100), ResponseMinutes: t.ResponseMinutes,
				SupportHours: t.SupportHours, MonthlyCents: t.Monthly(), Prices: []FeedPrice{}, MandatoryMet: ev[t.Tier].Satisfied, MandatoryTotal: ev[t.Tier].Mandatory}
			for _, l := range t.Prices {
				ft.Prices = append(ft.Prices, FeedPrice{Kind: string(l.Kind), Unit: l.Unit, Per: money.Units[l.Unit].Per, Description: l.Description,
					Quantity: l.Quantity, FromUnits: l.FromUnits, UnitPriceCents: l.UnitPrice})
			}
			fo.Tiers = append(fo.Tiers, ft)
		}
		f.Offerings = append(f.Offerings, fo)
	}
	return f, nil
}
