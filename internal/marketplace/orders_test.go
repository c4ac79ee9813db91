package marketplace_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/marketplace"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/notify"
)

// actors are the people who try every step: each role of the order's
// agency and provider, the office, a sub-organization of the agency, and
// another agency and provider.
var actors = []string{
	"office/admin", "office/analyst", "office/standards",
	"energy/admin", "energy/buyer", "energy/approver", "energy/analyst", "energy/viewer",
	"energy-lab/admin", "treasury/admin", "treasury/approver",
	"northwind/admin", "northwind/analyst", "bluewater/admin",
}

// allowed is the specification, per state and action, of who may act on
// an order of energy with northwind, written independently of the rule
// table and of the role definitions.
var allowed = map[string][]string{
	"requested/approve":                {"office/admin", "office/analyst"},
	"requested/decline":                {"office/admin", "office/analyst"},
	"requested/withdraw":               {"energy/admin", "energy/buyer"},
	"approved/quote":                   {"northwind/admin", "northwind/analyst"},
	"approved/withdraw":                {"energy/admin", "energy/buyer"},
	"quoted/accept":                    {"energy/admin", "energy/approver"},
	"quoted/return_quote":              {"energy/admin", "energy/approver"},
	"quoted/withdraw":                  {"energy/admin", "energy/buyer"},
	"agreement_draft/send_agreement":   {"northwind/admin", "northwind/analyst"},
	"agreement_draft/withdraw":         {"energy/admin", "energy/buyer"},
	"signing/sign":                     {"energy/admin", "energy/approver", "northwind/admin"},
	"signing/return_agreement":         {"energy/admin", "energy/approver", "northwind/admin"},
	"signing/withdraw":                 {"energy/admin", "energy/buyer"},
	"provisioning/complete_onboarding": {"northwind/admin", "northwind/analyst"},
	"active/cancel":                    {"energy/admin", "energy/approver"},
	"active/terminate":                 {"northwind/admin"},
}

// sees lists who may read an order of energy with northwind.
var sees = map[string]bool{"office/admin": true, "office/analyst": true, "energy/admin": true, "energy/buyer": true, "energy/approver": true,
	"energy/analyst": true, "energy/viewer": true, "northwind/admin": true, "northwind/analyst": true}

var next = map[string]lifecycle.State{
	"requested/approve": lifecycle.Approved, "requested/decline": lifecycle.Declined, "approved/quote": lifecycle.Quoted,
	"quoted/accept": lifecycle.AgreementDraft, "quoted/return_quote": lifecycle.Approved, "agreement_draft/send_agreement": lifecycle.Signing,
	"signing/sign": lifecycle.Signing, "signing/return_agreement": lifecycle.AgreementDraft, "provisioning/complete_onboarding": lifecycle.Active,
	"active/cancel": lifecycle.Cancelled, "active/terminate": lifecycle.Cancelled,
}

var matrixStates = []lifecycle.State{lifecycle.Requested, lifecycle.Approved, lifecycle.Quoted, lifecycle.AgreementDraft, lifecycle.Signing, lifecycle.Provisioning, lifecycle.Active}
var matrixActions = []lifecycle.Action{lifecycle.Approve, lifecycle.Decline, lifecycle.Quote, lifecycle.Accept, lifecycle.ReturnQuote, lifecycle.SendAgreement,
	lifecycle.Sign, lifecycle.ReturnAgreement, lifecycle.CompleteOnboarding, lifecycle.Withdraw, lifecycle.Cancel, lifecycle.Terminate}

