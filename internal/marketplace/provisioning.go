package marketplace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
)

// Step is one step of an offering's onboarding checklist template.
type Step struct {
	Title  string
	Detail string
}

// defaultSteps is the checklist of offerings whose provider has not
// written one.
var defaultSteps = []Step{
	{"Hold the kick-off meeting", "Agree contacts, schedule and success criteria with the agency."},
	{"Set up the agency's access", "Accounts, network paths and credentials the service needs."},
	{"Configure the service", "Apply the agency's settings for the ordered tier."},
	{"Confirm with the agency that the service works", "The agency confirms the service is in use."},
}

// OnboardingSteps returns an offering's checklist template (the default
// one when the provider has not written its own).
func (s *Service) OnboardingSteps(ctx context.Context, p *authz.Principal, offeringID string) ([]Step, bool, error) {
	if _, err := s.GetOffering(ctx, p, offeringID); err != nil {
		return nil, false, err
	}
	steps, err := loadSteps(ctx, s.DB, offeringID)
	if err != nil {
		return nil, false, err
	}
	if len(steps) == 0 {
		return defaultSteps, true, nil
	}
	return steps, false, nil
}

func loadSteps(ctx context.Context, q db.Queryer, offeringID string) ([]Step, error) {
	rows, err := q.QueryContext(ctx, "SELECT title, detail FROM market_onboarding_steps WHERE offering_id = ? ORDER BY seq", offeringID)
	if err != nil {
		return nil, fmt.Errorf("marketplace: onboarding steps: %w", err)
	}
	defer rows.Close()
	var out []Step
	for rows.Next() {
		var st Step
		if err := rows.Scan(&st.Title, &st.Detail); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// SetOnboardingSteps replaces an offering's checklist template. Orders
// already onboarding keep the checklist they started with.
func (s *Service) SetOnboardingSteps(ctx context.Context, p *authz.Principal, offeringID string, steps []Step) error {
	o, err := s.GetOffering(ctx, p, offeringID)
	if err != nil {
		return err
	}
	if err := s.actFor(ctx, p, authz.MarketOfferingManage, o.ProviderOrgID, "Only the provider edits its onboarding checklist."); err != nil {
		return err
	}
	var clean []Step
	for _, st := range steps {
		st.Title, st.Detail = strings.TrimSpace(st.Title), strings.TrimSpace(st.Detail)
		if st.Title == "" && st.Detail == "" {
			continue
		}
		if !textOK(st.Title, 3, 200) || !textOK(st.Detail, 0, 1000) {
			return apperr.Validation(map[string]string{"steps": fmt.Sprintf("Step %d: give a title of 3 to 200 characters and at most 1,000 characters of detail.", len(clean)+1)})
		}
		clean = append(clean, st)
	}
	if len(clean) == 0 || len(clean) > 30 {
		return apperr.Validation(map[string]string{"steps": "A checklist has 1 to 30 steps."})
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM market_onboarding_steps WHERE offering_id = ?", o.ID); err != nil {
			return err
		}
		for i, st := range clean {
			if _, err := tx.ExecContext(ctx, "INSERT INTO market_onboarding_steps (offering_id, seq, title, detail) VALUES (?, ?, ?, ?)", o.ID, i+1, st.Title, st.Detail); err != nil {
				return err
			}
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.ProviderOrgID, Action: "market.offering.onboarding", TargetType: "offering", TargetID: o.ID,
			Summary: fmt.Sprintf("Set the onboarding checklist of “%s” (%d steps)", o.Name, len(clean)), After: clean})
	})
}

// Task is one item of an order's onboarding checklist.
type Task struct {
	ID     string
	Seq    int
	Title  string
	Detail string
	DoneAt time.Time
	DoneBy string
	Note   string
}

// Done reports whether the task is done.
func (t Task) Done() bool { return !t.DoneAt.IsZero() }

// createTasks copies the offering's checklist to the order when it enters
// provisioning.
func (s *Service) createTasks(ctx context.Context, tx *db.Tx, o Order) error {
	steps, err := loadSteps(ctx, tx, o.OfferingID)
	if err != nil {
		return err
	}
	if len(steps) == 0 {
		steps = defaultSteps
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM market_order_tasks WHERE order_id = ?", o.ID); err != nil {
		return err
	}
	for i, st := range steps {
		if _, err := tx.ExecContext(ctx, "INSERT INTO market_order_tasks (id, order_id, seq, title, detail) VALUES (?, ?, ?, ?, ?)", id.New("tsk"), o.ID, i+1, st.Title, st.Detail); err != nil {
			return fmt.Errorf("marketplace: create task: %w", err)
		}
	}
	return nil
}

