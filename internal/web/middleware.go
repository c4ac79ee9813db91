package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// Handler returns the kit's router wrapped in the middleware every request
// passes: panic recovery, request logging, security headers and
// cross-origin protection for state-changing requests.
func (k *Kit) Handler() http.Handler {
	var h http.Handler = k.Router.mux
	h = k.crossOrigin(h)
	h = k.securityHeaders(h)
	h = k.logRequests(h)
	h = k.recoverPanics(h)
	return h
}

// csp allows only the site's own scripts, styles, fonts and images: no inline
// script or style anywhere in the product.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

func (k *Kit) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if k.Opts.TLS {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses cross-site state-changing browser requests (CSRF)
// using the browser's Sec-Fetch-Site and Origin headers. Requests without
// those headers (API clients, curl) pass; API routes authenticate with
// bearer tokens, never cookies.
func (k *Kit) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.Opts.Log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"), "client_ip", ClientIP(r))
		http.Error(w, "This request came from another site and was refused. Go back to the qsmo page and submit the form again.", http.StatusForbidden)
	}))
	return cop.Handler(next)
}

func (k *Kit) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		next.ServeHTTP(sw, r)
		// DNS over HTTPS queries go to the DNS query log instead: one line
		// per query here would flood the log and record who asked what.
		if strings.HasPrefix(r.URL.Path, "/assets/") || r.URL.Path == "/healthz" || r.URL.Path == "/metrics" || strings.HasPrefix(r.URL.Path, "/dns-query") {
			return
		}
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		// The path is logged without its query: queries can carry search
		// terms, and one-time links keep their secret in the path only for
		// routes that never log it (see redactPath).
		k.Opts.Log.Log(r.Context(), level, "http request", "method", r.Method, "path", redactPath(r.URL.Path),
			"status", sw.status, "duration_ms", time.Since(start).Milliseconds(), "client_ip", ClientIP(r), "user_id", info.userID)
	})
}

// requestInfo lets inner handlers tell the request log who was signed in.
type requestInfo struct{ userID string }

type requestInfoKey struct{}

func noteUser(r *http.Request) {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.userID = userIDOf(r)
	}
}

// redactPath hides the secret part of one-time link paths (invitations,
// password resets, DoH tokens, survey answer links) so no log line can be
// used to take them over.
func redactPath(p string) string {
	for _, prefix := range []string{"/invite/", "/reset/", "/dns-query/", "/cx/answer/"} {
		if strings.HasPrefix(p, prefix) && len(p) > len(prefix) {
			return prefix + "[redacted]"
		}
	}
	return p
}

func (k *Kit) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				k.Opts.Log.Error("panic serving request", "method", r.Method, "path", redactPath(r.URL.Path), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				http.Error(w, "Something went wrong on our side. The error has been logged.", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
