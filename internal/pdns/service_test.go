package pdns

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/identity"
)

// world is a database with the office, two agencies (one with a
// sub-organization), a provider, and principals for the roles the tests
// need.
type world struct {
	t                                   *testing.T
	ctx                                 context.Context
	d                                   *db.DB
	svc                                 *Service
	office, energy, nnsa, treasury, pro string
	officeAdmin, officeAnalyst          *authz.Principal
	energyAdmin, energyAnalyst          *authz.Principal
	energyViewer, treasuryAdmin         *authz.Principal
	providerAdmin                       *authz.Principal
}

func newWorld(t *testing.T, d *db.DB) *world {
	t.Helper()
	ctx := actor.With(context.Background(), actor.Actor{Label: "test"})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ids := identity.New(d, log)
	office, err := ids.CreateOffice(ctx, "Test Office")
	if err != nil {
		t.Fatal(err)
	}
	system := &authz.Principal{Memberships: []authz.Membership{{OrgID: office.ID, OrgKind: authz.Office, Role: authz.OfficeAdmin}}}
	mk := func(name, slug string, kind authz.OrgKind, parent string) string {
		o, err := ids.CreateOrg(ctx, system, identity.OrgInput{Name: name, Slug: slug, Kind: kind, ParentID: parent})
		if err != nil {
			t.Fatal(err)
		}
		return o.ID
	}
	w := &world{t: t, ctx: ctx, d: d, office: office.ID}
	w.energy = mk("Department of Energy", "energy", authz.Agency, "")
	w.nnsa = mk("National Nuclear Security Administration", "energy-nnsa", authz.Agency, w.energy)
	w.treasury = mk("Department of the Treasury", "treasury", authz.Agency, "")
	w.pro = mk("Northwind", "northwind", authz.Provider, "")
	as := func(org string, kind authz.OrgKind, r authz.Role) *authz.Principal {
		return &authz.Principal{Email: string(r) + "@test", ActiveOrgID: org, Memberships: []authz.Membership{{OrgID: org, OrgKind: kind, Role: r}}}
	}
	w.officeAdmin, w.officeAnalyst = system, as(office.ID, authz.Office, authz.OfficeAnalyst)
	w.energyAdmin, w.energyAnalyst, w.energyViewer = as(w.energy, authz.Agency, authz.AgencyAdmin), as(w.energy, authz.Agency, authz.AgencyAnalyst), as(w.energy, authz.Agency, authz.AgencyViewer)
	w.treasuryAdmin = as(w.treasury, authz.Agency, authz.AgencyAdmin)
	w.providerAdmin = as(w.pro, authz.Provider, authz.ProviderAdmin)
	w.svc = NewService(d, ids.Authz, log)
	w.svc.FeedsDir = filepath.Join(t.TempDir(), "feeds")
	return w
}

func (w *world) provision(orgs ...string) {
	w.t.Helper()
	for _, o := range orgs {
		if _, err := w.svc.ProvisionAgency(w.ctx, w.officeAdmin, o); err != nil {
			w.t.Fatalf("provision %s: %v", o, err)
		}
	}
}

