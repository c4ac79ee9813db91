// Package lifecycle holds the marketplace's state machines as plain tables:
// which action moves a record from which state to which, which party takes
// it and with which permission, what must be true first, who owns each open
// step and how long it may take. It has no database and no HTTP; the
// marketplace service asks it before every change, so no workflow step can
// be skipped or taken by the wrong party.
package lifecycle

import (
	"fmt"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/authz"
)

// Party is a side of a workflow. Which organization a party stands for
// depends on the record: for an order, the agency that asked, the provider
// of the offering, or the office.
type Party string

// Parties.
const (
	Agency   Party = "agency"
	Provider Party = "provider"
	Office   Party = "office"
	// System is qsmo itself, e.g. an automatic provisioner finishing
	// onboarding; no person can act as the system.
	System Party = "system"
)

// Label is the party's name for people.
func (p Party) Label() string {
	switch p {
	case Agency:
		return "the agency"
	case Provider:
		return "the provider"
	case Office:
		return "the office"
	case System:
		return "qsmo"
	}
	return string(p)
}

// State is a record's place in its workflow.
type State string

// Order states, from request to cancellation.
const (
	Requested      State = "requested"       // the agency asked; the office reviews
	Approved       State = "approved"        // the office approved; the provider quotes
	Quoted         State = "quoted"          // the provider quoted; the agency decides
	AgreementDraft State = "agreement_draft" // the quote is accepted; the provider prepares the agreement
	Signing        State = "signing"         // the agreement awaits both signatures
	Provisioning   State = "provisioning"    // signed; the provider onboards the agency
	Active         State = "active"          // the subscription runs
	Declined       State = "declined"        // the office declined the request
	Withdrawn      State = "withdrawn"       // the agency withdrew before signing
	Cancelled      State = "cancelled"       // the subscription ended
)

// Offering states.
const (
	Draft    State = "draft"
	InReview State = "in_review"
	Listed   State = "listed"
	Paused   State = "paused"
	Retired  State = "retired"
)

// Modification and exception states (Approved and Withdrawn are shared).
const (
	Proposed             State = "proposed"
	ModificationApproved State = "approved"
	Rejected             State = "rejected"
	Submitted            State = "submitted"
)

// Action is what a party does.
type Action string

// Order actions.
const (
	Approve            Action = "approve"
	Decline            Action = "decline"
	Quote              Action = "quote"
	Accept             Action = "accept"
	ReturnQuote        Action = "return_quote"
	SendAgreement      Action = "send_agreement"
	ReturnAgreement    Action = "return_agreement"
	Sign               Action = "sign"
	CompleteOnboarding Action = "complete_onboarding"
	AutoProvision      Action = "auto_provision"
	Withdraw           Action = "withdraw"
	Cancel             Action = "cancel"
	Terminate          Action = "terminate"
)

// Modification actions.
const (
	ApproveModification  Action = "approve_modification"
	RejectModification   Action = "reject_modification"
	WithdrawModification Action = "withdraw_modification"
)

// Offering actions.
const (
	SubmitOffering Action = "submit"
	ListOffering   Action = "list"
	ReturnOffering Action = "return"
	RecallOffering Action = "recall"
	PauseOffering  Action = "pause"
	ResumeOffering Action = "resume"
	RetireOffering Action = "retire"
)

// Facts are what the guards look at: the parts of a record outside its
// state that decide whether a step may be taken now.
type Facts struct {
	// Reason is the text the acting person gave (declines, returns).
	Reason string
	// QuoteLines is the number of line items of the quote being sent.
	QuoteLines int
	// TermsComplete reports whether the agreement's terms are filled in.
	TermsComplete bool
	// AgencySigned and ProviderSigned are the agreement's signatures.
	AgencySigned, ProviderSigned bool
	// OpenTasks is the number of onboarding tasks not done yet.
	OpenTasks int
	// Proposer is the party that proposed a modification.
	Proposer Party
}

// Rule is one allowed step.
type Rule struct {
	From       State
	Action     Action
	Party      Party
	To         State
	Permission authz.Permission
	// NeedsReason requires Facts.Reason.
	NeedsReason bool
	// Guard returns why the step cannot be taken now, or "".
	Guard func(p Party, f Facts) string
	// Next overrides To from the facts (the second signature starts
	// provisioning).
	Next func(p Party, f Facts) State
}

// RefusalKind says why a step was refused.
type RefusalKind string

// Refusal kinds. The service maps NotNow and NotReady to a conflict and
// NotYours to forbidden.
const (
	NotNow   RefusalKind = "not_now"   // the action does not exist in this state
	NotYours RefusalKind = "not_yours" // another party takes this step
	NotReady RefusalKind = "not_ready" // the step exists but a precondition is unmet
)

