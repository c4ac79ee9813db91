// Package apptest runs a fully wired qsmo on an httptest server with the
// demo organizations and people, and gives tests signed-in clients and API
// tokens for every role.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/app"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/config"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/demo"
	"github.com/qsmo/qsmo/internal/identity"
	"github.com/qsmo/qsmo/internal/identity/password"
)

// Password is every demo user's password in tests.
const Password = "test demo password 4242"

// Env is a running qsmo.
type Env struct {
	T     testing.TB
	App   *app.App
	World *demo.World
	Srv   *httptest.Server
	URL   string
	Ctx   context.Context
}

// New starts qsmo on SQLite with the demo data.
func New(t testing.TB) *Env {
	return NewOn(t, dbtest.SQLite(t))
}

// NewOn starts qsmo on the given database with the demo data.
func NewOn(t testing.TB, d *db.DB) *Env {
	t.Helper()
	ctx := context.Background()
	cfg, _, err := config.Load("serve", []string{"data-dir"}, []string{"--data-dir", t.TempDir()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.NewWithDB(ctx, cfg, d, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// Cheap argon2id parameters: these tests exercise flows, the password
	// package tests the real parameters.
	a.Identity.Hasher, err = password.NewHasher(password.Options{Params: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	// A few hours of DNS query history are enough for tests (each hour of
	// the log is a file written and synced).
	a.DNS.DemoHistory = 6 * time.Hour
	w, _, err := demo.Seed(ctx, a.Identity, Password, log, a.DemoLoaders()...)
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the database's cleanup, so it runs first: the DNS
	// query log is sealed before the database closes.
	t.Cleanup(func() { _ = a.Close() })
	srv := httptest.NewServer(a.Kit.Handler())
	t.Cleanup(srv.Close)
	a.Identity.PublicURL = srv.URL
	return &Env{T: t, App: a, World: w, Srv: srv, URL: srv.URL, Ctx: actor.With(ctx, actor.Actor{Label: "test"})}
}

// Client is a browser-like HTTP client with a cookie jar that does not
// follow redirects, so tests see each response.
type Client struct {
	*http.Client
	Env   *Env
	Email string
}

// Anonymous returns a client that is not signed in.
func (e *Env) Anonymous() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{Env: e, Client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// SignIn returns a client signed in as email through the real sign-in form.
func (e *Env) SignIn(email string) *Client {
	e.T.Helper()
	c := e.Anonymous()
	c.Email = email
	res := c.PostForm("/sign-in", url.Values{"email": {email}, "password": {Password}})
	if res.StatusCode != http.StatusSeeOther {
		e.T.Fatalf("sign in %s: status %d", email, res.StatusCode)
	}
	return c
}

// Get fetches a path.
func (c *Client) Get(path string) *http.Response {
	c.Env.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.Env.URL+path, nil)
	return c.Do(req)
}

// PostForm submits a form the way a browser on the site would.
func (c *Client) PostForm(path string, v url.Values) *http.Response {
	c.Env.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.Env.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.Do(req)
}

// Do sends a request and fails the test on transport errors.
func (c *Client) Do(req *http.Request) *http.Response {
	c.Env.T.Helper()
	res, err := c.Client.Do(req)
	if err != nil {
		c.Env.T.Fatal(err)
	}
	c.Env.T.Cleanup(func() { res.Body.Close() })
	return res
}

// Body reads a response body.
func Body(res *http.Response) string {
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return string(b)
}

// Token creates an API token for an organization (by slug) and role.
func (e *Env) Token(orgSlug string, role authz.Role) string {
	e.T.Helper()
	o, err := e.App.Identity.LookupOrg(e.Ctx, orgSlug)
	if err != nil {
		e.T.Fatal(err)
	}
	t, err := e.App.Identity.CreateTokenSystem(e.Ctx, identity.TokenInput{OrgID: o.ID, Role: role, Name: "test " + string(role)})
	if err != nil {
		e.T.Fatal(err)
	}
	return t.Secret
}

// API sends a JSON API request with a bearer token.
func (e *Env) API(token, method, path, body string) *http.Response {
	e.T.Helper()
	req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() { res.Body.Close() })
	return res
}

// AuditHead returns the number of audit records, to prove a request changed
// nothing.
func (e *Env) AuditHead() int64 {
	e.T.Helper()
	recs, _, err := audit.List(e.Ctx, e.App.DB, audit.Filter{Limit: 1})
	if err != nil {
		e.T.Fatal(err)
	}
	if len(recs) == 0 {
		return 0
	}
	return recs[0].Seq
}

// RoleUsers maps each role to a demo user holding it: office roles in the
// office, agency roles in the Department of Energy, provider roles in
// Northwind.
var RoleUsers = map[authz.Role]string{
	authz.OfficeAdmin:     "admin@office.example.gov",
	authz.OfficeAnalyst:   "analyst@office.example.gov",
	authz.StandardsLead:   "standards@office.example.gov",
	authz.AgencyAdmin:     "admin@energy.example.gov",
	authz.AgencyBuyer:     "buyer@energy.example.gov",
	authz.AgencyApprover:  "approver@energy.example.gov",
	authz.AgencyAnalyst:   "analyst@energy.example.gov",
	authz.AgencyViewer:    "viewer@energy.example.gov",
	authz.ProviderAdmin:   "admin@northwind.example.com",
	authz.ProviderAnalyst: "analyst@northwind.example.com",
}

// RoleOrg is the slug of the organization of each role's demo user.
func RoleOrg(r authz.Role) string {
	switch r.Kind() {
	case authz.Office:
		return "office"
	case authz.Agency:
		return "energy"
	default:
		return "northwind"
	}
}

// SignInPrincipal signs in through the service and returns the principal,
// for tests that call services directly.
func (e *Env) SignInPrincipal(email string) *authz.Principal {
	e.T.Helper()
	res, err := e.App.Identity.SignIn(e.Ctx, email, Password, identity.Client{IP: "192.0.2.1"})
	if err != nil {
		e.T.Fatal(err)
	}
	p, _, err := e.App.Identity.Authenticate(e.Ctx, res.Token)
	if err != nil {
		e.T.Fatal(err)
	}
	return p
}
