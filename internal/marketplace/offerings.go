package marketplace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// ProviderType says who stands behind an offering.
type ProviderType string

// Provider types. The office operates its own offerings (Protective DNS,
// vulnerability disclosure, SOC) as their provider.
const (
	OfficeOperated ProviderType = "office"
	FederalSSP     ProviderType = "federal_ssp"
	Commercial     ProviderType = "commercial"
)

// ProviderTypes lists the provider types in display order.
var ProviderTypes = []ProviderType{OfficeOperated, FederalSSP, Commercial}

// Label names the provider type.
func (t ProviderType) Label() string {
	switch t {
	case OfficeOperated:
		return "Office-operated"
	case FederalSSP:
		return "Federal shared service provider"
	case Commercial:
		return "Commercial (contract vehicle)"
	}
	return string(t)
}

// Offering is a service a provider sells through the marketplace.
type Offering struct {
	ID              string
	ProviderOrgID   string
	ProviderName    string
	ProviderKind    string // office or provider
	AreaID          string
	AreaName        string
	Name            string
	Summary         string
	Description     string
	ProviderType    ProviderType
	ContractVehicle string
	Prerequisites   []string
	OnboardingDays  int
	Status          lifecycle.State
	PricingModel    money.Model
	PriceFrom       int64
	AgenciesUsing   int
	StatusChangedAt time.Time
	ListedAt        time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Tiers           []OfferingTier
}

// OfferingTier is one tier of an offering: its SLA, whether it is listed,
// and its price book.
type OfferingTier struct {
	Tier            maturity.Tier
	Description     string
	AvailabilityBP  int // basis points: 9990 is 99.90%
	ResponseMinutes int
	SupportHours    string
	Listed          bool
	Prices          []money.Line
}

// Availability formats the availability target.
func (t OfferingTier) Availability() string {
	if t.AvailabilityBP == 0 {
		return "—"
	}
	return fmt.Sprintf("%d.%02d%%", t.AvailabilityBP/100, t.AvailabilityBP%100)
}

// Response formats the critical response time.
func (t OfferingTier) Response() string { return minutesLabel(t.ResponseMinutes) }