// Refusal is the error Step returns.
type Refusal struct {
	Kind    RefusalKind
	Message string
}

func (r *Refusal) Error() string { return fmt.Sprintf("lifecycle: %s: %s", r.Kind, r.Message) }

// StepInfo describes an open step: who owns it and how long it may take.
type StepInfo struct {
	Label  string
	Owners []Party
	SLA    time.Duration
}

// Machine is one workflow.
type Machine struct {
	name     string
	labels   map[State]string
	rules    []Rule
	steps    map[State]StepInfo
	terminal map[State]bool
}

// Rules returns the machine's rules in table order.
func (m *Machine) Rules() []Rule { return append([]Rule(nil), m.rules...) }

// Terminal reports whether no action leaves s.
func (m *Machine) Terminal(s State) bool { return m.terminal[s] }

// Label is the state's name for people.
func (m *Machine) Label(s State) string {
	if l, ok := m.labels[s]; ok {
		return l
	}
	return string(s)
}

// Timer returns the open step of state s, if s is one that someone must act
// on within a time.
func (m *Machine) Timer(s State) (StepInfo, bool) {
	info, ok := m.steps[s]
	return info, ok
}

// Owners returns the parties that must act next in s. While signing, a
// party that has signed no longer owns the step.
func (m *Machine) Owners(s State, f Facts) []Party {
	info, ok := m.steps[s]
	if !ok {
		return nil
	}
	if s == Signing && m == Orders {
		var out []Party
		if !f.AgencySigned {
			out = append(out, Agency)
		}
		if !f.ProviderSigned {
			out = append(out, Provider)
		}
		return out
	}
	return info.Owners
}

// Parties returns who may take action a in state from.
func (m *Machine) Parties(from State, a Action) []Party {
	var out []Party
	for _, r := range m.rules {
		if r.From == from && r.Action == a {
			out = append(out, r.Party)
		}
	}
	return out
}

// Available returns the actions party may take in state from, in table
// order, ignoring guards (pages show the action and explain a guard when it
// fails).
func (m *Machine) Available(from State, party Party) []Action {
	var out []Action
	for _, r := range m.rules {
		if r.From == from && r.Party == party {
			out = append(out, r.Action)
		}
	}
	return out
}

// Step checks that party may take action a in state from given the facts,
// and returns the rule with To set to the resulting state. It returns a
// *Refusal otherwise.
func (m *Machine) Step(from State, a Action, party Party, f Facts) (Rule, error) {
	known, inState := false, false
	var match *Rule
	for i := range m.rules {
		r := &m.rules[i]
		if r.Action != a {
			continue
		}
		known = true
		if r.From != from {
			continue
		}
		inState = true
		if r.Party == party {
			match = r
			break
		}
	}
	switch {
	case !known:
		return Rule{}, &Refusal{NotNow, fmt.Sprintf("“%s” is not a step of the %s workflow.", a, m.name)}
	case !inState:
		return Rule{}, &Refusal{NotNow, fmt.Sprintf("This cannot be done while the %s is %s.", m.name, strings.ToLower(m.Label(from)))}
	case match == nil:
		who := m.Parties(from, a)
		names := make([]string, len(who))
		for i, p := range who {
			names[i] = p.Label()
		}
		return Rule{}, &Refusal{NotYours, fmt.Sprintf("This step is taken by %s.", strings.Join(names, " or "))}
	}
	r := *match
	if r.NeedsReason && strings.TrimSpace(f.Reason) == "" {
		return Rule{}, &Refusal{NotReady, "Give a reason; it is shown to the other parties."}
	}
	if r.Guard != nil {
		if msg := r.Guard(party, f); msg == notYours {
			return Rule{}, &Refusal{NotYours, "This step is taken by the other side of the agreement."}
		} else if msg != "" {
			return Rule{}, &Refusal{NotReady, msg}
		}
	}
	if r.Next != nil {
		r.To = r.Next(party, f)
	}
	return r, nil
}

const day = 24 * time.Hour

