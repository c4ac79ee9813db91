package marketplace_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
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

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name after replacing record IDs, which
// are random, by stable placeholders in order of first appearance.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	ids := map[string]string{}
	re := regexp.MustCompile(`\b(off|org|std|sub|ord|stm|req)_[0-9a-z]{26}\b`)
	got = re.ReplaceAllFunc(got, func(m []byte) []byte {
		k := string(m)
		if _, ok := ids[k]; !ok {
			ids[k] = strings.SplitN(k, "_", 2)[0] + "_" + string(rune('A'+len(ids)))
		}
		return []byte(ids[k])
	})
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestUsageStatementsAndCostAvoidance(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		// Activated on March 10 at 14:00: 22 of 31 days in March.
		o := w.orderIn("energy", "northwind", lifecycle.Active)
		sub := o.SubscriptionID
		w.advance(11 * 24 * time.Hour) // March 21
		rec := marketplace.UsageRecord{SubscriptionID: sub, Metric: "bytes_ingested", Quantity: 150_000_000_000, OccurredAt: time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC), IdempotencyKey: "ingest-2026-03-12"}
		// The API door: another provider's token cannot meter this
		// subscription; the agency cannot either.
		_, _, err := w.svc.RecordUsageAs(w.ctx, w.p("bluewater/admin"), rec)
		code(t, err, apperr.NotFound)
		_, _, err = w.svc.RecordUsageAs(w.ctx, w.p("energy/admin"), rec)
		code(t, err, apperr.Forbidden)
		u, replayed, err := w.svc.RecordUsageAs(w.ctx, w.p("northwind/analyst"), rec)
		w.must(err)
		if replayed {
			t.Error("first record reported as replay")
		}
		again, replayed, err := w.svc.RecordUsage(w.ctx, rec)
		w.must(err)
		if !replayed || again.ID != u.ID {
			t.Errorf("replay made a new record: %v %s %s", replayed, again.ID, u.ID)
		}
		changed := rec
		changed.Quantity++
		_, _, err = w.svc.RecordUsage(w.ctx, changed)
		code(t, err, apperr.Conflict)
		bad := rec
		bad.IdempotencyKey, bad.Metric = "other-key", "dns_queries"
		_, _, err = w.svc.RecordUsage(w.ctx, bad)
		code(t, err, apperr.Invalid) // not priced for this subscription
		bad.Metric, bad.OccurredAt = "bytes_ingested", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		_, _, err = w.svc.RecordUsage(w.ctx, bad)
		code(t, err, apperr.Invalid) // before the subscription
		more := rec
		more.IdempotencyKey, more.Quantity, more.OccurredAt = "ingest-2026-03-20", 25_000_000_000, time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
		_, _, err = w.svc.RecordUsage(w.ctx, more)
		w.must(err)
		// March has not ended: nothing to issue yet.
		_, err = w.svc.IssueStatements(w.ctx, w.p("office/admin"), *w.clock)
		code(t, err, apperr.Invalid)
		w.advance(20 * 24 * time.Hour) // April 10
		_, err = w.svc.IssueStatements(w.ctx, w.p("energy/admin"), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		code(t, err, apperr.Forbidden) // agencies do not issue statements
		n, err := w.svc.IssueStatements(w.ctx, w.p("office/admin"), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		w.must(err)
		if n != 1 {
			t.Fatalf("issued %d statements", n)
		}
		n, _ = w.svc.IssueStatements(w.ctx, w.p("office/admin"), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		if n != 0 {
			t.Errorf("issued March twice")
		}
		_, _, err = w.svc.RecordUsage(w.ctx, marketplace.UsageRecord{SubscriptionID: sub, Metric: "bytes_ingested", Quantity: 1, OccurredAt: time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC), IdempotencyKey: "late"})
		code(t, err, apperr.Conflict) // March is issued
		list, err := w.svc.ListStatements(w.ctx, w.p("energy/viewer"), "")
		w.must(err)
		if len(list) != 1 {
			t.Fatalf("%d statements", len(list))
		}
		st, err := w.svc.GetStatement(w.ctx, w.p("energy/approver"), list[0].ID)
		w.must(err)
		// Intermediate: $8,000 a month for 22 of 31 days = $5,677.42;
		// onboarding $2,500; 175 GB with 100 GB included then $0.12/GB:
		// 75 GB = $9.00. Total $8,186.42.
		if st.Total != 567_742+250_000+900 {
			t.Errorf("total %s", money.Format(st.Total))
		}
		var buf bytes.Buffer
		w.must(st.WriteCSV(&buf))
		golden(t, "statement.csv", buf.Bytes())
		for _, who := range []string{"treasury/admin", "northwind/admin", "energy/analyst"} {
			_, err := w.svc.GetStatement(w.ctx, w.p(who), st.ID)
			code(t, err, apperr.NotFound)
		}
		// Cost avoidance against a baseline of $20,000 a month at the
		// intermediate tier: 22/31 of it is $14,193.55.
		w.must(w.svc.SetBaseline(w.ctx, w.p("office/admin"), "soc", maturity.Intermediate, 2_000_000, "Average of three agencies' own SOC contracts, 2025."))
		code(t, w.svc.SetBaseline(w.ctx, w.p("energy/admin"), "soc", maturity.Intermediate, 1, ""), apperr.Forbidden)
		rep, err := w.svc.CostAvoidanceReport(w.ctx, w.p("office/analyst"), "2026-01", "2026-03")
		w.must(err)
		if rep.Total.Baseline != 1_419_355 || rep.Total.Actual != st.Total || rep.Total.Avoided() != 1_419_355-st.Total {
			t.Errorf("cost avoidance %+v", rep.Total)
		}
		rep, _ = w.svc.CostAvoidanceReport(w.ctx, w.p("treasury/admin"), "2026-01", "2026-03")
		if rep.Total.Actual != 0 {
			t.Errorf("another agency sees energy's spend: %+v", rep.Total)
		}
	})
}

