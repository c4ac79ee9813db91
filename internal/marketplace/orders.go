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
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
)

// Order is an agency's request for an offering, from request to the end of
// its subscription.
type Order struct {
	ID               string
	AgencyOrgID      string
	AgencyName       string
	ProviderOrgID    string
	ProviderName     string
	ProviderKind     string
	OfferingID       string
	OfferingName     string
	AreaID           string
	AreaName         string
	Tier             maturity.Tier
	Quantity         int64
	Needs            string
	State            lifecycle.State
	StateSince       time.Time
	DueAt            time.Time
	Note             string
	ProvisionError   string
	RequestedBy      string
	RequestedByLabel string
	RequestedAt      time.Time
	ActivatedAt      time.Time
	ClosedAt         time.Time
	UpdatedAt        time.Time
	AgencySigned     bool
	ProviderSigned   bool
	SubscriptionID   string

	now time.Time
}

// StateLabel names the order's state.
func (o Order) StateLabel() string { return lifecycle.Orders.Label(o.State) }

// Open reports whether the order is still moving (not active, not closed).
func (o Order) Open() bool {
	_, timed := lifecycle.Orders.Timer(o.State)
	return timed
}

// Owners are the parties that must act next.
func (o Order) Owners() []lifecycle.Party {
	return lifecycle.Orders.Owners(o.State, lifecycle.Facts{AgencySigned: o.AgencySigned, ProviderSigned: o.ProviderSigned})
}

// OwnerLabel names who must act next.
func (o Order) OwnerLabel() string {
	var names []string
	for _, p := range o.Owners() {
		switch p {
		case lifecycle.Agency:
			names = append(names, o.AgencyName)
		case lifecycle.Provider:
			names = append(names, o.ProviderName)
		case lifecycle.Office:
			names = append(names, "the office")
		}
	}
	if len(names) == 0 {
		return "—"
	}
	return upperFirst(strings.Join(names, " and "))
}

// StepLabel names the open step.
func (o Order) StepLabel() string {
	info, ok := lifecycle.Orders.Timer(o.State)
	if !ok {
		return o.StateLabel()
	}
	return info.Label
}

// Overdue reports whether the open step has passed its due time.
func (o Order) Overdue() bool { return o.Open() && !o.DueAt.IsZero() && o.now.After(o.DueAt) }

// DueLabel says when the open step is due, relative to now.
func (o Order) DueLabel() string {
	if !o.Open() || o.DueAt.IsZero() {
		return ""
	}
	return dueLabel(o.DueAt, o.now)
}

func dueLabel(due, now time.Time) string {
	d := due.Sub(now)
	if d < 0 {
		return "overdue by " + durLabel(-d)
	}
	return "due in " + durLabel(d)
}

func durLabel(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return plural(int(d.Hours()/24), "day")
	case d >= time.Hour:
		return plural(int(d.Hours()), "hour")
	default:
		return plural(max(1, int(d.Minutes())), "minute")
	}
}

// TierLabel names the ordered tier.
func (o Order) TierLabel() string { return o.Tier.Label() }

const orderColumns = `o.id, o.agency_org_id, ag.name, o.provider_org_id, pr.name, pr.kind, o.offering_id, off.name, o.service_area_id, a.name, o.tier, o.quantity,
	o.needs, o.state, o.state_since, o.due_at, o.note, o.provision_error, o.requested_by, o.requested_by_label, o.requested_at, o.activated_at, o.closed_at, o.updated_at,
	agr.agency_signed_at, agr.provider_signed_at, COALESCE(sub.id, '')`

const orderFrom = ` FROM market_orders o JOIN orgs ag ON ag.id = o.agency_org_id JOIN orgs pr ON pr.id = o.provider_org_id
	JOIN market_offerings off ON off.id = o.offering_id JOIN market_service_areas a ON a.id = o.service_area_id
	LEFT JOIN market_agreements agr ON agr.order_id = o.id LEFT JOIN market_subscriptions sub ON sub.order_id = o.id`

