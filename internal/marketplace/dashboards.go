package marketplace

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
)

// NamedCount is a label with a count.
type NamedCount struct {
	Key   string
	Label string
	Count int
	Extra int
}

// Median is a median in days over N cases.
type Median struct {
	Key   string
	Label string
	Days  float64
	N     int
}

// StepSLA is how often a workflow step ended on time.
type StepSLA struct {
	State  lifecycle.State
	Label  string
	OnTime int
	Total  int
}

// Percent is the on-time share.
func (s StepSLA) Percent() int {
	if s.Total == 0 {
		return 0
	}
	return (s.OnTime*100 + s.Total/2) / s.Total
}

// AreaConformance is how the listed offerings of an area stand against its
// current standard.
type AreaConformance struct {
	AreaID     string
	Label      string
	Standard   int // version, 0 when none is published
	Listed     int // listed offerings
	Conformant int // every listed tier meets every mandatory requirement
	Waiting    int // conformant but for answers awaiting review
}

// OfficeDash is the office's marketplace dashboard.
type OfficeDash struct {
	AsOf             time.Time
	computation      uint64 // tells computations apart (AsOf may repeat under a test clock)
	Listed           int
	InReview         int
	ActiveSubs       int
	Agencies         int
	OpenOrders       int
	Overdue          int
	PendingReviews   int
	OpenExceptions   int
	AdoptionByArea   []NamedCount // Count: subscriptions, Extra: agencies
	AdoptionByAgency []NamedCount
	OnboardByArea    []Median
	OnboardByMonth   []Median
	SLA              []StepSLA
	InFlight         []NamedCount // Count: orders, Extra: overdue
	Conformance      []AreaConformance
	Avoidance        CostAvoidance
}

// dashCache keeps the office dashboard for a short while: its figures span
// every agency and order, and a few seconds of staleness are worth not
// recomputing them for each viewer. Once the figures are older than the
// TTL, the next viewer recomputes them while everyone else keeps getting
// the previous figures (stale while revalidating), so a burst of viewers
// never queues behind a computation; only the very first computation is
// waited for.
type dashCache struct {
	mu        sync.Mutex
	value     *OfficeDash
	until     time.Time
	computing chan struct{} // open while one viewer computes
	gen       int           // InvalidateDashboard adds one
}

// OfficeDashboard returns the office's dashboard (office people with
// market.insights.read).
func (s *Service) OfficeDashboard(ctx context.Context, p *authz.Principal) (OfficeDash, error) {
	office, err := s.OfficeID(ctx)
	if err != nil {
		return OfficeDash{}, err
	}
	if err := s.actFor(ctx, p, authz.MarketInsightsRead, office, "The marketplace dashboard is the office's."); err != nil {
		return OfficeDash{}, err
	}
	for {
		s.dash.mu.Lock()
		v := s.dash.value
		if v != nil && (time.Now().Before(s.dash.until) || s.dash.computing != nil) {
			s.dash.mu.Unlock()
			return *v, nil
		}
		if wait := s.dash.computing; wait != nil {
			// Nothing to serve yet: wait for the first computation.
			s.dash.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return OfficeDash{}, ctx.Err()
			}
		}
		done := make(chan struct{})
		s.dash.computing = done
		gen := s.dash.gen
		s.dash.mu.Unlock()
		d, err := s.computeOfficeDash(ctx, p)
		s.dash.mu.Lock()
		if err == nil && gen == s.dash.gen {
			s.dash.value, s.dash.until = &d, time.Now().Add(s.DashboardTTL)
		}
		s.dash.computing = nil
		close(done)
		s.dash.mu.Unlock()
		return d, err
	}
}

// InvalidateDashboard drops the cached office dashboard (tests, and after
// bulk loads).
func (s *Service) InvalidateDashboard() {
	s.dash.mu.Lock()
	s.dash.value = nil
	s.dash.gen++
	s.dash.mu.Unlock()
}

var dashComputations atomic.Uint64

var openStates = []lifecycle.State{lifecycle.Requested, lifecycle.Approved, lifecycle.Quoted, lifecycle.AgreementDraft, lifecycle.Signing, lifecycle.Provisioning}

