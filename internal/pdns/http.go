package pdns

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Handlers serve the Protective DNS pages and API.
type Handlers struct {
	S *Service
	K *web.Kit
	V *web.Views
}

// NewHandlers parses the templates and returns the handlers.
func NewHandlers(s *Service, k *web.Kit) *Handlers {
	return &Handlers{S: s, K: k, V: k.MustViews(templateFS)}
}

// Register adds the pages, the API, DNS over HTTPS (when this process runs
// a resolver), the navigation entry and the dashboard card.
func (h *Handlers) Register(r *web.Router) {
	r.Page("GET /dns", h.landing)
	r.Page("GET /dns/agencies/{org}", h.overview)
	r.Page("GET /dns/agencies/{org}/connect", h.connect)
	r.Page("POST /dns/agencies/{org}/token", h.rotateToken)
	r.Page("GET /dns/agencies/{org}/policy", h.policyForm)
	r.Page("POST /dns/agencies/{org}/policy", h.policySave)
	r.Page("GET /dns/agencies/{org}/queries", h.queries)
	r.Page("GET /dns/agencies/{org}/queries/export", h.queriesExport)
	r.Page("POST /dns/agencies/{org}/provision", h.provision)
	r.Page("POST /dns/agencies/{org}/deprovision", h.deprovision)

	r.Page("GET /dns/office", h.office)
	r.Page("GET /dns/feeds", h.feedList)
	r.Page("GET /dns/feeds/new", h.feedNewForm)
	r.Page("POST /dns/feeds", h.feedCreate)
	r.Page("GET /dns/feeds/{feed}", h.feedShow)
	r.Page("POST /dns/feeds/{feed}", h.feedUpdate)
	r.Page("POST /dns/feeds/{feed}/refresh", h.feedRefresh)
	r.Page("POST /dns/feeds/{feed}/enable", h.feedEnable)
	r.Page("POST /dns/feeds/{feed}/disable", h.feedDisable)
	r.Page("POST /dns/feeds/{feed}/delete", h.feedDelete)
	r.Page("GET /dns/blocks", h.blocks)
	r.Page("POST /dns/blocks", h.blockAdd)
	r.Page("POST /dns/blocks/{block}/delete", h.blockRemove)
	r.Page("POST /dns/settings", h.settingsSave)

	h.registerAPI(r)

	if h.S.Node != nil {
		doh := h.S.Node.DoHHandler()
		for _, m := range []string{"GET", "POST"} {
			r.Raw(m+" /dns-query", doh)
			r.Raw(m+" /dns-query/{token}", doh)
		}
	}

	h.K.AddNav(web.NavItem{Label: "Protective DNS", Href: "/dns", Order: 40,
		Visible: func(p *authz.Principal) bool { return authz.CanAnywhere(p, authz.DNSRead) }})
	h.K.AddCards(h.cards)
}

// orgRef resolves the {org} path value (an ID or a short name) to an
// organization ID. An unknown reference gives the same not-found error as
// one outside the caller's reach.
func (h *Handlers) orgRef(ctx context.Context, ref string) (string, error) {
	if strings.HasPrefix(ref, "org_") {
		if !id.Valid("org", ref) {
			return "", apperr.NotFoundf("Record")
		}
		return ref, nil
	}
	var oid string
	err := h.S.DB.QueryRowContext(ctx, "SELECT id FROM orgs WHERE slug = ?", strings.ToLower(ref)).Scan(&oid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.NotFoundf("Record")
	}
	if err != nil {
		return "", fmt.Errorf("pdns: org by slug: %w", err)
	}
	return oid, nil
}

// agency is an agency as the pages show it.
type agency struct {
	ID, Name string
}

// loadAgency resolves {org} and checks the viewer may read the agency's
// DNS pages.
func (h *Handlers) loadAgency(r *http.Request) (agency, error) {
	oid, err := h.orgRef(r.Context(), r.PathValue("org"))
	if err != nil {
		return agency{}, err
	}
	if err := h.S.Authz.Check(r.Context(), web.PrincipalFrom(r.Context()), authz.DNSRead, oid); err != nil {
		return agency{}, err
	}
	var name string
	if err := h.S.DB.QueryRowContext(r.Context(), "SELECT name FROM orgs WHERE id = ?", oid).Scan(&name); err != nil {
		return agency{}, apperr.NotFoundf("Record")
	}
	return agency{ID: oid, Name: name}, nil
}

