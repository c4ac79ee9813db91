package marketplace

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sync"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/money"
	"github.com/qsmo/qsmo/internal/web"
	"github.com/qsmo/qsmo/internal/web/chart"
)

// dashboard sends people to the dashboard of the organization they work
// in.
func (h *Handlers) dashboard(w http.ResponseWriter, r *http.Request) error {
	switch activeOrg(principal(r)).OrgKind {
	case authz.Office:
		http.Redirect(w, r, "/marketplace/dashboard/office", http.StatusSeeOther)
	case authz.Agency:
		http.Redirect(w, r, "/marketplace/dashboard/agency", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/marketplace/provider", http.StatusSeeOther)
	}
	return nil
}

// officeDashData is the office dashboard's view with its charts drawn.
type officeDashData struct {
	D                                                       OfficeDash
	Adoption, ByAgency, Onboard, OnboardMon, SLA, Avoidance template.HTML
}

// officeView keeps the last drawn office dashboard: the figures are cached
// by the service (see dashCache), so their charts are drawn once per
// computation rather than for every viewer.
type officeView struct {
	mu          sync.Mutex
	computation uint64
	data        *officeDashData
}

func (v *officeView) get(d OfficeDash) officeDashData {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.data == nil || v.computation != d.computation {
		c := officeCharts(d)
		v.data = &officeDashData{D: d, Adoption: c.Adoption.BarFigure(), ByAgency: c.ByAgency.BarFigure(), Onboard: c.Onboard.BarFigure(),
			OnboardMon: c.OnboardMon.LineFigure(), SLA: c.SLA.BarFigure(), Avoidance: c.Avoidance.BarFigure()}
		v.computation = d.computation
	}
	return *v.data
}

type officeChartSet struct {
	Adoption, ByAgency, Onboard, OnboardMon, SLA, Avoidance chart.Chart
}

func days(v float64) string { return fmt.Sprintf("%.1f days", v) }

func (h *Handlers) officeDashboard(w http.ResponseWriter, r *http.Request) error {
	d, err := h.S.OfficeDashboard(r.Context(), principal(r))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "dash_office", "Marketplace: office dashboard", h.office.get(d), nil)
	return nil
}

func officeCharts(d OfficeDash) officeChartSet {
	var out officeChartSet
	subs, ags := chart.Series{Name: "Active subscriptions"}, chart.Series{Name: "Agencies"}
	top, topN := "", 0
	for _, a := range d.AdoptionByArea {
		out.Adoption.Labels = append(out.Adoption.Labels, a.Label)
		subs.Values = append(subs.Values, float64(a.Count))
		ags.Values = append(ags.Values, float64(a.Extra))
		if a.Count > topN {
			top, topN = a.Label, a.Count
		}
	}
	out.Adoption = chart.Chart{ID: "adoption", Title: "Adoption by service area", Labels: out.Adoption.Labels, Series: []chart.Series{subs, ags}, Horizontal: true, Whole: true,
		Summary: fmt.Sprintf("%d active subscriptions across %d agencies; %s leads with %d.", d.ActiveSubs, d.Agencies, top, topN)}
	byAg := chart.Series{Name: "Active subscriptions"}
	var agLabels []string
	for _, a := range d.AdoptionByAgency {
		agLabels = append(agLabels, a.Label)
		byAg.Values = append(byAg.Values, float64(a.Count))
	}
	out.ByAgency = chart.Chart{ID: "by-agency", Title: "Agencies with the most subscriptions", Labels: agLabels, Series: []chart.Series{byAg}, Horizontal: true, Whole: true,
		Summary: fmt.Sprintf("The %d agencies with the most active subscriptions.", len(agLabels))}
	on := chart.Series{Name: "Median days from request to active"}
	var onLabels []string
	for _, m := range d.OnboardByArea {
		onLabels = append(onLabels, m.Label)
		on.Values = append(on.Values, m.Days)
	}
	out.Onboard = chart.Chart{ID: "onboard", Title: "Time to onboard by service area (last 12 months)", Labels: onLabels, Series: []chart.Series{on}, Horizontal: true, Format: days,
		Summary: "Median days from an agency's request to an active subscription, per service area."}
	mon := chart.Series{Name: "Median days"}
	var monLabels []string
	for _, m := range d.OnboardByMonth {
		monLabels = append(monLabels, m.Label)
		mon.Values = append(mon.Values, m.Days)
	}
	out.OnboardMon = chart.Chart{ID: "onboard-trend", Title: "Time to onboard by month of activation", Labels: monLabels, Series: []chart.Series{mon}, Format: days,
		Summary: "Median days from request to active subscription for the subscriptions activated each month."}
	sla := chart.Series{Name: "Steps finished on time"}
	var slaLabels []string
	for _, s := range d.SLA {
		slaLabels = append(slaLabels, s.Label)
		sla.Values = append(sla.Values, float64(s.Percent()))
	}
	out.SLA = chart.Chart{ID: "sla", Title: "SLA attainment by workflow step (last 90 days)", Labels: slaLabels, Series: []chart.Series{sla}, Horizontal: true,
		Format: func(v float64) string { return fmt.Sprintf("%.0f%%", v) }, Summary: "The share of each workflow step finished within its service level in the last 90 days."}
	out.Avoidance = avoidanceChart("avoidance", "Cost avoidance by service area (last 12 months)", d.Avoidance.ByArea, true)
	return out
}

type agencyDashData struct {
	D        AgencyDash
	Spend    chart.Chart
	CanOrder bool
}

