package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
)

// Authenticator turns credentials into principals; the identity service
// implements it (wired in package app).
type Authenticator interface {
	// Session authenticates a session cookie value.
	Session(ctx context.Context, token string) (*authz.Principal, SessionInfo, error)
	// Bearer authenticates an API token.
	Bearer(ctx context.Context, token string) (*authz.Principal, error)
}

// Options configure the kit.
type Options struct {
	OfficeName string
	TLS        bool // cookies Secure, HSTS
	// CookieKey signs flash cookies (32+ random bytes kept by the app).
	CookieKey []byte
	Log       *slog.Logger
	Registry  *prometheus.Registry
	Version   string
}

// Kit holds what every page and API handler shares.
type Kit struct {
	Opts    Options
	Auth    Authenticator
	Authz   *authz.Authorizer
	Router  *Router
	nav     []NavItem
	cards   []CardSource
	metrics *httpMetrics
	errView *Views
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns a kit with an empty router.
func New(opts Options, auth Authenticator, az *authz.Authorizer) *Kit {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	k := &Kit{Opts: opts, Auth: auth, Authz: az}
	if opts.Registry != nil {
		k.metrics = &httpMetrics{
			requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "qsmo_http_requests_total", Help: "HTTP requests by route pattern and status class."}, []string{"route", "status"}),
			duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "qsmo_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
				Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route"}),
		}
		opts.Registry.MustRegister(k.metrics.requests, k.metrics.duration)
	}
	k.Router = newRouter(k)
	k.errView = k.MustViews(nil)
	k.registerAssets()
	return k
}

// SessionCookie is the session cookie's name: with TLS the __Host- prefix
// makes the browser refuse it unless Secure, host-only and Path=/.
func (k *Kit) SessionCookie() string {
	if k.Opts.TLS {
		return "__Host-qsmo_session"
	}
	return "qsmo_session"
}

// SetSessionCookie stores a new session token in the browser.
func (k *Kit) SetSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: k.SessionCookie(), Value: token, Path: "/", HttpOnly: true, Secure: k.Opts.TLS, SameSite: http.SameSiteLaxMode})
}

// ClearSessionCookie removes the session cookie.
func (k *Kit) ClearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: k.SessionCookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: k.Opts.TLS, SameSite: http.SameSiteLaxMode})
}

func (k *Kit) authSession(w http.ResponseWriter, r *http.Request, access Access) (context.Context, error) {
	ctx := r.Context()
	c, err := r.Cookie(k.SessionCookie())
	if err != nil || c.Value == "" {
		if access == Public {
			return ctx, nil
		}
		return ctx, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	p, s, err := k.Auth.Session(ctx, c.Value)
	if err != nil {
		if access == Public {
			return ctx, nil
		}
		if apperr.Is(err, apperr.Unauthorized) {
			k.ClearSessionCookie(w)
		}
		return ctx, err
	}
	switch {
	case s.MFAPending && access == SignedIn:
		return ctx, apperr.New(apperr.Unauthorized, "Enter your verification code to finish signing in.")
	case s.MFAPending && access == Public:
		return ctx, nil
	case !s.MFAPending && access == MFAPending:
		return ctx, errAlreadySignedIn
	}
	s.Token = c.Value
	ctx = context.WithValue(ctx, principalKey{}, p)
	ctx = context.WithValue(ctx, sessionKey{}, s)
	ctx = actor.With(ctx, actor.Actor{UserID: p.UserID, Label: p.Email, IP: ClientIP(r), UserAgent: r.UserAgent()})
	return ctx, nil
}

var errAlreadySignedIn = errors.New("already signed in")

func (k *Kit) authToken(r *http.Request) (context.Context, error) {
	ctx := r.Context()
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return ctx, apperr.New(apperr.Unauthorized, "Send an API token in the Authorization header: Authorization: Bearer qsmo_...")
	}
	p, err := k.Auth.Bearer(ctx, strings.TrimSpace(tok))
	if err != nil {
		return ctx, err
	}
	ctx = context.WithValue(ctx, principalKey{}, p)
	ctx = actor.With(ctx, actor.Actor{TokenID: p.TokenID, Label: "API token “" + p.Name + "”", IP: ClientIP(r), UserAgent: r.UserAgent()})
	return ctx, nil
}

func (k *Kit) redirectToSignIn(w http.ResponseWriter, r *http.Request, access Access) {
	if access == MFAPending {
		http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
		return
	}
	if c, err := r.Cookie(k.SessionCookie()); err == nil && c.Value != "" {
		// A pending second factor: send the user to finish it.
		if _, s, err := k.Auth.Session(r.Context(), c.Value); err == nil && s.MFAPending {
			http.Redirect(w, r, "/sign-in/verify", http.StatusSeeOther)
			return
		}
	}
	next := ""
	if r.Method == http.MethodGet {
		next = "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, "/sign-in"+next, http.StatusSeeOther)
}

// SafeNext returns a local path to continue to after sign-in, refusing
// anything that could leave the site.
func SafeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

// ClientIP is the request's remote address without the port. qsmo does not
// trust forwarding headers: put the portal behind a proxy that terminates at
// the same host, or extend this deliberately.
func ClientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// Status maps an error code to an HTTP status, once for the whole product.
func Status(code apperr.Code) int {
	switch code {
	case apperr.Invalid:
		return http.StatusUnprocessableEntity
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.TooMany:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

// logError logs internal errors with their cause; expected errors (bad
// input, not found) are not noise in the log.
func (k *Kit) logError(r *http.Request, err error) {
	code := apperr.CodeOf(err)
	if code == apperr.Internal {
		k.Opts.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err, "user_id", userIDOf(r))
	}
}

func userIDOf(r *http.Request) string {
	if p := PrincipalFrom(r.Context()); p != nil {
		if p.TokenID != "" {
			return p.TokenID
		}
		return p.UserID
	}
	return ""
}

// APIError writes {"error":{"code":...,"message":...,"fields":...}}.
func (k *Kit) APIError(w http.ResponseWriter, r *http.Request, err error) {
	k.logError(r, err)
	code := apperr.CodeOf(err)
	body := map[string]any{"code": code, "message": apperr.MessageOf(err)}
	if f := apperr.FieldsOf(err); len(f) > 0 {
		body["fields"] = f
	}
	if code == apperr.Unauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="qsmo"`)
	}
	JSON(w, Status(code), map[string]any{"error": body})
}

// JSON writes v as JSON with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// DecodeJSON reads one JSON object from the request body into v, refusing
// unknown fields, trailing data and bodies over 1 MiB, with clear messages.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return apperr.New(apperr.Invalid, "Send the request body as JSON with Content-Type: application/json.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &maxErr):
			return apperr.New(apperr.Invalid, "The request body is larger than 1 MiB.")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return apperr.New(apperr.Invalid, "The request body is not valid JSON (it ends too early).")
		case errors.As(err, &syn):
			return apperr.New(apperr.Invalid, "The request body is not valid JSON (at byte %d).", syn.Offset)
		case errors.As(err, &typ):
			return apperr.Validation(map[string]string{typ.Field: "Wrong type: expected " + typ.Type.String() + "."})
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return apperr.New(apperr.Invalid, "Unknown field %s in the request body.", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case err.Error() == "EOF":
			return apperr.New(apperr.Invalid, "The request body is empty; send a JSON object.")
		default:
			return apperr.New(apperr.Invalid, "The request body could not be read as JSON.")
		}
	}
	if dec.More() {
		return apperr.New(apperr.Invalid, "Send exactly one JSON object in the request body.")
	}
	return nil
}