// act takes an action with valid input, as a page or the API would.
func (w *world) act(who string, a lifecycle.Action, o marketplace.Order) (marketplace.Order, error) {
	p := w.p(who)
	switch a {
	case lifecycle.Approve:
		return w.svc.ApproveOrder(w.ctx, p, o.ID, "")
	case lifecycle.Decline:
		return w.svc.DeclineOrder(w.ctx, p, o.ID, "Duplicates the agency's existing contract.")
	case lifecycle.Quote:
		lines, _ := w.svc.SuggestedQuote(w.ctx, w.p("northwind/admin"), o)
		return w.svc.SubmitQuote(w.ctx, p, o.ID, marketplace.QuoteInput{Lines: lines})
	case lifecycle.Accept:
		return w.svc.AcceptQuote(w.ctx, p, o.ID, funding)
	case lifecycle.ReturnQuote:
		return w.svc.ReturnQuote(w.ctx, p, o.ID, "Too expensive for our budget.")
	case lifecycle.SendAgreement:
		return w.svc.SendAgreement(w.ctx, p, o.ID)
	case lifecycle.Sign:
		return w.svc.SignAgreement(w.ctx, p, o.ID, marketplace.SignInput{Title: "Authorized Official", Tracking: "TRK-100"})
	case lifecycle.ReturnAgreement:
		return w.svc.ReturnAgreement(w.ctx, p, o.ID, "The period is wrong.", "")
	case lifecycle.CompleteOnboarding:
		if tasks, err := w.svc.Tasks(w.ctx, w.p("northwind/admin"), o.ID); err == nil {
			for _, t := range tasks {
				_, _ = w.svc.SetTask(w.ctx, w.p("northwind/admin"), o.ID, t.ID, true, "")
			}
		}
		return w.svc.CompleteOnboarding(w.ctx, p, o.ID)
	case lifecycle.Withdraw:
		return w.svc.WithdrawOrder(w.ctx, p, o.ID, "")
	case lifecycle.Cancel:
		return w.svc.CancelSubscription(w.ctx, p, o.SubscriptionID, "No longer needed.")
	case lifecycle.Terminate:
		return w.svc.TerminateSubscription(w.ctx, p, o.SubscriptionID, "Agency did not pay.")
	}
	return o, fmt.Errorf("no action %s", a)
}

// TestOrderWorkflowMatrix tries every action in every state as every
// actor: only the specified people may take a step; everyone else gets
// not_found (cannot see the order), conflict (not a step of this state) or
// forbidden (sees it, but does not act for that side), and nothing changes.
func TestOrderWorkflowMatrix(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		for _, st := range matrixStates {
			o := w.orderIn("energy", "northwind", st)
			for _, a := range matrixActions {
				key := string(st) + "/" + string(a)
				who := map[string]bool{}
				for _, x := range allowed[key] {
					who[x] = true
				}
				for _, actor := range actors {
					if who[actor] {
						continue // successes are tried on fresh orders below
					}
					// Active orders are cancelled through their subscription;
					// the others through the order itself.
					_, err := w.act(actor, a, o)
					want := apperr.Forbidden
					switch {
					case !sees[actor]:
						want = apperr.NotFound
					case len(allowed[key]) == 0:
						want = apperr.Conflict
					}
					if (a == lifecycle.Cancel || a == lifecycle.Terminate) && st != lifecycle.Active && sees[actor] {
						want = apperr.NotFound // no subscription yet
					}
					if got := apperr.CodeOf(err); got != want {
						t.Errorf("%s as %s: %v (code %q), want %q", key, actor, err, got, want)
					}
				}
				again, err := w.svc.GetOrder(w.ctx, w.p("office/admin"), o.ID)
				if err != nil || again.State != st {
					t.Fatalf("%s: refused attempts moved the order to %s (%v)", key, again.State, err)
				}
			}
			for _, a := range matrixActions {
				key := string(st) + "/" + string(a)
				for _, actor := range allowed[key] {
					fresh := w.orderIn("energy", "northwind", st)
					got, err := w.act(actor, a, fresh)
					if err != nil {
						t.Errorf("%s as %s: refused: %v", key, actor, err)
						continue
					}
					want := next[key]
					if a == lifecycle.Withdraw {
						want = lifecycle.Withdrawn
					}
					if got.State != want {
						t.Errorf("%s as %s: order is %s, want %s", key, actor, got.State, want)
					}
				}
			}
		}
	})
}

func TestNoSkippingAndGuards(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		o := w.orderIn("energy", "northwind", lifecycle.Provisioning)
		_, err := w.svc.CompleteOnboarding(w.ctx, w.p("northwind/admin"), o.ID)
		code(t, err, apperr.Conflict) // tasks are open
		if !strings.Contains(apperr.MessageOf(err), "onboarding task") {
			t.Errorf("message %q does not name the open tasks", apperr.MessageOf(err))
		}
		_, err = w.svc.DeclineOrder(w.ctx, w.p("office/admin"), w.orderIn("energy", "northwind", lifecycle.Requested).ID, "  ")
		code(t, err, apperr.Invalid) // a decline needs a reason
		q := w.orderIn("energy", "northwind", lifecycle.Approved)
		_, err = w.svc.SubmitQuote(w.ctx, w.p("northwind/admin"), q.ID, marketplace.QuoteInput{})
		code(t, err, apperr.Conflict) // a quote needs lines
		s := w.orderIn("energy", "northwind", lifecycle.Signing)
		_, err = w.svc.SignAgreement(w.ctx, w.p("energy/approver"), s.ID, marketplace.SignInput{Title: "CIO", Tracking: "A-1"})
		w.must(err)
		_, err = w.svc.SignAgreement(w.ctx, w.p("energy/admin"), s.ID, marketplace.SignInput{Title: "CIO", Tracking: "A-2"})
		code(t, err, apperr.Conflict) // the agency has signed
		_, err = w.svc.SignAgreement(w.ctx, w.p("northwind/admin"), s.ID, marketplace.SignInput{Title: "x", Tracking: "!"})
		code(t, err, apperr.Invalid) // a signature needs a title and a tracking number
	})
}

