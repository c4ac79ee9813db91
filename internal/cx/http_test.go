package cx_test

import (
	"archive/zip"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/qsmo/qsmo/internal/app/apptest"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/notify"
	"github.com/qsmo/qsmo/internal/notify/smtptest"
)

func status(t *testing.T, res *http.Response, want int) string {
	t.Helper()
	body := apptest.Body(res)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, body)
	}
	return body
}

func contains(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

var answerLinkRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/cx/answer/[a-z0-9]+`)

// TestSurveyInvitationOverSMTP follows a lifecycle survey from the hook to
// a real SMTP conversation on loopback, and answers it from the emailed
// link without signing in.
func TestSurveyInvitationOverSMTP(t *testing.T) {
	e := apptest.New(t)
	smtp := smtptest.Start(t)
	energy := e.World.Agencies["energy"]
	err := e.App.DB.InTx(e.Ctx, func(tx *db.Tx) error {
		return e.App.CX.Stage(e.Ctx, tx, cx.StageEvent{Stage: cx.StageExecution, AgencyID: energy.ID, ServiceArea: "soc",
			ProviderID: e.World.Providers["fcssc"].ID, OrderID: "ord_smtp"})
	})
	if err != nil {
		t.Fatal(err)
	}
	sender := &notify.Sender{DB: e.App.DB, SMTP: notify.SMTPConfig{Addr: smtp.Addr, From: "cx@office.example.gov", TLS: "none"},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := sender.SendPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	var mail *smtptest.Mail
	for _, m := range smtp.Mail() {
		if len(m.To) == 1 && m.To[0] == "analyst@energy.example.gov" && strings.Contains(m.Data, "onboarding") {
			mail = &m
		}
	}
	if mail == nil {
		t.Fatalf("no invitation for the energy analyst among %d messages", len(smtp.Mail()))
	}
	if !strings.Contains(mail.Data, "Subject: How did onboarding go?") {
		t.Errorf("subject: %s", mail.Data)
	}
	link := answerLinkRE.FindString(strings.ReplaceAll(mail.Data, "=\r\n", ""))
	if link == "" || !strings.HasPrefix(link, e.URL) {
		t.Fatalf("no answer link to %s in:\n%s", e.URL, mail.Data)
	}
	path := strings.TrimPrefix(link, e.URL)

	anon := e.Anonymous()
	body := status(t, anon.Get(path), http.StatusOK)
	contains(t, body, "How did onboarding go?", "I trust Cyber Quality Service Management Office to deliver on its mission for agencies like mine.",
		"What went well?", "What didn’t go so well?", `name="went_well" value="effectiveness"`, "Send my answers")

	// Nothing answered: the form comes back with a clear error.
	body = status(t, anon.PostForm(path, url.Values{}), http.StatusUnprocessableEntity)
	contains(t, body, "Answer at least one question before sending.", `id="error-summary"`)

	res := anon.PostForm(path, url.Values{"trust": {"up"}, "went_well": {"ease", "employee"}, "comment": {"Quick and clear."}})
	status(t, res, http.StatusSeeOther)
	body = status(t, anon.Get(path), http.StatusOK)
	contains(t, body, "Thank you for your answers", "Ease, Employee", "Quick and clear.")
	status(t, anon.PostForm(path, url.Values{"trust": {"down"}}), http.StatusSeeOther)
	contains(t, status(t, anon.Get(path), http.StatusOK), "This survey was already answered", "Thank you for your answers", "Ease, Employee")

	var channel string
	if err := e.App.DB.QueryRowContext(e.Ctx, `SELECT r.channel FROM cx_responses r JOIN cx_surveys s ON s.id = r.survey_id WHERE s.order_id = 'ord_smtp'`).Scan(&channel); err != nil {
		t.Fatal(err)
	}
	if channel != "email" {
		t.Errorf("channel %q, want email", channel)
	}
}

func TestAnswerSignedIn(t *testing.T) {
	e := apptest.New(t)
	c := e.SignIn("admin@energy.example.gov")
	body := status(t, c.Get("/cx"), http.StatusOK)
	m := regexp.MustCompile(`/cx/invitations/(cxi_[a-z0-9]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no survey waiting on the overview:\n%s", body)
	}
	path := "/cx/invitations/" + m[1]
	contains(t, status(t, c.Get(path), http.StatusOK), "How is Protective DNS working for you?")
	status(t, c.PostForm(path, url.Values{"trust": {"down"}, "not_well": {"transparency"}}), http.StatusSeeOther)
	contains(t, status(t, c.Get(path), http.StatusOK), "Thank you for your answers", "Thumbs down")
	// Another person of the same agency cannot open it.
	status(t, e.SignIn("viewer@energy.example.gov").Get(path), http.StatusNotFound)
	var channel string
	if err := e.App.DB.QueryRowContext(e.Ctx, "SELECT channel FROM cx_responses WHERE invitation_id = ?", m[1]).Scan(&channel); err != nil || channel != "web" {
		t.Fatalf("channel %q %v", channel, err)
	}
}