func scanOrder(row interface{ Scan(...any) error }, now time.Time) (Order, error) {
	var o Order
	var tier, state string
	var agencySigned, providerSigned db.Time
	err := row.Scan(&o.ID, &o.AgencyOrgID, &o.AgencyName, &o.ProviderOrgID, &o.ProviderName, &o.ProviderKind, &o.OfferingID, &o.OfferingName, &o.AreaID, &o.AreaName,
		&tier, &o.Quantity, &o.Needs, &state, (*db.Time)(&o.StateSince), (*db.Time)(&o.DueAt), &o.Note, &o.ProvisionError, &o.RequestedBy, &o.RequestedByLabel,
		(*db.Time)(&o.RequestedAt), (*db.Time)(&o.ActivatedAt), (*db.Time)(&o.ClosedAt), (*db.Time)(&o.UpdatedAt), &agencySigned, &providerSigned, &o.SubscriptionID)
	o.Tier, o.State = maturity.Tier(tier), lifecycle.State(state)
	o.AgencySigned, o.ProviderSigned = !time.Time(agencySigned).IsZero(), !time.Time(providerSigned).IsZero()
	o.now = now
	return o, err
}

func (s *Service) loadOrder(ctx context.Context, q db.Queryer, orderID string) (Order, error) {
	o, err := scanOrder(q.QueryRowContext(ctx, "SELECT "+orderColumns+orderFrom+" WHERE o.id = ?", orderID), s.now())
	if errors.Is(err, sql.ErrNoRows) {
		return o, notFound("Order")
	}
	if err != nil {
		return o, fmt.Errorf("marketplace: order: %w", err)
	}
	return o, nil
}

// GetOrder returns an order its agency, its provider or the office may see;
// anyone else gets NotFound.
func (s *Service) GetOrder(ctx context.Context, p *authz.Principal, orderID string) (Order, error) {
	if p == nil {
		return Order{}, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	if !id.Valid("ord", orderID) {
		return Order{}, notFound("Order")
	}
	o, err := s.loadOrder(ctx, s.DB, orderID)
	if err != nil {
		return o, err
	}
	if err := s.checkEither(ctx, p, authz.MarketOrderRead, o.AgencyOrgID, o.ProviderOrgID); err != nil {
		return Order{}, notFoundIfHidden(err, "Order")
	}
	return o, nil
}

// notFoundIfHidden turns an access refusal on a record into NotFound: a
// principal who cannot read a record learns nothing about it.
func notFoundIfHidden(err error, what string) error {
	if apperr.Is(err, apperr.Forbidden) || apperr.Is(err, apperr.NotFound) {
		return notFound(what)
	}
	return err
}

// OrderFilter narrows ListOrders.
type OrderFilter struct {
	States     []lifecycle.State
	OfferingID string
	// Waiting keeps orders whose open step belongs to this party
	// (for "waiting for us" views).
	Waiting lifecycle.Party
	// OrgID keeps orders of one agency or provider.
	OrgID   string
	Overdue bool
	Page    int
	PerPage int
}

// ListOrders returns the orders the principal may see, newest first, and
// how many match.
func (s *Service) ListOrders(ctx context.Context, p *authz.Principal, f OrderFilter) ([]Order, int, error) {
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
		where = append(where, "(o.agency_org_id IN ("+ph+") OR o.provider_org_id IN ("+ph+"))")
		args = append(append(args, anyArgs(sc.OrgIDs)...), anyArgs(sc.OrgIDs)...)
	}
	if len(f.States) > 0 {
		ss := make([]string, len(f.States))
		for i, st := range f.States {
			ss[i] = string(st)
		}
		where = append(where, "o.state IN ("+placeholders(len(ss))+")")
		args = append(args, anyArgs(ss)...)
	}
	if f.OfferingID != "" {
		where = append(where, "o.offering_id = ?")
		args = append(args, f.OfferingID)
	}
	if f.OrgID != "" {
		where = append(where, "(o.agency_org_id = ? OR o.provider_org_id = ?)")
		args = append(args, f.OrgID, f.OrgID)
	}
	switch f.Waiting {
	case lifecycle.Office:
		where = append(where, "o.state = 'requested'")
	case lifecycle.Agency:
		where = append(where, "(o.state = 'quoted' OR (o.state = 'signing' AND agr.agency_signed_at IS NULL))")
	case lifecycle.Provider:
		where = append(where, "(o.state IN ('approved', 'agreement_draft', 'provisioning') OR (o.state = 'signing' AND agr.provider_signed_at IS NULL))")
	}
	if f.Overdue {
		where = append(where, "o.due_at < ? AND o.state IN ('requested', 'approved', 'quoted', 'agreement_draft', 'signing', 'provisioning')")
		args = append(args, db.TS(s.now()))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*)"+orderFrom+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("marketplace: count orders: %w", err)
	}
	per := f.PerPage
	if per <= 0 || per > 200 {
		per = 50
	}
	page := max(1, f.Page)
	rows, err := s.DB.QueryContext(ctx, "SELECT "+orderColumns+orderFrom+cond+" ORDER BY o.requested_at DESC, o.id LIMIT ? OFFSET ?", append(args, per, (page-1)*per)...)
	if err != nil {
		return nil, 0, fmt.Errorf("marketplace: list orders: %w", err)
	}
	defer rows.Close()
	now := s.now()
	var out []Order
	for rows.Next() {
		o, err := scanOrder(rows, now)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, o)
	}
	return out, total, rows.Err()
}

