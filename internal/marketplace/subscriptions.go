package marketplace

import (
	"context"
	"database/sql"
	"encoding/json"
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
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// Subscription statuses.
const (
	SubscriptionActive    = "active"
	SubscriptionCancelled = "cancelled"
)

// Subscription is an agency's running use of an offering.
type Subscription struct {
	ID            string
	OrderID       string
	AgencyOrgID   string
	AgencyName    string
	ProviderOrgID string
	ProviderName  string
	ProviderKind  string
	OfferingID    string
	OfferingName  string
	AreaID        string
	AreaName      string
	Tier          maturity.Tier
	Quantity      int64
	Status        string
	StartedAt     time.Time
	EndedAt       time.Time
	EndReason     string
	Rates         []money.Line
}

// Monthly is the subscription's monthly recurring charge.
func (s Subscription) Monthly() int64 {
	m, _ := money.Monthly(s.Rates)
	return m
}

// Active reports whether the subscription runs.
func (s Subscription) Active() bool { return s.Status == SubscriptionActive }

// StatusLabel names the status.
func (s Subscription) StatusLabel() string { return upperFirst(s.Status) }

const subColumns = `s.id, s.order_id, s.agency_org_id, ag.name, s.provider_org_id, pr.name, pr.kind, s.offering_id, off.name, s.service_area_id, a.name,
	s.tier, s.quantity, s.status, s.started_at, s.ended_at, s.end_reason`

const subFrom = ` FROM market_subscriptions s JOIN orgs ag ON ag.id = s.agency_org_id JOIN orgs pr ON pr.id = s.provider_org_id
	JOIN market_offerings off ON off.id = s.offering_id JOIN market_service_areas a ON a.id = s.service_area_id`

func scanSub(row interface{ Scan(...any) error }) (Subscription, error) {
	var x Subscription
	var tier string
	err := row.Scan(&x.ID, &x.OrderID, &x.AgencyOrgID, &x.AgencyName, &x.ProviderOrgID, &x.ProviderName, &x.ProviderKind, &x.OfferingID, &x.OfferingName,
		&x.AreaID, &x.AreaName, &tier, &x.Quantity, &x.Status, (*db.Time)(&x.StartedAt), (*db.Time)(&x.EndedAt), &x.EndReason)
	x.Tier = maturity.Tier(tier)
	return x, err
}

func loadSubscription(ctx context.Context, q db.Queryer, subID string, _ time.Time) (Subscription, error) {
	if subID == "" {
		return Subscription{}, notFound("Subscription")
	}
	x, err := scanSub(q.QueryRowContext(ctx, "SELECT "+subColumns+subFrom+" WHERE s.id = ?", subID))
	if errors.Is(err, sql.ErrNoRows) {
		return x, notFound("Subscription")
	}
	if err != nil {
		return x, fmt.Errorf("marketplace: subscription: %w", err)
	}
	x.Rates, err = loadLines(ctx, q, "market_rates", "subscription_id", x.ID)
	return x, err
}

// GetSubscription returns a subscription its agency, provider or the office
// may see.
func (s *Service) GetSubscription(ctx context.Context, p *authz.Principal, subID string) (Subscription, error) {
	if p == nil {
		return Subscription{}, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	if !id.Valid("sub", subID) {
		return Subscription{}, notFound("Subscription")
	}
	x, err := loadSubscription(ctx, s.DB, subID, s.now())
	if err != nil {
		return x, err
	}
	if err := s.checkEither(ctx, p, authz.MarketOrderRead, x.AgencyOrgID, x.ProviderOrgID); err != nil {
		return Subscription{}, notFoundIfHidden(err, "Subscription")
	}
	return x, nil
}

// SubscriptionFilter narrows ListSubscriptions.
type SubscriptionFilter struct {
	Status string
	OrgID  string // agency or provider
	Page   int
}

// ListSubscriptions returns the subscriptions the principal may see.
func (s *Service) ListSubscriptions(ctx context.Context, p *authz.Principal, f SubscriptionFilter) ([]Subscription, int, error) {
	sc, err := s.Authz.ScopeFor(ctx, p, authz.MarketOrderRead)
	if err != nil {
		return nil, 0, err
	}
	var where []string
	var args []any
	if !sc.All {
		if len(sc.OrgIDs) == 0 {
			return nil, 0, nil
		}
		ph := placeholders(len(sc.OrgIDs))
		where = append(where, "(s.agency_org_id IN ("+ph+") OR s.provider_org_id IN ("+ph+"))")
		args = append(append(args, anyArgs(sc.OrgIDs)...), anyArgs(sc.OrgIDs)...)
	}
	if f.Status != "" {
		where = append(where, "s.status = ?")
		args = append(args, f.Status)
	}
	if f.OrgID != "" {
		where = append(where, "(s.agency_org_id = ? OR s.provider_org_id = ?)")
		args = append(args, f.OrgID, f.OrgID)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*)"+subFrom+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("marketplace: count subscriptions: %w", err)
	}
	page := max(1, f.Page)
	rows, err := s.DB.QueryContext(ctx, "SELECT "+subColumns+subFrom+cond+" ORDER BY s.started_at DESC, s.id LIMIT 50 OFFSET ?", append(args, (page-1)*50)...)
	if err != nil {
		return nil, 0, fmt.Errorf("marketplace: list subscriptions: %w", err)
	}
	var out []Subscription
	for rows.Next() {
		x, err := scanSub(rows)
		if err != nil {
			rows.Close()
			return nil, 0, err
		}
		out = append(out, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if err := s.attachRates(ctx, out); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// attachRates loads the rates of several subscriptions in one query.
func (s *Service) attachRates(ctx context.Context, subs []Subscription) error {
	if len(subs) == 0 {
		return nil
	}
	ids := make([]string, len(subs))
	idx := map[string]int{}
	for i, x := range subs {
		ids[i] = x.ID
		idx[x.ID] = i
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT subscription_id, kind, unit, description, quantity, from_units, unit_price_cents FROM market_rates
		WHERE subscription_id IN (`+placeholders(len(ids))+`) ORDER BY subscription_id, seq`, anyArgs(ids)...)
	if err != nil {
		return fmt.Errorf("marketplace: rates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sid, kind string
		var l money.Line
		if err := rows.Scan(&sid, &kind, &l.Unit, &l.Description, &l.Quantity, &l.FromUnits, &l.UnitPrice); err != nil {
			return err
		}
		l.Kind = money.Kind(kind)
		subs[idx[sid]].Rates = append(subs[idx[sid]].Rates, l)
	}
	return rows.Err()
}

// CancelSubscription is the agency ending its subscription (approvers and
// admins), with a reason.
func (s *Service) CancelSubscription(ctx context.Context, p *authz.Principal, subID, reason string) (Order, error) {
	x, err := s.GetSubscription(ctx, p, subID)
	if err != nil {
		return Order{}, err
	}
	return s.orderStep(ctx, p, x.OrderID, lifecycle.Cancel, "", reason, nil, nil)
}

// TerminateSubscription is the provider ending a subscription under the
// agreement's termination terms, with a reason.
func (s *Service) TerminateSubscription(ctx context.Context, p *authz.Principal, subID, reason string) (Order, error) {
	x, err := s.GetSubscription(ctx, p, subID)
	if err != nil {
		return Order{}, err
	}
	return s.orderStep(ctx, p, x.OrderID, lifecycle.Terminate, "", reason, nil, nil)
}

// Modification is a proposed change to an active subscription's agreement:
// a new tier, quantity and rates, approved by the other party.
type Modification struct {
	ID               string
	SubscriptionID   string
	Number           int
	Status           lifecycle.State
	Proposer         lifecycle.Party
	ProposedBy       string
	ProposerTracking string
	NewTier          maturity.Tier
	NewQuantity      int64
	NewLines         []money.Line
	Note             string
	DecidedBy        string
	ApproverTracking string
	DecisionNote     string
	ProposedAt       time.Time
	DueAt            time.Time
	DecidedAt        time.Time
}

// StatusLabel names the modification's status.
func (m Modification) StatusLabel() string { return lifecycle.Modifications.Label(m.Status) }

// Monthly is the proposed monthly charge.
func (m Modification) Monthly() int64 {
	v, _ := money.Monthly(m.NewLines)
	return v
}

const modColumns = `id, subscription_id, number, status, proposer_party, proposed_by, proposer_tracking, new_tier, new_quantity, new_lines, note,
	decided_by, approver_tracking, decision_note, proposed_at, due_at, decided_at`

func scanMod(row interface{ Scan(...any) error }) (Modification, error) {
	var m Modification
	var status, proposer, tier, lines string
	err := row.Scan(&m.ID, &m.SubscriptionID, &m.Number, &status, &proposer, &m.ProposedBy, &m.ProposerTracking, &tier, &m.NewQuantity, &lines, &m.Note,
		&m.DecidedBy, &m.ApproverTracking, &m.DecisionNote, (*db.Time)(&m.ProposedAt), (*db.Time)(&m.DueAt), (*db.Time)(&m.DecidedAt))
	if err != nil {
		return m, err
	}
	m.Status, m.Proposer, m.NewTier = lifecycle.State(status), lifecycle.Party(proposer), maturity.Tier(tier)
	if err := json.Unmarshal([]byte(lines), &m.NewLines); err != nil {
		return m, fmt.Errorf("marketplace: modification lines: %w", err)
	}
	return m, nil
}

// Modifications returns a subscription's modifications, newest first.
func (s *Service) Modifications(ctx context.Context, p *authz.Principal, subID string) ([]Modification, error) {
	if _, err := s.GetSubscription(ctx, p, subID); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT "+modColumns+" FROM market_modifications WHERE subscription_id = ? ORDER BY number DESC", subID)
	if err != nil {
		return nil, fmt.Errorf("marketplace: modifications: %w", err)
	}
	defer rows.Close()
	var out []Modification
	for rows.Next() {
		m, err := scanMod(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// GetModification returns a modification with its subscription.
func (s *Service) GetModification(ctx context.Context, p *authz.Principal, modID string) (Subscription, Modification, error) {
	if !id.Valid("mod", modID) {
		return Subscription{}, Modification{}, notFound("Modification")
	}
	m, err := scanMod(s.DB.QueryRowContext(ctx, "SELECT "+modColumns+" FROM market_modifications WHERE id = ?", modID))
	if err != nil {
		return Subscription{}, Modification{}, notFound("Modification")
	}
	x, err := s.GetSubscription(ctx, p, m.SubscriptionID)
	if err != nil {
		return Subscription{}, Modification{}, notFound("Modification")
	}
	return x, m, nil
}

// subParty decides which side of a subscription's agreement the principal
// signs for.
func (s *Service) subParty(ctx context.Context, p *authz.Principal, x Subscription, prefer lifecycle.Party) (lifecycle.Party, error) {
	for _, party := range []lifecycle.Party{lifecycle.Agency, lifecycle.Provider} {
		if prefer != "" && party != prefer {
			continue
		}
		org := x.AgencyOrgID
		if party == lifecycle.Provider {
			org = x.ProviderOrgID
		}
		if s.Authz.CheckMember(ctx, p, authz.MarketAgreementSign, org) == nil {
			return party, nil
		}
	}
	return "", apperr.New(apperr.Forbidden, "Modifications are proposed and approved by people who sign agreements for the agency or the provider.")
}

// ModificationInput is a proposed change.
type ModificationInput struct {
	Side     lifecycle.Party
	Tier     maturity.Tier
	Quantity int64
	Lines    []money.Line
	Note     string
	Tracking string
}

// ProposeModification proposes a change to an active subscription's tier,
// quantity and rates. One open proposal at a time; the other party is
// asked to approve.
func (s *Service) ProposeModification(ctx context.Context, p *authz.Principal, subID string, in ModificationInput) (Modification, error) {
	x, err := s.GetSubscription(ctx, p, subID)
	if err != nil {
		return Modification{}, err
	}
	party, err := s.subParty(ctx, p, x, in.Side)
	if err != nil {
		return Modification{}, err
	}
	if !x.Active() {
		return Modification{}, apperr.New(apperr.Conflict, "Only an active subscription can be modified.")
	}
	in.Note, in.Tracking = strings.TrimSpace(in.Note), strings.TrimSpace(in.Tracking)
	off, err := loadOffering(ctx, s.DB, x.OfferingID)
	if err != nil {
		return Modification{}, err
	}
	errs := map[string]string{}
	if t, ok := off.Tier(in.Tier); !ok || (!t.Listed && in.Tier != x.Tier) {
		errs["tier"] = "Choose the current tier or another listed tier."
	}
	if in.Quantity < 1 || in.Quantity > 1_000_000 {
		errs["quantity"] = "Give a quantity from 1 to 1,000,000."
	}
	if !textOK(in.Note, 10, 4000) {
		errs["note"] = "Explain the change (10 to 4,000 characters)."
	}
	if !trackingPattern.MatchString(in.Tracking) {
		errs["tracking"] = "Give your organization's tracking number for this modification."
	}
	if len(errs) > 0 {
		return Modification{}, apperr.Validation(errs)
	}
	if err := checkPriceLines(in.Lines); err != nil {
		return Modification{}, err
	}
	linesJSON, _ := json.Marshal(in.Lines)
	now := s.now()
	info, _ := lifecycle.Modifications.Timer(lifecycle.Proposed)
	m := Modification{ID: id.New("mod"), SubscriptionID: x.ID, Status: lifecycle.Proposed, Proposer: party, ProposedBy: actorLabel(p), ProposerTracking: in.Tracking,
		NewTier: in.Tier, NewQuantity: in.Quantity, NewLines: in.Lines, Note: in.Note, ProposedAt: now, DueAt: now.Add(info.SLA)}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		var open int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(number), 0) FROM market_modifications WHERE subscription_id = ? AND status = 'proposed'", x.ID).Scan(&open, new(int)); err != nil {
			return err
		}
		if open > 0 {
			return apperr.New(apperr.Conflict, "A modification is already awaiting a decision; decide or withdraw it first.")
		}
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(number), 0) + 1 FROM market_modifications WHERE subscription_id = ?", x.ID).Scan(&m.Number); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO market_modifications (id, subscription_id, number, status, proposer_party, proposed_by, proposer_tracking, new_tier, new_quantity, new_lines, note, proposed_at, due_at)
			VALUES (?, ?, ?, 'proposed', ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, x.ID, m.Number, string(party), m.ProposedBy, m.ProposerTracking, string(m.NewTier), m.NewQuantity, string(linesJSON), m.Note, db.TS(now), db.TS(m.DueAt))
		if err != nil {
			return fmt.Errorf("marketplace: insert modification: %w", err)
		}
		other, org, roles := lifecycle.Provider, x.ProviderOrgID, providerRoles(x.ProviderKind, false)
		if party == lifecycle.Provider {
			other, org, roles = lifecycle.Agency, x.AgencyOrgID, agencyApprovers
		}
		_ = other
		if err := s.notifyRoles(ctx, tx, org, roles, p.UserID, fmt.Sprintf("Decide on modification %d: “%s” for %s", m.Number, x.OfferingName, x.AgencyName),
			fmt.Sprintf("%s proposes: %s tier, quantity %d, %s a month. %s", upperFirst(party.Label()), m.NewTier.Label(), m.NewQuantity, money.Format(m.Monthly()), m.Note),
			SubscriptionURL(x.ID)); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: x.AgencyOrgID, Action: "market.modification.propose", TargetType: "subscription", TargetID: x.ID,
			Summary: fmt.Sprintf("Proposed modification %d of “%s”", m.Number, x.OfferingName), After: m})
	})
	return m, err
}

// SubscriptionURL is a subscription's page.
func SubscriptionURL(id string) string { return "/marketplace/subscriptions/" + id }

// DecideModification approves, rejects (other party) or withdraws
// (proposer) a modification. An approval applies the new tier, quantity
// and rates and numbers the agreement's modification.
func (s *Service) DecideModification(ctx context.Context, p *authz.Principal, modID string, action lifecycle.Action, tracking, note string) (Modification, error) {
	x, m, err := s.GetModification(ctx, p, modID)
	if err != nil {
		return Modification{}, err
	}
	var party lifecycle.Party
	switch action {
	case lifecycle.WithdrawModification:
		party, err = s.subParty(ctx, p, x, m.Proposer)
	case lifecycle.ApproveModification, lifecycle.RejectModification:
		other := lifecycle.Agency
		if m.Proposer == lifecycle.Agency {
			other = lifecycle.Provider
		}
		party, err = s.subParty(ctx, p, x, other)
	default:
		return Modification{}, apperr.New(apperr.Invalid, "Approve, reject or withdraw.")
	}
	if err != nil {
		return Modification{}, err
	}
	tracking, note = strings.TrimSpace(tracking), strings.TrimSpace(note)
	if action == lifecycle.ApproveModification && !trackingPattern.MatchString(tracking) {
		return Modification{}, apperr.Validation(map[string]string{"tracking": "Give your organization's tracking number for this modification."})
	}
	if !textOK(note, 0, 2000) {
		return Modification{}, apperr.Validation(map[string]string{"note": "The note is at most 2,000 characters."})
	}
	rule, err := lifecycle.Modifications.Step(m.Status, action, party, lifecycle.Facts{Proposer: m.Proposer, Reason: note})
	if err != nil {
		var r *lifecycle.Refusal
		if errors.As(err, &r) && r.Kind == lifecycle.NotReady {
			return Modification{}, apperr.Validation(map[string]string{"note": r.Message})
		}
		return Modification{}, refusal(err)
	}
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE market_modifications SET status = ?, decided_by = ?, approver_tracking = ?, decision_note = ?, decided_at = ? WHERE id = ? AND status = 'proposed'",
			string(rule.To), actorLabel(p), tracking, note, db.TS(now), m.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "The modification was decided meanwhile; reload the page.")
		}
		if rule.To == lifecycle.ModificationApproved {
			if err := s.applyModification(ctx, tx, x, m, now); err != nil {
				return err
			}
		}
		org, roles := x.AgencyOrgID, agencyApprovers
		if m.Proposer == lifecycle.Provider {
			org, roles = x.ProviderOrgID, providerRoles(x.ProviderKind, false)
		}
		if action != lifecycle.WithdrawModification {
			if err := s.notifyRoles(ctx, tx, org, roles, p.UserID, fmt.Sprintf("Modification %d %s: “%s”", m.Number, strings.ToLower(lifecycle.Modifications.Label(rule.To)), x.OfferingName),
				note, SubscriptionURL(x.ID)); err != nil {
				return err
			}
		}
		m.Status, m.DecidedBy, m.ApproverTracking, m.DecisionNote, m.DecidedAt = rule.To, actorLabel(p), tracking, note, now
		return audit.Append(ctx, tx, audit.Event{OrgID: x.AgencyOrgID, Action: "market.modification." + strings.TrimSuffix(string(action), "_modification"), TargetType: "subscription", TargetID: x.ID,
			Summary: fmt.Sprintf("Modification %d of “%s”: %s", m.Number, x.OfferingName, strings.ToLower(lifecycle.Modifications.Label(rule.To))),
			After:   map[string]string{"status": string(rule.To), "tracking": tracking, "note": note}})
	})
	return m, err
}

func (s *Service) applyModification(ctx context.Context, tx *db.Tx, x Subscription, m Modification, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "UPDATE market_subscriptions SET tier = ?, quantity = ?, updated_at = ? WHERE id = ? AND status = 'active'", string(m.NewTier), m.NewQuantity, db.TS(now), x.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE market_orders SET tier = ?, quantity = ?, updated_at = ? WHERE id = ?", string(m.NewTier), m.NewQuantity, db.TS(now), x.OrderID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM market_rates WHERE subscription_id = ?", x.ID); err != nil {
		return err
	}
	if err := insertLines(ctx, tx, "market_rates", "subscription_id", x.ID, m.NewLines); err != nil {
		return err
	}
	a, err := loadAgreement(ctx, tx, x.OrderID)
	if err == nil && a.GTCNumber != "" {
		base, _, _ := strings.Cut(a.OrderNumber, "-M")
		_, err = tx.ExecContext(ctx, "UPDATE market_agreements SET order_number = ?, updated_at = ? WHERE order_id = ?", fmt.Sprintf("%s-M%02d", base, m.Number), db.TS(now), x.OrderID)
	}
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	return nil
}
