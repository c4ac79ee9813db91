package cx

import (
	"net/http"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/web"
)

// SurveyJSON is a survey sent to an organization.
type SurveyJSON struct {
	ID             string    `json:"id"`
	OrgID          string    `json:"org_id"`
	Org            string    `json:"org"`
	Stage          string    `json:"stage" doc:"needs, procurement, execution or delivery"`
	ServiceArea    string    `json:"service_area"`
	Service        string    `json:"service"`
	OfferingID     string    `json:"offering_id,omitempty"`
	Offering       string    `json:"offering,omitempty"`
	ProviderID     string    `json:"provider_id,omitempty"`
	Provider       string    `json:"provider,omitempty"`
	OrderID        string    `json:"order_id,omitempty"`
	SubscriptionID string    `json:"subscription_id,omitempty"`
	TrustQuestion  string    `json:"trust_question"`
	ClassicItems   bool      `json:"classic_items" doc:"whether the seven classic five-point items were asked"`
	Source         string    `json:"source" doc:"lifecycle (sent by a lifecycle step) or office (sent by hand)"`
	Quarter        string    `json:"quarter" doc:"federal fiscal quarter, like FY2026Q3"`
	CreatedAt      time.Time `json:"created_at"`
	ClosesAt       time.Time `json:"closes_at"`
	Offered        int       `json:"offered" doc:"people asked"`
	Responses      int       `json:"responses"`
}

func surveyJSON(sv Survey) SurveyJSON {
	return SurveyJSON{ID: sv.ID, OrgID: sv.OrgID, Org: sv.OrgName, Stage: string(sv.Stage), ServiceArea: sv.ServiceArea, Service: sv.ServiceName,
		OfferingID: sv.OfferingID, Offering: sv.OfferingName, ProviderID: sv.ProviderID, Provider: sv.ProviderName, OrderID: sv.OrderID,
		SubscriptionID: sv.SubscriptionID, TrustQuestion: sv.TrustQuestion, ClassicItems: sv.Classic, Source: sv.Source, Quarter: sv.Quarter.String(),
		CreatedAt: sv.CreatedAt, ClosesAt: sv.ClosesAt, Offered: sv.Offered, Responses: sv.Responses}
}

// SurveyDetailJSON is a survey with its responses.
type SurveyDetailJSON struct {
	SurveyJSON
	Answers []ResponseJSON `json:"answers"`
}

// SendJSON is the body of POST /api/v1/cx/surveys.
type SendJSON struct {
	OrgID       string `json:"org_id" doc:"an agency or a provider"`
	Stage       string `json:"stage" doc:"needs, procurement, execution or delivery"`
	ServiceArea string `json:"service_area"`
	OfferingID  string `json:"offering_id,omitempty"`
	ProviderID  string `json:"provider_id,omitempty"`
}

// AnswerJSON is an answer to the A-11 instrument. Every question is
// optional, but at least one must be answered.
type AnswerJSON struct {
	Trust    string         `json:"trust,omitempty" doc:"up or down"`
	WentWell []string       `json:"went_well,omitempty" doc:"drivers: effectiveness, ease, efficiency, transparency, humanity, employee, other"`
	NotWell  []string       `json:"not_well,omitempty" doc:"drivers, as went_well"`
	Comment  string         `json:"comment,omitempty" doc:"free text, at most 2000 characters"`
	Classic  map[string]int `json:"classic,omitempty" doc:"classic item (satisfaction, confidence, effectiveness, ease, efficiency, equity, employee) -> 1 (strongly disagree) to 5 (strongly agree), when the survey asks them"`
}

func (a AnswerJSON) raw() a11.Raw {
	r := a11.Raw{Trust: a.Trust, WentWell: a.WentWell, NotWell: a.NotWell, Comment: a.Comment, Classic: map[string]string{}}
	for k, v := range a.Classic {
		r.Classic[k] = itoa(v)
	}
	return r
}

func answerJSON(a a11.Answer) AnswerJSON {
	out := AnswerJSON{Trust: a.Trust.Key(), WentWell: a.WentWell.Keys(), NotWell: a.NotWell.Keys(), Comment: a.Comment}
	for i, c := range a11.ClassicItems {
		if a.Classic[i] != 0 {
			if out.Classic == nil {
				out.Classic = map[string]int{}
			}
			out.Classic[c.Key] = int(a.Classic[i])
		}
	}
	return out
}

