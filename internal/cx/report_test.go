package cx

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/identity"
)

// seed sends a survey at a time in the past and answers its invitations
// with answers, in order; invitations beyond the answers stay unanswered.
func (w *world) seed(at time.Time, org identity.Org, stage Stage, service, provider, offering string, answers ...a11.Answer) Survey {
	w.t.Helper()
	var sv Survey
	err := w.d.InTx(w.ctx, func(tx *db.Tx) error {
		var err error
		sv, err = w.s.createSurvey(w.ctx, tx, surveyInput{OrgID: org.ID, Stage: stage, ServiceArea: service, ProviderID: provider, OfferingID: offering,
			Source: "office", At: at})
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(w.ctx, "SELECT "+invitationColumns+invitationFrom+" WHERE i.survey_id = ? ORDER BY u.email", sv.ID)
		if err != nil {
			return err
		}
		var invs []Invitation
		for rows.Next() {
			inv, err := scanInvitation(rows)
			if err != nil {
				return err
			}
			invs = append(invs, inv)
		}
		rows.Close()
		if len(invs) < len(answers) {
			return fmt.Errorf("%d invitations for %d answers", len(invs), len(answers))
		}
		for i, a := range answers {
			if _, err := w.s.storeResponse(w.ctx, tx, invs[i], a, ChannelEmail, at.Add(time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return sv
}

// crowd adds people to an organization so a survey has enough invitations.
func (w *world) crowd(o identity.Org, role authz.Role, n int) {
	for i := range n {
		w.person(fmt.Sprintf("person%02d@%s.example.gov", i, strings.ToLower(strings.Fields(o.Name)[len(strings.Fields(o.Name))-1])), o, role)
	}
}

var (
	up   = a11.Answer{Trust: a11.ThumbsUp, WentWell: a11.DriverSet(0).With(a11.Ease).With(a11.Employee)}
	down = a11.Answer{Trust: a11.ThumbsDown, NotWell: a11.DriverSet(0).With(a11.Efficiency), Comment: "Too slow"}
	note = a11.Answer{Comment: "=SUM(A1:A9) is my opinion"}
)

func TestReports(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		w.crowd(w.energy, authz.AgencyAdmin, 5)   // 6 admins, a buyer and an analyst
		w.crowd(w.treasury, authz.AgencyAdmin, 3) // 4 admins
		q2 := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
		q3 := time.Date(2026, 4, 20, 12, 0, 0, 0, time.UTC)
		// FY2026 Q2: Energy's needs survey about Protective DNS (office-operated): admins and buyer, 7 asked, 3 answered.
		w.seed(q2, w.energy, StageNeeds, "protective-dns", "", "", up, down, up)
		// FY2026 Q3: Energy's delivery survey about Northwind's SOC offering: admins and analyst, 7 asked, 4 answered.
		w.seed(q3, w.energy, StageDelivery, "soc", w.northwind.ID, "off_soc", up, up, up, down)
		// FY2026 Q3: Treasury's execution survey about Protective DNS: 4 admins asked, 2 answered.
		w.seed(q3, w.treasury, StageExecution, "protective-dns", "", "", down, note)

		checkTallies(t, w.s)
		r, err := w.s.Report(w.ctx, w.officeAnalyst, ReportFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(r.Quarters); got != DefaultRange || r.Quarters[3] != (a11.Quarter{FY: 2026, Q: 3}) {
			t.Fatalf("quarters %v", r.Quarters)
		}
		total := r.Total()
		if total.Offered != 18 || total.Tally.Responses != 9 || total.Tally.Trust() != (a11.Ratio{Part: 5, Whole: 8}) {
			t.Fatalf("total offered %d responses %d trust %+v", total.Offered, total.Tally.Responses, total.Tally.Trust())
		}
		if rate := total.ResponseRate(); rate.String() != "50%" {
			t.Errorf("response rate %s", rate)
		}
		q3g := r.Quarter(a11.Quarter{FY: 2026, Q: 3})
		if q3g.Offered != 11 || q3g.Tally.Trust().String() != "60%" {
			t.Errorf("Q3 offered %d trust %s", q3g.Offered, q3g.Tally.Trust())
		}
		stages := r.By(ByStage)
		if len(stages) != 4 || stages[0].Key != "needs" || stages[0].Tally.Trust().String() != "67%" || stages[1].Tally.Responses != 0 ||
			stages[3].Tally.Trust().String() != "75%" {
			t.Errorf("by stage %+v", stages)
		}
		prov := r.By(ByProvider)
		if len(prov) != 2 || prov[0].Label != "Cyber Office (office-operated)" || prov[1].Label != "Northwind Security" || prov[1].Tally.Responses != 4 {
			t.Errorf("by provider %+v", prov)
		}
		svc := r.By(ByService)
		if len(svc) != 2 || svc[0].Label != "Protective DNS" || svc[0].Tally.NotWellShare(a11.Efficiency).String() != "100%" {
			t.Errorf("by service %+v", svc)
		}
		series := r.Series(ByStage)
		if len(series) != 4 || len(series[0].Quarters) != 4 || series[0].Quarters[2].Tally.Responses != 3 || series[3].Quarters[3].Tally.Responses != 4 {
			t.Errorf("series %+v", series)
		}

		t.Run("providers see their own offerings only", func(t *testing.T) {
			r, err := w.s.Report(w.ctx, w.northwindAdmin, ReportFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if tot := r.Total(); tot.Offered != 7 || tot.Tally.Trust() != (a11.Ratio{Part: 3, Whole: 4}) {
				t.Fatalf("northwind total %+v", tot)
			}
			_, err = w.s.Report(w.ctx, w.energyAdmin, ReportFilter{})
			code(t, err, apperr.Forbidden)
		})
		t.Run("filters", func(t *testing.T) {
			r, err := w.s.Report(w.ctx, w.officeAdmin, ReportFilter{From: a11.Quarter{FY: 2026, Q: 3}, To: a11.Quarter{FY: 2026, Q: 3}, ServiceArea: "protective-dns"})
			if err != nil || r.Total().Offered != 4 || len(r.Quarters) != 1 {
				t.Fatalf("filtered %+v %v", r.Total(), err)
			}
		})
		t.Run("scores for the marketplace", func(t *testing.T) {
			scores, err := w.s.Scores(w.ctx, ScoreQuery{By: ByOffering})
			if err != nil || len(scores) != 2 {
				t.Fatalf("%+v %v", scores, err)
			}
			byQ, err := w.s.Scores(w.ctx, ScoreQuery{By: ByProvider, PerQuarter: true})
			if err != nil || len(byQ) != 8 {
				t.Fatalf("per quarter %d %v", len(byQ), err)
			}
			trust, err := w.s.OfferingTrust(w.ctx, []string{"off_soc", "off_none"})
			if err != nil || len(trust) != 1 || trust["off_soc"].Trust().String() != "75%" {
				t.Fatalf("offering trust %+v %v", trust, err)
			}
			_, err = w.s.Scores(w.ctx, ScoreQuery{By: "agency"})
			code(t, err, apperr.Invalid)
		})
		t.Run("export of a quarter in the A-11 layout", func(t *testing.T) {
			ex, err := w.s.Export(w.ctx, w.officeAnalyst, a11.Quarter{FY: 2026, Q: 3})
			if err != nil {
				t.Fatal(err)
			}
			if ex.Offered != 11 || ex.Responses != 6 || len(ex.Rows) != 6 || len(ex.Collection) != 2 {
				t.Fatalf("export offered %d responses %d rows %d collection %+v", ex.Offered, ex.Responses, len(ex.Rows), ex.Collection)
			}
			var buf bytes.Buffer
			if err := a11.WriteResponses(&buf, ex.Rows); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\r\n"), "\r\n")
			if len(lines) != 7 || lines[0] != strings.Join(a11.Header, ",") {
				t.Fatalf("csv %q", buf.String())
			}
			var trustCol []string
			for _, l := range lines[1:] {
				trustCol = append(trustCol, strings.Split(l, ",")[1])
			}
			if got := strings.Join(trustCol, ""); strings.Count(got, "1") != 3 || strings.Count(got, "0") != 2 {
				t.Errorf("question_1 column %q", got)
			}
			if !strings.Contains(buf.String(), ",'=SUM(A1:A9) is my opinion") {
				t.Error("formula in a comment not defused")
			}
			c := ex.Collection
			if c[0].ServiceName != "Protective DNS" || c[0].Stage != "execution" || c[0].Provider != "Cyber Office" || c[0].Offered != 4 || c[0].Responses != 2 ||
				c[1].Provider != "Northwind Security" || c[1].Offered != 7 || c[1].Responses != 4 || c[1].TrustUp != 3 {
				t.Errorf("collection %+v", c)
			}
			_, err = w.s.Export(w.ctx, w.northwindAdmin, a11.Quarter{FY: 2026, Q: 3})
			code(t, err, apperr.Forbidden)
		})
	})
}

// fakeLister serves subscriptions from a slice, as the marketplace would.
type fakeLister struct {
	subs  []Subscription
	calls int
}

func (f *fakeLister) ActiveSubscriptions(_ context.Context, _ time.Time, after string, limit int) ([]Subscription, error) {
	f.calls++
	var out []Subscription
	for _, s := range f.subs {
		if s.ID > after && len(out) < limit {
			out = append(out, s)
		}
	}
	return out, nil
}

func TestDeliveryTrigger(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		long := w.clock.Add(-90 * 24 * time.Hour)
		lister := &fakeLister{subs: []Subscription{
			{ID: "sub_a", AgencyID: w.energy.ID, ServiceArea: "protective-dns", ActiveSince: long},
			{ID: "sub_b", AgencyID: w.treasury.ID, ServiceArea: "soc", ProviderID: w.northwind.ID, OfferingID: "off_soc", ActiveSince: long},
			{ID: "sub_c", AgencyID: w.lab.ID, ServiceArea: "soc", ActiveSince: w.clock.Add(-3 * 24 * time.Hour)}, // too new
			{ID: "sub_d", AgencyID: w.empty.ID, ServiceArea: "soc", ActiveSince: long},                           // nobody to ask
			{ID: "sub_e", AgencyID: "org_gone", ServiceArea: "soc", ActiveSince: long},                           // bad data
		}}
		trig := &DeliveryTrigger{S: w.s, Lister: lister, PageSize: 2, MaxPerRun: 1}
		n, err := trig.RunOnce(w.ctx)
		if err != nil || n != 1 {
			t.Fatalf("first pass sent %d (%v), want the bound of 1", n, err)
		}
		n, err = trig.RunOnce(w.ctx)
		if err != nil || n != 1 {
			t.Fatalf("second pass sent %d (%v)", n, err)
		}
		n, err = trig.RunOnce(w.ctx)
		if err != nil || n != 0 {
			t.Fatalf("third pass sent %d (%v)", n, err)
		}
		if got := w.count("SELECT COUNT(*) FROM cx_surveys WHERE stage = 'delivery'"); got != 2 {
			t.Fatalf("%d delivery surveys", got)
		}
		// A new quarter asks again.
		w.advance(92 * 24 * time.Hour)
		trig.MaxPerRun = 100
		if n, err := trig.RunOnce(w.ctx); err != nil || n != 3 {
			t.Fatalf("next quarter sent %d (%v), want 3 (the lab is old enough now)", n, err)
		}

		t.Run("stops with its context", func(t *testing.T) {
			ctx, cancel := context.WithCancel(w.ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				(&DeliveryTrigger{S: w.s, Lister: lister, Interval: time.Hour}).Run(ctx)
			}()
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop")
			}
		})
		t.Run("a lister out of order is an error, not a loop", func(t *testing.T) {
			bad := &fakeLister{subs: []Subscription{{ID: "b"}, {ID: "a"}}}
			bad.subs = append(bad.subs, bad.subs...)
			_, err := (&DeliveryTrigger{S: w.s, Lister: orderless{bad}}).RunOnce(w.ctx)
			if err == nil {
				t.Fatal("no error")
			}
		})
	})
}

// orderless returns its subscriptions whatever the cursor.
type orderless struct{ f *fakeLister }

func (o orderless) ActiveSubscriptions(context.Context, time.Time, string, int) ([]Subscription, error) {
	return o.f.subs, nil
}

// rawCells counts a report's cells from the invitation and response rows
// themselves, the slow way, to check the running totals against.
func rawCells(t *testing.T, d *db.DB) map[string]Cell {
	t.Helper()
	ctx := context.Background()
	out := map[string]Cell{}
	key := func(q, stage, area, prov, off string) string {
		return strings.Join([]string{q, stage, area, prov, off}, "|")
	}
	rows, err := d.QueryContext(ctx, `SELECT i.quarter, s.stage, s.service_area, COALESCE(s.provider_id, ''), s.offering_id, r.id IS NOT NULL,
		COALESCE(r.trust, -1), COALESCE(r.went_well, 0), COALESCE(r.not_well, 0), COALESCE(r.classic, '0000000')
		FROM cx_invitations i JOIN cx_surveys s ON s.id = i.survey_id LEFT JOIN cx_responses r ON r.invitation_id = i.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var q, stage, area, prov, off, classic string
		var answered bool
		var trust, went, not int
		if err := rows.Scan(&q, &stage, &area, &prov, &off, &answered, &trust, &went, &not, &classic); err != nil {
			t.Fatal(err)
		}
		k := key(q, stage, area, prov, off)
		c := out[k]
		c.Offered++
		if answered {
			a := a11.Answer{WentWell: a11.DriverSet(went), NotWell: a11.DriverSet(not), Classic: parseClassic(classic)}
			switch trust {
			case 1:
				a.Trust = a11.ThumbsUp
			case 0:
				a.Trust = a11.ThumbsDown
			}
			c.Tally.Add(a)
		}
		out[k] = c
	}
	return out
}

// checkTallies compares every report cell with the raw count.
func checkTallies(t *testing.T, s *Service) {
	t.Helper()
	cells, err := s.cells(context.Background(), s.DB, ReportFilter{From: a11.Quarter{FY: 2000, Q: 1}, To: a11.Quarter{FY: 2200, Q: 4}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawCells(t, s.DB)
	if len(cells) != len(raw) {
		t.Fatalf("%d cells from the totals, %d from the rows", len(cells), len(raw))
	}
	for _, c := range cells {
		k := strings.Join([]string{c.Quarter.String(), string(c.Stage), c.ServiceArea, c.ProviderID, c.OfferingID}, "|")
		if want := raw[k]; c.Offered != want.Offered || c.Tally != want.Tally {
			t.Errorf("cell %s: totals say %d offered %+v, rows say %d offered %+v", k, c.Offered, c.Tally, want.Offered, want.Tally)
		}
	}
}
