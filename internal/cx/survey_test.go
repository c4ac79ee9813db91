package cx

import (
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/notify"
)

func TestStageHook(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		ev := StageEvent{Stage: StageProcurement, AgencyID: w.energy.ID, ProviderID: w.northwind.ID, ServiceArea: "soc", OfferingID: "off_123", OrderID: "ord_1"}

		t.Run("asks the agency people of the stage, in the app and by email", func(t *testing.T) {
			if err := w.stage(ev); err != nil {
				t.Fatal(err)
			}
			surveys, err := w.s.ListSurveys(w.ctx, w.officeAdmin, SurveyFilter{})
			if err != nil || len(surveys) != 1 {
				t.Fatalf("surveys %v %v", surveys, err)
			}
			sv := surveys[0]
			if sv.Stage != StageProcurement || sv.ServiceName != "SOC as a service" || sv.ProviderName != "Northwind Security" || sv.OrderID != "ord_1" ||
				sv.Offered != 1 || sv.Quarter != (a11.Quarter{FY: 2026, Q: 3}) || sv.Source != "lifecycle" {
				t.Fatalf("survey %+v", sv)
			}
			if sv.TrustQuestion != "I trust Cyber Office to deliver on its mission for agencies like mine." {
				t.Errorf("trust question %q", sv.TrustQuestion)
			}
			// Procurement asks buyers and approvers; Energy has a buyer only.
			if links := w.surveyLinks("buyer@energy.example.gov"); len(links) != 1 {
				t.Fatalf("buyer's survey links: %v", links)
			}
			for _, other := range []string{"admin@energy.example.gov", "viewer@energy.example.gov", "admin@lab.example.gov"} {
				if links := w.surveyLinks(other); len(links) != 0 {
					t.Errorf("%s was asked too", other)
				}
			}
			items, err := notify.ForUser(w.ctx, d, w.energyBuyer.UserID, 10)
			if err != nil || len(items) != 1 || !strings.HasPrefix(items[0].Link, "/cx/invitations/cxi_") {
				t.Fatalf("in-app notification: %+v %v", items, err)
			}
			if strings.Contains(items[0].Link, "/cx/answer/") {
				t.Error("the in-app notification carries the one-time secret")
			}
		})

		t.Run("a repeated call sends nothing more", func(t *testing.T) {
			if err := w.stage(ev); err != nil {
				t.Fatal(err)
			}
			if n := w.count("SELECT COUNT(*) FROM cx_surveys"); n != 1 {
				t.Fatalf("%d surveys", n)
			}
		})

		t.Run("delivery asks once per subscription per quarter", func(t *testing.T) {
			del := StageEvent{Stage: StageDelivery, AgencyID: w.energy.ID, ServiceArea: "protective-dns", SubscriptionID: "sub_9"}
			for range 2 {
				if err := w.stage(del); err != nil {
					t.Fatal(err)
				}
			}
			if n := w.count("SELECT COUNT(*) FROM cx_surveys WHERE stage = 'delivery'"); n != 1 {
				t.Fatalf("%d delivery surveys", n)
			}
			// Delivery asks the admin and the analyst.
			if n := w.count("SELECT COUNT(*) FROM cx_invitations i JOIN cx_surveys s ON s.id = i.survey_id WHERE s.stage = 'delivery'"); n != 2 {
				t.Errorf("%d delivery invitations, want 2", n)
			}
			w.advance(60 * 24 * time.Hour) // FY2026 Q4
			if err := w.stage(del); err != nil {
				t.Fatal(err)
			}
			if n := w.count("SELECT COUNT(*) FROM cx_surveys WHERE stage = 'delivery'"); n != 2 {
				t.Fatalf("%d delivery surveys after a new quarter", n)
			}
		})

		t.Run("an agency with nobody to ask is skipped without failing the caller", func(t *testing.T) {
			before := w.count("SELECT COUNT(*) FROM cx_surveys")
			if err := w.stage(StageEvent{Stage: StageNeeds, AgencyID: w.empty.ID, ServiceArea: "soc"}); err != nil {
				t.Fatal(err)
			}
			if n := w.count("SELECT COUNT(*) FROM cx_surveys"); n != before {
				t.Fatal("survey recorded with nobody to ask")
			}
		})

		t.Run("bad events are refused and change nothing", func(t *testing.T) {
			before := w.count("SELECT COUNT(*) FROM cx_surveys")
			code(t, w.stage(StageEvent{Stage: "payment", AgencyID: w.energy.ID, ServiceArea: "soc"}), apperr.Invalid)
			code(t, w.stage(StageEvent{Stage: StageNeeds, AgencyID: w.northwind.ID, ServiceArea: "soc"}), apperr.Invalid)
			code(t, w.stage(StageEvent{Stage: StageNeeds, AgencyID: w.energy.ID}), apperr.Invalid)
			code(t, w.stage(StageEvent{Stage: StageNeeds, AgencyID: "org_missing", ServiceArea: "soc"}), apperr.NotFound)
			if n := w.count("SELECT COUNT(*) FROM cx_surveys"); n != before {
				t.Fatal("a refused event recorded a survey")
			}
		})

		t.Run("a sub-organization's people are asked about their own service", func(t *testing.T) {
			if err := w.stage(StageEvent{Stage: StageExecution, AgencyID: w.lab.ID, ServiceArea: "protective-dns", OrderID: "ord_lab"}); err != nil {
				t.Fatal(err)
			}
			if links := w.surveyLinks("admin@lab.example.gov"); len(links) != 1 {
				t.Fatalf("lab admin links %v", links)
			}
		})
	})
}

