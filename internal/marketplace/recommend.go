package marketplace

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// Reason is one line of a recommendation's explanation.
type Reason struct {
	Text   string
	Points int // what it added to or took from the score
}

// Positive reports whether the reason speaks for the offering.
func (r Reason) Positive() bool { return r.Points > 0 }

// Negative reports whether it speaks against.
func (r Reason) Negative() bool { return r.Points < 0 }

// Recommendation is an offering ranked for an agency, with why.
type Recommendation struct {
	Offering   Offering
	Tier       maturity.Tier // the tier to order
	Monthly    int64
	Score      int
	Reasons    []Reason
	CX         *CXScore
	Similar    int  // agencies at the same tier that use it
	Subscribed bool // the agency already uses it
}

// Recommendations ranks the listed offerings of an area for an agency from
// its latest assessment: tier fit, prerequisites, price, CX score and what
// agencies at the same tier use. It returns nil without an assessment.
func (s *Service) Recommendations(ctx context.Context, p *authz.Principal, agencyOrgID, areaID string) ([]Recommendation, *Assessment, error) {
	asms, err := s.Assessments(ctx, p, agencyOrgID, areaID)
	if err != nil {
		return nil, nil, err
	}
	if len(asms) == 0 {
		return nil, nil, nil
	}
	a := asms[0]
	recs, err := s.rank(ctx, s.DB, a)
	return recs, &a, err
}

// rank scores every listed offering of the assessment's area.
func (s *Service) rank(ctx context.Context, q db.Queryer, a Assessment) ([]Recommendation, error) {
	offs, err := s.offeringsWhere(ctx, "o.service_area_id = ? AND o.status = 'listed'", []any{a.AreaID}, "o.name")
	if err != nil {
		return nil, err
	}
	var cand []Offering
	for _, o := range offs {
		if len(o.ListedTiers()) > 0 {
			cand = append(cand, o)
		}
	}
	if len(cand) == 0 {
		return nil, nil
	}
	similar, err := similarUse(ctx, q, a)
	if err != nil {
		return nil, err
	}
	mine, err := activeOfferings(ctx, q, a.AgencyOrgID, a.AreaID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(cand))
	for i, o := range cand {
		ids[i] = o.ID
	}
	cx := s.cxScores(ctx, ids)
	quest := s.Questionnaire(a)
	have := map[string]bool{}
	for _, c := range a.Capabilities {
		have[c] = true
	}
	recs := make([]Recommendation, len(cand))
	cheapest := int64(-1)
	for i, o := range cand {
		r := Recommendation{Offering: o}
		r.Tier = bestTier(o, a.Tier)
		t, _ := o.Tier(r.Tier)
		r.Monthly = t.Monthly()
		if r.Monthly > 0 && (cheapest < 0 || r.Monthly < cheapest) {
			cheapest = r.Monthly
		}
		recs[i] = r
	}
	for i := range recs {
		r := &recs[i]
		o := r.Offering
		add := func(points int, format string, args ...any) {
			r.Score += points
			r.Reasons = append(r.Reasons, Reason{Text: fmt.Sprintf(format, args...), Points: points})
		}
		switch gap := r.Tier.Rank() - a.Tier.Rank(); {
		case gap == 0:
			add(40, "Offered at the %s tier your assessment points to.", strings.ToLower(a.Tier.Label()))
		case gap < 0:
			add(15-10*(-gap-1), "Not offered at %s; its %s tier gives you less than you are ready for.", strings.ToLower(a.Tier.Label()), strings.ToLower(r.Tier.Label()))
		default:
			add(15-10*(gap-1), "Not offered at %s; its %s tier expects more than your answers show today.", strings.ToLower(a.Tier.Label()), strings.ToLower(r.Tier.Label()))
		}
		var missing, met []string
		for _, pre := range o.Prerequisites {
			label := pre
			if quest != nil {
				label = quest.CapabilityLabel(pre)
			}
			if have[pre] {
				met = append(met, label)
			} else {
				missing = append(missing, label)
			}
		}
		switch {
		case len(missing) > 0:
			add(-25*len(missing), "Needs something your answers say you lack: %s.", strings.Join(missing, "; "))
		case len(met) > 0:
			add(15, "You meet its prerequisites: %s.", strings.Join(met, "; "))
		default:
			add(10, "It has no prerequisites.")
		}
		if r.Monthly > 0 && cheapest > 0 {
			pts, _ := money.MulDiv(15, cheapest, r.Monthly)
			if r.Monthly == cheapest {
				add(int(pts), "Lowest monthly price among the %d offerings that fit (%s).", len(recs), money.Format(r.Monthly))
			} else {
				pct, _ := money.MulDiv(r.Monthly-cheapest, 100, cheapest)
				add(int(pts), "%s a month, %d%% above the lowest price that fits.", money.Format(r.Monthly), pct)
			}
		} else {
			add(5, "No monthly fee: you pay for metered usage only.")
		}
		if c, ok := cx[o.ID]; ok && c.Responses > 0 {
			c := c
			r.CX = &c
			add(c.TrustPercent*15/100, "%d%% of surveyed agencies trust it (%d responses).", c.TrustPercent, c.Responses)
		} else {
			add(0, "No customer ratings yet.")
		}
		if n := similar[o.ID]; n > 0 {
			r.Similar = n
			add(min(15, 3*n), "%s at your tier use it.", agencyCount(n))
		}
		if mine[o.ID] {
			r.Subscribed = true
			add(-100, "You already subscribe to it.")
		} else if len(mine) > 0 {
			add(-10, "You already use another offering in this area; a second one may duplicate it.")
		}
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Score != recs[j].Score {
			return recs[i].Score > recs[j].Score
		}
		if recs[i].Monthly != recs[j].Monthly {
			return recs[i].Monthly < recs[j].Monthly
		}
		return recs[i].Offering.Name < recs[j].Offering.Name
	})
	return recs, nil
}

