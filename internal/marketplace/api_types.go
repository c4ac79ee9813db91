package marketplace

import (
	"time"

	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// AreaJSON is a service area.
type AreaJSON struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Summary        string   `json:"summary"`
	CSFFunctions   []string `json:"csf_functions"`
	OfficeOperated bool     `json:"office_operated"`
}

// LineJSON is a price line (price book, quote, rates).
type LineJSON struct {
	Kind           string `json:"kind" doc:"recurring, one_time or usage"`
	Unit           string `json:"unit" doc:"month, seat, each, or a metered unit: dns_queries, bytes_ingested, reports, assets, hours"`
	Description    string `json:"description,omitempty"`
	Quantity       int64  `json:"quantity,omitempty" doc:"recurring and one-time lines; default 1"`
	FromUnits      int64  `json:"from_units,omitempty" doc:"usage band start in metered units"`
	UnitPriceCents int64  `json:"unit_price_cents" doc:"per unit per month, per item, or per scale of metered units (e.g. per million queries)"`
}

func linesJSON(ls []money.Line) []LineJSON {
	out := []LineJSON{}
	for _, l := range ls {
		out = append(out, LineJSON{Kind: string(l.Kind), Unit: l.Unit, Description: l.Description, Quantity: l.Quantity, FromUnits: l.FromUnits, UnitPriceCents: l.UnitPrice})
	}
	return out
}

func linesFromJSON(ls []LineJSON) []money.Line {
	var out []money.Line
	for _, l := range ls {
		q := l.Quantity
		if q == 0 {
			q = 1
		}
		out = append(out, money.Line{Kind: money.Kind(l.Kind), Unit: l.Unit, Description: l.Description, Quantity: q, FromUnits: l.FromUnits, UnitPrice: l.UnitPriceCents})
	}
	return out
}

// TierJSON is one tier of an offering.
type TierJSON struct {
	Tier            string     `json:"tier" doc:"foundational, intermediate or advanced"`
	Description     string     `json:"description,omitempty"`
	AvailabilityBP  int        `json:"availability_bp" doc:"availability target in basis points: 9990 is 99.90%"`
	ResponseMinutes int        `json:"critical_response_minutes"`
	SupportHours    string     `json:"support_hours"`
	Listed          bool       `json:"listed"`
	MonthlyCents    int64      `json:"monthly_cents"`
	Prices          []LineJSON `json:"prices"`
	MandatoryMet    int        `json:"mandatory_requirements_met"`
	MandatoryTotal  int        `json:"mandatory_requirements"`
}

