package cx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
)

const invitationColumns = `i.id, i.survey_id, i.org_id, i.user_id, u.name, u.email, i.quarter, i.created_at, i.expires_at, i.responded_at, ` + surveyColumns

const invitationFrom = ` FROM cx_invitations i JOIN users u ON u.id = i.user_id JOIN cx_surveys s ON s.id = i.survey_id
	JOIN orgs o ON o.id = s.org_id LEFT JOIN orgs p ON p.id = s.provider_id`

func scanInvitation(r scanner) (Invitation, error) {
	var inv Invitation
	var quarter string
	var sv Survey
	var stage, squarter string
	err := r.Scan(&inv.ID, &inv.SurveyID, &inv.OrgID, &inv.UserID, &inv.UserName, &inv.UserEmail, &quarter,
		(*db.Time)(&inv.CreatedAt), (*db.Time)(&inv.ExpiresAt), (*db.Time)(&inv.RespondedAt),
		&sv.ID, &sv.OrgID, &sv.OrgName, &stage, &sv.ServiceArea, &sv.ServiceName, &sv.OfferingID, &sv.OfferingName, &sv.ProviderID,
		&sv.ProviderName, &sv.OrderID, &sv.SubscriptionID, &sv.TrustQuestion, &sv.Classic, &sv.Source, &squarter, &sv.CreatedBy,
		(*db.Time)(&sv.CreatedAt), (*db.Time)(&sv.ClosesAt), &sv.Offered, &sv.Responses)
	if err != nil {
		return inv, fmt.Errorf("cx: scan invitation: %w", err)
	}
	sv.Stage = Stage(stage)
	sv.Quarter, _ = a11.ParseQuarter(squarter)
	inv.Quarter, _ = a11.ParseQuarter(quarter)
	inv.Survey = sv
	return inv, nil
}

