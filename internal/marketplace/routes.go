package marketplace

import (
	"github.com/qsmo/qsmo/internal/web"
)

// Register adds the marketplace's pages, API, navigation and dashboard
// cards.
func (h *Handlers) Register(r *web.Router) {
	// Storefront and catalog.
	r.Page("GET /marketplace", h.storefront)
	r.Page("GET /marketplace/export.csv", h.exportCSV)
	r.Page("GET /marketplace/compare", h.compare)
	r.Page("GET /marketplace/areas", h.areas)
	r.Page("GET /marketplace/offerings/new", h.offeringNew)
	r.Page("POST /marketplace/offerings", h.offeringCreate)
	r.Page("GET /marketplace/offerings/{offering}", h.offeringShow)
	r.Page("GET /marketplace/offerings/{offering}/edit", h.offeringEdit)
	r.Page("POST /marketplace/offerings/{offering}", h.offeringUpdate)
	r.Page("GET /marketplace/offerings/{offering}/prices", h.pricesEdit)
	r.Page("POST /marketplace/offerings/{offering}/prices", h.pricesSave)
	r.Page("POST /marketplace/offerings/{offering}/documents", h.documentUpload)
	r.Page("POST /marketplace/offerings/{offering}/status", h.offeringStatus)
	r.Page("POST /marketplace/offerings/{offering}/tiers", h.offeringTiers)
	r.Page("GET /marketplace/offerings/{offering}/onboarding", h.stepsEdit)
	r.Page("POST /marketplace/offerings/{offering}/onboarding", h.stepsSave)
	r.Page("GET /marketplace/files/{file}", h.fileDownload)
	r.Page("POST /marketplace/files/{file}/delete", h.fileDelete)

	// Standards and conformance.
	r.Page("GET /marketplace/standards", h.standards)
	r.Page("POST /marketplace/standards", h.standardCreate)
	r.Page("GET /marketplace/standards/{standard}", h.standardShow)
	r.Page("POST /marketplace/standards/{standard}", h.standardUpdate)
	r.Page("GET /marketplace/standards/{standard}/diff", h.standardDiff)
	r.Page("POST /marketplace/standards/{standard}/requirements", h.requirementAdd)
	r.Page("POST /marketplace/standards/{standard}/publish", h.standardPublish)
	r.Page("GET /marketplace/requirements/{requirement}/edit", h.requirementEdit)
	r.Page("POST /marketplace/requirements/{requirement}", h.requirementUpdate)
	r.Page("POST /marketplace/requirements/{requirement}/delete", h.requirementDelete)
	r.Page("GET /marketplace/offerings/{offering}/conformance", h.conformance)
	r.Page("POST /marketplace/offerings/{offering}/conformance/{requirement}", h.answerSave)
	r.Page("POST /marketplace/offerings/{offering}/conformance/{requirement}/review", h.answerReview)
	r.Page("GET /marketplace/reviews", h.reviews)

	// Maturity and recommendations.
	r.Page("GET /marketplace/assessments", h.assessments)
	r.Page("GET /marketplace/assessments/new", h.assessmentNew)
	r.Page("POST /marketplace/assessments", h.assessmentCreate)
	r.Page("GET /marketplace/assessments/{assessment}", h.assessmentShow)
	r.Page("GET /marketplace/recommendations", h.recommendations)

	// Orders, agreements, onboarding.
	r.Page("GET /marketplace/orders", h.orders)
	r.Page("GET /marketplace/offerings/{offering}/request", h.orderNew)
	r.Page("POST /marketplace/orders", h.orderCreate)
	r.Page("GET /marketplace/orders/{order}", h.orderShow)
	r.Page("POST /marketplace/orders/{order}/approve", h.orderApprove)
	r.Page("POST /marketplace/orders/{order}/decline", h.orderDecline)
	r.Page("POST /marketplace/orders/{order}/withdraw", h.orderWithdraw)
	r.Page("GET /marketplace/orders/{order}/quote", h.quoteForm)
	r.Page("POST /marketplace/orders/{order}/quote", h.quoteSubmit)
	r.Page("POST /marketplace/orders/{order}/accept", h.quoteAccept)
	r.Page("POST /marketplace/orders/{order}/return-quote", h.quoteReturn)
	r.Page("GET /marketplace/orders/{order}/agreement", h.agreement)
	r.Page("POST /marketplace/orders/{order}/agreement", h.agreementSave)
	r.Page("POST /marketplace/orders/{order}/send", h.agreementSend)
	r.Page("POST /marketplace/orders/{order}/sign", h.agreementSign)
	r.Page("POST /marketplace/orders/{order}/return-agreement", h.agreementReturn)
	r.Page("POST /marketplace/orders/{order}/tasks/{task}", h.taskSet)
	r.Page("POST /marketplace/orders/{order}/complete", h.onboardingComplete)
	r.Page("POST /marketplace/orders/{order}/retry", h.provisionRetry)

	// Subscriptions, modifications, exceptions.
	r.Page("GET /marketplace/subscriptions", h.subscriptions)
	r.Page("GET /marketplace/subscriptions/{subscription}", h.subscriptionShow)
	r.Page("POST /marketplace/subscriptions/{subscription}/cancel", h.subscriptionCancel)
	r.Page("POST /marketplace/subscriptions/{subscription}/modifications", h.modificationPropose)
	r.Page("POST /marketplace/modifications/{modification}", h.modificationDecide)
	r.Page("GET /marketplace/exceptions", h.exceptions)
	r.Page("GET /marketplace/exceptions/new", h.exceptionNew)
	r.Page("POST /marketplace/exceptions", h.exceptionCreate)
	r.Page("GET /marketplace/exceptions/{exception}", h.exceptionShow)
	r.Page("POST /marketplace/exceptions/{exception}", h.exceptionDecide)

	// Money.
	r.Page("GET /marketplace/statements", h.statements)
	r.Page("POST /marketplace/statements", h.statementsIssue)
	r.Page("GET /marketplace/statements/{statement}", h.statementShow)
	r.Page("GET /marketplace/statements/{statement}/csv", h.statementCSV)
	r.Page("GET /marketplace/statements/{statement}/print", h.statementPrint)
	r.Page("GET /marketplace/cost-avoidance", h.costAvoidance)
	r.Page("POST /marketplace/baselines", h.baselineSave)

	// Dashboards.
	r.Page("GET /marketplace/dashboard", h.dashboard)
	r.Page("GET /marketplace/dashboard/office", h.officeDashboard)
	r.Page("GET /marketplace/dashboard/agency", h.agencyDashboard)
	r.Page("GET /marketplace/provider", h.providerDashboard)

	h.registerAPI(r)

	h.K.AddNav(
		web.NavItem{Label: "Marketplace", Href: "/marketplace", Match: "/marketplace", Order: 20},
	)
	h.K.AddCards(h.cards)
}
