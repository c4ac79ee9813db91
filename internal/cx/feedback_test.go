package cx

import (
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/notify"
)

func TestFeedbackLoop(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		f, err := w.s.SubmitFeedback(w.ctx, w.energyViewer, FeedbackInput{Kind: Problem, Title: "  DNS block page\nhides the reason ",
			Body: "Users cannot tell which feed blocked a domain.\r\nPlease show it.", ServiceArea: "protective-dns"})
		if err != nil {
			t.Fatal(err)
		}
		if f.OrgID != w.energy.ID || f.State != Received || f.Title != "DNS block page hides the reason" || f.Body != "Users cannot tell which feed blocked a domain.\nPlease show it." {
			t.Fatalf("feedback %+v", f)
		}

		t.Run("bad input is refused", func(t *testing.T) {
			_, err := w.s.SubmitFeedback(w.ctx, w.energyViewer, FeedbackInput{Kind: "rant", Title: "no", ServiceArea: "gardening"})
			code(t, err, apperr.Invalid)
			if fields := apperr.FieldsOf(err); fields["kind"] == "" || fields["title"] == "" || fields["service_area"] == "" {
				t.Errorf("fields %v", fields)
			}
			_, err = w.s.SubmitFeedback(w.ctx, w.energyViewer, FeedbackInput{OrgID: w.treasury.ID, Kind: Idea, Title: "For someone else"})
			code(t, err, apperr.NotFound)
			_, err = w.s.SubmitFeedback(w.ctx, w.officeAdmin, FeedbackInput{Kind: Idea, Title: "The office to itself"})
			code(t, err, apperr.Forbidden)
		})

		t.Run("the submitter's organization and the office read it; others do not", func(t *testing.T) {
			for _, p := range []*authz.Principal{w.energyAdmin, w.officeAnalyst} {
				if _, err := w.s.GetFeedback(w.ctx, p, f.ID); err != nil {
					t.Errorf("%s: %v", p.Email, err)
				}
			}
			_, err := w.s.GetFeedback(w.ctx, w.treasuryAdmin, f.ID)
			code(t, err, apperr.NotFound)
			_, err = w.s.GetFeedback(w.ctx, w.northwindAdmin, f.ID)
			code(t, err, apperr.NotFound)
			list, err := w.s.ListFeedback(w.ctx, w.treasuryAdmin, FeedbackFilter{})
			if err != nil || len(list) != 0 {
				t.Fatalf("treasury sees %v %v", list, err)
			}
			// A parent agency's admin sees a sub-organization's items.
			sub, err := w.s.SubmitFeedback(w.ctx, w.labAdmin, FeedbackInput{Kind: Praise, Title: "Onboarding was quick"})
			if err != nil {
				t.Fatal(err)
			}
			list, err = w.s.ListFeedback(w.ctx, w.energyAdmin, FeedbackFilter{})
			if err != nil || len(list) != 2 {
				t.Fatalf("energy admin sees %d items: %v", len(list), err)
			}
			list, err = w.s.ListFeedback(w.ctx, w.labAdmin, FeedbackFilter{})
			if err != nil || len(list) != 1 || list[0].ID != sub.ID {
				t.Fatalf("lab admin sees %v %v", list, err)
			}
		})

		t.Run("only the office moves it, along the lifecycle, and the submitter hears of each move", func(t *testing.T) {
			_, err := w.s.MoveFeedback(w.ctx, w.energyAdmin, f.ID, UnderReview, "")
			code(t, err, apperr.Forbidden)
			_, err = w.s.MoveFeedback(w.ctx, w.treasuryAdmin, f.ID, UnderReview, "")
			code(t, err, apperr.NotFound)
			_, err = w.s.MoveFeedback(w.ctx, w.officeAnalyst, f.ID, Done, "")
			code(t, err, apperr.Conflict)
			ctx := actor.With(w.ctx, actor.Actor{Label: "analyst@office.example.gov"})
			for _, step := range []struct {
				to   FeedbackState
				note string
			}{{UnderReview, ""}, {Planned, "Scheduled for the June release."}, {Done, "The block page now names the feed."}} {
				w.advance(24 * time.Hour)
				if _, err := w.s.MoveFeedback(ctx, w.officeAnalyst, f.ID, step.to, step.note); err != nil {
					t.Fatalf("move to %s: %v", step.to, err)
				}
			}
			got, err := w.s.GetFeedback(w.ctx, w.energyViewer, f.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != Done || got.ClosedAt.IsZero() || len(got.Events) != 4 || got.Events[2].Note != "Scheduled for the June release." ||
				got.Events[3].Actor != "analyst@office.example.gov" {
				t.Fatalf("item %+v", got)
			}
			if age := got.Age(*w.clock); age != 3*24*time.Hour {
				t.Errorf("age %v", age)
			}
			items, err := notify.ForUser(w.ctx, d, w.energyViewer.UserID, 10)
			if err != nil || len(items) != 3 || !strings.Contains(items[0].Subject, "done") || !strings.Contains(items[0].Body, "names the feed") {
				t.Fatalf("submitter notifications %+v %v", items, err)
			}
			_, err = w.s.MoveFeedback(w.ctx, w.officeAnalyst, f.ID, WontDo, "Changed our mind about it.")
			code(t, err, apperr.Conflict)
		})

		t.Run("won't do needs a reason the submitter can read", func(t *testing.T) {
			g, err := w.s.SubmitFeedback(w.ctx, w.northwindAdmin, FeedbackInput{Kind: Idea, Title: "Weekly digest by fax"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.s.MoveFeedback(w.ctx, w.officeAdmin, g.ID, WontDo, " ")
			code(t, err, apperr.Invalid)
			g, err = w.s.MoveFeedback(w.ctx, w.officeAdmin, g.ID, WontDo, "Fax is not a secure channel for this data.")
			if err != nil || g.Reason != "Fax is not a secure channel for this data." || g.State != WontDo {
				t.Fatalf("%+v %v", g, err)
			}
			mail, _ := notify.Outbox(w.ctx, d, "admin@northwind.example.com", 5)
			if len(mail) == 0 || !strings.Contains(mail[0].Body, "Why: Fax is not a secure channel") {
				t.Fatalf("mail %+v", mail)
			}
		})

		t.Run("open feedback and its age", func(t *testing.T) {
			st, err := w.s.FeedbackStats(w.ctx, w.officeAdmin)
			if err != nil {
				t.Fatal(err)
			}
			// Open: the lab's praise, received three days ago.
			if st.Open != 1 || st.ByState[Received] != 1 || st.Ages[0] != 1 || st.MedianAge != 3*24*time.Hour {
				t.Fatalf("stats %+v", st)
			}
		})
	})
}

func TestYouSaidWeDid(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		fEnergy, err := w.s.SubmitFeedback(w.ctx, w.energyBuyer, FeedbackInput{Kind: Problem, Title: "Onboarding takes three weeks"})
		if err != nil {
			t.Fatal(err)
		}
		fTreasury, err := w.s.SubmitFeedback(w.ctx, w.treasuryAdmin, FeedbackInput{Kind: Problem, Title: "Treasury wants faster onboarding"})
		if err != nil {
			t.Fatal(err)
		}
		in := ChangeInput{Title: "Faster onboarding for Protective DNS", Summary: "You told us onboarding took weeks. Policies now provision automatically.",
			Ref:    Ref{Kind: RefOffering, ID: "off_pdns", Label: "Protective DNS, standard tier", URL: "/offerings/off_pdns"},
			Figure: &Figure{Metric: "Days from order to service", Before: 21, After: 4, Unit: "days"}, ServiceArea: "protective-dns",
			Audience: Linked, FeedbackIDs: []string{fEnergy.ID, fTreasury.ID, fEnergy.ID}}

		t.Run("bad input is refused", func(t *testing.T) {
			bad := in
			bad.Ref.URL = "javascript:alert(1)"
			bad.Figure = &Figure{Metric: "x"}
			bad.FeedbackIDs = nil
			_, err := w.s.PostChange(w.ctx, w.officeAdmin, bad)
			code(t, err, apperr.Invalid)
			if f := apperr.FieldsOf(err); f["ref_url"] == "" || f["metric"] == "" || f["feedback_ids"] == "" {
				t.Errorf("fields %v", f)
			}
			bad = in
			bad.FeedbackIDs = []string{"fbk_0000000000000000000000000a"}
			_, err = w.s.PostChange(w.ctx, w.officeAdmin, bad)
			code(t, err, apperr.Invalid)
			_, err = w.s.PostChange(w.ctx, w.energyAdmin, in)
			code(t, err, apperr.Forbidden)
			if n := w.count("SELECT COUNT(*) FROM cx_changes"); n != 0 {
				t.Fatal("a refused entry was stored")
			}
		})

		c, err := w.s.PostChange(w.ctx, w.officeAnalyst, in)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Figure.Improved() || c.Figure.Format(c.Figure.After) != "4 days" || len(c.Feedback) != 2 {
			t.Fatalf("change %+v", c)
		}
		everyone, err := w.s.PostChange(w.ctx, w.officeAdmin, ChangeInput{Title: "Quarterly scorecards now in the portal", Summary: "Many of you asked for it.", Audience: Everyone})
		if err != nil {
			t.Fatal(err)
		}

		t.Run("linked entries reach only the linked organizations", func(t *testing.T) {
			got, err := w.s.GetChange(w.ctx, w.energyViewer, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Feedback) != 1 || got.Feedback[0].ID != fEnergy.ID || got.Hidden != 1 {
				t.Fatalf("energy sees feedback %v, hidden %d", got.Feedback, got.Hidden)
			}
			_, err = w.s.GetChange(w.ctx, w.northwindAdmin, c.ID)
			code(t, err, apperr.NotFound)
			list, err := w.s.ListChanges(w.ctx, w.northwindAdmin, ChangeFilter{})
			if err != nil || len(list) != 1 || list[0].ID != everyone.ID {
				t.Fatalf("northwind sees %v %v", list, err)
			}
			list, err = w.s.ListChanges(w.ctx, w.labAdmin, ChangeFilter{})
			if err != nil || len(list) != 1 {
				t.Fatalf("a sub-organization sees its parent's linked entry: %v %v", list, err)
			}
			list, err = w.s.ListChanges(w.ctx, w.energyAdmin, ChangeFilter{})
			if err != nil || len(list) != 2 {
				t.Fatalf("energy sees %d entries: %v", len(list), err)
			}
			office, err := w.s.GetChange(w.ctx, w.officeAnalyst, c.ID)
			if err != nil || len(office.Feedback) != 2 || office.Hidden != 0 {
				t.Fatalf("office view %+v %v", office, err)
			}
		})
		t.Run("the submitters hear of it", func(t *testing.T) {
			for _, uid := range []string{w.energyBuyer.UserID, w.treasuryAdmin.UserID} {
				items, err := notify.ForUser(w.ctx, d, uid, 5)
				if err != nil || len(items) != 1 || items[0].Link != "/cx/changes/"+c.ID {
					t.Fatalf("notifications of %s: %+v %v", uid, items, err)
				}
			}
		})
		t.Run("the feedback item shows the change", func(t *testing.T) {
			got, err := w.s.GetFeedback(w.ctx, w.energyBuyer, fEnergy.ID)
			if err != nil || len(got.Changes) != 1 || got.Changes[0].ID != c.ID {
				t.Fatalf("%+v %v", got.Changes, err)
			}
		})
	})
}
