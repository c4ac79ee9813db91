package marketplace

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
)

// Answer statuses: how an offering meets a requirement.
const (
	AnswerMet           = "met"
	AnswerPartial       = "partial"
	AnswerNotMet        = "not_met"
	AnswerNotApplicable = "not_applicable"
)

// AnswerStatuses lists them in display order.
var AnswerStatuses = []string{AnswerMet, AnswerPartial, AnswerNotMet, AnswerNotApplicable}

// AnswerLabel names an answer status.
func AnswerLabel(s string) string {
	switch s {
	case AnswerMet:
		return "Met"
	case AnswerPartial:
		return "Partially met"
	case AnswerNotMet:
		return "Not met"
	case AnswerNotApplicable:
		return "Not applicable"
	case "":
		return "Not answered"
	}
	return s
}

// Review statuses of an answer.
const (
	ReviewPending  = "pending"
	ReviewAccepted = "accepted"
	ReviewRejected = "rejected"
)

// Answer is an offering's answer to one requirement and its review.
type Answer struct {
	OfferingID    string
	RequirementID string
	Status        string
	Evidence      string
	ReviewStatus  string
	ReviewNote    string
	ReviewedBy    string
	ReviewedAt    time.Time
	AnsweredBy    string
	AnsweredAt    time.Time
}

// StatusLabel names the answer's status.
func (a Answer) StatusLabel() string { return AnswerLabel(a.Status) }

// ReviewLabel names the review status.
func (a Answer) ReviewLabel() string {
	switch a.ReviewStatus {
	case ReviewAccepted:
		return "Accepted"
	case ReviewRejected:
		return "Needs work"
	case ReviewPending:
		return "Awaiting review"
	}
	return "—"
}

// satisfies reports whether the answer counts toward listing: met or not
// applicable, and accepted by the standards lead.
func (a Answer) satisfies() bool {
	return (a.Status == AnswerMet || a.Status == AnswerNotApplicable) && a.ReviewStatus == ReviewAccepted
}

// unmet reports whether the answer blocks a tier outright: no answer, a
// partial or unmet status, or a rejected review. A met answer awaiting
// review is not unmet; it only waits.
func (a Answer) unmet() bool {
	return a.Status == "" || a.Status == AnswerPartial || a.Status == AnswerNotMet || a.ReviewStatus == ReviewRejected
}

// TierConformance is how one tier of an offering stands against the
// mandatory requirements that apply to it.
type TierConformance struct {
	Tier      maturity.Tier
	Mandatory int
	Satisfied int
	Unmet     []string // requirement codes
	Waiting   []string // met but awaiting review
}

// Listable reports whether the tier may be listed.
func (c TierConformance) Listable() bool { return len(c.Unmet) == 0 && len(c.Waiting) == 0 }

// Summary says in a few words where the tier stands.
func (c TierConformance) Summary() string {
	switch {
	case c.Listable():
		return fmt.Sprintf("All %d mandatory requirements met", c.Mandatory)
	case len(c.Unmet) > 0:
		return fmt.Sprintf("%d of %d met; not met: %s", c.Satisfied, c.Mandatory, strings.Join(c.Unmet, ", "))
	default:
		return fmt.Sprintf("%d of %d met; awaiting review: %s", c.Satisfied, c.Mandatory, strings.Join(c.Waiting, ", "))
	}
}

// evaluate is the conformance rule: for each tier, every mandatory
// requirement that applies to it must be satisfied.
func evaluate(reqs []Requirement, answers map[string]Answer, tiers []maturity.Tier) map[maturity.Tier]TierConformance {
	out := map[maturity.Tier]TierConformance{}
	for _, t := range tiers {
		c := TierConformance{Tier: t}
		for _, r := range reqs {
			if !r.Mandatory || !r.AppliesTo(t) {
				continue
			}
			c.Mandatory++
			a := answers[r.ID]
			switch {
			case a.satisfies():
				c.Satisfied++
			case a.unmet():
				c.Unmet = append(c.Unmet, r.Code)
			default:
				c.Waiting = append(c.Waiting, r.Code)
			}
		}
		out[t] = c
	}
	return out
}