func TestOfficeSendsSurveys(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		in := SendInput{OrgID: w.treasury.ID, Stage: StageNeeds, ServiceArea: "vulnerability-management"}
		sv, err := w.s.Send(w.ctx, w.officeAnalyst, in)
		if err != nil {
			t.Fatal(err)
		}
		if sv.Offered != 1 || sv.Source != "office" || sv.CreatedBy != "analyst@office.example.gov" {
			t.Fatalf("survey %+v", sv)
		}
		t.Run("not twice within a week", func(t *testing.T) {
			_, err := w.s.Send(w.ctx, w.officeAdmin, in)
			code(t, err, apperr.Conflict)
			w.advance(8 * 24 * time.Hour)
			if _, err := w.s.Send(w.ctx, w.officeAdmin, in); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("a provider's people can be asked", func(t *testing.T) {
			sv, err := w.s.Send(w.ctx, w.officeAdmin, SendInput{OrgID: w.northwind.ID, Stage: StageProcurement, ServiceArea: "soc"})
			if err != nil || sv.Offered != 1 {
				t.Fatalf("%+v %v", sv, err)
			}
		})
		t.Run("agencies and providers cannot send", func(t *testing.T) {
			_, err := w.s.Send(w.ctx, w.energyAdmin, SendInput{OrgID: w.energy.ID, Stage: StageNeeds, ServiceArea: "soc"})
			code(t, err, apperr.Forbidden)
			_, err = w.s.Send(w.ctx, w.energyAdmin, SendInput{OrgID: w.treasury.ID, Stage: StageNeeds, ServiceArea: "soc"})
			code(t, err, apperr.NotFound)
		})
		t.Run("bad input", func(t *testing.T) {
			_, err := w.s.Send(w.ctx, w.officeAdmin, SendInput{OrgID: w.treasury.ID, Stage: "later", ServiceArea: "nope"})
			code(t, err, apperr.Invalid)
			if f := apperr.FieldsOf(err); f["stage"] == "" || f["service_area"] == "" {
				t.Errorf("fields %v", f)
			}
			_, err = w.s.Send(w.ctx, w.officeAdmin, SendInput{OrgID: w.office.ID, Stage: StageNeeds, ServiceArea: "soc"})
			code(t, err, apperr.Invalid)
			_, err = w.s.Send(w.ctx, w.officeAdmin, SendInput{OrgID: w.empty.ID, Stage: StageNeeds, ServiceArea: "soc"})
			code(t, err, apperr.Invalid)
		})
		t.Run("only the office reads surveys", func(t *testing.T) {
			_, err := w.s.GetSurvey(w.ctx, w.treasuryAdmin, sv.ID)
			code(t, err, apperr.Forbidden)
			_, err = w.s.GetSurvey(w.ctx, w.energyAdmin, sv.ID)
			code(t, err, apperr.NotFound)
			list, err := w.s.ListSurveys(w.ctx, w.energyAdmin, SurveyFilter{})
			if err != nil || len(list) != 0 {
				t.Fatalf("agency lists surveys: %v %v", list, err)
			}
		})
	})
}

