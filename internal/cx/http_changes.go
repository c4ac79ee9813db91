package cx

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
	"github.com/qsmo/qsmo/internal/web/chart"
)

type changeListData struct {
	Changes []Change
	Manage  bool
}

func (h *Handlers) changeList(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	list, err := h.S.ListChanges(r.Context(), p, ChangeFilter{ServiceArea: r.URL.Query().Get("service")})
	if err != nil {
		return err
	}
	h.V.Render(w, r, http.StatusOK, "changes", web.Page{Title: "You said, we did", Side: side, Crumbs: crumbs,
		Data: changeListData{Changes: list, Manage: authz.CanAnywhere(p, authz.CXChangeManage)}})
	return nil
}

type changeFormData struct {
	Feedback  []web.Option
	Services  []web.Option
	RefKinds  []web.Option
	Audiences []web.Option
}

func (h *Handlers) renderChangeForm(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	items, err := h.S.ListFeedback(ctx, p, FeedbackFilter{Limit: 100})
	if err != nil {
		return err
	}
	var fb []web.Option
	for _, it := range items {
		fb = append(fb, web.Option{Value: it.ID, Label: it.Title, Hint: it.OrgName + " · " + it.Kind.Label() + " · " + it.State.Label()})
	}
	services, err := h.serviceOptions(ctx)
	if err != nil {
		return err
	}
	var kinds []web.Option
	for _, k := range RefKinds {
		kinds = append(kinds, web.Option{Value: string(k), Label: k.Label()})
	}
	h.V.Render(w, r, status, "change_new", web.Page{Title: "Post a “you said, we did” entry", Side: side, Form: f,
		Crumbs: append(crumbs, web.Crumb{Label: "You said, we did", Href: "/cx/changes"}),
		Data: changeFormData{Feedback: fb, Services: services, RefKinds: kinds, Audiences: []web.Option{
			{Value: string(Linked), Label: "Only the organizations whose feedback it answers", Hint: "They see it on their dashboard and on this page."},
			{Value: string(Everyone), Label: "Every agency and provider", Hint: "For changes that concern everyone. Linked feedback stays visible only to its own organization."},
		}}})
	return nil
}

func (h *Handlers) changeNewForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.checkOffice(r.Context(), web.PrincipalFrom(r.Context()), authz.CXChangeManage); err != nil {
		return err
	}
	f := web.NewForm(map[string]string{"audience": string(Linked)})
	for _, id := range r.URL.Query()["feedback"] {
		f.Values.Add("feedback_ids", id)
	}
	return h.renderChangeForm(w, r, http.StatusOK, f)
}

// changeInputFrom reads the entry form; numbers that do not parse are
// reported beside their fields.
func changeInputFrom(f *web.Form) (ChangeInput, map[string]string) {
	errs := map[string]string{}
	in := ChangeInput{Title: f.Get("title"), Summary: f.Raw("summary"), ServiceArea: f.Get("service_area"), Audience: Audience(f.Get("audience")),
		Ref:         Ref{Kind: RefKind(f.Get("ref_kind")), ID: f.Get("ref_id"), Label: f.Get("ref_label"), URL: f.Get("ref_url")},
		FeedbackIDs: f.List("feedback_ids")}
	metric, before, after := f.Get("metric"), f.Get("before"), f.Get("after")
	if metric != "" || before != "" || after != "" {
		fig := &Figure{Metric: metric, Unit: f.Get("unit"), HigherIsBetter: f.Bool("higher_is_better")}
		for name, dst := range map[string]*float64{"before": &fig.Before, "after": &fig.After} {
			v, err := parseNumber(f.Get(name))
			if err != nil {
				errs[name] = "Enter a number, like 21 or 97.5."
			}
			*dst = v
		}
		in.Figure = fig
	}
	return in, errs
}

// parseNumber reads a figure typed by a person: "1,250", "97.5", "-3".
func parseNumber(s string) (float64, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, apperr.New(apperr.Invalid, "not a number")
	}
	return v, nil
}

func (h *Handlers) changePost(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if err := h.S.checkOffice(r.Context(), p, authz.CXChangeManage); err != nil {
		return err
	}
	in, errs := changeInputFrom(f)
	if len(errs) > 0 {
		f.Fail(validation(errs))
		return h.renderChangeForm(w, r, http.StatusUnprocessableEntity, f)
	}
	c, err := h.S.PostChange(r.Context(), p, in)
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.renderChangeForm(w, r, failStatus(err), f)
	}
	return h.K.Redirect(w, r, "/cx/changes/"+c.ID, "success", "The entry is published. We told the people whose feedback it answers.")
}

type changeShowData struct {
	Change  Change
	Figure  chart.Chart
	Service string
}

func (h *Handlers) changeShow(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := h.S.GetChange(ctx, web.PrincipalFrom(ctx), r.PathValue("change"))
	if err != nil {
		return err
	}
	d := changeShowData{Change: c, Figure: figureChart(c)}
	if c.ServiceArea != "" {
		d.Service, _, _ = h.S.serviceName(ctx, c.ServiceArea)
	}
	h.V.Render(w, r, http.StatusOK, "change", web.Page{Title: c.Title, Side: side,
		Crumbs: append(crumbs, web.Crumb{Label: "You said, we did", Href: "/cx/changes"}), Data: d})
	return nil
}

// figureChart draws a change's before and after as two bars.
func figureChart(c Change) chart.Chart {
	f := c.Figure
	unit := f.Unit
	if unit != "" && unit != "%" {
		unit = " " + unit
	}
	direction := "lower is better"
	if f.HigherIsBetter {
		direction = "higher is better"
	}
	return chart.Chart{ID: "figure", Title: f.Metric, Labels: []string{"Before", "After"}, Unit: unit,
		Series:  []chart.Series{{Name: f.Metric, Values: []float64{f.Before, f.After}}},
		Summary: f.Metric + ": " + f.Format(f.Before) + " before the change, " + f.Format(f.After) + " after (" + direction + ")."}
}