func loadAnswers(ctx context.Context, q db.Queryer, offeringIDs []string) (map[string]map[string]Answer, error) {
	out := map[string]map[string]Answer{}
	if len(offeringIDs) == 0 {
		return out, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT offering_id, requirement_id, status, evidence, review_status, review_note, reviewed_by, reviewed_at, answered_by, answered_at
		FROM market_answers WHERE offering_id IN (`+placeholders(len(offeringIDs))+`)`, anyArgs(offeringIDs)...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: answers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Answer
		if err := rows.Scan(&a.OfferingID, &a.RequirementID, &a.Status, &a.Evidence, &a.ReviewStatus, &a.ReviewNote, &a.ReviewedBy,
			(*db.Time)(&a.ReviewedAt), &a.AnsweredBy, (*db.Time)(&a.AnsweredAt)); err != nil {
			return nil, err
		}
		if out[a.OfferingID] == nil {
			out[a.OfferingID] = map[string]Answer{}
		}
		out[a.OfferingID][a.RequirementID] = a
	}
	return out, rows.Err()
}

// Conformance is an offering's standing against its area's published
// standard: each requirement with its answer and evidence, and per tier.
type Conformance struct {
	Offering Offering
	Standard *Standard // nil when the area has no published standard yet
	Rows     []ConformanceRow
	Tiers    []TierConformance
}

// ConformanceRow is one requirement with the offering's answer.
type ConformanceRow struct {
	Requirement Requirement
	Answer      Answer
	Files       []File
}

// TierStatus returns the conformance of one tier.
func (c Conformance) TierStatus(t maturity.Tier) TierConformance {
	for _, x := range c.Tiers {
		if x.Tier == t {
			return x
		}
	}
	return TierConformance{Tier: t}
}

func offeringTiers(o Offering) []maturity.Tier {
	var out []maturity.Tier
	for _, t := range o.Tiers {
		out = append(out, t.Tier)
	}
	return out
}

// conformanceOf evaluates an offering against its area's current standard.
func (s *Service) conformanceOf(ctx context.Context, q db.Queryer, o Offering, withFiles bool) (Conformance, error) {
	st, ok, err := currentStandard(ctx, q, o.AreaID)
	if err != nil || !ok {
		return conformanceFrom(o, nil, nil, nil), err
	}
	answers, err := loadAnswers(ctx, q, []string{o.ID})
	if err != nil {
		return Conformance{Offering: o}, err
	}
	var files map[string][]File
	if withFiles {
		if files, err = s.evidenceFiles(ctx, q, o.ID); err != nil {
			return Conformance{Offering: o}, err
		}
	}
	return conformanceFrom(o, &st, answers[o.ID], files), nil
}

// conformanceFrom evaluates an offering's answers (by requirement ID)
// against the current standard of its area (nil: none published yet).
func conformanceFrom(o Offering, st *Standard, answers map[string]Answer, files map[string][]File) Conformance {
	c := Conformance{Offering: o, Standard: st}
	tiers := offeringTiers(o)
	if st == nil {
		for _, t := range tiers {
			c.Tiers = append(c.Tiers, TierConformance{Tier: t})
		}
		return c
	}
	for _, r := range st.Requirements {
		c.Rows = append(c.Rows, ConformanceRow{Requirement: r, Answer: answers[r.ID], Files: files[r.ID]})
	}
	ev := evaluate(st.Requirements, answers, tiers)
	for _, t := range tiers {
		c.Tiers = append(c.Tiers, ev[t])
	}
	return c
}

// GetConformance returns an offering's conformance: the requirement
// statuses are public with the offering; evidence texts and files only to
// its provider and the office.
func (s *Service) GetConformance(ctx context.Context, p *authz.Principal, offeringID string) (Conformance, error) {
	o, err := s.GetOffering(ctx, p, offeringID)
	if err != nil {
		return Conformance{}, err
	}
	private := s.Authz.Check(ctx, p, authz.MarketOfferingRead, o.ProviderOrgID) == nil
	c, err := s.conformanceOf(ctx, s.DB, o, private)
	if err != nil {
		return c, err
	}
	if !private {
		for i := range c.Rows {
			c.Rows[i].Answer.Evidence, c.Rows[i].Answer.ReviewNote = "", ""
		}
	}
	return c, nil
}

// AnswerInput is a provider's answer to a requirement.
type AnswerInput struct {
	Status   string
	Evidence string
}

// SaveAnswer records an offering's answer to a requirement of the current
// standard. The answer goes back to the standards lead for review; an
// answer that makes a listed tier unmet unlists it.
func (s *Service) SaveAnswer(ctx context.Context, p *authz.Principal, offeringID, requirementID string, in AnswerInput) (Answer, error) {
	o, err := s.GetOffering(ctx, p, offeringID)
	if err != nil {
		return Answer{}, err
	}
	if err := s.actFor(ctx, p, authz.MarketOfferingManage, o.ProviderOrgID, "Only the provider's own people change its offerings."); err != nil {
		return Answer{}, err
	}
	st, r, err := s.requirementOfCurrent(ctx, o, requirementID)
	if err != nil {
		return Answer{}, err
	}
	in.Evidence = strings.TrimSpace(in.Evidence)
	errs := map[string]string{}
	switch in.Status {
	case AnswerMet, AnswerPartial:
		if !textOK(in.Evidence, 10, 5000) {
			errs["evidence"] = "Describe the evidence (10 to 5,000 characters); attach files below if they help."
		}
	case AnswerNotApplicable:
		if !textOK(in.Evidence, 10, 5000) {
			errs["evidence"] = "Explain why the requirement does not apply (10 to 5,000 characters)."
		}
	case AnswerNotMet:
		if !textOK(in.Evidence, 0, 5000) {
			errs["evidence"] = "The evidence is at most 5,000 characters."
		}
	default:
		errs["status"] = "Choose met, partially met, not met or not applicable."
	}
	if len(errs) > 0 {
		return Answer{}, apperr.Validation(errs)
	}
	a := Answer{OfferingID: o.ID, RequirementID: r.ID, Status: in.Status, Evidence: in.Evidence, ReviewStatus: ReviewPending,
		AnsweredBy: actorLabel(p), AnsweredAt: s.now()}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO market_answers (offering_id, requirement_id, status, evidence, review_status, answered_by, answered_at)
			VALUES (?, ?, ?, ?, 'pending', ?, ?)
			ON CONFLICT (offering_id, requirement_id) DO UPDATE SET status = excluded.status, evidence = excluded.evidence, review_status = 'pending',
				review_note = '', reviewed_by = '', reviewed_at = NULL, answered_by = excluded.answered_by, answered_at = excluded.answered_at`,
			a.OfferingID, a.RequirementID, a.Status, a.Evidence, a.AnsweredBy, db.TS(a.AnsweredAt))
		if err != nil {
			return fmt.Errorf("marketplace: save answer: %w", err)
		}
		if _, _, err := s.enforceConformance(ctx, tx, o.ID, fmt.Sprintf("the answer to %s changed", r.Code)); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.ProviderOrgID, Action: "market.conformance.answer", TargetType: "offering", TargetID: o.ID,
			Summary: fmt.Sprintf("Answered %s (%s v%d) for “%s”: %s", r.Code, st.AreaName, st.Version, o.Name, AnswerLabel(a.Status)),
			After:   map[string]string{"requirement": r.Code, "status": a.Status}})
	})
	return a, err
}

