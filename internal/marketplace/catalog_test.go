package marketplace_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/marketplace"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

func TestOfferingVisibilityAndListing(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		admin := w.p("bluewater/admin")
		o, err := w.svc.CreateOffering(w.ctx, admin, marketplace.OfferingInput{ProviderOrgID: w.orgs["bluewater"].ID, AreaID: "soc", Name: "Bluewater SOC",
			Summary: "A SOC for agencies of every size.", ProviderType: marketplace.Commercial, ContractVehicle: "GSA MAS 54151HACS", OnboardingDays: 30, Tiers: socTiers})
		w.must(err)
		// A draft is the provider's and the office's business only.
		for _, who := range []string{"energy/buyer", "northwind/admin", "treasury/viewer"} {
			_, err := w.svc.GetOffering(w.ctx, w.p(who), o.ID)
			code(t, err, apperr.NotFound)
		}
		for _, who := range []string{"bluewater/analyst", "office/analyst", "office/standards"} {
			if _, err := w.svc.GetOffering(w.ctx, w.p(who), o.ID); err != nil {
				t.Errorf("%s cannot see the draft: %v", who, err)
			}
		}
		// Others cannot edit it, even the office.
		_, err = w.svc.UpdateOffering(w.ctx, w.p("office/admin"), o.ID, marketplace.OfferingInput{Name: "Hijacked", Summary: "Changed by the office.", ProviderType: marketplace.Commercial, ContractVehicle: "X", OnboardingDays: 5, Tiers: socTiers})
		code(t, err, apperr.Forbidden)
		// Submitting needs prices.
		_, err = w.svc.OfferingAction(w.ctx, admin, o.ID, lifecycle.SubmitOffering, "", nil)
		code(t, err, apperr.Conflict)
		for _, tier := range []maturity.Tier{maturity.Foundational, maturity.Intermediate} {
			_, err := w.svc.SetPrices(w.ctx, admin, o.ID, tier, []money.Line{{Kind: money.Recurring, Unit: "seat", Quantity: 1, UnitPrice: 12_000}})
			w.must(err)
		}
		o, err = w.svc.OfferingAction(w.ctx, admin, o.ID, lifecycle.SubmitOffering, "", nil)
		w.must(err)
		if o.PricingModel != money.PerUnit || o.PriceFrom != 12_000 {
			t.Errorf("pricing %s from %d", o.PricingModel, o.PriceFrom)
		}
		// The office cannot list it while requirements are unanswered; the
		// message names them.
		_, err = w.svc.OfferingAction(w.ctx, w.p("office/analyst"), o.ID, lifecycle.ListOffering, "", nil)
		code(t, err, apperr.Conflict)
		w.answerAll(o, admin, false)
		_, err = w.svc.OfferingAction(w.ctx, w.p("office/analyst"), o.ID, lifecycle.ListOffering, "", []maturity.Tier{maturity.Intermediate})
		code(t, err, apperr.Invalid)
		if !strings.Contains(apperr.FieldsOf(err)["tiers"], "awaiting review") {
			t.Errorf("unreviewed answers not explained: %v", apperr.FieldsOf(err))
		}
		// The standards lead accepts SOC-01 and rejects SOC-02: the
		// foundational tier (SOC-01 only) can be listed, intermediate not.
		st, _ := w.svc.GetStandard(w.ctx, admin, w.std.ID)
		_, err = w.svc.ReviewAnswer(w.ctx, w.p("office/standards"), o.ID, st.Requirements[0].ID, true, "")
		w.must(err)
		_, err = w.svc.ReviewAnswer(w.ctx, w.p("office/standards"), o.ID, st.Requirements[1].ID, false, "")
		code(t, err, apperr.Invalid) // a rejection needs a note
		_, err = w.svc.ReviewAnswer(w.ctx, w.p("office/standards"), o.ID, st.Requirements[1].ID, false, "Coverage report missing.")
		w.must(err)
		_, err = w.svc.ReviewAnswer(w.ctx, w.p("northwind/admin"), o.ID, st.Requirements[1].ID, true, "")
		code(t, err, apperr.NotFound) // another provider cannot see the draft
		_, err = w.svc.OfferingAction(w.ctx, w.p("office/analyst"), o.ID, lifecycle.ListOffering, "", []maturity.Tier{maturity.Intermediate})
		code(t, err, apperr.Invalid)
		o, err = w.svc.OfferingAction(w.ctx, w.p("office/analyst"), o.ID, lifecycle.ListOffering, "", nil)
		w.must(err)
		if o.Status != lifecycle.Listed || len(o.ListedTiers()) != 1 || o.ListedTiers()[0].Tier != maturity.Foundational {
			t.Fatalf("listed %s with tiers %+v", o.Status, o.ListedTiers())
		}
		// Now every signed-in person sees it.
		if _, err := w.svc.GetOffering(w.ctx, w.p("treasury/viewer"), o.ID); err != nil {
			t.Errorf("listed offering hidden: %v", err)
		}
		hist, err := w.svc.History(w.ctx, w.p("energy/viewer"), o.ID)
		w.must(err)
		if len(hist) != 3 || hist[0].To != lifecycle.Listed || hist[2].To != lifecycle.Draft {
			t.Errorf("history %+v", hist)
		}
		// A change of answer that makes the listed tier unmet unlists it,
		// and with no tier left the offering pauses.
		_, err = w.svc.SaveAnswer(w.ctx, admin, o.ID, st.Requirements[0].ID, marketplace.AnswerInput{Status: marketplace.AnswerPartial, Evidence: "Only cloud sources for now."})
		w.must(err)
		o, _ = w.svc.GetOffering(w.ctx, admin, o.ID)
		if o.Status != lifecycle.Paused || len(o.ListedTiers()) != 0 {
			t.Errorf("after an unmet answer: %s, listed tiers %v", o.Status, o.ListedTiers())
		}
	})
}

