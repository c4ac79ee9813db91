package cx

import (
	"net/http"
	"net/url"
	"time"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/web"
)

type surveyListData struct {
	Limit          int
	Office         bool
	Surveys        []Survey
	Invitations    []Invitation
	Now            time.Time
	StageOptions   []web.Option
	QuarterOptions []web.Option
}

func (h *Handlers) surveyList(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	q := r.URL.Query()
	d := surveyListData{Office: authz.CanAnywhere(p, authz.CXSurveyRead), Now: h.S.DB.Now(), StageOptions: stageOptions(), Limit: 50}
	var err error
	if d.Office {
		f := SurveyFilter{Limit: d.Limit}
		if st := Stage(q.Get("stage")); st.Valid() {
			f.Stage = st
		}
		f.Quarter, _ = a11.ParseQuarter(q.Get("quarter"))
		if d.Surveys, err = h.S.ListSurveys(ctx, p, f); err != nil {
			return err
		}
		cur := a11.QuarterOf(d.Now)
		for i := 0; i < 8; i++ {
			d.QuarterOptions = append(d.QuarterOptions, web.Option{Value: cur.String(), Label: cur.Label()})
			cur = cur.Prev()
		}
	}
	if d.Invitations, err = h.S.MyInvitations(ctx, p, InvitationFilter{Limit: 50}); err != nil {
		return err
	}
	form := web.NewForm(map[string]string{"stage": q.Get("stage"), "quarter": q.Get("quarter")})
	h.V.Render(w, r, http.StatusOK, "surveys", web.Page{Title: "Surveys", Side: side, Crumbs: crumbs, Form: form, Data: d})
	return nil
}

type surveyFormData struct {
	Orgs      []web.Option
	Stages    []web.Option
	Services  []web.Option
	Providers []web.Option
}

func (h *Handlers) renderSurveyForm(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	ctx := r.Context()
	agencies, err := h.orgOptions(ctx, "agency")
	if err != nil {
		return err
	}
	providers, err := h.orgOptions(ctx, "provider")
	if err != nil {
		return err
	}
	orgs := append([]web.Option(nil), agencies...)
	for _, o := range providers {
		orgs = append(orgs, web.Option{Value: o.Value, Label: o.Label + " (provider)"})
	}
	services, err := h.serviceOptions(ctx)
	if err != nil {
		return err
	}
	h.V.Render(w, r, status, "survey_new", web.Page{Title: "Send a survey", Side: side, Form: f,
		Crumbs: append(crumbs, web.Crumb{Label: "Surveys", Href: "/cx/surveys"}),
		Data:   surveyFormData{Orgs: orgs, Stages: stageOptions(), Services: services, Providers: providers}})
	return nil
}

func (h *Handlers) surveyNewForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.checkOffice(r.Context(), web.PrincipalFrom(r.Context()), authz.CXSurveySend); err != nil {
		return err
	}
	q := r.URL.Query()
	return h.renderSurveyForm(w, r, http.StatusOK, web.NewForm(map[string]string{"org_id": q.Get("org"), "stage": q.Get("stage"), "service_area": q.Get("service")}))
}

func (h *Handlers) surveySend(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if err := h.S.checkOffice(r.Context(), p, authz.CXSurveySend); err != nil {
		return err
	}
	sv, err := h.S.Send(r.Context(), p, SendInput{OrgID: f.Get("org_id"), Stage: Stage(f.Get("stage")), ServiceArea: f.Get("service_area"), ProviderID: f.Get("provider_id")})
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.renderSurveyForm(w, r, failStatus(err), f)
	}
	msg := "The survey is on its way to " + plural(sv.Offered, "person", "people") + " at " + sv.OrgName + "."
	return h.K.Redirect(w, r, "/cx/surveys/"+sv.ID, "success", msg)
}

type surveyShowData struct {
	Survey    Survey
	Responses []Response
	Tally     a11.Tally
	Drivers   []a11.Driver
	Classic   []classicRow
}

func (h *Handlers) surveyShow(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	sv, err := h.S.GetSurvey(ctx, p, r.PathValue("survey"))
	if err != nil {
		return err
	}
	rsps, err := h.S.SurveyResponses(ctx, p, sv.ID)
	if err != nil {
		return err
	}
	d := surveyShowData{Survey: sv, Responses: rsps, Drivers: a11.Drivers[:]}
	for _, rsp := range rsps {
		d.Tally.Add(rsp.Answer)
	}
	for i, item := range a11.ClassicItems {
		if d.Tally.Classic[i].N > 0 {
			d.Classic = append(d.Classic, classicRow{Item: item, Score: d.Tally.Classic[i]})
		}
	}
	h.V.Render(w, r, http.StatusOK, "survey", web.Page{Title: sv.Stage.Label() + " survey: " + sv.Subject(), Side: side, Wide: false,
		Crumbs: append(crumbs, web.Crumb{Label: "Surveys", Href: "/cx/surveys"}), Data: d})
	return nil
}

