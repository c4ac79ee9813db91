// Package portal serves the pages that belong to no single service area: the
// dashboard that gathers each area's cards, the accessibility and privacy
// statements, and the operational endpoints (health, readiness, metrics, the
// OpenAPI document).
package portal

import (
	"context"
	"embed"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Handlers serve the portal pages.
type Handlers struct {
	K        *web.Kit
	V        *web.Views
	Ready    func(ctx context.Context) error
	Registry *prometheus.Registry
}

// NewHandlers parses the templates.
func NewHandlers(k *web.Kit, ready func(context.Context) error, reg *prometheus.Registry) *Handlers {
	return &Handlers{K: k, V: k.MustViews(templateFS), Ready: ready, Registry: reg}
}

// Register adds the routes.
func (h *Handlers) Register(r *web.Router) {
	r.Page("GET /{$}", h.home)
	r.PublicPage("GET /accessibility", h.static("accessibility", "Accessibility statement"))
	r.PublicPage("GET /privacy", h.static("privacy", "Privacy policy"))
	r.Raw("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}))
	r.Raw("GET /readyz", http.HandlerFunc(h.readyz))
	r.Raw("GET /metrics", promhttp.HandlerFor(h.Registry, promhttp.HandlerOpts{}))
	r.Raw("GET /api/openapi.json", http.HandlerFunc(h.K.ServeOpenAPI))
	h.K.AddNav(web.NavItem{Label: "Dashboard", Href: "/", Order: 0})
}

func (h *Handlers) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.Ready(r.Context()); err != nil {
		h.K.Opts.Log.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unreachable\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

type homeData struct {
	Cards []web.Card
	Role  authz.Membership
}

func (h *Handlers) home(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	m, _ := p.ActiveMembership()
	h.V.Render(w, r, http.StatusOK, "home", web.Page{Title: "Dashboard", Data: homeData{Cards: h.K.Cards(r.Context(), p), Role: m}})
	return nil
}

func (h *Handlers) static(name, title string) web.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		h.V.Render(w, r, http.StatusOK, name, web.Page{Title: title})
		return nil
	}
}