// OfferingJSON is an offering.
type OfferingJSON struct {
	ID              string     `json:"id"`
	URL             string     `json:"url"`
	Name            string     `json:"name"`
	Summary         string     `json:"summary"`
	Description     string     `json:"description,omitempty"`
	ServiceArea     string     `json:"service_area"`
	ProviderID      string     `json:"provider_id"`
	Provider        string     `json:"provider"`
	ProviderType    string     `json:"provider_type" doc:"office, federal_ssp or commercial"`
	ContractVehicle string     `json:"contract_vehicle,omitempty"`
	Prerequisites   []string   `json:"prerequisites"`
	OnboardingDays  int        `json:"onboarding_days"`
	Status          string     `json:"status" doc:"draft, in_review, listed, paused or retired"`
	PricingModel    string     `json:"pricing_model"`
	PriceFromCents  int64      `json:"price_from_cents"`
	AgenciesUsing   int        `json:"agencies_using"`
	TrustPercent    *int       `json:"trust_percent,omitempty" doc:"customer trust from surveys; absent when there are no ratings yet"`
	Tiers           []TierJSON `json:"tiers"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

func offeringJSON(o Offering, c *Conformance, cx *CXScore) OfferingJSON {
	out := OfferingJSON{ID: o.ID, URL: OfferingURL(o.ID), Name: o.Name, Summary: o.Summary, Description: o.Description, ServiceArea: o.AreaID, ProviderID: o.ProviderOrgID,
		Provider: o.ProviderName, ProviderType: string(o.ProviderType), ContractVehicle: o.ContractVehicle, Prerequisites: append([]string{}, o.Prerequisites...),
		OnboardingDays: o.OnboardingDays, Status: string(o.Status), PricingModel: string(o.PricingModel), PriceFromCents: o.PriceFrom, AgenciesUsing: o.AgenciesUsing,
		Tiers: []TierJSON{}, UpdatedAt: o.UpdatedAt}
	if cx != nil {
		t := cx.TrustPercent
		out.TrustPercent = &t
	}
	for _, t := range o.Tiers {
		tj := TierJSON{Tier: string(t.Tier), Description: t.Description, AvailabilityBP: t.AvailabilityBP, ResponseMinutes: t.ResponseMinutes, SupportHours: t.SupportHours,
			Listed: t.Listed, MonthlyCents: t.Monthly(), Prices: linesJSON(t.Prices)}
		if c != nil {
			tc := c.TierStatus(t.Tier)
			tj.MandatoryMet, tj.MandatoryTotal = tc.Satisfied, tc.Mandatory
		}
		out.Tiers = append(out.Tiers, tj)
	}
	return out
}

// TierInputJSON is a tier in an offering's create or update body.
type TierInputJSON struct {
	Tier            string `json:"tier"`
	Description     string `json:"description,omitempty"`
	AvailabilityBP  int    `json:"availability_bp"`
	ResponseMinutes int    `json:"critical_response_minutes"`
	SupportHours    string `json:"support_hours"`
}

// OfferingInputJSON is the body of POST /api/v1/offerings and PUT
// /api/v1/offerings/{offering}.
type OfferingInputJSON struct {
	ProviderID      string          `json:"provider_id,omitempty" doc:"create only; default: the token's organization"`
	ServiceArea     string          `json:"service_area,omitempty" doc:"create only"`
	Name            string          `json:"name"`
	Summary         string          `json:"summary"`
	Description     string          `json:"description,omitempty"`
	ProviderType    string          `json:"provider_type"`
	ContractVehicle string          `json:"contract_vehicle,omitempty"`
	Prerequisites   []string        `json:"prerequisites,omitempty"`
	OnboardingDays  int             `json:"onboarding_days"`
	Tiers           []TierInputJSON `json:"tiers"`
}

// PricesJSON is the body of PUT /api/v1/offerings/{offering}/prices.
type PricesJSON struct {
	Tier  string     `json:"tier"`
	Lines []LineJSON `json:"lines"`
}

// StatusActionJSON moves an offering through its listing workflow.
type StatusActionJSON struct {
	Action string   `json:"action" doc:"submit, recall, list, return, pause, resume or retire"`
	Reason string   `json:"reason,omitempty"`
	Tiers  []string `json:"tiers,omitempty" doc:"for list: the tiers to list (default: every conforming tier)"`
}

// HistoryJSON is one entry of an offering's history.
type HistoryJSON struct {
	From  string    `json:"from,omitempty"`
	To    string    `json:"to"`
	Note  string    `json:"note"`
	Actor string    `json:"actor"`
	At    time.Time `json:"at"`
}

// StepJSON is an onboarding checklist step.
type StepJSON struct {
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

// FileJSON describes an uploaded file.
type FileJSON struct {
	ID            string    `json:"id"`
	URL           string    `json:"url"`
	Purpose       string    `json:"purpose" doc:"document or evidence"`
	RequirementID string    `json:"requirement_id,omitempty"`
	Name          string    `json:"name"`
	ContentType   string    `json:"content_type"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	CreatedAt     time.Time `json:"created_at"`
}

func fileJSON(f File) FileJSON {
	return FileJSON{ID: f.ID, URL: "/api/v1/files/" + f.ID, Purpose: f.Purpose, RequirementID: f.RequirementID, Name: f.Name, ContentType: f.ContentType,
		Size: f.Size, SHA256: f.SHA256, CreatedAt: f.CreatedAt}
}

// SearchJSON is a storefront page.
type SearchJSON struct {
	Total     int                    `json:"total"`
	Page      int                    `json:"page"`
	Pages     int                    `json:"pages"`
	Offerings []OfferingJSON         `json:"offerings"`
	Facets    map[string][]FacetJSON `json:"facets"`
}

// FacetJSON is one facet value with its count.
type FacetJSON struct {
	Value    string `json:"value"`
	Label    string `json:"label"`
	Count    int    `json:"count"`
	Selected bool   `json:"selected"`
}

// CompareJSON compares offerings.
type CompareJSON struct {
	Offerings    []OfferingJSON   `json:"offerings"`
	Requirements []CompareRowJSON `json:"requirements"`
}

// CompareRowJSON is one requirement across the compared offerings.
type CompareRowJSON struct {
	Code      string   `json:"code"`
	Text      string   `json:"text"`
	Mandatory bool     `json:"mandatory"`
	Answers   []string `json:"answers" doc:"one status per offering, in order: met, partial, not_met, not_applicable or empty"`
}

// RequirementJSON is a requirement of a standard.
type RequirementJSON struct {
	ID        string   `json:"id"`
	Code      string   `json:"code"`
	Text      string   `json:"text"`
	Mandatory bool     `json:"mandatory"`
	Tiers     []string `json:"tiers"`
}

// StandardJSON is a version of a standard.
type StandardJSON struct {
	ID           string            `json:"id"`
	URL          string            `json:"url"`
	ServiceArea  string            `json:"service_area"`
	Version      int               `json:"version"`
	Title        string            `json:"title"`
	Summary      string            `json:"summary,omitempty"`
	Status       string            `json:"status" doc:"draft, published or superseded"`
	PublishedAt  time.Time         `json:"published_at,omitzero"`
	Requirements []RequirementJSON `json:"requirements"`
}

