package cx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/notify"
)

// stageRoles are the people of an agency each stage asks: those who took
// part in it.
var stageRoles = map[Stage][]authz.Role{
	StageNeeds:       {authz.AgencyAdmin, authz.AgencyBuyer},
	StageProcurement: {authz.AgencyBuyer, authz.AgencyApprover},
	StageExecution:   {authz.AgencyAdmin, authz.AgencyAnalyst},
	StageDelivery:    {authz.AgencyAdmin, authz.AgencyAnalyst},
}

// providerRoles are the people of a provider a survey asks.
var providerRoles = []authz.Role{authz.ProviderAdmin, authz.ProviderAnalyst}

// surveyInput is a survey about to be sent.
type surveyInput struct {
	OrgID          string
	Stage          Stage
	ServiceArea    string
	OfferingID     string
	ProviderID     string
	OrderID        string
	SubscriptionID string
	Source         string // lifecycle or office
	DedupeKey      string
	CreatedBy      string
	// At is when the survey is sent (the demo backdates history).
	At time.Time
	// Notify sends the invitations in the app and by email; history loaded
	// by the demo is not mailed.
	Notify bool
	// classic, when set, overrides the settings (demo history).
	classic *bool
}

type recipient struct{ ID, Name, Email string }

// recipients returns the active people of org who hold one of roles, or,
// when nobody does, every active person of org; at most limit.
func recipients(ctx context.Context, q db.Queryer, orgID string, roles []authz.Role, limit int) ([]recipient, error) {
	list := func(withRoles bool) ([]recipient, error) {
		query := `SELECT DISTINCT u.id, u.name, u.email FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE m.org_id = ? AND u.status = 'active'`
		args := []any{orgID}
		if withRoles {
			names := make([]string, len(roles))
			for i, r := range roles {
				names[i] = string(r)
			}
			in, inArgs := inClause("m.role", names)
			query += " AND " + in
			args = append(args, inArgs...)
		}
		query += " ORDER BY u.email LIMIT ?"
		args = append(args, limit)
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("cx: recipients: %w", err)
		}
		defer rows.Close()
		var out []recipient
		for rows.Next() {
			var r recipient
			if err := rows.Scan(&r.ID, &r.Name, &r.Email); err != nil {
				return nil, fmt.Errorf("cx: scan recipient: %w", err)
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}
	out, err := list(true)
	if err != nil || len(out) > 0 {
		return out, err
	}
	return list(false)
}

// errNobodyToAsk is returned by createSurvey when the organization has no
// active person to ask.
var errNobodyToAsk = errors.New("cx: nobody to ask")

// errAlreadySent is returned by createSurvey when a lifecycle survey with
// the same key exists.
var errAlreadySent = errors.New("cx: survey already sent")

// createSurvey records a survey and one invitation per person asked, and
// (when in.Notify) tells each of them in the app and by email, all in tx.
func (s *Service) createSurvey(ctx context.Context, tx *db.Tx, in surveyInput) (Survey, error) {
	org, err := getOrgRef(ctx, tx, in.OrgID)
	if err != nil {
		return Survey{}, err
	}
	if org.Kind != string(authz.Agency) && org.Kind != string(authz.Provider) {
		return Survey{}, apperr.Validation(map[string]string{"org_id": "Choose an agency or a provider."})
	}
	if org.Status != "active" {
		return Survey{}, apperr.Validation(map[string]string{"org_id": org.Name + " is suspended; reactivate it before surveying it."})
	}
	st, err := loadSettings(ctx, tx)
	if err != nil {
		return Survey{}, err
	}
	at := in.At
	if at.IsZero() {
		at = tx.Now()
	}
	at = at.UTC()
	svc, _, err := s.serviceName(ctx, in.ServiceArea)
	if err != nil {
		return Survey{}, err
	}
	sv := Survey{ID: id.New("svy"), OrgID: org.ID, OrgName: org.Name, Stage: in.Stage, ServiceArea: in.ServiceArea, ServiceName: svc,
		OfferingID: in.OfferingID, ProviderID: in.ProviderID, OrderID: in.OrderID, SubscriptionID: in.SubscriptionID,
		TrustQuestion: a11.TrustQuestion(st.TrustQuestion, s.OfficeName), Classic: st.Classic, Source: in.Source,
		Quarter: a11.QuarterOf(at), CreatedBy: in.CreatedBy, CreatedAt: at, ClosesAt: at.Add(s.InvitationTTL)}
	if in.classic != nil {
		sv.Classic = *in.classic
	}
	if in.OfferingID != "" {
		if sv.OfferingName, err = s.Catalog.OfferingName(ctx, tx, in.OfferingID); err != nil {
			return Survey{}, fmt.Errorf("cx: offering name: %w", err)
		}
	}
	if in.ProviderID != "" {
		prov, err := getOrgRef(ctx, tx, in.ProviderID)
		if err != nil || prov.Kind != string(authz.Provider) {
			return Survey{}, apperr.Validation(map[string]string{"provider_id": "Choose a provider, or leave the provider empty."})
		}
		sv.ProviderName = prov.Name
	}
	roles := stageRoles[in.Stage]
	if org.Kind == string(authz.Provider) {
		roles = providerRoles
	}
	people, err := recipients(ctx, tx, org.ID, roles, s.MaxRecipients)
	if err != nil {
		return Survey{}, err
	}
	if len(people) == 0 {
		return Survey{}, errNobodyToAsk
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO cx_surveys (id, org_id, stage, service_area, service_name, offering_id, offering_name, provider_id,
		order_id, subscription_id, trust_question, classic, source, dedupe_key, quarter, created_by, created_at, closes_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
		sv.ID, sv.OrgID, string(sv.Stage), sv.ServiceArea, sv.ServiceName, sv.OfferingID, sv.OfferingName, nullable(sv.ProviderID),
		sv.OrderID, sv.SubscriptionID, sv.TrustQuestion, sv.Classic, sv.Source, nullable(in.DedupeKey), sv.Quarter.String(), sv.CreatedBy,
		db.TS(sv.CreatedAt), db.TS(sv.ClosesAt))
	if err != nil {
		return Survey{}, fmt.Errorf("cx: insert survey: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Survey{}, fmt.Errorf("cx: insert survey: %w", err)
	} else if n == 0 {
		return Survey{}, errAlreadySent
	}
	if err := startTally(ctx, tx, sv, len(people)); err != nil {
		return Survey{}, err
	}
	for _, person := range people {
		secret := id.Secret(20)
		inv := Invitation{ID: id.New("cxi"), SurveyID: sv.ID, OrgID: sv.OrgID, UserID: person.ID}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cx_invitations (id, survey_id, org_id, user_id, token_hash, quarter, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, inv.ID, sv.ID, sv.OrgID, person.ID, hashSecret(secret), sv.Quarter.String(), db.TS(at), db.TS(sv.ClosesAt)); err != nil {
			return Survey{}, fmt.Errorf("cx: insert invitation: %w", err)
		}
		sv.Offered++
		if !in.Notify {
			continue
		}
		n := notify.Notification{UserID: person.ID, OrgID: sv.OrgID, Subject: invitationSubject(sv), Body: invitationBody(sv, person.Name, s.OfficeName),
			Link: "/cx/invitations/" + inv.ID, EmailLink: "/cx/answer/" + secret}
		if err := notify.Notify(ctx, tx, n, s.PublicURL()); err != nil {
			return Survey{}, err
		}
	}
	err = audit.Append(ctx, tx, audit.Event{OrgID: sv.OrgID, Action: "cx.survey.send", TargetType: "cx_survey", TargetID: sv.ID,
		Summary: fmt.Sprintf("Sent the %s survey about %s to %d people of %s", strings.ToLower(sv.Stage.Label()), sv.Subject(), sv.Offered, org.Name),
		After: map[string]any{"stage": sv.Stage, "service_area": sv.ServiceArea, "offering_id": sv.OfferingID, "provider_id": sv.ProviderID,
			"order_id": sv.OrderID, "subscription_id": sv.SubscriptionID, "source": sv.Source, "invitations": sv.Offered}})
	if err != nil {
		return Survey{}, err
	}
	return sv, nil
}

func invitationSubject(sv Survey) string {
	if sv.Stage == StageDelivery {
		return sv.Question() + " A one-minute survey"
	}
	return sv.Question() + " A one-minute survey about " + sv.Subject()
}

func invitationBody(sv Survey, name, office string) string {
	greeting := "Hello,"
	if name != "" {
		greeting = "Hello " + name + ","
	}
	return fmt.Sprintf("%s\n\n%s would like to know %s at %s. The survey has four short questions, "+
		"every one of them optional, and takes about a minute. Your answers help the office improve the service "+
		"and are reported in aggregate under OMB Circular A-11 Section 280.\n\nThe link below works once, until %s, without signing in:",
		greeting, office, sv.Stage.Sentence(sv.Subject()), sv.OrgName, sv.ClosesAt.Format("January 2, 2006"))
}

// StageEvent is what the marketplace reports at each lifecycle step.
type StageEvent struct {
	Stage          Stage  // needs, procurement, execution or delivery
	AgencyID       string // the agency (or sub-organization) served
	OfferingID     string // the offering, when there is one
	ProviderID     string // the provider organization delivering it, if not the office
	ServiceArea    string // the service area's key in the catalog
	OrderID        string
	SubscriptionID string
}

// dedupeKey names the one survey a lifecycle event may cause: one per order
// and stage, one per subscription per quarter for delivery, and one per
// agency, service and quarter for needs assessments that have no order yet.
func (ev StageEvent) dedupeKey(q a11.Quarter) string {
	parts := []string{string(ev.Stage)}
	switch {
	case ev.Stage == StageDelivery && ev.SubscriptionID != "":
		parts = append(parts, "sub:"+ev.SubscriptionID, q.String())
	case ev.OrderID != "":
		parts = append(parts, "order:"+ev.OrderID)
	case ev.SubscriptionID != "":
		parts = append(parts, "sub:"+ev.SubscriptionID)
	default:
		parts = append(parts, "agency:"+ev.AgencyID, "service:"+ev.ServiceArea, "offering:"+ev.OfferingID, q.String())
	}
	return strings.Join(parts, "|")
}

// Stage is the lifecycle hook: the marketplace calls it inside its own
// transaction after an assessment (needs), an order (procurement),
// onboarding (execution) and quarterly while a subscription is active
// (delivery). It sends the stage's survey to the agency people who took
// part, in the app and by email, in the same transaction. Calling it again
// for the same step sends nothing more; an agency with nobody to ask is
// skipped (and logged) rather than failing the caller's step. It returns
// an Invalid error for an unknown stage or a missing agency or service.
func (s *Service) Stage(ctx context.Context, tx *db.Tx, ev StageEvent) error {
	_, err := s.stage(ctx, tx, ev)
	return err
}

// stage is Stage reporting whether it sent a survey.
func (s *Service) stage(ctx context.Context, tx *db.Tx, ev StageEvent) (bool, error) {
	errs := map[string]string{}
	if !ev.Stage.Valid() {
		errs["stage"] = "stage is needs, procurement, execution or delivery."
	}
	if ev.AgencyID == "" {
		errs["agency_id"] = "agency_id is required."
	}
	if ev.ServiceArea == "" {
		errs["service_area"] = "service_area is required."
	}
	if len(errs) > 0 {
		return false, apperr.Validation(errs)
	}
	org, err := getOrgRef(ctx, tx, ev.AgencyID)
	if err != nil {
		return false, err
	}
	if org.Kind != string(authz.Agency) {
		return false, apperr.Validation(map[string]string{"agency_id": "Lifecycle surveys go to agencies."})
	}
	at := tx.Now()
	_, err = s.createSurvey(ctx, tx, surveyInput{OrgID: ev.AgencyID, Stage: ev.Stage, ServiceArea: ev.ServiceArea, OfferingID: ev.OfferingID,
		ProviderID: ev.ProviderID, OrderID: ev.OrderID, SubscriptionID: ev.SubscriptionID, Source: "lifecycle",
		DedupeKey: ev.dedupeKey(a11.QuarterOf(at)), CreatedBy: "lifecycle", At: at, Notify: true})
	switch {
	case errors.Is(err, errAlreadySent):
		return false, nil
	case errors.Is(err, errNobodyToAsk):
		s.Log.Warn("cx: lifecycle survey skipped: nobody to ask", "org_id", ev.AgencyID, "stage", string(ev.Stage))
		return false, nil
	}
	return err == nil, err
}

// SendInput is a survey the office sends by hand.
type SendInput struct {
	OrgID       string // an agency or a provider
	Stage       Stage
	ServiceArea string
	OfferingID  string
	ProviderID  string
}

// Send sends a survey to an organization's people (office admins and
// analysts). It refuses to repeat the same survey to the same organization
// within RepeatGuard, to spare people survey fatigue.
func (s *Service) Send(ctx context.Context, p *authz.Principal, in SendInput) (Survey, error) {
	in.OrgID, in.ServiceArea = strings.TrimSpace(in.OrgID), strings.TrimSpace(in.ServiceArea)
	errs := map[string]string{}
	if in.OrgID == "" {
		errs["org_id"] = "Choose the organization to ask."
	}
	if !in.Stage.Valid() {
		errs["stage"] = "Choose the stage the survey asks about."
	}
	if _, known, err := s.serviceName(ctx, in.ServiceArea); err != nil {
		return Survey{}, err
	} else if !known {
		errs["service_area"] = "Choose the service the survey asks about."
	}
	if len(errs) > 0 {
		return Survey{}, apperr.Validation(errs)
	}
	if _, err := getOrgRef(ctx, s.DB, in.OrgID); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return Survey{}, apperr.Validation(map[string]string{"org_id": "Choose the organization to ask."})
		}
		return Survey{}, err
	}
	if err := s.Authz.Check(ctx, p, authz.CXSurveySend, in.OrgID); err != nil {
		return Survey{}, err
	}
	var sv Survey
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var last sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT MAX(created_at) FROM cx_surveys WHERE org_id = ? AND stage = ? AND service_area = ? AND offering_id = ? AND created_at > ?`,
			in.OrgID, string(in.Stage), in.ServiceArea, in.OfferingID, db.TS(tx.Now().Add(-s.RepeatGuard))).Scan(&last)
		if err != nil {
			return fmt.Errorf("cx: last survey: %w", err)
		}
		if last.Valid {
			var t db.Time
			_ = t.Scan(last.String)
			return apperr.New(apperr.Conflict, "This organization was asked this survey on %s. Wait a week between surveys so people are not asked too often.",
				time.Time(t).Format("January 2, 2006"))
		}
		sv, err = s.createSurvey(ctx, tx, surveyInput{OrgID: in.OrgID, Stage: in.Stage, ServiceArea: in.ServiceArea, OfferingID: in.OfferingID,
			ProviderID: in.ProviderID, Source: "office", CreatedBy: p.Label(), Notify: true})
		if errors.Is(err, errNobodyToAsk) {
			return apperr.Validation(map[string]string{"org_id": "This organization has nobody active to ask. Invite its people first."})
		}
		return err
	})
	return sv, err
}

const surveyColumns = `s.id, s.org_id, o.name, s.stage, s.service_area, s.service_name, s.offering_id, s.offering_name, COALESCE(s.provider_id, ''),
	COALESCE(p.name, ''), s.order_id, s.subscription_id, s.trust_question, s.classic, s.source, s.quarter, s.created_by, s.created_at, s.closes_at,
	(SELECT COUNT(*) FROM cx_invitations x WHERE x.survey_id = s.id), (SELECT COUNT(*) FROM cx_responses y WHERE y.survey_id = s.id)`

const surveyFrom = ` FROM cx_surveys s JOIN orgs o ON o.id = s.org_id LEFT JOIN orgs p ON p.id = s.provider_id`

type scanner interface{ Scan(dest ...any) error }

func scanSurvey(r scanner) (Survey, error) {
	var sv Survey
	var stage, quarter string
	err := r.Scan(&sv.ID, &sv.OrgID, &sv.OrgName, &stage, &sv.ServiceArea, &sv.ServiceName, &sv.OfferingID, &sv.OfferingName, &sv.ProviderID,
		&sv.ProviderName, &sv.OrderID, &sv.SubscriptionID, &sv.TrustQuestion, &sv.Classic, &sv.Source, &quarter, &sv.CreatedBy,
		(*db.Time)(&sv.CreatedAt), (*db.Time)(&sv.ClosesAt), &sv.Offered, &sv.Responses)
	if err != nil {
		return sv, fmt.Errorf("cx: scan survey: %w", err)
	}
	sv.Stage = Stage(stage)
	sv.Quarter, _ = a11.ParseQuarter(quarter)
	return sv, nil
}

func getSurvey(ctx context.Context, q db.Queryer, surveyID string) (Survey, error) {
	if !id.Valid("svy", surveyID) {
		return Survey{}, apperr.NotFoundf("Survey")
	}
	sv, err := scanSurvey(q.QueryRowContext(ctx, "SELECT "+surveyColumns+surveyFrom+" WHERE s.id = ?", surveyID))
	if errors.Is(err, sql.ErrNoRows) {
		return Survey{}, apperr.NotFoundf("Survey")
	}
	return sv, err
}

// GetSurvey returns a survey with its counts (office).
func (s *Service) GetSurvey(ctx context.Context, p *authz.Principal, surveyID string) (Survey, error) {
	sv, err := getSurvey(ctx, s.DB, surveyID)
	if err != nil {
		return Survey{}, err
	}
	if err := s.Authz.Check(ctx, p, authz.CXSurveyRead, sv.OrgID); err != nil {
		return Survey{}, err
	}
	return sv, nil
}

// SurveyFilter narrows ListSurveys.
type SurveyFilter struct {
	OrgID   string
	Stage   Stage
	Quarter a11.Quarter
	Limit   int
}

// ListSurveys returns surveys, newest first (office).
func (s *Service) ListSurveys(ctx context.Context, p *authz.Principal, f SurveyFilter) ([]Survey, error) {
	scope, err := s.Authz.ScopeFor(ctx, p, authz.CXSurveyRead)
	if err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if !scope.All {
		in, inArgs := inClause("s.org_id", scope.OrgIDs)
		where, args = append(where, in), append(args, inArgs...)
	}
	if f.OrgID != "" {
		where, args = append(where, "s.org_id = ?"), append(args, f.OrgID)
	}
	if f.Stage != "" {
		where, args = append(where, "s.stage = ?"), append(args, string(f.Stage))
	}
	if !f.Quarter.IsZero() {
		where, args = append(where, "s.quarter = ?"), append(args, f.Quarter.String())
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 200
	}
	query := "SELECT " + surveyColumns + surveyFrom
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY s.created_at DESC, s.id LIMIT ?"
	rows, err := s.DB.QueryContext(ctx, query, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("cx: list surveys: %w", err)
	}
	defer rows.Close()
	var out []Survey
	for rows.Next() {
		sv, err := scanSurvey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sv)
	}
	return out, rows.Err()
}