func minutesLabel(m int) string {
	switch {
	case m == 0:
		return "—"
	case m%1440 == 0:
		return plural(m/1440, "day")
	case m%60 == 0:
		return plural(m/60, "hour")
	default:
		return plural(m, "minute")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// Monthly is the tier's monthly recurring price.
func (t OfferingTier) Monthly() int64 {
	m, _ := money.Monthly(t.Prices)
	return m
}

// StatusLabel names the offering's status.
func (o Offering) StatusLabel() string { return lifecycle.Offerings.Label(o.Status) }

// Orderable reports whether agencies can order the offering now.
func (o Offering) Orderable() bool { return o.Status == lifecycle.Listed && len(o.ListedTiers()) > 0 }

// ListedTiers returns the tiers agencies can order.
func (o Offering) ListedTiers() []OfferingTier {
	var out []OfferingTier
	for _, t := range o.Tiers {
		if t.Listed {
			out = append(out, t)
		}
	}
	return out
}

// Tier returns one tier of the offering.
func (o Offering) Tier(t maturity.Tier) (OfferingTier, bool) {
	for _, x := range o.Tiers {
		if x.Tier == t {
			return x, true
		}
	}
	return OfferingTier{}, false
}

// public reports whether every signed-in person may see the offering.
func (o Offering) public() bool {
	return o.Status == lifecycle.Listed || o.Status == lifecycle.Paused || o.Status == lifecycle.Retired
}

// TierInput is a tier as a provider describes it.
type TierInput struct {
	Tier            maturity.Tier
	Description     string
	AvailabilityBP  int
	ResponseMinutes int
	SupportHours    string
}

// OfferingInput is what a provider fills in to create or edit an offering.
type OfferingInput struct {
	ProviderOrgID   string // on create only
	AreaID          string // on create only
	Name            string
	Summary         string
	Description     string
	ProviderType    ProviderType
	ContractVehicle string
	Prerequisites   []string
	OnboardingDays  int
	Tiers           []TierInput
}

var supportHoursRE = regexp.MustCompile(`^[A-Za-z0-9 ,.:/×x()-]{1,60}$`)

func textOK(s string, minLen, maxLen int) bool {
	n := utf8.RuneCountInString(s)
	return n >= minLen && n <= maxLen && !strings.ContainsAny(s, "\x00")
}

func (s *Service) validateOffering(ctx context.Context, in *OfferingInput, providerKind string) map[string]string {
	errs := map[string]string{}
	in.Name = strings.TrimSpace(in.Name)
	in.Summary = strings.TrimSpace(in.Summary)
	in.Description = strings.TrimSpace(in.Description)
	in.ContractVehicle = strings.TrimSpace(in.ContractVehicle)
	if !textOK(in.Name, 3, 120) {
		errs["name"] = "Enter the offering's name (3 to 120 characters)."
	}
	if !textOK(in.Summary, 10, 300) {
		errs["summary"] = "Enter a one-sentence summary (10 to 300 characters)."
	}
	if !textOK(in.Description, 0, 5000) {
		errs["description"] = "The description is at most 5,000 characters."
	}
	switch {
	case providerKind == "office" && in.ProviderType != OfficeOperated:
		errs["provider_type"] = "Offerings of the office are office-operated."
	case providerKind == "provider" && in.ProviderType != FederalSSP && in.ProviderType != Commercial:
		errs["provider_type"] = "Choose federal shared service provider or commercial."
	}
	if in.ProviderType == Commercial && !textOK(in.ContractVehicle, 3, 200) {
		errs["contract_vehicle"] = "Name the contract vehicle agencies order through, such as GSA MAS SIN 54151HACS."
	} else if !textOK(in.ContractVehicle, 0, 200) {
		errs["contract_vehicle"] = "The contract vehicle is at most 200 characters."
	}
	if in.OnboardingDays < 1 || in.OnboardingDays > 180 {
		errs["onboarding_days"] = "Give the onboarding time in days, 1 to 180."
	}
	if q, ok := s.Questionnaires.Latest(in.AreaID); ok {
		for _, c := range in.Prerequisites {
			if _, ok := q.Capabilities[c]; !ok {
				errs["prerequisites"] = "Choose prerequisites from the list."
			}
		}
	} else if len(in.Prerequisites) > 0 {
		errs["prerequisites"] = "This service area has no capabilities to require."
	}
	seen := map[maturity.Tier]bool{}
	if len(in.Tiers) == 0 {
		errs["tiers"] = "Offer at least one tier."
	}
	for _, t := range in.Tiers {
		key := "tier_" + string(t.Tier)
		switch {
		case !t.Tier.Valid() || seen[t.Tier]:
			errs["tiers"] = "Offer each tier at most once."
		case t.AvailabilityBP < 9000 || t.AvailabilityBP > 10000:
			errs[key+"_availability"] = "Give the availability target between 90.00% and 100.00%."
		case t.ResponseMinutes < 1 || t.ResponseMinutes > 10080:
			errs[key+"_response"] = "Give the critical response time in minutes, up to a week (10080)."
		case !supportHoursRE.MatchString(t.SupportHours):
			errs[key+"_support"] = "Give the support hours, such as 24x7 or Mon-Fri 8:00-18:00 ET."
		case !textOK(t.Description, 0, 1000):
			errs[key+"_description"] = "A tier's description is at most 1,000 characters."
		}
		seen[t.Tier] = true
	}
	return errs
}

// providerParty resolves the organization a principal may act for as an
// offering's provider: the provider organization itself (for the office's
// own offerings, the office).
func (s *Service) checkProviderMember(ctx context.Context, p *authz.Principal, providerOrgID string) error {
	return s.Authz.CheckMember(ctx, p, authz.MarketOfferingManage, providerOrgID)
}

// CreateOffering creates a draft offering for a provider (or for the
// office, which operates its own). Only the provider's own people with
// market.offering.manage may; errors: invalid, not_found, forbidden.
func (s *Service) CreateOffering(ctx context.Context, p *authz.Principal, in OfferingInput) (Offering, error) {
	if err := s.checkProviderMember(ctx, p, in.ProviderOrgID); err != nil {
		return Offering{}, err
	}
	prov, err := getOrgInfo(ctx, s.DB, in.ProviderOrgID)
	if err != nil {
		return Offering{}, err
	}
	if prov.Kind == "agency" {
		return Offering{}, apperr.New(apperr.Invalid, "Agencies buy offerings; providers and the office list them.")
	}
	if _, err := s.Area(ctx, in.AreaID); err != nil {
		return Offering{}, apperr.Validation(map[string]string{"area": "Choose a service area."})
	}
	if errs := s.validateOffering(ctx, &in, prov.Kind); len(errs) > 0 {
		return Offering{}, apperr.Validation(errs)
	}
	now := s.now()
	o := Offering{ID: id.New("off"), ProviderOrgID: prov.ID, ProviderName: prov.Name, ProviderKind: prov.Kind, AreaID: in.AreaID,
		Status: lifecycle.Draft, PricingModel: money.Flat, CreatedAt: now, UpdatedAt: now, StatusChangedAt: now}
	applyInput(&o, in)
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO market_offerings (id, provider_org_id, service_area_id, name, summary, description, provider_type,
			contract_vehicle, prerequisites, onboarding_days, status, pricing_model, price_from_cents, agencies_using, search_text, status_changed_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft', 'flat', 0, 0, ?, ?, ?, ?)`,
			o.ID, o.ProviderOrgID, o.AreaID, o.Name, o.Summary, o.Description, string(o.ProviderType), o.ContractVehicle,
			strings.Join(o.Prerequisites, ","), o.OnboardingDays, s.searchText(ctx, o), db.TS(now), db.TS(now), db.TS(now))
		if err != nil {
			return fmt.Errorf("marketplace: insert offering: %w", err)
		}
		if err := replaceTiers(ctx, tx, o.ID, in.Tiers, nil); err != nil {
			return err
		}
		if err := addHistory(ctx, tx, o.ID, "", lifecycle.Draft, "Created", actorLabel(p), now); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.ProviderOrgID, Action: "market.offering.create", TargetType: "offering", TargetID: o.ID,
			Summary: fmt.Sprintf("Created offering “%s”", o.Name), After: offeringView(o, in.Tiers)})
	})
	if err != nil {
		return Offering{}, err
	}
	return s.GetOffering(ctx, p, o.ID)
}

