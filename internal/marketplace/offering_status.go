package marketplace

import (
	"context"
	"fmt"
	"strings"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
)

func stateOf(s string) lifecycle.State { return lifecycle.State(s) }

// offeringParty finds the party the principal acts as for an offering
// action: the provider (its own people) or the office (catalog managers).
func (s *Service) offeringParty(ctx context.Context, p *authz.Principal, o Offering, action lifecycle.Action) (lifecycle.Party, error) {
	office, err := s.OfficeID(ctx)
	if err != nil {
		return "", err
	}
	parties := lifecycle.Offerings.Parties(o.Status, action)
	var firstErr error
	for _, party := range parties {
		rule, _ := lifecycle.Offerings.Step(o.Status, action, party, lifecycle.Facts{Reason: "x"})
		org := o.ProviderOrgID
		if party == lifecycle.Office {
			org = office
		}
		err := s.Authz.CheckMember(ctx, p, rule.Permission, org)
		if err == nil {
			return party, nil
		}
		if firstErr == nil || apperr.Is(err, apperr.Forbidden) {
			firstErr = err
		}
	}
	if len(parties) == 0 {
		// Let the machine explain why the action is not possible now.
		_, err := lifecycle.Offerings.Step(o.Status, action, lifecycle.Provider, lifecycle.Facts{})
		return "", refusal(err)
	}
	if apperr.Is(firstErr, apperr.NotFound) {
		firstErr = apperr.New(apperr.Forbidden, "Only the provider or the office's catalog managers can do this.")
	}
	return "", firstErr
}

// refusal maps a lifecycle refusal to the product's error codes.
func refusal(err error) error {
	if err == nil {
		return nil
	}
	r, ok := err.(*lifecycle.Refusal)
	if !ok {
		return err
	}
	switch r.Kind {
	case lifecycle.NotYours:
		return apperr.New(apperr.Forbidden, "%s", r.Message)
	case lifecycle.NotReady:
		return apperr.New(apperr.Conflict, "%s", r.Message)
	default:
		return apperr.New(apperr.Conflict, "%s", r.Message)
	}
}

// OfferingAction moves an offering through its listing workflow: submit,
// recall, list (office, with the tiers to list), return (office, with a
// reason), pause, resume (office) and retire. Listing a tier needs every
// mandatory requirement of the current standard met and accepted.
func (s *Service) OfferingAction(ctx context.Context, p *authz.Principal, offeringID string, action lifecycle.Action, reason string, tiers []maturity.Tier) (Offering, error) {
	o, err := s.GetOffering(ctx, p, offeringID)
	if err != nil {
		return Offering{}, err
	}
	party, err := s.offeringParty(ctx, p, o, action)
	if err != nil {
		return Offering{}, err
	}
	reason = strings.TrimSpace(reason)
	if !textOK(reason, 0, 2000) {
		return Offering{}, apperr.Validation(map[string]string{"reason": "The reason is at most 2,000 characters."})
	}
	rule, err := lifecycle.Offerings.Step(o.Status, action, party, lifecycle.Facts{Reason: reason})
	if err != nil {
		if r, ok := err.(*lifecycle.Refusal); ok && r.Kind == lifecycle.NotReady {
			return Offering{}, apperr.Validation(map[string]string{"reason": r.Message})
		}
		return Offering{}, refusal(err)
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		o, err := loadOffering(ctx, tx, offeringID)
		if err != nil {
			return err
		}
		if o.Status != rule.From {
			return apperr.New(apperr.Conflict, "The offering changed meanwhile; reload the page.")
		}
		note := reason
		switch action {
		case lifecycle.SubmitOffering:
			if err := submittable(o); err != nil {
				return err
			}
			note = "Submitted for listing review"
		case lifecycle.ListOffering, lifecycle.ResumeOffering:
			listed, err := s.listTiers(ctx, tx, o, tiers, action == lifecycle.ResumeOffering)
			if err != nil {
				return err
			}
			note = "Listed for " + strings.Join(listed, ", ")
		case lifecycle.RecallOffering:
			note = "Recalled to draft by the provider"
		case lifecycle.PauseOffering:
			if note == "" {
				note = "Paused: no new orders"
			}
		case lifecycle.RetireOffering:
			if _, err := tx.ExecContext(ctx, "UPDATE market_offering_tiers SET listed = FALSE WHERE offering_id = ?", o.ID); err != nil {
				return err
			}
		}
		if err := s.setOfferingStatus(ctx, tx, o, string(rule.To), note, actorLabel(p)); err != nil {
			return err
		}
		if err := s.refreshPricing(ctx, tx, o.ID); err != nil {
			return err
		}
		if err := s.notifyOfferingStep(ctx, tx, p, o, action, note); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.ProviderOrgID, Action: "market.offering." + string(action), TargetType: "offering", TargetID: o.ID,
			Summary: fmt.Sprintf("%s: “%s” is now %s", upperFirst(string(action)), o.Name, strings.ToLower(lifecycle.Offerings.Label(rule.To))),
			Before:  map[string]string{"status": string(o.Status)}, After: map[string]string{"status": string(rule.To), "note": note}})
	})
	if err != nil {
		return Offering{}, err
	}
	return s.GetOffering(ctx, p, offeringID)
}

