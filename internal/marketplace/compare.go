package marketplace

import (
	"context"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
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
	var c Comparison
	tiers := map[maturity.Tier]bool{}
	for _, id := range uniq {
		o, err := s.GetOffering(ctx, p, id)
		if err != nil {
			return Comparison{}, err
		}
		conf, err := s.conformanceOf(ctx, s.DB, o, false)
		if err != nil {
			return Comparison{}, err
		}
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