func TestOfficeSendsASurveyFromThePage(t *testing.T) {
	e := apptest.New(t)
	office := e.SignIn("analyst@office.example.gov")
	contains(t, status(t, office.Get("/cx/surveys/new"), http.StatusOK), "Send a survey", "Organization", "Stage")
	body := status(t, office.PostForm("/cx/surveys", url.Values{"org_id": {""}, "stage": {"later"}}), http.StatusUnprocessableEntity)
	contains(t, body, "Choose the organization to ask.", "Choose the stage the survey asks about.", "Choose the service the survey asks about.")
	labor := e.World.Agencies["labor"]
	res := office.PostForm("/cx/surveys", url.Values{"org_id": {labor.ID}, "stage": {"needs"}, "service_area": {"threat-intelligence"}})
	status(t, res, http.StatusSeeOther)
	loc := res.Header.Get("Location")
	contains(t, status(t, office.Get(loc), http.StatusOK), "Department of Labor", "Threat intelligence", "Nobody has answered yet.")
	// Agencies cannot send surveys.
	status(t, e.SignIn("admin@labor.example.gov").PostForm("/cx/surveys", url.Values{"org_id": {labor.ID}, "stage": {"needs"}, "service_area": {"soc"}}), http.StatusForbidden)
}

func TestFeedbackAndYouSaidWeDid(t *testing.T) {
	e := apptest.New(t)
	agency := e.SignIn("buyer@energy.example.gov")
	office := e.SignIn("analyst@office.example.gov")

	contains(t, status(t, agency.Get("/cx/feedback/new"), http.StatusOK), "Submitting for <strong>Department of Energy</strong>")
	body := status(t, agency.PostForm("/cx/feedback", url.Values{"kind": {"rant"}, "title": {"x"}}), http.StatusUnprocessableEntity)
	contains(t, body, "Choose idea, problem or praise.", "Give your feedback a short title")
	res := agency.PostForm("/cx/feedback", url.Values{"kind": {"idea"}, "title": {"Show quarterly spend by service"}, "body": {"Our CFO asks every quarter."}, "service_area": {"soc"}})
	status(t, res, http.StatusSeeOther)
	item := res.Header.Get("Location")
	contains(t, status(t, agency.Get(item), http.StatusOK), "Show quarterly spend by service", "Received")

	// Another agency does not see it; the office does, and moves it.
	status(t, e.SignIn("admin@treasury.example.gov").Get(item), http.StatusNotFound)
	status(t, agency.PostForm(item+"/state", url.Values{"state": {"under_review"}}), http.StatusForbidden)
	body = status(t, office.PostForm(item+"/state", url.Values{"state": {"done"}}), http.StatusConflict)
	contains(t, body, "cannot become done")
	status(t, office.PostForm(item+"/state", url.Values{"state": {"under_review"}}), http.StatusSeeOther)
	body = status(t, office.PostForm(item+"/state", url.Values{"state": {"wont_do"}, "note": {"no"}}), http.StatusUnprocessableEntity)
	contains(t, body, "Say why this will not be done")
	status(t, office.PostForm(item+"/state", url.Values{"state": {"done"}, "note": {"Spend by service is on the statement now."}}), http.StatusSeeOther)
	contains(t, status(t, agency.Get("/notifications"), http.StatusOK), "Your feedback is done: Show quarterly spend by service")

	// The office posts a "you said, we did" entry; the agency sees it on its dashboard.
	fid := strings.TrimPrefix(item, "/cx/feedback/")
	contains(t, status(t, office.Get("/cx/changes/new?feedback="+fid), http.StatusOK), `value="`+fid+`" checked`)
	body = status(t, office.PostForm("/cx/changes", url.Values{"title": {"Spend by service on every statement"}, "summary": {"You asked for it; statements now break spend down by service."},
		"before": {"abc"}, "metric": {"Services shown"}, "audience": {"linked"}, "feedback_ids": {fid}}), http.StatusUnprocessableEntity)
	contains(t, body, "Enter a number")
	res = office.PostForm("/cx/changes", url.Values{"title": {"Spend by service on every statement"}, "summary": {"You asked for it; statements now break spend down by service."},
		"ref_kind": {"offering"}, "ref_label": {"Monthly chargeback statement"}, "metric": {"Services broken out"}, "before": {"0"}, "after": {"12"},
		"higher_is_better": {"on"}, "audience": {"linked"}, "feedback_ids": {fid}})
	status(t, res, http.StatusSeeOther)
	change := res.Header.Get("Location")
	contains(t, status(t, agency.Get("/"), http.StatusOK), "You said, we did: Spend by service on every statement")
	contains(t, status(t, agency.Get(change), http.StatusOK), "Show quarterly spend by service", "Services broken out", `role="img"`)
	status(t, e.SignIn("admin@treasury.example.gov").Get(change), http.StatusNotFound)
}