// submittable checks what listing review needs: every tier priced.
func submittable(o Offering) error {
	var missing []string
	for _, t := range o.Tiers {
		if len(t.Prices) == 0 {
			missing = append(missing, strings.ToLower(t.Tier.Label()))
		}
	}
	if len(missing) > 0 {
		return apperr.New(apperr.Conflict, "Give the %s tier(s) a price book before submitting.", strings.Join(missing, ", "))
	}
	return nil
}

// listTiers lists the requested tiers (all conformant tiers when none are
// named; on resume, the tiers listed before the pause that still conform).
func (s *Service) listTiers(ctx context.Context, tx *db.Tx, o Offering, want []maturity.Tier, resume bool) ([]string, error) {
	c, err := s.conformanceOf(ctx, tx, o, false)
	if err != nil {
		return nil, err
	}
	if len(want) == 0 {
		// On resume, the tiers listed before the pause; when the pause came
		// from tiers losing their listing, every tier that conforms again.
		anyListed := false
		for _, t := range o.Tiers {
			anyListed = anyListed || t.Listed
		}
		for _, t := range o.Tiers {
			if resume && anyListed && !t.Listed {
				continue
			}
			if c.TierStatus(t.Tier).Listable() {
				want = append(want, t.Tier)
			}
		}
		if len(want) == 0 {
			return nil, apperr.New(apperr.Conflict, "No tier meets every mandatory requirement of the current standard yet; see the conformance page.")
		}
	}
	var names []string
	for _, t := range want {
		if _, ok := o.Tier(t); !ok {
			return nil, apperr.Validation(map[string]string{"tiers": fmt.Sprintf("The offering has no %s tier.", strings.ToLower(t.Label()))})
		}
		tc := c.TierStatus(t)
		if !tc.Listable() {
			return nil, apperr.Validation(map[string]string{"tiers": fmt.Sprintf("The %s tier cannot be listed: %s.", strings.ToLower(t.Label()), strings.ToLower(tc.Summary()))})
		}
		if ot, _ := o.Tier(t); len(ot.Prices) == 0 {
			return nil, apperr.Validation(map[string]string{"tiers": fmt.Sprintf("The %s tier has no price book.", strings.ToLower(t.Label()))})
		}
		if _, err := tx.ExecContext(ctx, "UPDATE market_offering_tiers SET listed = TRUE WHERE offering_id = ? AND tier = ?", o.ID, string(t)); err != nil {
			return nil, err
		}
		if err := bumpCatalog(ctx, tx); err != nil {
			return nil, err
		}
		names = append(names, strings.ToLower(t.Label()))
	}
	return names, nil
}

