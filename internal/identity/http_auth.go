package identity

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/web"
)

func client(r *http.Request) Client {
	return Client{IP: web.ClientIP(r), UserAgent: r.UserAgent()}
}

type signInData struct {
	Next      string
	OIDC      bool
	OIDCLabel string
}

func (h *Handlers) signInPage(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	next := web.SafeNext(r.URL.Query().Get("next"))
	if f != nil && f.Get("next") != "" {
		next = web.SafeNext(f.Get("next"))
	}
	h.V.Render(w, r, status, "sign_in", web.Page{Title: "Sign in", Form: f,
		Data: signInData{Next: next, OIDC: h.OIDC != nil, OIDCLabel: h.OIDCLabel}})
	return nil
}

func (h *Handlers) signInForm(w http.ResponseWriter, r *http.Request) error {
	if web.PrincipalFrom(r.Context()) != nil {
		http.Redirect(w, r, web.SafeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	return h.signInPage(w, r, http.StatusOK, web.NewForm(nil))
}

func (h *Handlers) signIn(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	email, pw := f.Get("email"), f.Raw("password")
	if email == "" {
		f.Errors["email"] = "Enter your email address."
	}
	if pw == "" {
		f.Errors["password"] = "Enter your password."
	}
	if !f.Valid() {
		return h.signInPage(w, r, http.StatusUnprocessableEntity, f)
	}
	// A new sign-in always gets a new session: the old cookie, if any, dies.
	if c, err := r.Cookie(h.K.SessionCookie()); err == nil {
		_ = h.S.SignOut(r.Context(), c.Value)
	}
	res, err := h.S.SignIn(r.Context(), email, pw, client(r))
	if err != nil {
		if !f.Fail(err) && !apperr.Is(err, apperr.Forbidden) {
			return err
		}
		if apperr.Is(err, apperr.Forbidden) {
			f.Message = apperr.MessageOf(err)
		}
		return h.signInPage(w, r, web.Status(apperr.CodeOf(err)), f)
	}
	h.K.SetSessionCookie(w, res.Token)
	next := web.SafeNext(f.Get("next"))
	if res.MFAPending {
		http.Redirect(w, r, "/sign-in/verify?next="+url.QueryEscape(next), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (h *Handlers) verifyForm(w http.ResponseWriter, r *http.Request) error {
	f := web.NewForm(map[string]string{"next": web.SafeNext(r.URL.Query().Get("next"))})
	h.V.Render(w, r, http.StatusOK, "verify", web.Page{Title: "Enter your verification code", Form: f})
	return nil
}

func (h *Handlers) verify(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	sess, _ := web.SessionFrom(r.Context())
	code := strings.ReplaceAll(f.Get("code"), " ", "")
	if code == "" {
		f.Errors["code"] = "Enter the code from your authenticator app."
	}
	if f.Valid() {
		res, err := h.S.CompleteMFA(r.Context(), sess.Token, code, client(r))
		if err == nil {
			h.K.SetSessionCookie(w, res.Token)
			http.Redirect(w, r, web.SafeNext(f.Get("next")), http.StatusSeeOther)
			return nil
		}
		if apperr.Is(err, apperr.Unauthorized) {
			h.K.ClearSessionCookie(w)
			return h.K.Redirect(w, r, "/sign-in", "warning", apperr.MessageOf(err))
		}
		if !f.Fail(err) {
			return err
		}
	}
	h.V.Render(w, r, http.StatusUnprocessableEntity, "verify", web.Page{Title: "Enter your verification code", Form: f})
	return nil
}

func (h *Handlers) signOut(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(h.K.SessionCookie()); err == nil {
		if err := h.S.SignOut(r.Context(), c.Value); err != nil {
			return err
		}
	}
	h.K.ClearSessionCookie(w)
	return h.K.Redirect(w, r, "/sign-in", "success", "You are signed out.")
}

func (h *Handlers) forgotForm(w http.ResponseWriter, r *http.Request) error {
	h.V.Render(w, r, http.StatusOK, "forgot", web.Page{Title: "Reset your password", Form: web.NewForm(nil)})
	return nil
}

func (h *Handlers) forgot(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if err := h.S.RequestPasswordReset(r.Context(), f.Get("email"), client(r)); err != nil {
		if !f.Fail(err) {
			return err
		}
		h.V.Render(w, r, http.StatusUnprocessableEntity, "forgot", web.Page{Title: "Reset your password", Form: f})
		return nil
	}
	return h.K.Redirect(w, r, "/sign-in", "info",
		"If an account uses that email address, we sent it a link to reset the password. The link works for one hour.")
}

func (h *Handlers) resetForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.CheckResetToken(r.Context(), r.PathValue("secret")); err != nil {
		return err
	}
	h.V.Render(w, r, http.StatusOK, "reset", web.Page{Title: "Choose a new password", Form: web.NewForm(nil)})
	return nil
}

func (h *Handlers) reset(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	pw := f.Raw("new_password")
	if pw != f.Raw("confirm_password") {
		f.Errors["confirm_password"] = "The two passwords do not match."
	}
	if f.Valid() {
		err = h.S.ResetPassword(r.Context(), r.PathValue("secret"), pw)
		if err == nil {
			return h.K.Redirect(w, r, "/sign-in", "success", "Your password is changed. Sign in with your new password.")
		}
		if apperr.Is(err, apperr.NotFound) || !f.Fail(err) {
			return err
		}
	}
	h.V.Render(w, r, http.StatusUnprocessableEntity, "reset", web.Page{Title: "Choose a new password", Form: f})
	return nil
}

type acceptData struct {
	Invitation Invitation
	Org        Org
	Existing   bool
}

func (h *Handlers) acceptPage(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	inv, org, err := h.S.PendingInvitation(r.Context(), r.PathValue("secret"))
	if err != nil {
		return err
	}
	existing := false
	if inv.Email != "" {
		_, uerr := userByEmail(r.Context(), h.S.DB, inv.Email)
		existing = uerr == nil
	}
	title := "Join " + org.Name
	if inv.Purpose == "setup" {
		title = "Set up your account"
	}
	h.V.Render(w, r, status, "invite_accept", web.Page{Title: title, Form: f, Data: acceptData{Invitation: inv, Org: org, Existing: existing}})
	return nil
}

func (h *Handlers) acceptForm(w http.ResponseWriter, r *http.Request) error {
	return h.acceptPage(w, r, http.StatusOK, web.NewForm(nil))
}

func (h *Handlers) accept(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if f.Raw("confirm_password") != "" && f.Raw("password") != f.Raw("confirm_password") {
		f.Errors["confirm_password"] = "The two passwords do not match."
		return h.acceptPage(w, r, http.StatusUnprocessableEntity, f)
	}
	_, err = h.S.AcceptInvitation(r.Context(), AcceptInput{Secret: r.PathValue("secret"), Email: f.Get("email"), Name: f.Get("name"), Password: f.Raw("password")})
	if err != nil {
		if apperr.Is(err, apperr.NotFound) || !f.Fail(err) {
			return err
		}
		return h.acceptPage(w, r, web.Status(apperr.CodeOf(err)), f)
	}
	return h.K.Redirect(w, r, "/sign-in", "success", "Your account is ready. Sign in to continue.")
}

const oidcCookie = "qsmo_oidc"

func (h *Handlers) oidcStart(w http.ResponseWriter, r *http.Request) error {
	if h.OIDC == nil {
		return apperr.NotFoundf("Page")
	}
	authURL, loginID, err := h.S.StartOIDC(r.Context(), h.OIDC)
	if err != nil {
		return err
	}
	// Lax lets the cookie come back on the provider's top-level redirect.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: loginID, Path: "/auth/oidc/", MaxAge: int((10 * time.Minute).Seconds()),
		HttpOnly: true, Secure: h.K.Opts.TLS, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, authURL, http.StatusSeeOther)
	return nil
}

// oidcCallback is the one GET that changes state (it opens a session): the
// OpenID Connect code flow returns here by redirect. It is bound to the
// browser by the login cookie, the state parameter and PKCE.
func (h *Handlers) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	if h.OIDC == nil {
		return apperr.NotFoundf("Page")
	}
	loginID := ""
	if c, err := r.Cookie(oidcCookie); err == nil {
		loginID = c.Value
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/auth/oidc/", MaxAge: -1, HttpOnly: true, Secure: h.K.Opts.TLS, SameSite: http.SameSiteLaxMode})
	res, err := h.S.FinishOIDC(r.Context(), h.OIDC, loginID, r.URL.Query(), client(r))
	if err != nil {
		if apperr.Is(err, apperr.Unauthorized) || apperr.Is(err, apperr.Forbidden) {
			return h.K.Redirect(w, r, "/sign-in", "error", apperr.MessageOf(err))
		}
		return err
	}
	h.K.SetSessionCookie(w, res.Token)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}