// Tasks returns an order's onboarding checklist.
func (s *Service) Tasks(ctx context.Context, p *authz.Principal, orderID string) ([]Task, error) {
	if _, err := s.GetOrder(ctx, p, orderID); err != nil {
		return nil, err
	}
	return loadTasks(ctx, s.DB, orderID)
}

func loadTasks(ctx context.Context, q db.Queryer, orderID string) ([]Task, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, seq, title, detail, done_at, done_by, note FROM market_order_tasks WHERE order_id = ? ORDER BY seq", orderID)
	if err != nil {
		return nil, fmt.Errorf("marketplace: tasks: %w", err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		var t Task
		if err := rows.Scan(&t.ID, &t.Seq, &t.Title, &t.Detail, (*db.Time)(&t.DoneAt), &t.DoneBy, &t.Note); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// SetTask marks an onboarding task done or open again, with a note. The
// provider's people only, while the order is onboarding.
func (s *Service) SetTask(ctx context.Context, p *authz.Principal, orderID, taskID string, done bool, note string) (Task, error) {
	o, err := s.GetOrder(ctx, p, orderID)
	if err != nil {
		return Task{}, err
	}
	if !id.Valid("tsk", taskID) {
		return Task{}, notFound("Task")
	}
	if err := s.actFor(ctx, p, authz.MarketOrderFulfil, o.ProviderOrgID, "The provider works the onboarding checklist."); err != nil {
		return Task{}, err
	}
	if o.State != lifecycle.Provisioning {
		return Task{}, apperr.New(apperr.Conflict, "The checklist is worked while the order is onboarding.")
	}
	note = strings.TrimSpace(note)
	if !textOK(note, 0, 1000) {
		return Task{}, apperr.Validation(map[string]string{"note": "The note is at most 1,000 characters."})
	}
	var t Task
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		tasks, err := loadTasks(ctx, tx, orderID)
		if err != nil {
			return err
		}
		found := false
		for _, x := range tasks {
			if x.ID == taskID {
				t, found = x, true
			}
		}
		if !found {
			return notFound("Task")
		}
		now := s.now()
		if done {
			t.DoneAt, t.DoneBy = now, actorLabel(p)
		} else {
			t.DoneAt, t.DoneBy = time.Time{}, ""
		}
		t.Note = note
		if _, err := tx.ExecContext(ctx, "UPDATE market_order_tasks SET done_at = ?, done_by = ?, note = ? WHERE id = ?", nullTime(t.DoneAt), t.DoneBy, t.Note, t.ID); err != nil {
			return err
		}
		verb := "Reopened"
		if done {
			verb = "Completed"
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.AgencyOrgID, Action: "market.order.task", TargetType: "order", TargetID: o.ID,
			Summary: fmt.Sprintf("%s onboarding task “%s” for “%s”", verb, t.Title, o.OfferingName), After: map[string]any{"task": t.Title, "done": done, "note": note}})
	})
	return t, err
}

// CompleteOnboarding is the provider finishing onboarding once every task
// is done: the subscription becomes active.
func (s *Service) CompleteOnboarding(ctx context.Context, p *authz.Principal, orderID string) (Order, error) {
	return s.orderStep(ctx, p, orderID, lifecycle.CompleteOnboarding, "", "",
		func(ctx context.Context, tx *db.Tx, o Order) (lifecycle.Facts, error) {
			tasks, err := loadTasks(ctx, tx, orderID)
			open := 0
			for _, t := range tasks {
				if !t.Done() {
					open++
				}
			}
			return lifecycle.Facts{OpenTasks: open}, err
		}, nil)
}