func TestDashboards(t *testing.T) {
	e := apptest.New(t)
	t.Run("office", func(t *testing.T) {
		body := status(t, e.SignIn("analyst@office.example.gov").Get("/cx"), http.StatusOK)
		contains(t, body, "Trust by stage and quarter", "Trust by service", "Trust by provider", "What went well and what didn’t",
			"People asked and people who answered, by quarter", "Open feedback by age", "Show the data as a table", `role="img"`,
			"Customers offered the survey and responses, by quarter")
	})
	t.Run("provider sees its own scores", func(t *testing.T) {
		body := status(t, e.SignIn("admin@bluewater.example.com").Get("/cx"), http.StatusOK)
		contains(t, body, "Trust by service", "What went well and what didn’t")
		for _, other := range []string{"Federal Cyber Shared Services Center", "Northwind Security Services", "Open feedback by age", "Department of"} {
			if strings.Contains(body, other) {
				t.Errorf("the provider dashboard shows %q", other)
			}
		}
	})
	t.Run("agencies get their overview, not scores", func(t *testing.T) {
		body := status(t, e.SignIn("viewer@energy.example.gov").Get("/cx"), http.StatusOK)
		contains(t, body, "Your organization’s feedback", "You said, we did")
		if strings.Contains(body, "Trust by stage") {
			t.Error("an agency sees the office's scores")
		}
		c := e.SignIn("admin@energy.example.gov")
		for _, path := range []string{"/cx/export", "/cx/settings", "/cx/surveys/new", "/cx/changes/new", "/cx/export/responses.csv"} {
			status(t, c.Get(path), http.StatusForbidden)
		}
	})
}