func (w *world) auditCount(action string) int {
	w.t.Helper()
	recs, _, err := audit.List(w.ctx, w.d, audit.Filter{Action: action, Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Action == action {
			n++
		}
	}
	return n
}

func (w *world) version() int64 {
	w.t.Helper()
	v, err := PolicyVersion(w.ctx, w.d)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if apperr.CodeOf(err) != code {
		t.Fatalf("error %v (code %q), want code %q", err, apperr.CodeOf(err), code)
	}
}

func TestProvisioning(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		if _, err := w.svc.GetPolicy(w.ctx, w.energyAdmin, w.energy); err != ErrNotProvisioned {
			t.Fatalf("before provisioning: %v", err)
		}
		t.Run("only office admins provision from the portal", func(t *testing.T) {
			_, err := w.svc.ProvisionAgency(w.ctx, w.energyAdmin, w.energy)
			wantCode(t, err, apperr.Forbidden)
			_, err = w.svc.ProvisionAgency(w.ctx, w.treasuryAdmin, w.energy)
			wantCode(t, err, apperr.NotFound)
		})
		v := w.version()
		w.provision(w.energy)
		pol, err := w.svc.GetPolicy(w.ctx, w.energyAdmin, w.energy)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pol.Categories, DefaultCategories) || pol.Mode != ModeNXDomain || !pol.CNAMEInspection || len(pol.DoHToken) != 32 {
			t.Fatalf("default policy %+v", pol)
		}
		if w.version() != v+1 || w.auditCount("dns.provision") != 1 {
			t.Fatalf("version %d -> %d, provision records %d", v, w.version(), w.auditCount("dns.provision"))
		}
		t.Run("provisioning twice changes nothing", func(t *testing.T) {
			err := d.InTx(w.ctx, func(tx *db.Tx) error {
				again, err := (Provisioner{}).Provision(w.ctx, tx, w.energy)
				if again.DoHToken != pol.DoHToken {
					t.Errorf("token changed")
				}
				return err
			})
			if err != nil || w.auditCount("dns.provision") != 1 || w.version() != v+1 {
				t.Fatalf("err %v, records %d", err, w.auditCount("dns.provision"))
			}
		})
		t.Run("providers and the office are not agencies", func(t *testing.T) {
			err := d.InTx(w.ctx, func(tx *db.Tx) error { _, err := (Provisioner{}).Provision(w.ctx, tx, w.pro); return err })
			wantCode(t, err, apperr.Invalid)
		})
		t.Run("deprovisioning removes the policy and its lists", func(t *testing.T) {
			if _, err := w.svc.UpdatePolicy(w.ctx, w.energyAdmin, w.energy, PolicyInput{Mode: ModeNXDomain, Egress: []string{"198.51.100.0/24"}, Deny: []string{"x.example"}}); err != nil {
				t.Fatal(err)
			}
			if err := w.svc.DeprovisionAgency(w.ctx, w.officeAdmin, w.energy); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.GetPolicy(w.ctx, w.energyAdmin, w.energy); err != ErrNotProvisioned {
				t.Fatalf("after deprovisioning: %v", err)
			}
			var n int
			if err := d.QueryRowContext(w.ctx, "SELECT (SELECT COUNT(*) FROM dns_networks) + (SELECT COUNT(*) FROM dns_names)").Scan(&n); err != nil || n != 0 {
				t.Fatalf("lists left behind: %d %v", n, err)
			}
			if w.auditCount("dns.deprovision") != 1 {
				t.Fatal("not audited")
			}
		})
	})
}

