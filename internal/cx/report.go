package cx

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
	"sync"
	"sync/atomic"
)

// Dimension is what scores are grouped by.
type Dimension string

// Dimensions.
const (
	ByNothing  Dimension = ""
	ByStage    Dimension = "stage"
	ByService  Dimension = "service"
	ByProvider Dimension = "provider"
	ByOffering Dimension = "offering"
	ByQuarter  Dimension = "quarter"
)

// Valid reports whether d is a known dimension.
func (d Dimension) Valid() bool {
	switch d {
	case ByNothing, ByStage, ByService, ByProvider, ByOffering, ByQuarter:
		return true
	}
	return false
}

// ReportFilter narrows reports to quarters and a slice of the services.
type ReportFilter struct {
	From, To    a11.Quarter
	Stage       Stage
	ServiceArea string
	ProviderID  string
	OfferingID  string
}

// DefaultRange is how many quarters reports cover when no range is given.
const DefaultRange = 4

// normalize fills a missing range with the last DefaultRange quarters up to
// the one containing now, and swaps a reversed range.
func (f *ReportFilter) normalize(now time.Time) {
	if f.To.IsZero() {
		f.To = a11.QuarterOf(now)
	}
	if f.From.IsZero() {
		f.From = f.To
		for i := 1; i < DefaultRange; i++ {
			f.From = f.From.Prev()
		}
	}
	if f.To.Before(f.From) {
		f.From, f.To = f.To, f.From
	}
	if qs := a11.Range(f.From, f.To); len(qs) > 0 {
		f.From = qs[0] // Range keeps at most MaxRange quarters
	}
}

// Cell is the finest grain of a report: one quarter, stage, service,
// provider and offering, with how many people were asked and what they
// answered.
type Cell struct {
	Quarter      a11.Quarter
	Stage        Stage
	ServiceArea  string
	ServiceName  string
	ProviderID   string
	ProviderName string
	OfferingID   string
	OfferingName string
	Offered      int
	Tally        a11.Tally
}

// Group is cells added up under one key.
type Group struct {
	Key     string
	Label   string
	Offered int
	Tally   a11.Tally
}

// ResponseRate is the share of people asked who answered.
func (g Group) ResponseRate() a11.Ratio { return a11.Ratio{Part: g.Tally.Responses, Whole: g.Offered} }

// Report is a set of cells over a range of quarters.
type Report struct {
	Filter   ReportFilter
	Quarters []a11.Quarter
	Cells    []Cell
	// OfficeName labels services the office operates itself.
	OfficeName string
}

// Total adds up every cell.
func (r Report) Total() Group {
	g := Group{Key: "all", Label: "All"}
	for _, c := range r.Cells {
		g.Offered += c.Offered
		g.Tally.Merge(c.Tally)
	}
	return g
}

// Quarter adds up one quarter's cells.
func (r Report) Quarter(q a11.Quarter) Group {
	g := Group{Key: q.String(), Label: q.Label()}
	for _, c := range r.Cells {
		if c.Quarter == q {
			g.Offered += c.Offered
			g.Tally.Merge(c.Tally)
		}
	}
	return g
}

// key returns a cell's key and label along d.
func (r Report) key(c Cell, d Dimension) (string, string) {
	switch d {
	case ByStage:
		return string(c.Stage), c.Stage.Label()
	case ByService:
		return c.ServiceArea, c.ServiceName
	case ByProvider:
		if c.ProviderID == "" {
			return "", r.OfficeName + " (office-operated)"
		}
		return c.ProviderID, c.ProviderName
	case ByOffering:
		if c.OfferingID == "" {
			return "", "No specific offering"
		}
		name := c.OfferingName
		if name == "" {
			name = c.OfferingID
		}
		return c.OfferingID, name
	case ByQuarter:
		return c.Quarter.String(), c.Quarter.Label()
	}
	return "all", "All"
}

// By adds up cells along d: stages in lifecycle order, quarters in time
// order, other dimensions by label.
func (r Report) By(d Dimension) []Group {
	idx := map[string]int{}
	var out []Group
	if d == ByQuarter {
		for _, q := range r.Quarters {
			idx[q.String()] = len(out)
			out = append(out, Group{Key: q.String(), Label: q.Label()})
		}
	}
	if d == ByStage {
		for _, s := range Stages {
			idx[string(s)] = len(out)
			out = append(out, Group{Key: string(s), Label: s.Label()})
		}
	}
	for _, c := range r.Cells {
		k, label := r.key(c, d)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Group{Key: k, Label: label})
		}
		out[i].Offered += c.Offered
		out[i].Tally.Merge(c.Tally)
	}
	if d != ByQuarter && d != ByStage {
		sort.SliceStable(out, func(i, j int) bool { return strings.ToLower(out[i].Label) < strings.ToLower(out[j].Label) })
	}
	return out
}