func TestExportCSV(t *testing.T) {
	e := apptest.New(t)
	c := e.SignIn("admin@office.example.gov")
	q := a11.QuarterOf(e.App.DB.Now()).Prev()
	res := c.Get("/cx/export/responses.csv?quarter=" + q.String())
	body := status(t, res, http.StatusOK)
	body0 := body
	if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 10 || strings.Join(rows[0], ",") != strings.Join(a11.Header, ",") {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	for _, row := range rows[1:] {
		if len(row) != 17 || !strings.HasPrefix(row[0], "rsp_") {
			t.Fatalf("row %v", row)
		}
		for _, cell := range row[1:16] {
			if cell != "" && cell != "0" && cell != "1" {
				t.Fatalf("cell %q in %v", cell, row)
			}
		}
	}
	body = status(t, c.Get("/cx/export/collection.csv?quarter="+q.String()), http.StatusOK)
	crow, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(crow) < 2 || crow[0][8] != "volume_of_customers_provided_survey_opportunity" {
		t.Fatalf("collection %v %v", crow, err)
	}
	status(t, c.Get("/cx/export/responses.csv?quarter=2026Q9"), http.StatusUnprocessableEntity)

	res = c.Get("/cx/export/a11.zip?quarter=" + q.String())
	zbody := status(t, res, http.StatusOK)
	zr, err := zip.NewReader(strings.NewReader(zbody), int64(len(zbody)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == "responses-"+q.String()+".csv" && string(data) != body0 {
			t.Error("the ZIP's responses differ from the CSV download")
		}
	}
	if strings.Join(names, ",") != "responses-"+q.String()+".csv,collection-"+q.String()+".csv" {
		t.Errorf("zip holds %v", names)
	}
}

func TestAPI(t *testing.T) {
	e := apptest.New(t)
	office := e.Token("office", authz.OfficeAnalyst)
	energy := e.Token("energy", authz.AgencyAnalyst)
	provider := e.Token("northwind", authz.ProviderAdmin)

	decode := func(res *http.Response, want int, v any) {
		t.Helper()
		body := status(t, res, want)
		if v != nil {
			if err := json.Unmarshal([]byte(body), v); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
		}
	}

	var invs []cx.InvitationJSON
	decode(e.API(energy, "GET", "/api/v1/cx/invitations", ""), http.StatusOK, &invs)
	if len(invs) == 0 {
		t.Fatal("no open invitation for energy")
	}
	if invs[0].UserEmail != "" {
		t.Error("an analyst's token reads who was asked; only tokens that may read the organization's people do")
	}
	var adminInvs []cx.InvitationJSON
	decode(e.API(e.Token("energy", authz.AgencyAdmin), "GET", "/api/v1/cx/invitations", ""), http.StatusOK, &adminInvs)
	if len(adminInvs) == 0 || adminInvs[0].UserEmail == "" {
		t.Errorf("the agency admin's token does not see who was asked: %+v", adminInvs)
	}
	var rsp cx.ResponseJSON
	decode(e.API(energy, "POST", "/api/v1/cx/invitations/"+invs[0].ID+"/response", `{"trust":"sideways"}`), http.StatusUnprocessableEntity, nil)
	decode(e.API(energy, "POST", "/api/v1/cx/invitations/"+invs[0].ID+"/response", `{"trust":"up","went_well":["ease"],"comment":"Fine"}`), http.StatusCreated, &rsp)
	if rsp.Channel != "api" || rsp.Answer.Trust != "up" {
		t.Fatalf("response %+v", rsp)
	}
	decode(e.API(energy, "POST", "/api/v1/cx/invitations/"+invs[0].ID+"/response", `{"trust":"up"}`), http.StatusConflict, nil)
	decode(e.API(e.Token("treasury", authz.AgencyAdmin), "POST", "/api/v1/cx/invitations/"+invs[0].ID+"/response", `{"trust":"up"}`), http.StatusNotFound, nil)

	var fb cx.FeedbackJSON
	decode(e.API(energy, "POST", "/api/v1/cx/feedback", `{"kind":"problem","title":"API token feedback works","unknown":1}`), http.StatusUnprocessableEntity, nil)
	decode(e.API(energy, "POST", "/api/v1/cx/feedback", `{"kind":"problem","title":"API token feedback works"}`), http.StatusCreated, &fb)
	decode(e.API(energy, "POST", "/api/v1/cx/feedback/"+fb.ID+"/transitions", `{"state":"under_review"}`), http.StatusForbidden, nil)
	decode(e.API(office, "POST", "/api/v1/cx/feedback/"+fb.ID+"/transitions", `{"state":"under_review","note":"Looking"}`), http.StatusOK, &fb)
	if fb.State != "under_review" || len(fb.Events) != 0 {
		t.Fatalf("moved %+v", fb)
	}
	decode(e.API(energy, "GET", "/api/v1/cx/feedback/"+fb.ID, ""), http.StatusOK, &fb)
	if len(fb.Events) != 2 {
		t.Fatalf("history %+v", fb.Events)
	}
	decode(e.API(office, "GET", "/api/v1/cx/feedback?state=sideways", ""), http.StatusUnprocessableEntity, nil)

	var ch cx.ChangeJSON
	decode(e.API(office, "POST", "/api/v1/cx/changes", `{"title":"Token answers arrive","summary":"You said the API should take feedback.","audience":"linked","feedback_ids":["`+fb.ID+`"],
		"ref":{"kind":"other","label":"JSON API"},"figure":{"metric":"Ways to send feedback","before":1,"after":2,"higher_is_better":true}}`), http.StatusCreated, &ch)
	var list []cx.ChangeJSON
	decode(e.API(energy, "GET", "/api/v1/cx/changes", ""), http.StatusOK, &list)
	if len(list) == 0 || list[0].ID != ch.ID || list[0].Figure == nil || list[0].Figure.After != 2 {
		t.Fatalf("changes %+v", list)
	}
	decode(e.API(provider, "GET", "/api/v1/cx/changes/"+ch.ID, ""), http.StatusNotFound, nil)

	var rep cx.ReportJSON
	decode(e.API(office, "GET", "/api/v1/cx/report?by=stage", ""), http.StatusOK, &rep)
	if len(rep.Quarters) != cx.DefaultRange || len(rep.Groups) != 4 || rep.Total.Responses == 0 || rep.Total.Trust == nil {
		t.Fatalf("report %+v", rep)
	}
	decode(e.API(office, "GET", "/api/v1/cx/report?by=agency&from=soon", ""), http.StatusUnprocessableEntity, nil)
	decode(e.API(energy, "GET", "/api/v1/cx/report", ""), http.StatusForbidden, nil)
	var prep cx.ReportJSON
	decode(e.API(provider, "GET", "/api/v1/cx/report?by=provider", ""), http.StatusOK, &prep)
	for _, g := range prep.Groups {
		if g.Label != "Northwind Security Services" {
			t.Errorf("provider report shows %q", g.Label)
		}
	}

	var ex cx.ExportJSON
	decode(e.API(office, "GET", "/api/v1/cx/export", ""), http.StatusOK, &ex)
	if len(ex.Columns) != 17 || ex.Responses != len(ex.Rows) || ex.Offered < ex.Responses {
		t.Fatalf("export %d columns, %d responses, %d rows, %d offered", len(ex.Columns), ex.Responses, len(ex.Rows), ex.Offered)
	}
	decode(e.API(provider, "GET", "/api/v1/cx/export", ""), http.StatusForbidden, nil)
	res := e.API(office, "GET", "/api/v1/cx/export/responses.csv", "")
	status(t, res, http.StatusOK)

	var sv cx.SurveyJSON
	decode(e.API(office, "POST", "/api/v1/cx/surveys", `{"org_id":"`+e.World.Agencies["sba"].ID+`","stage":"needs","service_area":"data-protection"}`), http.StatusCreated, &sv)
	var detail cx.SurveyDetailJSON
	decode(e.API(office, "GET", "/api/v1/cx/surveys/"+sv.ID, ""), http.StatusOK, &detail)
	if detail.Offered == 0 || detail.Stage != "needs" {
		t.Fatalf("survey %+v", detail)
	}
	var st cx.SettingsJSON
	decode(e.API(e.Token("office", authz.OfficeAdmin), "PUT", "/api/v1/cx/settings", `{"trust_question":"I trust [office] to protect agencies like mine.","classic_items":true}`), http.StatusOK, &st)
	decode(e.API(office, "PUT", "/api/v1/cx/settings", `{"trust_question":"I trust [office] to protect agencies like mine.","classic_items":false}`), http.StatusForbidden, nil)
}
