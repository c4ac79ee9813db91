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

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
)

// Standard statuses.
const (
	StandardDraft      = "draft"
	StandardPublished  = "published"
	StandardSuperseded = "superseded"
)

// Standard is one version of a service area's standard.
type Standard struct {
	ID           string
	AreaID       string
	AreaName     string
	Version      int
	Title        string
	Summary      string
	Status       string
	CreatedAt    time.Time
	CreatedBy    string
	PublishedAt  time.Time
	PublishedBy  string
	SupersededAt time.Time
	Requirements []Requirement
}

// StatusLabel names the standard's status.
func (st Standard) StatusLabel() string { return upperFirst(st.Status) }

// Mandatory counts the mandatory requirements.
func (st Standard) Mandatory() int {
	n := 0
	for _, r := range st.Requirements {
		if r.Mandatory {
			n++
		}
	}
	return n
}

// Requirement is one requirement of a standard.
type Requirement struct {
	ID         string
	StandardID string
	Code       string
	Text       string
	Mandatory  bool
	Tiers      []maturity.Tier
	Seq        int
}

// AppliesTo reports whether the requirement applies to tier t.
func (r Requirement) AppliesTo(t maturity.Tier) bool {
	for _, x := range r.Tiers {
		if x == t {
			return true
		}
	}
	return false
}

// TierLabels names the tiers the requirement applies to.
func (r Requirement) TierLabels() string {
	var out []string
	for _, t := range r.Tiers {
		out = append(out, t.Label())
	}
	return strings.Join(out, ", ")
}

func (r Requirement) same(o Requirement) bool {
	return r.Text == o.Text && r.Mandatory == o.Mandatory && tiersKey(r.Tiers) == tiersKey(o.Tiers)
}