// ResponseJSON is one answered invitation.
type ResponseJSON struct {
	ID          string     `json:"id"`
	SurveyID    string     `json:"survey_id"`
	OrgID       string     `json:"org_id"`
	Channel     string     `json:"channel" doc:"web, email or api"`
	Quarter     string     `json:"quarter"`
	SubmittedAt time.Time  `json:"submitted_at"`
	Answer      AnswerJSON `json:"answer"`
}

func responseJSON(r Response) ResponseJSON {
	return ResponseJSON{ID: r.ID, SurveyID: r.SurveyID, OrgID: r.OrgID, Channel: string(r.Channel), Quarter: r.Quarter.String(), SubmittedAt: r.SubmittedAt,
		Answer: answerJSON(r.Answer)}
}

// InvitationJSON asks one person to answer a survey.
type InvitationJSON struct {
	ID          string     `json:"id"`
	Survey      SurveyJSON `json:"survey"`
	UserName    string     `json:"user_name,omitempty" doc:"for tokens that may read the organization's people"`
	UserEmail   string     `json:"user_email,omitempty" doc:"for tokens that may read the organization's people"`
	ExpiresAt   time.Time  `json:"expires_at"`
	RespondedAt time.Time  `json:"responded_at,omitzero"`
	Open        bool       `json:"open"`
}

