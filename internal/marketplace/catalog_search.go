package marketplace

import (
	"context"
	"slices"
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

// publicStatus says whether everyone signed in sees offerings in the status.
func publicStatus(st lifecycle.State) bool {
	return st == lifecycle.Listed || st == lifecycle.Paused || st == lifecycle.Retired
}

// facet names a storefront filter.
type facet int

const (
	facetStatus facet = iota
	facetArea
	facetCSF
	facetProviderType
	facetPricing
	facetTier
	facetCount
)

// matcher applies a query's filters to index entries.
type matcher struct {
	q        Query
	statuses []lifecycle.State
	words    []string
	csfAreas map[string]bool // areas tagged with a selected CSF function
}

func newMatcher(q Query, areas []ServiceArea) matcher {
	m := matcher{q: q}
	statuses := q.Statuses
	if len(statuses) == 0 {
		statuses = []string{"listed"}
	}
	for _, st := range statuses {
		m.statuses = append(m.statuses, lifecycle.State(st))
	}
	for _, w := range strings.Fields(strings.ToLower(q.Text)) {
		if len(m.words) == maxQueryWords {
			break
		}
		m.words = append(m.words, w)
	}
	if len(q.CSF) > 0 {
		m.csfAreas = map[string]bool{}
		for _, a := range areas {
			for _, c := range a.CSF {
				if contains(q.CSF, c) {
					m.csfAreas[a.ID] = true
				}
			}
		}
	}
	return m
}

// text says whether the entry holds every word of the query.
func (m matcher) text(e *indexEntry) bool {
	for _, w := range m.words {
		if !strings.Contains(e.SearchText, w) {
			return false
		}
	}
	return true
}

// passes says which facet filters the entry passes.
func (m matcher) passes(e *indexEntry) (ok [facetCount]bool) {
	for _, st := range m.statuses {
		if e.Status == st {
			ok[facetStatus] = true
		}
	}
	ok[facetArea] = len(m.q.Areas) == 0 || contains(m.q.Areas, e.AreaID)
	ok[facetCSF] = m.csfAreas == nil || m.csfAreas[e.AreaID]
	ok[facetProviderType] = len(m.q.ProviderTypes) == 0 || contains(m.q.ProviderTypes, string(e.ProviderType))
	ok[facetPricing] = len(m.q.Pricing) == 0 || contains(m.q.Pricing, string(e.Pricing))
	ok[facetTier] = len(m.q.Tiers) == 0
	for _, t := range e.Tiers {
		if !ok[facetTier] && e.tierCounts(t) && contains(m.q.Tiers, string(t.Tier)) {
			ok[facetTier] = true
		}
	}
	return ok
}

// allBut says whether every filter but skip passes (skip = facetCount:
// every filter).
func allBut(ok [facetCount]bool, skip facet) bool {
	for f := facet(0); f < facetCount; f++ {
		if f != skip && !ok[f] {
			return false
		}
	}
	return true
}

// sortEntries orders search results.
func sortEntries(es []*indexEntry, q Query, words []string) {
	byName := func(a, b *indexEntry) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}
	var cmp func(a, b *indexEntry) int
	switch q.Sort {
	case "name":
		cmp = byName
	case "price":
		cmp = func(a, b *indexEntry) int {
			if a.PriceFrom != b.PriceFrom {
				return compareInt64(a.PriceFrom, b.PriceFrom)
			}
			return byName(a, b)
		}
	case "price_desc":
		cmp = func(a, b *indexEntry) int {
			if a.PriceFrom != b.PriceFrom {
				return compareInt64(b.PriceFrom, a.PriceFrom)
			}
			return byName(a, b)
		}
	case "newest":
		cmp = func(a, b *indexEntry) int {
			if !a.Newest.Equal(b.Newest) {
				return b.Newest.Compare(a.Newest)
			}
			return strings.Compare(a.ID, b.ID)
		}
	default: // agencies, relevance
		cmp = func(a, b *indexEntry) int {
			if q.Sort == "relevance" && len(words) > 0 {
				// Offerings whose name holds the first word come first.
				ia, ib := strings.Contains(a.lowerName, words[0]), strings.Contains(b.lowerName, words[0])
				if ia != ib {
					if ia {
						return -1
					}
					return 1
				}
			}
			if a.Agencies != b.Agencies {
				return b.Agencies - a.Agencies
			}
			return byName(a, b)
		}
	}
	slices.SortFunc(es, cmp)
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
	// Visibility: public statuses for everyone; drafts and offerings in
	// review of the providers the principal may read.
	sc, err := s.Authz.ScopeFor(ctx, p, authz.MarketOfferingRead)
	if err != nil {
		return res, err
	}
	ix, err := s.index(ctx)
	if err != nil {
		return res, err
	}
	m := newMatcher(q, areas)
	var hits []*indexEntry
	counts := [facetCount]map[string]int{}
	for f := range counts {
		counts[f] = map[string]int{}
	}
	for i := range ix.entries {
		e := &ix.entries[i]
		if !sc.All && !publicStatus(e.Status) && !contains(sc.OrgIDs, e.ProviderOrgID) {
			continue
		}
		if !m.text(e) {
			continue
		}
		ok := m.passes(e)
		if allBut(ok, facetCount) {
			hits = append(hits, e)
		}
		if allBut(ok, facetStatus) {
			counts[facetStatus][string(e.Status)]++
		}
		if allBut(ok, facetArea) {
			counts[facetArea][e.AreaID]++
		}
		if allBut(ok, facetCSF) {
			counts[facetCSF][e.AreaID]++
		}
		if allBut(ok, facetProviderType) {
			counts[facetProviderType][string(e.ProviderType)]++
		}
		if allBut(ok, facetPricing) {
			counts[facetPricing][string(e.Pricing)]++
		}
		if allBut(ok, facetTier) {
			for _, t := range e.Tiers {
				if e.tierCounts(t) {
					counts[facetTier][string(t.Tier)]++
				}
			}
		}
	}
	res.Total = len(hits)
	res.Pages = max(1, (res.Total+q.PerPage-1)/q.PerPage)
	sortEntries(hits, q, m.words)
	from := min((q.Page-1)*q.PerPage, len(hits))
	to := min(from+q.PerPage, len(hits))
	var ids []string
	for _, e := range hits[from:to] {
		ids = append(ids, e.ID)
	}
	if res.Offerings, err = s.withProviderNames(ctx, hits[from:to]); err != nil {
		return res, err
	}
	res.CX = s.cxScores(ctx, ids)
	res.Facets = facetsOf(q, areas, counts)
	return res, nil
}