// OrderEvent is one step in an order's timeline.
type OrderEvent struct {
	Action string
	From   lifecycle.State
	To     lifecycle.State
	Party  lifecycle.Party
	Actor  string
	Note   string
	At     time.Time
	DueAt  time.Time
	OnTime sql.NullBool
}

// ToLabel names the state reached.
func (e OrderEvent) ToLabel() string { return lifecycle.Orders.Label(e.To) }

// Late reports whether the step ended after its due time.
func (e OrderEvent) Late() bool { return e.OnTime.Valid && !e.OnTime.Bool }

// Timeline returns an order's events, oldest first.
func (s *Service) Timeline(ctx context.Context, p *authz.Principal, orderID string) ([]OrderEvent, error) {
	if _, err := s.GetOrder(ctx, p, orderID); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT action, from_state, to_state, party, actor_label, note, at, due_at, on_time FROM market_order_events WHERE order_id = ? ORDER BY seq", orderID)
	if err != nil {
		return nil, fmt.Errorf("marketplace: timeline: %w", err)
	}
	defer rows.Close()
	var out []OrderEvent
	for rows.Next() {
		var e OrderEvent
		var from, to, party string
		if err := rows.Scan(&e.Action, &from, &to, &party, &e.Actor, &e.Note, (*db.Time)(&e.At), (*db.Time)(&e.DueAt), &e.OnTime); err != nil {
			return nil, err
		}
		e.From, e.To, e.Party = lifecycle.State(from), lifecycle.State(to), lifecycle.Party(party)
		out = append(out, e)
	}
	return out, rows.Err()
}

// OrderInput is an agency's request.
type OrderInput struct {
	AgencyOrgID string
	OfferingID  string
	Tier        maturity.Tier
	Quantity    int64
	Needs       string
}