// Series adds up cells along d for each quarter of the report: one row of
// groups per key of d, one group per quarter, for charts over time.
func (r Report) Series(d Dimension) []SeriesRow {
	var out []SeriesRow
	for _, g := range r.By(d) {
		row := SeriesRow{Key: g.Key, Label: g.Label, Total: g}
		for _, q := range r.Quarters {
			qg := Group{Key: q.String(), Label: q.Label()}
			for _, c := range r.Cells {
				if k, _ := r.key(c, d); k == g.Key && c.Quarter == q {
					qg.Offered += c.Offered
					qg.Tally.Merge(c.Tally)
				}
			}
			row.Quarters = append(row.Quarters, qg)
		}
		out = append(out, row)
	}
	return out
}

// SeriesRow is one key's groups over the report's quarters.
type SeriesRow struct {
	Key, Label string
	Total      Group
	Quarters   []Group
}

// cells reads the report's cells from their running totals.
// providers, when not nil, limits the report to surveys about those
// providers' offerings.
func (s *Service) cells(ctx context.Context, q db.Queryer, f ReportFilter, providers []string) ([]Cell, error) {
	where := []string{"c.quarter >= ?", "c.quarter <= ?"}
	args := []any{f.From.String(), f.To.String()}
	if providers != nil {
		in, inArgs := inClause("c.provider_id", providers)
		where, args = append(where, in), append(args, inArgs...)
	}
	for col, v := range map[string]string{"c.stage": string(f.Stage), "c.service_area": f.ServiceArea, "c.provider_id": f.ProviderID, "c.offering_id": f.OfferingID} {
		if v != "" {
			where, args = append(where, col+" = ?"), append(args, v)
		}
	}
	query := `SELECT c.quarter, c.stage, c.service_area, c.service_name, c.provider_id, COALESCE(p.name, ''), c.offering_id, c.offering_name,
		c.offered, ` + strings.Join(prefixed("c.", tallyColumns), ", ") + `
		FROM cx_tallies c LEFT JOIN orgs p ON p.id = c.provider_id
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY c.quarter, c.stage, c.service_area, c.provider_id, c.offering_id`
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("cx: report cells: %w", err)
	}
	defer rows.Close()
	var out []Cell
	for rows.Next() {
		var c Cell
		var quarter, stage string
		dest := append([]any{&quarter, &stage, &c.ServiceArea, &c.ServiceName, &c.ProviderID, &c.ProviderName, &c.OfferingID, &c.OfferingName, &c.Offered},
			tallyDest(&c.Tally)...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("cx: scan report cell: %w", err)
		}
		c.Quarter, _ = a11.ParseQuarter(quarter)
		c.Stage = Stage(stage)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Report returns CX scores over a range of quarters: every survey for the
// office, surveys about their own offerings for providers. Other roles get
// Forbidden.
func (s *Service) Report(ctx context.Context, p *authz.Principal, f ReportFilter) (Report, error) {
	if !authz.CanAnywhere(p, authz.CXReportRead) {
		return Report{}, apperr.New(apperr.Forbidden, "CX scores are for the office and for providers about their own offerings.")
	}
	scope, err := s.Authz.ScopeFor(ctx, p, authz.CXReportRead)
	if err != nil {
		return Report{}, err
	}
	var providers []string
	if !scope.All {
		providers = append([]string{}, scope.OrgIDs...)
	}
	return s.report(ctx, f, providers)
}

func (s *Service) report(ctx context.Context, f ReportFilter, providers []string) (Report, error) {
	f.normalize(s.DB.Now())
	cells, err := s.cells(ctx, s.DB, f, providers)
	if err != nil {
		return Report{}, err
	}
	return Report{Filter: f, Quarters: a11.Range(f.From, f.To), Cells: cells, OfficeName: s.OfficeName}, nil
}

// ScoreQuery asks for trust scores, for the marketplace and other parts of
// qsmo.
type ScoreQuery struct {
	By     Dimension // group by this; ByNothing for one overall score
	Filter ReportFilter
	// PerQuarter splits each group by quarter too.
	PerQuarter bool
}

// Score is one group's score.
type Score struct {
	Key     string
	Label   string
	Quarter a11.Quarter // zero unless PerQuarter
	Offered int
	Tally   a11.Tally
}

// Scores returns aggregated scores by offering, provider, service, stage
// or quarter. It is a system call with no access check: it returns only
// counts, which the marketplace shows on offering cards and comparisons.
// Callers showing scores publicly should hide groups with few responses
// (see MinPublicResponses).
func (s *Service) Scores(ctx context.Context, q ScoreQuery) ([]Score, error) {
	if !q.By.Valid() {
		return nil, apperr.Validation(map[string]string{"by": "by is stage, service, provider, offering or quarter."})
	}
	r, err := s.report(ctx, q.Filter, nil)
	if err != nil {
		return nil, err
	}
	var out []Score
	if !q.PerQuarter {
		for _, g := range r.By(q.By) {
			out = append(out, Score{Key: g.Key, Label: g.Label, Offered: g.Offered, Tally: g.Tally})
		}
		return out, nil
	}
	for _, row := range r.Series(q.By) {
		for i, g := range row.Quarters {
			out = append(out, Score{Key: row.Key, Label: row.Label, Quarter: r.Quarters[i], Offered: g.Offered, Tally: g.Tally})
		}
	}
	return out, nil
}

// MinPublicResponses is the fewest responses a score should rest on before
// it is shown beyond the office: fewer could point at one person's answer.
const MinPublicResponses = 5

// OfferingTrust returns the trust tallies of the given offerings over the
// last DefaultRange quarters, keyed by offering ID, for storefront cards
// and comparisons (one query for all of them). Offerings without responses
// are absent. Like Scores it has no access check.
func (s *Service) OfferingTrust(ctx context.Context, offeringIDs []string) (map[string]a11.Tally, error) {
	out := map[string]a11.Tally{}
	if len(offeringIDs) == 0 {
		return out, nil
	}
	all, err := s.trustByOffering(ctx)
	if err != nil {
		return nil, err
	}
	for _, oid := range offeringIDs {
		if t, ok := all[oid]; ok {
			out[oid] = t
		}
	}
	return out, nil
}

// trustTTL is how long the trust of every offering is reused: storefront
// cards and comparisons read it on every request. Answers given through
// this process show at once; another replica's within trustTTL.
const trustTTL = 5 * time.Second

// tallyWrites counts this process's changes to cx_tallies, so cached
// figures know they are out of date.
var tallyWrites atomic.Int64

type trustCache struct {
	mu     sync.Mutex
	at     time.Time
	writes int64
	from   a11.Quarter
	to     a11.Quarter
	m      map[string]a11.Tally
}

// trustByOffering returns the tallies of every rated offering over the
// default range, from a cache of at most trustTTL. The returned map is
// shared: callers must not change it.
func (s *Service) trustByOffering(ctx context.Context) (map[string]a11.Tally, error) {
	f := ReportFilter{}
	now := s.DB.Now()
	f.normalize(now)
	c := &s.trust
	c.mu.Lock()
	defer c.mu.Unlock()
	writes := tallyWrites.Load()
	if c.m != nil && c.writes == writes && c.from == f.From && c.to == f.To && now.Sub(c.at) < trustTTL && !now.Before(c.at) {
		return c.m, nil
	}
	query := `SELECT c.offering_id, ` + tallySums("c") + ` FROM cx_tallies c
		WHERE c.quarter >= ? AND c.quarter <= ? AND c.offering_id <> '' GROUP BY c.offering_id HAVING SUM(c.responses) > 0`
	rows, err := s.DB.QueryContext(ctx, query, f.From.String(), f.To.String())
	if err != nil {
		return nil, fmt.Errorf("cx: offering trust: %w", err)
	}
	defer rows.Close()
	m := map[string]a11.Tally{}
	for rows.Next() {
		var oid string
		var t a11.Tally
		if err := rows.Scan(append([]any{&oid}, tallyDest(&t)...)...); err != nil {
			return nil, fmt.Errorf("cx: scan offering trust: %w", err)
		}
		m[oid] = t
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c.m, c.at, c.writes, c.from, c.to = m, now, writes, f.From, f.To
	return m, nil
}

// FeedbackStats summarizes open feedback for dashboards.
type FeedbackStats struct {
	Open    int
	ByState map[FeedbackState]int
	// Ages counts open items by age bucket (see AgeBuckets).
	Ages [len(AgeBuckets)]int
	// MedianAge is the median age of open items.
	MedianAge time.Duration
	// Oldest are the longest-open items, oldest first.
	Oldest []Feedback
}

// AgeBucket is a range of ages of open feedback.
type AgeBucket struct {
	Label string
	Below time.Duration // upper bound, exclusive; 0 for the last bucket
}

// AgeBuckets are the age ranges dashboards show.
var AgeBuckets = [4]AgeBucket{
	{"Under a week", 7 * 24 * time.Hour},
	{"1 to 4 weeks", 28 * 24 * time.Hour},
	{"1 to 3 months", 91 * 24 * time.Hour},
	{"Over 3 months", 0},
}

func ageBucket(d time.Duration) int {
	for i, b := range AgeBuckets {
		if b.Below == 0 || d < b.Below {
			return i
		}
	}
	return len(AgeBuckets) - 1
}

// Feedback summarizes the open feedback the principal may read.
func (s *Service) FeedbackStats(ctx context.Context, p *authz.Principal) (FeedbackStats, error) {
	items, err := s.ListFeedback(ctx, p, FeedbackFilter{OpenOnly: true, Limit: 500})
	if err != nil {
		return FeedbackStats{}, err
	}
	now := s.DB.Now()
	st := FeedbackStats{ByState: map[FeedbackState]int{}}
	var ages []time.Duration
	for _, f := range items {
		st.Open++
		st.ByState[f.State]++
		age := f.Age(now)
		st.Ages[ageBucket(age)]++
		ages = append(ages, age)
	}
	if len(ages) > 0 {
		sort.Slice(ages, func(i, j int) bool { return ages[i] < ages[j] })
		mid := len(ages) / 2
		st.MedianAge = ages[mid]
		if len(ages)%2 == 0 {
			st.MedianAge = (ages[mid-1] + ages[mid]) / 2
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].CreatedAt.Before(items[j].CreatedAt) })
	st.Oldest = items[:min(5, len(items))]
	return st, nil
}
