package lifecycle

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/authz"
)

// allowed is the specification of the order workflow, written out by hand
// and independently of the rule table: every (state, action, party) that is
// allowed and where it leads with both signatures absent and no open tasks.
// Anything not listed must be refused.
var allowedOrder = map[string]State{
	"requested/approve/office":                  Approved,
	"requested/decline/office":                  Declined,
	"requested/withdraw/agency":                 Withdrawn,
	"approved/quote/provider":                   Quoted,
	"approved/withdraw/agency":                  Withdrawn,
	"quoted/accept/agency":                      AgreementDraft,
	"quoted/return_quote/agency":                Approved,
	"quoted/withdraw/agency":                    Withdrawn,
	"agreement_draft/send_agreement/provider":   Signing,
	"agreement_draft/withdraw/agency":           Withdrawn,
	"signing/sign/agency":                       Signing,
	"signing/sign/provider":                     Signing,
	"signing/return_agreement/agency":           AgreementDraft,
	"signing/return_agreement/provider":         AgreementDraft,
	"signing/withdraw/agency":                   Withdrawn,
	"provisioning/complete_onboarding/provider": Active,
	"provisioning/auto_provision/system":        Active,
	"active/cancel/agency":                      Cancelled,
	"active/terminate/provider":                 Cancelled,
}

var orderStates = []State{Requested, Approved, Quoted, AgreementDraft, Signing, Provisioning, Active, Declined, Withdrawn, Cancelled}
var orderActions = []Action{Approve, Decline, Quote, Accept, ReturnQuote, SendAgreement, ReturnAgreement, Sign, CompleteOnboarding, AutoProvision, Withdraw, Cancel, Terminate}
var parties = []Party{Agency, Provider, Office, System}

// ready are facts under which every guard passes.
var ready = Facts{Reason: "duplicative of an existing contract", TermsComplete: true, QuoteLines: 2}

func TestOrderMatrix(t *testing.T) {
	for _, s := range orderStates {
		for _, a := range orderActions {
			for _, p := range parties {
				key := fmt.Sprintf("%s/%s/%s", s, a, p)
				want, ok := allowedOrder[key]
				rule, err := Orders.Step(s, a, p, ready)
				switch {
				case ok && err != nil:
					t.Errorf("%s: refused (%v), want allowed to %s", key, err, want)
				case ok && rule.To != want:
					t.Errorf("%s: leads to %s, want %s", key, rule.To, want)
				case !ok && err == nil:
					t.Errorf("%s: allowed (to %s), want refused", key, rule.To)
				case !ok:
					var r *Refusal
					if !errors.As(err, &r) {
						t.Errorf("%s: error %v is not a Refusal", key, err)
					}
				}
			}
		}
	}
}

func TestRefusalKinds(t *testing.T) {
	cases := []struct {
		name  string
		from  State
		a     Action
		party Party
		f     Facts
		want  RefusalKind
	}{
		{"no skipping from request to quote", Requested, Quote, Provider, ready, NotNow},
		{"no skipping from approval to signing", Approved, Sign, Agency, ready, NotNow},
		{"no activation before onboarding", Signing, CompleteOnboarding, Provider, ready, NotNow},
		{"terminal states take no action", Declined, Approve, Office, ready, NotNow},
		{"cancelled orders cannot be cancelled again", Cancelled, Cancel, Agency, ready, NotNow},
		{"the provider cannot approve its own order", Requested, Approve, Provider, ready, NotYours},
		{"the agency cannot quote", Approved, Quote, Agency, ready, NotYours},
		{"the office cannot accept a quote for the agency", Quoted, Accept, Office, ready, NotYours},
		{"the office does not sign for either party", Signing, Sign, Office, ready, NotYours},
		{"a decline needs a reason", Requested, Decline, Office, Facts{}, NotReady},
		{"returning a quote needs a reason", Quoted, ReturnQuote, Agency, Facts{Reason: "  "}, NotReady},
		{"a quote needs lines", Approved, Quote, Provider, Facts{}, NotReady},
		{"an agreement is sent only when complete", AgreementDraft, SendAgreement, Provider, Facts{QuoteLines: 1}, NotReady},
		{"nobody signs twice", Signing, Sign, Agency, Facts{AgencySigned: true}, NotReady},
		{"onboarding completes only with every task done", Provisioning, CompleteOnboarding, Provider, Facts{OpenTasks: 1}, NotReady},
		{"unknown actions are refused", Requested, Action("teleport"), Office, ready, NotNow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Orders.Step(c.from, c.a, c.party, c.f)
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("Step = %v, want a refusal", err)
			}
			if r.Kind != c.want {
				t.Errorf("refusal kind %s (%s), want %s", r.Kind, r.Message, c.want)
			}
			if r.Message == "" {
				t.Error("refusal without a message")
			}
		})
	}
}

