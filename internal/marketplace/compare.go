package marketplace

import (
	"context"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
)

// Comparison puts two to four offerings side by side.
type Comparison struct {
	Offerings   []ComparedOffering
	SameArea    bool
	Requirement []RequirementRow // when all share an area: each requirement across offerings
	Tiers       []maturity.Tier  // tiers any of them offers
}

// ComparedOffering is one column of a comparison.
type ComparedOffering struct {
	Offering    Offering
	Conformance Conformance
	CX          *CXScore
}

// TierOf returns the offering's tier t, if offered.
func (c ComparedOffering) TierOf(t maturity.Tier) *OfferingTier {
	if x, ok := c.Offering.Tier(t); ok {
		return &x
	}
	return nil
}

// RequirementRow is one requirement with each offering's answer.
type RequirementRow struct {
	Requirement Requirement
	Answers     []Answer
}

// Compare loads two to four offerings the principal may see with their
// conformance, prices, SLAs and CX scores.
func (s *Service) Compare(ctx context.Context, p *authz.Principal, ids []string) (Comparison, error) {
	var uniq []string
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	if len(uniq) < 2 || len(uniq) > 4 {
		return Comparison{}, apperr.Validation(map[string]string{"o": "Choose two to four offerings to compare."})
	}
	if p == nil {
		return Comparison{}, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	// Offerings and standards come from the catalog index; the providers'
	// names and the answers are read fresh, one query each.
	ix, err := s.index(ctx)
	if err != nil {
		return Comparison{}, err
	}
	var entries []*indexEntry
	for _, oid := range uniq {
		i, ok := ix.pos[oid]
		if !id.Valid("off", oid) || !ok {
			return Comparison{}, notFound("Offering")
		}
		entries = append(entries, &ix.entries[i])
	}
	list, err := s.withProviderNames(ctx, entries)
	if err != nil {
		return Comparison{}, err
	}
	offs := map[string]Offering{}
	for _, o := range list {
		offs[o.ID] = o
	}
	for _, oid := range uniq {
		o := offs[oid]
		if !o.public() {
			if err := s.Authz.Check(ctx, p, authz.MarketOfferingRead, o.ProviderOrgID); err != nil {
				if apperr.Is(err, apperr.Forbidden) {
					return Comparison{}, notFound("Offering")
				}
				return Comparison{}, err
			}
		}
	}
	answers, err := loadAnswers(ctx, s.DB, uniq)
	if err != nil {
		return Comparison{}, err
	}
	var c Comparison
	tiers := map[maturity.Tier]bool{}
	for _, oid := range uniq {
		o := offs[oid]
		conf := conformanceFrom(o, ix.standards[o.AreaID], answers[o.ID], nil)
		for i := range conf.Rows {
			conf.Rows[i].Answer.Evidence, conf.Rows[i].Answer.ReviewNote = "", ""
		}
		c.Offerings = append(c.Offerings, ComparedOffering{Offering: o, Conformance: conf})
		for _, t := range o.Tiers {
			tiers[t.Tier] = true
		}
	}
	cx := s.cxScores(ctx, uniq)
	for i := range c.Offerings {
		if x, ok := cx[c.Offerings[i].Offering.ID]; ok && x.Responses > 0 {
			c.Offerings[i].CX = &x
		}
	}
	for _, t := range maturity.Tiers() {
		if tiers[t] {
			c.Tiers = append(c.Tiers, t)
		}
	}
	c.SameArea = true
	for _, o := range c.Offerings[1:] {
		c.SameArea = c.SameArea && o.Offering.AreaID == c.Offerings[0].Offering.AreaID
	}
	if c.SameArea && c.Offerings[0].Conformance.Standard != nil {
		for i, row := range c.Offerings[0].Conformance.Rows {
			rr := RequirementRow{Requirement: row.Requirement}
			for _, o := range c.Offerings {
				rr.Answers = append(rr.Answers, o.Conformance.Rows[i].Answer)
			}
			c.Requirement = append(c.Requirement, rr)
		}
	}
	return c, nil
}
