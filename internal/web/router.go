// Package web is qsmo's shared page and API kit: the router that records
// every route (so tests can walk them), the USWDS page layout, forms, flash
// messages, error pages and JSON errors, and the middleware every request
// passes through.
package web

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
)

// Handler is a page or API handler. Returning an error renders the error
// page (or the JSON error for API routes) with the status its code maps to.
type Handler func(w http.ResponseWriter, r *http.Request) error

// Access says who may reach a route at all; finer decisions happen in the
// services through authz.
type Access int

const (
	// Public routes need nobody signed in (sign-in, invitation links,
	// health checks, public feeds).
	Public Access = iota
	// SignedIn routes need a full session (second factor done if enrolled).
	SignedIn
	// MFAPending routes serve a session that still owes its second factor.
	MFAPending
	// Token routes are the JSON API, reached with a bearer token.
	Token
)

// Route is a registered route.
type Route struct {
	Method  string
	Path    string
	Access  Access
	API     bool
	Doc     *Doc // API documentation; required for API routes
	Handler http.Handler
}

// Pattern is the ServeMux pattern.
func (rt Route) Pattern() string { return rt.Method + " " + rt.Path }

// Router registers routes on a ServeMux and remembers them.
type Router struct {
	mux    *http.ServeMux
	routes []Route
	kit    *Kit
}

func newRouter(k *Kit) *Router {
	return &Router{mux: http.NewServeMux(), kit: k}
}

// Routes returns every registered route, sorted by path then method.
func (r *Router) Routes() []Route {
	out := append([]Route(nil), r.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// Mux exposes the ServeMux, for tests that ask which pattern serves a path.
func (r *Router) Mux() *http.ServeMux { return r.mux }

func splitPattern(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		panic("web: route pattern must be \"METHOD /path\": " + pattern)
	}
	return method, path
}

// Page registers an HTML page for signed-in users.
func (r *Router) Page(pattern string, h Handler) { r.add(pattern, SignedIn, false, nil, h) }

// PublicPage registers an HTML page anyone may open.
func (r *Router) PublicPage(pattern string, h Handler) { r.add(pattern, Public, false, nil, h) }

// PendingPage registers a page for a session that still owes its second
// factor.
func (r *Router) PendingPage(pattern string, h Handler) { r.add(pattern, MFAPending, false, nil, h) }

// API registers a JSON API route reached with a bearer token; doc describes
// it in the OpenAPI document.
func (r *Router) API(pattern string, doc Doc, h Handler) { r.add(pattern, Token, true, &doc, h) }

// PublicAPI registers a JSON route anyone may call (e.g. a public feed).
func (r *Router) PublicAPI(pattern string, doc Doc, h Handler) { r.add(pattern, Public, true, &doc, h) }

// Raw registers a plain http.Handler (assets, probes, metrics, DoH) outside
// the page and API conventions. It is still recorded.
func (r *Router) Raw(pattern string, h http.Handler) {
	method, path := splitPattern(pattern)
	r.routes = append(r.routes, Route{Method: method, Path: path, Access: Public, Handler: h})
	r.mux.Handle(pattern, r.kit.instrument(pattern, h))
}

func (r *Router) add(pattern string, access Access, api bool, doc *Doc, h Handler) {
	method, path := splitPattern(pattern)
	if api && doc == nil {
		panic("web: API route without documentation: " + pattern)
	}
	var hh http.Handler = r.kit.wrap(access, api, h)
	rt := Route{Method: method, Path: path, Access: access, API: api, Doc: doc, Handler: hh}
	r.routes = append(r.routes, rt)
	r.mux.Handle(pattern, r.kit.instrument(pattern, hh))
}

// instrument counts requests and their latency by route pattern.
func (k *Kit) instrument(pattern string, h http.Handler) http.Handler {
	if k.metrics == nil {
		return h
	}
	dur := k.metrics.duration.MustCurryWith(prometheus.Labels{"route": pattern})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		dur.WithLabelValues().Observe(time.Since(start).Seconds())
		k.metrics.requests.WithLabelValues(pattern, statusClass(sw.status)).Inc()
	})
}

func statusClass(code int) string {
	switch {
	case code >= 500:
		return "5xx"
	case code >= 400:
		return "4xx"
	case code >= 300:
		return "3xx"
	default:
		return "2xx"
	}
}

// wrap adds authentication and error handling to a handler.
func (k *Kit) wrap(access Access, api bool, h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			ctx context.Context
			err error
		)
		switch access {
		case Token:
			ctx, err = k.authToken(r)
		case SignedIn, MFAPending:
			ctx, err = k.authSession(w, r, access)
		default:
			ctx, _ = k.authSession(w, r, Public) // optional: pages show who is signed in
		}
		if err != nil {
			if api {
				k.APIError(w, r, err)
				return
			}
			if apperr.Is(err, apperr.Unauthorized) {
				k.redirectToSignIn(w, r, access)
				return
			}
			k.Error(w, r, err)
			return
		}
		r = r.WithContext(ctx)
		noteUser(r)
		if api {
			r = r.WithContext(context.WithValue(r.Context(), apiKey{}, true))
		}
		if err := h(w, r); err != nil {
			if api {
				k.APIError(w, r, err)
			} else {
				k.Error(w, r, err)
			}
		}
	})
}

type apiKey struct{}

// IsAPI reports whether the request is an API request.
func IsAPI(r *http.Request) bool { v, _ := r.Context().Value(apiKey{}).(bool); return v }

type principalKey struct{}
type sessionKey struct{}

// SessionInfo is what pages need to know about the current session.
type SessionInfo struct {
	ID         string
	Token      string
	MFAPending bool
	TimeZone   string
}

// PrincipalFrom returns who is asking, or nil.
func PrincipalFrom(ctx context.Context) *authz.Principal {
	p, _ := ctx.Value(principalKey{}).(*authz.Principal)
	return p
}

// SessionFrom returns the session of a signed-in browser request.
func SessionFrom(ctx context.Context) (SessionInfo, bool) {
	s, ok := ctx.Value(sessionKey{}).(SessionInfo)
	return s, ok
}

// WithPrincipal returns a context carrying p (used by tests and workers).
func WithPrincipal(ctx context.Context, p *authz.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

type statusWriter struct {
	http.ResponseWriter
	status  int
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.status = code
		w.written = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush supports streaming responses (NDJSON exports).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