// answerData is the survey form, signed in or from the email link.
type answerData struct {
	Invitation Invitation
	Action     string
	Response   *Response // the answer already given
	Closed     bool
	Public     bool
	Office     string
	Drivers    []a11.Driver
	Classic    []a11.ClassicItem
	Scale      []web.Option
}

func (h *Handlers) answerData(inv Invitation, action string, public bool) answerData {
	d := answerData{Invitation: inv, Action: action, Public: public, Office: h.S.OfficeName, Drivers: a11.Drivers[:],
		Closed: !inv.Open(h.S.DB.Now()) && inv.RespondedAt.IsZero()}
	if inv.Survey.Classic {
		d.Classic = a11.ClassicItems[:]
		for i, label := range a11.Scale {
			d.Scale = append(d.Scale, web.Option{Value: string(rune('1' + i)), Label: label})
		}
	}
	return d
}

func (h *Handlers) renderAnswer(w http.ResponseWriter, r *http.Request, status int, f *web.Form, d answerData) error {
	if !d.Invitation.RespondedAt.IsZero() {
		rsp, err := h.S.ResponseForInvitation(r.Context(), d.Invitation)
		if err == nil {
			d.Response = &rsp
		}
	}
	title := d.Invitation.Survey.Question()
	var cr []web.Crumb
	pg := web.Page{Title: title, Form: f, Data: d}
	if !d.Public {
		cr = append(crumbs, web.Crumb{Label: "Surveys", Href: "/cx/surveys"})
		pg.Side, pg.Crumbs = side, cr
	}
	h.V.Render(w, r, status, "answer", pg)
	return nil
}

func (h *Handlers) answerForm(w http.ResponseWriter, r *http.Request) error {
	inv, err := h.S.InvitationForUser(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("survey_invitation"))
	if err != nil {
		return err
	}
	return h.renderAnswer(w, r, http.StatusOK, web.NewForm(nil), h.answerData(inv, "/cx/invitations/"+inv.ID, false))
}

func (h *Handlers) answer(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	inv, err := h.S.InvitationForUser(r.Context(), p, r.PathValue("survey_invitation"))
	if err != nil {
		return err
	}
	if answered(inv) {
		return h.K.Redirect(w, r, "/cx/invitations/"+inv.ID, "info", alreadyAnswered(inv))
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	rawAns, errs := a11.FromForm(f.Values)
	if len(errs) > 0 {
		f.Fail(validation(errs))
		return h.renderAnswer(w, r, http.StatusUnprocessableEntity, f, h.answerData(inv, "/cx/invitations/"+inv.ID, false))
	}
	if _, err := h.S.RespondAsUser(r.Context(), p, inv.ID, rawAns); err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.renderAnswer(w, r, failStatus(err), f, h.answerData(inv, "/cx/invitations/"+inv.ID, false))
	}
	return h.K.Redirect(w, r, "/cx/invitations/"+inv.ID, "success", "Your answers are recorded.")
}

func (h *Handlers) answerLinkForm(w http.ResponseWriter, r *http.Request) error {
	secret := r.PathValue("secret")
	inv, err := h.S.InvitationBySecret(r.Context(), secret)
	if err != nil {
		return err
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	return h.renderAnswer(w, r, http.StatusOK, web.NewForm(nil), h.answerData(inv, "/cx/answer/"+url.PathEscape(secret), true))
}

func (h *Handlers) answerLink(w http.ResponseWriter, r *http.Request) error {
	secret := r.PathValue("secret")
	inv, err := h.S.InvitationBySecret(r.Context(), secret)
	if err != nil {
		return err
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	action := "/cx/answer/" + url.PathEscape(secret)
	if answered(inv) {
		return h.K.Redirect(w, r, action, "info", alreadyAnswered(inv))
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	rawAns, errs := a11.FromForm(f.Values)
	if len(errs) > 0 {
		f.Fail(validation(errs))
		return h.renderAnswer(w, r, http.StatusUnprocessableEntity, f, h.answerData(inv, action, true))
	}
	if _, err := h.S.RespondBySecret(r.Context(), secret, rawAns); err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.renderAnswer(w, r, failStatus(err), f, h.answerData(inv, action, true))
	}
	return h.K.Redirect(w, r, action, "success", "Your answers are recorded.")
}

func answered(inv Invitation) bool { return !inv.RespondedAt.IsZero() }

func alreadyAnswered(inv Invitation) string {
	return "This survey was already answered on " + inv.RespondedAt.Format("January 2, 2006") + "; the first answers stand."
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return itoa(n) + " " + many
}