// Orders is the order workflow: request, office review, quote, acceptance,
// agreement, two signatures, onboarding, active subscription, cancellation.
var Orders = &Machine{
	name: "order",
	labels: map[State]string{
		Requested: "Awaiting office review", Approved: "Awaiting quote", Quoted: "Quote to decide",
		AgreementDraft: "Agreement in preparation", Signing: "Awaiting signatures", Provisioning: "Onboarding",
		Active: "Active", Declined: "Declined", Withdrawn: "Withdrawn", Cancelled: "Cancelled",
	},
	terminal: map[State]bool{Declined: true, Withdrawn: true, Cancelled: true},
	steps: map[State]StepInfo{
		Requested:      {"Office review", []Party{Office}, 3 * day},
		Approved:       {"Quote", []Party{Provider}, 5 * day},
		Quoted:         {"Decision on the quote", []Party{Agency}, 10 * day},
		AgreementDraft: {"Agreement preparation", []Party{Provider}, 5 * day},
		Signing:        {"Signatures", []Party{Agency, Provider}, 10 * day},
		Provisioning:   {"Onboarding", []Party{Provider}, 14 * day},
	},
	rules: []Rule{
		{From: Requested, Action: Approve, Party: Office, To: Approved, Permission: authz.MarketOrderReview},
		{From: Requested, Action: Decline, Party: Office, To: Declined, Permission: authz.MarketOrderReview, NeedsReason: true},
		{From: Approved, Action: Quote, Party: Provider, To: Quoted, Permission: authz.MarketOrderFulfil, Guard: needLines},
		{From: Quoted, Action: Accept, Party: Agency, To: AgreementDraft, Permission: authz.MarketOrderApprove},
		{From: Quoted, Action: ReturnQuote, Party: Agency, To: Approved, Permission: authz.MarketOrderApprove, NeedsReason: true},
		{From: AgreementDraft, Action: SendAgreement, Party: Provider, To: Signing, Permission: authz.MarketOrderFulfil, Guard: needTerms},
		{From: Signing, Action: Sign, Party: Agency, To: Signing, Permission: authz.MarketAgreementSign, Guard: notSigned, Next: afterSign},
		{From: Signing, Action: Sign, Party: Provider, To: Signing, Permission: authz.MarketAgreementSign, Guard: notSigned, Next: afterSign},
		{From: Signing, Action: ReturnAgreement, Party: Agency, To: AgreementDraft, Permission: authz.MarketAgreementSign, NeedsReason: true},
		{From: Signing, Action: ReturnAgreement, Party: Provider, To: AgreementDraft, Permission: authz.MarketAgreementSign, NeedsReason: true},
		{From: Provisioning, Action: CompleteOnboarding, Party: Provider, To: Active, Permission: authz.MarketOrderFulfil, Guard: noOpenTasks},
		{From: Provisioning, Action: AutoProvision, Party: System, To: Active},
		{From: Requested, Action: Withdraw, Party: Agency, To: Withdrawn, Permission: authz.MarketOrderRequest},
		{From: Approved, Action: Withdraw, Party: Agency, To: Withdrawn, Permission: authz.MarketOrderRequest},
		{From: Quoted, Action: Withdraw, Party: Agency, To: Withdrawn, Permission: authz.MarketOrderRequest},
		{From: AgreementDraft, Action: Withdraw, Party: Agency, To: Withdrawn, Permission: authz.MarketOrderRequest},
		{From: Signing, Action: Withdraw, Party: Agency, To: Withdrawn, Permission: authz.MarketOrderRequest},
		{From: Active, Action: Cancel, Party: Agency, To: Cancelled, Permission: authz.MarketOrderApprove, NeedsReason: true},
		{From: Active, Action: Terminate, Party: Provider, To: Cancelled, Permission: authz.MarketAgreementSign, NeedsReason: true},
	},
}

func needLines(_ Party, f Facts) string {
	if f.QuoteLines == 0 {
		return "Add at least one line item to the quote."
	}
	return ""
}

func needTerms(_ Party, f Facts) string {
	if !f.TermsComplete {
		return "Fill in the agreement's terms (period, authority, funding) before sending it for signature."
	}
	return ""
}

func notSigned(p Party, f Facts) string {
	if (p == Agency && f.AgencySigned) || (p == Provider && f.ProviderSigned) {
		return "This side has already signed the agreement."
	}
	return ""
}

func afterSign(p Party, f Facts) State {
	if (p == Agency && f.ProviderSigned) || (p == Provider && f.AgencySigned) {
		return Provisioning
	}
	return Signing
}

func noOpenTasks(_ Party, f Facts) string {
	if f.OpenTasks > 0 {
		return fmt.Sprintf("%d onboarding task(s) are still open.", f.OpenTasks)
	}
	return ""
}

