package marketplace

import (
	"net/http"
	"strings"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/web"
	"github.com/qsmo/qsmo/internal/web/chart"
)

// agencyOf returns the agency the principal works in, or an error saying
// the page is for agencies.
func agencyOf(p *authz.Principal) (authz.Membership, error) {
	m := activeOrg(p)
	if m.OrgKind != authz.Agency {
		return m, apperr.New(apperr.Forbidden, "This page is for agencies. Switch to an agency on your account page if you belong to one.")
	}
	return m, nil
}

type assessmentsData struct {
	Agency  authz.Membership
	Latest  []Assessment
	All     []Assessment
	Areas   []ServiceArea
	CanTake bool
}

func (h *Handlers) assessments(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	m, err := agencyOf(p)
	if err != nil {
		return err
	}
	d := assessmentsData{Agency: m, CanTake: m.Role.Has(authz.MarketAssess)}
	if d.All, err = h.S.Assessments(r.Context(), p, m.OrgID, ""); err != nil {
		return err
	}
	if d.Latest, err = h.S.LatestAssessments(r.Context(), p, m.OrgID); err != nil {
		return err
	}
	if d.Areas, err = h.S.Areas(r.Context()); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "assessments", "Maturity assessments", d, nil)
	return nil
}

type assessmentFormData struct {
	Agency        authz.Membership
	Area          ServiceArea
	Questionnaire *maturity.Questionnaire
	Areas         []web.Option
}

func (h *Handlers) assessmentForm(w http.ResponseWriter, r *http.Request, status int, areaID string, f *web.Form) error {
	p := principal(r)
	m, err := agencyOf(p)
	if err != nil {
		return err
	}
	d := assessmentFormData{Agency: m}
	areas, err := h.S.Areas(r.Context())
	if err != nil {
		return err
	}
	for _, a := range areas {
		d.Areas = append(d.Areas, web.Option{Value: a.ID, Label: a.Name})
		if a.ID == areaID {
			d.Area = a
		}
	}
	if d.Area.ID != "" {
		d.Questionnaire, _ = h.S.Questionnaires.Latest(areaID)
	}
	if f == nil {
		f = web.NewForm(map[string]string{"area": areaID})
		// Prefill with the agency's last answers, so a retake changes only
		// what changed.
		if d.Area.ID != "" {
			if prev, err := h.S.Assessments(r.Context(), p, m.OrgID, areaID); err == nil && len(prev) > 0 {
				for k, v := range prev[0].Answers {
					f.Values.Set("q_"+k, v)
				}
			}
		}
	}
	title := "Take a maturity assessment"
	if d.Questionnaire != nil {
		title = d.Questionnaire.Title
	}
	h.render(w, r, status, "assessment_form", title, d, f, web.Crumb{Label: "Maturity assessments", Href: "/marketplace/assessments"})
	return nil
}

// Options lists a question's answers for the radios partial.
func (d assessmentFormData) Options(q maturity.Question) []web.Option {
	var out []web.Option
	for _, o := range q.Options {
		out = append(out, web.Option{Value: o.Value, Label: o.Label})
	}
	return out
}

func (h *Handlers) assessmentNew(w http.ResponseWriter, r *http.Request) error {
	return h.assessmentForm(w, r, http.StatusOK, r.URL.Query().Get("area"), nil)
}

// answersFrom reads q_<question> fields from a form: the parser of
// assessment answers from outside (fuzzed through maturity.Score).
func answersFrom(f *web.Form) map[string]string {
	out := map[string]string{}
	for k := range f.Values {
		if id, ok := strings.CutPrefix(k, "q_"); ok && len(out) < 100 {
			out[id] = f.Get(k)
		}
	}
	return out
}

func (h *Handlers) assessmentCreate(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	m, err := agencyOf(p)
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	a, err := h.S.TakeAssessment(r.Context(), p, m.OrgID, f.Get("area"), answersFrom(f))
	if err != nil {
		return failOr(f, err, func() { _ = h.assessmentForm(w, r, http.StatusUnprocessableEntity, f.Get("area"), f) })
	}
	return h.K.Redirect(w, r, "/marketplace/assessments/"+a.ID, "success", "Your assessment is recorded: "+a.Tier.Label()+".")
}

type assessmentData struct {
	Assessment    Assessment
	Questionnaire *maturity.Questionnaire
	Trend         []Assessment
	Chart         chart.Chart
	CanTake       bool
}

func (h *Handlers) assessmentShow(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	a, err := h.S.GetAssessment(r.Context(), p, r.PathValue("assessment"))
	if err != nil {
		return err
	}
	d := assessmentData{Assessment: a, Questionnaire: h.S.Questionnaire(a)}
	if d.Trend, err = h.S.Trend(r.Context(), p, a.AgencyOrgID, a.AreaID); err != nil {
		return err
	}
	d.CanTake = h.S.Authz.CheckMember(r.Context(), p, authz.MarketAssess, a.AgencyOrgID) == nil
	ch := chart.Chart{ID: "trend", Title: "Score at each assessment (percent of the maximum)", Format: chart.Percent, Unit: "%", Max: 100}
	s := chart.Series{Name: "Score"}
	for _, x := range d.Trend {
		ch.Labels = append(ch.Labels, x.TakenAt.Format("Jan 2, 2006"))
		s.Values = append(s.Values, float64(x.Percent()))
	}
	ch.Series = []chart.Series{s}
	if n := len(d.Trend); n > 1 {
		ch.Summary = "From " + itoa(d.Trend[0].Percent()) + "% (" + d.Trend[0].Tier.Label() + ") to " + itoa(d.Trend[n-1].Percent()) + "% (" + d.Trend[n-1].Tier.Label() + ") over " + plural(n, "assessment") + "."
	} else {
		ch.Summary = "One assessment so far: " + itoa(a.Percent()) + "%."
	}
	d.Chart = ch
	h.render(w, r, http.StatusOK, "assessment", a.AreaName+" maturity: "+a.Tier.Label(), d, nil, web.Crumb{Label: "Maturity assessments", Href: "/marketplace/assessments"})
	return nil
}

type recommendationsData struct {
	Agency   authz.Membership
	Areas    []AreaRecommendations
	Missing  []ServiceArea
	CanOrder bool
}

// AreaRecommendations are one area's ranked offerings for the agency.
type AreaRecommendations struct {
	Assessment Assessment
	Meaning    string
	Recs       []Recommendation
}

func (h *Handlers) recommendations(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	m, err := agencyOf(p)
	if err != nil {
		return err
	}
	d := recommendationsData{Agency: m, CanOrder: m.Role.Has(authz.MarketOrderRequest)}
	latest, err := h.S.LatestAssessments(r.Context(), p, m.OrgID)
	if err != nil {
		return err
	}
	only := r.URL.Query().Get("area")
	seen := map[string]bool{}
	for _, a := range latest {
		seen[a.AreaID] = true
		if only != "" && a.AreaID != only {
			continue
		}
		recs, _, err := h.S.Recommendations(r.Context(), p, m.OrgID, a.AreaID)
		if err != nil {
			return err
		}
		ar := AreaRecommendations{Assessment: a, Recs: recs}
		if q := h.S.Questionnaire(a); q != nil {
			ar.Meaning = q.Meaning(a.Tier)
		}
		d.Areas = append(d.Areas, ar)
	}
	areas, _ := h.S.Areas(r.Context())
	for _, a := range areas {
		if !seen[a.ID] {
			d.Missing = append(d.Missing, a)
		}
	}
	h.render(w, r, http.StatusOK, "recommendations", "Recommendations for "+m.OrgName, d, nil)
	return nil
}