func (s *Service) requirementOfCurrent(ctx context.Context, o Offering, requirementID string) (Standard, Requirement, error) {
	st, ok, err := currentStandard(ctx, s.DB, o.AreaID)
	if err != nil {
		return st, Requirement{}, err
	}
	if ok {
		for _, r := range st.Requirements {
			if r.ID == requirementID {
				return st, r, nil
			}
		}
	}
	return st, Requirement{}, notFound("Requirement")
}

// ReviewAnswer accepts or rejects an offering's answer (standards leads).
// A rejection needs a note for the provider and unlists tiers it makes
// unmet.
func (s *Service) ReviewAnswer(ctx context.Context, p *authz.Principal, offeringID, requirementID string, accept bool, note string) (Answer, error) {
	o, err := s.GetOffering(ctx, p, offeringID)
	if err != nil {
		return Answer{}, err
	}
	office, err := s.OfficeID(ctx)
	if err != nil {
		return Answer{}, err
	}
	if err := s.actFor(ctx, p, authz.MarketConformanceReview, office, "Standards leads review conformance answers."); err != nil {
		return Answer{}, err
	}
	_, r, err := s.requirementOfCurrent(ctx, o, requirementID)
	if err != nil {
		return Answer{}, err
	}
	note = strings.TrimSpace(note)
	if !accept && !textOK(note, 5, 2000) {
		return Answer{}, apperr.Validation(map[string]string{"note": "Tell the provider what is missing (5 to 2,000 characters)."})
	}
	if !textOK(note, 0, 2000) {
		return Answer{}, apperr.Validation(map[string]string{"note": "The note is at most 2,000 characters."})
	}
	status := ReviewAccepted
	if !accept {
		status = ReviewRejected
	}
	var a Answer
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		answers, err := loadAnswers(ctx, tx, []string{o.ID})
		if err != nil {
			return err
		}
		prev, ok := answers[o.ID][r.ID]
		if !ok {
			return apperr.New(apperr.Conflict, "The provider has not answered %s yet.", r.Code)
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, `UPDATE market_answers SET review_status = ?, review_note = ?, reviewed_by = ?, reviewed_at = ? WHERE offering_id = ? AND requirement_id = ?`,
			status, note, actorLabel(p), db.TS(now), o.ID, r.ID); err != nil {
			return err
		}
		a = prev
		a.ReviewStatus, a.ReviewNote, a.ReviewedBy, a.ReviewedAt = status, note, actorLabel(p), now
		if _, _, err := s.enforceConformance(ctx, tx, o.ID, fmt.Sprintf("the review of %s", r.Code)); err != nil {
			return err
		}
		if !accept {
			if err := s.notifyRoles(ctx, tx, o.ProviderOrgID, providerRoles(o.ProviderKind, false), p.UserID,
				fmt.Sprintf("%s needs more evidence for “%s”", r.Code, o.Name), note, OfferingURL(o.ID)+"/conformance"); err != nil {
				return err
			}
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.ProviderOrgID, Action: "market.conformance.review", TargetType: "offering", TargetID: o.ID,
			Summary: fmt.Sprintf("Reviewed %s for “%s”: %s", r.Code, o.Name, a.ReviewLabel()), After: map[string]string{"requirement": r.Code, "review": status, "note": note}})
	})
	return a, err
}

