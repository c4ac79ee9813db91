package marketplace

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
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// Exception is an agency's request to buy a service outside the
// marketplace ("go it alone"), which the office decides.
type Exception struct {
	ID               string
	AgencyOrgID      string
	AgencyName       string
	AreaID           string
	AreaName         string
	Vendor           string
	Description      string
	Justification    string
	AnnualCost       int64
	Status           lifecycle.State
	DecisionReason   string
	RequestedBy      string
	RequestedByLabel string
	DecidedBy        string
	CreatedAt        time.Time
	DueAt            time.Time
	DecidedAt        time.Time

	now time.Time
}

// StatusLabel names the status.
func (e Exception) StatusLabel() string { return lifecycle.Exceptions.Label(e.Status) }

// Overdue reports whether the office's decision is late.
func (e Exception) Overdue() bool { return e.Status == lifecycle.Submitted && e.now.After(e.DueAt) }

// DueLabel says when the decision is due.
func (e Exception) DueLabel() string {
	if e.Status != lifecycle.Submitted {
		return ""
	}
	return dueLabel(e.DueAt, e.now)
}

const excColumns = `e.id, e.agency_org_id, ag.name, e.service_area_id, a.name, e.vendor, e.description, e.justification, e.annual_cost_cents, e.status,
	e.decision_reason, e.requested_by, e.requested_by_label, e.decided_by, e.created_at, e.due_at, e.decided_at`

const excFrom = ` FROM market_exceptions e JOIN orgs ag ON ag.id = e.agency_org_id JOIN market_service_areas a ON a.id = e.service_area_id`

func scanException(row interface{ Scan(...any) error }, now time.Time) (Exception, error) {
	var e Exception
	var status string
	err := row.Scan(&e.ID, &e.AgencyOrgID, &e.AgencyName, &e.AreaID, &e.AreaName, &e.Vendor, &e.Description, &e.Justification, &e.AnnualCost, &status,
		&e.DecisionReason, &e.RequestedBy, &e.RequestedByLabel, &e.DecidedBy, (*db.Time)(&e.CreatedAt), (*db.Time)(&e.DueAt), (*db.Time)(&e.DecidedAt))
	e.Status, e.now = lifecycle.State(status), now
	return e, err
}

// ExceptionInput is an agency's exception request.
type ExceptionInput struct {
	AgencyOrgID   string
	AreaID        string
	Vendor        string
	Description   string
	Justification string
	AnnualCost    int64
}