// RequestOrder submits an agency's request for an offering and tier. The
// agency's own buyers (and admins) only; the offering must be listed at
// that tier, and the agency must not already have it or an order for it in
// flight. The office is asked to review.
func (s *Service) RequestOrder(ctx context.Context, p *authz.Principal, in OrderInput) (Order, error) {
	if err := s.Authz.CheckMember(ctx, p, authz.MarketOrderRequest, in.AgencyOrgID); err != nil {
		return Order{}, err
	}
	ag, err := getOrgInfo(ctx, s.DB, in.AgencyOrgID)
	if err != nil {
		return Order{}, err
	}
	if ag.Kind != "agency" {
		return Order{}, apperr.New(apperr.Invalid, "Only agencies order from the marketplace.")
	}
	off, err := s.GetOffering(ctx, p, in.OfferingID)
	if err != nil {
		return Order{}, err
	}
	in.Needs = strings.TrimSpace(in.Needs)
	errs := map[string]string{}
	t, ok := off.Tier(in.Tier)
	switch {
	case !off.Orderable():
		return Order{}, apperr.New(apperr.Conflict, "“%s” is not taking orders (%s).", off.Name, strings.ToLower(off.StatusLabel()))
	case !ok || !t.Listed:
		errs["tier"] = "Choose one of the listed tiers."
	}
	if in.Quantity < 1 || in.Quantity > 1_000_000 {
		errs["quantity"] = "Give a quantity from 1 to 1,000,000."
	}
	if !textOK(in.Needs, 10, 4000) {
		errs["needs"] = "Describe what you need (10 to 4,000 characters); it becomes the requirements of the agreement."
	}
	if len(errs) > 0 {
		return Order{}, apperr.Validation(errs)
	}
	now := s.now()
	o := Order{ID: id.New("ord"), AgencyOrgID: ag.ID, AgencyName: ag.Name, ProviderOrgID: off.ProviderOrgID, ProviderName: off.ProviderName, ProviderKind: off.ProviderKind,
		OfferingID: off.ID, OfferingName: off.Name, AreaID: off.AreaID, AreaName: off.AreaName, Tier: in.Tier, Quantity: in.Quantity, Needs: in.Needs,
		State: lifecycle.Requested, StateSince: now, RequestedBy: p.UserID, RequestedByLabel: actorLabel(p), RequestedAt: now, UpdatedAt: now, now: now}
	info, _ := lifecycle.Orders.Timer(lifecycle.Requested)
	o.DueAt = now.Add(info.SLA)
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		var dup string
		err := tx.QueryRowContext(ctx, `SELECT id FROM market_orders WHERE agency_org_id = ? AND offering_id = ? AND state NOT IN ('declined', 'withdrawn', 'cancelled') LIMIT 1`,
			o.AgencyOrgID, o.OfferingID).Scan(&dup)
		if err == nil {
			return apperr.New(apperr.Conflict, "%s already has an order for “%s” in progress or active; see order %s.", o.AgencyName, o.OfferingName, dup)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO market_orders (id, agency_org_id, provider_org_id, offering_id, service_area_id, tier, quantity, needs, state, state_since, due_at,
			requested_by, requested_by_label, requested_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'requested', ?, ?, ?, ?, ?, ?)`,
			o.ID, o.AgencyOrgID, o.ProviderOrgID, o.OfferingID, o.AreaID, string(o.Tier), o.Quantity, o.Needs, db.TS(now), db.TS(o.DueAt),
			o.RequestedBy, o.RequestedByLabel, db.TS(now), db.TS(now))
		if err != nil {
			return fmt.Errorf("marketplace: insert order: %w", err)
		}
		if err := insertEvent(ctx, tx, o.ID, "request", "", lifecycle.Requested, lifecycle.Agency, p, "", now, time.Time{}); err != nil {
			return err
		}
		office, err := s.OfficeID(ctx)
		if err != nil {
			return err
		}
		if err := s.notifyRoles(ctx, tx, office, officeReviewers, p.UserID, fmt.Sprintf("Review a request: %s wants “%s”", o.AgencyName, o.OfferingName),
			fmt.Sprintf("%s asks for the %s tier (quantity %d). Approve it, or decline it with a reason such as duplication.", o.AgencyName, strings.ToLower(o.Tier.Label()), o.Quantity),
			OrderURL(o.ID)); err != nil {
			return err
		}
		if err := s.Hook.Stage(ctx, tx, LifecycleEvent{Stage: StageProcurement, AgencyID: o.AgencyOrgID, ServiceArea: o.AreaID, OfferingID: o.OfferingID,
			ProviderID: o.ProviderOrgID, OrderID: o.ID, UserID: p.UserID, At: now}); err != nil {
			return fmt.Errorf("marketplace: lifecycle hook: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.AgencyOrgID, Action: "market.order.request", TargetType: "order", TargetID: o.ID,
			Summary: fmt.Sprintf("Requested “%s” (%s)", o.OfferingName, o.Tier.Label()), After: map[string]any{"offering": o.OfferingID, "tier": o.Tier, "quantity": o.Quantity}})
	})
	if err != nil {
		return Order{}, err
	}
	return s.GetOrder(ctx, p, o.ID)
}

// OrderURL is an order's page.
func OrderURL(id string) string { return "/marketplace/orders/" + id }

func insertEvent(ctx context.Context, tx *db.Tx, orderID, action string, from, to lifecycle.State, party lifecycle.Party, p *authz.Principal, note string, at, due time.Time) error {
	var onTime any
	if !due.IsZero() {
		onTime = !at.After(due)
	}
	userID := ""
	if p != nil {
		userID = p.UserID
	}
	label := actorLabel(p)
	if party == lifecycle.System {
		label = "qsmo"
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO market_order_events (id, order_id, seq, action, from_state, to_state, party, actor_user_id, actor_label, note, at, due_at, on_time)
		SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM market_order_events WHERE order_id = ?`,
		id.New("oev"), orderID, action, string(from), string(to), string(party), userID, label, note, db.TS(at), nullTime(due), onTime, orderID)
	if err != nil {
		return fmt.Errorf("marketplace: order event: %w", err)
	}
	return nil
}