func applyInput(o *Offering, in OfferingInput) {
	o.Name, o.Summary, o.Description = in.Name, in.Summary, in.Description
	o.ProviderType, o.ContractVehicle = in.ProviderType, in.ContractVehicle
	o.Prerequisites = append([]string(nil), in.Prerequisites...)
	sort.Strings(o.Prerequisites)
	o.OnboardingDays = in.OnboardingDays
}

func offeringView(o Offering, tiers []TierInput) map[string]any {
	ts := []string{}
	for _, t := range tiers {
		ts = append(ts, string(t.Tier))
	}
	return map[string]any{"name": o.Name, "summary": o.Summary, "area": o.AreaID, "provider_type": o.ProviderType,
		"contract_vehicle": o.ContractVehicle, "prerequisites": o.Prerequisites, "onboarding_days": o.OnboardingDays, "tiers": ts}
}

func (s *Service) searchText(ctx context.Context, o Offering) string {
	prov := o.ProviderName
	return strings.ToLower(strings.Join([]string{o.Name, o.Summary, o.Description, prov, s.areaName(ctx, o.AreaID), o.ContractVehicle, o.ProviderType.Label()}, " "))
}

// replaceTiers writes the offering's tiers, keeping the listed flag of
// tiers that stay (listed holds which tiers were listed before).
func replaceTiers(ctx context.Context, tx *db.Tx, offeringID string, tiers []TierInput, listed map[maturity.Tier]bool) error {
	if err := bumpCatalog(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM market_offering_tiers WHERE offering_id = ?", offeringID); err != nil {
		return fmt.Errorf("marketplace: clear tiers: %w", err)
	}
	for _, t := range tiers {
		_, err := tx.ExecContext(ctx, `INSERT INTO market_offering_tiers (offering_id, tier, description, availability_bp, response_minutes, support_hours, listed)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, offeringID, string(t.Tier), t.Description, t.AvailabilityBP, t.ResponseMinutes, t.SupportHours, listed[t.Tier])
		if err != nil {
			return fmt.Errorf("marketplace: insert tier: %w", err)
		}
	}
	return nil
}

func addHistory(ctx context.Context, tx *db.Tx, offeringID string, from, to lifecycle.State, note, actor string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO market_offering_history (id, offering_id, seq, from_status, to_status, note, actor_label, at)
		SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM market_offering_history WHERE offering_id = ?`,
		id.New("ohi"), offeringID, string(from), string(to), note, actor, db.TS(at), offeringID)
	if err != nil {
		return fmt.Errorf("marketplace: offering history: %w", err)
	}
	return nil
}

// UpdateOffering edits an offering that is not retired. Tiers that stay
// keep their listing; tiers removed must have no active subscription.
func (s *Service) UpdateOffering(ctx context.Context, p *authz.Principal, offeringID string, in OfferingInput) (Offering, error) {
	before, err := s.GetOffering(ctx, p, offeringID)
	if err != nil {
		return Offering{}, err
	}
	if err := s.actFor(ctx, p, authz.MarketOfferingManage, before.ProviderOrgID, "Only the provider's own people change its offerings."); err != nil {
		return Offering{}, err
	}
	if before.Status == lifecycle.Retired {
		return Offering{}, apperr.New(apperr.Conflict, "A retired offering cannot be edited.")
	}
	in.AreaID = before.AreaID
	if errs := s.validateOffering(ctx, &in, before.ProviderKind); len(errs) > 0 {
		return Offering{}, apperr.Validation(errs)
	}
	after := before
	applyInput(&after, in)
	after.UpdatedAt = s.now()
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		listed := map[maturity.Tier]bool{}
		keep := map[maturity.Tier]bool{}
		for _, t := range in.Tiers {
			keep[t.Tier] = true
		}
		for _, t := range before.Tiers {
			listed[t.Tier] = t.Listed
			if keep[t.Tier] {
				continue
			}
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM market_subscriptions WHERE offering_id = ? AND tier = ? AND status = 'active'", offeringID, string(t.Tier)).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return apperr.Validation(map[string]string{"tiers": fmt.Sprintf("The %s tier has %s; it cannot be removed.", strings.ToLower(t.Tier.Label()), plural(n, "active subscription"))})
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM market_prices WHERE offering_id = ? AND tier = ?", offeringID, string(t.Tier)); err != nil {
				return err
			}
		}
		if err := replaceTiers(ctx, tx, offeringID, in.Tiers, listed); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE market_offerings SET name = ?, summary = ?, description = ?, provider_type = ?, contract_vehicle = ?,
			prerequisites = ?, onboarding_days = ?, search_text = ?, updated_at = ? WHERE id = ?`,
			after.Name, after.Summary, after.Description, string(after.ProviderType), after.ContractVehicle, strings.Join(after.Prerequisites, ","),
			after.OnboardingDays, s.searchText(ctx, after), db.TS(after.UpdatedAt), offeringID)
		if err != nil {
			return fmt.Errorf("marketplace: update offering: %w", err)
		}
		if err := s.refreshPricing(ctx, tx, offeringID); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: after.ProviderOrgID, Action: "market.offering.update", TargetType: "offering", TargetID: offeringID,
			Summary: fmt.Sprintf("Updated offering “%s”", after.Name), Before: offeringView(before, tierInputs(before.Tiers)), After: offeringView(after, in.Tiers)})
	})
	if err != nil {
		return Offering{}, err
	}
	return s.GetOffering(ctx, p, offeringID)
}

func tierInputs(ts []OfferingTier) []TierInput {
	out := make([]TierInput, len(ts))
	for i, t := range ts {
		out[i] = TierInput{Tier: t.Tier, Description: t.Description, AvailabilityBP: t.AvailabilityBP, ResponseMinutes: t.ResponseMinutes, SupportHours: t.SupportHours}
	}
	return out
}

// SetPrices replaces the price book of one tier. Lines are validated as a
// set (bands of a metered unit start at zero and do not repeat).
func (s *Service) SetPrices(ctx context.Context, p *authz.Principal, offeringID string, tier maturity.Tier, lines []money.Line) (Offering, error) {
	o, err := s.GetOffering(ctx, p, offeringID)
	if err != nil {
		return Offering{}, err
	}
	if err := s.actFor(ctx, p, authz.MarketOfferingManage, o.ProviderOrgID, "Only the provider's own people change its offerings."); err != nil {
		return Offering{}, err
	}
	if o.Status == lifecycle.Retired {
		return Offering{}, apperr.New(apperr.Conflict, "A retired offering's prices cannot change.")
	}
	before, ok := o.Tier(tier)
	if !ok {
		return Offering{}, apperr.Validation(map[string]string{"tier": "Add the tier to the offering first."})
	}
	if err := checkPriceLines(lines); err != nil {
		return Offering{}, err
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM market_prices WHERE offering_id = ? AND tier = ?", offeringID, string(tier)); err != nil {
			return err
		}
		for i, l := range lines {
			_, err := tx.ExecContext(ctx, `INSERT INTO market_prices (offering_id, tier, seq, kind, unit, description, quantity, from_units, unit_price_cents)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, offeringID, string(tier), i+1, string(l.Kind), l.Unit, l.Description, l.Quantity, l.FromUnits, l.UnitPrice)
			if err != nil {
				return fmt.Errorf("marketplace: insert price: %w", err)
			}
		}
		if err := s.refreshPricing(ctx, tx, offeringID); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.ProviderOrgID, Action: "market.offering.prices", TargetType: "offering", TargetID: offeringID,
			Summary: fmt.Sprintf("Set the %s price book of “%s”", strings.ToLower(tier.Label()), o.Name), Before: before.Prices, After: lines})
	})
	if err != nil {
		return Offering{}, err
	}
	return s.GetOffering(ctx, p, offeringID)
}