// RequestException asks the office for permission to buy outside the
// marketplace, with a justification. The agency's buyers and admins.
func (s *Service) RequestException(ctx context.Context, p *authz.Principal, in ExceptionInput) (Exception, error) {
	if err := s.Authz.CheckMember(ctx, p, authz.MarketOrderRequest, in.AgencyOrgID); err != nil {
		return Exception{}, err
	}
	ag, err := getOrgInfo(ctx, s.DB, in.AgencyOrgID)
	if err != nil {
		return Exception{}, err
	}
	in.Vendor, in.Description, in.Justification = strings.TrimSpace(in.Vendor), strings.TrimSpace(in.Description), strings.TrimSpace(in.Justification)
	errs := map[string]string{}
	area, aerr := s.Area(ctx, in.AreaID)
	if aerr != nil {
		errs["area"] = "Choose the service area."
	}
	if !textOK(in.Vendor, 2, 200) {
		errs["vendor"] = "Name the vendor or product (2 to 200 characters)."
	}
	if !textOK(in.Description, 10, 4000) {
		errs["description"] = "Describe what you would buy (10 to 4,000 characters)."
	}
	if !textOK(in.Justification, 30, 8000) {
		errs["justification"] = "Explain why the marketplace's offerings do not meet the need (30 to 8,000 characters)."
	}
	if in.AnnualCost < 0 || in.AnnualCost > money.MaxAmount {
		errs["annual_cost"] = "Give the estimated annual cost."
	}
	if len(errs) > 0 {
		return Exception{}, apperr.Validation(errs)
	}
	now := s.now()
	info, _ := lifecycle.Exceptions.Timer(lifecycle.Submitted)
	e := Exception{ID: id.New("exc"), AgencyOrgID: ag.ID, AgencyName: ag.Name, AreaID: area.ID, AreaName: area.Name, Vendor: in.Vendor, Description: in.Description,
		Justification: in.Justification, AnnualCost: in.AnnualCost, Status: lifecycle.Submitted, RequestedBy: p.UserID, RequestedByLabel: actorLabel(p),
		CreatedAt: now, DueAt: now.Add(info.SLA), now: now}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO market_exceptions (id, agency_org_id, service_area_id, vendor, description, justification, annual_cost_cents, status,
			requested_by, requested_by_label, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'submitted', ?, ?, ?, ?)`,
			e.ID, e.AgencyOrgID, e.AreaID, e.Vendor, e.Description, e.Justification, e.AnnualCost, e.RequestedBy, e.RequestedByLabel, db.TS(now), db.TS(e.DueAt))
		if err != nil {
			return fmt.Errorf("marketplace: insert exception: %w", err)
		}
		office, err := s.OfficeID(ctx)
		if err != nil {
			return err
		}
		if err := s.notifyRoles(ctx, tx, office, officeReviewers, p.UserID, fmt.Sprintf("Decide a go-it-alone request: %s, %s", e.AgencyName, e.AreaName),
			fmt.Sprintf("%s asks to buy %s outside the marketplace (%s a year).", e.AgencyName, e.Vendor, money.Format(e.AnnualCost)), ExceptionURL(e.ID)); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: e.AgencyOrgID, Action: "market.exception.request", TargetType: "exception", TargetID: e.ID,
			Summary: fmt.Sprintf("Asked to buy %s outside the marketplace (%s)", e.Vendor, e.AreaName), After: in})
	})
	return e, err
}

// ExceptionURL is an exception request's page.
func ExceptionURL(id string) string { return "/marketplace/exceptions/" + id }

// GetException returns an exception request the agency or the office may
// see.
func (s *Service) GetException(ctx context.Context, p *authz.Principal, excID string) (Exception, error) {
	if !id.Valid("exc", excID) {
		return Exception{}, notFound("Exception request")
	}
	e, err := scanException(s.DB.QueryRowContext(ctx, "SELECT "+excColumns+excFrom+" WHERE e.id = ?", excID), s.now())
	if errors.Is(err, sql.ErrNoRows) {
		return e, notFound("Exception request")
	}
	if err != nil {
		return e, fmt.Errorf("marketplace: exception: %w", err)
	}
	if err := s.Authz.Check(ctx, p, authz.MarketOrderRead, e.AgencyOrgID); err != nil {
		return Exception{}, notFoundIfHidden(err, "Exception request")
	}
	return e, nil
}

// ListExceptions returns the exception requests the principal may see,
// newest first; status filters.
func (s *Service) ListExceptions(ctx context.Context, p *authz.Principal, status string) ([]Exception, error) {
	clause, args, none, err := s.scopeClause(ctx, p, authz.MarketOrderRead, "e.agency_org_id")
	if err != nil || none {
		return nil, err
	}
	if status != "" {
		clause += " AND e.status = ?"
		args = append(args, status)
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT "+excColumns+excFrom+" WHERE "+clause+" ORDER BY e.created_at DESC LIMIT 200", args...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: exceptions: %w", err)
	}
	defer rows.Close()
	now := s.now()
	var out []Exception
	for rows.Next() {
		e, err := scanException(rows, now)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DecideException is the office approving or declining (with a reason) an
// exception request, or the agency withdrawing it.
func (s *Service) DecideException(ctx context.Context, p *authz.Principal, excID string, action lifecycle.Action, reason string) (Exception, error) {
	e, err := s.GetException(ctx, p, excID)
	if err != nil {
		return Exception{}, err
	}
	office, err := s.OfficeID(ctx)
	if err != nil {
		return Exception{}, err
	}
	var party lifecycle.Party
	for _, pt := range lifecycle.Exceptions.Parties(e.Status, action) {
		org := e.AgencyOrgID
		if pt == lifecycle.Office {
			org = office
		}
		r, _ := lifecycle.Exceptions.Step(e.Status, action, pt, lifecycle.Facts{Reason: "x"})
		if s.Authz.CheckMember(ctx, p, r.Permission, org) == nil {
			party = pt
			break
		}
	}
	if party == "" {
		if len(lifecycle.Exceptions.Parties(e.Status, action)) == 0 {
			_, err := lifecycle.Exceptions.Step(e.Status, action, lifecycle.Office, lifecycle.Facts{})
			return Exception{}, refusal(err)
		}
		return Exception{}, apperr.New(apperr.Forbidden, "The office decides exception requests; the agency may withdraw its own.")
	}
	reason = strings.TrimSpace(reason)
	if !textOK(reason, 0, 4000) {
		return Exception{}, apperr.Validation(map[string]string{"reason": "The reason is at most 4,000 characters."})
	}
	rule, err := lifecycle.Exceptions.Step(e.Status, action, party, lifecycle.Facts{Reason: reason})
	if err != nil {
		var r *lifecycle.Refusal
		if errors.As(err, &r) && r.Kind == lifecycle.NotReady {
			return Exception{}, apperr.Validation(map[string]string{"reason": r.Message})
		}
		return Exception{}, refusal(err)
	}
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE market_exceptions SET status = ?, decision_reason = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = 'submitted'",
			string(rule.To), reason, actorLabel(p), db.TS(now), e.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "The request was decided meanwhile; reload the page.")
		}
		if party == lifecycle.Office {
			subject := fmt.Sprintf("Go-it-alone request %s: %s", strings.ToLower(lifecycle.Exceptions.Label(rule.To)), e.Vendor)
			if err := s.notifyUser(ctx, tx, e.RequestedBy, e.AgencyOrgID, subject, reason, ExceptionURL(e.ID)); err != nil {
				return err
			}
		}
		e.Status, e.DecisionReason, e.DecidedBy, e.DecidedAt = rule.To, reason, actorLabel(p), now
		return audit.Append(ctx, tx, audit.Event{OrgID: e.AgencyOrgID, Action: "market.exception." + string(action), TargetType: "exception", TargetID: e.ID,
			Summary: fmt.Sprintf("Exception request for %s: %s", e.Vendor, strings.ToLower(lifecycle.Exceptions.Label(rule.To))), After: map[string]string{"status": string(rule.To), "reason": reason}})
	})
	return e, err
}