// stepCtx is what an order step's side effects work with.
type stepCtx struct {
	tx    *db.Tx
	p     *authz.Principal
	order Order
	rule  lifecycle.Rule
	party lifecycle.Party
	facts lifecycle.Facts
	now   time.Time
	note  string
	// provision, when set, runs the automatic provisioner on the new
	// subscription inside the activating transaction.
	provision func(Subscription) error
}

// partyOrg is the organization that acts for a party of an order.
func partyOrg(o Order, party lifecycle.Party, officeID string) string {
	switch party {
	case lifecycle.Agency:
		return o.AgencyOrgID
	case lifecycle.Provider:
		return o.ProviderOrgID
	case lifecycle.Office:
		return officeID
	}
	return ""
}

// orderParty decides which party the principal acts as for an action: a
// person acts only for an organization they belong to, with the rule's
// permission. prefer picks a side when the person belongs to both.
func (s *Service) orderParty(ctx context.Context, p *authz.Principal, o Order, action lifecycle.Action, prefer lifecycle.Party) (lifecycle.Party, error) {
	parties := lifecycle.Orders.Parties(o.State, action)
	if len(parties) == 0 {
		_, err := lifecycle.Orders.Step(o.State, action, lifecycle.Agency, lifecycle.Facts{})
		return "", refusal(err)
	}
	office, err := s.OfficeID(ctx)
	if err != nil {
		return "", err
	}
	var names []string
	for _, party := range parties {
		if party == lifecycle.System {
			continue
		}
		names = append(names, party.Label())
		if prefer != "" && party != prefer {
			continue
		}
		var perm authz.Permission
		for _, r := range lifecycle.Orders.Rules() {
			if r.From == o.State && r.Action == action && r.Party == party {
				perm = r.Permission
			}
		}
		if s.Authz.CheckMember(ctx, p, perm, partyOrg(o, party, office)) == nil {
			return party, nil
		}
	}
	if len(names) == 0 {
		return "", apperr.New(apperr.Forbidden, "qsmo takes this step by itself.")
	}
	return "", apperr.New(apperr.Forbidden, "This step is taken by %s, by someone of that organization with the right role.", strings.Join(names, " or "))
}

// lockOrder takes the order's row lock on PostgreSQL (SQLite transactions
// hold the database's write lock from BEGIN).
func lockOrder(ctx context.Context, tx *db.Tx, orderID string) error {
	if tx.Dialect() != db.Postgres {
		return nil
	}
	var x string
	return tx.QueryRowContext(ctx, "SELECT id FROM market_orders WHERE id = ? FOR UPDATE", orderID).Scan(&x)
}