// agencySide is the side navigation of an agency's DNS pages.
func agencySide(a agency) *web.SideNav {
	base := "/dns/agencies/" + a.ID
	return &web.SideNav{Title: "Protective DNS", Items: []web.NavItem{
		{Label: "Overview", Href: base, Match: base + "/overview"},
		{Label: "How to connect", Href: base + "/connect"},
		{Label: "Policy", Href: base + "/policy"},
		{Label: "Query log", Href: base + "/queries"},
	}}
}

// officeSide is the side navigation of the office's DNS pages.
var officeSide = &web.SideNav{Title: "Protective DNS", Items: []web.NavItem{
	{Label: "Agencies", Href: "/dns/office"},
	{Label: "Threat feeds", Href: "/dns/feeds"},
	{Label: "Global blocks", Href: "/dns/blocks"},
}}

func agencyCrumbs(p *authz.Principal) []web.Crumb {
	if p.IsOffice() {
		return []web.Crumb{{Label: "Protective DNS", Href: "/dns/office"}}
	}
	return nil
}

// landing sends office people to the office overview and agency people to
// their agency's DNS overview.
func (h *Handlers) landing(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	m, ok := p.ActiveMembership()
	switch {
	case ok && m.OrgKind == authz.Office && authz.CanAnywhere(p, authz.DNSRead):
		http.Redirect(w, r, "/dns/office", http.StatusSeeOther)
		return nil
	case ok && m.OrgKind == authz.Agency && h.S.Authz.Can(r.Context(), p, authz.DNSRead, m.OrgID):
		http.Redirect(w, r, "/dns/agencies/"+m.OrgID, http.StatusSeeOther)
		return nil
	}
	return apperr.New(apperr.Forbidden, "Protective DNS is for agencies and the office. Your role does not include it.")
}

// cards puts Protective DNS on the dashboard: the agency's last day, or
// the office's count of agencies served.
func (h *Handlers) cards(ctx context.Context, p *authz.Principal) ([]web.Card, error) {
	m, ok := p.ActiveMembership()
	if !ok || !h.S.Authz.Can(ctx, p, authz.DNSRead, m.OrgID) {
		return nil, nil
	}
	if m.OrgKind == authz.Office {
		sums, err := h.S.AgencySummaries(ctx, p, time.Now().Add(-24*time.Hour), time.Now())
		if err != nil {
			return nil, err
		}
		served := 0
		for _, a := range sums {
			if a.Provisioned {
				served++
			}
		}
		return []web.Card{{Title: "Protective DNS", Stat: fmt.Sprint(served), Text: "agencies use the office's resolver.", Link: "/dns/office", LinkText: "Open Protective DNS", Order: 40}}, nil
	}
	if m.OrgKind != authz.Agency {
		return nil, nil
	}
	if _, err := h.S.GetPolicy(ctx, p, m.OrgID); err != nil {
		if errors.Is(err, ErrNotProvisioned) {
			return []web.Card{{Title: "Protective DNS", Text: "Not set up for your agency yet.", Link: "/dns/agencies/" + m.OrgID, LinkText: "Learn more", Order: 40}}, nil
		}
		return nil, err
	}
	c := web.Card{Title: "Protective DNS", Text: "Blocked queries in the last 24 hours.", Link: "/dns/agencies/" + m.OrgID, LinkText: "Open Protective DNS", Order: 40}
	if d, err := h.S.Dashboard(ctx, p, m.OrgID, time.Now().Add(-24*time.Hour), time.Now()); err == nil {
		c.Stat = formatCount(d.Totals.Blocked())
		c.Text = fmt.Sprintf("blocked of %s queries in the last 24 hours.", formatCount(d.Totals.Queries))
	}
	return []web.Card{c}, nil
}

// viewerLocation is the viewer's time zone for reading and showing times.
func viewerLocation(r *http.Request) *time.Location {
	if s, ok := web.SessionFrom(r.Context()); ok && s.TimeZone != "" {
		if loc, err := time.LoadLocation(s.TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}