func getInvitation(ctx context.Context, q db.Queryer, where string, arg string) (Invitation, error) {
	inv, err := scanInvitation(q.QueryRowContext(ctx, "SELECT "+invitationColumns+invitationFrom+" WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Invitation{}, apperr.NotFoundf("Survey")
	}
	return inv, err
}

// InvitationForUser returns an invitation addressed to the signed-in person.
// Anybody else's invitation is not found, whatever their role.
func (s *Service) InvitationForUser(ctx context.Context, p *authz.Principal, invitationID string) (Invitation, error) {
	if p == nil || p.UserID == "" || !id.Valid("cxi", invitationID) {
		return Invitation{}, apperr.NotFoundf("Survey")
	}
	inv, err := getInvitation(ctx, s.DB, "i.id = ?", invitationID)
	if err != nil {
		return Invitation{}, err
	}
	if inv.UserID != p.UserID {
		return Invitation{}, apperr.NotFoundf("Survey")
	}
	return inv, nil
}

// InvitationBySecret returns the invitation a one-time email link opens,
// for anyone who holds the link.
func (s *Service) InvitationBySecret(ctx context.Context, secret string) (Invitation, error) {
	if secret == "" || len(secret) > 100 {
		return Invitation{}, apperr.NotFoundf("Survey")
	}
	return getInvitation(ctx, s.DB, "i.token_hash = ?", hashSecret(secret))
}

// InvitationForOrg returns an invitation of an organization the principal
// may answer for (the API).
func (s *Service) InvitationForOrg(ctx context.Context, p *authz.Principal, invitationID string) (Invitation, error) {
	if !id.Valid("cxi", invitationID) {
		return Invitation{}, apperr.NotFoundf("Survey")
	}
	inv, err := getInvitation(ctx, s.DB, "i.id = ?", invitationID)
	if err != nil {
		return Invitation{}, err
	}
	if err := s.Authz.Check(ctx, p, authz.CXRespond, inv.OrgID); err != nil {
		return Invitation{}, err
	}
	return inv, nil
}

// InvitationFilter narrows the invitation lists.
type InvitationFilter struct {
	OpenOnly bool
	Limit    int
}

// MyInvitations lists the surveys the signed-in person was asked, open ones
// first, then newest.
func (s *Service) MyInvitations(ctx context.Context, p *authz.Principal, f InvitationFilter) ([]Invitation, error) {
	if p == nil || p.UserID == "" {
		return nil, nil
	}
	return s.listInvitations(ctx, "i.user_id = ?", []any{p.UserID}, f)
}

// OrgInvitations lists the invitations of the organizations the principal
// answers for (the API).
func (s *Service) OrgInvitations(ctx context.Context, p *authz.Principal, f InvitationFilter) ([]Invitation, error) {
	scope, err := s.ownScope(ctx, p, authz.CXRespond)
	if err != nil {
		return nil, err
	}
	in, args := inClause("i.org_id", scope.OrgIDs)
	return s.listInvitations(ctx, in, args, f)
}

func (s *Service) listInvitations(ctx context.Context, where string, args []any, f InvitationFilter) ([]Invitation, error) {
	now := s.DB.Now()
	if f.OpenOnly {
		where += " AND i.responded_at IS NULL AND i.expires_at > ?"
		args = append(args, db.TS(now))
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	query := "SELECT " + invitationColumns + invitationFrom + " WHERE " + where +
		" ORDER BY CASE WHEN i.responded_at IS NULL AND i.expires_at > ? THEN 0 ELSE 1 END, i.created_at DESC, i.id LIMIT ?"
	rows, err := s.DB.QueryContext(ctx, query, append(args, db.TS(now), f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("cx: list invitations: %w", err)
	}
	defer rows.Close()
	var out []Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// RespondAsUser records the signed-in person's answer to their invitation
// (channel web).
func (s *Service) RespondAsUser(ctx context.Context, p *authz.Principal, invitationID string, raw a11.Raw) (Response, error) {
	inv, err := s.InvitationForUser(ctx, p, invitationID)
	if err != nil {
		return Response{}, err
	}
	return s.respond(ctx, inv, raw, ChannelWeb, time.Time{})
}

// RespondBySecret records an answer given through the one-time email link
// (channel email).
func (s *Service) RespondBySecret(ctx context.Context, secret string, raw a11.Raw) (Response, error) {
	inv, err := s.InvitationBySecret(ctx, secret)
	if err != nil {
		return Response{}, err
	}
	return s.respond(ctx, inv, raw, ChannelEmail, time.Time{})
}

// RespondByAPI records an answer an organization's system relays for one
// of its people (channel api). The office does not answer for others.
func (s *Service) RespondByAPI(ctx context.Context, p *authz.Principal, invitationID string, raw a11.Raw) (Response, error) {
	inv, err := s.InvitationForOrg(ctx, p, invitationID)
	if err != nil {
		return Response{}, err
	}
	scope, err := s.ownScope(ctx, p, authz.CXRespond)
	if err != nil {
		return Response{}, err
	}
	if !scope.Contains(inv.OrgID) {
		return Response{}, apperr.New(apperr.Forbidden, "Only the surveyed organization answers its surveys.")
	}
	return s.respond(ctx, inv, raw, ChannelAPI, time.Time{})
}

// respond validates and stores one answer: at most one per invitation,
// while the invitation is open. at backdates demo history; zero means now.
func (s *Service) respond(ctx context.Context, inv Invitation, raw a11.Raw, ch Channel, at time.Time) (Response, error) {
	ans, errs := a11.Parse(raw, inv.Survey.Classic)
	if len(errs) > 0 {
		return Response{}, apperr.Validation(errs)
	}
	var rsp Response
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		rsp, err = s.storeResponse(ctx, tx, inv, ans, ch, at)
		return err
	})
	return rsp, err
}

func (s *Service) storeResponse(ctx context.Context, tx *db.Tx, inv Invitation, ans a11.Answer, ch Channel, at time.Time) (Response, error) {
	if at.IsZero() {
		at = tx.Now()
	}
	at = at.UTC()
	if !inv.RespondedAt.IsZero() {
		return Response{}, apperr.New(apperr.Conflict, "This survey was already answered on %s. Thank you.", inv.RespondedAt.Format("January 2, 2006"))
	}
	if !at.Before(inv.ExpiresAt) {
		return Response{}, apperr.New(apperr.Conflict, "This survey closed on %s.", inv.ExpiresAt.Format("January 2, 2006"))
	}
	res, err := tx.ExecContext(ctx, "UPDATE cx_invitations SET responded_at = ? WHERE id = ? AND responded_at IS NULL", db.TS(at), inv.ID)
	if err != nil {
		return Response{}, fmt.Errorf("cx: mark invitation answered: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Response{}, apperr.New(apperr.Conflict, "This survey was already answered. Thank you.")
	}
	// A response counts in the quarter its invitation was offered, so each
	// quarter's respondents are a subset of the customers offered the
	// survey that quarter, as A-11 reports them.
	q := inv.Quarter
	if q.IsZero() {
		q = a11.QuarterOf(at)
	}
	rsp := Response{ID: id.New("rsp"), InvitationID: inv.ID, SurveyID: inv.SurveyID, OrgID: inv.OrgID, OrgName: inv.Survey.OrgName,
		Channel: ch, Answer: ans, Quarter: q, SubmittedAt: at}
	var trust any
	switch ans.Trust {
	case a11.ThumbsUp:
		trust = 1
	case a11.ThumbsDown:
		trust = 0
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO cx_responses (id, invitation_id, survey_id, org_id, channel, trust, went_well, not_well, comment, classic, quarter, submitted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, rsp.ID, inv.ID, inv.SurveyID, inv.OrgID, string(ch), trust, int(ans.WentWell), int(ans.NotWell),
		ans.Comment, classicText(ans.Classic), rsp.Quarter.String(), db.TS(at))
	if db.IsUniqueViolation(err) {
		return Response{}, apperr.New(apperr.Conflict, "This survey was already answered. Thank you.")
	}
	if err != nil {
		return Response{}, fmt.Errorf("cx: insert response: %w", err)
	}
	if err := addToTally(ctx, tx, inv.Survey, ans); err != nil {
		return Response{}, err
	}
	// The audit record names the response, not its content: comments
	// stay out of the log.
	return rsp, audit.Append(ctx, tx, audit.Event{OrgID: inv.OrgID, Action: "cx.response.submit", TargetType: "cx_response", TargetID: rsp.ID,
		Summary: fmt.Sprintf("Answered the %s survey about %s (%s)", strings.ToLower(inv.Survey.Stage.Label()), inv.Survey.Subject(), strings.ToLower(ch.Label())),
		After:   map[string]any{"survey_id": inv.SurveyID, "invitation_id": inv.ID, "channel": ch}})
}

func classicText(c [a11.NumClassic]uint8) string {
	var b strings.Builder
	for _, v := range c {
		b.WriteByte('0' + v)
	}
	return b.String()
}

func parseClassic(s string) [a11.NumClassic]uint8 {
	var c [a11.NumClassic]uint8
	for i := 0; i < len(s) && i < a11.NumClassic; i++ {
		if v, err := strconv.Atoi(s[i : i+1]); err == nil && v >= 0 && v <= 5 {
			c[i] = uint8(v)
		}
	}
	return c
}

// responseColumns reads a response; trust is NULL, 0 or 1.
const responseColumns = `r.id, r.invitation_id, r.survey_id, r.org_id, o.name, r.channel, r.trust, r.went_well, r.not_well, r.comment, r.classic, r.quarter, r.submitted_at`

func scanResponse(r scanner) (Response, error) {
	var rsp Response
	var ch, classic, quarter string
	var trust sql.NullInt64
	var went, not int
	err := r.Scan(&rsp.ID, &rsp.InvitationID, &rsp.SurveyID, &rsp.OrgID, &rsp.OrgName, &ch, &trust, &went, &not, &rsp.Answer.Comment, &classic, &quarter,
		(*db.Time)(&rsp.SubmittedAt))
	if err != nil {
		return rsp, fmt.Errorf("cx: scan response: %w", err)
	}
	rsp.Channel = Channel(ch)
	rsp.Answer.Trust = thumbOf(trust)
	rsp.Answer.WentWell, rsp.Answer.NotWell = a11.DriverSet(went), a11.DriverSet(not)
	rsp.Answer.Classic = parseClassic(classic)
	rsp.Quarter, _ = a11.ParseQuarter(quarter)
	return rsp, nil
}

func thumbOf(v sql.NullInt64) a11.Thumb {
	switch {
	case !v.Valid:
		return a11.NoThumb
	case v.Int64 == 1:
		return a11.ThumbsUp
	default:
		return a11.ThumbsDown
	}
}

// SurveyResponses lists a survey's responses with their comments (office).
func (s *Service) SurveyResponses(ctx context.Context, p *authz.Principal, surveyID string) ([]Response, error) {
	sv, err := s.GetSurvey(ctx, p, surveyID)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT "+responseColumns+" FROM cx_responses r JOIN orgs o ON o.id = r.org_id WHERE r.survey_id = ? ORDER BY r.submitted_at, r.id", sv.ID)
	if err != nil {
		return nil, fmt.Errorf("cx: survey responses: %w", err)
	}
	defer rows.Close()
	var out []Response
	for rows.Next() {
		rsp, err := scanResponse(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rsp)
	}
	return out, rows.Err()
}

// ResponseForInvitation returns the answer given to an invitation, for the
// thank-you page of the person who gave it.
func (s *Service) ResponseForInvitation(ctx context.Context, inv Invitation) (Response, error) {
	rsp, err := scanResponse(s.DB.QueryRowContext(ctx, "SELECT "+responseColumns+" FROM cx_responses r JOIN orgs o ON o.id = r.org_id WHERE r.invitation_id = ?", inv.ID))
	if errors.Is(err, sql.ErrNoRows) {
		return Response{}, apperr.NotFoundf("Response")
	}
	return rsp, err
}