func TestStandardVersionsAndDiff(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		listedOff := w.listed("northwind")
		lead := w.p("office/standards")
		_, err := w.svc.CreateDraftStandard(w.ctx, w.p("office/analyst"), "soc")
		code(t, err, apperr.Forbidden)
		draft, err := w.svc.CreateDraftStandard(w.ctx, lead, "soc")
		w.must(err)
		if draft.Version != 2 || len(draft.Requirements) != 3 {
			t.Fatalf("draft v%d with %d requirements", draft.Version, len(draft.Requirements))
		}
		_, err = w.svc.CreateDraftStandard(w.ctx, lead, "soc")
		code(t, err, apperr.Conflict)
		// Drafts are the office's.
		_, err = w.svc.GetStandard(w.ctx, w.p("energy/admin"), draft.ID)
		code(t, err, apperr.NotFound)
		_, err = w.svc.GetStandard(w.ctx, w.p("northwind/admin"), draft.ID)
		code(t, err, apperr.NotFound)
		// Change SOC-02's text, drop SOC-03, add SOC-04 (mandatory).
		_, err = w.svc.UpdateRequirement(w.ctx, lead, draft.Requirements[1].ID, marketplace.RequirementInput{Code: "SOC-02",
			Text: "Runs the office's standard detections and reports coverage weekly.", Mandatory: true, Tiers: []maturity.Tier{maturity.Intermediate, maturity.Advanced}})
		w.must(err)
		_, err = w.svc.DeleteRequirement(w.ctx, lead, draft.Requirements[2].ID)
		w.must(err)
		_, err = w.svc.AddRequirement(w.ctx, lead, draft.ID, marketplace.RequirementInput{Code: "soc-04", Text: "Keeps agency logs for 12 months in hot storage.", Mandatory: true, Tiers: []maturity.Tier{maturity.Advanced}})
		w.must(err)
		_, err = w.svc.AddRequirement(w.ctx, lead, draft.ID, marketplace.RequirementInput{Code: "SOC-04", Text: "A duplicate requirement code.", Mandatory: true, Tiers: maturity.Tiers()})
		code(t, err, apperr.Invalid)
		from, to, changes, err := w.svc.DiffStandards(w.ctx, lead, w.std.ID, draft.ID)
		w.must(err)
		var got []string
		for _, c := range changes {
			got = append(got, c.Code+":"+c.Kind+":"+strings.Join(c.Fields, "+"))
		}
		if strings.Join(got, " ") != "SOC-02:changed:text SOC-04:added: SOC-03:removed:" || from.Version != 1 || to.Version != 2 {
			t.Errorf("diff %v", got)
		}
		impact, err := w.svc.PreviewPublish(w.ctx, lead, draft.ID)
		w.must(err)
		if impact.TiersUnlisted != 1 || impact.Offerings != 1 {
			t.Errorf("preview %+v", impact)
		}
		// The preview changed nothing.
		o, _ := w.svc.GetOffering(w.ctx, lead, listedOff.ID)
		if len(o.ListedTiers()) != 2 {
			t.Fatalf("preview unlisted tiers")
		}
		pub, impact, err := w.svc.PublishStandard(w.ctx, lead, draft.ID)
		w.must(err)
		if pub.Status != marketplace.StandardPublished || impact.TiersUnlisted != 1 {
			t.Errorf("published %s, impact %+v", pub.Status, impact)
		}
		old, _ := w.svc.GetStandard(w.ctx, w.p("energy/viewer"), w.std.ID)
		if old.Status != marketplace.StandardSuperseded {
			t.Errorf("old version is %s", old.Status)
		}
		// SOC-01 was carried over (unchanged); SOC-02 changed, so the
		// intermediate tier lost its listing and foundational kept it.
		o, _ = w.svc.GetOffering(w.ctx, lead, listedOff.ID)
		if o.Status != lifecycle.Listed || len(o.ListedTiers()) != 1 || o.ListedTiers()[0].Tier != maturity.Foundational {
			t.Errorf("after publication: %s %+v", o.Status, o.ListedTiers())
		}
		c, err := w.svc.GetConformance(w.ctx, w.p("energy/viewer"), o.ID)
		w.must(err)
		if c.Rows[0].Answer.Status != marketplace.AnswerMet || c.Rows[1].Answer.Status != "" || c.Rows[0].Answer.Evidence != "" {
			t.Errorf("carried answers %+v (evidence must stay private)", c.Rows)
		}
		ref, err := w.svc.Describe(w.ctx, pub.ID)
		if err != nil || ref.URL != "/marketplace/standards/"+pub.ID || ref.Title != "Test standard v2" && !strings.HasSuffix(ref.Title, "v2") {
			t.Errorf("describe %+v %v", ref, err)
		}
		if _, err := w.svc.Describe(w.ctx, "off_00000000000000000000000000"); err == nil {
			t.Error("described a missing offering")
		}
	})
}