func TestSettingsChangeTheNextSurvey(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		_, err := w.s.UpdateSettings(w.ctx, w.officeAnalyst, Settings{TrustQuestion: "I trust [office] to help me.", Classic: true})
		code(t, err, apperr.Forbidden)
		_, err = w.s.UpdateSettings(w.ctx, w.officeAdmin, Settings{TrustQuestion: "Trust <b>"})
		code(t, err, apperr.Invalid)
		if _, err := w.s.UpdateSettings(w.ctx, w.officeAdmin, Settings{TrustQuestion: "  I trust [office]   to keep  agencies like mine safe. ", Classic: true}); err != nil {
			t.Fatal(err)
		}
		st, err := w.s.Settings(w.ctx)
		if err != nil || st.TrustQuestion != "I trust [office] to keep agencies like mine safe." || !st.Classic {
			t.Fatalf("settings %+v %v", st, err)
		}
		sv, err := w.s.Send(w.ctx, w.officeAdmin, SendInput{OrgID: w.energy.ID, Stage: StageNeeds, ServiceArea: "soc"})
		if err != nil {
			t.Fatal(err)
		}
		if sv.TrustQuestion != "I trust Cyber Office to keep agencies like mine safe." || !sv.Classic {
			t.Fatalf("survey %+v", sv)
		}
		if n := w.count("SELECT COUNT(*) FROM audit_events WHERE action = 'cx.settings.update'"); n != 1 {
			t.Errorf("%d settings audit records", n)
		}
	})
}