func (s *Service) computeOfficeDash(ctx context.Context, p *authz.Principal) (OfficeDash, error) {
	now := s.now()
	d := OfficeDash{AsOf: now, computation: dashComputations.Add(1)}
	q := s.DB
	scanCounts := func(query string, args []any, fn func(key string, a, b int)) error {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("marketplace: dashboard: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var a, b int
			if err := rows.Scan(&k, &a, &b); err != nil {
				return err
			}
			fn(k, a, b)
		}
		return rows.Err()
	}
	if err := scanCounts("SELECT status, COUNT(*), 0 FROM market_offerings GROUP BY status", nil, func(k string, a, _ int) {
		switch k {
		case "listed":
			d.Listed = a
		case "in_review":
			d.InReview = a
		}
	}); err != nil {
		return d, err
	}
	areas, err := s.Areas(ctx)
	if err != nil {
		return d, err
	}
	byArea := map[string][2]int{}
	if err := scanCounts("SELECT service_area_id, COUNT(*), COUNT(DISTINCT agency_org_id) FROM market_subscriptions WHERE status = 'active' GROUP BY service_area_id", nil,
		func(k string, a, b int) { byArea[k] = [2]int{a, b}; d.ActiveSubs += a }); err != nil {
		return d, err
	}
	for _, a := range areas {
		d.AdoptionByArea = append(d.AdoptionByArea, NamedCount{Key: a.ID, Label: a.Name, Count: byArea[a.ID][0], Extra: byArea[a.ID][1]})
	}
	if err := q.QueryRowContext(ctx, "SELECT COUNT(DISTINCT agency_org_id) FROM market_subscriptions WHERE status = 'active'").Scan(&d.Agencies); err != nil {
		return d, err
	}
	rows, err := q.QueryContext(ctx, `SELECT s.agency_org_id, ag.name, COUNT(*) FROM market_subscriptions s JOIN orgs ag ON ag.id = s.agency_org_id
		WHERE s.status = 'active' GROUP BY s.agency_org_id, ag.name ORDER BY COUNT(*) DESC, ag.name LIMIT 15`)
	if err != nil {
		return d, err
	}
	for rows.Next() {
		var nc NamedCount
		if err := rows.Scan(&nc.Key, &nc.Label, &nc.Count); err != nil {
			rows.Close()
			return d, err
		}
		d.AdoptionByAgency = append(d.AdoptionByAgency, nc)
	}
	rows.Close()
	if err := s.onboarding(ctx, q, &d, areas, now); err != nil {
		return d, err
	}
	labels := map[string]string{}
	for _, st := range openStates {
		info, _ := lifecycle.Orders.Timer(st)
		labels[string(st)] = info.Label
	}
	sla := map[string]StepSLA{}
	if err := scanCounts(`SELECT from_state, SUM(CASE WHEN on_time THEN 1 ELSE 0 END), COUNT(*) FROM market_order_events
		WHERE at >= ? AND on_time IS NOT NULL GROUP BY from_state`, []any{db.TS(now.AddDate(0, 0, -90))}, func(k string, a, b int) {
		sla[k] = StepSLA{State: lifecycle.State(k), Label: labels[k], OnTime: a, Total: b}
	}); err != nil {
		return d, err
	}
	for _, st := range openStates {
		if x, ok := sla[string(st)]; ok {
			d.SLA = append(d.SLA, x)
		}
	}
	inflight := map[string][2]int{}
	if err := scanCounts(`SELECT state, COUNT(*), SUM(CASE WHEN due_at < ? THEN 1 ELSE 0 END) FROM market_orders
		WHERE state IN ('requested', 'approved', 'quoted', 'agreement_draft', 'signing', 'provisioning') GROUP BY state`, []any{db.TS(now)},
		func(k string, a, b int) { inflight[k] = [2]int{a, b}; d.OpenOrders += a; d.Overdue += b }); err != nil {
		return d, err
	}
	for _, st := range openStates {
		d.InFlight = append(d.InFlight, NamedCount{Key: string(st), Label: lifecycle.Orders.Label(st), Count: inflight[string(st)][0], Extra: inflight[string(st)][1]})
	}
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM market_answers a JOIN market_requirements r ON r.id = a.requirement_id
		JOIN market_standards st ON st.id = r.standard_id WHERE a.review_status = 'pending' AND st.status = 'published'`).Scan(&d.PendingReviews); err != nil {
		return d, err
	}
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM market_exceptions WHERE status = 'submitted'").Scan(&d.OpenExceptions); err != nil {
		return d, err
	}
	if d.Conformance, err = s.areaConformance(ctx, areas); err != nil {
		return d, err
	}
	from := now.AddDate(0, -12, 0).Format("2006-01")
	to := now.AddDate(0, -1, 0).Format("2006-01")
	d.Avoidance, err = s.CostAvoidanceReport(ctx, p, from, to)
	return d, err
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}

// onboarding computes the median days from request to activation, by area
// over the last year and by month of activation over the last twelve.
func (s *Service) onboarding(ctx context.Context, q db.Queryer, d *OfficeDash, areas []ServiceArea, now time.Time) error {
	rows, err := q.QueryContext(ctx, "SELECT service_area_id, requested_at, activated_at FROM market_orders WHERE activated_at >= ?", db.TS(now.AddDate(-1, 0, 0)))
	if err != nil {
		return fmt.Errorf("marketplace: onboarding times: %w", err)
	}
	defer rows.Close()
	byArea := map[string][]float64{}
	byMonth := map[string][]float64{}
	for rows.Next() {
		var area string
		var req, act time.Time
		if err := rows.Scan(&area, (*db.Time)(&req), (*db.Time)(&act)); err != nil {
			return err
		}
		days := act.Sub(req).Hours() / 24
		byArea[area] = append(byArea[area], days)
		m := act.Format("2006-01")
		byMonth[m] = append(byMonth[m], days)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, a := range areas {
		if xs := byArea[a.ID]; len(xs) > 0 {
			d.OnboardByArea = append(d.OnboardByArea, Median{Key: a.ID, Label: a.Name, Days: median(xs), N: len(xs)})
		}
	}
	for i := 11; i >= 0; i-- {
		m := now.AddDate(0, -i, 0).Format("2006-01")
		t, _ := time.Parse("2006-01", m)
		if xs := byMonth[m]; len(xs) > 0 {
			d.OnboardByMonth = append(d.OnboardByMonth, Median{Key: m, Label: t.Format("Jan 2006"), Days: median(xs), N: len(xs)})
		}
	}
	return nil
}

// areaConformance evaluates every listed offering against its area's
// current standard, in a few queries for the whole catalog.
func (s *Service) areaConformance(ctx context.Context, areas []ServiceArea) ([]AreaConformance, error) {
	offs, err := s.offeringsWhere(ctx, "o.status = 'listed'", nil, "o.id")
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(offs))
	for i, o := range offs {
		ids[i] = o.ID
	}
	answers, err := loadAnswers(ctx, s.DB, ids)
	if err != nil {
		return nil, err
	}
	var out []AreaConformance
	for _, a := range areas {
		ac := AreaConformance{AreaID: a.ID, Label: a.Name}
		st, ok, err := currentStandard(ctx, s.DB, a.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			ac.Standard = st.Version
		}
		for _, o := range offs {
			if o.AreaID != a.ID {
				continue
			}
			ac.Listed++
			ev := evaluate(st.Requirements, answers[o.ID], offeringTiers(o))
			good, waiting := true, false
			for _, t := range o.ListedTiers() {
				c := ev[t.Tier]
				good = good && len(c.Unmet) == 0
				waiting = waiting || len(c.Waiting) > 0
			}
			if good && !waiting {
				ac.Conformant++
			} else if good {
				ac.Waiting++
			}
		}
		out = append(out, ac)
	}
	return out, nil
}

// AgencyDash is an agency's marketplace dashboard.
type AgencyDash struct {
	AgencyID        string
	AgencyName      string
	Subscriptions   []Subscription
	InFlight        []Order
	Spend           []Statement
	Running         Statement
	Recommendations []AreaAdvice
	Avoidance       CostAvoidance
	Exceptions      []Exception
	Assessed        int
}

// AreaAdvice is the top recommendation of an assessed area.
type AreaAdvice struct {
	Assessment Assessment
	Top        *Recommendation
}

// AgencyDashboard returns an agency's dashboard (its people with
// market.order.read; spend needs market.billing.read).
func (s *Service) AgencyDashboard(ctx context.Context, p *authz.Principal, agencyOrgID string) (AgencyDash, error) {
	if err := s.Authz.Check(ctx, p, authz.MarketOrderRead, agencyOrgID); err != nil {
		return AgencyDash{}, err
	}
	ag, err := getOrgInfo(ctx, s.DB, agencyOrgID)
	if err != nil {
		return AgencyDash{}, err
	}
	if ag.Kind != "agency" {
		return AgencyDash{}, apperr.New(apperr.Invalid, "This dashboard is for agencies.")
	}
	d := AgencyDash{AgencyID: ag.ID, AgencyName: ag.Name}
	subs, _, err := s.ListSubscriptions(ctx, p, SubscriptionFilter{Status: SubscriptionActive, OrgID: ag.ID})
	if err != nil {
		return d, err
	}
	d.Subscriptions = subs
	d.InFlight, _, err = s.ListOrders(ctx, p, OrderFilter{States: openStates, OrgID: ag.ID, PerPage: 50})
	if err != nil {
		return d, err
	}
	if s.Authz.Check(ctx, p, authz.MarketBillingRead, ag.ID) == nil {
		if d.Spend, err = s.SpendByMonth(ctx, p, ag.ID, 12); err != nil {
			return d, err
		}
		if d.Running, err = s.RunningStatement(ctx, p, ag.ID); err != nil {
			return d, err
		}
		now := s.now()
		if d.Avoidance, err = s.CostAvoidanceReport(ctx, p, now.AddDate(0, -12, 0).Format("2006-01"), now.AddDate(0, -1, 0).Format("2006-01")); err != nil {
			return d, err
		}
	}
	if s.Authz.Check(ctx, p, authz.MarketAssessmentRead, ag.ID) == nil {
		latest, err := s.LatestAssessments(ctx, p, ag.ID)
		if err != nil {
			return d, err
		}
		d.Assessed = len(latest)
		for _, a := range latest {
			recs, err := s.rank(ctx, s.DB, a)
			if err != nil {
				return d, err
			}
			adv := AreaAdvice{Assessment: a}
			for i := range recs {
				if !recs[i].Subscribed {
					adv.Top = &recs[i]
					break
				}
			}
			d.Recommendations = append(d.Recommendations, adv)
		}
	}
	exc, err := s.ListExceptions(ctx, p, "submitted")
	if err != nil {
		return d, err
	}
	for _, e := range exc {
		if e.AgencyOrgID == ag.ID {
			d.Exceptions = append(d.Exceptions, e)
		}
	}
	return d, nil
}

// ProviderDash is a provider's marketplace dashboard.
type ProviderDash struct {
	ProviderID   string
	ProviderName string
	Offerings    []ProviderOffering
	ToFulfil     []Order
	Revenue      []NamedCount // Count: cents by month is too large for int on 32-bit; see RevenueCents
	RevenueCents []int64
	ActiveSubs   int
	Agencies     int
}

// ProviderOffering is one offering on the provider dashboard.
type ProviderOffering struct {
	Offering Offering
	Tiers    []TierConformance
	CX       *CXScore
}

// ProviderDashboard returns a provider's dashboard (its own people; for
// the office's own offerings, the office).
func (s *Service) ProviderDashboard(ctx context.Context, p *authz.Principal, providerOrgID string) (ProviderDash, error) {
	if err := s.Authz.Check(ctx, p, authz.MarketOfferingRead, providerOrgID); err != nil {
		return ProviderDash{}, err
	}
	pr, err := getOrgInfo(ctx, s.DB, providerOrgID)
	if err != nil {
		return ProviderDash{}, err
	}
	if pr.Kind == "agency" {
		return ProviderDash{}, apperr.New(apperr.Invalid, "This dashboard is for providers.")
	}
	d := ProviderDash{ProviderID: pr.ID, ProviderName: pr.Name}
	offs, err := s.offeringsWhere(ctx, "o.provider_org_id = ? AND o.status <> 'retired'", []any{pr.ID}, "o.name")
	if err != nil {
		return d, err
	}
	ids := make([]string, len(offs))
	for i, o := range offs {
		ids[i] = o.ID
	}
	cx := s.cxScores(ctx, ids)
	for _, o := range offs {
		c, err := s.conformanceOf(ctx, s.DB, o, false)
		if err != nil {
			return d, err
		}
		po := ProviderOffering{Offering: o, Tiers: c.Tiers}
		if x, ok := cx[o.ID]; ok && x.Responses > 0 {
			po.CX = &x
		}
		d.Offerings = append(d.Offerings, po)
	}
	d.ToFulfil, _, err = s.ListOrders(ctx, p, OrderFilter{Waiting: lifecycle.Provider, OrgID: pr.ID, PerPage: 50})
	if err != nil {
		return d, err
	}
	if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*), COUNT(DISTINCT agency_org_id) FROM market_subscriptions WHERE provider_org_id = ? AND status = 'active'", pr.ID).
		Scan(&d.ActiveSubs, &d.Agencies); err != nil {
		return d, err
	}
	now := s.now()
	rows, err := s.DB.QueryContext(ctx, `SELECT st.period, SUM(ss.amount_cents) FROM market_statement_subs ss JOIN market_statements st ON st.id = ss.statement_id
		JOIN market_subscriptions s ON s.id = ss.subscription_id WHERE s.provider_org_id = ? AND st.period >= ? GROUP BY st.period ORDER BY st.period`,
		pr.ID, now.AddDate(0, -12, 0).Format("2006-01"))
	if err != nil {
		return d, err
	}
	defer rows.Close()
	for rows.Next() {
		var period string
		var cents int64
		if err := rows.Scan(&period, &cents); err != nil {
			return d, err
		}
		t, _ := time.Parse("2006-01", period)
		d.Revenue = append(d.Revenue, NamedCount{Key: period, Label: t.Format("Jan 2006")})
		d.RevenueCents = append(d.RevenueCents, cents)
	}
	return d, rows.Err()
}