func TestSecondSignatureStartsProvisioning(t *testing.T) {
	r, err := Orders.Step(Signing, Sign, Agency, Facts{ProviderSigned: true})
	if err != nil || r.To != Provisioning {
		t.Fatalf("agency countersigns: %v, to %s; want provisioning", err, r.To)
	}
	r, err = Orders.Step(Signing, Sign, Provider, Facts{AgencySigned: true})
	if err != nil || r.To != Provisioning {
		t.Fatalf("provider countersigns: %v, to %s; want provisioning", err, r.To)
	}
	r, err = Orders.Step(Signing, Sign, Provider, Facts{})
	if err != nil || r.To != Signing {
		t.Fatalf("first signature: %v, to %s; want signing", err, r.To)
	}
}

func TestPermissions(t *testing.T) {
	want := map[string]authz.Permission{
		"requested/approve/office":                  authz.MarketOrderReview,
		"approved/quote/provider":                   authz.MarketOrderFulfil,
		"quoted/accept/agency":                      authz.MarketOrderApprove,
		"signing/sign/agency":                       authz.MarketAgreementSign,
		"signing/sign/provider":                     authz.MarketAgreementSign,
		"requested/withdraw/agency":                 authz.MarketOrderRequest,
		"active/cancel/agency":                      authz.MarketOrderApprove,
		"active/terminate/provider":                 authz.MarketAgreementSign,
		"provisioning/complete_onboarding/provider": authz.MarketOrderFulfil,
	}
	for key, perm := range want {
		var s State
		var a Action
		var p Party
		parseKey(key, &s, &a, &p)
		r, err := Orders.Step(s, a, p, ready)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if r.Permission != perm {
			t.Errorf("%s: permission %s, want %s", key, r.Permission, perm)
		}
	}
	for _, r := range Orders.Rules() {
		if r.Party != System && r.Permission == "" {
			t.Errorf("rule %s/%s/%s has no permission", r.From, r.Action, r.Party)
		}
	}
}

func parseKey(key string, s *State, a *Action, p *Party) {
	var parts [3]string
	i := 0
	start := 0
	for j := 0; j < len(key); j++ {
		if key[j] == '/' {
			parts[i] = key[start:j]
			i++
			start = j + 1
		}
	}
	parts[2] = key[start:]
	*s, *a, *p = State(parts[0]), Action(parts[1]), Party(parts[2])
}

func TestEveryOpenStepHasAnOwnerAndATimer(t *testing.T) {
	for _, s := range orderStates {
		info, open := Orders.Timer(s)
		if Orders.Terminal(s) || s == Active {
			if open {
				t.Errorf("%s: closed state has a timer", s)
			}
			continue
		}
		if !open || len(info.Owners) == 0 || info.SLA <= 0 || info.Label == "" {
			t.Errorf("%s: step info %+v", s, info)
		}
	}
	if got := Orders.Owners(Signing, Facts{AgencySigned: true}); len(got) != 1 || got[0] != Provider {
		t.Errorf("after the agency signs the provider owns the step, got %v", got)
	}
}

func TestEveryStateReachesAnEnd(t *testing.T) {
	// From every state some sequence of allowed actions reaches a terminal
	// state: nothing gets stuck.
	for _, s := range orderStates {
		seen := map[State]bool{}
		var reach func(State) bool
		reach = func(x State) bool {
			if Orders.Terminal(x) {
				return true
			}
			if seen[x] {
				return false
			}
			seen[x] = true
			for _, r := range Orders.Rules() {
				if r.From == x && reach(r.To) {
					return true
				}
			}
			return false
		}
		if !reach(s) {
			t.Errorf("%s cannot reach a terminal state", s)
		}
	}
}