func tiersKey(ts []maturity.Tier) string {
	var s []string
	for _, t := range ts {
		s = append(s, string(t))
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func parseTiers(s string) []maturity.Tier {
	var out []maturity.Tier
	for _, t := range splitList(s) {
		out = append(out, maturity.Tier(t))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rank() < out[j].Rank() })
	return out
}

const standardColumns = "s.id, s.service_area_id, a.name, s.version, s.title, s.summary, s.status, s.created_at, s.created_by, s.published_at, s.published_by, s.superseded_at"

func scanStandard(row interface{ Scan(...any) error }) (Standard, error) {
	var st Standard
	err := row.Scan(&st.ID, &st.AreaID, &st.AreaName, &st.Version, &st.Title, &st.Summary, &st.Status, (*db.Time)(&st.CreatedAt), &st.CreatedBy,
		(*db.Time)(&st.PublishedAt), &st.PublishedBy, (*db.Time)(&st.SupersededAt))
	return st, err
}

func loadStandard(ctx context.Context, q db.Queryer, standardID string) (Standard, error) {
	st, err := scanStandard(q.QueryRowContext(ctx, "SELECT "+standardColumns+" FROM market_standards s JOIN market_service_areas a ON a.id = s.service_area_id WHERE s.id = ?", standardID))
	if errors.Is(err, sql.ErrNoRows) {
		return st, notFound("Standard")
	}
	if err != nil {
		return st, fmt.Errorf("marketplace: standard: %w", err)
	}
	st.Requirements, err = loadRequirements(ctx, q, st.ID)
	return st, err
}

func loadRequirements(ctx context.Context, q db.Queryer, standardID string) ([]Requirement, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, standard_id, code, text, mandatory, tiers, seq FROM market_requirements WHERE standard_id = ? ORDER BY seq, code", standardID)
	if err != nil {
		return nil, fmt.Errorf("marketplace: requirements: %w", err)
	}
	defer rows.Close()
	var out []Requirement
	for rows.Next() {
		var r Requirement
		var tiers string
		if err := rows.Scan(&r.ID, &r.StandardID, &r.Code, &r.Text, &r.Mandatory, &tiers, &r.Seq); err != nil {
			return nil, err
		}
		r.Tiers = parseTiers(tiers)
		out = append(out, r)
	}
	return out, rows.Err()
}

// currentStandard returns the published standard of an area, if any.
func currentStandard(ctx context.Context, q db.Queryer, areaID string) (Standard, bool, error) {
	var stdID string
	err := q.QueryRowContext(ctx, "SELECT id FROM market_standards WHERE service_area_id = ? AND status = 'published'", areaID).Scan(&stdID)
	if errors.Is(err, sql.ErrNoRows) {
		return Standard{}, false, nil
	}
	if err != nil {
		return Standard{}, false, fmt.Errorf("marketplace: current standard: %w", err)
	}
	st, err := loadStandard(ctx, q, stdID)
	return st, err == nil, err
}

// canSeeDrafts reports whether the principal sees draft standards: the
// office's people.
func (s *Service) canSeeDrafts(ctx context.Context, p *authz.Principal) bool {
	office, err := s.OfficeID(ctx)
	return err == nil && s.Authz.Check(ctx, p, authz.MarketInsightsRead, office) == nil
}

// GetStandard returns a standard version: published and superseded ones to
// every signed-in person, drafts to the office.
func (s *Service) GetStandard(ctx context.Context, p *authz.Principal, standardID string) (Standard, error) {
	if p == nil {
		return Standard{}, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	if !id.Valid("std", standardID) {
		return Standard{}, notFound("Standard")
	}
	st, err := loadStandard(ctx, s.DB, standardID)
	if err != nil {
		return st, err
	}
	if st.Status == StandardDraft && !s.canSeeDrafts(ctx, p) {
		return Standard{}, notFound("Standard")
	}
	return st, nil
}

// ListStandards returns the standard versions the principal may see, by
// area and version (newest first), optionally for one area.
func (s *Service) ListStandards(ctx context.Context, p *authz.Principal, areaID string) ([]Standard, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	query := "SELECT " + standardColumns + " FROM market_standards s JOIN market_service_areas a ON a.id = s.service_area_id WHERE 1 = 1"
	var args []any
	if !s.canSeeDrafts(ctx, p) {
		query += " AND s.status <> 'draft'"
	}
	if areaID != "" {
		query += " AND s.service_area_id = ?"
		args = append(args, areaID)
	}
	query += " ORDER BY a.sort_order, s.version DESC"
	rows, err := s.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: list standards: %w", err)
	}
	defer rows.Close()
	var out []Standard
	for rows.Next() {
		st, err := scanStandard(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	counts, err := s.requirementCounts(ctx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Requirements = counts[out[i].ID]
	}
	return out, nil
}

// requirementCounts returns each standard's requirements without their
// texts (enough for counts on list pages), in one query.
func (s *Service) requirementCounts(ctx context.Context) (map[string][]Requirement, error) {
	rows, err := s.DB.QueryContext(ctx, "SELECT standard_id, code, mandatory FROM market_requirements")
	if err != nil {
		return nil, fmt.Errorf("marketplace: requirement counts: %w", err)
	}
	defer rows.Close()
	out := map[string][]Requirement{}
	for rows.Next() {
		var r Requirement
		if err := rows.Scan(&r.StandardID, &r.Code, &r.Mandatory); err != nil {
			return nil, err
		}
		out[r.StandardID] = append(out[r.StandardID], r)
	}
	return out, rows.Err()
}

func (s *Service) checkStandardsLead(ctx context.Context, p *authz.Principal) error {
	office, err := s.OfficeID(ctx)
	if err != nil {
		return err
	}
	return s.actFor(ctx, p, authz.MarketStandardManage, office, "Standards leads manage standards.")
}

// CreateDraftStandard starts the next version of an area's standard, as a
// copy of its published version's requirements. One draft per area at a
// time. Standards leads only.
func (s *Service) CreateDraftStandard(ctx context.Context, p *authz.Principal, areaID string) (Standard, error) {
	if err := s.checkStandardsLead(ctx, p); err != nil {
		return Standard{}, err
	}
	area, err := s.Area(ctx, areaID)
	if err != nil {
		return Standard{}, apperr.Validation(map[string]string{"area": "Choose a service area."})
	}
	var st Standard
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		var drafts, version int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(version), 0) FROM market_standards WHERE service_area_id = ?", areaID).Scan(&drafts, &version); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM market_standards WHERE service_area_id = ? AND status = 'draft'", areaID).Scan(&drafts); err != nil {
			return err
		}
		if drafts > 0 {
			return apperr.New(apperr.Conflict, "%s already has a draft standard; edit or publish it first.", area.Name)
		}
		now := s.now()
		st = Standard{ID: id.New("std"), AreaID: areaID, AreaName: area.Name, Version: version + 1, Title: area.Name + " standard",
			Status: StandardDraft, CreatedAt: now, CreatedBy: actorLabel(p)}
		cur, ok, err := currentStandard(ctx, tx, areaID)
		if err != nil {
			return err
		}
		if ok {
			st.Title, st.Summary = cur.Title, ""
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO market_standards (id, service_area_id, version, title, summary, status, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, 'draft', ?, ?)`, st.ID, st.AreaID, st.Version, st.Title, st.Summary, db.TS(now), st.CreatedBy); err != nil {
			return fmt.Errorf("marketplace: insert standard: %w", err)
		}
		for _, r := range cur.Requirements {
			if err := insertRequirement(ctx, tx, st.ID, r); err != nil {
				return err
			}
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: "", Action: "market.standard.draft", TargetType: "standard", TargetID: st.ID,
			Summary: fmt.Sprintf("Started version %d of the %s standard", st.Version, area.Name), After: map[string]any{"area": areaID, "version": st.Version}})
	})
	if err != nil {
		return Standard{}, err
	}
	return s.GetStandard(ctx, p, st.ID)
}

func insertRequirement(ctx context.Context, tx *db.Tx, standardID string, r Requirement) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO market_requirements (id, standard_id, code, text, mandatory, tiers, seq) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id.New("req"), standardID, r.Code, r.Text, r.Mandatory, tiersKey(r.Tiers), r.Seq)
	if db.IsUniqueViolation(err) {
		return apperr.Validation(map[string]string{"code": fmt.Sprintf("Requirement %s already exists in this version.", r.Code)})
	}
	if err != nil {
		return fmt.Errorf("marketplace: insert requirement: %w", err)
	}
	return nil
}

// StandardInput edits a draft's title and summary of changes.
type StandardInput struct {
	Title   string
	Summary string
}

// UpdateStandard edits a draft's title and summary.
func (s *Service) UpdateStandard(ctx context.Context, p *authz.Principal, standardID string, in StandardInput) (Standard, error) {
	st, err := s.draftForEdit(ctx, p, standardID)
	if err != nil {
		return Standard{}, err
	}
	in.Title, in.Summary = strings.TrimSpace(in.Title), strings.TrimSpace(in.Summary)
	errs := map[string]string{}
	if !textOK(in.Title, 3, 200) {
		errs["title"] = "Enter a title (3 to 200 characters)."
	}
	if !textOK(in.Summary, 0, 4000) {
		errs["summary"] = "The summary of changes is at most 4,000 characters."
	}
	if len(errs) > 0 {
		return Standard{}, apperr.Validation(errs)
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE market_standards SET title = ?, summary = ? WHERE id = ? AND status = 'draft'", in.Title, in.Summary, st.ID); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{Action: "market.standard.update", TargetType: "standard", TargetID: st.ID,
			Summary: fmt.Sprintf("Edited draft version %d of the %s standard", st.Version, st.AreaName),
			Before:  map[string]string{"title": st.Title, "summary": st.Summary}, After: map[string]string{"title": in.Title, "summary": in.Summary}})
	})
	if err != nil {
		return Standard{}, err
	}
	return s.GetStandard(ctx, p, st.ID)
}

func (s *Service) draftForEdit(ctx context.Context, p *authz.Principal, standardID string) (Standard, error) {
	st, err := s.GetStandard(ctx, p, standardID)
	if err != nil {
		return st, err
	}
	if err := s.checkStandardsLead(ctx, p); err != nil {
		return st, err
	}
	if st.Status != StandardDraft {
		return st, apperr.New(apperr.Conflict, "Version %d is %s; start a new draft to change the standard.", st.Version, st.Status)
	}
	return st, nil
}

// RequirementInput is a requirement as the standards lead writes it.
type RequirementInput struct {
	Code      string
	Text      string
	Mandatory bool
	Tiers     []maturity.Tier
}

var codeRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9.-]{1,19}$`)

func (in *RequirementInput) check() map[string]string {
	in.Code = strings.ToUpper(strings.TrimSpace(in.Code))
	in.Text = strings.TrimSpace(in.Text)
	errs := map[string]string{}
	if !codeRE.MatchString(in.Code) {
		errs["code"] = "Give a short code of 2 to 20 capital letters, digits, dots and dashes, such as PDNS-04."
	}
	if !textOK(in.Text, 10, 2000) {
		errs["text"] = "Write the requirement (10 to 2,000 characters)."
	}
	seen := map[maturity.Tier]bool{}
	for _, t := range in.Tiers {
		if !t.Valid() || seen[t] {
			errs["tiers"] = "Choose the tiers the requirement applies to."
		}
		seen[t] = true
	}
	if len(in.Tiers) == 0 {
		errs["tiers"] = "Choose the tiers the requirement applies to."
	}
	return errs
}

// AddRequirement adds a requirement to a draft.
func (s *Service) AddRequirement(ctx context.Context, p *authz.Principal, standardID string, in RequirementInput) (Requirement, error) {
	st, err := s.draftForEdit(ctx, p, standardID)
	if err != nil {
		return Requirement{}, err
	}
	if errs := in.check(); len(errs) > 0 {
		return Requirement{}, apperr.Validation(errs)
	}
	r := Requirement{StandardID: st.ID, Code: in.Code, Text: in.Text, Mandatory: in.Mandatory, Tiers: in.Tiers, Seq: len(st.Requirements) + 1}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := insertRequirement(ctx, tx, st.ID, r); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{Action: "market.requirement.add", TargetType: "standard", TargetID: st.ID,
			Summary: fmt.Sprintf("Added %s to draft version %d of the %s standard", r.Code, st.Version, st.AreaName), After: in})
	})
	return r, err
}