// checkPriceLines validates lines people entered, with a message per line.
func checkPriceLines(lines []money.Line) error {
	if len(lines) == 0 {
		return apperr.Validation(map[string]string{"lines": "Add at least one price."})
	}
	if len(lines) > 20 {
		return apperr.Validation(map[string]string{"lines": "A price book has at most 20 lines."})
	}
	for i := range lines {
		lines[i].Description = strings.TrimSpace(lines[i].Description)
		if !textOK(lines[i].Description, 0, 200) {
			return apperr.Validation(map[string]string{"lines": fmt.Sprintf("Line %d: the description is at most 200 characters.", i+1)})
		}
		if lines[i].Kind == money.Usage && lines[i].Quantity == 0 {
			lines[i].Quantity = 1
		}
	}
	if err := money.CheckLines(lines); err != nil {
		return apperr.Validation(map[string]string{"lines": upperFirst(err.Error()) + "."})
	}
	return nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// refreshPricing recomputes the offering's pricing model and "from" price.
func (s *Service) refreshPricing(ctx context.Context, tx *db.Tx, offeringID string) error {
	tiers, err := loadTiers(ctx, tx, []string{offeringID})
	if err != nil {
		return err
	}
	model := money.Flat
	from := int64(-1)
	anyListed := false
	for _, t := range tiers[offeringID] {
		anyListed = anyListed || t.Listed
	}
	for _, t := range tiers[offeringID] {
		// Each tier has its own price book; the offering's model is the
		// most elaborate of them (graduated over per unit over flat).
		switch m := money.ModelOf(t.Prices); {
		case m == money.Tiered, m == money.PerUnit && model == money.Flat:
			model = m
		}
		if anyListed && !t.Listed || len(t.Prices) == 0 {
			continue
		}
		if m := t.Monthly(); from < 0 || m < from {
			from = m
		}
	}
	if from < 0 {
		from = 0
	}
	if _, err = tx.ExecContext(ctx, "UPDATE market_offerings SET pricing_model = ?, price_from_cents = ? WHERE id = ?", string(model), from, offeringID); err != nil {
		return fmt.Errorf("marketplace: offering pricing: %w", err)
	}
	return bumpCatalog(ctx, tx)
}

const offeringColumns = `o.id, o.provider_org_id, po.name, po.kind, o.service_area_id, a.name, o.name, o.summary, o.description, o.provider_type,
	o.contract_vehicle, o.prerequisites, o.onboarding_days, o.status, o.pricing_model, o.price_from_cents, o.agencies_using,
	o.status_changed_at, o.listed_at, o.created_at, o.updated_at`

const offeringFrom = ` FROM market_offerings o JOIN orgs po ON po.id = o.provider_org_id JOIN market_service_areas a ON a.id = o.service_area_id`

func scanOffering(rows interface{ Scan(...any) error }) (Offering, error) {
	var o Offering
	var prereq, status, ptype, model string
	err := rows.Scan(&o.ID, &o.ProviderOrgID, &o.ProviderName, &o.ProviderKind, &o.AreaID, &o.AreaName, &o.Name, &o.Summary, &o.Description, &ptype,
		&o.ContractVehicle, &prereq, &o.OnboardingDays, &status, &model, &o.PriceFrom, &o.AgenciesUsing,
		(*db.Time)(&o.StatusChangedAt), (*db.Time)(&o.ListedAt), (*db.Time)(&o.CreatedAt), (*db.Time)(&o.UpdatedAt))
	if err != nil {
		return o, fmt.Errorf("marketplace: scan offering: %w", err)
	}
	o.Prerequisites = splitList(prereq)
	o.Status, o.ProviderType, o.PricingModel = lifecycle.State(status), ProviderType(ptype), money.Model(model)
	return o, nil
}

// loadOffering reads an offering with its tiers and prices, without an
// access check.
func loadOffering(ctx context.Context, q db.Queryer, offeringID string) (Offering, error) {
	o, err := scanOffering(q.QueryRowContext(ctx, "SELECT "+offeringColumns+offeringFrom+" WHERE o.id = ?", offeringID))
	if errors.Is(err, sql.ErrNoRows) || errors.Is(errors.Unwrap(err), sql.ErrNoRows) {
		return o, notFound("Offering")
	}
	if err != nil {
		return o, err
	}
	tiers, err := loadTiers(ctx, q, []string{o.ID})
	if err != nil {
		return o, err
	}
	o.Tiers = tiers[o.ID]
	return o, nil
}

// loadTiers reads the tiers and prices of several offerings in two queries.
func loadTiers(ctx context.Context, q db.Queryer, ids []string) (map[string][]OfferingTier, error) {
	out := map[string][]OfferingTier{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT offering_id, tier, description, availability_bp, response_minutes, support_hours, listed
		FROM market_offering_tiers WHERE offering_id IN (`+placeholders(len(ids))+`)`, anyArgs(ids)...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: tiers: %w", err)
	}
	for rows.Next() {
		var oid, tier string
		var t OfferingTier
		if err := rows.Scan(&oid, &tier, &t.Description, &t.AvailabilityBP, &t.ResponseMinutes, &t.SupportHours, &t.Listed); err != nil {
			rows.Close()
			return nil, err
		}
		t.Tier = maturity.Tier(tier)
		out[oid] = append(out[oid], t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	prices, err := q.QueryContext(ctx, `SELECT offering_id, tier, kind, unit, description, quantity, from_units, unit_price_cents
		FROM market_prices WHERE offering_id IN (`+placeholders(len(ids))+`) ORDER BY offering_id, tier, seq`, anyArgs(ids)...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: prices: %w", err)
	}
	defer prices.Close()
	for prices.Next() {
		var oid, tier, kind string
		var l money.Line
		if err := prices.Scan(&oid, &tier, &kind, &l.Unit, &l.Description, &l.Quantity, &l.FromUnits, &l.UnitPrice); err != nil {
			return nil, err
		}
		l.Kind = money.Kind(kind)
		for i := range out[oid] {
			if string(out[oid][i].Tier) == tier {
				out[oid][i].Prices = append(out[oid][i].Prices, l)
			}
		}
	}
	for k := range out {
		sort.Slice(out[k], func(i, j int) bool { return out[k][i].Tier.Rank() < out[k][j].Tier.Rank() })
	}
	return out, prices.Err()
}

// GetOffering returns an offering the principal may see: listed, paused
// and retired offerings are public to signed-in people; drafts and
// offerings in review only to their provider and the office.
func (s *Service) GetOffering(ctx context.Context, p *authz.Principal, offeringID string) (Offering, error) {
	if p == nil {
		return Offering{}, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	if !id.Valid("off", offeringID) {
		return Offering{}, notFound("Offering")
	}
	o, err := loadOffering(ctx, s.DB, offeringID)
	if err != nil {
		return o, err
	}
	if !o.public() {
		if err := s.Authz.Check(ctx, p, authz.MarketOfferingRead, o.ProviderOrgID); err != nil {
			if apperr.Is(err, apperr.Forbidden) {
				return Offering{}, notFound("Offering")
			}
			return Offering{}, err
		}
	}
	return o, nil
}

// CanManageOffering reports whether p edits o (for showing buttons).
func (s *Service) CanManageOffering(ctx context.Context, p *authz.Principal, o Offering) bool {
	return s.checkProviderMember(ctx, p, o.ProviderOrgID) == nil
}

// History returns an offering's status history, newest first.
func (s *Service) History(ctx context.Context, p *authz.Principal, offeringID string) ([]HistoryEntry, error) {
	if _, err := s.GetOffering(ctx, p, offeringID); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT from_status, to_status, note, actor_label, at FROM market_offering_history WHERE offering_id = ? ORDER BY seq DESC`, offeringID)
	if err != nil {
		return nil, fmt.Errorf("marketplace: history: %w", err)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var h HistoryEntry
		var from, to string
		if err := rows.Scan(&from, &to, &h.Note, &h.Actor, (*db.Time)(&h.At)); err != nil {
			return nil, err
		}
		h.From, h.To = lifecycle.State(from), lifecycle.State(to)
		out = append(out, h)
	}
	return out, rows.Err()
}

// HistoryEntry is one change of an offering's status or listed tiers.
type HistoryEntry struct {
	From, To lifecycle.State
	Note     string
	Actor    string
	At       time.Time
}

// FromLabel and ToLabel name the statuses.
func (h HistoryEntry) FromLabel() string { return lifecycle.Offerings.Label(h.From) }

// ToLabel names the new status.
func (h HistoryEntry) ToLabel() string { return lifecycle.Offerings.Label(h.To) }