func TestSearchFacetsAndCompare(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		a := w.listed("northwind")
		b := w.listed("bluewater")
		c := w.listed("northwind")
		draft, err := w.svc.CreateOffering(w.ctx, w.p("bluewater/admin"), marketplace.OfferingInput{ProviderOrgID: w.orgs["bluewater"].ID, AreaID: "soc",
			Name: "Secret SOC draft", Summary: "Not ready for anyone to see.", ProviderType: marketplace.FederalSSP, OnboardingDays: 10, Tiers: socTiers})
		w.must(err)
		buyer := w.p("energy/buyer")
		res, err := w.svc.Search(w.ctx, buyer, marketplace.Query{})
		w.must(err)
		if res.Total != 3 {
			t.Errorf("total %d, want 3 listed", res.Total)
		}
		res, err = w.svc.Search(w.ctx, buyer, marketplace.Query{Statuses: []string{"draft"}})
		w.must(err)
		if res.Total != 0 {
			t.Errorf("an agency sees %d drafts", res.Total)
		}
		res, err = w.svc.Search(w.ctx, w.p("bluewater/analyst"), marketplace.Query{Statuses: []string{"draft"}})
		w.must(err)
		if res.Total != 1 || res.Offerings[0].ID != draft.ID {
			t.Errorf("the provider does not see its draft: %d", res.Total)
		}
		res, err = w.svc.Search(w.ctx, buyer, marketplace.Query{Text: "bluewater", Sort: "name"})
		w.must(err)
		if res.Total != 1 || res.Offerings[0].ID != b.ID {
			t.Errorf("text search: %d", res.Total)
		}
		res, err = w.svc.Search(w.ctx, buyer, marketplace.Query{CSF: []string{"recover"}})
		w.must(err)
		if res.Total != 0 {
			t.Errorf("SOC offerings tagged recover: %d", res.Total)
		}
		for _, f := range res.Facets.CSF {
			if f.Value == "detect" && f.Count != 3 {
				t.Errorf("detect facet counts %d under other filters, want 3", f.Count)
			}
		}
		res, err = w.svc.Search(w.ctx, buyer, marketplace.Query{Text: "%' OR 1=1 --", Areas: []string{"bogus"}, Sort: "evil", Page: -3})
		w.must(err)
		if res.Total != 0 || res.Query.Sort != "relevance" || res.Page != 1 {
			t.Errorf("hostile query: total %d sort %s page %d", res.Total, res.Query.Sort, res.Page)
		}
		cmp, err := w.svc.Compare(w.ctx, buyer, []string{a.ID, b.ID, c.ID})
		w.must(err)
		if !cmp.SameArea || len(cmp.Requirement) != 3 || len(cmp.Offerings) != 3 || cmp.Offerings[0].CX != nil {
			t.Errorf("comparison %+v", cmp)
		}
		_, err = w.svc.Compare(w.ctx, buyer, []string{a.ID})
		code(t, err, apperr.Invalid)
		_, err = w.svc.Compare(w.ctx, buyer, []string{a.ID, draft.ID})
		code(t, err, apperr.NotFound)
		w.svc.CX = fakeCX{a.ID: {TrustPercent: 80, Responses: 10}}
		cmp, err = w.svc.Compare(w.ctx, buyer, []string{a.ID, b.ID})
		w.must(err)
		if cmp.Offerings[0].CX == nil || cmp.Offerings[0].CX.TrustPercent != 80 || cmp.Offerings[1].CX != nil {
			t.Errorf("CX in comparison: %+v %+v", cmp.Offerings[0].CX, cmp.Offerings[1].CX)
		}
		// A newly published standard version shows in the next comparison.
		w.publishStandard("soc", []marketplace.RequirementInput{{Code: "SOC-90", Text: "Reports to the agency within one hour of a confirmed incident.", Mandatory: false, Tiers: maturity.Tiers()}})
		cmp, err = w.svc.Compare(w.ctx, buyer, []string{a.ID, b.ID})
		w.must(err)
		found := false
		for _, r := range cmp.Requirement {
			found = found || r.Requirement.Code == "SOC-90"
		}
		if !found {
			t.Errorf("comparison still shows the previous standard: %d requirements", len(cmp.Requirement))
		}
	})
}