func TestAvailable(t *testing.T) {
	got := Orders.Available(Quoted, Agency)
	want := []Action{Accept, ReturnQuote, Withdraw}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Available(quoted, agency) = %v, want %v", got, want)
	}
	if got := Orders.Available(Quoted, Provider); len(got) != 0 {
		t.Errorf("the provider has nothing to do on a quote it sent, got %v", got)
	}
}

func TestModifications(t *testing.T) {
	agencyProposed := Facts{Proposer: Agency, Reason: "scope grew"}
	cases := []struct {
		from  State
		a     Action
		party Party
		f     Facts
		to    State
		kind  RefusalKind
	}{
		{Proposed, ApproveModification, Provider, agencyProposed, ModificationApproved, ""},
		{Proposed, RejectModification, Provider, agencyProposed, Rejected, ""},
		{Proposed, WithdrawModification, Agency, agencyProposed, Withdrawn, ""},
		{Proposed, ApproveModification, Agency, agencyProposed, "", NotYours},
		{Proposed, WithdrawModification, Provider, agencyProposed, "", NotYours},
		{Proposed, ApproveModification, Office, agencyProposed, "", NotYours},
		{Proposed, RejectModification, Provider, Facts{Proposer: Agency}, "", NotReady},
		{ModificationApproved, RejectModification, Provider, agencyProposed, "", NotNow},
		{Rejected, ApproveModification, Provider, agencyProposed, "", NotNow},
	}
	for _, c := range cases {
		r, err := Modifications.Step(c.from, c.a, c.party, c.f)
		var ref *Refusal
		switch {
		case c.kind == "" && (err != nil || r.To != c.to):
			t.Errorf("%s/%s/%s: %v to %s, want %s", c.from, c.a, c.party, err, r.To, c.to)
		case c.kind != "" && (!errors.As(err, &ref) || ref.Kind != c.kind):
			t.Errorf("%s/%s/%s: %v, want refusal %s", c.from, c.a, c.party, err, c.kind)
		}
	}
}

func TestOfferings(t *testing.T) {
	allowed := map[string]State{
		"draft/submit/provider":     InReview,
		"draft/retire/provider":     Retired,
		"draft/retire/office":       Retired,
		"in_review/list/office":     Listed,
		"in_review/return/office":   Draft,
		"in_review/recall/provider": Draft,
		"listed/pause/provider":     Paused,
		"listed/pause/office":       Paused,
		"listed/retire/provider":    Retired,
		"listed/retire/office":      Retired,
		"paused/resume/office":      Listed,
		"paused/retire/provider":    Retired,
		"paused/retire/office":      Retired,
	}
	states := []State{Draft, InReview, Listed, Paused, Retired}
	actions := []Action{SubmitOffering, ListOffering, ReturnOffering, RecallOffering, PauseOffering, ResumeOffering, RetireOffering}
	for _, s := range states {
		for _, a := range actions {
			for _, p := range parties {
				key := fmt.Sprintf("%s/%s/%s", s, a, p)
				want, ok := allowed[key]
				r, err := Offerings.Step(s, a, p, ready)
				if ok != (err == nil) || (ok && r.To != want) {
					t.Errorf("%s: got %s, %v; want allowed=%v to %s", key, r.To, err, ok, want)
				}
			}
		}
	}
	if _, err := Offerings.Step(InReview, ReturnOffering, Office, Facts{}); err == nil {
		t.Error("returning an offering without a reason is allowed")
	}
}

func TestExceptions(t *testing.T) {
	if r, err := Exceptions.Step(Submitted, Approve, Office, Facts{}); err != nil || r.To != Approved {
		t.Errorf("office approves an exception: %v %s", err, r.To)
	}
	if _, err := Exceptions.Step(Submitted, Decline, Office, Facts{}); err == nil {
		t.Error("an exception is declined without a reason")
	}
	if _, err := Exceptions.Step(Submitted, Approve, Agency, ready); err == nil {
		t.Error("the agency approves its own exception")
	}
	if r, err := Exceptions.Step(Submitted, Withdraw, Agency, Facts{}); err != nil || r.To != Withdrawn {
		t.Errorf("the agency withdraws its exception request: %v", err)
	}
	if _, err := Exceptions.Step(Approved, Decline, Office, ready); err == nil {
		t.Error("a decided exception is decided again")
	}
	info, open := Exceptions.Timer(Submitted)
	if !open || info.SLA != 10*24*time.Hour || info.Owners[0] != Office {
		t.Errorf("exception step %+v", info)
	}
}
