// Package apptest runs a fully wired qsmo on an httptest server with the
// demo organizations and people, and gives tests signed-in clients and API
// tokens for every role.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/app"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/config"
	"github.com/qsmo/qsmo/internal/db"
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

// New starts qsmo on SQLite with the demo data. The demo data is made once
// per test binary and each Env starts from a copy of that database (the
// service areas' demo loaders take most of a second, many times that under
// the race detector); every Env still has a database of its own.
func New(t testing.TB) *Env {
	t.Helper()
	seeded.once.Do(seedTemplate)
	if seeded.err != nil {
		t.Fatalf("apptest: demo database: %v", seeded.err)
	}
	path := filepath.Join(t.TempDir(), "test.db")
	if err := os.WriteFile(path, seeded.db, 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	for name, b := range seeded.files {
		f := filepath.Join(dataDir, name)
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d, err := db.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	w := seeded.world
	w.Agencies, w.Providers, w.Users = maps.Clone(w.Agencies), maps.Clone(w.Providers), maps.Clone(w.Users)
	return start(t, d, dataDir, &w)
}

// seeded is the demo database New copies.
var seeded struct {
	once  sync.Once
	db    []byte
	files map[string][]byte // the data directory (DNS query log, feeds) by relative path
	world demo.World
	err   error
}

func seedTemplate() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "qsmo-apptest-")
	if err != nil {
		seeded.err = err
		return
	}
	defer os.RemoveAll(dir)
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		seeded.err = err
		return
	}
	d, err := db.OpenSQLite(ctx, filepath.Join(dir, "seed.db"))
	if err != nil {
		seeded.err = err
		return
	}
	defer d.Close() // also closed by the app's Close; closing twice is harmless
	if _, err := d.Migrate(ctx); err != nil {
		seeded.err = err
		return
	}
	a, log, err := newApp(ctx, d, dataDir)
	if err != nil {
		seeded.err = err
		return
	}
	w, _, err := demo.Seed(ctx, a.Identity, Password, log, a.DemoLoaders()...)
	if err != nil {
		seeded.err = err
		return
	}
	// VACUUM INTO writes a consistent, compact copy including what is still
	// in the write-ahead log.
	snap := filepath.Join(dir, "snapshot.db")
	if _, err := d.ExecContext(ctx, "VACUUM INTO ?", snap); err != nil {
		seeded.err = err
		return
	}
	if seeded.db, err = os.ReadFile(snap); err != nil {
		seeded.err = err
		return
	}
	if err := a.Close(); err != nil { // seals the DNS query log
		seeded.err = err
		return
	}
	seeded.files = map[string][]byte{}
	err = filepath.WalkDir(dataDir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dataDir, path)
		seeded.files[rel] = b
		return err
	})
	if err != nil {
		seeded.err = err
		return
	}
	seeded.world = *w
}

// newApp wires qsmo on d with cheap password hashing.
func newApp(ctx context.Context, d *db.DB, dataDir string) (*app.App, *slog.Logger, error) {
	cfg, _, err := config.Load("serve", []string{"data-dir"}, []string{"--data-dir", dataDir}, func(string) string { return "" }, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.NewWithDB(ctx, cfg, d, log, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	// Cheap argon2id parameters: these tests exercise flows, the password
	// package tests the real parameters.
	a.Identity.Hasher, err = password.NewHasher(password.Options{Params: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	// A few hours of DNS query history are enough for tests (each hour of
	// the log is a file written and synced).
	a.DNS.DemoHistory = 6 * time.Hour
	return a, log, err
}

// NewOn starts qsmo on the given database with the demo data.
func NewOn(t testing.TB, d *db.DB) *Env {
	t.Helper()
	return start(t, d, t.TempDir(), nil)
}

// start wires qsmo on d and dataDir and serves it; with w nil it first
// fills d with the demo data.
func start(t testing.TB, d *db.DB, dataDir string, w *demo.World) *Env {
	t.Helper()
	ctx := context.Background()
	a, log, err := newApp(ctx, d, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if w == nil {
		if w, _, err = demo.Seed(ctx, a.Identity, Password, log, a.DemoLoaders()...); err != nil {
			t.Fatal(err)
		}
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
