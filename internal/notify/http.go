package notify

import (
	"embed"
	"net/http"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Handlers serve the notifications page and the office's outbox.
type Handlers struct {
	DB        *db.DB
	K         *web.Kit
	V         *web.Views
	OfficeID  func(r *http.Request) (string, error)
	SMTPReady bool // whether a sender is configured
}

// NewHandlers parses the templates.
func NewHandlers(d *db.DB, k *web.Kit, officeID func(*http.Request) (string, error), smtp bool) *Handlers {
	return &Handlers{DB: d, K: k, V: k.MustViews(templateFS), OfficeID: officeID, SMTPReady: smtp}
}

// Register adds the routes.
func (h *Handlers) Register(r *web.Router) {
	r.Page("GET /notifications", h.notifications)
	r.Page("POST /notifications/read", h.markRead)
	r.Page("GET /admin/outbox", h.outbox)
	r.Page("GET /admin/outbox/{message}", h.message)
	h.K.AddNav(web.NavItem{Label: "Outbox", Href: "/admin/outbox", Order: 95, Visible: func(p *authz.Principal) bool { return authz.CanAnywhere(p, authz.OutboxRead) }})
}

var side = &web.SideNav{Title: "Your account", Items: []web.NavItem{
	{Label: "Profile", Href: "/account", Match: "/account/profile"},
	{Label: "Password", Href: "/account/password"},
	{Label: "Two-step verification", Href: "/account/mfa"},
	{Label: "Sessions", Href: "/account/sessions"},
	{Label: "Notifications", Href: "/notifications"},
}}

func (h *Handlers) notifications(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	items, err := ForUser(r.Context(), h.DB, p.UserID, 100)
	if err != nil {
		return err
	}
	unread := 0
	for _, it := range items {
		if it.ReadAt.IsZero() {
			unread++
		}
	}
	h.V.Render(w, r, http.StatusOK, "notifications", web.Page{Title: "Notifications", Side: side, Data: map[string]any{"Items": items, "Unread": unread}})
	return nil
}

func (h *Handlers) markRead(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	var n int64
	err := h.DB.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		n, err = MarkAllRead(r.Context(), tx, p.UserID)
		return err
	})
	if err != nil {
		return err
	}
	msg := "Nothing was unread."
	if n > 0 {
		msg = "All notifications are marked as read."
	}
	return h.K.Redirect(w, r, "/notifications", "success", msg)
}

func (h *Handlers) checkOutbox(r *http.Request) error {
	officeID, err := h.OfficeID(r)
	if err != nil {
		return err
	}
	return h.K.Authz.Check(r.Context(), web.PrincipalFrom(r.Context()), authz.OutboxRead, officeID)
}

func (h *Handlers) outbox(w http.ResponseWriter, r *http.Request) error {
	if err := h.checkOutbox(r); err != nil {
		return err
	}
	to := r.URL.Query().Get("to")
	items, err := Outbox(r.Context(), h.DB, to, 200)
	if err != nil {
		return err
	}
	h.V.Render(w, r, http.StatusOK, "outbox", web.Page{Title: "Outbox", Wide: true, Form: web.NewForm(map[string]string{"to": to}),
		Data: map[string]any{"Items": items, "SMTP": h.SMTPReady}})
	return nil
}

func (h *Handlers) message(w http.ResponseWriter, r *http.Request) error {
	if err := h.checkOutbox(r); err != nil {
		return err
	}
	it, err := OutboxMessage(r.Context(), h.DB, r.PathValue("message"))
	if err != nil {
		return apperr.NotFoundf("Message")
	}
	h.V.Render(w, r, http.StatusOK, "outbox_message", web.Page{Title: it.Subject, Crumbs: []web.Crumb{{Label: "Outbox", Href: "/admin/outbox"}}, Data: it})
	return nil
}
