package identity

import (
	"embed"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/identity/oidc"
	"github.com/qsmo/qsmo/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Handlers serve identity's pages and API.
type Handlers struct {
	S    *Service
	K    *web.Kit
	V    *web.Views
	OIDC *oidc.RelyingParty // nil when single sign-on is not configured
	// OIDCLabel is the text of the single sign-on button.
	OIDCLabel string
}

// NewHandlers parses the templates and returns the handlers.
func NewHandlers(s *Service, k *web.Kit) *Handlers {
	return &Handlers{S: s, K: k, V: k.MustViews(templateFS)}
}

// Register adds identity's routes and navigation.
func (h *Handlers) Register(r *web.Router) {
	// Signing in and out, one-time links.
	r.PublicPage("GET /sign-in", h.signInForm)
	r.PublicPage("POST /sign-in", h.signIn)
	r.PendingPage("GET /sign-in/verify", h.verifyForm)
	r.PendingPage("POST /sign-in/verify", h.verify)
	r.PublicPage("POST /sign-out", h.signOut)
	r.PublicPage("GET /forgot-password", h.forgotForm)
	r.PublicPage("POST /forgot-password", h.forgot)
	r.PublicPage("GET /reset/{secret}", h.resetForm)
	r.PublicPage("POST /reset/{secret}", h.reset)
	r.PublicPage("GET /invite/{secret}", h.acceptForm)
	r.PublicPage("POST /invite/{secret}", h.accept)
	r.PublicPage("POST /auth/oidc/start", h.oidcStart)
	r.PublicPage("GET /auth/oidc/callback", h.oidcCallback)

	// The signed-in user's own account.
	r.Page("GET /account", h.account)
	r.Page("POST /account", h.updateProfile)
	r.Page("POST /account/switch", h.switchOrg)
	r.Page("GET /account/password", h.passwordForm)
	r.Page("POST /account/password", h.changePassword)
	r.Page("GET /account/mfa", h.mfaPage)
	r.Page("POST /account/mfa/start", h.mfaStart)
	r.Page("POST /account/mfa/confirm", h.mfaConfirm)
	r.Page("POST /account/mfa/disable", h.mfaDisable)
	r.Page("GET /account/sessions", h.sessions)
	r.Page("POST /account/sessions/{session}/revoke", h.revokeSession)

	// Organizations, their people and tokens.
	r.Page("GET /orgs", h.orgList)
	r.Page("GET /orgs/new", h.orgNewForm)
	r.Page("POST /orgs", h.orgCreate)
	r.Page("GET /orgs/{org}", h.orgShow)
	r.Page("GET /orgs/{org}/edit", h.orgEditForm)
	r.Page("POST /orgs/{org}", h.orgUpdate)
	r.Page("POST /orgs/{org}/suspend", h.orgSuspend)
	r.Page("POST /orgs/{org}/reactivate", h.orgReactivate)
	r.Page("GET /orgs/{org}/users", h.memberList)
	r.Page("GET /orgs/{org}/users/invite", h.inviteForm)
	r.Page("POST /orgs/{org}/users/invite", h.invite)
	r.Page("GET /orgs/{org}/users/{user}", h.memberShow)
	r.Page("POST /orgs/{org}/users/{user}/roles", h.memberRoles)
	r.Page("POST /users/{user}/suspend", h.userSuspend)
	r.Page("POST /users/{user}/reactivate", h.userReactivate)
	r.Page("POST /invitations/{invitation}/revoke", h.invitationRevoke)
	r.Page("GET /orgs/{org}/tokens", h.tokenList)
	r.Page("POST /orgs/{org}/tokens", h.tokenCreate)
	r.Page("POST /tokens/{token}/revoke", h.tokenRevoke)

	h.registerAPI(r)
	h.K.AddCards(h.cards)

	h.K.AddNav(
		web.NavItem{Label: "Organizations", Href: "/orgs", Order: 80, Visible: func(p *authz.Principal) bool { return p.IsOffice() }},
		web.NavItem{Label: "My organization", Order: 80, Match: "/orgs",
			HrefFor: func(p *authz.Principal) string { return "/orgs/" + p.ActiveOrgID },
			Visible: func(p *authz.Principal) bool { return !p.IsOffice() }},
	)
}

// orgSide is the side navigation of an organization's pages.
func orgSide(o Org) *web.SideNav {
	base := "/orgs/" + o.ID
	return &web.SideNav{Title: o.Name, Items: []web.NavItem{
		{Label: "Overview", Href: base, Match: base + "/overview"},
		{Label: "People", Href: base + "/users"},
		{Label: "API tokens", Href: base + "/tokens"},
		{Label: "Audit log", Href: "/audit?org=" + o.ID, Match: "/audit"},
	}}
}

// accountSide is the side navigation of the account pages.
var accountSide = &web.SideNav{Title: "Your account", Items: []web.NavItem{
	{Label: "Profile", Href: "/account", Match: "/account/profile"},
	{Label: "Password", Href: "/account/password"},
	{Label: "Two-step verification", Href: "/account/mfa"},
	{Label: "Sessions", Href: "/account/sessions"},
	{Label: "Notifications", Href: "/notifications"},
}}
