package identity

import (
	"net/http"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
)

type accountData struct {
	User        User
	Memberships []authz.Membership
	TimeZones   []web.Option
	ActiveOrgID string
}

func (h *Handlers) accountPage(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	p := web.PrincipalFrom(r.Context())
	u, ms, err := h.S.GetUser(r.Context(), p, p.UserID)
	if err != nil {
		return err
	}
	if f == nil {
		f = web.NewForm(map[string]string{"name": u.Name, "time_zone": u.TimeZone})
	}
	var tzs []web.Option
	for _, z := range TimeZones {
		tzs = append(tzs, web.Option{Value: z.ID, Label: z.Label})
	}
	h.V.Render(w, r, status, "account", web.Page{Title: "Your profile", Side: accountSide, Form: f,
		Data: accountData{User: u, Memberships: ms, TimeZones: tzs, ActiveOrgID: p.ActiveOrgID}})
	return nil
}

func (h *Handlers) account(w http.ResponseWriter, r *http.Request) error {
	return h.accountPage(w, r, http.StatusOK, nil)
}

func (h *Handlers) updateProfile(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if err := h.S.UpdateProfile(r.Context(), p, f.Get("name"), f.Get("time_zone")); err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.accountPage(w, r, http.StatusUnprocessableEntity, f)
	}
	return h.K.Redirect(w, r, "/account", "success", "Your profile is saved.")
}

func (h *Handlers) switchOrg(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	sess, _ := web.SessionFrom(r.Context())
	if err := h.S.SwitchOrg(r.Context(), p, sess.ID, f.Get("org")); err != nil {
		return err
	}
	return h.K.Redirect(w, r, "/", "success", "You switched organization.")
}

func (h *Handlers) passwordForm(w http.ResponseWriter, r *http.Request) error {
	h.V.Render(w, r, http.StatusOK, "password", web.Page{Title: "Change your password", Side: accountSide, Form: web.NewForm(nil),
		Crumbs: []web.Crumb{{Label: "Your account", Href: "/account"}}})
	return nil
}

func (h *Handlers) changePassword(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if f.Raw("new_password") != f.Raw("confirm_password") {
		f.Errors["confirm_password"] = "The two new passwords do not match."
	}
	if f.Valid() {
		p := web.PrincipalFrom(r.Context())
		sess, _ := web.SessionFrom(r.Context())
		err := h.S.ChangePassword(r.Context(), p, sess.ID, f.Raw("current_password"), f.Raw("new_password"))
		if err == nil {
			return h.K.Redirect(w, r, "/account", "success", "Your password is changed. Your other sessions were signed out.")
		}
		if !f.Fail(err) {
			return err
		}
	}
	h.V.Render(w, r, http.StatusUnprocessableEntity, "password", web.Page{Title: "Change your password", Side: accountSide, Form: f,
		Crumbs: []web.Crumb{{Label: "Your account", Href: "/account"}}})
	return nil
}

type mfaData struct {
	Enabled       bool
	Enrolment     *TOTPEnrolment
	RecoveryLeft  int
	RecoveryCodes []string
	HasPassword   bool
}

func (h *Handlers) mfaRender(w http.ResponseWriter, r *http.Request, status int, f *web.Form, codes []string) error {
	p := web.PrincipalFrom(r.Context())
	u, _, err := h.S.GetUser(r.Context(), p, p.UserID)
	if err != nil {
		return err
	}
	d := mfaData{Enabled: u.TOTPEnabled, RecoveryCodes: codes, HasPassword: u.HasPassword}
	if u.TOTPEnabled {
		d.RecoveryLeft, _ = h.S.RecoveryCodesLeft(r.Context(), u.ID)
	} else if e, ok, err := h.S.PendingTOTP(r.Context(), p); err == nil && ok {
		d.Enrolment = &e
	}
	if f == nil {
		f = web.NewForm(nil)
	}
	h.V.Render(w, r, status, "mfa", web.Page{Title: "Two-step verification", Side: accountSide, Form: f, Data: d,
		Crumbs: []web.Crumb{{Label: "Your account", Href: "/account"}}})
	return nil
}

func (h *Handlers) mfaPage(w http.ResponseWriter, r *http.Request) error {
	return h.mfaRender(w, r, http.StatusOK, nil, nil)
}

func (h *Handlers) mfaStart(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.S.BeginTOTP(r.Context(), web.PrincipalFrom(r.Context())); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/mfa", http.StatusSeeOther)
	return nil
}

func (h *Handlers) mfaConfirm(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	codes, err := h.S.ConfirmTOTP(r.Context(), web.PrincipalFrom(r.Context()), f.Get("code"))
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.mfaRender(w, r, web.Status(apperr.CodeOf(err)), f, nil)
	}
	// The recovery codes are shown on this response only; they are never
	// shown again, so this page is not a redirect.
	h.K.Flash(w, "success", "Two-step verification is on.")
	return h.mfaRender(w, r, http.StatusOK, nil, codes)
}

func (h *Handlers) mfaDisable(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if err := h.S.DisableTOTP(r.Context(), web.PrincipalFrom(r.Context()), f.Raw("password")); err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.mfaRender(w, r, web.Status(apperr.CodeOf(err)), f, nil)
	}
	return h.K.Redirect(w, r, "/account/mfa", "success", "Two-step verification is off.")
}

type sessionsData struct {
	Sessions []Session
	Current  string
}

func (h *Handlers) sessions(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	list, err := h.S.ListSessions(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	sess, _ := web.SessionFrom(r.Context())
	h.V.Render(w, r, http.StatusOK, "sessions", web.Page{Title: "Your sessions", Side: accountSide, Data: sessionsData{Sessions: list, Current: sess.ID},
		Crumbs: []web.Crumb{{Label: "Your account", Href: "/account"}}})
	return nil
}

func (h *Handlers) revokeSession(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	sess, _ := web.SessionFrom(r.Context())
	target := r.PathValue("session")
	if err := h.S.RevokeSession(r.Context(), p, target); err != nil {
		return err
	}
	if target == sess.ID {
		h.K.ClearSessionCookie(w)
		return h.K.Redirect(w, r, "/sign-in", "success", "You are signed out.")
	}
	return h.K.Redirect(w, r, "/account/sessions", "success", "That session is signed out.")
}