func (s *Service) requirementForEdit(ctx context.Context, p *authz.Principal, requirementID string) (Standard, Requirement, error) {
	if !id.Valid("req", requirementID) {
		return Standard{}, Requirement{}, notFound("Requirement")
	}
	var stdID string
	err := s.DB.QueryRowContext(ctx, "SELECT standard_id FROM market_requirements WHERE id = ?", requirementID).Scan(&stdID)
	if errors.Is(err, sql.ErrNoRows) {
		return Standard{}, Requirement{}, notFound("Requirement")
	}
	if err != nil {
		return Standard{}, Requirement{}, err
	}
	st, err := s.draftForEdit(ctx, p, stdID)
	if err != nil {
		return st, Requirement{}, err
	}
	for _, r := range st.Requirements {
		if r.ID == requirementID {
			return st, r, nil
		}
	}
	return st, Requirement{}, notFound("Requirement")
}

// GetRequirement returns a requirement of a standard the principal sees.
func (s *Service) GetRequirement(ctx context.Context, p *authz.Principal, requirementID string) (Standard, Requirement, error) {
	if !id.Valid("req", requirementID) {
		return Standard{}, Requirement{}, notFound("Requirement")
	}
	var stdID string
	if err := s.DB.QueryRowContext(ctx, "SELECT standard_id FROM market_requirements WHERE id = ?", requirementID).Scan(&stdID); err != nil {
		return Standard{}, Requirement{}, notFound("Requirement")
	}
	st, err := s.GetStandard(ctx, p, stdID)
	if err != nil {
		return st, Requirement{}, err
	}
	for _, r := range st.Requirements {
		if r.ID == requirementID {
			return st, r, nil
		}
	}
	return st, Requirement{}, notFound("Requirement")
}