func TestOrderLifecycleEffects(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		hook := &recordingHook{}
		w.svc.Hook = hook
		o := w.orderIn("energy", "northwind", lifecycle.Signing)
		_, a, err := w.svc.GetAgreement(w.ctx, w.p("energy/viewer"), o.ID)
		w.must(err)
		if !strings.HasPrefix(a.GTCNumber, "GTC-2026-") || a.OrderNumber != a.GTCNumber+"-001" || a.RequestingALC != "89000001" || a.ServicingALC != "47000010" {
			t.Errorf("agreement numbers and codes: %+v", a)
		}
		o = w.orderIn("energy", "northwind", lifecycle.Active)
		if o.SubscriptionID == "" || o.ActivatedAt.IsZero() {
			t.Fatalf("active order without subscription: %+v", o)
		}
		var engaged int
		w.must(d.QueryRowContext(w.ctx, "SELECT COUNT(*) FROM engagements WHERE provider_org_id = ? AND agency_org_id = ? AND ended_at IS NULL",
			w.orgs["northwind"].ID, w.orgs["energy"].ID).Scan(&engaged))
		if engaged != 1 {
			t.Errorf("%d active engagements after activation, want 1", engaged)
		}
		ok, err := w.ids.Authz.Dir.Engaged(w.ctx, w.orgs["northwind"].ID, w.orgs["energy"].ID)
		if err != nil || !ok {
			t.Errorf("authz does not see the engagement: %v %v", ok, err)
		}
		off, err := w.svc.GetOffering(w.ctx, w.p("treasury/viewer"), o.OfferingID)
		w.must(err)
		if off.AgenciesUsing != 1 {
			t.Errorf("agencies using = %d, want 1", off.AgenciesUsing)
		}
		stages := hook.stages()
		if !strings.Contains(stages, "procurement") || !strings.Contains(stages, "execution") {
			t.Errorf("lifecycle stages %s", stages)
		}
		_, err = w.svc.CancelSubscription(w.ctx, w.p("energy/approver"), o.SubscriptionID, "Moving to the office's service.")
		w.must(err)
		ok, _ = w.ids.Authz.Dir.Engaged(w.ctx, w.orgs["northwind"].ID, w.orgs["energy"].ID)
		if ok {
			t.Error("the engagement outlived the subscription")
		}
		off, _ = w.svc.GetOffering(w.ctx, w.p("treasury/viewer"), o.OfferingID)
		if off.AgenciesUsing != 0 {
			t.Errorf("agencies using after cancellation = %d", off.AgenciesUsing)
		}
		// Notifications went to the people who act next.
		var subjects []string
		for _, who := range []string{"northwind/admin", "northwind/analyst"} {
			items, err := notify.ForUser(w.ctx, d, w.p(who).UserID, 200)
			w.must(err)
			for _, it := range items {
				subjects = append(subjects, it.Subject)
			}
		}
		all := strings.Join(subjects, "\n")
		for _, want := range []string{"Send a quote", "Prepare the agreement", "Sign the agreement", "Onboard the agency", "Subscription ended"} {
			if !strings.Contains(all, want) {
				t.Errorf("the provider was not told %q; got:\n%s", want, all)
			}
		}
	})
}

func TestSLATimersAndOverdue(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		o := w.orderIn("energy", "northwind", lifecycle.Requested)
		if o.Overdue() || o.OwnerLabel() != "The office" || o.DueLabel() != "due in 3 days" {
			t.Errorf("fresh request: overdue=%v owner=%q due=%q", o.Overdue(), o.OwnerLabel(), o.DueLabel())
		}
		w.advance(4 * 24 * time.Hour)
		o, _ = w.svc.GetOrder(w.ctx, w.p("energy/buyer"), o.ID)
		if !o.Overdue() || o.DueLabel() != "overdue by 1 day" {
			t.Errorf("after 4 days: overdue=%v due=%q", o.Overdue(), o.DueLabel())
		}
		late, _, err := w.svc.ListOrders(w.ctx, w.p("office/analyst"), marketplace.OrderFilter{Overdue: true})
		w.must(err)
		if len(late) != 1 || late[0].ID != o.ID {
			t.Errorf("overdue list %v", late)
		}
		o, err = w.svc.ApproveOrder(w.ctx, w.p("office/analyst"), o.ID, "")
		w.must(err)
		if o.Overdue() || o.OwnerLabel() != "Northwind Security" {
			t.Errorf("after approval: overdue=%v owner=%q", o.Overdue(), o.OwnerLabel())
		}
		tl, err := w.svc.Timeline(w.ctx, w.p("energy/buyer"), o.ID)
		w.must(err)
		if len(tl) != 2 || !tl[1].Late() {
			t.Errorf("the late review is not recorded as late: %+v", tl)
		}
	})
}