func (s *Service) notifyOfferingStep(ctx context.Context, tx *db.Tx, p *authz.Principal, o Offering, action lifecycle.Action, note string) error {
	link := OfferingURL(o.ID)
	switch action {
	case lifecycle.SubmitOffering:
		office, err := s.OfficeID(ctx)
		if err != nil {
			return err
		}
		if err := s.notifyRoles(ctx, tx, office, officeReviewers, p.UserID, fmt.Sprintf("“%s” is submitted for listing", o.Name),
			o.ProviderName+" asks to list this offering. Check its tiers, prices and conformance, then list it or return it.", link); err != nil {
			return err
		}
		return s.notifyRoles(ctx, tx, office, standardsLeads, p.UserID, fmt.Sprintf("Conformance answers of “%s” await review", o.Name),
			"Review the offering's answers to the standard's requirements.", link+"/conformance")
	case lifecycle.ListOffering, lifecycle.ReturnOffering, lifecycle.ResumeOffering, lifecycle.PauseOffering, lifecycle.RetireOffering:
		return s.notifyRoles(ctx, tx, o.ProviderOrgID, providerRoles(o.ProviderKind, false), p.UserID,
			fmt.Sprintf("“%s”: %s", o.Name, strings.ToLower(lifecycle.Offerings.Label(mustStep(o.Status, action)))), note, link)
	}
	return nil
}

func mustStep(from lifecycle.State, a lifecycle.Action) lifecycle.State {
	for _, r := range lifecycle.Offerings.Rules() {
		if r.From == from && r.Action == a {
			return r.To
		}
	}
	return from
}

// ListTiers lists more tiers of a listed or paused offering (the office),
// for example a tier that lost its listing when a new version of the
// standard was published and that meets it again.
func (s *Service) ListTiers(ctx context.Context, p *authz.Principal, offeringID string, tiers []maturity.Tier) (Offering, error) {
	o, err := s.GetOffering(ctx, p, offeringID)
	if err != nil {
		return Offering{}, err
	}
	office, err := s.OfficeID(ctx)
	if err != nil {
		return Offering{}, err
	}
	if err := s.actFor(ctx, p, authz.MarketCatalogManage, office, "The office lists offerings' tiers."); err != nil {
		return Offering{}, err
	}
	if o.Status != lifecycle.Listed && o.Status != lifecycle.Paused {
		return Offering{}, apperr.New(apperr.Conflict, "Tiers are listed with the offering; this offering is %s.", strings.ToLower(o.StatusLabel()))
	}
	if len(tiers) == 0 {
		return Offering{}, apperr.Validation(map[string]string{"tiers": "Choose the tiers to list."})
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		names, err := s.listTiers(ctx, tx, o, tiers, false)
		if err != nil {
			return err
		}
		if err := addHistory(ctx, tx, o.ID, o.Status, o.Status, "Listed for "+strings.Join(names, ", "), actorLabel(p), s.now()); err != nil {
			return err
		}
		if err := s.refreshPricing(ctx, tx, o.ID); err != nil {
			return err
		}
		if err := s.notifyRoles(ctx, tx, o.ProviderOrgID, providerRoles(o.ProviderKind, false), p.UserID,
			fmt.Sprintf("“%s” is listed for %s", o.Name, strings.Join(names, ", ")), "The office listed more tiers of your offering.", OfferingURL(o.ID)); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.ProviderOrgID, Action: "market.offering.list_tiers", TargetType: "offering", TargetID: o.ID,
			Summary: fmt.Sprintf("Listed “%s” for %s", o.Name, strings.Join(names, ", ")), After: map[string]any{"tiers": tiers}})
	})
	if err != nil {
		return Offering{}, err
	}
	return s.GetOffering(ctx, p, offeringID)
}
