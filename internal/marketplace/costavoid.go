package marketplace

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// Baseline is what an agency would pay per month to buy a service on its
// own ("go it alone"), per area and tier.
type Baseline struct {
	AreaID    string
	AreaName  string
	Tier      maturity.Tier
	Monthly   int64
	Note      string
	UpdatedAt time.Time
	UpdatedBy string
}

// Baselines returns every area and tier with its baseline (zero when not
// set).
func (s *Service) Baselines(ctx context.Context) ([]Baseline, error) {
	areas, err := s.Areas(ctx)
	if err != nil {
		return nil, err
	}
	set, err := s.baselineMap(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	var out []Baseline
	for _, a := range areas {
		for _, t := range maturity.Tiers() {
			b, ok := set[a.ID+"/"+string(t)]
			if !ok {
				b = Baseline{AreaID: a.ID, Tier: t}
			}
			b.AreaName = a.Name
			out = append(out, b)
		}
	}
	return out, nil
}

func (s *Service) baselineMap(ctx context.Context, q db.Queryer) (map[string]Baseline, error) {
	rows, err := q.QueryContext(ctx, "SELECT service_area_id, tier, monthly_cents, note, updated_at, updated_by FROM market_baselines")
	if err != nil {
		return nil, fmt.Errorf("marketplace: baselines: %w", err)
	}
	defer rows.Close()
	out := map[string]Baseline{}
	for rows.Next() {
		var b Baseline
		var tier string
		if err := rows.Scan(&b.AreaID, &tier, &b.Monthly, &b.Note, (*db.Time)(&b.UpdatedAt), &b.UpdatedBy); err != nil {
			return nil, err
		}
		b.Tier = maturity.Tier(tier)
		out[b.AreaID+"/"+tier] = b
	}
	return out, rows.Err()
}

// SetBaseline sets the go-it-alone monthly cost of an area and tier, with
// where the figure comes from (office billing managers).
func (s *Service) SetBaseline(ctx context.Context, p *authz.Principal, areaID string, tier maturity.Tier, monthly int64, note string) error {
	office, err := s.OfficeID(ctx)
	if err != nil {
		return err
	}
	if err := s.actFor(ctx, p, authz.MarketBillingManage, office, "The office sets go-it-alone baselines."); err != nil {
		return err
	}
	note = strings.TrimSpace(note)
	errs := map[string]string{}
	if _, err := s.Area(ctx, areaID); err != nil {
		errs["area"] = "Choose a service area."
	}
	if !tier.Valid() {
		errs["tier"] = "Choose a tier."
	}
	if monthly < 0 || monthly > money.MaxAmount {
		errs["monthly"] = "Give the monthly cost."
	}
	if !textOK(note, 0, 500) {
		errs["note"] = "The source note is at most 500 characters."
	}
	if len(errs) > 0 {
		return apperr.Validation(errs)
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		set, err := s.baselineMap(ctx, tx)
		if err != nil {
			return err
		}
		before := set[areaID+"/"+string(tier)]
		_, err = tx.ExecContext(ctx, `INSERT INTO market_baselines (service_area_id, tier, monthly_cents, note, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (service_area_id, tier) DO UPDATE SET monthly_cents = excluded.monthly_cents, note = excluded.note, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			areaID, string(tier), monthly, note, db.TS(s.now()), actorLabel(p))
		if err != nil {
			return fmt.Errorf("marketplace: set baseline: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: office, Action: "market.baseline.set", TargetType: "baseline", TargetID: areaID + "/" + string(tier),
			Summary: fmt.Sprintf("Set the go-it-alone baseline of %s (%s) to %s a month", s.areaName(ctx, areaID), tier.Label(), money.Format(monthly)),
			Before:  map[string]int64{"monthly_cents": before.Monthly}, After: map[string]any{"monthly_cents": monthly, "note": note}})
	})
}

// AvoidanceRow compares what was paid with the go-it-alone baseline.
type AvoidanceRow struct {
	Key      string
	Label    string
	Actual   int64
	Baseline int64
	// Unpriced counts subscription-months without a baseline; they add to
	// Actual but not to Baseline, so the avoided figure is conservative.
	Unpriced int
}

// Avoided is baseline minus actual.
func (r AvoidanceRow) Avoided() int64 { return r.Baseline - r.Actual }

// CostAvoidance is the report: what agencies paid through the marketplace
// against what the same service would have cost them alone.
type CostAvoidance struct {
	From, To string // YYYY-MM, inclusive
	Total    AvoidanceRow
	ByArea   []AvoidanceRow
	ByAgency []AvoidanceRow
	ByMonth  []AvoidanceRow
}

// CostAvoidanceReport computes the report over issued statements from one
// month to another (inclusive), for the agencies the principal may read
// billing of (the office sees every agency).
func (s *Service) CostAvoidanceReport(ctx context.Context, p *authz.Principal, from, to string) (CostAvoidance, error) {
	rep := CostAvoidance{From: from, To: to, Total: AvoidanceRow{Label: "All agencies"}}
	clause, args, none, err := s.scopeClause(ctx, p, authz.MarketBillingRead, "st.agency_org_id")
	if err != nil || none {
		return rep, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT st.agency_org_id, ag.name, st.period, ss.service_area_id, ss.tier, ss.month_days, SUM(ss.active_days), SUM(ss.amount_cents), COUNT(*)
		FROM market_statement_subs ss JOIN market_statements st ON st.id = ss.statement_id JOIN orgs ag ON ag.id = st.agency_org_id
		WHERE `+clause+` AND st.period >= ? AND st.period <= ? GROUP BY st.agency_org_id, ag.name, st.period, ss.service_area_id, ss.tier, ss.month_days`,
		append(args, from, to)...)
	if err != nil {
		return rep, fmt.Errorf("marketplace: cost avoidance: %w", err)
	}
	defer rows.Close()
	base, err := s.baselineMap(ctx, s.DB)
	if err != nil {
		return rep, err
	}
	byArea, byAgency, byMonth := map[string]*AvoidanceRow{}, map[string]*AvoidanceRow{}, map[string]*AvoidanceRow{}
	bump := func(m map[string]*AvoidanceRow, key, label string, actual, baseline int64, unpriced int) {
		r, ok := m[key]
		if !ok {
			r = &AvoidanceRow{Key: key, Label: label}
			m[key] = r
		}
		r.Actual += actual
		r.Baseline += baseline
		r.Unpriced += unpriced
	}
	for rows.Next() {
		var agency, agencyName, period, area, tier string
		var monthDays, days, n int
		var actual int64
		if err := rows.Scan(&agency, &agencyName, &period, &area, &tier, &monthDays, &days, &actual, &n); err != nil {
			return rep, err
		}
		var baseline int64
		unpriced := 0
		if b, ok := base[area+"/"+tier]; ok && b.Monthly > 0 && monthDays > 0 {
			if baseline, err = money.MulDiv(b.Monthly, int64(days), int64(monthDays)); err != nil {
				return rep, err
			}
		} else {
			unpriced = n
		}
		bump(byArea, area, s.areaName(ctx, area), actual, baseline, unpriced)
		bump(byAgency, agency, agencyName, actual, baseline, unpriced)
		bump(byMonth, period, period, actual, baseline, unpriced)
		rep.Total.Actual += actual
		rep.Total.Baseline += baseline
		rep.Total.Unpriced += unpriced
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}
	flat := func(m map[string]*AvoidanceRow) []AvoidanceRow {
		var out []AvoidanceRow
		for _, r := range m {
			out = append(out, *r)
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Avoided() != out[j].Avoided() {
				return out[i].Avoided() > out[j].Avoided()
			}
			return out[i].Label < out[j].Label
		})
		return out
	}
	rep.ByArea, rep.ByAgency = flat(byArea), flat(byAgency)
	rep.ByMonth = flat(byMonth)
	sort.Slice(rep.ByMonth, func(i, j int) bool { return rep.ByMonth[i].Key < rep.ByMonth[j].Key })
	return rep, nil
}