func TestModifications(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		o := w.orderIn("energy", "northwind", lifecycle.Active)
		lines := []money.Line{{Kind: money.Recurring, Unit: "month", Quantity: 1, UnitPrice: 350_000}, {Kind: money.Usage, Unit: "bytes_ingested", UnitPrice: 10}}
		in := marketplace.ModificationInput{Tier: maturity.Foundational, Quantity: 1, Lines: lines, Note: "Step down to foundational.", Tracking: "AG-MOD-1"}
		_, err := w.svc.ProposeModification(w.ctx, w.p("energy/buyer"), o.SubscriptionID, in)
		code(t, err, apperr.Forbidden) // buyers do not sign
		_, err = w.svc.ProposeModification(w.ctx, w.p("bluewater/admin"), o.SubscriptionID, in)
		code(t, err, apperr.NotFound)
		m, err := w.svc.ProposeModification(w.ctx, w.p("energy/approver"), o.SubscriptionID, in)
		w.must(err)
		_, err = w.svc.ProposeModification(w.ctx, w.p("northwind/admin"), o.SubscriptionID, in)
		code(t, err, apperr.Conflict) // one open proposal at a time
		_, err = w.svc.DecideModification(w.ctx, w.p("energy/admin"), m.ID, lifecycle.ApproveModification, "AG-2", "")
		code(t, err, apperr.Forbidden) // the proposer's side does not approve its own change
		_, err = w.svc.DecideModification(w.ctx, w.p("northwind/admin"), m.ID, lifecycle.ApproveModification, "", "")
		code(t, err, apperr.Invalid) // needs the approver's tracking number
		m, err = w.svc.DecideModification(w.ctx, w.p("northwind/admin"), m.ID, lifecycle.ApproveModification, "NW-MOD-1", "Agreed.")
		w.must(err)
		if m.Status != lifecycle.ModificationApproved {
			t.Errorf("status %s", m.Status)
		}
		sub, _ := w.svc.GetSubscription(w.ctx, w.p("energy/viewer"), o.SubscriptionID)
		if sub.Tier != maturity.Foundational || sub.Monthly() != 350_000 {
			t.Errorf("modification not applied: %s %d", sub.Tier, sub.Monthly())
		}
		_, a, _ := w.svc.GetAgreement(w.ctx, w.p("energy/viewer"), o.ID)
		if !strings.HasSuffix(a.OrderNumber, "-001-M01") {
			t.Errorf("order number after modification %q", a.OrderNumber)
		}
		_, err = w.svc.DecideModification(w.ctx, w.p("northwind/admin"), m.ID, lifecycle.RejectModification, "", "Changed my mind.")
		code(t, err, apperr.Conflict)
	})
}