// enforceConformance unlists the listed tiers of an offering that no longer
// meet every mandatory requirement (recording why and telling the
// provider), and pauses a listed offering left without a listed tier. It
// returns how many tiers it unlisted.
func (s *Service) enforceConformance(ctx context.Context, tx *db.Tx, offeringID, why string) (int, string, error) {
	o, err := loadOffering(ctx, tx, offeringID)
	if err != nil {
		return 0, "", err
	}
	if o.Status != "listed" && o.Status != "paused" {
		return 0, o.Name, nil
	}
	c, err := s.conformanceOf(ctx, tx, o, false)
	if err != nil {
		return 0, o.Name, err
	}
	now := s.now()
	unlisted := 0
	remaining := 0
	for _, t := range o.Tiers {
		if !t.Listed {
			continue
		}
		tc := c.TierStatus(t.Tier)
		if len(tc.Unmet) == 0 {
			remaining++
			continue
		}
		if _, err := tx.ExecContext(ctx, "UPDATE market_offering_tiers SET listed = FALSE WHERE offering_id = ? AND tier = ?", o.ID, string(t.Tier)); err != nil {
			return 0, o.Name, err
		}
		if err := bumpCatalog(ctx, tx); err != nil {
			return 0, o.Name, err
		}
		unlisted++
		note := fmt.Sprintf("%s tier unlisted after %s: %s not met", t.Tier.Label(), why, strings.Join(tc.Unmet, ", "))
		if err := addHistory(ctx, tx, o.ID, o.Status, o.Status, note, "qsmo", now); err != nil {
			return 0, o.Name, err
		}
		if err := s.notifyRoles(ctx, tx, o.ProviderOrgID, providerRoles(o.ProviderKind, false), "",
			fmt.Sprintf("The %s tier of “%s” is no longer listed", strings.ToLower(t.Tier.Label()), o.Name),
			note+". Answer the requirements and ask the office to list the tier again.", OfferingURL(o.ID)+"/conformance"); err != nil {
			return 0, o.Name, err
		}
		if err := audit.Append(ctx, tx, audit.Event{OrgID: o.ProviderOrgID, Action: "market.offering.unlist_tier", TargetType: "offering", TargetID: o.ID,
			Summary: fmt.Sprintf("Unlisted the %s tier of “%s”", strings.ToLower(t.Tier.Label()), o.Name), After: map[string]any{"tier": t.Tier, "unmet": tc.Unmet}}); err != nil {
			return 0, o.Name, err
		}
	}
	if unlisted > 0 && remaining == 0 && o.Status == "listed" {
		if err := s.setOfferingStatus(ctx, tx, o, "paused", "Paused: no tier meets the standard any more", "qsmo"); err != nil {
			return 0, o.Name, err
		}
	}
	if unlisted > 0 {
		if err := s.refreshPricing(ctx, tx, o.ID); err != nil {
			return 0, o.Name, err
		}
	}
	return unlisted, o.Name, nil
}