// UpdateRequirement edits a draft's requirement.
func (s *Service) UpdateRequirement(ctx context.Context, p *authz.Principal, requirementID string, in RequirementInput) (Requirement, error) {
	st, before, err := s.requirementForEdit(ctx, p, requirementID)
	if err != nil {
		return Requirement{}, err
	}
	if errs := in.check(); len(errs) > 0 {
		return Requirement{}, apperr.Validation(errs)
	}
	after := before
	after.Code, after.Text, after.Mandatory, after.Tiers = in.Code, in.Text, in.Mandatory, in.Tiers
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE market_requirements SET code = ?, text = ?, mandatory = ?, tiers = ? WHERE id = ?",
			after.Code, after.Text, after.Mandatory, tiersKey(after.Tiers), after.ID)
		if db.IsUniqueViolation(err) {
			return apperr.Validation(map[string]string{"code": fmt.Sprintf("Requirement %s already exists in this version.", after.Code)})
		}
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{Action: "market.requirement.update", TargetType: "standard", TargetID: st.ID,
			Summary: fmt.Sprintf("Edited %s in draft version %d of the %s standard", after.Code, st.Version, st.AreaName), Before: before, After: after})
	})
	return after, err
}

// DeleteRequirement removes a requirement from a draft.
func (s *Service) DeleteRequirement(ctx context.Context, p *authz.Principal, requirementID string) (Standard, error) {
	st, r, err := s.requirementForEdit(ctx, p, requirementID)
	if err != nil {
		return st, err
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM market_requirements WHERE id = ?", r.ID); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{Action: "market.requirement.delete", TargetType: "standard", TargetID: st.ID,
			Summary: fmt.Sprintf("Removed %s from draft version %d of the %s standard", r.Code, st.Version, st.AreaName), Before: r})
	})
	return st, err
}

