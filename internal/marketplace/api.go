package marketplace

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/web"
)

func sortStrings(s []string) { sort.Strings(s) }

var searchParams = []web.Param{
	{Name: "q", Description: "free text"}, {Name: "area", Description: "service area IDs, repeated or comma-separated"},
	{Name: "csf", Description: "NIST CSF functions"}, {Name: "provider_type", Description: "office, federal_ssp, commercial"},
	{Name: "tier", Description: "foundational, intermediate, advanced"}, {Name: "status", Description: "default listed"},
	{Name: "pricing", Description: "flat, per_unit, tiered"}, {Name: "sort", Enum: Sorts}, {Name: "page", Type: "integer"}, {Name: "per_page", Type: "integer"},
}

func (h *Handlers) registerAPI(r *web.Router) {
	const (
		cat = "Marketplace catalog"
		std = "Marketplace standards"
		mat = "Marketplace maturity"
		ord = "Marketplace orders"
		sub = "Marketplace subscriptions"
		bil = "Marketplace billing"
	)
	r.PublicAPI("GET /api/v1/catalog", web.Doc{Summary: "The public catalog feed: listed offerings, tiers, prices, SLAs, conformance and published standards (no sign-in)", Tag: cat, Response: Feed{}}, h.apiFeed)
	r.API("GET /api/v1/service-areas", web.Doc{Summary: "List service areas", Tag: cat, Response: []AreaJSON{}}, h.apiAreas)
	r.API("GET /api/v1/offerings", web.Doc{Summary: "Search the storefront", Tag: cat, Query: searchParams, Response: SearchJSON{}}, h.apiSearch)
	r.API("POST /api/v1/offerings", web.Doc{Summary: "Create a draft offering (provider or office)", Tag: cat, Request: OfferingInputJSON{}, Response: OfferingJSON{}, Status: http.StatusCreated}, h.apiOfferingCreate)
	r.API("GET /api/v1/compare", web.Doc{Summary: "Compare two to four offerings", Tag: cat, Query: []web.Param{{Name: "o", Description: "offering IDs, repeated", Required: true}}, Response: CompareJSON{}}, h.apiCompare)
	r.API("GET /api/v1/offerings/{offering}", web.Doc{Summary: "Get an offering", Tag: cat, Response: OfferingJSON{}}, h.apiOffering)
	r.API("PUT /api/v1/offerings/{offering}", web.Doc{Summary: "Update an offering", Tag: cat, Request: OfferingInputJSON{}, Response: OfferingJSON{}}, h.apiOfferingUpdate)
	r.API("PUT /api/v1/offerings/{offering}/prices", web.Doc{Summary: "Replace a tier's price book", Tag: cat, Request: PricesJSON{}, Response: OfferingJSON{}}, h.apiPrices)
	r.API("POST /api/v1/offerings/{offering}/status", web.Doc{Summary: "Move an offering through its listing workflow", Tag: cat, Request: StatusActionJSON{}, Response: OfferingJSON{}}, h.apiOfferingStatus)
	r.API("POST /api/v1/offerings/{offering}/tiers", web.Doc{Summary: "List more tiers of a listed or paused offering (office)", Tag: cat, Request: TiersJSON{}, Response: OfferingJSON{}}, h.apiListTiers)
	r.API("GET /api/v1/offerings/{offering}/history", web.Doc{Summary: "An offering's status history", Tag: cat, Response: []HistoryJSON{}}, h.apiHistory)
	r.API("GET /api/v1/offerings/{offering}/onboarding-steps", web.Doc{Summary: "An offering's onboarding checklist", Tag: cat, Response: []StepJSON{}}, h.apiSteps)
	r.API("PUT /api/v1/offerings/{offering}/onboarding-steps", web.Doc{Summary: "Replace an offering's onboarding checklist", Tag: cat, Request: []StepJSON{}, Response: []StepJSON{}}, h.apiStepsSet)
	r.API("GET /api/v1/offerings/{offering}/documents", web.Doc{Summary: "An offering's documents", Tag: cat, Response: []FileJSON{}}, h.apiDocuments)
	r.API("POST /api/v1/offerings/{offering}/documents", web.Doc{Summary: "Upload a document: the request body is the file, Content-Type its type, ?name= its file name", Tag: cat,
		Query: []web.Param{{Name: "name", Required: true}}, Response: FileJSON{}, Status: http.StatusCreated}, h.apiDocumentUpload)
	r.API("GET /api/v1/files/{file}", web.Doc{Summary: "Download a document or evidence file", Tag: cat, ContentType: "application/octet-stream", Response: ""}, h.apiFile)
	r.API("DELETE /api/v1/files/{file}", web.Doc{Summary: "Delete a file", Tag: cat, Status: http.StatusNoContent}, h.apiFileDelete)

	r.API("GET /api/v1/standards", web.Doc{Summary: "List standard versions", Tag: std, Query: []web.Param{{Name: "service_area"}}, Response: []StandardJSON{}}, h.apiStandards)
	r.API("POST /api/v1/standards", web.Doc{Summary: "Start the next version of an area's standard (standards leads)", Tag: std, Request: StandardCreateJSON{}, Response: StandardJSON{}, Status: http.StatusCreated}, h.apiStandardCreate)
	r.API("GET /api/v1/standards/{standard}", web.Doc{Summary: "Get a standard version", Tag: std, Response: StandardJSON{}}, h.apiStandard)
	r.API("PUT /api/v1/standards/{standard}", web.Doc{Summary: "Edit a draft's title and summary", Tag: std, Request: StandardUpdateJSON{}, Response: StandardJSON{}}, h.apiStandardUpdate)
	r.API("GET /api/v1/standards/{standard}/diff", web.Doc{Summary: "What changed from another version", Tag: std, Query: []web.Param{{Name: "from", Description: "default: the previous version"}}, Response: DiffJSON{}}, h.apiDiff)
	r.API("POST /api/v1/standards/{standard}/requirements", web.Doc{Summary: "Add a requirement to a draft", Tag: std, Request: RequirementInputJSON{}, Response: RequirementJSON{}, Status: http.StatusCreated}, h.apiRequirementAdd)
	r.API("POST /api/v1/standards/{standard}/publish", web.Doc{Summary: "Publish a draft", Tag: std, Response: PublishJSON{}}, h.apiPublish)
	r.API("PUT /api/v1/requirements/{requirement}", web.Doc{Summary: "Edit a draft's requirement", Tag: std, Request: RequirementInputJSON{}, Response: RequirementJSON{}}, h.apiRequirementUpdate)
	r.API("DELETE /api/v1/requirements/{requirement}", web.Doc{Summary: "Remove a draft's requirement", Tag: std, Status: http.StatusNoContent}, h.apiRequirementDelete)
	r.API("GET /api/v1/offerings/{offering}/conformance", web.Doc{Summary: "An offering's conformance with its area's standard", Tag: std, Response: ConformanceJSON{}}, h.apiConformance)
	r.API("PUT /api/v1/offerings/{offering}/conformance/{requirement}", web.Doc{Summary: "Answer a requirement", Tag: std, Request: AnswerInputJSON{}, Response: ConformanceJSON{}}, h.apiAnswer)
	r.API("POST /api/v1/offerings/{offering}/conformance/{requirement}/evidence", web.Doc{Summary: "Upload an evidence file: the body is the file, ?name= its name", Tag: std,
		Query: []web.Param{{Name: "name", Required: true}}, Response: FileJSON{}, Status: http.StatusCreated}, h.apiEvidenceUpload)
	r.API("POST /api/v1/offerings/{offering}/conformance/{requirement}/review", web.Doc{Summary: "Accept or reject an answer (standards leads)", Tag: std, Request: ReviewInputJSON{}, Response: ConformanceJSON{}}, h.apiReview)
	r.API("GET /api/v1/reviews", web.Doc{Summary: "Answers awaiting review and offerings awaiting listing", Tag: std, Response: ReviewsJSON{}}, h.apiReviews)

	r.API("GET /api/v1/questionnaires", web.Doc{Summary: "The latest questionnaire of each service area", Tag: mat, Response: []QuestionnaireJSON{}}, h.apiQuestionnaires)
	r.API("GET /api/v1/assessments", web.Doc{Summary: "An agency's assessments", Tag: mat, Query: []web.Param{{Name: "agency"}, {Name: "service_area"}}, Response: []AssessmentJSON{}}, h.apiAssessments)
	r.API("POST /api/v1/assessments", web.Doc{Summary: "Take an assessment", Tag: mat, Request: AssessmentInputJSON{}, Response: AssessmentJSON{}, Status: http.StatusCreated}, h.apiAssess)
	r.API("GET /api/v1/assessments/{assessment}", web.Doc{Summary: "Get an assessment", Tag: mat, Response: AssessmentJSON{}}, h.apiAssessment)
	r.API("GET /api/v1/recommendations", web.Doc{Summary: "Explained recommendations for an agency", Tag: mat, Query: []web.Param{{Name: "agency"}, {Name: "service_area"}}, Response: []RecommendationsJSON{}}, h.apiRecommendations)

	r.API("GET /api/v1/orders", web.Doc{Summary: "List orders", Tag: ord, Query: []web.Param{{Name: "show", Description: "waiting, open, overdue or a state"}, {Name: "page", Type: "integer"}}, Response: []OrderJSON{}}, h.apiOrders)
	r.API("POST /api/v1/orders", web.Doc{Summary: "Request an offering", Tag: ord, Request: OrderInputJSON{}, Response: OrderJSON{}, Status: http.StatusCreated}, h.apiOrderCreate)
	r.API("GET /api/v1/orders/{order}", web.Doc{Summary: "Get an order with its timeline, quotes, agreement and tasks", Tag: ord, Response: OrderDetailJSON{}}, h.apiOrder)
	r.API("POST /api/v1/orders/{order}/approve", web.Doc{Summary: "Approve a request (office)", Tag: ord, Request: ReasonInputJSON{}, Response: OrderJSON{}}, h.apiOrderStep(lifecycle.Approve))
	r.API("POST /api/v1/orders/{order}/decline", web.Doc{Summary: "Decline a request with a reason (office)", Tag: ord, Request: ReasonInputJSON{}, Response: OrderJSON{}}, h.apiOrderStep(lifecycle.Decline))
	r.API("POST /api/v1/orders/{order}/withdraw", web.Doc{Summary: "Withdraw an order (agency)", Tag: ord, Request: ReasonInputJSON{}, Response: OrderJSON{}}, h.apiOrderStep(lifecycle.Withdraw))
	r.API("POST /api/v1/orders/{order}/quote", web.Doc{Summary: "Send a quote (provider)", Tag: ord, Request: QuoteInputJSON{}, Response: OrderJSON{}}, h.apiQuote)
	r.API("POST /api/v1/orders/{order}/accept", web.Doc{Summary: "Accept the quote with the funding (agency approver)", Tag: ord, Request: AcceptInputJSON{}, Response: OrderJSON{}}, h.apiAccept)
	r.API("POST /api/v1/orders/{order}/return-quote", web.Doc{Summary: "Return the quote with a reason (agency approver)", Tag: ord, Request: ReasonInputJSON{}, Response: OrderJSON{}}, h.apiOrderStep(lifecycle.ReturnQuote))
	r.API("GET /api/v1/orders/{order}/agreement", web.Doc{Summary: "Get the interagency agreement", Tag: ord, Response: AgreementJSON{}}, h.apiAgreement)
	r.API("PUT /api/v1/orders/{order}/agreement", web.Doc{Summary: "Edit the agreement's terms before signature", Tag: ord, Request: AgreementTermsJSON{}, Response: AgreementJSON{}}, h.apiAgreementUpdate)
	r.API("POST /api/v1/orders/{order}/send", web.Doc{Summary: "Send the agreement for signature (provider)", Tag: ord, Response: OrderJSON{}}, h.apiOrderStep(lifecycle.SendAgreement))
	r.API("POST /api/v1/orders/{order}/sign", web.Doc{Summary: "Sign the agreement for one party", Tag: ord, Request: SignInputJSON{}, Response: OrderJSON{}}, h.apiSign)
	r.API("POST /api/v1/orders/{order}/return-agreement", web.Doc{Summary: "Return the agreement for changes", Tag: ord, Request: ReasonInputJSON{}, Response: OrderJSON{}}, h.apiOrderStep(lifecycle.ReturnAgreement))
	r.API("POST /api/v1/orders/{order}/tasks/{task}", web.Doc{Summary: "Mark an onboarding task done or open (provider)", Tag: ord, Request: TaskInputJSON{}, Response: TaskJSON{}}, h.apiTask)
	r.API("POST /api/v1/orders/{order}/complete", web.Doc{Summary: "Complete onboarding: the subscription becomes active (provider)", Tag: ord, Response: OrderJSON{}}, h.apiOrderStep(lifecycle.CompleteOnboarding))
	r.API("POST /api/v1/orders/{order}/retry", web.Doc{Summary: "Retry automatic provisioning (provider)", Tag: ord, Response: OrderJSON{}}, h.apiRetry)

	r.API("GET /api/v1/subscriptions", web.Doc{Summary: "List subscriptions", Tag: sub, Query: []web.Param{{Name: "status", Enum: []string{"active", "cancelled"}}, {Name: "page", Type: "integer"}}, Response: []SubscriptionJSON{}}, h.apiSubscriptions)
	r.API("GET /api/v1/subscriptions/{subscription}", web.Doc{Summary: "Get a subscription", Tag: sub, Response: SubscriptionJSON{}}, h.apiSubscription)
	r.API("POST /api/v1/subscriptions/{subscription}/cancel", web.Doc{Summary: "End a subscription (agency cancels, provider terminates)", Tag: sub, Request: ReasonInputJSON{}, Response: OrderJSON{}}, h.apiCancel)
	r.API("GET /api/v1/subscriptions/{subscription}/usage", web.Doc{Summary: "A month's metered usage", Tag: sub, Query: []web.Param{{Name: "month", Description: "YYYY-MM; default this month"}}, Response: []UsageTotalJSON{}}, h.apiUsageTotals)
	r.API("GET /api/v1/subscriptions/{subscription}/modifications", web.Doc{Summary: "A subscription's modifications", Tag: sub, Response: []ModificationJSON{}}, h.apiMods)
	r.API("POST /api/v1/subscriptions/{subscription}/modifications", web.Doc{Summary: "Propose a modification", Tag: sub, Request: ModificationInputJSON{}, Response: ModificationJSON{}, Status: http.StatusCreated}, h.apiModPropose)
	r.API("POST /api/v1/modifications/{modification}", web.Doc{Summary: "Approve, reject or withdraw a modification", Tag: sub, Request: DecisionInputJSON{}, Response: ModificationJSON{}}, h.apiModDecide)
	r.API("GET /api/v1/exceptions", web.Doc{Summary: "List go-it-alone requests", Tag: sub, Query: []web.Param{{Name: "status"}}, Response: []ExceptionJSON{}}, h.apiExceptions)
	r.API("POST /api/v1/exceptions", web.Doc{Summary: "Ask to buy outside the marketplace", Tag: sub, Request: ExceptionInputJSON{}, Response: ExceptionJSON{}, Status: http.StatusCreated}, h.apiExceptionCreate)
	r.API("GET /api/v1/exceptions/{exception}", web.Doc{Summary: "Get a go-it-alone request", Tag: sub, Response: ExceptionJSON{}}, h.apiException)
	r.API("POST /api/v1/exceptions/{exception}", web.Doc{Summary: "Decide (office) or withdraw (agency) a go-it-alone request", Tag: sub, Request: DecisionInputJSON{}, Response: ExceptionJSON{}}, h.apiExceptionDecide)

	r.API("POST /api/v1/usage", web.Doc{Summary: "Record metered usage (provider or office token); idempotent by key", Tag: bil, Request: UsageInputJSON{}, Response: UsageJSON{}, Status: http.StatusCreated,
		Description: "Answers 201 for a new record and 200 with replayed=true when the idempotency key was seen with the same data; 409 when it was seen with different data."}, h.apiUsage)
	r.API("GET /api/v1/statements", web.Doc{Summary: "List statements", Tag: bil, Query: []web.Param{{Name: "period", Description: "YYYY-MM"}}, Response: []StatementJSON{}}, h.apiStatements)
	r.API("POST /api/v1/statements", web.Doc{Summary: "Issue a month's statements (office)", Tag: bil, Request: IssueInputJSON{}, Response: IssuedJSON{}}, h.apiIssue)
	r.API("GET /api/v1/statements/{statement}", web.Doc{Summary: "Get a statement with its charges", Tag: bil, Response: StatementJSON{}}, h.apiStatement)
	r.API("GET /api/v1/statements/{statement}/csv", web.Doc{Summary: "A statement as CSV", Tag: bil, ContentType: "text/csv", Response: ""}, h.statementCSV)
	r.API("GET /api/v1/cost-avoidance", web.Doc{Summary: "The cost-avoidance report", Tag: bil, Query: []web.Param{{Name: "from", Description: "YYYY-MM"}, {Name: "to", Description: "YYYY-MM"}}, Response: CostAvoidanceJSON{}}, h.apiAvoidance)
	r.API("GET /api/v1/baselines", web.Doc{Summary: "Go-it-alone baselines", Tag: bil, Response: []BaselineJSON{}}, h.apiBaselines)
	r.API("PUT /api/v1/baselines", web.Doc{Summary: "Set a go-it-alone baseline (office)", Tag: bil, Request: BaselineJSON{}, Response: BaselineJSON{}}, h.apiBaselineSet)

	r.API("GET /api/v1/dashboards/office", web.Doc{Summary: "The office's marketplace figures", Tag: bil, Response: OfficeDashJSON{}}, h.apiOfficeDash)
	r.API("GET /api/v1/dashboards/agency", web.Doc{Summary: "The token's agency's marketplace figures", Tag: bil, Response: AgencyDashJSON{}}, h.apiAgencyDash)
	r.API("GET /api/v1/dashboards/provider", web.Doc{Summary: "The token's provider's marketplace figures", Tag: bil, Response: ProviderDashJSON{}}, h.apiProviderDash)
}

