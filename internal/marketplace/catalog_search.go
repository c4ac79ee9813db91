package marketplace

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// Query is a storefront search.
type Query struct {
	Text          string
	Areas         []string
	CSF           []string
	ProviderTypes []string
	Tiers         []string
	Statuses      []string // default: listed
	Pricing       []string
	Sort          string // relevance, name, price, price_desc, agencies, newest
	Page          int
	PerPage       int
}

// Sorts are the storefront's sort orders.
var Sorts = []string{"relevance", "name", "price", "price_desc", "agencies", "newest"}

// SortLabel names a sort order.
func SortLabel(s string) string {
	switch s {
	case "name":
		return "Name"
	case "price":
		return "Price, lowest first"
	case "price_desc":
		return "Price, highest first"
	case "agencies":
		return "Most agencies using"
	case "newest":
		return "Newest listings"
	}
	return "Best match"
}

// FacetValue is one value of a facet with how many offerings it would show.
type FacetValue struct {
	Value    string
	Label    string
	Count    int
	Selected bool
}

// Facets are the storefront's filters with counts.
type Facets struct {
	Areas         []FacetValue
	CSF           []FacetValue
	ProviderTypes []FacetValue
	Tiers         []FacetValue
	Statuses      []FacetValue
	Pricing       []FacetValue
}

// Results is a page of search results.
type Results struct {
	Query     Query
	Offerings []Offering
	CX        map[string]CXScore
	Total     int
	Page      int
	Pages     int
	Facets    Facets
}

// CXOf returns an offering's CX score, if any.
func (r Results) CXOf(id string) *CXScore {
	if c, ok := r.CX[id]; ok && c.Responses > 0 {
		return &c
	}
	return nil
}

// maxQueryWords bounds a free-text query.
const maxQueryWords = 8

// Normalize trims and bounds a query from outside input, dropping unknown
// values so they cannot reach SQL (all values are bound as parameters too).
func (q *Query) Normalize(areas []ServiceArea) {
	q.Text = strings.TrimSpace(q.Text)
	if utf8.RuneCountInString(q.Text) > 200 {
		q.Text = string([]rune(q.Text)[:200])
	}
	known := map[string]bool{}
	for _, a := range areas {
		known[a.ID] = true
	}
	q.Areas = keep(q.Areas, func(v string) bool { return known[v] })
	q.CSF = keep(q.CSF, func(v string) bool { return contains(CSFFunctions, v) })
	q.ProviderTypes = keep(q.ProviderTypes, func(v string) bool {
		return v == string(OfficeOperated) || v == string(FederalSSP) || v == string(Commercial)
	})
	q.Tiers = keep(q.Tiers, func(v string) bool { return maturity.Tier(v).Valid() })
	q.Statuses = keep(q.Statuses, func(v string) bool { return contains([]string{"draft", "in_review", "listed", "paused", "retired"}, v) })
	q.Pricing = keep(q.Pricing, func(v string) bool {
		return v == string(money.Flat) || v == string(money.PerUnit) || v == string(money.Tiered)
	})
	if !contains(Sorts, q.Sort) {
		q.Sort = "relevance"
	}
	if q.PerPage <= 0 || q.PerPage > 48 {
		q.PerPage = 12
	}
	if q.Page < 1 || q.Page > 10000 {
		q.Page = 1
	}
}