func TestResponses(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		if err := w.stage(StageEvent{Stage: StageDelivery, AgencyID: w.energy.ID, ServiceArea: "protective-dns", SubscriptionID: "sub_1"}); err != nil {
			t.Fatal(err)
		}
		adminLink := w.surveyLinks("admin@energy.example.gov")[0]
		invs, err := w.s.MyInvitations(w.ctx, w.energyAnalyst, InvitationFilter{OpenOnly: true})
		if err != nil || len(invs) != 1 {
			t.Fatalf("analyst invitations %v %v", invs, err)
		}
		analystInv := invs[0]

		t.Run("from the email link, without signing in", func(t *testing.T) {
			inv, err := w.s.InvitationBySecret(w.ctx, adminLink)
			if err != nil || inv.UserEmail != "admin@energy.example.gov" {
				t.Fatalf("%+v %v", inv, err)
			}
			before := w.count("SELECT COUNT(*) FROM audit_events")
			_, err = w.s.RespondBySecret(w.ctx, adminLink, raw("trust=sideways"))
			code(t, err, apperr.Invalid)
			_, err = w.s.RespondBySecret(w.ctx, adminLink, raw(""))
			code(t, err, apperr.Invalid)
			if n := w.count("SELECT COUNT(*) FROM audit_events"); n != before || w.count("SELECT COUNT(*) FROM cx_responses") != 0 {
				t.Fatal("a refused answer changed something")
			}
			rsp, err := w.s.RespondBySecret(w.ctx, adminLink, raw("trust=up&went_well=ease&went_well=employee&comment=Smooth+and+quick"))
			if err != nil {
				t.Fatal(err)
			}
			if rsp.Channel != ChannelEmail || rsp.Answer.Trust != a11.ThumbsUp || rsp.Answer.Comment != "Smooth and quick" {
				t.Fatalf("response %+v", rsp)
			}
		})
		t.Run("one response per invitation", func(t *testing.T) {
			_, err := w.s.RespondBySecret(w.ctx, adminLink, raw("trust=down"))
			code(t, err, apperr.Conflict)
			if n := w.count("SELECT COUNT(*) FROM cx_responses"); n != 1 {
				t.Fatalf("%d responses", n)
			}
		})
		t.Run("another person's invitation is not found", func(t *testing.T) {
			_, err := w.s.RespondAsUser(w.ctx, w.energyAdmin, analystInv.ID, raw("trust=up"))
			code(t, err, apperr.NotFound)
			_, err = w.s.RespondAsUser(w.ctx, w.officeAdmin, analystInv.ID, raw("trust=up"))
			code(t, err, apperr.NotFound)
			_, err = w.s.InvitationBySecret(w.ctx, "not-a-secret")
			code(t, err, apperr.NotFound)
		})
		t.Run("through the API, only for the surveyed organization", func(t *testing.T) {
			_, err := w.s.RespondByAPI(w.ctx, w.token(w.treasury, authz.AgencyAdmin), analystInv.ID, raw("trust=up"))
			code(t, err, apperr.NotFound)
			_, err = w.s.RespondByAPI(w.ctx, w.token(w.office, authz.OfficeAdmin), analystInv.ID, raw("trust=up"))
			code(t, err, apperr.Forbidden)
			list, err := w.s.OrgInvitations(w.ctx, w.token(w.energy, authz.AgencyAnalyst), InvitationFilter{OpenOnly: true})
			if err != nil || len(list) != 1 || list[0].ID != analystInv.ID {
				t.Fatalf("open invitations for the energy token: %v %v", list, err)
			}
			rsp, err := w.s.RespondByAPI(w.ctx, w.token(w.energy, authz.AgencyAnalyst), analystInv.ID, raw("trust=down&not_well=efficiency"))
			if err != nil || rsp.Channel != ChannelAPI {
				t.Fatalf("%+v %v", rsp, err)
			}
		})
		t.Run("a closed survey cannot be answered", func(t *testing.T) {
			if _, err := w.s.Send(w.ctx, w.officeAdmin, SendInput{OrgID: w.treasury.ID, Stage: StageNeeds, ServiceArea: "soc"}); err != nil {
				t.Fatal(err)
			}
			link := w.surveyLinks("admin@treasury.example.gov")[0]
			w.advance(31 * 24 * time.Hour)
			_, err := w.s.RespondBySecret(w.ctx, link, raw("trust=up"))
			code(t, err, apperr.Conflict)
		})
		t.Run("the office reads responses with their comments", func(t *testing.T) {
			list, err := w.s.SurveyResponses(w.ctx, w.officeAnalyst, analystInv.SurveyID)
			if err != nil || len(list) != 2 {
				t.Fatalf("%v %v", list, err)
			}
			_, err = w.s.SurveyResponses(w.ctx, w.energyAdmin, analystInv.SurveyID)
			code(t, err, apperr.Forbidden)
			if n := w.count("SELECT COUNT(*) FROM audit_events WHERE action = 'cx.response.submit' AND summary LIKE '%Smooth%'"); n != 0 {
				t.Error("a comment reached the audit log")
			}
		})
	})
}

func TestClassicItems(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		if _, err := w.s.UpdateSettings(w.ctx, w.officeAdmin, Settings{TrustQuestion: a11.DefaultTrustQuestion, Classic: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.s.Send(w.ctx, w.officeAdmin, SendInput{OrgID: w.treasury.ID, Stage: StageNeeds, ServiceArea: "soc"}); err != nil {
			t.Fatal(err)
		}
		link := w.surveyLinks("admin@treasury.example.gov")[0]
		rsp, err := w.s.RespondBySecret(w.ctx, link, raw("classic_satisfaction=4&classic_employee=5"))
		if err != nil {
			t.Fatal(err)
		}
		inv, _ := w.s.InvitationBySecret(w.ctx, link)
		got, err := w.s.ResponseForInvitation(w.ctx, inv)
		if err != nil || got.Answer != rsp.Answer || got.Answer.Classic != [a11.NumClassic]uint8{4, 0, 0, 0, 0, 0, 5} {
			t.Fatalf("stored %+v, want %+v (%v)", got.Answer, rsp.Answer, err)
		}
	})
}