func TestParentAgencyActsForSubOrganization(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		off := w.listed("northwind")
		o, err := w.svc.RequestOrder(w.ctx, w.p("energy-lab/buyer"), marketplace.OrderInput{AgencyOrgID: w.orgs["energy-lab"].ID, OfferingID: off.ID,
			Tier: "foundational", Quantity: 1, Needs: "Log monitoring for the lab network."})
		w.must(err)
		_, err = w.svc.RequestOrder(w.ctx, w.p("energy/buyer"), marketplace.OrderInput{AgencyOrgID: w.orgs["treasury"].ID, OfferingID: off.ID,
			Tier: "foundational", Quantity: 1, Needs: "Ordering for another agency."})
		code(t, err, apperr.NotFound)
		w.must2(w.svc.ApproveOrder(w.ctx, w.p("office/admin"), o.ID, ""))
		lines, _ := w.svc.SuggestedQuote(w.ctx, w.p("northwind/admin"), o)
		w.must2(w.svc.SubmitQuote(w.ctx, w.p("northwind/admin"), o.ID, marketplace.QuoteInput{Lines: lines}))
		// The department's approver accepts for its laboratory.
		o, err = w.svc.AcceptQuote(w.ctx, w.p("energy/approver"), o.ID, funding)
		w.must(err)
		if o.State != lifecycle.AgreementDraft {
			t.Errorf("state %s", o.State)
		}
		// The lab's admin cannot see the department's orders.
		_, err = w.svc.GetOrder(w.ctx, w.p("energy-lab/admin"), w.orderIn("energy", "northwind", lifecycle.Requested).ID)
		code(t, err, apperr.NotFound)
	})
}

func (w *world) must2(_ marketplace.Order, err error) {
	w.t.Helper()
	w.must(err)
}

func TestDuplicateAndUnlistedRequests(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		o := w.orderIn("energy", "northwind", lifecycle.Quoted)
		_, err := w.svc.RequestOrder(w.ctx, w.p("energy/admin"), marketplace.OrderInput{AgencyOrgID: w.orgs["energy"].ID, OfferingID: o.OfferingID,
			Tier: "intermediate", Quantity: 1, Needs: "A second order for the same thing."})
		code(t, err, apperr.Conflict)
		_, err = w.svc.RequestOrder(w.ctx, w.p("treasury/buyer"), marketplace.OrderInput{AgencyOrgID: w.orgs["treasury"].ID, OfferingID: o.OfferingID,
			Tier: "advanced", Quantity: 1, Needs: "We want the advanced tier."})
		code(t, err, apperr.Invalid) // not offered at that tier
		off, err := w.svc.OfferingAction(w.ctx, w.p("office/admin"), o.OfferingID, lifecycle.PauseOffering, "Incident under review.", nil)
		w.must(err)
		_, err = w.svc.RequestOrder(w.ctx, w.p("treasury/buyer"), marketplace.OrderInput{AgencyOrgID: w.orgs["treasury"].ID, OfferingID: off.ID,
			Tier: "intermediate", Quantity: 1, Needs: "We want it while paused."})
		code(t, err, apperr.Conflict)
		// The provider cannot resume what the office paused.
		_, err = w.svc.OfferingAction(w.ctx, w.p("northwind/admin"), off.ID, lifecycle.ResumeOffering, "", nil)
		code(t, err, apperr.Forbidden)
	})
}

type recordingHook struct{ events []marketplace.LifecycleEvent }

func (h *recordingHook) Stage(_ context.Context, _ *db.Tx, ev marketplace.LifecycleEvent) error {
	h.events = append(h.events, ev)
	return nil
}

func (h *recordingHook) stages() string {
	var s []string
	for _, e := range h.events {
		s = append(s, string(e.Stage))
	}
	return strings.Join(s, ",")
}