func standardJSON(st Standard) StandardJSON {
	out := StandardJSON{ID: st.ID, URL: StandardURL(st.ID), ServiceArea: st.AreaID, Version: st.Version, Title: st.Title, Summary: st.Summary, Status: st.Status,
		PublishedAt: st.PublishedAt, Requirements: []RequirementJSON{}}
	for _, r := range st.Requirements {
		out.Requirements = append(out.Requirements, requirementJSON(r))
	}
	return out
}

func requirementJSON(r Requirement) RequirementJSON {
	ts := []string{}
	for _, t := range r.Tiers {
		ts = append(ts, string(t))
	}
	return RequirementJSON{ID: r.ID, Code: r.Code, Text: r.Text, Mandatory: r.Mandatory, Tiers: ts}
}

// StandardCreateJSON starts a draft.
type StandardCreateJSON struct {
	ServiceArea string `json:"service_area"`
}

// StandardUpdateJSON edits a draft.
type StandardUpdateJSON struct {
	Title   string `json:"title"`
	Summary string `json:"summary,omitempty"`
}

// RequirementInputJSON adds or edits a requirement.
type RequirementInputJSON struct {
	Code      string   `json:"code"`
	Text      string   `json:"text"`
	Mandatory bool     `json:"mandatory"`
	Tiers     []string `json:"tiers"`
}

// ChangeJSON is one difference between versions.
type ChangeJSON struct {
	Code   string           `json:"code"`
	Kind   string           `json:"kind" doc:"added, removed or changed"`
	Fields []string         `json:"fields,omitempty"`
	Before *RequirementJSON `json:"before,omitempty"`
	After  *RequirementJSON `json:"after,omitempty"`
}

// DiffJSON compares two versions.
type DiffJSON struct {
	From    int          `json:"from_version"`
	To      int          `json:"to_version"`
	Changes []ChangeJSON `json:"changes"`
}

// PublishJSON reports a publication.
type PublishJSON struct {
	Standard      StandardJSON `json:"standard"`
	TiersUnlisted int          `json:"tiers_unlisted"`
}

// AnswerJSON is an offering's answer to a requirement.
type AnswerJSON struct {
	RequirementID string     `json:"requirement_id"`
	Code          string     `json:"code"`
	Mandatory     bool       `json:"mandatory"`
	Status        string     `json:"status" doc:"met, partial, not_met, not_applicable, or empty when unanswered"`
	Evidence      string     `json:"evidence,omitempty" doc:"only for the provider and the office"`
	ReviewStatus  string     `json:"review_status,omitempty" doc:"pending, accepted or rejected"`
	ReviewNote    string     `json:"review_note,omitempty"`
	Files         []FileJSON `json:"files,omitempty"`
}

// ConformanceJSON is an offering's conformance.
type ConformanceJSON struct {
	OfferingID string           `json:"offering_id"`
	StandardID string           `json:"standard_id,omitempty"`
	Version    int              `json:"standard_version,omitempty"`
	Tiers      []TierStatusJSON `json:"tiers"`
	Answers    []AnswerJSON     `json:"answers"`
}

// TierStatusJSON is a tier's standing.
type TierStatusJSON struct {
	Tier      string   `json:"tier"`
	Mandatory int      `json:"mandatory"`
	Satisfied int      `json:"satisfied"`
	Unmet     []string `json:"unmet"`
	Waiting   []string `json:"awaiting_review"`
	Listable  bool     `json:"listable"`
}

// AnswerInputJSON answers a requirement.
type AnswerInputJSON struct {
	Status   string `json:"status"`
	Evidence string `json:"evidence"`
}

// ReviewInputJSON reviews an answer.
type ReviewInputJSON struct {
	Decision string `json:"decision" doc:"accept or reject"`
	Note     string `json:"note,omitempty"`
}

// QuestionnaireJSON is a questionnaire.
type QuestionnaireJSON struct {
	ServiceArea string         `json:"service_area"`
	Version     int            `json:"version"`
	Title       string         `json:"title"`
	Questions   []QuestionJSON `json:"questions"`
}

// QuestionJSON is a question with its answers.
type QuestionJSON struct {
	ID      string       `json:"id"`
	Text    string       `json:"text"`
	Options []OptionJSON `json:"options"`
}

// OptionJSON is an answer of a question.
type OptionJSON struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// AssessmentJSON is an assessment.
type AssessmentJSON struct {
	ID           string            `json:"id"`
	AgencyID     string            `json:"agency_id"`
	ServiceArea  string            `json:"service_area"`
	Version      int               `json:"questionnaire_version"`
	Answers      map[string]string `json:"answers"`
	Score        int               `json:"score"`
	MaxScore     int               `json:"max_score"`
	Tier         string            `json:"tier"`
	Reasons      []string          `json:"reasons"`
	Capabilities []string          `json:"capabilities"`
	TakenAt      time.Time         `json:"taken_at"`
}