func TestPolicyAccessAndValidation(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		w.provision(w.energy, w.treasury, w.nnsa)
		in := PolicyInput{Categories: []string{"phishing", "malware", "malware"}, Mode: ModeRefused, CNAMEInspection: true,
			Egress: []string{"198.51.100.0/24", "2001:db8:e::/48"}, Deny: []string{"Bad.Example.", "*.ads.example"}, Allow: []string{"ok.bad.example"},
			BlockedAnswers: []string{"10.0.0.0/8"}}
		t.Run("who may read and change", func(t *testing.T) {
			for _, c := range []struct {
				name string
				p    *authz.Principal
				code apperr.Code
			}{
				{"analyst", w.energyAnalyst, apperr.Forbidden}, {"viewer", w.energyViewer, apperr.Forbidden},
				{"another agency", w.treasuryAdmin, apperr.NotFound}, {"a provider", w.providerAdmin, apperr.NotFound},
				{"office analyst", w.officeAnalyst, apperr.Forbidden},
			} {
				_, err := w.svc.UpdatePolicy(w.ctx, c.p, w.energy, in)
				if apperr.CodeOf(err) != c.code {
					t.Errorf("%s: %v, want %s", c.name, err, c.code)
				}
			}
			if _, err := w.svc.GetPolicy(w.ctx, w.treasuryAdmin, w.energy); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("another agency reads the policy: %v", err)
			}
			// The parent agency's admin manages its sub-organization.
			if _, err := w.svc.UpdatePolicy(w.ctx, w.energyAdmin, w.nnsa, PolicyInput{Mode: ModeNoData}); err != nil {
				t.Errorf("parent admin: %v", err)
			}
		})
		v := w.version()
		pol, err := w.svc.UpdatePolicy(w.ctx, w.energyAdmin, w.energy, in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pol.Categories, []string{"malware", "phishing"}) || !slices.Equal(pol.Deny, []string{"*.ads.example", "bad.example"}) ||
			len(pol.Egress) != 2 || pol.Mode != ModeRefused || w.version() != v+1 {
			t.Fatalf("saved %+v", pol)
		}
		t.Run("the DoH token is a secret of dns.connect", func(t *testing.T) {
			viewer, err := w.svc.GetPolicy(w.ctx, w.energyViewer, w.energy)
			if err != nil || viewer.DoHToken != "" {
				t.Fatalf("viewer sees token %q (%v)", viewer.DoHToken, err)
			}
			analyst, _ := w.svc.GetPolicy(w.ctx, w.energyAnalyst, w.energy)
			if analyst.DoHToken == "" {
				t.Fatal("analyst does not see the token")
			}
			recs, _, _ := audit.List(w.ctx, d, audit.Filter{Limit: 100})
			for _, r := range recs {
				if strings.Contains(r.BeforeJSON+r.AfterJSON+r.Summary, analyst.DoHToken) {
					t.Fatalf("audit record %s holds the DoH token", r.Action)
				}
			}
		})
		t.Run("bad input changes nothing and names each field", func(t *testing.T) {
			before := w.version()
			_, err := w.svc.UpdatePolicy(w.ctx, w.energyAdmin, w.energy, PolicyInput{Categories: []string{"gambling"}, Mode: "drop",
				Egress: []string{"10.0.0.300"}, Deny: []string{"https://x.example/"}, Allow: []string{"a..b"}, BlockedAnswers: []string{"0.0.0.0/0"}})
			fields := apperr.FieldsOf(err)
			for _, f := range []string{"categories", "mode", "egress", "deny", "allow", "blocked_answers"} {
				if fields[f] == "" {
					t.Errorf("no message for %s: %v", f, fields)
				}
			}
			if w.version() != before {
				t.Fatal("bad input changed the policy version")
			}
		})
		t.Run("egress networks belong to one agency", func(t *testing.T) {
			if _, err := w.svc.UpdatePolicy(w.ctx, w.treasuryAdmin, w.treasury, PolicyInput{Mode: ModeNXDomain, Egress: []string{"203.0.113.0/24"}}); err != nil {
				t.Fatal(err)
			}
			before := w.version()
			_, err := w.svc.UpdatePolicy(w.ctx, w.energyAdmin, w.energy, PolicyInput{Mode: ModeNXDomain, Egress: []string{"203.0.113.128/25"}})
			msg := apperr.FieldsOf(err)["egress"]
			if !strings.Contains(msg, "203.0.113.128/25 overlaps a network registered by another agency") || strings.Contains(msg, "Treasury") {
				t.Fatalf("agency sees %q", msg)
			}
			_, err = w.svc.UpdatePolicy(w.ctx, w.officeAdmin, w.energy, PolicyInput{Mode: ModeNXDomain, Egress: []string{"203.0.113.128/25"}})
			if msg := apperr.FieldsOf(err)["egress"]; !strings.Contains(msg, "203.0.113.128/25 overlaps 203.0.113.0/24 of Department of the Treasury") {
				t.Fatalf("office sees %q", msg)
			}
			if w.version() != before {
				t.Fatal("a refused overlap changed the policy")
			}
			// Keeping its own networks is no conflict with itself.
			if _, err := w.svc.UpdatePolicy(w.ctx, w.treasuryAdmin, w.treasury, PolicyInput{Mode: ModeNoData, Egress: []string{"203.0.113.0/24"}}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("the block page must exist before an agency uses it", func(t *testing.T) {
			_, err := w.svc.UpdatePolicy(w.ctx, w.energyAdmin, w.energy, PolicyInput{Mode: ModeSinkhole})
			if !strings.Contains(apperr.FieldsOf(err)["mode"], "has not set up a block page") {
				t.Fatalf("err %v", err)
			}
			if _, err := w.svc.UpdateSettings(w.ctx, w.energyAdmin, "192.0.2.80", ""); apperr.CodeOf(err) != apperr.NotFound {
				t.Fatalf("an agency changes the block page: %v", err)
			}
			if _, err := w.svc.UpdateSettings(w.ctx, w.officeAdmin, "192.0.2.80", "2001:db8::80"); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.UpdatePolicy(w.ctx, w.energyAdmin, w.energy, PolicyInput{Mode: ModeSinkhole}); err != nil {
				t.Fatal(err)
			}
			_, err = w.svc.UpdateSettings(w.ctx, w.officeAdmin, "", "")
			if !strings.Contains(apperr.FieldsOf(err)["sinkhole_v4"], "1 agencies answer blocked names with the block page") {
				t.Fatalf("cleared the block page in use: %v", err)
			}
			if _, err := w.svc.UpdateSettings(w.ctx, w.officeAdmin, "2001:db8::1", ""); apperr.FieldsOf(err)["sinkhole_v4"] == "" {
				t.Fatalf("an IPv6 address as IPv4: %v", err)
			}
		})
		t.Run("a new DoH token replaces the old one", func(t *testing.T) {
			old, _ := w.svc.GetPolicy(w.ctx, w.energyAdmin, w.energy)
			if _, err := w.svc.RotateToken(w.ctx, w.energyAnalyst, w.energy); apperr.CodeOf(err) != apperr.Forbidden {
				t.Fatalf("analyst rotates: %v", err)
			}
			pol, err := w.svc.RotateToken(w.ctx, w.energyAdmin, w.energy)
			if err != nil || pol.DoHToken == old.DoHToken || len(pol.DoHToken) != 32 {
				t.Fatalf("rotate: %v %q", err, pol.DoHToken)
			}
			if w.auditCount("dns.token.rotate") != 1 {
				t.Fatal("rotation not audited")
			}
		})
	})
}

