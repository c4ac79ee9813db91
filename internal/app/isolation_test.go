package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/qsmo/qsmo/internal/app/apptest"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/identity"
	"github.com/qsmo/qsmo/internal/marketplace"
	"github.com/qsmo/qsmo/internal/notify"
	"github.com/qsmo/qsmo/internal/web"
)

// paramFixture gives, for a path parameter, the ID of a record that belongs
// to another organization than the agency and provider test users' (the
// Department of the Treasury), and an ID that does not exist.
type paramFixture struct {
	foreign string
	missing string
}

// foreignMarkers must never appear in a response to a user of another
// organization.
var foreignMarkers = []string{"Department of the Treasury", "treasury.example.gov", "Bureau of the Fiscal Service"}

func isolationFixtures(t *testing.T, e *apptest.Env) map[string]paramFixture {
	t.Helper()
	ctx := e.Ctx
	svc := e.App.Identity
	treasury := e.World.Agencies["treasury"]
	officeAdmin := e.SignInPrincipal(apptest.RoleUsers[authz.OfficeAdmin])
	tok, err := svc.CreateTokenSystem(ctx, identity.TokenInput{OrgID: treasury.ID, Role: authz.AgencyAnalyst, Name: "Treasury SIEM"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := svc.Invite(ctx, officeAdmin, identity.InviteInput{OrgID: treasury.ID, Email: "new.person@treasury.example.gov", Role: authz.AgencyViewer})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := svc.SignIn(ctx, "admin@treasury.example.gov", apptest.Password, identity.Client{IP: "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := audit.List(ctx, e.App.DB, audit.Filter{OrgIDs: []string{treasury.ID}, Limit: 1})
	if err != nil || len(recs) == 0 {
		t.Fatalf("no treasury audit record: %v", err)
	}
	mail, err := notify.Outbox(ctx, e.App.DB, "new.person@treasury.example.gov", 1)
	if err != nil || len(mail) == 0 {
		t.Fatalf("no treasury outbox message: %v", err)
	}
	// Protective DNS: feeds and global blocks belong to the office; the
	// demo data has some.
	feeds, err := e.App.DNS.ListFeeds(ctx, officeAdmin)
	if err != nil || len(feeds) == 0 {
		t.Fatalf("no demo DNS feed: %v", err)
	}
	blocks, err := e.App.DNS.ListGlobalBlocks(ctx, officeAdmin)
	if err != nil || len(blocks) == 0 {
		t.Fatalf("no demo DNS global block: %v", err)
	}
	market := marketFixtures(t, e)
	cxf := cxFixtures(t, e, officeAdmin)
	fixtures := map[string]paramFixture{
		"feed":       {feeds[0].ID, id.New("fed")},
		"block":      {blocks[0].ID, id.New("gbl")},
		"org":        {treasury.ID, id.New("org")},
		"user":       {e.World.Users["admin@treasury.example.gov"], id.New("usr")},
		"token":      {tok.ID, id.New("tok")},
		"invitation": {inv.Invitation.ID, id.New("inv")},
		"session":    {sess.Session.ID, id.New("ses")},
		"event":      {recs[0].ID, id.New("aud")},
		"message":    {mail[0].ID, id.New("msg")},

		"survey":            {cxf.survey, id.New("svy")},
		"survey_invitation": {cxf.invitation, id.New("cxi")},
		"feedback":          {cxf.feedback, id.New("fbk")},
		"change":            {cxf.change, id.New("ysw")},
	}
	for k, v := range market {
		fixtures[k] = v
	}
	return fixtures
}

// marketFixtures are marketplace records neither the Energy nor the
// Northwind test users may see: the Treasury's assessment, order (with a
// Federal Cyber Shared Services Center offering, onboarding, with tasks),
// subscription and its proposed modification, exception request and
// statement, all from the demo data; a draft offering of Bluewater with a
// document; the office's draft standard and one of its requirements.
func marketFixtures(t *testing.T, e *apptest.Env) map[string]paramFixture {
	t.Helper()
	ctx, d := e.Ctx, e.App.DB
	treasury := e.World.Agencies["treasury"].ID
	one := func(what, query string, args ...any) string {
		var v string
		if err := d.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
			t.Fatalf("isolation fixture %s: %v (the marketplace demo data should hold one)", what, err)
		}
		return v
	}
	offering := one("draft offering", "SELECT id FROM market_offerings WHERE status = 'draft' AND provider_org_id = ?", e.World.Providers["bluewater"].ID)
	f, err := e.App.Market.UploadFile(ctx, e.SignInPrincipal("admin@bluewater.example.com"), marketplace.UploadInput{OfferingID: offering,
		Purpose: marketplace.FileDocument, Meta: marketplace.FileMeta{Name: "treasury-pilot-plan.txt"}, Data: []byte("Department of the Treasury pilot plan")})
	if err != nil {
		t.Fatal(err)
	}
	order := one("order", "SELECT id FROM market_orders WHERE agency_org_id = ? AND state = 'provisioning'", treasury)
	standard := one("draft standard", "SELECT id FROM market_standards WHERE status = 'draft'")
	sub := one("subscription", "SELECT s.id FROM market_subscriptions s JOIN market_modifications m ON m.subscription_id = s.id WHERE s.agency_org_id = ?", treasury)
	return map[string]paramFixture{
		"offering":     {offering, id.New("off")},
		"file":         {f.ID, id.New("fil")},
		"standard":     {standard, id.New("std")},
		"requirement":  {one("requirement", "SELECT id FROM market_requirements WHERE standard_id = ?", standard), id.New("req")},
		"assessment":   {one("assessment", "SELECT id FROM market_assessments WHERE agency_org_id = ?", treasury), id.New("asm")},
		"order":        {order, id.New("ord")},
		"task":         {one("task", "SELECT id FROM market_order_tasks WHERE order_id = ?", order), id.New("tsk")},
		"subscription": {sub, id.New("sub")},
		"modification": {one("modification", "SELECT id FROM market_modifications WHERE subscription_id = ?", sub), id.New("mod")},
		"exception":    {one("exception", "SELECT id FROM market_exceptions WHERE agency_org_id = ?", treasury), id.New("exc")},
		"statement":    {one("statement", "SELECT id FROM market_statements WHERE agency_org_id = ?", treasury), id.New("stm")},
	}
}

type cxFixture struct{ survey, invitation, feedback, change string }

// cxFixtures makes the Department of the Treasury's customer-experience
// records: a survey with an invitation, a feedback item, and a "you said,
// we did" entry shown only to Treasury.
func cxFixtures(t *testing.T, e *apptest.Env, officeAdmin *authz.Principal) cxFixture {
	t.Helper()
	ctx := e.Ctx
	treasury := e.World.Agencies["treasury"]
	err := e.App.DB.InTx(ctx, func(tx *db.Tx) error {
		return e.App.CX.Stage(ctx, tx, cx.StageEvent{Stage: cx.StageProcurement, AgencyID: treasury.ID, ServiceArea: "soc", OrderID: "ord_isolation"})
	})
	if err != nil {
		t.Fatal(err)
	}
	var fx cxFixture
	if err := e.App.DB.QueryRowContext(ctx, `SELECT s.id, i.id FROM cx_surveys s JOIN cx_invitations i ON i.survey_id = s.id
		WHERE s.order_id = 'ord_isolation' ORDER BY i.id LIMIT 1`).Scan(&fx.survey, &fx.invitation); err != nil {
		t.Fatal(err)
	}
	fb, err := e.App.CX.SubmitFeedback(ctx, e.SignInPrincipal("admin@treasury.example.gov"), cx.FeedbackInput{Kind: cx.Problem, Title: "Isolation fixture problem"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.App.CX.PostChange(ctx, officeAdmin, cx.ChangeInput{Title: "Isolation fixture change", Summary: "Shown only to the organization it answers.",
		Audience: cx.Linked, FeedbackIDs: []string{fb.ID}})
	if err != nil {
		t.Fatal(err)
	}
	fx.feedback, fx.change = fb.ID, c.ID
	return fx
}

var paramRE = regexp.MustCompile(`\{([a-zA-Z_]+)(\.\.\.)?\}`)

// TestTenantIsolation walks every registered route that names a record and
// asks for another organization's record and for a missing one, as every
// role, through the page (signed-in browser) or API (token) door. The
// answer must be 404, with nothing changed and nothing leaked. New routes
// join the matrix automatically; a new kind of path parameter fails the test
// until it gets a fixture above.
func TestTenantIsolation(t *testing.T) {
	e := apptest.New(t)
	fixtures := isolationFixtures(t, e)
	clients := map[authz.Role]*apptest.Client{}
	tokens := map[authz.Role]string{}
	for role, email := range apptest.RoleUsers {
		clients[role] = e.SignIn(email)
		tokens[role] = e.Token(apptest.RoleOrg(role), role)
	}
	checked := 0
	for _, rt := range e.App.Kit.Router.Routes() {
		params := paramRE.FindAllStringSubmatch(rt.Path, -1)
		if len(params) == 0 || rt.Access == web.Public {
			continue
		}
		pathFor := func(variant string) string {
			path := rt.Path
			for _, m := range params {
				fx, ok := fixtures[m[1]]
				if !ok {
					t.Fatalf("route %s has path parameter {%s} without an isolation fixture: add one to isolationFixtures", rt.Pattern(), m[1])
				}
				v := fx.missing
				if variant == "foreign" {
					v = fx.foreign
				}
				path = strings.Replace(path, m[0], url.PathEscape(v), 1)
			}
			return path
		}
		for _, role := range authz.AllRoles() {
			status := map[string]int{}
			for _, variant := range []string{"missing", "foreign"} {
				if variant == "foreign" && role.Kind() == authz.Office {
					continue // the office sees every organization
				}
				name := fmt.Sprintf("%s %s as %s (%s record)", rt.Method, rt.Path, role, variant)
				path := pathFor(variant)
				before := e.AuditHead()
				var res *http.Response
				if rt.API {
					body := ""
					if rt.Method == http.MethodPost || rt.Method == http.MethodPut || rt.Method == http.MethodPatch {
						body = "{}"
					}
					res = e.API(tokens[role], rt.Method, path, body)
				} else if rt.Method == http.MethodGet {
					res = clients[role].Get(path)
				} else {
					res = clients[role].PostForm(path, url.Values{})
				}
				body := apptest.Body(res)
				checked++
				status[variant] = res.StatusCode
				// 403 is allowed only where the role lacks the function
				// whatever the record: then the missing record gets it too.
				if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusForbidden {
					t.Errorf("%s: status %d, want 404", name, res.StatusCode)
				}
				if after := e.AuditHead(); after != before {
					t.Errorf("%s: changed state (audit head %d -> %d)", name, before, after)
				}
				for _, m := range foreignMarkers {
					if strings.Contains(body, m) {
						t.Errorf("%s: response leaks %q", name, m)
					}
				}
			}
			if f, ok := status["foreign"]; ok && f != status["missing"] {
				t.Errorf("%s %s as %s: another organization's record answers %d but a missing one %d: the difference reveals that the record exists",
					rt.Method, rt.Path, role, f, status["missing"])
			}
		}
	}
	if checked < 300 {
		t.Fatalf("only %d requests checked; the route walk is broken", checked)
	}
	t.Logf("%d requests checked", checked)
}

// TestListsShowOnlyOwnOrganizations checks the parameterless pages and API
// lists of agency and provider users for other organizations' data.
func TestListsShowOnlyOwnOrganizations(t *testing.T) {
	e := apptest.New(t)
	for _, role := range authz.AllRoles() {
		if role.Kind() == authz.Office {
			continue
		}
		c := e.SignIn(apptest.RoleUsers[role])
		tok := e.Token(apptest.RoleOrg(role), role)
		for _, rt := range e.App.Kit.Router.Routes() {
			if rt.Method != http.MethodGet || strings.Contains(rt.Path, "{") || rt.Access == web.Public || strings.HasSuffix(rt.Path, "/") && rt.Path != "/" {
				continue
			}
			var res *http.Response
			if rt.API {
				res = e.API(tok, http.MethodGet, rt.Path, "")
			} else {
				res = c.Get(strings.TrimSuffix(rt.Path, "{$}"))
			}
			body := apptest.Body(res)
			if res.StatusCode >= 500 {
				t.Errorf("GET %s as %s: status %d", rt.Path, role, res.StatusCode)
			}
			for _, m := range foreignMarkers {
				if strings.Contains(body, m) {
					t.Errorf("GET %s as %s leaks %q", rt.Path, role, m)
				}
			}
		}
	}
}