func assessmentJSON(a Assessment) AssessmentJSON {
	caps := append([]string{}, a.Capabilities...)
	return AssessmentJSON{ID: a.ID, AgencyID: a.AgencyOrgID, ServiceArea: a.AreaID, Version: a.Version, Answers: a.Answers, Score: a.Score, MaxScore: a.MaxScore,
		Tier: string(a.Tier), Reasons: a.Reasons, Capabilities: caps, TakenAt: a.TakenAt}
}

// AssessmentInputJSON takes an assessment.
type AssessmentInputJSON struct {
	AgencyID    string            `json:"agency_id,omitempty" doc:"default: the token's organization"`
	ServiceArea string            `json:"service_area"`
	Answers     map[string]string `json:"answers" doc:"question ID to answer value, for every question of the latest questionnaire"`
}

// RecommendationJSON is a ranked offering with its reasons.
type RecommendationJSON struct {
	OfferingID   string       `json:"offering_id"`
	Name         string       `json:"name"`
	Tier         string       `json:"tier"`
	MonthlyCents int64        `json:"monthly_cents"`
	Score        int          `json:"score"`
	TrustPercent *int         `json:"trust_percent,omitempty"`
	Similar      int          `json:"similar_agencies_using"`
	Subscribed   bool         `json:"subscribed"`
	Reasons      []ReasonJSON `json:"reasons"`
}

// ReasonJSON is one reason of a recommendation.
type ReasonJSON struct {
	Text   string `json:"text"`
	Points int    `json:"points"`
}

// RecommendationsJSON are an area's recommendations.
type RecommendationsJSON struct {
	ServiceArea     string               `json:"service_area"`
	AssessmentID    string               `json:"assessment_id,omitempty"`
	Tier            string               `json:"tier,omitempty"`
	Recommendations []RecommendationJSON `json:"recommendations"`
}

// OrderJSON is an order with its workflow state.
type OrderJSON struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	AgencyID       string    `json:"agency_id"`
	Agency         string    `json:"agency"`
	ProviderID     string    `json:"provider_id"`
	Provider       string    `json:"provider"`
	OfferingID     string    `json:"offering_id"`
	Offering       string    `json:"offering"`
	ServiceArea    string    `json:"service_area"`
	Tier           string    `json:"tier"`
	Quantity       int64     `json:"quantity"`
	Needs          string    `json:"needs"`
	State          string    `json:"state" doc:"requested, approved, quoted, agreement_draft, signing, provisioning, active, declined, withdrawn or cancelled"`
	Step           string    `json:"step,omitempty" doc:"the open step"`
	Owners         []string  `json:"owners" doc:"the parties that act next: agency, provider, office"`
	DueAt          time.Time `json:"due_at,omitzero"`
	Overdue        bool      `json:"overdue"`
	Note           string    `json:"note,omitempty"`
	ProvisionError string    `json:"provision_error,omitempty"`
	RequestedAt    time.Time `json:"requested_at"`
	ActivatedAt    time.Time `json:"activated_at,omitzero"`
	SubscriptionID string    `json:"subscription_id,omitempty"`
	Actions        []string  `json:"actions" doc:"what the caller may do now"`
}

func orderJSON(o Order, actions map[string]bool) OrderJSON {
	out := OrderJSON{ID: o.ID, URL: OrderURL(o.ID), AgencyID: o.AgencyOrgID, Agency: o.AgencyName, ProviderID: o.ProviderOrgID, Provider: o.ProviderName,
		OfferingID: o.OfferingID, Offering: o.OfferingName, ServiceArea: o.AreaID, Tier: string(o.Tier), Quantity: o.Quantity, Needs: o.Needs, State: string(o.State),
		Owners: []string{}, Overdue: o.Overdue(), Note: o.Note, ProvisionError: o.ProvisionError, RequestedAt: o.RequestedAt, ActivatedAt: o.ActivatedAt,
		SubscriptionID: o.SubscriptionID, Actions: []string{}}
	if o.Open() {
		out.Step, out.DueAt = o.StepLabel(), o.DueAt
	}
	for _, p := range o.Owners() {
		out.Owners = append(out.Owners, string(p))
	}
	for a := range actions {
		out.Actions = append(out.Actions, a)
	}
	sortStrings(out.Actions)
	return out
}

// OrderDetailJSON is an order with its timeline, quotes, agreement and
// onboarding tasks.
type OrderDetailJSON struct {
	OrderJSON
	Timeline  []EventJSON    `json:"timeline"`
	Quotes    []QuoteJSON    `json:"quotes"`
	Agreement *AgreementJSON `json:"agreement,omitempty"`
	Tasks     []TaskJSON     `json:"tasks"`
}

// EventJSON is a timeline event.
type EventJSON struct {
	Action string    `json:"action"`
	To     string    `json:"to"`
	Party  string    `json:"party"`
	Actor  string    `json:"actor"`
	Note   string    `json:"note,omitempty"`
	At     time.Time `json:"at"`
	OnTime *bool     `json:"on_time,omitempty"`
}