func (h *Handlers) agencyDashboard(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	m, err := agencyOf(p)
	if err != nil {
		return err
	}
	d, err := h.S.AgencyDashboard(r.Context(), p, m.OrgID)
	if err != nil {
		return err
	}
	out := agencyDashData{D: d, CanOrder: m.Role.Has(authz.MarketOrderRequest)}
	s := chart.Series{Name: "Charges"}
	var labels []string
	var total int64
	for _, st := range d.Spend {
		labels = append(labels, st.ShortPeriod())
		s.Values = append(s.Values, float64(st.Total))
		total += st.Total
	}
	out.Spend = chart.Chart{ID: "spend", Title: "Monthly charges", Labels: labels, Series: []chart.Series{s}, Format: func(v float64) string { return money.Compact(int64(v)) },
		Summary: fmt.Sprintf("%s over the last %d statements.", money.Format(total), len(d.Spend))}
	h.render(w, r, http.StatusOK, "dash_agency", "Marketplace: "+d.AgencyName, out, nil)
	return nil
}

type providerDashData struct {
	D       ProviderDash
	Revenue chart.Chart
}

func (h *Handlers) providerDashboard(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	m := activeOrg(p)
	if m.OrgKind == authz.Agency {
		return notFound("Provider")
	}
	d, err := h.S.ProviderDashboard(r.Context(), p, m.OrgID)
	if err != nil {
		return err
	}
	out := providerDashData{D: d}
	s := chart.Series{Name: "Billed to agencies"}
	var labels []string
	for i, x := range d.Revenue {
		labels = append(labels, x.Label)
		s.Values = append(s.Values, float64(d.RevenueCents[i]))
	}
	out.Revenue = chart.Chart{ID: "revenue", Title: "Billed through the marketplace by month", Labels: labels, Series: []chart.Series{s},
		Format: func(v float64) string { return money.Compact(int64(v)) }, Summary: fmt.Sprintf("Charges on issued statements for %s's subscriptions.", d.ProviderName)}
	h.render(w, r, http.StatusOK, "dash_provider", "Marketplace: "+d.ProviderName, out, nil)
	return nil
}

// cards are the marketplace's tiles on the portal dashboard.
func (h *Handlers) cards(ctx context.Context, p *authz.Principal) ([]web.Card, error) {
	m := activeOrg(p)
	var out []web.Card
	switch m.OrgKind {
	case authz.Office:
		if !m.Role.Has(authz.MarketInsightsRead) {
			return nil, nil
		}
		d, err := h.S.OfficeDashboard(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out,
			web.Card{Title: "Requests to review", Stat: fmt.Sprint(d.InFlight[0].Count), Text: fmt.Sprintf("%d orders in progress, %d overdue.", d.OpenOrders, d.Overdue),
				Link: "/marketplace/orders?show=waiting", LinkText: "Review requests", Order: 20},
			web.Card{Title: "Marketplace adoption", Stat: fmt.Sprint(d.ActiveSubs), Text: fmt.Sprintf("Active subscriptions across %d agencies; %d offerings listed.", d.Agencies, d.Listed),
				Link: "/marketplace/dashboard/office", LinkText: "Open the office dashboard", Order: 21},
			web.Card{Title: "Reviews waiting", Stat: fmt.Sprint(d.InReview + d.PendingReviews), Text: fmt.Sprintf("%d offerings to list, %d conformance answers, %d go-it-alone requests.", d.InReview, d.PendingReviews, d.OpenExceptions),
				Link: "/marketplace/reviews", LinkText: "Open reviews", Order: 22},
		)
	case authz.Agency:
		if !m.Role.Has(authz.MarketOrderRead) {
			return nil, nil
		}
		_, total, err := h.S.ListSubscriptions(ctx, p, SubscriptionFilter{Status: SubscriptionActive, OrgID: m.OrgID})
		if err != nil {
			return nil, err
		}
		_, open, err := h.S.ListOrders(ctx, p, OrderFilter{States: openStates, OrgID: m.OrgID, PerPage: 1})
		if err != nil {
			return nil, err
		}
		_, mine, err := h.S.ListOrders(ctx, p, OrderFilter{Waiting: lifecycle.Agency, OrgID: m.OrgID, PerPage: 1})
		if err != nil {
			return nil, err
		}
		out = append(out,
			web.Card{Title: "Marketplace services", Stat: fmt.Sprint(total), Text: "Active subscriptions of your agency.", Link: "/marketplace/dashboard/agency", LinkText: "Open your marketplace dashboard", Order: 20},
			web.Card{Title: "Orders in progress", Stat: fmt.Sprint(open), Text: fmt.Sprintf("%d waiting for your agency.", mine), Link: "/marketplace/orders?show=open", LinkText: "See orders", Order: 21},
		)
		if m.Role.Has(authz.MarketAssessmentRead) {
			out = append(out, web.Card{Title: "Recommendations", Text: "Offerings ranked for your agency from its maturity assessments, with the reasons.",
				Link: "/marketplace/recommendations", LinkText: "See recommendations", Order: 22})
		}
	default:
		if !m.Role.Has(authz.MarketOfferingRead) {
			return nil, nil
		}
		_, todo, err := h.S.ListOrders(ctx, p, OrderFilter{Waiting: lifecycle.Provider, OrgID: m.OrgID, PerPage: 1})
		if err != nil {
			return nil, err
		}
		out = append(out, web.Card{Title: "Orders to fulfil", Stat: fmt.Sprint(todo), Text: "Quotes, agreements and onboarding waiting for you.",
			Link: "/marketplace/provider", LinkText: "Open your offerings and orders", Order: 20})
	}
	return out, nil
}