// TestSearchIndexFollowsChanges: the storefront's in-memory index is
// reloaded after every kind of catalog change, so a search right after a
// change sees it.
func TestSearchIndexFollowsChanges(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		a := w.listed("northwind")
		b := w.listed("bluewater")
		buyer := w.p("energy/buyer")
		ids := func(q marketplace.Query) []string {
			t.Helper()
			res, err := w.svc.Search(w.ctx, buyer, q)
			w.must(err)
			var out []string
			for _, o := range res.Offerings {
				out = append(out, o.ID)
			}
			return out
		}
		if got := ids(marketplace.Query{}); len(got) != 2 {
			t.Fatalf("listed: %v", got)
		}
		// A pause hides the offering from the default (listed) search.
		_, err := w.svc.OfferingAction(w.ctx, w.p("office/analyst"), a.ID, lifecycle.PauseOffering, "Incident review", nil)
		w.must(err)
		if got := ids(marketplace.Query{}); len(got) != 1 || got[0] != b.ID {
			t.Errorf("after pause: %v", got)
		}
		if got := ids(marketplace.Query{Statuses: []string{"paused"}}); len(got) != 1 || got[0] != a.ID {
			t.Errorf("paused: %v", got)
		}
		_, err = w.svc.OfferingAction(w.ctx, w.p("office/analyst"), a.ID, lifecycle.ResumeOffering, "", nil)
		w.must(err)
		// A rename changes what free text finds.
		in := marketplace.OfferingInput{Name: "Harbor Watch SOC", Summary: b.Summary, ProviderType: b.ProviderType, OnboardingDays: b.OnboardingDays,
			Tiers: socTiers, Prerequisites: b.Prerequisites}
		_, err = w.svc.UpdateOffering(w.ctx, w.p("bluewater/admin"), b.ID, in)
		w.must(err)
		if got := ids(marketplace.Query{Text: "harbor"}); len(got) != 1 || got[0] != b.ID {
			t.Errorf("renamed offering not found: %v", got)
		}
		// A new active subscription changes the agencies-using order.
		first := ids(marketplace.Query{Sort: "agencies"})
		w.orderIn("energy", "bluewater", lifecycle.Active)
		w.orderIn("treasury", "bluewater", lifecycle.Active) // fresh offerings
		res, err := w.svc.Search(w.ctx, buyer, marketplace.Query{Sort: "agencies"})
		w.must(err)
		if len(first) != 2 || res.Total != 4 || res.Offerings[0].AgenciesUsing != 1 || res.Offerings[3].AgenciesUsing != 0 {
			t.Errorf("agencies order: %d offerings, first uses %d", res.Total, res.Offerings[0].AgenciesUsing)
		}
		// A price change re-sorts by price.
		_, err = w.svc.SetPrices(w.ctx, w.p("northwind/admin"), a.ID, maturity.Foundational, []money.Line{{Kind: money.Recurring, Unit: "month", Quantity: 1, UnitPrice: 100}})
		w.must(err)
		if got := ids(marketplace.Query{Sort: "price"}); len(got) == 0 || got[0] != a.ID {
			t.Errorf("cheapest first: %v", got)
		}
	})
}

// TestCatalogFeedGolden: the public feed's JSON for a known catalog.
func TestCatalogFeedGolden(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		w.listed("northwind")
		w.advance(time.Hour)
		w.listed("bluewater")
		_, err := w.svc.CreateOffering(w.ctx, w.p("bluewater/admin"), marketplace.OfferingInput{ProviderOrgID: w.orgs["bluewater"].ID, AreaID: "soc",
			Name: "Unlisted draft", Summary: "Drafts never reach the public feed.", ProviderType: marketplace.FederalSSP, OnboardingDays: 5, Tiers: socTiers})
		w.must(err)
		f, err := w.svc.CatalogFeed(w.ctx, "Test Office")
		w.must(err)
		b, err := json.MarshalIndent(f, "", "  ")
		w.must(err)
		golden(t, "catalog.json", append(b, '\n'))
	})
}