func TestFeedsBlocksAndSettings(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		if err := os.MkdirAll(w.svc.FeedsDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w.svc.FeedsDir, "office.txt"), []byte("bad.example\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		good := FeedInput{Name: "Office list", Source: "office.txt", Format: "plain", Category: "malware", Interval: MinFeedInterval, Enabled: true}
		t.Run("only the office manages feeds", func(t *testing.T) {
			_, err := w.svc.CreateFeed(w.ctx, w.energyAdmin, good)
			wantCode(t, err, apperr.NotFound)
			_, err = w.svc.ListFeeds(w.ctx, w.providerAdmin)
			wantCode(t, err, apperr.NotFound)
		})
		t.Run("bad feeds are refused with a reason per field", func(t *testing.T) {
			for _, c := range []struct {
				in    FeedInput
				field string
				want  string
			}{
				{FeedInput{Name: "x", Source: "office.txt", Category: "malware", Interval: MinFeedInterval}, "name", "2 to 100"},
				{FeedInput{Name: "Missing", Source: "nope.txt", Category: "malware", Interval: MinFeedInterval}, "source", "no file “nope.txt”"},
				{FeedInput{Name: "Escape", Source: "../qsmo.db", Category: "malware", Interval: MinFeedInterval}, "source", "no “..”"},
				{FeedInput{Name: "Absolute", Source: "/etc/passwd", Category: "malware", Interval: MinFeedInterval}, "source", "inside the feeds folder"},
				{FeedInput{Name: "FTP", Source: "ftp://x.example/list", Category: "malware", Interval: MinFeedInterval}, "source", "http:// or https://"},
				{FeedInput{Name: "Cat", Source: "office.txt", Category: "gambling", Interval: MinFeedInterval}, "category", "threat category"},
				{FeedInput{Name: "Format", Source: "office.txt", Format: "csv", Category: "malware", Interval: MinFeedInterval}, "format", "auto, plain"},
				{FeedInput{Name: "Fast", Source: "office.txt", Category: "malware", Interval: 10}, "interval", "1 minute"},
			} {
				_, err := w.svc.CreateFeed(w.ctx, w.officeAdmin, c.in)
				if msg := apperr.FieldsOf(err)[c.field]; !strings.Contains(msg, c.want) {
					t.Errorf("%s: %s = %q, want %q", c.in.Name, c.field, msg, c.want)
				}
			}
			feeds, _ := w.svc.ListFeeds(w.ctx, w.officeAdmin)
			if len(feeds) != 0 {
				t.Fatalf("bad input stored %d feeds", len(feeds))
			}
		})
		f, err := w.svc.CreateFeed(w.ctx, w.officeAnalyst, good)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.CreateFeed(w.ctx, w.officeAdmin, good); !strings.Contains(apperr.FieldsOf(err)["name"], "exists already") {
			t.Fatalf("duplicate name: %v", err)
		}
		t.Run("URL credentials never reach the audit log", func(t *testing.T) {
			u, err := w.svc.UpdateFeed(w.ctx, w.officeAdmin, f.ID, FeedInput{Name: "Vendor", Source: "https://user:s3cret@feeds.example/list.txt?key=k3y", Format: "auto", Category: "phishing", Interval: MinFeedInterval, Enabled: true})
			if err != nil {
				t.Fatal(err)
			}
			if u.Source != "https://user:s3cret@feeds.example/list.txt?key=k3y" {
				t.Fatalf("stored source %q", u.Source)
			}
			recs, _, _ := audit.List(w.ctx, d, audit.Filter{Limit: 100})
			for _, r := range recs {
				if strings.Contains(r.BeforeJSON+r.AfterJSON, "s3cret") || strings.Contains(r.BeforeJSON+r.AfterJSON, "k3y") {
					t.Fatalf("audit %s holds a credential: %s", r.Action, r.AfterJSON)
				}
			}
		})
		v := w.version()
		if _, err := w.svc.RefreshFeed(w.ctx, w.officeAdmin, f.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := w.svc.GetFeed(w.ctx, w.officeAdmin, f.ID)
		if got.RefreshSeq != 1 || w.version() != v+1 {
			t.Fatalf("refresh: seq %d version %d->%d", got.RefreshSeq, v, w.version())
		}
		if off, err := w.svc.SetFeedEnabled(w.ctx, w.officeAdmin, f.ID, false); err != nil || off.Enabled {
			t.Fatalf("disable: %v %+v", err, off)
		}
		if err := w.svc.DeleteFeed(w.ctx, w.officeAdmin, f.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.GetFeed(w.ctx, w.officeAdmin, f.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("deleted feed: %v", err)
		}

		t.Run("global blocks", func(t *testing.T) {
			g, err := w.svc.AddGlobalBlock(w.ctx, w.officeAdmin, " Exfil.Example. ", "incident 7")
			if err != nil || g.Name != "exfil.example" {
				t.Fatalf("add: %v %+v", err, g)
			}
			if _, err := w.svc.AddGlobalBlock(w.ctx, w.officeAdmin, "exfil.example", ""); !strings.Contains(apperr.FieldsOf(err)["name"], "blocked already") {
				t.Fatalf("duplicate: %v", err)
			}
			if _, err := w.svc.AddGlobalBlock(w.ctx, w.energyAdmin, "x.example", ""); apperr.CodeOf(err) != apperr.NotFound {
				t.Fatalf("agency adds a global block: %v", err)
			}
			if err := w.svc.RemoveGlobalBlock(w.ctx, w.energyAdmin, g.ID); apperr.CodeOf(err) != apperr.NotFound {
				t.Fatalf("agency lifts a global block: %v", err)
			}
			if err := w.svc.RemoveGlobalBlock(w.ctx, w.officeAdmin, g.ID); err != nil {
				t.Fatal(err)
			}
			if err := w.svc.RemoveGlobalBlock(w.ctx, w.officeAdmin, g.ID); apperr.CodeOf(err) != apperr.NotFound {
				t.Fatalf("lifted twice: %v", err)
			}
		})
	})
}

func TestConflictMessage(t *testing.T) {
	mine := prefixes("203.0.113.0/24")[0]
	cs := []egressOwner{{OrgName: "Treasury", Network: prefixes("203.0.113.0/25")[0], Mine: mine}, {OrgName: "Agriculture", Network: prefixes("203.0.113.128/25")[0], Mine: mine}}
	if got := conflictMessage(cs, false); strings.Count(got, "203.0.113.0/24 overlaps") != 1 || strings.Contains(got, "Treasury") {
		t.Errorf("agency: %q", got)
	}
	if got := conflictMessage(cs, true); !strings.Contains(got, "203.0.113.0/25 of Treasury") || !strings.Contains(got, "203.0.113.128/25 of Agriculture") {
		t.Errorf("office: %q", got)
	}
}
