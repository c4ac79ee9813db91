package cx

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/identity"
	"github.com/qsmo/qsmo/internal/notify"
)

// world is a small office with two agencies (one with a sub-organization),
// a provider and people in the roles the tests need, on a test clock.
type world struct {
	t     *testing.T
	ctx   context.Context
	d     *db.DB
	clock *time.Time
	ids   *identity.Service
	s     *Service

	office, energy, lab, treasury, northwind, empty identity.Org

	officeAdmin, officeAnalyst             *authz.Principal
	energyAdmin, energyBuyer, energyViewer *authz.Principal
	energyAnalyst, labAdmin, treasuryAdmin *authz.Principal
	northwindAdmin                         *authz.Principal
}

func newWorld(t *testing.T, d *db.DB) *world {
	t.Helper()
	now := time.Date(2026, 5, 12, 15, 0, 0, 0, time.UTC) // FY2026 Q3
	w := &world{t: t, d: d, clock: &now, ctx: actor.With(context.Background(), actor.Actor{Label: "test"})}
	d.Now = func() time.Time { return *w.clock }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w.ids = identity.New(d, log)
	w.s = New(d, w.ids.Authz, log)
	w.s.OfficeName = "Cyber Office"
	w.s.PublicURL = func() string { return "https://qsmo.example.gov" }
	var err error
	if w.office, err = w.ids.CreateOffice(w.ctx, "Cyber Office"); err != nil {
		t.Fatal(err)
	}
	system := &authz.Principal{Memberships: []authz.Membership{{OrgID: w.office.ID, OrgKind: authz.Office, Role: authz.OfficeAdmin}}}
	org := func(name string, kind authz.OrgKind, parent string) identity.Org {
		o, err := w.ids.CreateOrg(w.ctx, system, identity.OrgInput{Name: name, Kind: kind, ParentID: parent})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	w.energy = org("Department of Energy", authz.Agency, "")
	w.lab = org("Energy Lab", authz.Agency, w.energy.ID)
	w.treasury = org("Department of the Treasury", authz.Agency, "")
	w.northwind = org("Northwind Security", authz.Provider, "")
	w.empty = org("Empty Agency", authz.Agency, "")
	w.officeAdmin = w.person("admin@office.example.gov", w.office, authz.OfficeAdmin)
	w.officeAnalyst = w.person("analyst@office.example.gov", w.office, authz.OfficeAnalyst)
	w.energyAdmin = w.person("admin@energy.example.gov", w.energy, authz.AgencyAdmin)
	w.energyBuyer = w.person("buyer@energy.example.gov", w.energy, authz.AgencyBuyer)
	w.energyViewer = w.person("viewer@energy.example.gov", w.energy, authz.AgencyViewer)
	w.energyAnalyst = w.person("analyst@energy.example.gov", w.energy, authz.AgencyAnalyst)
	w.labAdmin = w.person("admin@lab.example.gov", w.lab, authz.AgencyAdmin)
	w.treasuryAdmin = w.person("admin@treasury.example.gov", w.treasury, authz.AgencyAdmin)
	w.northwindAdmin = w.person("admin@northwind.example.com", w.northwind, authz.ProviderAdmin)
	return w
}

// person creates a user with one role and returns their principal.
func (w *world) person(email string, o identity.Org, role authz.Role) *authz.Principal {
	w.t.Helper()
	local := strings.Split(email, "@")[0]
	name := strings.ToUpper(local[:1]) + local[1:] + " of " + o.Name
	uid, err := w.ids.CreateSeedUser(w.ctx, identity.SeedUser{Email: email, Name: name, Roles: []identity.SeedRole{{OrgID: o.ID, Role: role}}})
	if err != nil {
		w.t.Fatal(err)
	}
	return &authz.Principal{UserID: uid, Email: email, Name: name, ActiveOrgID: o.ID,
		Memberships: []authz.Membership{{OrgID: o.ID, OrgKind: o.Kind, OrgName: o.Name, Role: role}}}
}

// token is an API token's principal for an organization and role.
func (w *world) token(o identity.Org, role authz.Role) *authz.Principal {
	return &authz.Principal{TokenID: "tok_test", Name: "test", ActiveOrgID: o.ID, Memberships: []authz.Membership{{OrgID: o.ID, OrgKind: o.Kind, OrgName: o.Name, Role: role}}}
}

func (w *world) advance(d time.Duration) { *w.clock = w.clock.Add(d) }

// stage calls the lifecycle hook in its own transaction.
func (w *world) stage(ev StageEvent) error {
	return w.d.InTx(w.ctx, func(tx *db.Tx) error { return w.s.Stage(w.ctx, tx, ev) })
}

var linkRE = regexp.MustCompile(`https://qsmo\.example\.gov/cx/answer/([a-z0-9]+)`)

// surveyLinks returns the one-time survey secrets mailed to email, newest
// first.
func (w *world) surveyLinks(email string) []string {
	w.t.Helper()
	mail, err := notify.Outbox(w.ctx, w.d, email, 100)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, m := range mail {
		if m := linkRE.FindStringSubmatch(m.Body); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func (w *world) count(query string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.d.QueryRowContext(w.ctx, query, args...).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func code(t *testing.T, err error, want apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); got != want {
		t.Fatalf("error %v: code %q, want %q", err, got, want)
	}
}

// raw reads a survey form body as the browser sends it.
func raw(form string) a11.Raw {
	v, err := url.ParseQuery(form)
	if err != nil {
		panic(err)
	}
	r, _ := a11.FromForm(v)
	return r
}