func facetsOf(q Query, areas []ServiceArea, counts [facetCount]map[string]int) Facets {
	var fs Facets
	for _, a := range areas {
		fs.Areas = append(fs.Areas, FacetValue{Value: a.ID, Label: a.Name, Count: counts[facetArea][a.ID], Selected: contains(q.Areas, a.ID)})
	}
	for _, c := range CSFFunctions {
		n := 0
		for _, a := range areas {
			if contains(a.CSF, c) {
				n += counts[facetCSF][a.ID]
			}
		}
		fs.CSF = append(fs.CSF, FacetValue{Value: c, Label: CSFLabel(c), Count: n, Selected: contains(q.CSF, c)})
	}
	for _, t := range ProviderTypes {
		fs.ProviderTypes = append(fs.ProviderTypes, FacetValue{Value: string(t), Label: t.Label(), Count: counts[facetProviderType][string(t)], Selected: contains(q.ProviderTypes, string(t))})
	}
	for _, t := range maturity.Tiers() {
		fs.Tiers = append(fs.Tiers, FacetValue{Value: string(t), Label: t.Label(), Count: counts[facetTier][string(t)], Selected: contains(q.Tiers, string(t))})
	}
	statuses := q.Statuses
	if len(statuses) == 0 {
		statuses = []string{"listed"}
	}
	for _, st := range []lifecycle.State{lifecycle.Listed, lifecycle.Paused, lifecycle.Retired, lifecycle.InReview, lifecycle.Draft} {
		n := counts[facetStatus][string(st)]
		if n == 0 && (st == lifecycle.Draft || st == lifecycle.InReview) && !contains(statuses, string(st)) {
			continue // drafts exist only for their providers and the office
		}
		fs.Statuses = append(fs.Statuses, FacetValue{Value: string(st), Label: lifecycle.Offerings.Label(st), Count: n, Selected: contains(statuses, string(st))})
	}
	for _, m := range []money.Model{money.Flat, money.PerUnit, money.Tiered} {
		fs.Pricing = append(fs.Pricing, FacetValue{Value: string(m), Label: m.Label(), Count: counts[facetPricing][string(m)], Selected: contains(q.Pricing, string(m))})
	}
	return fs
}

// SortOptions lists the sort orders for forms.
func SortOptions() [][2]string {
	var out [][2]string
	for _, s := range Sorts {
		out = append(out, [2]string{s, SortLabel(s)})
	}
	return out
}
