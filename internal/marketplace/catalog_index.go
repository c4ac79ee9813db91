package marketplace

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// The storefront filters, counts facets, sorts and pages in memory over a
// small index of every offering (a few hundred rows, with their tiers and
// price books), then reads the page's providers' names from the database
// (organizations are renamed elsewhere). The index is reloaded when the catalog's
// generation changes: every transaction that changes an offering's status,
// tiers, pricing or agency count adds one to it (bumpCatalog), so one cheap
// read per search tells whether the index is current.

// indexEntry is what search needs of one offering.
type indexEntry struct {
	ID, ProviderOrgID, AreaID string
	Name, lowerName           string
	SearchText                string
	Status                    lifecycle.State
	ProviderType              ProviderType
	Pricing                   money.Model
	PriceFrom                 int64
	Agencies                  int
	Newest                    time.Time
	Tiers                     []indexTier
	// Offering is the whole offering with its tiers and prices, shared by
	// every search: read only.
	Offering Offering
}

type indexTier struct {
	Tier   maturity.Tier
	Listed bool
}

// tierCounts says whether a tier of the offering counts for the tier facet:
// listed tiers of listed or paused offerings; every tier of drafts, offerings
// in review and retired ones (nothing is listed then).
func (e *indexEntry) tierCounts(t indexTier) bool {
	return t.Listed || e.Status == lifecycle.Draft || e.Status == lifecycle.InReview || e.Status == lifecycle.Retired
}

type catalogIndex struct {
	gen     int64
	entries []indexEntry
	pos     map[string]int // entry by offering ID
	// standards are the areas' current published standards (absent: none
	// yet). A published version's requirements never change; publishing
	// the next one moves the generation.
	standards map[string]*Standard
}

const catalogGeneration = "catalog_generation"

// bumpCatalog marks the catalog changed by the transaction.
func bumpCatalog(ctx context.Context, tx *db.Tx) error {
	if _, err := tx.ExecContext(ctx, "UPDATE market_counters SET value = value + 1 WHERE name = ?", catalogGeneration); err != nil {
		return fmt.Errorf("marketplace: catalog generation: %w", err)
	}
	return nil
}

// BumpCatalog marks the catalog changed outside the service (bulk loaders
// writing offerings with SQL).
func BumpCatalog(ctx context.Context, d *db.DB) error {
	return d.InTx(ctx, func(tx *db.Tx) error { return bumpCatalog(ctx, tx) })
}

// index returns the current catalog index.
func (s *Service) index(ctx context.Context) (*catalogIndex, error) {
	var gen int64
	// Read the generation before the rows: a change committed in between
	// makes the index newer than its generation, and the next search
	// reloads it; never the other way round.
	if err := s.DB.QueryRowContext(ctx, "SELECT value FROM market_counters WHERE name = ?", catalogGeneration).Scan(&gen); err != nil {
		return nil, fmt.Errorf("marketplace: catalog generation: %w", err)
	}
	s.mu.RLock()
	ix := s.catalog
	s.mu.RUnlock()
	if ix != nil && ix.gen == gen {
		return ix, nil
	}
	ix = &catalogIndex{gen: gen}
	rows, err := s.DB.QueryContext(ctx, `SELECT id, provider_org_id, service_area_id, name, search_text, status, provider_type, pricing_model,
		price_from_cents, agencies_using, COALESCE(listed_at, created_at) FROM market_offerings ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("marketplace: catalog index: %w", err)
	}
	pos := map[string]int{}
	for rows.Next() {
		var e indexEntry
		var status, ptype, model string
		if err := rows.Scan(&e.ID, &e.ProviderOrgID, &e.AreaID, &e.Name, &e.SearchText, &status, &ptype, &model,
			&e.PriceFrom, &e.Agencies, (*db.Time)(&e.Newest)); err != nil {
			rows.Close()
			return nil, fmt.Errorf("marketplace: scan catalog index: %w", err)
		}
		e.lowerName = strings.ToLower(e.Name)
		e.Status, e.ProviderType, e.Pricing = lifecycle.State(status), ProviderType(ptype), money.Model(model)
		pos[e.ID] = len(ix.entries)
		ix.entries = append(ix.entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	trows, err := s.DB.QueryContext(ctx, "SELECT offering_id, tier, listed FROM market_offering_tiers ORDER BY offering_id, tier")
	if err != nil {
		return nil, fmt.Errorf("marketplace: catalog index tiers: %w", err)
	}
	defer trows.Close()
	for trows.Next() {
		var oid, tier string
		var listed bool
		if err := trows.Scan(&oid, &tier, &listed); err != nil {
			return nil, err
		}
		if i, ok := pos[oid]; ok {
			ix.entries[i].Tiers = append(ix.entries[i].Tiers, indexTier{Tier: maturity.Tier(tier), Listed: listed})
		}
	}
	if err := trows.Err(); err != nil {
		return nil, err
	}
	full, err := s.offeringsWhere(ctx, "1 = 1", nil, "o.id")
	if err != nil {
		return nil, err
	}
	for _, o := range full {
		if i, ok := pos[o.ID]; ok {
			ix.entries[i].Offering = o
		}
	}
	// An offering created between the two reads waits for the next reload.
	ix.entries = slices.DeleteFunc(ix.entries, func(e indexEntry) bool { return e.Offering.ID == "" })
	ix.pos = make(map[string]int, len(ix.entries))
	for i, e := range ix.entries {
		ix.pos[e.ID] = i
	}
	if ix.standards, err = currentStandards(ctx, s.DB); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.catalog == nil || s.catalog.gen <= gen {
		s.catalog = ix
	}
	s.mu.Unlock()
	return ix, nil
}

// currentStandards loads every area's published standard.
func currentStandards(ctx context.Context, q db.Queryer) (map[string]*Standard, error) {
	rows, err := q.QueryContext(ctx, "SELECT id FROM market_standards WHERE status = 'published'")
	if err != nil {
		return nil, fmt.Errorf("marketplace: current standards: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[string]*Standard{}
	for _, id := range ids {
		st, err := loadStandard(ctx, q, id)
		if err != nil {
			return nil, err
		}
		out[st.AreaID] = &st
	}
	return out, nil
}

// withProviderNames copies offerings of the index, with their providers'
// current names.
func (s *Service) withProviderNames(ctx context.Context, es []*indexEntry) ([]Offering, error) {
	out := make([]Offering, len(es))
	var provs []string
	for i, e := range es {
		out[i] = e.Offering
		out[i].Tiers = append([]OfferingTier(nil), e.Offering.Tiers...)
		if !contains(provs, e.ProviderOrgID) {
			provs = append(provs, e.ProviderOrgID)
		}
	}
	if len(provs) == 0 {
		return out, nil
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT id, name FROM orgs WHERE id IN ("+placeholders(len(provs))+")", anyArgs(provs)...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: provider names: %w", err)
	}
	defer rows.Close()
	names := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		names[id] = name
	}
	for i := range out {
		if n, ok := names[out[i].ProviderOrgID]; ok {
			out[i].ProviderName = n
		}
	}
	return out, rows.Err()
}
