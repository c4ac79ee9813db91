package marketplace_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/identity"
	"github.com/qsmo/qsmo/internal/marketplace"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// world is a small marketplace: the office, two agencies (one with a
// sub-organization), two providers, people in every role, a published SOC
// standard and a clock the test moves.
type world struct {
	t      *testing.T
	ctx    context.Context
	db     *db.DB
	ids    *identity.Service
	svc    *marketplace.Service
	clock  *time.Time
	office identity.Org
	orgs   map[string]identity.Org // energy, energy-lab, treasury, northwind, bluewater
	people map[string]*authz.Principal
	std    marketplace.Standard
	n      int
}

func newWorld(t *testing.T, d *db.DB) *world {
	t.Helper()
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	w := &world{t: t, ctx: context.Background(), db: d, clock: &now, orgs: map[string]identity.Org{}, people: map[string]*authz.Principal{}}
	d.Now = func() time.Time { return *w.clock }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w.ids = identity.New(d, log)
	w.svc = marketplace.New(d, w.ids.Authz, log)
	var err error
	if w.office, err = w.ids.CreateOffice(w.ctx, "Test Office"); err != nil {
		t.Fatal(err)
	}
	system := &authz.Principal{Email: "setup", Memberships: []authz.Membership{{OrgID: w.office.ID, OrgKind: authz.Office, Role: authz.OfficeAdmin}}}
	mk := func(slug, name string, kind authz.OrgKind, parent, alc string) {
		o, err := w.ids.CreateOrg(w.ctx, system, identity.OrgInput{Name: name, Slug: slug, Kind: kind, ParentID: parent, AgencyCode: "0" + alc[:2], ALC: alc})
		if err != nil {
			t.Fatal(err)
		}
		w.orgs[slug] = o
	}
	mk("energy", "Department of Energy", authz.Agency, "", "89000001")
	mk("energy-lab", "Energy Lab", authz.Agency, w.orgs["energy"].ID, "89000002")
	mk("treasury", "Department of the Treasury", authz.Agency, "", "20000001")
	mk("northwind", "Northwind Security", authz.Provider, "", "47000010")
	mk("bluewater", "Bluewater Cyber", authz.Provider, "", "47000011")
	w.orgs["office"] = w.office
	person := func(key, org string, role authz.Role) {
		o := w.orgs[org]
		email := key + "@" + org + ".example.gov"
		uid, err := w.ids.CreateSeedUser(w.ctx, identity.SeedUser{Email: email, Name: strings.ReplaceAll(key, "_", " ") + " of " + org, Roles: []identity.SeedRole{{OrgID: o.ID, Role: role}}})
		if err != nil {
			t.Fatal(err)
		}
		w.people[org+"/"+key] = &authz.Principal{UserID: uid, Email: email, Name: key + " of " + org, ActiveOrgID: o.ID,
			Memberships: []authz.Membership{{OrgID: o.ID, OrgKind: o.Kind, OrgName: o.Name, Role: role}}}
	}
	person("admin", "office", authz.OfficeAdmin)
	person("analyst", "office", authz.OfficeAnalyst)
	person("standards", "office", authz.StandardsLead)
	for _, a := range []string{"energy", "treasury"} {
		person("admin", a, authz.AgencyAdmin)
		person("buyer", a, authz.AgencyBuyer)
		person("approver", a, authz.AgencyApprover)
		person("analyst", a, authz.AgencyAnalyst)
		person("viewer", a, authz.AgencyViewer)
	}
	person("admin", "energy-lab", authz.AgencyAdmin)
	person("buyer", "energy-lab", authz.AgencyBuyer)
	for _, p := range []string{"northwind", "bluewater"} {
		person("admin", p, authz.ProviderAdmin)
		person("analyst", p, authz.ProviderAnalyst)
	}
	w.std = w.publishStandard("soc", []marketplace.RequirementInput{
		{Code: "SOC-01", Text: "Collects logs from every agency source listed in the onboarding plan.", Mandatory: true, Tiers: maturity.Tiers()},
		{Code: "SOC-02", Text: "Runs the office's standard detections and reports coverage monthly.", Mandatory: true, Tiers: []maturity.Tier{maturity.Intermediate, maturity.Advanced}},
		{Code: "SOC-03", Text: "Offers a 24x7 analyst hotline for agencies.", Mandatory: false, Tiers: maturity.Tiers()},
	})
	return w
}

func (w *world) p(key string) *authz.Principal {
	p, ok := w.people[key]
	if !ok {
		w.t.Fatalf("no person %s", key)
	}
	return p
}

func (w *world) advance(d time.Duration) { *w.clock = w.clock.Add(d) }

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func code(t *testing.T, err error, want apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); got != want {
		t.Fatalf("error %v: code %q, want %q", err, got, want)
	}
}

func (w *world) publishStandard(area string, reqs []marketplace.RequirementInput) marketplace.Standard {
	w.t.Helper()
	lead := w.p("office/standards")
	st, err := w.svc.CreateDraftStandard(w.ctx, lead, area)
	w.must(err)
	for _, r := range reqs {
		_, err := w.svc.AddRequirement(w.ctx, lead, st.ID, r)
		w.must(err)
	}
	st, _, err = w.svc.PublishStandard(w.ctx, lead, st.ID)
	w.must(err)
	return st
}

var socTiers = []marketplace.TierInput{
	{Tier: maturity.Foundational, AvailabilityBP: 9950, ResponseMinutes: 60, SupportHours: "24x7"},
	{Tier: maturity.Intermediate, AvailabilityBP: 9990, ResponseMinutes: 30, SupportHours: "24x7"},
}