// Change is one difference between two versions of a standard.
type Change struct {
	Code   string
	Kind   string // added, removed, changed
	Before *Requirement
	After  *Requirement
	Fields []string // for changed: text, mandatory, tiers
}

// Diff lists what changed from one version to another, by requirement
// code, in the newer version's order followed by removals.
func Diff(from, to Standard) []Change {
	old := map[string]Requirement{}
	for _, r := range from.Requirements {
		old[r.Code] = r
	}
	var out []Change
	seen := map[string]bool{}
	for _, r := range to.Requirements {
		r := r
		seen[r.Code] = true
		o, ok := old[r.Code]
		if !ok {
			out = append(out, Change{Code: r.Code, Kind: "added", After: &r})
			continue
		}
		var fields []string
		if o.Text != r.Text {
			fields = append(fields, "text")
		}
		if o.Mandatory != r.Mandatory {
			fields = append(fields, "mandatory")
		}
		if tiersKey(o.Tiers) != tiersKey(r.Tiers) {
			fields = append(fields, "tiers")
		}
		if len(fields) > 0 {
			o := o
			out = append(out, Change{Code: r.Code, Kind: "changed", Before: &o, After: &r, Fields: fields})
		}
	}
	for _, r := range from.Requirements {
		if !seen[r.Code] {
			r := r
			out = append(out, Change{Code: r.Code, Kind: "removed", Before: &r})
		}
	}
	return out
}

// DiffStandards compares two versions of the same area's standard.
func (s *Service) DiffStandards(ctx context.Context, p *authz.Principal, fromID, toID string) (Standard, Standard, []Change, error) {
	to, err := s.GetStandard(ctx, p, toID)
	if err != nil {
		return Standard{}, Standard{}, nil, err
	}
	from, err := s.GetStandard(ctx, p, fromID)
	if err != nil {
		return Standard{}, Standard{}, nil, err
	}
	if from.AreaID != to.AreaID {
		return Standard{}, Standard{}, nil, apperr.Validation(map[string]string{"from": "Compare two versions of the same service area's standard."})
	}
	return from, to, Diff(from, to), nil
}