// autoProvision runs the automatic provisioner of an order that entered
// provisioning, if its offering has one. On success the subscription is
// active; on failure the error is kept on the order, the provider is told,
// and the checklist remains as the way forward. It never fails the step
// that led here (that step has committed).
func (s *Service) autoProvision(ctx context.Context, orderID string) {
	o, err := s.loadOrder(ctx, s.DB, orderID)
	if err != nil || o.State != lifecycle.Provisioning {
		return
	}
	area, err := s.Area(ctx, o.AreaID)
	if err != nil {
		return
	}
	prov := s.provisionerFor(o.OfferingID, o.AreaID, o.ProviderKind == "office" && area.OfficeOperated)
	if prov == nil {
		return
	}
	ctx = actor.With(ctx, actor.Actor{Label: "qsmo (automatic provisioning)"})
	var provErr error
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := lockOrder(ctx, tx, orderID); err != nil {
			return err
		}
		o, err := s.loadOrder(ctx, tx, orderID)
		if err != nil {
			return err
		}
		rule, err := lifecycle.Orders.Step(o.State, lifecycle.AutoProvision, lifecycle.System, lifecycle.Facts{})
		if err != nil {
			return refusal(err)
		}
		sc := &stepCtx{tx: tx, order: o, rule: rule, party: lifecycle.System, now: s.now(), note: "Provisioned automatically"}
		sc.provision = func(sub Subscription) error {
			if err := prov.Provision(ctx, tx, sub); err != nil {
				provErr = err
				return err
			}
			return nil
		}
		return s.transition(ctx, sc)
	})
	if err == nil {
		return
	}
	msg := err.Error()
	if provErr != nil {
		msg = provErr.Error()
	}
	s.Log.Warn("marketplace: automatic provisioning failed", "order_id", orderID, "err", err)
	_ = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE market_orders SET provision_error = ?, updated_at = ? WHERE id = ?", truncate(msg, 500), db.TS(s.now()), orderID); err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, orderID, "provision_failed", o.State, o.State, lifecycle.System, nil, truncate(msg, 500), s.now(), time.Time{}); err != nil {
			return err
		}
		if err := s.notifyRoles(ctx, tx, o.ProviderOrgID, providerRoles(o.ProviderKind, true), "", "Automatic provisioning failed: “"+o.OfferingName+"” for "+o.AgencyName,
			"Automatic provisioning failed: "+truncate(msg, 300)+". Retry it from the order, or work through the onboarding checklist.", OrderURL(orderID)); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.AgencyOrgID, Action: "market.order.provision_failed", TargetType: "order", TargetID: orderID,
			Summary: "Automatic provisioning failed", After: map[string]string{"error": truncate(msg, 500)}})
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// HasProvisioner reports whether an order's offering is provisioned
// automatically.
func (s *Service) HasProvisioner(ctx context.Context, o Order) bool {
	area, err := s.Area(ctx, o.AreaID)
	return err == nil && s.provisionerFor(o.OfferingID, o.AreaID, o.ProviderKind == "office" && area.OfficeOperated) != nil
}

// RetryProvisioning runs the automatic provisioner again after a failure.
func (s *Service) RetryProvisioning(ctx context.Context, p *authz.Principal, orderID string) (Order, error) {
	o, err := s.GetOrder(ctx, p, orderID)
	if err != nil {
		return Order{}, err
	}
	if err := s.actFor(ctx, p, authz.MarketOrderFulfil, o.ProviderOrgID, "The provider retries provisioning."); err != nil {
		return Order{}, err
	}
	if o.State != lifecycle.Provisioning || !s.HasProvisioner(ctx, o) {
		return Order{}, apperr.New(apperr.Conflict, "This order has no automatic provisioning to retry.")
	}
	s.autoProvision(ctx, orderID)
	return s.GetOrder(ctx, p, orderID)
}

