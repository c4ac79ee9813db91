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
	// One query each for the offerings (with tiers and prices), the
	// answers, and each area's current standard, however many offerings.
	for _, oid := range uniq {
		if !id.Valid("off", oid) {
			return Comparison{}, notFound("Offering")
		}
	}
	offs, err := s.offeringsByID(ctx, uniq)
	if err != nil {
		return Comparison{}, err
	}
	for _, oid := range uniq {
		o, ok := offs[oid]
		if !ok {
			return Comparison{}, notFound("Offering")
		}
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
	standards := map[string]*Standard{}
	var c Comparison
	tiers := map[maturity.Tier]bool{}
	for _, oid := range uniq {
		o := offs[oid]
		st, seen := standards[o.AreaID]
		if !seen {
			cur, ok, err := currentStandard(ctx, s.DB, o.AreaID)
			if err != nil {
				return Comparison{}, err
			}
			if ok {
				st = &cur
			}
			standards[o.AreaID] = st
		}
		conf := conformanceFrom(o, st, answers[o.ID], nil)
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
