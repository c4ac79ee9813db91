package marketplace

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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

// Assessment is an agency's answers to an area's questionnaire and the
// tier they gave.
type Assessment struct {
	ID           string
	AgencyOrgID  string
	AgencyName   string
	AreaID       string
	AreaName     string
	Version      int
	Answers      map[string]string
	Score        int
	MaxScore     int
	Tier         maturity.Tier
	Reasons      []string
	Capabilities []string
	TakenBy      string
	TakenByLabel string
	TakenAt      time.Time
}

// Percent is the score as a share of the maximum.
func (a Assessment) Percent() int {
	if a.MaxScore == 0 {
		return 0
	}
	return a.Score * 100 / a.MaxScore
}

const asmColumns = `x.id, x.agency_org_id, ag.name, x.service_area_id, a.name, x.questionnaire_version, x.answers, x.score, x.max_score, x.tier, x.reasons,
	x.capabilities, x.taken_by, x.taken_by_label, x.taken_at`

const asmFrom = ` FROM market_assessments x JOIN orgs ag ON ag.id = x.agency_org_id JOIN market_service_areas a ON a.id = x.service_area_id`

func scanAssessment(row interface{ Scan(...any) error }) (Assessment, error) {
	var x Assessment
	var answers, reasons, caps, tier string
	err := row.Scan(&x.ID, &x.AgencyOrgID, &x.AgencyName, &x.AreaID, &x.AreaName, &x.Version, &answers, &x.Score, &x.MaxScore, &tier, &reasons, &caps,
		&x.TakenBy, &x.TakenByLabel, (*db.Time)(&x.TakenAt))
	if err != nil {
		return x, err
	}
	x.Tier, x.Capabilities = maturity.Tier(tier), splitList(caps)
	if err := json.Unmarshal([]byte(answers), &x.Answers); err != nil {
		return x, fmt.Errorf("marketplace: assessment answers: %w", err)
	}
	if err := json.Unmarshal([]byte(reasons), &x.Reasons); err != nil {
		return x, fmt.Errorf("marketplace: assessment reasons: %w", err)
	}
	return x, nil
}

// Questionnaire returns the questionnaire an assessment used.
func (s *Service) Questionnaire(a Assessment) *maturity.Questionnaire {
	q, _ := s.Questionnaires.Version(a.AreaID, a.Version)
	return q
}

// TakeAssessment scores an agency's answers to the latest questionnaire of
// an area and records them. The agency's own people who assess (buyers and
// admins). Reaching this stage is reported to the lifecycle hook (needs).
func (s *Service) TakeAssessment(ctx context.Context, p *authz.Principal, agencyOrgID, areaID string, answers map[string]string) (Assessment, error) {
	if err := s.Authz.CheckMember(ctx, p, authz.MarketAssess, agencyOrgID); err != nil {
		return Assessment{}, err
	}
	ag, err := getOrgInfo(ctx, s.DB, agencyOrgID)
	if err != nil {
		return Assessment{}, err
	}
	if ag.Kind != "agency" {
		return Assessment{}, apperr.New(apperr.Invalid, "Assessments are taken by agencies.")
	}
	area, err := s.Area(ctx, areaID)
	if err != nil {
		return Assessment{}, apperr.Validation(map[string]string{"area": "Choose a service area."})
	}
	q, ok := s.Questionnaires.Latest(areaID)
	if !ok {
		return Assessment{}, apperr.New(apperr.Conflict, "%s has no questionnaire yet.", area.Name)
	}
	if len(answers) > 100 {
		return Assessment{}, apperr.New(apperr.Invalid, "Too many answers.")
	}
	res, problems := q.Score(answers)
	if problems != nil {
		fields := map[string]string{}
		for k, v := range problems {
			fields["q_"+k] = v
		}
		return Assessment{}, apperr.Validation(fields)
	}
	now := s.now()
	a := Assessment{ID: id.New("asm"), AgencyOrgID: ag.ID, AgencyName: ag.Name, AreaID: area.ID, AreaName: area.Name, Version: q.Version, Answers: answers,
		Score: res.Score, MaxScore: res.MaxScore, Tier: res.Tier, Reasons: res.Reasons, Capabilities: res.Capabilities, TakenBy: p.UserID, TakenByLabel: actorLabel(p), TakenAt: now}
	aj, _ := json.Marshal(a.Answers)
	rj, _ := json.Marshal(a.Reasons)
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO market_assessments (id, agency_org_id, service_area_id, questionnaire_version, answers, score, max_score, tier, reasons,
			capabilities, taken_by, taken_by_label, taken_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.AgencyOrgID, a.AreaID, a.Version, string(aj), a.Score, a.MaxScore, string(a.Tier), string(rj), strings.Join(a.Capabilities, ","), a.TakenBy, a.TakenByLabel, db.TS(now))
		if err != nil {
			return fmt.Errorf("marketplace: insert assessment: %w", err)
		}
		if err := s.Hook.Stage(ctx, tx, LifecycleEvent{Stage: StageNeeds, AgencyID: a.AgencyOrgID, ServiceArea: a.AreaID, UserID: p.UserID, At: now}); err != nil {
			return fmt.Errorf("marketplace: lifecycle hook: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: a.AgencyOrgID, Action: "market.assessment.take", TargetType: "assessment", TargetID: a.ID,
			Summary: fmt.Sprintf("Assessed %s maturity: %s (%d of %d)", a.AreaName, a.Tier.Label(), a.Score, a.MaxScore),
			After:   map[string]any{"area": a.AreaID, "version": a.Version, "tier": a.Tier, "score": a.Score}})
	})
	return a, err
}