// listed creates a SOC offering of a provider, prices and answers it,
// has it reviewed and listed at both tiers.
func (w *world) listed(provider string) marketplace.Offering {
	w.t.Helper()
	w.n++
	admin := w.p(provider + "/admin")
	o, err := w.svc.CreateOffering(w.ctx, admin, marketplace.OfferingInput{ProviderOrgID: w.orgs[provider].ID, AreaID: "soc",
		Name: "Managed SOC " + string(rune('A'+w.n%26)) + strings.Repeat("x", w.n/26), Summary: "Round-the-clock monitoring of agency logs.",
		ProviderType: marketplace.FederalSSP, OnboardingDays: 20, Tiers: socTiers, Prerequisites: []string{"central_logging"}})
	w.must(err)
	for i, t := range socTiers {
		_, err := w.svc.SetPrices(w.ctx, admin, o.ID, t.Tier, []money.Line{
			{Kind: money.Recurring, Unit: "month", Quantity: 1, UnitPrice: int64(400_000 * (i + 1))},
			{Kind: money.OneTime, Unit: "each", Quantity: 1, UnitPrice: 250_000, Description: "Onboarding"},
			{Kind: money.Usage, Unit: "bytes_ingested", UnitPrice: 0},
			{Kind: money.Usage, Unit: "bytes_ingested", FromUnits: 100_000_000_000, UnitPrice: 12},
		})
		w.must(err)
	}
	w.answerAll(o, admin, true)
	o, err = w.svc.OfferingAction(w.ctx, admin, o.ID, lifecycle.SubmitOffering, "", nil)
	w.must(err)
	o, err = w.svc.OfferingAction(w.ctx, w.p("office/analyst"), o.ID, lifecycle.ListOffering, "", nil)
	w.must(err)
	return o
}

func (w *world) answerAll(o marketplace.Offering, admin *authz.Principal, accept bool) {
	w.t.Helper()
	st, _ := w.svc.GetStandard(w.ctx, admin, w.currentStandardID(o.AreaID))
	for _, r := range st.Requirements {
		_, err := w.svc.SaveAnswer(w.ctx, admin, o.ID, r.ID, marketplace.AnswerInput{Status: marketplace.AnswerMet, Evidence: "Evidence for " + r.Code + " is attached."})
		w.must(err)
		if accept {
			_, err = w.svc.ReviewAnswer(w.ctx, w.p("office/standards"), o.ID, r.ID, true, "")
			w.must(err)
		}
	}
}

func (w *world) currentStandardID(area string) string {
	list, err := w.svc.ListStandards(w.ctx, w.p("office/standards"), area)
	w.must(err)
	for _, st := range list {
		if st.Status == marketplace.StandardPublished {
			return st.ID
		}
	}
	w.t.Fatalf("no published standard for %s", area)
	return ""
}

var funding = marketplace.FundingInput{TAS: "089-X-0228", ObjectClass: "25.3", Obligated: 6_000_000}

// orderIn drives a new order for a fresh offering of provider through the
// real workflow to state.
func (w *world) orderIn(agency, provider string, state lifecycle.State) marketplace.Order {
	w.t.Helper()
	off := w.listed(provider)
	buyer := w.p(agency + "/buyer")
	o, err := w.svc.RequestOrder(w.ctx, buyer, marketplace.OrderInput{AgencyOrgID: w.orgs[agency].ID, OfferingID: off.ID, Tier: maturity.Intermediate, Quantity: 1,
		Needs: "Monitor our cloud and on-premises logs around the clock."})
	w.must(err)
	steps := []func() (marketplace.Order, error){
		func() (marketplace.Order, error) { return w.svc.ApproveOrder(w.ctx, w.p("office/analyst"), o.ID, "") },
		func() (marketplace.Order, error) {
			lines, _ := w.svc.SuggestedQuote(w.ctx, w.p(provider+"/analyst"), o)
			return w.svc.SubmitQuote(w.ctx, w.p(provider+"/analyst"), o.ID, marketplace.QuoteInput{Lines: lines, Notes: "As listed."})
		},
		func() (marketplace.Order, error) {
			return w.svc.AcceptQuote(w.ctx, w.p(agency+"/approver"), o.ID, funding)
		},
		func() (marketplace.Order, error) { return w.svc.SendAgreement(w.ctx, w.p(provider+"/admin"), o.ID) },
		func() (marketplace.Order, error) {
			return w.svc.SignAgreement(w.ctx, w.p(agency+"/approver"), o.ID, marketplace.SignInput{Title: "Chief Information Officer", Tracking: "AG-2026-001"})
		},
		func() (marketplace.Order, error) {
			return w.svc.SignAgreement(w.ctx, w.p(provider+"/admin"), o.ID, marketplace.SignInput{Title: "Contracts Manager", Tracking: "PR-77"})
		},
		func() (marketplace.Order, error) {
			tasks, err := w.svc.Tasks(w.ctx, w.p(provider+"/analyst"), o.ID)
			w.must(err)
			for _, t := range tasks {
				_, err := w.svc.SetTask(w.ctx, w.p(provider+"/analyst"), o.ID, t.ID, true, "")
				w.must(err)
			}
			return w.svc.CompleteOnboarding(w.ctx, w.p(provider+"/analyst"), o.ID)
		},
	}
	for _, step := range steps {
		if o.State == state {
			return o
		}
		if o.State == lifecycle.Signing && state == lifecycle.Signing {
			return o
		}
		o, err = step()
		w.must(err)
	}
	if o.State != state {
		w.t.Fatalf("order reached %s, want %s", o.State, state)
	}
	return o
}