// Modifications is the workflow of a change to an active subscription's
// agreement: one party proposes, the other approves or rejects, the
// proposer may withdraw.
var Modifications = &Machine{
	name:     "modification",
	labels:   map[State]string{Proposed: "Awaiting the other party", ModificationApproved: "Approved", Rejected: "Rejected", Withdrawn: "Withdrawn"},
	terminal: map[State]bool{ModificationApproved: true, Rejected: true, Withdrawn: true},
	steps:    map[State]StepInfo{Proposed: {"Decision on the modification", []Party{Agency, Provider}, 10 * day}},
	rules: []Rule{
		{From: Proposed, Action: ApproveModification, Party: Agency, To: ModificationApproved, Permission: authz.MarketAgreementSign, Guard: otherParty},
		{From: Proposed, Action: ApproveModification, Party: Provider, To: ModificationApproved, Permission: authz.MarketAgreementSign, Guard: otherParty},
		{From: Proposed, Action: RejectModification, Party: Agency, To: Rejected, Permission: authz.MarketAgreementSign, Guard: otherParty, NeedsReason: true},
		{From: Proposed, Action: RejectModification, Party: Provider, To: Rejected, Permission: authz.MarketAgreementSign, Guard: otherParty, NeedsReason: true},
		{From: Proposed, Action: WithdrawModification, Party: Agency, To: Withdrawn, Permission: authz.MarketAgreementSign, Guard: proposer},
		{From: Proposed, Action: WithdrawModification, Party: Provider, To: Withdrawn, Permission: authz.MarketAgreementSign, Guard: proposer},
	},
}

// Step of a modification reports NotYours, not NotReady, when the wrong
// side of the agreement acts: that is a question of party, not of timing.
func otherParty(p Party, f Facts) string {
	if p == f.Proposer {
		return notYours
	}
	return ""
}

func proposer(p Party, f Facts) string {
	if p != f.Proposer {
		return notYours
	}
	return ""
}

// notYours is a guard message that Step turns into a NotYours refusal.
const notYours = "\x00not yours"

// Exceptions is the workflow of a go-it-alone exception request: the agency
// asks to buy outside the marketplace, the office decides.
var Exceptions = &Machine{
	name:     "exception request",
	labels:   map[State]string{Submitted: "Awaiting office decision", Approved: "Approved", Declined: "Declined", Withdrawn: "Withdrawn"},
	terminal: map[State]bool{Approved: true, Declined: true, Withdrawn: true},
	steps:    map[State]StepInfo{Submitted: {"Office decision", []Party{Office}, 10 * day}},
	rules: []Rule{
		{From: Submitted, Action: Approve, Party: Office, To: Approved, Permission: authz.MarketOrderReview},
		{From: Submitted, Action: Decline, Party: Office, To: Declined, Permission: authz.MarketOrderReview, NeedsReason: true},
		{From: Submitted, Action: Withdraw, Party: Agency, To: Withdrawn, Permission: authz.MarketOrderRequest},
	},
}

// Offerings is an offering's listing workflow: draft, in review, listed,
// paused, retired. The office lists; conformance with the standard is
// checked by the service before a tier is listed.
var Offerings = &Machine{
	name:     "offering",
	labels:   map[State]string{Draft: "Draft", InReview: "In review", Listed: "Listed", Paused: "Paused", Retired: "Retired"},
	terminal: map[State]bool{Retired: true},
	steps:    map[State]StepInfo{InReview: {"Office listing review", []Party{Office}, 10 * day}},
	rules: []Rule{
		{From: Draft, Action: SubmitOffering, Party: Provider, To: InReview, Permission: authz.MarketOfferingManage},
		{From: InReview, Action: ListOffering, Party: Office, To: Listed, Permission: authz.MarketCatalogManage},
		{From: InReview, Action: ReturnOffering, Party: Office, To: Draft, Permission: authz.MarketCatalogManage, NeedsReason: true},
		{From: InReview, Action: RecallOffering, Party: Provider, To: Draft, Permission: authz.MarketOfferingManage},
		{From: Listed, Action: PauseOffering, Party: Provider, To: Paused, Permission: authz.MarketOfferingManage},
		{From: Listed, Action: PauseOffering, Party: Office, To: Paused, Permission: authz.MarketCatalogManage},
		{From: Paused, Action: ResumeOffering, Party: Office, To: Listed, Permission: authz.MarketCatalogManage},
		{From: Draft, Action: RetireOffering, Party: Provider, To: Retired, Permission: authz.MarketOfferingManage},
		{From: Draft, Action: RetireOffering, Party: Office, To: Retired, Permission: authz.MarketCatalogManage},
		{From: Listed, Action: RetireOffering, Party: Provider, To: Retired, Permission: authz.MarketOfferingManage},
		{From: Listed, Action: RetireOffering, Party: Office, To: Retired, Permission: authz.MarketCatalogManage},
		{From: Paused, Action: RetireOffering, Party: Provider, To: Retired, Permission: authz.MarketOfferingManage},
		{From: Paused, Action: RetireOffering, Party: Office, To: Retired, Permission: authz.MarketCatalogManage},
	},
}