// GetAssessment returns an assessment the principal may read.
func (s *Service) GetAssessment(ctx context.Context, p *authz.Principal, asmID string) (Assessment, error) {
	if !id.Valid("asm", asmID) {
		return Assessment{}, notFound("Assessment")
	}
	a, err := scanAssessment(s.DB.QueryRowContext(ctx, "SELECT "+asmColumns+asmFrom+" WHERE x.id = ?", asmID))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("Assessment")
	}
	if err != nil {
		return a, fmt.Errorf("marketplace: assessment: %w", err)
	}
	if err := s.Authz.Check(ctx, p, authz.MarketAssessmentRead, a.AgencyOrgID); err != nil {
		return Assessment{}, notFoundIfHidden(err, "Assessment")
	}
	return a, nil
}

// Assessments returns an agency's assessments, newest first, optionally for
// one area.
func (s *Service) Assessments(ctx context.Context, p *authz.Principal, agencyOrgID, areaID string) ([]Assessment, error) {
	if err := s.Authz.Check(ctx, p, authz.MarketAssessmentRead, agencyOrgID); err != nil {
		return nil, err
	}
	query := "SELECT " + asmColumns + asmFrom + " WHERE x.agency_org_id = ?"
	args := []any{agencyOrgID}
	if areaID != "" {
		query += " AND x.service_area_id = ?"
		args = append(args, areaID)
	}
	rows, err := s.DB.QueryContext(ctx, query+" ORDER BY x.taken_at DESC LIMIT 500", args...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: assessments: %w", err)
	}
	defer rows.Close()
	var out []Assessment
	for rows.Next() {
		a, err := scanAssessment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// LatestAssessments returns an agency's newest assessment per area, in
// catalog order.
func (s *Service) LatestAssessments(ctx context.Context, p *authz.Principal, agencyOrgID string) ([]Assessment, error) {
	all, err := s.Assessments(ctx, p, agencyOrgID, "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Assessment
	for _, a := range all {
		if !seen[a.AreaID] {
			seen[a.AreaID] = true
			out = append(out, a)
		}
	}
	areas, _ := s.Areas(ctx)
	order := map[string]int{}
	for _, ar := range areas {
		order[ar.ID] = ar.Order
	}
	sort.Slice(out, func(i, j int) bool { return order[out[i].AreaID] < order[out[j].AreaID] })
	return out, nil
}

// Trend is an agency's assessments of one area, oldest first.
func (s *Service) Trend(ctx context.Context, p *authz.Principal, agencyOrgID, areaID string) ([]Assessment, error) {
	all, err := s.Assessments(ctx, p, agencyOrgID, areaID)
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all, err
}