func TestExceptions(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		in := marketplace.ExceptionInput{AgencyOrgID: w.orgs["energy"].ID, AreaID: "mobile-security", Vendor: "Acme Mobile Defense",
			Description: "Mobile threat defense for 4,000 devices.", Justification: "No listed offering supports our classified mobile enclave; only Acme is accredited for it.", AnnualCost: 12_000_000}
		_, err := w.svc.RequestException(w.ctx, w.p("energy/viewer"), in)
		code(t, err, apperr.Forbidden)
		bad := in
		bad.Justification = "Because."
		_, err = w.svc.RequestException(w.ctx, w.p("energy/buyer"), bad)
		code(t, err, apperr.Invalid)
		e, err := w.svc.RequestException(w.ctx, w.p("energy/buyer"), in)
		w.must(err)
		_, err = w.svc.GetException(w.ctx, w.p("treasury/admin"), e.ID)
		code(t, err, apperr.NotFound)
		_, err = w.svc.GetException(w.ctx, w.p("northwind/admin"), e.ID)
		code(t, err, apperr.NotFound)
		_, err = w.svc.DecideException(w.ctx, w.p("energy/admin"), e.ID, lifecycle.Approve, "")
		code(t, err, apperr.Forbidden)
		_, err = w.svc.DecideException(w.ctx, w.p("office/analyst"), e.ID, lifecycle.Decline, "")
		code(t, err, apperr.Invalid)
		e, err = w.svc.DecideException(w.ctx, w.p("office/analyst"), e.ID, lifecycle.Decline, "Bluewater's mobile offering is accredited for enclaves since March.")
		w.must(err)
		if e.Status != lifecycle.Declined {
			t.Errorf("status %s", e.Status)
		}
		_, err = w.svc.DecideException(w.ctx, w.p("office/analyst"), e.ID, lifecycle.Approve, "")
		code(t, err, apperr.Conflict)
	})
}