// QuoteJSON is a quote.
type QuoteJSON struct {
	ID           string     `json:"id"`
	Version      int        `json:"version"`
	Status       string     `json:"status" doc:"sent, accepted or returned"`
	Notes        string     `json:"notes,omitempty"`
	ValidUntil   time.Time  `json:"valid_until"`
	MonthlyCents int64      `json:"monthly_cents"`
	OneTimeCents int64      `json:"one_time_cents"`
	Lines        []LineJSON `json:"lines"`
}

// AgreementJSON is an interagency agreement (7600A terms and 7600B order).
type AgreementJSON struct {
	Status               string `json:"status" doc:"draft, signing or signed"`
	GTCNumber            string `json:"gtc_number,omitempty"`
	OrderNumber          string `json:"order_number,omitempty"`
	RequestingName       string `json:"requesting_agency"`
	RequestingAgencyCode string `json:"requesting_agency_code,omitempty"`
	RequestingALC        string `json:"requesting_alc,omitempty"`
	RequestingTracking   string `json:"requesting_tracking,omitempty"`
	ServicingName        string `json:"servicing_party"`
	ServicingAgencyCode  string `json:"servicing_agency_code,omitempty"`
	ServicingALC         string `json:"servicing_alc,omitempty"`
	ServicingTracking    string `json:"servicing_tracking,omitempty"`
	ContractVehicle      string `json:"contract_vehicle,omitempty"`
	AgreementTermsJSON
	AgencySigner     string    `json:"agency_signer,omitempty"`
	AgencySignedAt   time.Time `json:"agency_signed_at,omitzero"`
	ProviderSigner   string    `json:"provider_signer,omitempty"`
	ProviderSignedAt time.Time `json:"provider_signed_at,omitzero"`
}

// AgreementTermsJSON are an agreement's editable terms.
type AgreementTermsJSON struct {
	PeriodStart       string `json:"period_start" doc:"YYYY-MM-DD"`
	PeriodEnd         string `json:"period_end" doc:"YYYY-MM-DD"`
	Recurring         bool   `json:"recurring"`
	Authority         string `json:"authority" doc:"economy_act, franchise_fund, revolving_fund, contract_vehicle or other"`
	AuthorityCitation string `json:"authority_citation,omitempty"`
	Advance           bool   `json:"advance" doc:"advance payment; false means reimbursable"`
	TerminationDays   int    `json:"termination_days"`
	Requirements      string `json:"requirements"`
	TAS               string `json:"tas" doc:"Treasury account symbol"`
	ObjectClass       string `json:"object_class,omitempty"`
	ObligatedCents    int64  `json:"obligated_cents"`
	FundsExpire       string `json:"funds_expire,omitempty" doc:"YYYY-MM-DD"`
}

func termsJSON(t AgreementTerms) AgreementTermsJSON {
	return AgreementTermsJSON{PeriodStart: dateText(t.PeriodStart), PeriodEnd: dateText(t.PeriodEnd), Recurring: t.Recurring, Authority: t.Authority,
		AuthorityCitation: t.AuthorityCitation, Advance: t.Advance, TerminationDays: t.TerminationDays, Requirements: t.Requirements, TAS: t.TAS,
		ObjectClass: t.ObjectClass, ObligatedCents: t.Obligated, FundsExpire: dateText(t.FundsExpire)}
}

func agreementJSON(a Agreement) AgreementJSON {
	return AgreementJSON{Status: a.Status, GTCNumber: a.GTCNumber, OrderNumber: a.OrderNumber, RequestingName: a.RequestingName, RequestingAgencyCode: a.RequestingAgencyCode,
		RequestingALC: a.RequestingALC, RequestingTracking: a.RequestingTracking, ServicingName: a.ServicingName, ServicingAgencyCode: a.ServicingAgencyCode,
		ServicingALC: a.ServicingALC, ServicingTracking: a.ServicingTracking, ContractVehicle: a.ContractVehicle, AgreementTermsJSON: termsJSON(a.AgreementTerms),
		AgencySigner: a.AgencySigner, AgencySignedAt: a.AgencySignedAt, ProviderSigner: a.ProviderSigner, ProviderSignedAt: a.ProviderSignedAt}
}

// TaskJSON is an onboarding task.
type TaskJSON struct {
	ID     string    `json:"id"`
	Title  string    `json:"title"`
	Detail string    `json:"detail,omitempty"`
	Done   bool      `json:"done"`
	DoneAt time.Time `json:"done_at,omitzero"`
	Note   string    `json:"note,omitempty"`
}

// OrderInputJSON requests an offering.
type OrderInputJSON struct {
	AgencyID   string `json:"agency_id,omitempty" doc:"default: the token's organization"`
	OfferingID string `json:"offering_id"`
	Tier       string `json:"tier"`
	Quantity   int64  `json:"quantity"`
	Needs      string `json:"needs"`
}

// ReasonInputJSON carries a reason (declines, returns, withdrawals).
type ReasonInputJSON struct {
	Reason string `json:"reason,omitempty"`
	Side   string `json:"side,omitempty" doc:"agency or provider, for a person who belongs to both"`
}