// PreviousVersion returns the version before st in its area, if any.
func (s *Service) PreviousVersion(ctx context.Context, p *authz.Principal, st Standard) (Standard, bool) {
	var prevID string
	err := s.DB.QueryRowContext(ctx, "SELECT id FROM market_standards WHERE service_area_id = ? AND version < ? ORDER BY version DESC LIMIT 1", st.AreaID, st.Version).Scan(&prevID)
	if err != nil {
		return Standard{}, false
	}
	prev, err := s.GetStandard(ctx, p, prevID)
	return prev, err == nil
}

// PublishImpact is what publishing a draft would do to listed offerings.
type PublishImpact struct {
	Offerings     int      // listed or paused offerings in the area
	TiersUnlisted int      // listed tiers that would lose their listing
	Names         []string // offerings that would lose a tier
}

// PreviewPublish computes what publishing the draft would do, without
// changing anything.
func (s *Service) PreviewPublish(ctx context.Context, p *authz.Principal, standardID string) (PublishImpact, error) {
	st, err := s.GetStandard(ctx, p, standardID)
	if err != nil || st.Status != StandardDraft {
		return PublishImpact{}, err
	}
	var impact PublishImpact
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		// A transaction that is always rolled back: the real publication
		// logic runs and we count what it did.
		res, err := s.publishIn(ctx, tx, p, st)
		if err != nil {
			return err
		}
		impact = res
		return errRollback
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	return impact, err
}

var errRollback = errors.New("marketplace: preview rolled back")

// PublishStandard publishes a draft: the previous version is superseded,
// answers to unchanged requirements carry over, and offering tiers that no
// longer meet every mandatory requirement are unlisted (an offering left
// with no listed tier is paused). Providers of the area are notified.
func (s *Service) PublishStandard(ctx context.Context, p *authz.Principal, standardID string) (Standard, PublishImpact, error) {
	st, err := s.draftForEdit(ctx, p, standardID)
	if err != nil {
		return Standard{}, PublishImpact{}, err
	}
	if len(st.Requirements) == 0 {
		return Standard{}, PublishImpact{}, apperr.New(apperr.Conflict, "Add at least one requirement before publishing.")
	}
	var impact PublishImpact
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		impact, err = s.publishIn(ctx, tx, p, st)
		return err
	})
	if err != nil {
		return Standard{}, PublishImpact{}, err
	}
	st, err = s.GetStandard(ctx, p, st.ID)
	return st, impact, err
}