func TestAssessmentsAndRecommendations(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		cheap := w.listed("northwind") // foundational $4,000, intermediate $8,000
		pricey := w.listed("bluewater")
		// A third offering only at foundational with no prerequisites.
		basic, err := w.svc.CreateOffering(w.ctx, w.p("bluewater/admin"), marketplace.OfferingInput{ProviderOrgID: w.orgs["bluewater"].ID, AreaID: "soc",
			Name: "SOC Starter", Summary: "Managed monitoring for agencies starting out.", ProviderType: marketplace.FederalSSP, OnboardingDays: 10, Tiers: socTiers[:1]})
		w.must(err)
		_, err = w.svc.SetPrices(w.ctx, w.p("bluewater/admin"), basic.ID, maturity.Foundational, []money.Line{{Kind: money.Recurring, Unit: "month", Quantity: 1, UnitPrice: 300_000}})
		w.must(err)
		w.answerAll(basic, w.p("bluewater/admin"), true)
		_, err = w.svc.OfferingAction(w.ctx, w.p("bluewater/admin"), basic.ID, lifecycle.SubmitOffering, "", nil)
		w.must(err)
		_, err = w.svc.OfferingAction(w.ctx, w.p("office/admin"), basic.ID, lifecycle.ListOffering, "", nil)
		w.must(err)
		_, _ = cheap, pricey

		mature := map[string]string{"collection": "all", "m2131": "el1", "edr": "all", "hours": "business", "ir": "yes"}
		novice := map[string]string{"collection": "none", "m2131": "el0", "edr": "no", "hours": "none", "ir": "no"}
		_, err = w.svc.TakeAssessment(w.ctx, w.p("energy/viewer"), w.orgs["energy"].ID, "soc", mature)
		code(t, err, apperr.Forbidden)
		_, err = w.svc.TakeAssessment(w.ctx, w.p("energy/buyer"), w.orgs["energy"].ID, "soc", map[string]string{"collection": "all"})
		code(t, err, apperr.Invalid)
		_, err = w.svc.TakeAssessment(w.ctx, w.p("energy/buyer"), w.orgs["treasury"].ID, "soc", mature)
		code(t, err, apperr.NotFound)
		first, err := w.svc.TakeAssessment(w.ctx, w.p("energy/buyer"), w.orgs["energy"].ID, "soc", novice)
		w.must(err)
		w.advance(40 * 24 * time.Hour)
		a1, err := w.svc.TakeAssessment(w.ctx, w.p("energy/buyer"), w.orgs["energy"].ID, "soc", mature)
		w.must(err)
		a2, err := w.svc.TakeAssessment(w.ctx, w.p("treasury/buyer"), w.orgs["treasury"].ID, "soc", novice)
		w.must(err)
		if first.Tier != maturity.Foundational || a1.Tier != maturity.Intermediate || a2.Tier != maturity.Foundational {
			t.Fatalf("tiers %s %s %s", first.Tier, a1.Tier, a2.Tier)
		}
		trend, err := w.svc.Trend(w.ctx, w.p("energy/viewer"), w.orgs["energy"].ID, "soc")
		w.must(err)
		if len(trend) != 2 || trend[0].ID != first.ID || trend[1].Score <= trend[0].Score {
			t.Errorf("trend %+v", trend)
		}
		_, err = w.svc.GetAssessment(w.ctx, w.p("treasury/admin"), a1.ID)
		code(t, err, apperr.NotFound)
		_, err = w.svc.GetAssessment(w.ctx, w.p("northwind/admin"), a1.ID)
		code(t, err, apperr.NotFound)

		recE, _, err := w.svc.Recommendations(w.ctx, w.p("energy/buyer"), w.orgs["energy"].ID, "soc")
		w.must(err)
		recT, _, err := w.svc.Recommendations(w.ctx, w.p("treasury/buyer"), w.orgs["treasury"].ID, "soc")
		w.must(err)
		if len(recE) != 3 || len(recT) != 3 {
			t.Fatalf("%d and %d recommendations", len(recE), len(recT))
		}
		// The mature agency gets an intermediate offering it has the
		// prerequisites for; the novice gets the starter, and is told the
		// others need central logging it lacks.
		if recE[0].Tier != maturity.Intermediate || recE[0].Offering.ID == basic.ID {
			t.Errorf("energy's first advice: %s at %s", recE[0].Offering.Name, recE[0].Tier)
		}
		if recT[0].Offering.ID != basic.ID {
			t.Errorf("treasury's first advice: %s", recT[0].Offering.Name)
		}
		explained := func(rs []marketplace.Recommendation, want string) bool {
			for _, r := range rs {
				for _, x := range r.Reasons {
					if strings.Contains(x.Text, want) {
						return true
					}
				}
			}
			return false
		}
		if !explained(recT, "Needs something your answers say you lack: Security logs are forwarded to a central point") {
			t.Error("the missing prerequisite is not explained")
		}
		if !explained(recE, "Offered at the intermediate tier your assessment points to") || !explained(recE, "You meet its prerequisites") {
			t.Error("the tier fit and prerequisites are not explained")
		}
		if !explained(recE, "No customer ratings yet") {
			t.Error("absent CX scores are not explained")
		}
	})
}