// activate creates the subscription of an order that became active: its
// rates from the accepted quote, the provider's engagement with the
// agency, the offering's count of agencies, and the execution stage.
func (s *Service) activate(ctx context.Context, sc *stepCtx) (Subscription, error) {
	o, tx, now := sc.order, sc.tx, sc.now
	q, err := acceptedQuote(ctx, tx, o.ID)
	if err != nil {
		return Subscription{}, err
	}
	sub := Subscription{ID: id.New("sub"), OrderID: o.ID, AgencyOrgID: o.AgencyOrgID, AgencyName: o.AgencyName, ProviderOrgID: o.ProviderOrgID,
		ProviderName: o.ProviderName, ProviderKind: o.ProviderKind, OfferingID: o.OfferingID, OfferingName: o.OfferingName, AreaID: o.AreaID, AreaName: o.AreaName,
		Tier: o.Tier, Quantity: o.Quantity, Status: SubscriptionActive, StartedAt: now, Rates: q.Lines}
	_, err = tx.ExecContext(ctx, `INSERT INTO market_subscriptions (id, order_id, agency_org_id, provider_org_id, offering_id, service_area_id, tier, quantity, status, started_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)`, sub.ID, o.ID, o.AgencyOrgID, o.ProviderOrgID, o.OfferingID, o.AreaID, string(o.Tier), o.Quantity, db.TS(now), db.TS(now))
	if err != nil {
		return sub, fmt.Errorf("marketplace: insert subscription: %w", err)
	}
	if err := insertLines(ctx, tx, "market_rates", "subscription_id", sub.ID, q.Lines); err != nil {
		return sub, err
	}
	if o.ProviderKind == "provider" {
		_, err := tx.ExecContext(ctx, "INSERT INTO engagements (provider_org_id, agency_org_id, source, created_at) VALUES (?, ?, ?, ?)",
			o.ProviderOrgID, o.AgencyOrgID, engagementSource(sub.ID), db.TS(now))
		if err != nil {
			return sub, fmt.Errorf("marketplace: engagement: %w", err)
		}
	}
	if err := recountAgencies(ctx, tx, o.OfferingID); err != nil {
		return sub, err
	}
	if sc.provision != nil {
		if err := sc.provision(sub); err != nil {
			return sub, err
		}
	}
	if err := s.Hook.Stage(ctx, tx, LifecycleEvent{Stage: StageExecution, AgencyID: o.AgencyOrgID, ServiceArea: o.AreaID, OfferingID: o.OfferingID,
		ProviderID: o.ProviderOrgID, OrderID: o.ID, SubscriptionID: sub.ID, UserID: o.RequestedBy, At: now}); err != nil {
		return sub, fmt.Errorf("marketplace: lifecycle hook: %w", err)
	}
	return sub, audit.Append(ctx, tx, audit.Event{OrgID: o.AgencyOrgID, Action: "market.subscription.start", TargetType: "subscription", TargetID: sub.ID,
		Summary: fmt.Sprintf("Subscription to “%s” (%s) started for %s", o.OfferingName, o.Tier.Label(), o.AgencyName),
		After:   map[string]any{"order": o.ID, "monthly_cents": q.Monthly, "provider": o.ProviderOrgID}})
}

// engagementSource ties an engagement to the subscription that created it.
func engagementSource(subID string) string { return "subscription:" + subID }

// recountAgencies keeps an offering's count of agencies with an active
// subscription, which cards and sorting read.
func recountAgencies(ctx context.Context, tx *db.Tx, offeringID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE market_offerings SET agencies_using = (SELECT COUNT(DISTINCT agency_org_id) FROM market_subscriptions
		WHERE offering_id = ? AND status = 'active') WHERE id = ?`, offeringID, offeringID)
	if err != nil {
		return fmt.Errorf("marketplace: recount agencies: %w", err)
	}
	return bumpCatalog(ctx, tx)
}

// endSubscription ends the subscription of a cancelled order: the
// engagement ends, a built-in service is taken down, open modifications
// are withdrawn.
func (s *Service) endSubscription(ctx context.Context, sc *stepCtx) error {
	o, tx, now := sc.order, sc.tx, sc.now
	sub, err := loadSubscription(ctx, tx, o.SubscriptionID, now)
	if errors.Is(err, sql.ErrNoRows) || apperr.Is(err, apperr.NotFound) {
		return apperr.New(apperr.Conflict, "The order has no subscription to end.")
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "UPDATE market_subscriptions SET status = 'cancelled', ended_at = ?, end_reason = ?, updated_at = ? WHERE id = ? AND status = 'active'",
		db.TS(now), fmt.Sprintf("%s by %s: %s", stepVerb(sc.rule.Action), sc.party.Label(), sc.note), db.TS(now), sub.ID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE engagements SET ended_at = ? WHERE source = ? AND ended_at IS NULL", db.TS(now), engagementSource(sub.ID)); err != nil {
		return fmt.Errorf("marketplace: end engagement: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE market_modifications SET status = 'withdrawn', decided_at = ?, decision_note = 'Subscription ended' WHERE subscription_id = ? AND status = 'proposed'",
		db.TS(now), sub.ID); err != nil {
		return err
	}
	area, err := s.Area(ctx, o.AreaID)
	if err != nil {
		return err
	}
	if prov := s.provisionerFor(o.OfferingID, o.AreaID, o.ProviderKind == "office" && area.OfficeOperated); prov != nil {
		if err := prov.Deprovision(ctx, tx, sub); err != nil {
			return apperr.New(apperr.Conflict, "The service could not be taken down: %v. Nothing was cancelled; try again or ask the office.", err)
		}
	}
	if err := recountAgencies(ctx, tx, o.OfferingID); err != nil {
		return err
	}
	return audit.Append(ctx, tx, audit.Event{OrgID: o.AgencyOrgID, Action: "market.subscription.end", TargetType: "subscription", TargetID: sub.ID,
		Summary: fmt.Sprintf("Subscription to “%s” ended for %s", o.OfferingName, o.AgencyName), After: map[string]string{"reason": sc.note, "by": string(sc.party)}})
}