// QuoteInputJSON is a quote.
type QuoteInputJSON struct {
	Lines      []LineJSON `json:"lines"`
	Notes      string     `json:"notes,omitempty"`
	ValidUntil string     `json:"valid_until,omitempty" doc:"YYYY-MM-DD; default 30 days"`
}

// AcceptInputJSON accepts a quote with the funding.
type AcceptInputJSON struct {
	TAS            string `json:"tas"`
	ObjectClass    string `json:"object_class,omitempty"`
	ObligatedCents int64  `json:"obligated_cents"`
	FundsExpire    string `json:"funds_expire,omitempty" doc:"YYYY-MM-DD"`
}

// SignInputJSON signs an agreement.
type SignInputJSON struct {
	Side     string `json:"side,omitempty" doc:"agency or provider, for a person who belongs to both"`
	Title    string `json:"title"`
	Tracking string `json:"tracking" doc:"the signing organization's tracking number"`
}

// TaskInputJSON sets an onboarding task.
type TaskInputJSON struct {
	Done bool   `json:"done"`
	Note string `json:"note,omitempty"`
}

// SubscriptionJSON is a subscription.
type SubscriptionJSON struct {
	ID           string     `json:"id"`
	URL          string     `json:"url"`
	OrderID      string     `json:"order_id"`
	AgencyID     string     `json:"agency_id"`
	Agency       string     `json:"agency"`
	ProviderID   string     `json:"provider_id"`
	Provider     string     `json:"provider"`
	OfferingID   string     `json:"offering_id"`
	Offering     string     `json:"offering"`
	ServiceArea  string     `json:"service_area"`
	Tier         string     `json:"tier"`
	Quantity     int64      `json:"quantity"`
	Status       string     `json:"status" doc:"active or cancelled"`
	MonthlyCents int64      `json:"monthly_cents"`
	Rates        []LineJSON `json:"rates"`
	StartedAt    time.Time  `json:"started_at"`
	EndedAt      time.Time  `json:"ended_at,omitzero"`
	EndReason    string     `json:"end_reason,omitempty"`
}

func subscriptionJSON(x Subscription) SubscriptionJSON {
	return SubscriptionJSON{ID: x.ID, URL: SubscriptionURL(x.ID), OrderID: x.OrderID, AgencyID: x.AgencyOrgID, Agency: x.AgencyName, ProviderID: x.ProviderOrgID,
		Provider: x.ProviderName, OfferingID: x.OfferingID, Offering: x.OfferingName, ServiceArea: x.AreaID, Tier: string(x.Tier), Quantity: x.Quantity,
		Status: x.Status, MonthlyCents: x.Monthly(), Rates: linesJSON(x.Rates), StartedAt: x.StartedAt, EndedAt: x.EndedAt, EndReason: x.EndReason}
}

// ModificationJSON is a modification.
type ModificationJSON struct {
	ID               string     `json:"id"`
	SubscriptionID   string     `json:"subscription_id"`
	Number           int        `json:"number"`
	Status           string     `json:"status" doc:"proposed, approved, rejected or withdrawn"`
	Proposer         string     `json:"proposer" doc:"agency or provider"`
	ProposerTracking string     `json:"proposer_tracking"`
	Tier             string     `json:"tier"`
	Quantity         int64      `json:"quantity"`
	Lines            []LineJSON `json:"lines"`
	Note             string     `json:"note"`
	ApproverTracking string     `json:"approver_tracking,omitempty"`
	DecisionNote     string     `json:"decision_note,omitempty"`
	ProposedAt       time.Time  `json:"proposed_at"`
	DueAt            time.Time  `json:"due_at"`
}

func modificationJSON(m Modification) ModificationJSON {
	return ModificationJSON{ID: m.ID, SubscriptionID: m.SubscriptionID, Number: m.Number, Status: string(m.Status), Proposer: string(m.Proposer),
		ProposerTracking: m.ProposerTracking, Tier: string(m.NewTier), Quantity: m.NewQuantity, Lines: linesJSON(m.NewLines), Note: m.Note,
		ApproverTracking: m.ApproverTracking, DecisionNote: m.DecisionNote, ProposedAt: m.ProposedAt, DueAt: m.DueAt}
}

// ModificationInputJSON proposes a modification.
type ModificationInputJSON struct {
	Side     string     `json:"side,omitempty"`
	Tier     string     `json:"tier"`
	Quantity int64      `json:"quantity"`
	Lines    []LineJSON `json:"lines"`
	Note     string     `json:"note"`
	Tracking string     `json:"tracking"`
}