func (s *Service) publishIn(ctx context.Context, tx *db.Tx, p *authz.Principal, st Standard) (PublishImpact, error) {
	now := s.now()
	prev, hadPrev, err := currentStandard(ctx, tx, st.AreaID)
	if err != nil {
		return PublishImpact{}, err
	}
	res, err := tx.ExecContext(ctx, "UPDATE market_standards SET status = 'published', published_at = ?, published_by = ? WHERE id = ? AND status = 'draft'", db.TS(now), actorLabel(p), st.ID)
	if err != nil {
		return PublishImpact{}, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return PublishImpact{}, apperr.New(apperr.Conflict, "The draft changed meanwhile; reload the page.")
	}
	if err := bumpCatalog(ctx, tx); err != nil { // the area's current standard changes
		return PublishImpact{}, err
	}
	if hadPrev {
		if _, err := tx.ExecContext(ctx, "UPDATE market_standards SET status = 'superseded', superseded_at = ? WHERE id = ?", db.TS(now), prev.ID); err != nil {
			return PublishImpact{}, err
		}
		if err := carryAnswers(ctx, tx, prev, st); err != nil {
			return PublishImpact{}, err
		}
	}
	// Re-check every offering of the area that has listed tiers.
	rows, err := tx.QueryContext(ctx, "SELECT id FROM market_offerings WHERE service_area_id = ? AND status IN ('listed', 'paused')", st.AreaID)
	if err != nil {
		return PublishImpact{}, err
	}
	var ids []string
	for rows.Next() {
		var oid string
		if err := rows.Scan(&oid); err != nil {
			rows.Close()
			return PublishImpact{}, err
		}
		ids = append(ids, oid)
	}
	rows.Close()
	impact := PublishImpact{Offerings: len(ids)}
	for _, oid := range ids {
		n, name, err := s.enforceConformance(ctx, tx, oid, fmt.Sprintf("version %d of the standard was published", st.Version))
		if err != nil {
			return PublishImpact{}, err
		}
		if n > 0 {
			impact.TiersUnlisted += n
			impact.Names = append(impact.Names, name)
		}
	}
	provs, err := tx.QueryContext(ctx, "SELECT DISTINCT o.provider_org_id, po.kind FROM market_offerings o JOIN orgs po ON po.id = o.provider_org_id WHERE o.service_area_id = ? AND o.status <> 'retired'", st.AreaID)
	if err != nil {
		return PublishImpact{}, err
	}
	type prov struct{ id, kind string }
	var ps []prov
	for provs.Next() {
		var x prov
		if err := provs.Scan(&x.id, &x.kind); err != nil {
			provs.Close()
			return PublishImpact{}, err
		}
		ps = append(ps, x)
	}
	provs.Close()
	for _, pr := range ps {
		if err := s.notifyRoles(ctx, tx, pr.id, providerRoles(pr.kind, false), p.UserID,
			fmt.Sprintf("Version %d of the %s standard is published", st.Version, st.AreaName),
			"Review what changed and answer any new or changed requirements for your offerings; a tier stays listed only while it meets every mandatory requirement.",
			StandardURL(st.ID)); err != nil {
			return PublishImpact{}, err
		}
	}
	err = audit.Append(ctx, tx, audit.Event{Action: "market.standard.publish", TargetType: "standard", TargetID: st.ID,
		Summary: fmt.Sprintf("Published version %d of the %s standard", st.Version, st.AreaName),
		After:   map[string]any{"requirements": len(st.Requirements), "tiers_unlisted": impact.TiersUnlisted}})
	return impact, err
}

// carryAnswers copies offerings' answers (and their reviews) from the
// previous version to requirements that did not change.
func carryAnswers(ctx context.Context, tx *db.Tx, prev, next Standard) error {
	same := map[string]string{} // previous requirement ID -> next requirement ID
	byCode := map[string]Requirement{}
	for _, r := range next.Requirements {
		byCode[r.Code] = r
	}
	for _, r := range prev.Requirements {
		if n, ok := byCode[r.Code]; ok && r.same(n) {
			same[r.ID] = n.ID
		}
	}
	for oldID, newID := range same {
		_, err := tx.ExecContext(ctx, `INSERT INTO market_answers (offering_id, requirement_id, status, evidence, review_status, review_note, reviewed_by, reviewed_at, answered_by, answered_at)
			SELECT offering_id, ?, status, evidence, review_status, review_note, reviewed_by, reviewed_at, answered_by, answered_at FROM market_answers WHERE requirement_id = ?`, newID, oldID)
		if err != nil {
			return fmt.Errorf("marketplace: carry answers: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE market_files SET requirement_id = ? WHERE requirement_id = ?", newID, oldID); err != nil {
			return fmt.Errorf("marketplace: carry evidence: %w", err)
		}
	}
	return nil
}

// GetRequirementByCode returns a standard's requirement by code.
func (s *Service) GetRequirementByCode(ctx context.Context, p *authz.Principal, standardID, code string) (Standard, Requirement, error) {
	st, err := s.GetStandard(ctx, p, standardID)
	if err != nil {
		return st, Requirement{}, err
	}
	for _, r := range st.Requirements {
		if r.Code == code {
			return st, r, nil
		}
	}
	return st, Requirement{}, notFound("Requirement")
}