func keep(vs []string, ok func(string) bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range vs {
		if ok(v) && !seen[v] && len(out) < 20 {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// filter builds the WHERE clause of a search, leaving out one facet (for
// that facet's counts).
type filter struct {
	where []string
	args  []any
}

func (f *filter) add(cond string, args ...any) {
	f.where = append(f.where, cond)
	f.args = append(f.args, args...)
}

func (f filter) sql() string {
	if len(f.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.where, " AND ")
}

func (s *Service) searchFilter(ctx context.Context, p *authz.Principal, q Query, skip string, areas []ServiceArea) (filter, error) {
	var f filter
	// Visibility: public statuses for everyone; drafts and offerings in
	// review of the providers the principal may read.
	sc, err := s.Authz.ScopeFor(ctx, p, authz.MarketOfferingRead)
	if err != nil {
		return f, err
	}
	if !sc.All {
		if len(sc.OrgIDs) == 0 {
			f.add("o.status IN ('listed', 'paused', 'retired')")
		} else {
			f.add("(o.status IN ('listed', 'paused', 'retired') OR o.provider_org_id IN ("+placeholders(len(sc.OrgIDs))+"))", anyArgs(sc.OrgIDs)...)
		}
	}
	for _, w := range strings.Fields(strings.ToLower(q.Text)) {
		if len(f.where) > maxQueryWords+1 {
			break
		}
		f.add(`o.search_text LIKE ? ESCAPE '\'`, "%"+escapeLike(w)+"%")
	}
	statuses := q.Statuses
	if len(statuses) == 0 {
		statuses = []string{"listed"}
	}
	if skip != "status" {
		f.add("o.status IN ("+placeholders(len(statuses))+")", anyArgs(statuses)...)
	}
	if skip != "area" && len(q.Areas) > 0 {
		f.add("o.service_area_id IN ("+placeholders(len(q.Areas))+")", anyArgs(q.Areas)...)
	}
	if skip != "csf" && len(q.CSF) > 0 {
		var ids []string
		for _, a := range areas {
			for _, c := range a.CSF {
				if contains(q.CSF, c) {
					ids = append(ids, a.ID)
					break
				}
			}
		}
		if len(ids) == 0 {
			f.add("1 = 0")
		} else {
			f.add("o.service_area_id IN ("+placeholders(len(ids))+")", anyArgs(ids)...)
		}
	}
	if skip != "provider_type" && len(q.ProviderTypes) > 0 {
		f.add("o.provider_type IN ("+placeholders(len(q.ProviderTypes))+")", anyArgs(q.ProviderTypes)...)
	}
	if skip != "pricing" && len(q.Pricing) > 0 {
		f.add("o.pricing_model IN ("+placeholders(len(q.Pricing))+")", anyArgs(q.Pricing)...)
	}
	if skip != "tier" && len(q.Tiers) > 0 {
		f.add(`EXISTS (SELECT 1 FROM market_offering_tiers t WHERE t.offering_id = o.id AND t.tier IN (`+placeholders(len(q.Tiers))+`)
			AND (t.listed OR o.status IN ('draft', 'in_review', 'retired')))`, anyArgs(q.Tiers)...)
	}
	return f, nil
}

func orderBy(q Query) string {
	switch q.Sort {
	case "name":
		return "o.name, o.id"
	case "price":
		return "o.price_from_cents, o.name, o.id"
	case "price_desc":
		return "o.price_from_cents DESC, o.name, o.id"
	case "agencies":
		return "o.agencies_using DESC, o.name, o.id"
	case "newest":
		return "COALESCE(o.listed_at, o.created_at) DESC, o.id"
	}
	if q.Text != "" {
		// Offerings whose name holds the first word come first.
		return "CASE WHEN LOWER(o.name) LIKE ? ESCAPE '\\' THEN 0 ELSE 1 END, o.agencies_using DESC, o.name, o.id"
	}
	return "o.agencies_using DESC, o.name, o.id"
}

// Search runs a storefront query: the page of offerings, the total, and
// each facet's counts under the other filters.
func (s *Service) Search(ctx context.Context, p *authz.Principal, q Query) (Results, error) {
	if p == nil {
		return Results{}, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	areas, err := s.Areas(ctx)
	if err != nil {
		return Results{}, err
	}
	q.Normalize(areas)
	res := Results{Query: q, Page: q.Page}
	f, err := s.searchFilter(ctx, p, q, "", areas)
	if err != nil {
		return res, err
	}
	if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM market_offerings o"+f.sql(), f.args...).Scan(&res.Total); err != nil {
		return res, fmt.Errorf("marketplace: count offerings: %w", err)
	}
	res.Pages = max(1, (res.Total+q.PerPage-1)/q.PerPage)
	args := append([]any{}, f.args...)
	ob := orderBy(q)
	if strings.Contains(ob, "?") {
		args = append(args, "%"+escapeLike(strings.ToLower(strings.Fields(q.Text)[0]))+"%")
	}
	args = append(args, q.PerPage, (q.Page-1)*q.PerPage)
	rows, err := s.DB.QueryContext(ctx, "SELECT "+offeringColumns+offeringFrom+f.sql()+" ORDER BY "+ob+" LIMIT ? OFFSET ?", args...)
	if err != nil {
		return res, fmt.Errorf("marketplace: search: %w", err)
	}
	var ids []string
	for rows.Next() {
		o, err := scanOffering(rows)
		if err != nil {
			rows.Close()
			return res, err
		}
		res.Offerings = append(res.Offerings, o)
		ids = append(ids, o.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, err
	}
	tiers, err := loadTiers(ctx, s.DB, ids)
	if err != nil {
		return res, err
	}
	for i := range res.Offerings {
		res.Offerings[i].Tiers = tiers[res.Offerings[i].ID]
	}
	res.CX = s.cxScores(ctx, ids)
	res.Facets, err = s.facets(ctx, p, q, areas)
	return res, err
}

func (s *Service) facetCounts(ctx context.Context, p *authz.Principal, q Query, areas []ServiceArea, skip, column string) (map[string]int, error) {
	f, err := s.searchFilter(ctx, p, q, skip, areas)
	if err != nil {
		return nil, err
	}
	from := " FROM market_offerings o"
	if skip == "tier" {
		from += " JOIN market_offering_tiers t ON t.offering_id = o.id AND (t.listed OR o.status IN ('draft', 'in_review', 'retired'))"
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT "+column+", COUNT(DISTINCT o.id)"+from+f.sql()+" GROUP BY "+column, f.args...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: facet %s: %w", skip, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var v string
		var n int
		if err := rows.Scan(&v, &n); err != nil {
			return nil, err
		}
		out[v] = n
	}
	return out, rows.Err()
}

func (s *Service) facets(ctx context.Context, p *authz.Principal, q Query, areas []ServiceArea) (Facets, error) {
	var fs Facets
	byArea, err := s.facetCounts(ctx, p, q, areas, "area", "o.service_area_id")
	if err != nil {
		return fs, err
	}
	for _, a := range areas {
		fs.Areas = append(fs.Areas, FacetValue{Value: a.ID, Label: a.Name, Count: byArea[a.ID], Selected: contains(q.Areas, a.ID)})
	}
	byAreaCSF, err := s.facetCounts(ctx, p, q, areas, "csf", "o.service_area_id")
	if err != nil {
		return fs, err
	}
	for _, c := range CSFFunctions {
		n := 0
		for _, a := range areas {
			if contains(a.CSF, c) {
				n += byAreaCSF[a.ID]
			}
		}
		fs.CSF = append(fs.CSF, FacetValue{Value: c, Label: CSFLabel(c), Count: n, Selected: contains(q.CSF, c)})
	}
	byType, err := s.facetCounts(ctx, p, q, areas, "provider_type", "o.provider_type")
	if err != nil {
		return fs, err
	}
	for _, t := range ProviderTypes {
		fs.ProviderTypes = append(fs.ProviderTypes, FacetValue{Value: string(t), Label: t.Label(), Count: byType[string(t)], Selected: contains(q.ProviderTypes, string(t))})
	}
	byTier, err := s.facetCounts(ctx, p, q, areas, "tier", "t.tier")
	if err != nil {
		return fs, err
	}
	for _, t := range maturity.Tiers() {
		fs.Tiers = append(fs.Tiers, FacetValue{Value: string(t), Label: t.Label(), Count: byTier[string(t)], Selected: contains(q.Tiers, string(t))})
	}
	byStatus, err := s.facetCounts(ctx, p, q, areas, "status", "o.status")
	if err != nil {
		return fs, err
	}
	statuses := q.Statuses
	if len(statuses) == 0 {
		statuses = []string{"listed"}
	}
	for _, st := range []lifecycle.State{lifecycle.Listed, lifecycle.Paused, lifecycle.Retired, lifecycle.InReview, lifecycle.Draft} {
		n := byStatus[string(st)]
		if n == 0 && (st == lifecycle.Draft || st == lifecycle.InReview) && !contains(statuses, string(st)) {
			continue // drafts exist only for their providers and the office
		}
		fs.Statuses = append(fs.Statuses, FacetValue{Value: string(st), Label: lifecycle.Offerings.Label(st), Count: n, Selected: contains(statuses, string(st))})
	}
	byPrice, err := s.facetCounts(ctx, p, q, areas, "pricing", "o.pricing_model")
	if err != nil {
		return fs, err
	}
	for _, m := range []money.Model{money.Flat, money.PerUnit, money.Tiered} {
		fs.Pricing = append(fs.Pricing, FacetValue{Value: string(m), Label: m.Label(), Count: byPrice[string(m)], Selected: contains(q.Pricing, string(m))})
	}
	return fs, nil
}

// SortOptions lists the sort orders for forms.
func SortOptions() [][2]string {
	var out [][2]string
	for _, s := range Sorts {
		out = append(out, [2]string{s, SortLabel(s)})
	}
	return out
}