// DecisionInputJSON decides a modification or an exception request.
type DecisionInputJSON struct {
	Action   string `json:"action" doc:"modifications: approve_modification, reject_modification or withdraw_modification; exceptions: approve, decline or withdraw"`
	Tracking string `json:"tracking,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// ExceptionJSON is a go-it-alone request.
type ExceptionJSON struct {
	ID              string    `json:"id"`
	AgencyID        string    `json:"agency_id"`
	Agency          string    `json:"agency"`
	ServiceArea     string    `json:"service_area"`
	Vendor          string    `json:"vendor"`
	Description     string    `json:"description"`
	Justification   string    `json:"justification"`
	AnnualCostCents int64     `json:"annual_cost_cents"`
	Status          string    `json:"status"`
	DecisionReason  string    `json:"decision_reason,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	DueAt           time.Time `json:"due_at"`
	Overdue         bool      `json:"overdue"`
}

func exceptionJSON(e Exception) ExceptionJSON {
	return ExceptionJSON{ID: e.ID, AgencyID: e.AgencyOrgID, Agency: e.AgencyName, ServiceArea: e.AreaID, Vendor: e.Vendor, Description: e.Description,
		Justification: e.Justification, AnnualCostCents: e.AnnualCost, Status: string(e.Status), DecisionReason: e.DecisionReason, CreatedAt: e.CreatedAt,
		DueAt: e.DueAt, Overdue: e.Overdue()}
}

// ExceptionInputJSON asks for an exception.
type ExceptionInputJSON struct {
	AgencyID        string `json:"agency_id,omitempty"`
	ServiceArea     string `json:"service_area"`
	Vendor          string `json:"vendor"`
	Description     string `json:"description"`
	Justification   string `json:"justification"`
	AnnualCostCents int64  `json:"annual_cost_cents"`
}

// UsageInputJSON is a metering record.
type UsageInputJSON struct {
	SubscriptionID string    `json:"subscription_id"`
	Metric         string    `json:"metric" doc:"dns_queries, bytes_ingested, reports, assets or hours"`
	Quantity       int64     `json:"quantity"`
	OccurredAt     time.Time `json:"occurred_at"`
	IdempotencyKey string    `json:"idempotency_key" doc:"chosen by the reporter; the same key again returns the first record"`
}

// UsageJSON is a stored usage record.
type UsageJSON struct {
	ID             string    `json:"id"`
	SubscriptionID string    `json:"subscription_id"`
	Metric         string    `json:"metric"`
	Quantity       int64     `json:"quantity"`
	OccurredAt     time.Time `json:"occurred_at"`
	IdempotencyKey string    `json:"idempotency_key"`
	RecordedAt     time.Time `json:"recorded_at"`
	Replayed       bool      `json:"replayed" doc:"true when the key was seen before and nothing new was recorded"`
}

// UsageTotalJSON is a month's usage of a metric.
type UsageTotalJSON struct {
	Metric      string `json:"metric"`
	Quantity    int64  `json:"quantity"`
	AmountCents int64  `json:"amount_cents"`
}

// StatementJSON is a statement.
type StatementJSON struct {
	ID         string                 `json:"id,omitempty"`
	AgencyID   string                 `json:"agency_id"`
	Agency     string                 `json:"agency"`
	Period     string                 `json:"period" doc:"YYYY-MM"`
	TotalCents int64                  `json:"total_cents"`
	IssuedAt   time.Time              `json:"issued_at,omitzero"`
	Sections   []StatementSectionJSON `json:"sections,omitempty"`
}

// StatementSectionJSON is a subscription's part of a statement.
type StatementSectionJSON struct {
	SubscriptionID string              `json:"subscription_id"`
	Offering       string              `json:"offering"`
	Provider       string              `json:"provider"`
	Tier           string              `json:"tier"`
	ActiveDays     int                 `json:"active_days"`
	MonthDays      int                 `json:"month_days"`
	AmountCents    int64               `json:"amount_cents"`
	Lines          []StatementLineJSON `json:"lines"`
}