// ReviewsJSON is the review queue.
type ReviewsJSON struct {
	Answers   []ReviewItemJSON `json:"answers"`
	Offerings []OfferingJSON   `json:"offerings_in_review"`
}

// ReviewItemJSON is an answer awaiting review.
type ReviewItemJSON struct {
	OfferingID    string `json:"offering_id"`
	RequirementID string `json:"requirement_id"`
	Code          string `json:"code"`
	Status        string `json:"status"`
	Evidence      string `json:"evidence"`
}

func (h *Handlers) apiFeed(w http.ResponseWriter, r *http.Request) error {
	f, err := h.S.CatalogFeed(r.Context(), h.OfficeName)
	if err != nil {
		return err
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	web.JSON(w, http.StatusOK, f)
	return nil
}

func (h *Handlers) apiAreas(w http.ResponseWriter, r *http.Request) error {
	areas, err := h.S.Areas(r.Context())
	if err != nil {
		return err
	}
	out := []AreaJSON{}
	for _, a := range areas {
		out = append(out, AreaJSON{ID: a.ID, Name: a.Name, Summary: a.Summary, CSFFunctions: a.CSF, OfficeOperated: a.OfficeOperated})
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func facetsJSON(vs []FacetValue) []FacetJSON {
	out := []FacetJSON{}
	for _, v := range vs {
		out = append(out, FacetJSON(v))
	}
	return out
}

func (h *Handlers) apiSearch(w http.ResponseWriter, r *http.Request) error {
	res, err := h.S.Search(r.Context(), principal(r), ParseQuery(r.URL.Query()))
	if err != nil {
		return err
	}
	out := SearchJSON{Total: res.Total, Page: res.Page, Pages: res.Pages, Offerings: []OfferingJSON{}, Facets: map[string][]FacetJSON{
		"service_area": facetsJSON(res.Facets.Areas), "csf": facetsJSON(res.Facets.CSF), "provider_type": facetsJSON(res.Facets.ProviderTypes),
		"tier": facetsJSON(res.Facets.Tiers), "status": facetsJSON(res.Facets.Statuses), "pricing": facetsJSON(res.Facets.Pricing)}}
	for _, o := range res.Offerings {
		out.Offerings = append(out.Offerings, offeringJSON(o, nil, res.CXOf(o.ID)))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func offeringInputJSON(in OfferingInputJSON) OfferingInput {
	out := OfferingInput{ProviderOrgID: in.ProviderID, AreaID: in.ServiceArea, Name: in.Name, Summary: in.Summary, Description: in.Description,
		ProviderType: ProviderType(in.ProviderType), ContractVehicle: in.ContractVehicle, Prerequisites: in.Prerequisites, OnboardingDays: in.OnboardingDays}
	for _, t := range in.Tiers {
		out.Tiers = append(out.Tiers, TierInput{Tier: maturity.Tier(t.Tier), Description: t.Description, AvailabilityBP: t.AvailabilityBP, ResponseMinutes: t.ResponseMinutes, SupportHours: t.SupportHours})
	}
	return out
}

func (h *Handlers) offeringOut(r *http.Request, o Offering) (OfferingJSON, error) {
	c, err := h.S.GetConformance(r.Context(), principal(r), o.ID)
	if err != nil {
		return OfferingJSON{}, err
	}
	var cx *CXScore
	if x, ok := h.S.cxScores(r.Context(), []string{o.ID})[o.ID]; ok && x.Responses > 0 {
		cx = &x
	}
	return offeringJSON(o, &c, cx), nil
}

func (h *Handlers) respondOffering(w http.ResponseWriter, r *http.Request, status int, o Offering) error {
	out, err := h.offeringOut(r, o)
	if err != nil {
		return err
	}
	web.JSON(w, status, out)
	return nil
}

func (h *Handlers) apiOfferingCreate(w http.ResponseWriter, r *http.Request) error {
	var in OfferingInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.ProviderID == "" {
		in.ProviderID = activeOrg(principal(r)).OrgID
	}
	o, err := h.S.CreateOffering(r.Context(), principal(r), offeringInputJSON(in))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/offerings/"+o.ID)
	return h.respondOffering(w, r, http.StatusCreated, o)
}

func (h *Handlers) apiCompare(w http.ResponseWriter, r *http.Request) error {
	c, err := h.S.Compare(r.Context(), principal(r), r.URL.Query()["o"])
	if err != nil {
		return err
	}
	out := CompareJSON{Offerings: []OfferingJSON{}, Requirements: []CompareRowJSON{}}
	for _, x := range c.Offerings {
		x := x
		out.Offerings = append(out.Offerings, offeringJSON(x.Offering, &x.Conformance, x.CX))
	}
	for _, row := range c.Requirement {
		cr := CompareRowJSON{Code: row.Requirement.Code, Text: row.Requirement.Text, Mandatory: row.Requirement.Mandatory, Answers: []string{}}
		for _, a := range row.Answers {
			cr.Answers = append(cr.Answers, a.Status)
		}
		out.Requirements = append(out.Requirements, cr)
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiOffering(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	return h.respondOffering(w, r, http.StatusOK, o)
}

func (h *Handlers) apiOfferingUpdate(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	var in OfferingInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	o, err = h.S.UpdateOffering(r.Context(), principal(r), o.ID, offeringInputJSON(in))
	if err != nil {
		return err
	}
	return h.respondOffering(w, r, http.StatusOK, o)
}

func (h *Handlers) apiPrices(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	var in PricesJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	o, err = h.S.SetPrices(r.Context(), principal(r), o.ID, maturity.Tier(in.Tier), linesFromJSON(in.Lines))
	if err != nil {
		return err
	}
	return h.respondOffering(w, r, http.StatusOK, o)
}

func (h *Handlers) apiOfferingStatus(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	var in StatusActionJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	o, err = h.S.OfferingAction(r.Context(), principal(r), o.ID, lifecycle.Action(in.Action), in.Reason, tiersFrom(in.Tiers))
	if err != nil {
		return err
	}
	return h.respondOffering(w, r, http.StatusOK, o)
}

// TiersJSON names tiers.
type TiersJSON struct {
	Tiers []string `json:"tiers"`
}

func (h *Handlers) apiListTiers(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	var in TiersJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	o, err = h.S.ListTiers(r.Context(), principal(r), o.ID, tiersFrom(in.Tiers))
	if err != nil {
		return err
	}
	return h.respondOffering(w, r, http.StatusOK, o)
}

func (h *Handlers) apiHistory(w http.ResponseWriter, r *http.Request) error {
	hs, err := h.S.History(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	out := []HistoryJSON{}
	for _, x := range hs {
		out = append(out, HistoryJSON{From: string(x.From), To: string(x.To), Note: x.Note, Actor: x.Actor, At: x.At})
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func stepsJSON(steps []Step) []StepJSON {
	out := []StepJSON{}
	for _, s := range steps {
		out = append(out, StepJSON(s))
	}
	return out
}

func (h *Handlers) apiSteps(w http.ResponseWriter, r *http.Request) error {
	steps, _, err := h.S.OnboardingSteps(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, stepsJSON(steps))
	return nil
}

func (h *Handlers) apiStepsSet(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	var in []StepJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	var steps []Step
	for _, s := range in {
		steps = append(steps, Step(s))
	}
	if err := h.S.SetOnboardingSteps(r.Context(), principal(r), o.ID, steps); err != nil {
		return err
	}
	return h.apiSteps(w, r)
}

func (h *Handlers) apiDocuments(w http.ResponseWriter, r *http.Request) error {
	fs, err := h.S.Documents(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	out := []FileJSON{}
	for _, f := range fs {
		out = append(out, fileJSON(f))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

// rawUpload reads a raw request body as a file, bounded.
func (h *Handlers) rawUpload(w http.ResponseWriter, r *http.Request) (FileMeta, []byte, error) {
	r.Body = http.MaxBytesReader(w, r.Body, h.S.MaxFileBytes)
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return FileMeta{}, nil, apperr.Validation(map[string]string{"file": fmt.Sprintf("The file is larger than %d MB.", h.S.MaxFileBytes>>20)})
	}
	return FileMeta{Name: r.URL.Query().Get("name"), DeclaredType: r.Header.Get("Content-Type")}, data, nil
}

func (h *Handlers) apiDocumentUpload(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	meta, data, err := h.rawUpload(w, r)
	if err != nil {
		return err
	}
	f, err := h.S.UploadFile(r.Context(), principal(r), UploadInput{OfferingID: o.ID, Purpose: FileDocument, Meta: meta, Data: data})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, fileJSON(f))
	return nil
}

func (h *Handlers) apiFile(w http.ResponseWriter, r *http.Request) error { return h.fileDownload(w, r) }

func (h *Handlers) apiFileDelete(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.S.DeleteFile(r.Context(), principal(r), r.PathValue("file")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handlers) apiStandards(w http.ResponseWriter, r *http.Request) error {
	list, err := h.S.ListStandards(r.Context(), principal(r), r.URL.Query().Get("service_area"))
	if err != nil {
		return err
	}
	out := []StandardJSON{}
	for _, st := range list {
		sj := standardJSON(Standard{ID: st.ID, AreaID: st.AreaID, Version: st.Version, Title: st.Title, Summary: st.Summary, Status: st.Status, PublishedAt: st.PublishedAt})
		out = append(out, sj)
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiStandardCreate(w http.ResponseWriter, r *http.Request) error {
	var in StandardCreateJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	st, err := h.S.CreateDraftStandard(r.Context(), principal(r), in.ServiceArea)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, standardJSON(st))
	return nil
}

func (h *Handlers) apiStandard(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStandard(r.Context(), principal(r), r.PathValue("standard"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, standardJSON(st))
	return nil
}

func (h *Handlers) apiStandardUpdate(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStandard(r.Context(), principal(r), r.PathValue("standard"))
	if err != nil {
		return err
	}
	var in StandardUpdateJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	st, err = h.S.UpdateStandard(r.Context(), principal(r), st.ID, StandardInput(in))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, standardJSON(st))
	return nil
}

func (h *Handlers) apiDiff(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	to, err := h.S.GetStandard(ctx, p, r.PathValue("standard"))
	if err != nil {
		return err
	}
	fromID := r.URL.Query().Get("from")
	if fromID == "" {
		prev, ok := h.S.PreviousVersion(ctx, p, to)
		if !ok {
			web.JSON(w, http.StatusOK, DiffJSON{To: to.Version, Changes: []ChangeJSON{}})
			return nil
		}
		fromID = prev.ID
	}
	from, to, changes, err := h.S.DiffStandards(ctx, p, fromID, to.ID)
	if err != nil {
		return err
	}
	out := DiffJSON{From: from.Version, To: to.Version, Changes: []ChangeJSON{}}
	for _, c := range changes {
		cj := ChangeJSON{Code: c.Code, Kind: c.Kind, Fields: c.Fields}
		if c.Before != nil {
			b := requirementJSON(*c.Before)
			cj.Before = &b
		}
		if c.After != nil {
			a := requirementJSON(*c.After)
			cj.After = &a
		}
		out.Changes = append(out.Changes, cj)
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func requirementInputJSON(in RequirementInputJSON) RequirementInput {
	return RequirementInput{Code: in.Code, Text: in.Text, Mandatory: in.Mandatory, Tiers: tiersFrom(in.Tiers)}
}

func (h *Handlers) apiRequirementAdd(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStandard(r.Context(), principal(r), r.PathValue("standard"))
	if err != nil {
		return err
	}
	var in RequirementInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	req, err := h.S.AddRequirement(r.Context(), principal(r), st.ID, requirementInputJSON(in))
	if err != nil {
		return err
	}
	_, req, err = h.S.GetRequirementByCode(r.Context(), principal(r), st.ID, req.Code)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, requirementJSON(req))
	return nil
}

func (h *Handlers) apiPublish(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStandard(r.Context(), principal(r), r.PathValue("standard"))
	if err != nil {
		return err
	}
	pub, impact, err := h.S.PublishStandard(r.Context(), principal(r), st.ID)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, PublishJSON{Standard: standardJSON(pub), TiersUnlisted: impact.TiersUnlisted})
	return nil
}

func (h *Handlers) apiRequirementUpdate(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := h.S.requirementForEdit(r.Context(), principal(r), r.PathValue("requirement")); err != nil {
		return err
	}
	var in RequirementInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	req, err := h.S.UpdateRequirement(r.Context(), principal(r), r.PathValue("requirement"), requirementInputJSON(in))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, requirementJSON(req))
	return nil
}

func (h *Handlers) apiRequirementDelete(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.S.DeleteRequirement(r.Context(), principal(r), r.PathValue("requirement")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func conformanceJSON(c Conformance) ConformanceJSON {
	out := ConformanceJSON{OfferingID: c.Offering.ID, Tiers: []TierStatusJSON{}, Answers: []AnswerJSON{}}
	if c.Standard != nil {
		out.StandardID, out.Version = c.Standard.ID, c.Standard.Version
	}
	for _, t := range c.Tiers {
		out.Tiers = append(out.Tiers, TierStatusJSON{Tier: string(t.Tier), Mandatory: t.Mandatory, Satisfied: t.Satisfied, Unmet: append([]string{}, t.Unmet...),
			Waiting: append([]string{}, t.Waiting...), Listable: t.Listable()})
	}
	for _, row := range c.Rows {
		a := AnswerJSON{RequirementID: row.Requirement.ID, Code: row.Requirement.Code, Mandatory: row.Requirement.Mandatory, Status: row.Answer.Status,
			Evidence: row.Answer.Evidence, ReviewStatus: row.Answer.ReviewStatus, ReviewNote: row.Answer.ReviewNote}
		for _, f := range row.Files {
			a.Files = append(a.Files, fileJSON(f))
		}
		out.Answers = append(out.Answers, a)
	}
	return out
}

func (h *Handlers) apiConformance(w http.ResponseWriter, r *http.Request) error {
	c, err := h.S.GetConformance(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, conformanceJSON(c))
	return nil
}

func (h *Handlers) conformanceTarget(r *http.Request) (Offering, string, error) {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return o, "", err
	}
	reqID := r.PathValue("requirement")
	if _, _, err := h.S.requirementOfCurrent(r.Context(), o, reqID); err != nil {
		return o, "", err
	}
	return o, reqID, nil
}

func (h *Handlers) apiAnswer(w http.ResponseWriter, r *http.Request) error {
	o, reqID, err := h.conformanceTarget(r)
	if err != nil {
		return err
	}
	var in AnswerInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if _, err := h.S.SaveAnswer(r.Context(), principal(r), o.ID, reqID, AnswerInput(in)); err != nil {
		return err
	}
	return h.apiConformance(w, r)
}

func (h *Handlers) apiEvidenceUpload(w http.ResponseWriter, r *http.Request) error {
	o, reqID, err := h.conformanceTarget(r)
	if err != nil {
		return err
	}
	meta, data, err := h.rawUpload(w, r)
	if err != nil {
		return err
	}
	f, err := h.S.UploadFile(r.Context(), principal(r), UploadInput{OfferingID: o.ID, RequirementID: reqID, Purpose: FileEvidence, Meta: meta, Data: data})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, fileJSON(f))
	return nil
}

func (h *Handlers) apiReview(w http.ResponseWriter, r *http.Request) error {
	o, reqID, err := h.conformanceTarget(r)
	if err != nil {
		return err
	}
	var in ReviewInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Decision != "accept" && in.Decision != "reject" {
		return apperr.Validation(map[string]string{"decision": "decision is accept or reject."})
	}
	if _, err := h.S.ReviewAnswer(r.Context(), principal(r), o.ID, reqID, in.Decision == "accept", in.Note); err != nil {
		return err
	}
	return h.apiConformance(w, r)
}

func (h *Handlers) apiReviews(w http.ResponseWriter, r *http.Request) error {
	items, pending, err := h.S.ReviewQueue(r.Context(), principal(r))
	if err != nil {
		return err
	}
	out := ReviewsJSON{Answers: []ReviewItemJSON{}, Offerings: []OfferingJSON{}}
	for _, it := range items {
		out.Answers = append(out.Answers, ReviewItemJSON{OfferingID: it.Offering.ID, RequirementID: it.Requirement.ID, Code: it.Requirement.Code, Status: it.Answer.Status, Evidence: it.Answer.Evidence})
	}
	for _, o := range pending {
		out.Offerings = append(out.Offerings, offeringJSON(o, nil, nil))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiQuestionnaires(w http.ResponseWriter, r *http.Request) error {
	out := []QuestionnaireJSON{}
	for _, area := range h.S.Questionnaires.Areas() {
		q, _ := h.S.Questionnaires.Latest(area)
		qj := QuestionnaireJSON{ServiceArea: q.Area, Version: q.Version, Title: q.Title, Questions: []QuestionJSON{}}
		for _, qu := range q.Questions {
			x := QuestionJSON{ID: qu.ID, Text: qu.Text, Options: []OptionJSON{}}
			for _, o := range qu.Options {
				x.Options = append(x.Options, OptionJSON{Value: o.Value, Label: o.Label})
			}
			qj.Questions = append(qj.Questions, x)
		}
		out = append(out, qj)
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

// agencyParam is the agency a request is about: ?agency= or the caller's
// own organization.
func agencyParam(r *http.Request, v string) string {
	if v != "" {
		return v
	}
	return activeOrg(principal(r)).OrgID
}

func (h *Handlers) apiAssessments(w http.ResponseWriter, r *http.Request) error {
	list, err := h.S.Assessments(r.Context(), principal(r), agencyParam(r, r.URL.Query().Get("agency")), r.URL.Query().Get("service_area"))
	if err != nil {
		return err
	}
	out := []AssessmentJSON{}
	for _, a := range list {
		out = append(out, assessmentJSON(a))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiAssess(w http.ResponseWriter, r *http.Request) error {
	var in AssessmentInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	a, err := h.S.TakeAssessment(r.Context(), principal(r), agencyParam(r, in.AgencyID), in.ServiceArea, in.Answers)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, assessmentJSON(a))
	return nil
}

func (h *Handlers) apiAssessment(w http.ResponseWriter, r *http.Request) error {
	a, err := h.S.GetAssessment(r.Context(), principal(r), r.PathValue("assessment"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, assessmentJSON(a))
	return nil
}

func recommendationJSON(rec Recommendation) RecommendationJSON {
	out := RecommendationJSON{OfferingID: rec.Offering.ID, Name: rec.Offering.Name, Tier: string(rec.Tier), MonthlyCents: rec.Monthly, Score: rec.Score,
		Similar: rec.Similar, Subscribed: rec.Subscribed, Reasons: []ReasonJSON{}}
	if rec.CX != nil {
		t := rec.CX.TrustPercent
		out.TrustPercent = &t
	}
	for _, x := range rec.Reasons {
		out.Reasons = append(out.Reasons, ReasonJSON(x))
	}
	return out
}

func (h *Handlers) apiRecommendations(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	agency := agencyParam(r, r.URL.Query().Get("agency"))
	latest, err := h.S.LatestAssessments(ctx, p, agency)
	if err != nil {
		return err
	}
	out := []RecommendationsJSON{}
	for _, a := range latest {
		if area := r.URL.Query().Get("service_area"); area != "" && area != a.AreaID {
			continue
		}
		recs, _, err := h.S.Recommendations(ctx, p, agency, a.AreaID)
		if err != nil {
			return err
		}
		rj := RecommendationsJSON{ServiceArea: a.AreaID, AssessmentID: a.ID, Tier: string(a.Tier), Recommendations: []RecommendationJSON{}}
		for _, x := range recs {
			rj.Recommendations = append(rj.Recommendations, recommendationJSON(x))
		}
		out = append(out, rj)
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) orderOut(r *http.Request, o Order) OrderJSON {
	acts := map[string]bool{}
	for a := range h.S.Available(r.Context(), principal(r), o) {
		acts[string(a)] = true
	}
	return orderJSON(o, acts)
}

func (h *Handlers) apiOrders(w http.ResponseWriter, r *http.Request) error {
	list, _, err := h.S.ListOrders(r.Context(), principal(r), orderFilter(principal(r), r.URL.Query()))
	if err != nil {
		return err
	}
	out := []OrderJSON{}
	for _, o := range list {
		out = append(out, orderJSON(o, nil))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiOrderCreate(w http.ResponseWriter, r *http.Request) error {
	var in OrderInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	o, err := h.S.RequestOrder(r.Context(), principal(r), OrderInput{AgencyOrgID: agencyParam(r, in.AgencyID), OfferingID: in.OfferingID, Tier: maturity.Tier(in.Tier), Quantity: in.Quantity, Needs: in.Needs})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/orders/"+o.ID)
	web.JSON(w, http.StatusCreated, h.orderOut(r, o))
	return nil
}

func (h *Handlers) apiOrder(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadOrderData(r)
	if err != nil {
		return err
	}
	out := OrderDetailJSON{OrderJSON: h.orderOut(r, d.Order), Timeline: []EventJSON{}, Quotes: []QuoteJSON{}, Tasks: []TaskJSON{}}
	for _, e := range d.Timeline {
		ej := EventJSON{Action: e.Action, To: string(e.To), Party: string(e.Party), Actor: e.Actor, Note: e.Note, At: e.At}
		if e.OnTime.Valid {
			b := e.OnTime.Bool
			ej.OnTime = &b
		}
		out.Timeline = append(out.Timeline, ej)
	}
	for _, q := range d.Quotes {
		out.Quotes = append(out.Quotes, QuoteJSON{ID: q.ID, Version: q.Version, Status: q.Status, Notes: q.Notes, ValidUntil: q.ValidUntil, MonthlyCents: q.Monthly, OneTimeCents: q.OneTime, Lines: linesJSON(q.Lines)})
	}
	if d.Agreement != nil {
		a := agreementJSON(*d.Agreement)
		out.Agreement = &a
	}
	for _, t := range d.Tasks {
		out.Tasks = append(out.Tasks, TaskJSON{ID: t.ID, Title: t.Title, Detail: t.Detail, Done: t.Done(), DoneAt: t.DoneAt, Note: t.Note})
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

// apiOrderStep serves the order steps whose only input is a reason.
func (h *Handlers) apiOrderStep(a lifecycle.Action) web.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx, p := r.Context(), principal(r)
		o, err := h.S.GetOrder(ctx, p, r.PathValue("order"))
		if err != nil {
			return err
		}
		var in ReasonInputJSON
		if r.ContentLength != 0 {
			if err := web.DecodeJSON(w, r, &in); err != nil {
				return err
			}
		}
		switch a {
		case lifecycle.Approve:
			o, err = h.S.ApproveOrder(ctx, p, o.ID, in.Reason)
		case lifecycle.Decline:
			o, err = h.S.DeclineOrder(ctx, p, o.ID, in.Reason)
		case lifecycle.Withdraw:
			o, err = h.S.WithdrawOrder(ctx, p, o.ID, in.Reason)
		case lifecycle.ReturnQuote:
			o, err = h.S.ReturnQuote(ctx, p, o.ID, in.Reason)
		case lifecycle.SendAgreement:
			o, err = h.S.SendAgreement(ctx, p, o.ID)
		case lifecycle.ReturnAgreement:
			o, err = h.S.ReturnAgreement(ctx, p, o.ID, in.Reason, partyOf(in.Side))
		case lifecycle.CompleteOnboarding:
			o, err = h.S.CompleteOnboarding(ctx, p, o.ID)
		}
		if err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, h.orderOut(r, o))
		return nil
	}
}

func parseDay(v, field string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return t, apperr.Validation(map[string]string{field: field + " is a date, YYYY-MM-DD."})
	}
	return t, nil
}

func (h *Handlers) apiQuote(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOrder(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	var in QuoteInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	valid, err := parseDay(in.ValidUntil, "valid_until")
	if err != nil {
		return err
	}
	if !valid.IsZero() {
		valid = valid.Add(24*time.Hour - time.Second)
	}
	o, err = h.S.SubmitQuote(r.Context(), principal(r), o.ID, QuoteInput{Lines: linesFromJSON(in.Lines), Notes: in.Notes, ValidUntil: valid})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, h.orderOut(r, o))
	return nil
}

func (h *Handlers) apiAccept(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOrder(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	var in AcceptInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	exp, err := parseDay(in.FundsExpire, "funds_expire")
	if err != nil {
		return err
	}
	o, err = h.S.AcceptQuote(r.Context(), principal(r), o.ID, FundingInput{TAS: in.TAS, ObjectClass: in.ObjectClass, Obligated: in.ObligatedCents, FundsExpire: exp})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, h.orderOut(r, o))
	return nil
}

func (h *Handlers) apiAgreement(w http.ResponseWriter, r *http.Request) error {
	_, a, err := h.S.GetAgreement(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, agreementJSON(a))
	return nil
}

func (h *Handlers) apiAgreementUpdate(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOrder(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	var in AgreementTermsJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	t := AgreementTerms{Recurring: in.Recurring, Authority: in.Authority, AuthorityCitation: in.AuthorityCitation, Advance: in.Advance, TerminationDays: in.TerminationDays,
		Requirements: in.Requirements, TAS: in.TAS, ObjectClass: in.ObjectClass, Obligated: in.ObligatedCents}
	for _, d := range []struct {
		v, name string
		to      *time.Time
	}{{in.PeriodStart, "period_start", &t.PeriodStart}, {in.PeriodEnd, "period_end", &t.PeriodEnd}, {in.FundsExpire, "funds_expire", &t.FundsExpire}} {
		if *d.to, err = parseDay(d.v, d.name); err != nil {
			return err
		}
	}
	a, err := h.S.UpdateAgreement(r.Context(), principal(r), o.ID, t)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, agreementJSON(a))
	return nil
}

func (h *Handlers) apiSign(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOrder(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	var in SignInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	o, err = h.S.SignAgreement(r.Context(), principal(r), o.ID, SignInput{Side: partyOf(in.Side), Title: in.Title, Tracking: in.Tracking})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, h.orderOut(r, o))
	return nil
}

func (h *Handlers) apiTask(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOrder(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	var in TaskInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	t, err := h.S.SetTask(r.Context(), principal(r), o.ID, r.PathValue("task"), in.Done, in.Note)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, TaskJSON{ID: t.ID, Title: t.Title, Detail: t.Detail, Done: t.Done(), DoneAt: t.DoneAt, Note: t.Note})
	return nil
}

func (h *Handlers) apiRetry(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.RetryProvisioning(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, h.orderOut(r, o))
	return nil
}

func (h *Handlers) apiSubscriptions(w http.ResponseWriter, r *http.Request) error {
	status := r.URL.Query().Get("status")
	if status != "" && status != SubscriptionActive && status != SubscriptionCancelled {
		return apperr.Validation(map[string]string{"status": "status is active or cancelled."})
	}
	list, _, err := h.S.ListSubscriptions(r.Context(), principal(r), SubscriptionFilter{Status: status, Page: atoi(r.URL.Query().Get("page"), 1)})
	if err != nil {
		return err
	}
	out := []SubscriptionJSON{}
	for _, x := range list {
		out = append(out, subscriptionJSON(x))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiSubscription(w http.ResponseWriter, r *http.Request) error {
	x, err := h.S.GetSubscription(r.Context(), principal(r), r.PathValue("subscription"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, subscriptionJSON(x))
	return nil
}

func (h *Handlers) apiCancel(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	x, err := h.S.GetSubscription(ctx, p, r.PathValue("subscription"))
	if err != nil {
		return err
	}
	var in ReasonInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	var o Order
	if in.Side == "provider" || (in.Side == "" && h.S.Authz.CheckMember(ctx, p, authz.MarketAgreementSign, x.ProviderOrgID) == nil) {
		o, err = h.S.TerminateSubscription(ctx, p, x.ID, in.Reason)
	} else {
		o, err = h.S.CancelSubscription(ctx, p, x.ID, in.Reason)
	}
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, h.orderOut(r, o))
	return nil
}

func (h *Handlers) apiUsageTotals(w http.ResponseWriter, r *http.Request) error {
	x, err := h.S.GetSubscription(r.Context(), principal(r), r.PathValue("subscription"))
	if err != nil {
		return err
	}
	month := h.S.now()
	if v := r.URL.Query().Get("month"); v != "" {
		if month, err = time.Parse("2006-01", v); err != nil {
			return apperr.Validation(map[string]string{"month": "month is YYYY-MM."})
		}
	}
	totals, err := h.S.MonthUsage(r.Context(), principal(r), x.ID, month)
	if err != nil {
		return err
	}
	out := []UsageTotalJSON{}
	for _, t := range totals {
		out = append(out, UsageTotalJSON{Metric: t.Metric, Quantity: t.Quantity, AmountCents: t.Amount})
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiMods(w http.ResponseWriter, r *http.Request) error {
	mods, err := h.S.Modifications(r.Context(), principal(r), r.PathValue("subscription"))
	if err != nil {
		return err
	}
	out := []ModificationJSON{}
	for _, m := range mods {
		out = append(out, modificationJSON(m))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiModPropose(w http.ResponseWriter, r *http.Request) error {
	x, err := h.S.GetSubscription(r.Context(), principal(r), r.PathValue("subscription"))
	if err != nil {
		return err
	}
	var in ModificationInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	m, err := h.S.ProposeModification(r.Context(), principal(r), x.ID, ModificationInput{Side: partyOf(in.Side), Tier: maturity.Tier(in.Tier), Quantity: in.Quantity,
		Lines: linesFromJSON(in.Lines), Note: in.Note, Tracking: in.Tracking})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, modificationJSON(m))
	return nil
}

func (h *Handlers) apiModDecide(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := h.S.GetModification(r.Context(), principal(r), r.PathValue("modification")); err != nil {
		return err
	}
	var in DecisionInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	m, err := h.S.DecideModification(r.Context(), principal(r), r.PathValue("modification"), lifecycle.Action(in.Action), in.Tracking, in.Reason)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, modificationJSON(m))
	return nil
}

func (h *Handlers) apiExceptions(w http.ResponseWriter, r *http.Request) error {
	list, err := h.S.ListExceptions(r.Context(), principal(r), r.URL.Query().Get("status"))
	if err != nil {
		return err
	}
	out := []ExceptionJSON{}
	for _, e := range list {
		out = append(out, exceptionJSON(e))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiExceptionCreate(w http.ResponseWriter, r *http.Request) error {
	var in ExceptionInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	e, err := h.S.RequestException(r.Context(), principal(r), ExceptionInput{AgencyOrgID: agencyParam(r, in.AgencyID), AreaID: in.ServiceArea, Vendor: in.Vendor,
		Description: in.Description, Justification: in.Justification, AnnualCost: in.AnnualCostCents})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, exceptionJSON(e))
	return nil
}

func (h *Handlers) apiException(w http.ResponseWriter, r *http.Request) error {
	e, err := h.S.GetException(r.Context(), principal(r), r.PathValue("exception"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, exceptionJSON(e))
	return nil
}

func (h *Handlers) apiExceptionDecide(w http.ResponseWriter, r *http.Request) error {
	e, err := h.S.GetException(r.Context(), principal(r), r.PathValue("exception"))
	if err != nil {
		return err
	}
	var in DecisionInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	e, err = h.S.DecideException(r.Context(), principal(r), e.ID, lifecycle.Action(in.Action), in.Reason)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, exceptionJSON(e))
	return nil
}

// UsageFromJSON converts a metering body; it is the parser of the metering
// API's input (fuzzed).
func UsageFromJSON(in UsageInputJSON) UsageRecord {
	return UsageRecord{SubscriptionID: strings.TrimSpace(in.SubscriptionID), Metric: strings.TrimSpace(in.Metric), Quantity: in.Quantity,
		OccurredAt: in.OccurredAt, IdempotencyKey: strings.TrimSpace(in.IdempotencyKey)}
}

func (h *Handlers) apiUsage(w http.ResponseWriter, r *http.Request) error {
	var in UsageInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	u, replayed, err := h.S.RecordUsageAs(r.Context(), principal(r), UsageFromJSON(in))
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	web.JSON(w, status, UsageJSON{ID: u.ID, SubscriptionID: u.SubscriptionID, Metric: u.Metric, Quantity: u.Quantity, OccurredAt: u.OccurredAt,
		IdempotencyKey: u.IdempotencyKey, RecordedAt: u.RecordedAt, Replayed: replayed})
	return nil
}

func (h *Handlers) apiStatements(w http.ResponseWriter, r *http.Request) error {
	period := r.URL.Query().Get("period")
	if period != "" {
		if _, err := time.Parse("2006-01", period); err != nil {
			return apperr.Validation(map[string]string{"period": "period is YYYY-MM."})
		}
	}
	list, err := h.S.ListStatements(r.Context(), principal(r), period)
	if err != nil {
		return err
	}
	out := []StatementJSON{}
	for _, st := range list {
		out = append(out, statementJSON(st, false))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiIssue(w http.ResponseWriter, r *http.Request) error {
	var in IssueInputJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	month, err := time.Parse("2006-01", in.Month)
	if err != nil {
		return apperr.Validation(map[string]string{"month": "month is YYYY-MM."})
	}
	n, err := h.S.IssueStatements(r.Context(), principal(r), month)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, IssuedJSON{Issued: n})
	return nil
}

func (h *Handlers) apiStatement(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStatement(r.Context(), principal(r), r.PathValue("statement"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, statementJSON(st, true))
	return nil
}

func (h *Handlers) apiAvoidance(w http.ResponseWriter, r *http.Request) error {
	now := h.S.now()
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	if from == "" {
		from = now.AddDate(0, -12, 0).Format("2006-01")
	}
	if to == "" {
		to = now.AddDate(0, -1, 0).Format("2006-01")
	}
	for k, v := range map[string]string{"from": from, "to": to} {
		if _, err := time.Parse("2006-01", v); err != nil {
			return apperr.Validation(map[string]string{k: k + " is YYYY-MM."})
		}
	}
	rep, err := h.S.CostAvoidanceReport(r.Context(), principal(r), from, to)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, avoidanceJSON(rep))
	return nil
}

func (h *Handlers) apiBaselines(w http.ResponseWriter, r *http.Request) error {
	office, err := h.S.OfficeID(r.Context())
	if err != nil {
		return err
	}
	if err := h.S.actFor(r.Context(), principal(r), authz.MarketBillingRead, office, "Baselines are the office's."); err != nil {
		return err
	}
	bs, err := h.S.Baselines(r.Context())
	if err != nil {
		return err
	}
	out := []BaselineJSON{}
	for _, b := range bs {
		out = append(out, BaselineJSON{ServiceArea: b.AreaID, Tier: string(b.Tier), MonthlyCents: b.Monthly, Note: b.Note})
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiBaselineSet(w http.ResponseWriter, r *http.Request) error {
	var in BaselineJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := h.S.SetBaseline(r.Context(), principal(r), in.ServiceArea, maturity.Tier(in.Tier), in.MonthlyCents, in.Note); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, in)
	return nil
}

func (h *Handlers) apiOfficeDash(w http.ResponseWriter, r *http.Request) error {
	d, err := h.S.OfficeDashboard(r.Context(), principal(r))
	if err != nil {
		return err
	}
	count := func(xs []NamedCount) []CountJSON {
		out := []CountJSON{}
		for _, x := range xs {
			out = append(out, CountJSON{Key: x.Key, Label: x.Label, Count: x.Count})
		}
		return out
	}
	out := OfficeDashJSON{AsOf: d.AsOf, Listed: d.Listed, InReview: d.InReview, ActiveSubs: d.ActiveSubs, Agencies: d.Agencies, OpenOrders: d.OpenOrders, Overdue: d.Overdue,
		AdoptionByArea: count(d.AdoptionByArea), AdoptionByAgency: count(d.AdoptionByAgency), OnboardByArea: []MedianJSON{}, SLA: []SLAJSON{},
		Conformance: []ConformanceAreaJSON{}, Avoidance: avoidanceJSON(d.Avoidance)}
	for _, m := range d.OnboardByArea {
		out.OnboardByArea = append(out.OnboardByArea, MedianJSON(m))
	}
	for _, s := range d.SLA {
		out.SLA = append(out.SLA, SLAJSON{Step: s.Label, OnTime: s.OnTime, Total: s.Total, Percent: s.Percent()})
	}
	for _, c := range d.Conformance {
		out.Conformance = append(out.Conformance, ConformanceAreaJSON{ServiceArea: c.AreaID, Standard: c.Standard, Listed: c.Listed, Conformant: c.Conformant})
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiAgencyDash(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	m, err := agencyOf(p)
	if err != nil {
		return err
	}
	d, err := h.S.AgencyDashboard(r.Context(), p, m.OrgID)
	if err != nil {
		return err
	}
	out := AgencyDashJSON{AgencyID: d.AgencyID, Subscriptions: []SubscriptionJSON{}, InFlight: []OrderJSON{}, Spend: []StatementJSON{}, RunningCents: d.Running.Total,
		AvoidedCents: d.Avoidance.Total.Avoided(), Recommendations: []RecommendationJSON{}}
	for _, x := range d.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, subscriptionJSON(x))
	}
	for _, o := range d.InFlight {
		out.InFlight = append(out.InFlight, orderJSON(o, nil))
	}
	for _, st := range d.Spend {
		out.Spend = append(out.Spend, statementJSON(st, false))
	}
	for _, a := range d.Recommendations {
		if a.Top != nil {
			out.Recommendations = append(out.Recommendations, recommendationJSON(*a.Top))
		}
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiProviderDash(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	d, err := h.S.ProviderDashboard(r.Context(), p, activeOrg(p).OrgID)
	if err != nil {
		return err
	}
	out := ProviderDashJSON{ProviderID: d.ProviderID, Offerings: []OfferingJSON{}, ToFulfil: []OrderJSON{}, ActiveSubs: d.ActiveSubs, Agencies: d.Agencies}
	for _, o := range d.Offerings {
		out.Offerings = append(out.Offerings, offeringJSON(o.Offering, nil, o.CX))
	}
	for _, o := range d.ToFulfil {
		out.ToFulfil = append(out.ToFulfil, orderJSON(o, nil))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}
