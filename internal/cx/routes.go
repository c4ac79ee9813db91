package cx

import (
	"embed"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Handlers serve the customer-experience pages and API.
type Handlers struct {
	S *Service
	K *web.Kit
	V *web.Views
}

// NewHandlers parses the templates and returns the handlers.
func NewHandlers(s *Service, k *web.Kit) *Handlers {
	return &Handlers{S: s, K: k, V: k.MustViews(templateFS)}
}

// Register adds the routes, the navigation entry and the dashboard cards.
func (h *Handlers) Register(r *web.Router) {
	r.Page("GET /cx", h.overview)

	// Surveys: the office sends them; people answer them signed in or
	// from the one-time link in their email.
	r.Page("GET /cx/surveys", h.surveyList)
	r.Page("GET /cx/surveys/new", h.surveyNewForm)
	r.Page("POST /cx/surveys", h.surveySend)
	r.Page("GET /cx/surveys/{survey}", h.surveyShow)
	r.Page("GET /cx/invitations/{survey_invitation}", h.answerForm)
	r.Page("POST /cx/invitations/{survey_invitation}", h.answer)
	r.PublicPage("GET /cx/answer/{secret}", h.answerLinkForm)
	r.PublicPage("POST /cx/answer/{secret}", h.answerLink)

	// Feedback items and "you said, we did".
	r.Page("GET /cx/feedback", h.feedbackList)
	r.Page("GET /cx/feedback/new", h.feedbackNewForm)
	r.Page("POST /cx/feedback", h.feedbackSubmit)
	r.Page("GET /cx/feedback/{feedback}", h.feedbackShow)
	r.Page("POST /cx/feedback/{feedback}/state", h.feedbackMove)
	r.Page("GET /cx/changes", h.changeList)
	r.Page("GET /cx/changes/new", h.changeNewForm)
	r.Page("POST /cx/changes", h.changePost)
	r.Page("GET /cx/changes/{change}", h.changeShow)

	// The office's A-11 export and survey settings.
	r.Page("GET /cx/export", h.exportPage)
	r.Page("GET /cx/export/responses.csv", h.exportResponsesCSV)
	r.Page("GET /cx/export/collection.csv", h.exportCollectionCSV)
	r.Page("GET /cx/export/a11.zip", h.exportZip)
	r.Page("GET /cx/settings", h.settingsForm)
	r.Page("POST /cx/settings", h.settingsSave)

	h.registerAPI(r)

	h.K.AddNav(web.NavItem{Label: "Customer experience", Href: "/cx", Order: 70,
		Visible: func(p *authz.Principal) bool {
			return authz.CanAnywhere(p, authz.CXFeedbackRead) || authz.CanAnywhere(p, authz.CXReportRead)
		}})
	h.K.AddCards(h.cards)
}

// side is the section's side navigation.
var side = &web.SideNav{Title: "Customer experience", Items: []web.NavItem{
	{Label: "Overview", Href: "/cx", Match: "/cx/overview"},
	{Label: "Surveys", Href: "/cx/surveys", Match: "/cx/surveys"},
	{Label: "Feedback", Href: "/cx/feedback"},
	{Label: "You said, we did", Href: "/cx/changes"},
	{Label: "A-11 export", Href: "/cx/export", Visible: func(p *authz.Principal) bool { return authz.CanAnywhere(p, authz.CXSurveyRead) }},
	{Label: "Survey settings", Href: "/cx/settings", Visible: func(p *authz.Principal) bool { return authz.CanAnywhere(p, authz.CXSettings) }},
}}

var crumbs = []web.Crumb{{Label: "Customer experience", Href: "/cx"}}