// StatementLineJSON is one charge.
type StatementLineJSON struct {
	Kind           string `json:"kind"`
	Description    string `json:"description"`
	Quantity       int64  `json:"quantity"`
	Unit           string `json:"unit"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	AmountCents    int64  `json:"amount_cents"`
}

func statementJSON(st Statement, full bool) StatementJSON {
	out := StatementJSON{ID: st.ID, AgencyID: st.AgencyOrgID, Agency: st.AgencyName, Period: st.Period, TotalCents: st.Total, IssuedAt: st.IssuedAt}
	if !full {
		return out
	}
	out.Sections = []StatementSectionJSON{}
	for _, s := range st.Sections {
		sj := StatementSectionJSON{SubscriptionID: s.SubscriptionID, Offering: s.OfferingName, Provider: s.ProviderName, Tier: s.Tier, ActiveDays: s.ActiveDays,
			MonthDays: s.MonthDays, AmountCents: s.Amount, Lines: []StatementLineJSON{}}
		for _, l := range s.Lines {
			sj.Lines = append(sj.Lines, StatementLineJSON{Kind: string(l.Kind), Description: l.Description, Quantity: l.Quantity, Unit: l.Unit, UnitPriceCents: l.UnitPrice, AmountCents: l.Amount})
		}
		out.Sections = append(out.Sections, sj)
	}
	return out
}

// IssueInputJSON issues a month's statements.
type IssueInputJSON struct {
	Month string `json:"month" doc:"YYYY-MM, a month that has ended"`
}

// IssuedJSON reports how many statements were issued.
type IssuedJSON struct {
	Issued int `json:"issued"`
}

// AvoidanceRowJSON is a row of the cost-avoidance report.
type AvoidanceRowJSON struct {
	Key           string `json:"key"`
	Label         string `json:"label"`
	ActualCents   int64  `json:"actual_cents"`
	BaselineCents int64  `json:"baseline_cents"`
	AvoidedCents  int64  `json:"avoided_cents"`
	Unpriced      int    `json:"unpriced_subscription_months"`
}

// CostAvoidanceJSON is the report.
type CostAvoidanceJSON struct {
	From     string             `json:"from"`
	To       string             `json:"to"`
	Total    AvoidanceRowJSON   `json:"total"`
	ByArea   []AvoidanceRowJSON `json:"by_service_area"`
	ByAgency []AvoidanceRowJSON `json:"by_agency"`
	ByMonth  []AvoidanceRowJSON `json:"by_month"`
}

func avoidanceJSON(r CostAvoidance) CostAvoidanceJSON {
	row := func(x AvoidanceRow) AvoidanceRowJSON {
		return AvoidanceRowJSON{Key: x.Key, Label: x.Label, ActualCents: x.Actual, BaselineCents: x.Baseline, AvoidedCents: x.Avoided(), Unpriced: x.Unpriced}
	}
	rows := func(xs []AvoidanceRow) []AvoidanceRowJSON {
		out := []AvoidanceRowJSON{}
		for _, x := range xs {
			out = append(out, row(x))
		}
		return out
	}
	return CostAvoidanceJSON{From: r.From, To: r.To, Total: row(r.Total), ByArea: rows(r.ByArea), ByAgency: rows(r.ByAgency), ByMonth: rows(r.ByMonth)}
}

// BaselineJSON is a go-it-alone baseline.
type BaselineJSON struct {
	ServiceArea  string `json:"service_area"`
	Tier         string `json:"tier"`
	MonthlyCents int64  `json:"monthly_cents"`
	Note         string `json:"note,omitempty"`
}

// OfficeDashJSON is the office dashboard's figures.
type OfficeDashJSON struct {
	AsOf             time.Time             `json:"as_of"`
	Listed           int                   `json:"listed_offerings"`
	InReview         int                   `json:"offerings_in_review"`
	ActiveSubs       int                   `json:"active_subscriptions"`
	Agencies         int                   `json:"agencies_subscribed"`
	OpenOrders       int                   `json:"orders_in_progress"`
	Overdue          int                   `json:"orders_overdue"`
	AdoptionByArea   []CountJSON           `json:"adoption_by_service_area"`
	AdoptionByAgency []CountJSON           `json:"adoption_by_agency"`
	OnboardByArea    []MedianJSON          `json:"onboarding_days_by_service_area"`
	SLA              []SLAJSON             `json:"sla_attainment"`
	Conformance      []ConformanceAreaJSON `json:"conformance"`
	Avoidance        CostAvoidanceJSON     `json:"cost_avoidance"`
}

// CountJSON is a labelled count.
type CountJSON struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Count int    `json:"count"`
}

// MedianJSON is a median in days.
type MedianJSON struct {
	Key   string  `json:"key"`
	Label string  `json:"label"`
	Days  float64 `json:"median_days"`
	N     int     `json:"n"`
}

// SLAJSON is a step's on-time share.
type SLAJSON struct {
	Step    string `json:"step"`
	OnTime  int    `json:"on_time"`
	Total   int    `json:"total"`
	Percent int    `json:"percent"`
}

// ConformanceAreaJSON is an area's conformance.
type ConformanceAreaJSON struct {
	ServiceArea string `json:"service_area"`
	Standard    int    `json:"standard_version"`
	Listed      int    `json:"listed"`
	Conformant  int    `json:"conformant"`
}

// AgencyDashJSON is an agency's dashboard figures.
type AgencyDashJSON struct {
	AgencyID        string               `json:"agency_id"`
	Subscriptions   []SubscriptionJSON   `json:"subscriptions"`
	InFlight        []OrderJSON          `json:"orders_in_progress"`
	Spend           []StatementJSON      `json:"spend"`
	RunningCents    int64                `json:"this_month_cents"`
	AvoidedCents    int64                `json:"avoided_cents"`
	Recommendations []RecommendationJSON `json:"top_recommendations"`
}

// ProviderDashJSON is a provider's dashboard figures.
type ProviderDashJSON struct {
	ProviderID string         `json:"provider_id"`
	Offerings  []OfferingJSON `json:"offerings"`
	ToFulfil   []OrderJSON    `json:"orders_to_fulfil"`
	ActiveSubs int            `json:"active_subscriptions"`
	Agencies   int            `json:"agencies_served"`
}