// FeedbackJSON is a feedback item.
type FeedbackJSON struct {
	ID          string              `json:"id"`
	OrgID       string              `json:"org_id"`
	Org         string              `json:"org"`
	Kind        string              `json:"kind" doc:"idea, problem or praise"`
	Title       string              `json:"title"`
	Body        string              `json:"body,omitempty"`
	ServiceArea string              `json:"service_area,omitempty"`
	State       string              `json:"state" doc:"received, under_review, planned, done or wont_do"`
	Reason      string              `json:"reason,omitempty" doc:"why it won't be done"`
	Submitter   string              `json:"submitter"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	ClosedAt    time.Time           `json:"closed_at,omitzero"`
	Events      []FeedbackEventJSON `json:"events,omitempty"`
	ChangeIDs   []string            `json:"change_ids,omitempty" doc:"the \"you said, we did\" entries that answer it"`
}

// FeedbackEventJSON is one step of an item's history.
type FeedbackEventJSON struct {
	From  string    `json:"from,omitempty"`
	To    string    `json:"to"`
	Note  string    `json:"note,omitempty"`
	Actor string    `json:"actor"`
	At    time.Time `json:"at"`
}

func feedbackJSON(f Feedback) FeedbackJSON {
	out := FeedbackJSON{ID: f.ID, OrgID: f.OrgID, Org: f.OrgName, Kind: string(f.Kind), Title: f.Title, Body: f.Body, ServiceArea: f.ServiceArea,
		State: string(f.State), Reason: f.Reason, Submitter: f.Submitter, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, ClosedAt: f.ClosedAt}
	for _, ev := range f.Events {
		out.Events = append(out.Events, FeedbackEventJSON{From: string(ev.From), To: string(ev.To), Note: ev.Note, Actor: ev.Actor, At: ev.At})
	}
	for _, c := range f.Changes {
		out.ChangeIDs = append(out.ChangeIDs, c.ID)
	}
	return out
}

// FeedbackCreateJSON is the body of POST /api/v1/cx/feedback.
type FeedbackCreateJSON struct {
	OrgID       string `json:"org_id,omitempty" doc:"default: the token's organization"`
	Kind        string `json:"kind" doc:"idea, problem or praise"`
	Title       string `json:"title"`
	Body        string `json:"body,omitempty"`
	ServiceArea string `json:"service_area,omitempty"`
}

// TransitionJSON is the body of POST /api/v1/cx/feedback/{feedback}/transitions.
type TransitionJSON struct {
	State string `json:"state" doc:"under_review, planned, done or wont_do"`
	Note  string `json:"note,omitempty" doc:"told to the submitter; required (the reason) for wont_do"`
}

// RefJSON is a typed reference to the record a change changed.
type RefJSON struct {
	Kind  string `json:"kind" doc:"offering, standard_version, service or other"`
	ID    string `json:"id,omitempty"`
	Label string `json:"label"`
	URL   string `json:"url,omitempty" doc:"a path in the portal or an https address"`
}

// FigureJSON is a before/after figure.
type FigureJSON struct {
	Metric         string  `json:"metric"`
	Before         float64 `json:"before"`
	After          float64 `json:"after"`
	Unit           string  `json:"unit,omitempty"`
	HigherIsBetter bool    `json:"higher_is_better"`
}

// ChangeJSON is a "you said, we did" entry.
type ChangeJSON struct {
	ID             string      `json:"id"`
	Title          string      `json:"title"`
	Summary        string      `json:"summary"`
	Ref            *RefJSON    `json:"ref,omitempty"`
	Figure         *FigureJSON `json:"figure,omitempty"`
	ServiceArea    string      `json:"service_area,omitempty"`
	Audience       string      `json:"audience" doc:"everyone or linked"`
	FeedbackIDs    []string    `json:"feedback_ids" doc:"linked feedback the caller may read"`
	HiddenFeedback int         `json:"hidden_feedback" doc:"linked feedback of other organizations"`
	CreatedAt      time.Time   `json:"created_at"`
}

func changeJSON(c Change) ChangeJSON {
	out := ChangeJSON{ID: c.ID, Title: c.Title, Summary: c.Summary, ServiceArea: c.ServiceArea, Audience: string(c.Audience), FeedbackIDs: []string{},
		HiddenFeedback: c.Hidden, CreatedAt: c.CreatedAt}
	if c.Ref.Kind != "" {
		out.Ref = &RefJSON{Kind: string(c.Ref.Kind), ID: c.Ref.ID, Label: c.Ref.Label, URL: c.Ref.URL}
	}
	if c.Figure.Set() {
		f := c.Figure
		out.Figure = &FigureJSON{Metric: f.Metric, Before: f.Before, After: f.After, Unit: f.Unit, HigherIsBetter: f.HigherIsBetter}
	}
	for _, f := range c.Feedback {
		out.FeedbackIDs = append(out.FeedbackIDs, f.ID)
	}
	return out
}

// ChangeCreateJSON is the body of POST /api/v1/cx/changes.
type ChangeCreateJSON struct {
	Title       string      `json:"title"`
	Summary     string      `json:"summary"`
	Ref         *RefJSON    `json:"ref,omitempty"`
	Figure      *FigureJSON `json:"figure,omitempty"`
	ServiceArea string      `json:"service_area,omitempty"`
	Audience    string      `json:"audience" doc:"everyone or linked"`
	FeedbackIDs []string    `json:"feedback_ids,omitempty"`
}

// GroupJSON is scores added up under one key.
type GroupJSON struct {
	Key              string         `json:"key"`
	Label            string         `json:"label"`
	Offered          int            `json:"offered"`
	Responses        int            `json:"responses"`
	ResponseRate     *int           `json:"response_rate_percent,omitempty"`
	TrustUp          int            `json:"trust_up"`
	TrustDown        int            `json:"trust_down"`
	Trust            *int           `json:"trust_percent,omitempty" doc:"thumbs up among those who answered the trust question; absent without answers"`
	WentWellAnswered int            `json:"went_well_answered"`
	NotWellAnswered  int            `json:"not_well_answered"`
	WentWell         map[string]int `json:"went_well" doc:"driver -> people who named it"`
	NotWell          map[string]int `json:"not_well"`
}

func pct(r a11.Ratio) *int {
	if !r.Valid() {
		return nil
	}
	v := r.Percent()
	return &v
}

func groupJSON(g Group) GroupJSON {
	t := g.Tally
	out := GroupJSON{Key: g.Key, Label: g.Label, Offered: g.Offered, Responses: t.Responses, ResponseRate: pct(g.ResponseRate()), TrustUp: t.TrustUp,
		TrustDown: t.TrustDown, Trust: pct(t.Trust()), WentWellAnswered: t.WentWellN, NotWellAnswered: t.NotWellN,
		WentWell: map[string]int{}, NotWell: map[string]int{}}
	for _, d := range a11.Drivers {
		out.WentWell[d.Key()] = t.WentWell[d]
		out.NotWell[d.Key()] = t.NotWell[d]
	}
	return out
}

// ReportJSON is the CX dashboard's data.
type ReportJSON struct {
	From     string      `json:"from"`
	To       string      `json:"to"`
	By       string      `json:"by,omitempty"`
	Total    GroupJSON   `json:"total"`
	Quarters []GroupJSON `json:"quarters"`
	Groups   []GroupJSON `json:"groups,omitempty" doc:"one per key of by"`
}

// CollectionJSON is one line of a quarter's collection summary.
type CollectionJSON struct {
	ServiceArea   string `json:"service_area"`
	Service       string `json:"service"`
	Stage         string `json:"stage"`
	Provider      string `json:"provider"`
	Offering      string `json:"offering,omitempty"`
	TrustQuestion string `json:"trust_question"`
	Offered       int    `json:"offered"`
	Responses     int    `json:"responses"`
	TrustUp       int    `json:"trust_up"`
	TrustDown     int    `json:"trust_down"`
}

// ExportJSON is a quarter's A-11 data collection.
type ExportJSON struct {
	Quarter    string           `json:"quarter"`
	Offered    int              `json:"offered"`
	Responses  int              `json:"responses"`
	Collection []CollectionJSON `json:"collection"`
	Columns    []string         `json:"columns" doc:"the 17 columns of the A-11 layout"`
	Rows       [][]string       `json:"rows" doc:"one per response, cells as in the CSV: 1, 0 or empty"`
}

// SettingsJSON are the survey settings.
type SettingsJSON struct {
	TrustQuestion string `json:"trust_question" doc:"[office] is replaced by the office's name"`
	ClassicItems  bool   `json:"classic_items"`
}

var reportQuery = []web.Param{
	{Name: "from", Description: "first quarter, like FY2026Q1 (default: three quarters before to)"},
	{Name: "to", Description: "last quarter (default: the current one)"},
	{Name: "stage", Enum: []string{"needs", "procurement", "execution", "delivery"}},
	{Name: "service", Description: "service area key"},
	{Name: "provider", Description: "provider organization ID"},
	{Name: "offering", Description: "offering ID"},
	{Name: "by", Enum: []string{"stage", "service", "provider", "offering", "quarter"}, Description: "also return groups along this dimension"},
}

func (h *Handlers) registerAPI(r *web.Router) {
	const tag = "Customer experience"
	r.API("GET /api/v1/cx/surveys", web.Doc{Summary: "List surveys sent (office)", Tag: tag, Response: []SurveyJSON{},
		Query: []web.Param{{Name: "stage", Enum: []string{"needs", "procurement", "execution", "delivery"}}, {Name: "quarter", Description: "like FY2026Q3"}, {Name: "org", Description: "organization ID"}}}, h.apiSurveys)
	r.API("POST /api/v1/cx/surveys", web.Doc{Summary: "Send a survey to an organization (office)", Tag: tag, Request: SendJSON{}, Response: SurveyJSON{}, Status: http.StatusCreated}, h.apiSend)
	r.API("GET /api/v1/cx/surveys/{survey}", web.Doc{Summary: "Get a survey with its answers (office)", Tag: tag, Response: SurveyDetailJSON{}}, h.apiSurvey)
	r.API("GET /api/v1/cx/invitations", web.Doc{Summary: "List the survey invitations of the token's organization", Tag: tag, Response: []InvitationJSON{},
		Query: []web.Param{{Name: "open", Type: "boolean", Description: "only those that can still be answered (default true)"}}}, h.apiInvitations)
	r.API("POST /api/v1/cx/invitations/{survey_invitation}/response", web.Doc{Summary: "Answer an invitation for one of the organization's people",
		Description: "Relays an answer collected by the organization's own system; it is recorded with channel api. One answer per invitation.",
		Tag:         tag, Request: AnswerJSON{}, Response: ResponseJSON{}, Status: http.StatusCreated}, h.apiRespond)
	r.API("GET /api/v1/cx/report", web.Doc{Summary: "CX scores: trust, drivers and response rate by quarter (office; providers for their offerings)", Tag: tag,
		Response: ReportJSON{}, Query: reportQuery}, h.apiReport)
	r.API("GET /api/v1/cx/export", web.Doc{Summary: "A quarter's A-11 data collection (office)", Tag: tag, Response: ExportJSON{},
		Query: []web.Param{{Name: "quarter", Description: "like FY2026Q3 (default: the last complete quarter)"}}}, h.apiExport)
	r.API("GET /api/v1/cx/export/responses.csv", web.Doc{Summary: "A quarter's responses in the 17-column A-11 layout (office)", Tag: tag, Response: "", ContentType: "text/csv",
		Query: []web.Param{{Name: "quarter", Description: "like FY2026Q3"}}}, h.exportResponsesCSV)
	r.API("GET /api/v1/cx/export/collection.csv", web.Doc{Summary: "A quarter's customers offered and respondents by service and stage (office)", Tag: tag, Response: "", ContentType: "text/csv",
		Query: []web.Param{{Name: "quarter", Description: "like FY2026Q3"}}}, h.exportCollectionCSV)
	r.API("GET /api/v1/cx/export/a11.zip", web.Doc{Summary: "A quarter's two A-11 files in one ZIP archive (office)", Tag: tag, Response: "", ContentType: "application/zip",
		Query: []web.Param{{Name: "quarter", Description: "like FY2026Q3"}}}, h.exportZip)
	r.API("GET /api/v1/cx/feedback", web.Doc{Summary: "List feedback items (the office sees all, others their organization's)", Tag: tag, Response: []FeedbackJSON{},
		Query: []web.Param{{Name: "state", Enum: []string{"open", "received", "under_review", "planned", "done", "wont_do"}}, {Name: "kind", Enum: []string{"idea", "problem", "praise"}}, {Name: "q", Description: "words in the title or details"}}}, h.apiFeedbackList)
	r.API("POST /api/v1/cx/feedback", web.Doc{Summary: "Submit a feedback item", Tag: tag, Request: FeedbackCreateJSON{}, Response: FeedbackJSON{}, Status: http.StatusCreated}, h.apiFeedbackCreate)
	r.API("GET /api/v1/cx/feedback/{feedback}", web.Doc{Summary: "Get a feedback item with its history", Tag: tag, Response: FeedbackJSON{}}, h.apiFeedback)
	r.API("POST /api/v1/cx/feedback/{feedback}/transitions", web.Doc{Summary: "Move a feedback item to another state (office); the submitter is told", Tag: tag,
		Request: TransitionJSON{}, Response: FeedbackJSON{}}, h.apiFeedbackMove)
	r.API("GET /api/v1/cx/changes", web.Doc{Summary: "List \"you said, we did\" entries", Tag: tag, Response: []ChangeJSON{}}, h.apiChanges)
	r.API("POST /api/v1/cx/changes", web.Doc{Summary: "Post a \"you said, we did\" entry (office)", Tag: tag, Request: ChangeCreateJSON{}, Response: ChangeJSON{}, Status: http.StatusCreated}, h.apiChangeCreate)
	r.API("GET /api/v1/cx/changes/{change}", web.Doc{Summary: "Get a \"you said, we did\" entry", Tag: tag, Response: ChangeJSON{}}, h.apiChange)
	r.API("GET /api/v1/cx/settings", web.Doc{Summary: "Get the survey settings (office)", Tag: tag, Response: SettingsJSON{}}, h.apiSettings)
	r.API("PUT /api/v1/cx/settings", web.Doc{Summary: "Change the survey settings (office admins)", Tag: tag, Request: SettingsJSON{}, Response: SettingsJSON{}}, h.apiSettingsSave)
}

func (h *Handlers) apiSurveys(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	if err := h.S.checkOffice(r.Context(), p, authz.CXSurveyRead); err != nil {
		return err
	}
	q := r.URL.Query()
	f := SurveyFilter{OrgID: q.Get("org")}
	if v := q.Get("stage"); v != "" {
		if f.Stage = Stage(v); !f.Stage.Valid() {
			return apperr.Validation(map[string]string{"stage": "stage is needs, procurement, execution or delivery."})
		}
	}
	if v := q.Get("quarter"); v != "" {
		var err error
		if f.Quarter, err = a11.ParseQuarter(v); err != nil {
			return apperr.Validation(map[string]string{"quarter": "Give the quarter like FY2026Q3."})
		}
	}
	list, err := h.S.ListSurveys(r.Context(), p, f)
	if err != nil {
		return err
	}
	out := []SurveyJSON{}
	for _, sv := range list {
		out = append(out, surveyJSON(sv))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiSend(w http.ResponseWriter, r *http.Request) error {
	var in SendJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	sv, err := h.S.Send(r.Context(), web.PrincipalFrom(r.Context()), SendInput{OrgID: in.OrgID, Stage: Stage(in.Stage), ServiceArea: in.ServiceArea,
		OfferingID: in.OfferingID, ProviderID: in.ProviderID})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, surveyJSON(sv))
	return nil
}

func (h *Handlers) apiSurvey(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	sv, err := h.S.GetSurvey(r.Context(), p, r.PathValue("survey"))
	if err != nil {
		return err
	}
	rsps, err := h.S.SurveyResponses(r.Context(), p, sv.ID)
	if err != nil {
		return err
	}
	out := SurveyDetailJSON{SurveyJSON: surveyJSON(sv), Answers: []ResponseJSON{}}
	for _, rsp := range rsps {
		out.Answers = append(out.Answers, responseJSON(rsp))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiInvitations(w http.ResponseWriter, r *http.Request) error {
	open := true
	switch r.URL.Query().Get("open") {
	case "", "true", "1":
	case "false", "0":
		open = false
	default:
		return apperr.Validation(map[string]string{"open": "open is true or false."})
	}
	list, err := h.S.OrgInvitations(r.Context(), web.PrincipalFrom(r.Context()), InvitationFilter{OpenOnly: open, Limit: 500})
	if err != nil {
		return err
	}
	now := h.S.DB.Now()
	p := web.PrincipalFrom(r.Context())
	people := map[string]bool{} // organization -> whether the caller may read its people
	out := []InvitationJSON{}
	for _, inv := range list {
		j := InvitationJSON{ID: inv.ID, Survey: surveyJSON(inv.Survey), ExpiresAt: inv.ExpiresAt, RespondedAt: inv.RespondedAt, Open: inv.Open(now)}
		may, ok := people[inv.OrgID]
		if !ok {
			may = h.K.Authz.Can(r.Context(), p, authz.UserRead, inv.OrgID)
			people[inv.OrgID] = may
		}
		if may {
			j.UserName, j.UserEmail = inv.UserName, inv.UserEmail
		}
		out = append(out, j)
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiRespond(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	// Find the invitation first: another organization's answers exactly
	// like a missing one, whatever the body.
	if _, err := h.S.InvitationForOrg(r.Context(), p, r.PathValue("survey_invitation")); err != nil {
		return err
	}
	var in AnswerJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	rsp, err := h.S.RespondByAPI(r.Context(), p, r.PathValue("survey_invitation"), in.raw())
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, responseJSON(rsp))
	return nil
}

func (h *Handlers) apiReport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	errs := map[string]string{}
	for _, name := range []string{"from", "to"} {
		if v := q.Get(name); v != "" {
			if _, err := a11.ParseQuarter(v); err != nil {
				errs[name] = "Give the quarter like FY2026Q3."
			}
		}
	}
	if v := q.Get("stage"); v != "" && !Stage(v).Valid() {
		errs["stage"] = "stage is needs, procurement, execution or delivery."
	}
	by := Dimension(q.Get("by"))
	if !by.Valid() {
		errs["by"] = "by is stage, service, provider, offering or quarter."
	}
	if len(errs) > 0 {
		return apperr.Validation(errs)
	}
	rep, err := h.S.Report(r.Context(), web.PrincipalFrom(r.Context()), reportFilter(q))
	if err != nil {
		return err
	}
	out := ReportJSON{From: rep.Filter.From.String(), To: rep.Filter.To.String(), By: string(by), Total: groupJSON(rep.Total()), Quarters: []GroupJSON{}}
	for _, g := range rep.By(ByQuarter) {
		out.Quarters = append(out.Quarters, groupJSON(g))
	}
	if by != ByNothing {
		for _, g := range rep.By(by) {
			out.Groups = append(out.Groups, groupJSON(g))
		}
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiExport(w http.ResponseWriter, r *http.Request) error {
	q, err := h.exportQuarter(r)
	if err != nil {
		return err
	}
	ex, err := h.S.Export(r.Context(), web.PrincipalFrom(r.Context()), q)
	if err != nil {
		return err
	}
	out := ExportJSON{Quarter: q.String(), Offered: ex.Offered, Responses: ex.Responses, Collection: []CollectionJSON{}, Columns: a11.Header, Rows: [][]string{}}
	for _, c := range ex.Collection {
		out.Collection = append(out.Collection, CollectionJSON{ServiceArea: c.ServiceArea, Service: c.ServiceName, Stage: c.Stage, Provider: c.Provider,
			Offering: c.Offering, TrustQuestion: c.TrustQuestion, Offered: c.Offered, Responses: c.Responses, TrustUp: c.TrustUp, TrustDown: c.TrustDown})
	}
	for _, row := range ex.Rows {
		out.Rows = append(out.Rows, row.Record())
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiFeedbackList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := FeedbackFilter{Query: q.Get("q")}
	switch st := q.Get("state"); {
	case st == "":
	case st == "open":
		f.OpenOnly = true
	case FeedbackState(st).Valid():
		f.State = FeedbackState(st)
	default:
		return apperr.Validation(map[string]string{"state": "state is open, received, under_review, planned, done or wont_do."})
	}
	if k := q.Get("kind"); k != "" {
		if f.Kind = FeedbackKind(k); !f.Kind.Valid() {
			return apperr.Validation(map[string]string{"kind": "kind is idea, problem or praise."})
		}
	}
	list, err := h.S.ListFeedback(r.Context(), web.PrincipalFrom(r.Context()), f)
	if err != nil {
		return err
	}
	out := []FeedbackJSON{}
	for _, fb := range list {
		out = append(out, feedbackJSON(fb))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiFeedbackCreate(w http.ResponseWriter, r *http.Request) error {
	var in FeedbackCreateJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	fb, err := h.S.SubmitFeedback(r.Context(), web.PrincipalFrom(r.Context()), FeedbackInput{OrgID: in.OrgID, Kind: FeedbackKind(in.Kind), Title: in.Title,
		Body: in.Body, ServiceArea: in.ServiceArea})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, feedbackJSON(fb))
	return nil
}

func (h *Handlers) apiFeedback(w http.ResponseWriter, r *http.Request) error {
	fb, err := h.S.GetFeedback(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("feedback"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, feedbackJSON(fb))
	return nil
}

func (h *Handlers) apiFeedbackMove(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	if _, err := h.S.GetFeedback(r.Context(), p, r.PathValue("feedback")); err != nil {
		return err
	}
	var in TransitionJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	fb, err := h.S.MoveFeedback(r.Context(), p, r.PathValue("feedback"), FeedbackState(in.State), in.Note)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, feedbackJSON(fb))
	return nil
}

func (h *Handlers) apiChanges(w http.ResponseWriter, r *http.Request) error {
	list, err := h.S.ListChanges(r.Context(), web.PrincipalFrom(r.Context()), ChangeFilter{})
	if err != nil {
		return err
	}
	out := []ChangeJSON{}
	for _, c := range list {
		out = append(out, changeJSON(c))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiChangeCreate(w http.ResponseWriter, r *http.Request) error {
	var in ChangeCreateJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	ci := ChangeInput{Title: in.Title, Summary: in.Summary, ServiceArea: in.ServiceArea, Audience: Audience(in.Audience), FeedbackIDs: in.FeedbackIDs}
	if in.Ref != nil {
		ci.Ref = Ref{Kind: RefKind(in.Ref.Kind), ID: in.Ref.ID, Label: in.Ref.Label, URL: in.Ref.URL}
	}
	if f := in.Figure; f != nil {
		ci.Figure = &Figure{Metric: f.Metric, Before: f.Before, After: f.After, Unit: f.Unit, HigherIsBetter: f.HigherIsBetter}
	}
	c, err := h.S.PostChange(r.Context(), web.PrincipalFrom(r.Context()), ci)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, changeJSON(c))
	return nil
}

func (h *Handlers) apiChange(w http.ResponseWriter, r *http.Request) error {
	c, err := h.S.GetChange(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("change"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, changeJSON(c))
	return nil
}

func (h *Handlers) apiSettings(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.checkOffice(r.Context(), web.PrincipalFrom(r.Context()), authz.CXSurveyRead); err != nil {
		return err
	}
	st, err := h.S.Settings(r.Context())
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, SettingsJSON{TrustQuestion: st.TrustQuestion, ClassicItems: st.Classic})
	return nil
}

func (h *Handlers) apiSettingsSave(w http.ResponseWriter, r *http.Request) error {
	var in SettingsJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	st, err := h.S.UpdateSettings(r.Context(), web.PrincipalFrom(r.Context()), Settings{TrustQuestion: in.TrustQuestion, Classic: in.ClassicItems})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, SettingsJSON{TrustQuestion: st.TrustQuestion, ClassicItems: st.Classic})
	return nil
}