// orderStep runs one step of the order workflow: it finds the acting
// party, re-reads the order under lock, asks the state machine (with the
// facts the step's guards need), applies the step's own changes, moves the
// order, records the event, audits and notifies, all in one transaction.
func (s *Service) orderStep(ctx context.Context, p *authz.Principal, orderID string, action lifecycle.Action, prefer lifecycle.Party, reason string,
	facts func(ctx context.Context, tx *db.Tx, o Order) (lifecycle.Facts, error), apply func(ctx context.Context, sc *stepCtx) error) (Order, error) {
	o, err := s.GetOrder(ctx, p, orderID)
	if err != nil {
		return Order{}, err
	}
	party, err := s.orderParty(ctx, p, o, action, prefer)
	if err != nil {
		return Order{}, err
	}
	reason = strings.TrimSpace(reason)
	if !textOK(reason, 0, 2000) {
		return Order{}, apperr.Validation(map[string]string{"reason": "The reason is at most 2,000 characters."})
	}
	var to lifecycle.State
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := lockOrder(ctx, tx, orderID); err != nil {
			return err
		}
		o, err := s.loadOrder(ctx, tx, orderID)
		if err != nil {
			return err
		}
		f := lifecycle.Facts{}
		if facts != nil {
			if f, err = facts(ctx, tx, o); err != nil {
				return err
			}
		}
		f.Reason = reason
		rule, err := lifecycle.Orders.Step(o.State, action, party, f)
		if err != nil {
			var r *lifecycle.Refusal
			if errors.As(err, &r) && r.Kind == lifecycle.NotReady && strings.HasPrefix(r.Message, "Give a reason") {
				return apperr.Validation(map[string]string{"reason": r.Message})
			}
			return refusal(err)
		}
		sc := &stepCtx{tx: tx, p: p, order: o, rule: rule, party: party, facts: f, now: s.now(), note: reason}
		if apply != nil {
			if err := apply(ctx, sc); err != nil {
				return err
			}
		}
		to = rule.To
		return s.transition(ctx, sc)
	})
	if err != nil {
		return Order{}, err
	}
	if to == lifecycle.Provisioning {
		s.autoProvision(ctx, orderID)
	}
	// The principal could see the order before the step and took part in
	// it; reading it back needs no second access check.
	return s.loadOrder(ctx, s.DB, orderID)
}