func (s *Service) setOfferingStatus(ctx context.Context, tx *db.Tx, o Offering, to, note, actor string) error {
	now := s.now()
	query := "UPDATE market_offerings SET status = ?, status_changed_at = ?, updated_at = ? WHERE id = ? AND status = ?"
	args := []any{to, db.TS(now), db.TS(now), o.ID, string(o.Status)}
	if to == "listed" {
		query = "UPDATE market_offerings SET status = ?, status_changed_at = ?, updated_at = ?, listed_at = COALESCE(listed_at, ?) WHERE id = ? AND status = ?"
		args = []any{to, db.TS(now), db.TS(now), db.TS(now), o.ID, string(o.Status)}
	}
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("marketplace: offering status: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "The offering changed meanwhile; reload the page.")
	}
	if err := bumpCatalog(ctx, tx); err != nil {
		return err
	}
	return addHistory(ctx, tx, o.ID, o.Status, stateOf(to), note, actor, now)
}

// ReviewItem is work waiting for the office or the standards lead.
type ReviewItem struct {
	Offering    Offering
	Requirement Requirement
	Answer      Answer
}

// ReviewQueue returns answers awaiting the standards lead's review and
// offerings awaiting the office's listing review.
func (s *Service) ReviewQueue(ctx context.Context, p *authz.Principal) ([]ReviewItem, []Offering, error) {
	if !s.canSeeDrafts(ctx, p) {
		return nil, nil, apperr.New(apperr.Forbidden, "Reviews are the office's work.")
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT a.offering_id, a.requirement_id, a.status, a.evidence, a.answered_by, a.answered_at, r.code, r.text, r.mandatory, r.tiers
		FROM market_answers a JOIN market_requirements r ON r.id = a.requirement_id JOIN market_standards st ON st.id = r.standard_id
		JOIN market_offerings o ON o.id = a.offering_id
		WHERE a.review_status = 'pending' AND st.status = 'published' AND o.status <> 'retired' ORDER BY a.answered_at LIMIT 200`)
	if err != nil {
		return nil, nil, fmt.Errorf("marketplace: review queue: %w", err)
	}
	var items []ReviewItem
	ids := map[string]bool{}
	for rows.Next() {
		var it ReviewItem
		var tiers string
		if err := rows.Scan(&it.Answer.OfferingID, &it.Answer.RequirementID, &it.Answer.Status, &it.Answer.Evidence, &it.Answer.AnsweredBy, (*db.Time)(&it.Answer.AnsweredAt),
			&it.Requirement.Code, &it.Requirement.Text, &it.Requirement.Mandatory, &tiers); err != nil {
			rows.Close()
			return nil, nil, err
		}
		it.Requirement.ID, it.Requirement.Tiers = it.Answer.RequirementID, parseTiers(tiers)
		ids[it.Answer.OfferingID] = true
		items = append(items, it)
	}
	rows.Close()
	offs, err := s.offeringsByID(ctx, keys(ids))
	if err != nil {
		return nil, nil, err
	}
	for i := range items {
		items[i].Offering = offs[items[i].Answer.OfferingID]
	}
	inReview, err := s.offeringsWhere(ctx, "o.status = 'in_review'", nil, "o.status_changed_at")
	return items, inReview, err
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// offeringsByID loads offerings (with tiers) without access checks.
func (s *Service) offeringsByID(ctx context.Context, ids []string) (map[string]Offering, error) {
	out := map[string]Offering{}
	if len(ids) == 0 {
		return out, nil
	}
	list, err := s.offeringsWhere(ctx, "o.id IN ("+placeholders(len(ids))+")", anyArgs(ids), "o.name")
	for _, o := range list {
		out[o.ID] = o
	}
	return out, err
}

// offeringsWhere loads offerings matching a condition, with their tiers,
// in two queries.
func (s *Service) offeringsWhere(ctx context.Context, where string, args []any, order string) ([]Offering, error) {
	rows, err := s.DB.QueryContext(ctx, "SELECT "+offeringColumns+offeringFrom+" WHERE "+where+" ORDER BY "+order, args...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: offerings: %w", err)
	}
	var out []Offering
	for rows.Next() {
		o, err := scanOffering(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids := make([]string, len(out))
	for i, o := range out {
		ids[i] = o.ID
	}
	tiers, err := loadTiers(ctx, s.DB, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Tiers = tiers[out[i].ID]
	}
	return out, nil
}