func agencyCount(n int) string {
	if n == 1 {
		return "1 agency"
	}
	return fmt.Sprintf("%d agencies", n)
}

// bestTier is the listed tier closest to the agency's, preferring the
// lower one on a tie (an agency can grow into a tier, not out of one it
// cannot use).
func bestTier(o Offering, want maturity.Tier) maturity.Tier {
	best := maturity.Tier("")
	bestGap := 99
	for _, t := range o.ListedTiers() {
		gap := t.Tier.Rank() - want.Rank()
		if gap < 0 {
			gap = -gap*2 - 1 // lower tiers win ties against higher ones
		} else {
			gap *= 2
		}
		if gap < bestGap {
			best, bestGap = t.Tier, gap
		}
	}
	return best
}

// similarUse counts, per offering, the other agencies whose latest
// assessment of the area is at the same tier and that subscribe to it.
func similarUse(ctx context.Context, q db.Queryer, a Assessment) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT s.offering_id, COUNT(DISTINCT s.agency_org_id) FROM market_subscriptions s
		WHERE s.status = 'active' AND s.service_area_id = ? AND s.agency_org_id <> ? AND s.agency_org_id IN (
			SELECT x.agency_org_id FROM market_assessments x WHERE x.service_area_id = ? AND x.tier = ?
			AND x.taken_at = (SELECT MAX(y.taken_at) FROM market_assessments y WHERE y.agency_org_id = x.agency_org_id AND y.service_area_id = x.service_area_id))
		GROUP BY s.offering_id`, a.AreaID, a.AgencyOrgID, a.AreaID, string(a.Tier))
	if err != nil {
		return nil, fmt.Errorf("marketplace: similar agencies: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var oid string
		var n int
		if err := rows.Scan(&oid, &n); err != nil {
			return nil, err
		}
		out[oid] = n
	}
	return out, rows.Err()
}

func activeOfferings(ctx context.Context, q db.Queryer, agencyOrgID, areaID string) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT offering_id FROM market_subscriptions WHERE agency_org_id = ? AND service_area_id = ? AND status = 'active'", agencyOrgID, areaID)
	if err != nil {
		return nil, fmt.Errorf("marketplace: active offerings: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