// transition moves the order to the rule's state and does what entering
// that state means: a new step timer, the timeline event, the audit
// record, notifications, and for provisioning, active and cancelled the
// work of those states.
func (s *Service) transition(ctx context.Context, sc *stepCtx) error {
	o, rule, now, tx := sc.order, sc.rule, sc.now, sc.tx
	stayed := rule.To == o.State
	if !stayed {
		due := time.Time{}
		if info, ok := lifecycle.Orders.Timer(rule.To); ok {
			sla := info.SLA
			if rule.To == lifecycle.Provisioning {
				if days, err := onboardingDays(ctx, tx, o.OfferingID); err == nil && days > 0 {
					sla = time.Duration(days) * 24 * time.Hour
				}
			}
			due = now.Add(sla)
		}
		var closed, activated any
		if lifecycle.Orders.Terminal(rule.To) {
			closed = db.TS(now)
		}
		if rule.To == lifecycle.Active {
			activated = db.TS(now)
		}
		// The order keeps the last reason someone gave (a decline, a
		// return, a withdrawal); other steps' notes stay in the timeline.
		reason := ""
		if rule.NeedsReason || rule.Action == lifecycle.Withdraw {
			reason = sc.note
		}
		res, err := tx.ExecContext(ctx, `UPDATE market_orders SET state = ?, state_since = ?, due_at = ?, note = CASE WHEN ? <> '' THEN ? ELSE note END,
			provision_error = CASE WHEN ? = 'active' THEN '' ELSE provision_error END,
			closed_at = COALESCE(?, closed_at), activated_at = COALESCE(?, activated_at), updated_at = ? WHERE id = ? AND state = ?`,
			string(rule.To), db.TS(now), nullTime(due), reason, reason, string(rule.To), closed, activated, db.TS(now), o.ID, string(o.State))
		if err != nil {
			return fmt.Errorf("marketplace: move order: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "The order changed meanwhile; reload the page.")
		}
	}
	due := o.DueAt
	if stayed {
		due = time.Time{} // the step goes on; its timeliness is judged when it ends
	}
	if err := insertEvent(ctx, tx, o.ID, string(rule.Action), o.State, rule.To, sc.party, sc.p, sc.note, now, due); err != nil {
		return err
	}
	switch rule.To {
	case lifecycle.Provisioning:
		if !stayed {
			if err := s.createTasks(ctx, tx, o); err != nil {
				return err
			}
		}
	case lifecycle.Active:
		if _, err := s.activate(ctx, sc); err != nil {
			return err
		}
	case lifecycle.Cancelled:
		if err := s.endSubscription(ctx, sc); err != nil {
			return err
		}
	}
	if err := s.notifyStep(ctx, sc); err != nil {
		return err
	}
	summary := fmt.Sprintf("%s: “%s” for %s is now %s", stepVerb(rule.Action), o.OfferingName, o.AgencyName, strings.ToLower(lifecycle.Orders.Label(rule.To)))
	return audit.Append(ctx, tx, audit.Event{OrgID: o.AgencyOrgID, Action: "market.order." + string(rule.Action), TargetType: "order", TargetID: o.ID,
		Summary: summary, Before: map[string]string{"state": string(o.State)}, After: map[string]string{"state": string(rule.To), "party": string(sc.party), "note": sc.note}})
}

func onboardingDays(ctx context.Context, q db.Queryer, offeringID string) (int, error) {
	var d int
	err := q.QueryRowContext(ctx, "SELECT onboarding_days FROM market_offerings WHERE id = ?", offeringID).Scan(&d)
	return d, err
}

func stepVerb(a lifecycle.Action) string {
	switch a {
	case lifecycle.Approve:
		return "Approved"
	case lifecycle.Decline:
		return "Declined"
	case lifecycle.Quote:
		return "Quoted"
	case lifecycle.Accept:
		return "Accepted the quote"
	case lifecycle.ReturnQuote:
		return "Returned the quote"
	case lifecycle.SendAgreement:
		return "Sent the agreement for signature"
	case lifecycle.Sign:
		return "Signed the agreement"
	case lifecycle.ReturnAgreement:
		return "Returned the agreement"
	case lifecycle.CompleteOnboarding:
		return "Completed onboarding"
	case lifecycle.AutoProvision:
		return "Provisioned automatically"
	case lifecycle.Withdraw:
		return "Withdrew"
	case lifecycle.Cancel:
		return "Cancelled"
	case lifecycle.Terminate:
		return "Terminated"
	}
	return upperFirst(strings.ReplaceAll(string(a), "_", " "))
}

// notifyStep tells the people who must act next, and the requester when
// the order reaches an outcome.
func (s *Service) notifyStep(ctx context.Context, sc *stepCtx) error {
	o, rule, tx := sc.order, sc.rule, sc.tx
	link := OrderURL(o.ID)
	title := fmt.Sprintf("“%s” for %s", o.OfferingName, o.AgencyName)
	skip := ""
	if sc.p != nil {
		skip = sc.p.UserID
	}
	office, err := s.OfficeID(ctx)
	if err != nil {
		return err
	}
	toParty := func(party lifecycle.Party, subject, body string, operators bool) error {
		switch party {
		case lifecycle.Agency:
			return s.notifyRoles(ctx, tx, o.AgencyOrgID, agencyApprovers, skip, subject, body, link)
		case lifecycle.Provider:
			return s.notifyRoles(ctx, tx, o.ProviderOrgID, providerRoles(o.ProviderKind, operators), skip, subject, body, link)
		case lifecycle.Office:
			return s.notifyRoles(ctx, tx, office, officeReviewers, skip, subject, body, link)
		}
		return nil
	}
	switch rule.To {
	case lifecycle.Approved:
		if rule.Action == lifecycle.ReturnQuote {
			return toParty(lifecycle.Provider, "Quote returned: "+title, "The agency returned the quote: "+sc.note+" Send a new quote.", false)
		}
		if err := s.notifyUser(ctx, tx, o.RequestedBy, o.AgencyOrgID, "Request approved: "+title, "The office approved the request; the provider will send a quote.", link); err != nil {
			return err
		}
		return toParty(lifecycle.Provider, "Send a quote: "+title, "The office approved this request. Send the agency a quote with line items.", false)
	case lifecycle.Declined:
		if err := s.notifyUser(ctx, tx, o.RequestedBy, o.AgencyOrgID, "Request declined: "+title, "The office declined the request: "+sc.note, link); err != nil {
			return err
		}
		return s.notifyRoles(ctx, tx, o.AgencyOrgID, agencyBuyers, skip, "Request declined: "+title, "The office declined the request: "+sc.note, link)
	case lifecycle.Quoted:
		return toParty(lifecycle.Agency, "Decide on a quote: "+title, "The provider sent a quote. Accept it with the funding details, or return it with a reason.", false)
	case lifecycle.AgreementDraft:
		if rule.Action == lifecycle.ReturnAgreement {
			other := lifecycle.Provider
			if sc.party == lifecycle.Provider {
				other = lifecycle.Agency
			}
			return toParty(other, "Agreement returned: "+title, "The agreement was returned for changes: "+sc.note, false)
		}
		return toParty(lifecycle.Provider, "Prepare the agreement: "+title, "The agency accepted the quote. Check the agreement's terms and send it for signature.", false)
	case lifecycle.Signing:
		for _, party := range lifecycle.Orders.Owners(lifecycle.Signing, sc.signedFacts()) {
			if err := toParty(party, "Sign the agreement: "+title, "The interagency agreement awaits your organization's signature.", false); err != nil {
				return err
			}
		}
		return nil
	case lifecycle.Provisioning:
		if err := toParty(lifecycle.Agency, "Agreement signed: "+title, "Both parties signed. The provider is onboarding your agency.", false); err != nil {
			return err
		}
		return toParty(lifecycle.Provider, "Onboard the agency: "+title, "The agreement is signed. Work through the onboarding checklist.", true)
	case lifecycle.Active:
		if err := s.notifyUser(ctx, tx, o.RequestedBy, o.AgencyOrgID, "Service active: "+title, "Onboarding is complete and the subscription is active.", link); err != nil {
			return err
		}
		return toParty(lifecycle.Agency, "Service active: "+title, "Onboarding is complete and the subscription is active.", false)
	case lifecycle.Withdrawn:
		if o.State != lifecycle.Requested {
			if err := toParty(lifecycle.Provider, "Order withdrawn: "+title, "The agency withdrew the order. "+sc.note, false); err != nil {
				return err
			}
		}
		return toParty(lifecycle.Office, "Order withdrawn: "+title, "The agency withdrew the order. "+sc.note, false)
	case lifecycle.Cancelled:
		other := lifecycle.Provider
		if sc.party == lifecycle.Provider {
			other = lifecycle.Agency
		}
		return toParty(other, "Subscription ended: "+title, "The subscription was ended: "+sc.note, false)
	}
	return nil
}

// signedFacts are the signatures after this step.
func (sc *stepCtx) signedFacts() lifecycle.Facts {
	f := sc.facts
	if sc.rule.Action == lifecycle.Sign {
		switch sc.party {
		case lifecycle.Agency:
			f.AgencySigned = true
		case lifecycle.Provider:
			f.ProviderSigned = true
		}
	}
	if sc.rule.Action == lifecycle.SendAgreement {
		f.AgencySigned, f.ProviderSigned = false, false
	}
	return f
}

// ApproveOrder is the office approving a request.
func (s *Service) ApproveOrder(ctx context.Context, p *authz.Principal, orderID, note string) (Order, error) {
	return s.orderStep(ctx, p, orderID, lifecycle.Approve, "", note, nil, nil)
}

// DeclineOrder is the office declining a request with a reason (e.g. it
// duplicates a contract the agency has).
func (s *Service) DeclineOrder(ctx context.Context, p *authz.Principal, orderID, reason string) (Order, error) {
	return s.orderStep(ctx, p, orderID, lifecycle.Decline, "", reason, nil, nil)
}

// WithdrawOrder is the agency withdrawing its request before signing.
func (s *Service) WithdrawOrder(ctx context.Context, p *authz.Principal, orderID, reason string) (Order, error) {
	return s.orderStep(ctx, p, orderID, lifecycle.Withdraw, "", reason, nil, nil)
}

// Available returns the actions the principal may take on the order now,
// for showing the right forms; the service still checks each.
func (s *Service) Available(ctx context.Context, p *authz.Principal, o Order) map[lifecycle.Action]lifecycle.Party {
	out := map[lifecycle.Action]lifecycle.Party{}
	for _, r := range lifecycle.Orders.Rules() {
		if r.From != o.State || r.Party == lifecycle.System {
			continue
		}
		if _, done := out[r.Action]; done {
			continue
		}
		if r.Action == lifecycle.Sign && ((r.Party == lifecycle.Agency && o.AgencySigned) || (r.Party == lifecycle.Provider && o.ProviderSigned)) {
			continue
		}
		if party, err := s.orderParty(ctx, p, o, r.Action, r.Party); err == nil {
			out[r.Action] = party
		}
	}
	return out
}
