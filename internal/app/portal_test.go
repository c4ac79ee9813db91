package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/app/apptest"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/web"
)

func TestSecurityHeaders(t *testing.T) {
	e := apptest.New(t)
	c := e.Anonymous()
	for _, path := range []string{"/sign-in", "/nope", "/api/v1/me"} {
		res := c.Get(path)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "default-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code", path)
		}
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS sent over plain HTTP", path)
		}
	}
}

var inlineRE = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\sstyle="|\son[a-z]+="`)

func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	e := apptest.New(t)
	c := e.SignIn(apptest.RoleUsers[authz.OfficeAdmin])
	for _, rt := range e.App.Kit.Router.Routes() {
		if rt.Method != http.MethodGet || rt.API || strings.Contains(rt.Path, "{") && !strings.HasSuffix(rt.Path, "{$}") || strings.HasPrefix(rt.Path, "/assets") || rt.Handler == nil {
			continue
		}
		res := c.Get(strings.TrimSuffix(rt.Path, "{$}"))
		body := apptest.Body(res)
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			continue
		}
		if m := inlineRE.FindString(body); m != "" {
			t.Errorf("GET %s has inline code or style: %q", rt.Path, m)
		}
	}
}

func TestSessionCookieAndRotation(t *testing.T) {
	e := apptest.New(t)
	c := e.Anonymous()
	// A cookie set before sign-in (fixation attempt) must not survive it.
	first := e.SignIn(apptest.RoleUsers[authz.AgencyViewer])
	u, _ := url.Parse(e.URL)
	old := first.Jar.Cookies(u)
	if len(old) != 1 {
		t.Fatalf("cookies after sign-in: %v", old)
	}
	c.Jar.SetCookies(u, old)
	res := c.PostForm("/sign-in", url.Values{"email": {apptest.RoleUsers[authz.AgencyAdmin]}, "password": {apptest.Password}})
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "qsmo_session" && ck.Value != "" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie set at sign-in")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
		t.Errorf("cookie flags: %+v", session)
	}
	if session.Value == old[0].Value {
		t.Error("session not rotated at sign-in")
	}
	// The old session is dead.
	if res := first.Get("/account"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("old session still works: %d", res.StatusCode)
	}
}

func TestCrossSiteRequestsAreRefused(t *testing.T) {
	e := apptest.New(t)
	c := e.SignIn(apptest.RoleUsers[authz.OfficeAdmin])
	before := e.AuditHead()
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/orgs", strings.NewReader(url.Values{"name": {"Evil Agency"}, "kind": {"agency"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res := c.Do(req)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST with %v: status %d, want 403", hdr, res.StatusCode)
		}
	}
	if e.AuditHead() != before {
		t.Fatal("a cross-site request changed state")
	}
	// The same form from the site itself works.
	res := c.PostForm("/orgs", url.Values{"name": {"Department of Veterans Affairs"}, "kind": {"agency"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-site POST: %d %s", res.StatusCode, apptest.Body(res))
	}
}

// TestGetNeverChangesState visits every GET route as an office admin
// (records of the demo data filled in) and checks the audit log did not
// move.
func TestGetNeverChangesState(t *testing.T) {
	e := apptest.New(t)
	c := e.SignIn(apptest.RoleUsers[authz.OfficeAdmin])
	tok := e.Token("office", authz.OfficeAdmin)
	energy := e.World.Agencies["energy"]
	fill := strings.NewReplacer("{org}", energy.ID, "{user}", e.World.Users["admin@energy.example.gov"], "{$}", "")
	before := e.AuditHead()
	for _, rt := range e.App.Kit.Router.Routes() {
		if rt.Method != http.MethodGet {
			continue
		}
		path := fill.Replace(rt.Path)
		if strings.Contains(path, "{") {
			path = paramRE.ReplaceAllString(path, "x")
		}
		if rt.API {
			e.API(tok, http.MethodGet, path, "")
		} else {
			c.Get(path)
		}
	}
	if after := e.AuditHead(); after != before {
		t.Fatalf("GET requests changed state: audit head %d -> %d", before, after)
	}
}

// TestOpenAPIMatchesRoutes checks that every API route is documented and
// every documented operation is served by the router at that very pattern.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := apptest.New(t)
	res := e.Anonymous().Get("/api/openapi.json")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	raw := apptest.Body(res)
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	opIDs := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			pattern := strings.ToUpper(method) + " " + path
			documented[pattern] = true
			req, _ := http.NewRequest(strings.ToUpper(method), e.URL+strings.NewReplacer("{", "x", "}", "").Replace(path), nil)
			_, served := e.App.Kit.Router.Mux().Handler(req)
			if served != pattern {
				t.Errorf("documented %s is served by %q", pattern, served)
			}
			oid, _ := op["operationId"].(string)
			if oid == "" || opIDs[oid] {
				t.Errorf("%s: operationId %q missing or duplicated", pattern, oid)
			}
			opIDs[oid] = true
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s: no responses", pattern)
			}
		}
	}
	var apiRoutes []string
	for _, rt := range e.App.Kit.Router.Routes() {
		if strings.HasPrefix(rt.Path, "/api/v1/") {
			apiRoutes = append(apiRoutes, rt.Pattern())
			if !rt.API {
				t.Errorf("%s is under /api/v1 but not registered as an API route", rt.Pattern())
			}
			if !documented[rt.Pattern()] {
				t.Errorf("API route %s is not in the OpenAPI document", rt.Pattern())
			}
		}
	}
	if len(apiRoutes) != len(documented) {
		sort.Strings(apiRoutes)
		t.Errorf("%d API routes but %d documented operations", len(apiRoutes), len(documented))
	}
	for _, ref := range regexp.MustCompile(`"#/components/schemas/([A-Za-z0-9_]+)"`).FindAllStringSubmatch(raw, -1) {
		if _, ok := doc.Components.Schemas[ref[1]]; !ok {
			t.Errorf("dangling schema reference %s", ref[1])
		}
	}
}

func TestAPIErrorsAreJSON(t *testing.T) {
	e := apptest.New(t)
	tok := e.Token("energy", authz.AgencyViewer)
	cases := []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"no token", "", "GET", "/api/v1/orgs", "", 401, "unauthorized"},
		{"bad token", "qsmo_nope", "GET", "/api/v1/orgs", "", 401, "unauthorized"},
		{"missing org", tok, "GET", "/api/v1/orgs/org_00000000000000000000000000", "", 404, "not_found"},
		{"role lacks function", tok, "POST", "/api/v1/orgs/energy/tokens", `{"name":"x","role":"agency_viewer"}`, 403, "forbidden"},
		{"bad json", e.Token("office", authz.OfficeAdmin), "POST", "/api/v1/orgs", `{"name":`, 422, "invalid"},
		{"unknown field", e.Token("office", authz.OfficeAdmin), "POST", "/api/v1/orgs", `{"nmae":"x"}`, 422, "invalid"},
		{"invalid input", e.Token("office", authz.OfficeAdmin), "POST", "/api/v1/orgs", `{"name":"x","kind":"club"}`, 422, "invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.AuditHead()
			res := e.API(c.token, c.method, c.path, c.body)
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if res.StatusCode != c.status || body.Error.Code != c.code || body.Error.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", res.StatusCode, body.Error, c.status, c.code)
			}
			if e.AuditHead() != before {
				t.Fatal("a refused request changed state")
			}
		})
	}
}

// TestAPIWorkflow runs on SQLite and on PostgreSQL: the product behaves
// the same on both engines.
func TestAPIWorkflow(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { apiWorkflow(t, apptest.New(t)) })
	t.Run("postgres", func(t *testing.T) { apiWorkflow(t, apptest.NewOn(t, dbtest.Postgres(t))) })
}

func apiWorkflow(t *testing.T, e *apptest.Env) {
	admin := e.Token("office", authz.OfficeAdmin)
	res := e.API(admin, "POST", "/api/v1/orgs", `{"name":"Department of State","slug":"state","kind":"agency","alc":"19000001"}`)
	if res.StatusCode != 201 {
		t.Fatalf("create org: %d %s", res.StatusCode, apptest.Body(res))
	}
	res = e.API(admin, "POST", "/api/v1/orgs/state/invitations", `{"email":"ciso@state.example.gov","role":"agency_admin"}`)
	if res.StatusCode != 201 {
		t.Fatalf("invite: %d %s", res.StatusCode, apptest.Body(res))
	}
	res = e.API(admin, "POST", "/api/v1/orgs/state/tokens", `{"name":"SIEM","role":"agency_analyst","expires_in_days":30}`)
	var tok struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	if res.StatusCode != 201 || !strings.HasPrefix(tok.Token, "qsmo_") {
		t.Fatalf("token: %d %+v", res.StatusCode, tok)
	}
	if res := e.API(tok.Token, "GET", "/api/v1/me", ""); res.StatusCode != 200 {
		t.Fatalf("new token rejected: %d", res.StatusCode)
	}
	if res := e.API(admin, "DELETE", "/api/v1/tokens/"+tok.ID, ""); res.StatusCode != 204 {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if res := e.API(tok.Token, "GET", "/api/v1/me", ""); res.StatusCode != 401 {
		t.Fatalf("revoked token works: %d", res.StatusCode)
	}
	res = e.API(admin, "GET", "/api/v1/audit?action=token.&limit=5", "")
	body := apptest.Body(res)
	if res.StatusCode != 200 || !strings.Contains(body, `"token.revoke"`) {
		t.Fatalf("audit: %d %s", res.StatusCode, body)
	}
}

func TestMetrics(t *testing.T) {
	e := apptest.New(t)
	c := e.Anonymous()
	c.Get("/sign-in")
	c.Get("/sign-in")
	// The counter moves after the response is written, which the client
	// may see first: scrape until it shows (bounded).
	var body string
	for i := 0; i < 50; i++ {
		body = apptest.Body(c.Get("/metrics"))
		if strings.Contains(body, `qsmo_http_requests_total{route="GET /sign-in",status="2xx"} 2`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`qsmo_http_requests_total{route="GET /sign-in",status="2xx"} 2`,
		`qsmo_http_request_duration_seconds_bucket{route="GET /sign-in"`,
		`go_sql_open_connections{db_name="sqlite"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if res := c.Get("/readyz"); res.StatusCode != 200 {
		t.Errorf("/readyz = %d", res.StatusCode)
	}
	e.App.DB.Close()
	if res := c.Get("/readyz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database closed = %d, want 503", res.StatusCode)
	}
	if res := c.Get("/healthz"); res.StatusCode != 200 {
		t.Errorf("/healthz = %d", res.StatusCode)
	}
}

func TestRouteRegistryIsConsistent(t *testing.T) {
	e := apptest.New(t)
	seen := map[string]bool{}
	for _, rt := range e.App.Kit.Router.Routes() {
		if seen[rt.Pattern()] {
			t.Errorf("route %s registered twice", rt.Pattern())
		}
		seen[rt.Pattern()] = true
		if rt.API && rt.Access != web.Token && rt.Access != web.Public {
			t.Errorf("API route %s uses session access", rt.Pattern())
		}
		if rt.Method == http.MethodGet && rt.Access == web.Token && !strings.HasPrefix(rt.Path, "/api/") {
			t.Errorf("token route outside /api: %s", rt.Pattern())
		}
	}
}
