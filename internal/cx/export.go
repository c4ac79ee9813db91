package cx

import (
	"context"
	"fmt"
	"sort"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
)

// Export is one quarter's A-11 data collection: every response in the
// 17-column layout, and per service and stage how many customers were
// offered the survey and how many responded.
type Export struct {
	Quarter    a11.Quarter
	Rows       []a11.Row
	Collection []a11.CollectionRow
	Offered    int
	Responses  int
}

// Export returns a quarter's data collection (office). A response counts
// in the quarter its invitation was offered.
func (s *Service) Export(ctx context.Context, p *authz.Principal, q a11.Quarter) (Export, error) {
	if err := s.checkOffice(ctx, p, authz.CXSurveyRead); err != nil {
		return Export{}, err
	}
	ex := Export{Quarter: q}
	rows, err := s.DB.QueryContext(ctx, "SELECT "+responseColumns+" FROM cx_responses r JOIN orgs o ON o.id = r.org_id WHERE r.quarter = ? ORDER BY r.submitted_at, r.id", q.String())
	if err != nil {
		return Export{}, fmt.Errorf("cx: export responses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		rsp, err := scanResponse(rows)
		if err != nil {
			return Export{}, err
		}
		ex.Rows = append(ex.Rows, a11.Row{ExternalID: rsp.ID, Answer: rsp.Answer})
	}
	if err := rows.Err(); err != nil {
		return Export{}, err
	}
	crows, err := s.DB.QueryContext(ctx, `SELECT s.service_area, s.service_name, s.stage, COALESCE(p.name, ''), s.offering_name, s.trust_question,
		COUNT(i.id), COUNT(r.id), COALESCE(SUM(CASE WHEN r.trust = 1 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN r.trust = 0 THEN 1 ELSE 0 END), 0)
		FROM cx_invitations i JOIN cx_surveys s ON s.id = i.survey_id LEFT JOIN orgs p ON p.id = s.provider_id
		LEFT JOIN cx_responses r ON r.invitation_id = i.id
		WHERE i.quarter = ?
		GROUP BY s.service_area, s.service_name, s.stage, p.name, s.offering_name, s.trust_question`, q.String())
	if err != nil {
		return Export{}, fmt.Errorf("cx: export collection: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		c := a11.CollectionRow{Quarter: q}
		if err := crows.Scan(&c.ServiceArea, &c.ServiceName, &c.Stage, &c.Provider, &c.Offering, &c.TrustQuestion, &c.Offered, &c.Responses, &c.TrustUp, &c.TrustDown); err != nil {
			return Export{}, fmt.Errorf("cx: scan collection: %w", err)
		}
		if c.Provider == "" {
			c.Provider = s.OfficeName
		}
		ex.Offered += c.Offered
		ex.Responses += c.Responses
		ex.Collection = append(ex.Collection, c)
	}
	if err := crows.Err(); err != nil {
		return Export{}, err
	}
	stageOrder := map[string]int{}
	for i, st := range Stages {
		stageOrder[string(st)] = i
	}
	sort.SliceStable(ex.Collection, func(i, j int) bool {
		a, b := ex.Collection[i], ex.Collection[j]
		if a.ServiceName != b.ServiceName {
			return a.ServiceName < b.ServiceName
		}
		if a.Stage != b.Stage {
			return stageOrder[a.Stage] < stageOrder[b.Stage]
		}
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return a.Offering < b.Offering
	})
	return ex, nil
}
