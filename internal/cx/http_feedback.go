package cx

import (
	"net/http"
	"strconv"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
)

func validation(errs map[string]string) error { return apperr.Validation(errs) }

func itoa(n int) string { return strconv.Itoa(n) }

// failStatus is the status of a form shown again after err: 422 for bad
// input, 409 when the record's state refused the change.
func failStatus(err error) int { return web.Status(apperr.CodeOf(err)) }

func kindOptions() []web.Option {
	var out []web.Option
	for _, k := range FeedbackKinds {
		out = append(out, web.Option{Value: string(k), Label: k.Label(), Hint: k.Hint()})
	}
	return out
}

func stateOptions(states []FeedbackState) []web.Option {
	var out []web.Option
	for _, s := range states {
		out = append(out, web.Option{Value: string(s), Label: s.Label()})
	}
	return out
}

type feedbackListData struct {
	Items        []Feedback
	Office       bool
	CanSubmit    bool
	Now          time.Time
	StateOptions []web.Option
	KindOptions  []web.Option
}

func (h *Handlers) feedbackList(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	q := r.URL.Query()
	f := FeedbackFilter{Query: q.Get("q")}
	switch st := q.Get("state"); {
	case st == "open":
		f.OpenOnly = true
	case FeedbackState(st).Valid():
		f.State = FeedbackState(st)
	}
	if k := FeedbackKind(q.Get("kind")); k.Valid() {
		f.Kind = k
	}
	items, err := h.S.ListFeedback(ctx, p, f)
	if err != nil {
		return err
	}
	own, err := h.S.ownScope(ctx, p, authz.CXFeedbackSubmit)
	if err != nil {
		return err
	}
	states := append([]web.Option{{Value: "open", Label: "Open (received, under review, planned)"}}, stateOptions(FeedbackStates)...)
	form := web.NewForm(map[string]string{"q": q.Get("q"), "state": q.Get("state"), "kind": q.Get("kind")})
	h.V.Render(w, r, http.StatusOK, "feedback_list", web.Page{Title: "Feedback", Side: side, Crumbs: crumbs, Form: form,
		Data: feedbackListData{Items: items, Office: authz.CanAnywhere(p, authz.CXFeedbackManage), CanSubmit: len(own.OrgIDs) > 0,
			Now: h.S.DB.Now(), StateOptions: states, KindOptions: kindOptions()}})
	return nil
}

type feedbackFormData struct {
	OrgName  string
	Kinds    []web.Option
	Services []web.Option
}

func (h *Handlers) renderFeedbackForm(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	own, err := h.S.ownScope(ctx, p, authz.CXFeedbackSubmit)
	if err != nil {
		return err
	}
	if len(own.OrgIDs) == 0 {
		return apperr.New(apperr.Forbidden, "Feedback comes from agencies and providers; the office answers it.")
	}
	m, _ := p.ActiveMembership()
	services, err := h.serviceOptions(ctx)
	if err != nil {
		return err
	}
	h.V.Render(w, r, status, "feedback_new", web.Page{Title: "Submit feedback", Side: side, Form: f,
		Crumbs: append(crumbs, web.Crumb{Label: "Feedback", Href: "/cx/feedback"}),
		Data:   feedbackFormData{OrgName: m.OrgName, Kinds: kindOptions(), Services: services}})
	return nil
}

func (h *Handlers) feedbackNewForm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	return h.renderFeedbackForm(w, r, http.StatusOK, web.NewForm(map[string]string{"kind": q.Get("kind"), "service_area": q.Get("service")}))
}

func (h *Handlers) feedbackSubmit(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	fb, err := h.S.SubmitFeedback(r.Context(), web.PrincipalFrom(r.Context()), FeedbackInput{Kind: FeedbackKind(f.Get("kind")), Title: f.Get("title"),
		Body: f.Raw("body"), ServiceArea: f.Get("service_area")})
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.renderFeedbackForm(w, r, failStatus(err), f)
	}
	return h.K.Redirect(w, r, "/cx/feedback/"+fb.ID, "success", "Thank you. The office has your feedback and will tell you when its status changes.")
}

type feedbackShowData struct {
	Item    Feedback
	Manage  bool
	Next    []web.Option
	Now     time.Time
	Service string
}

func (h *Handlers) renderFeedback(w http.ResponseWriter, r *http.Request, status int, fb Feedback, f *web.Form) error {
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	d := feedbackShowData{Item: fb, Manage: h.K.Authz.Can(ctx, p, authz.CXFeedbackManage, fb.OrgID) && fb.State.Open(), Now: h.S.DB.Now()}
	for _, s := range fb.State.Next() {
		hint := ""
		if s == WontDo {
			hint = "Say why in the note; the submitter reads it."
		}
		d.Next = append(d.Next, web.Option{Value: string(s), Label: s.Label(), Hint: hint})
	}
	if fb.ServiceArea != "" {
		d.Service, _, _ = h.S.serviceName(ctx, fb.ServiceArea)
	}
	h.V.Render(w, r, status, "feedback", web.Page{Title: fb.Title, Side: side, Form: f,
		Crumbs: append(crumbs, web.Crumb{Label: "Feedback", Href: "/cx/feedback"}), Data: d})
	return nil
}

func (h *Handlers) feedbackShow(w http.ResponseWriter, r *http.Request) error {
	fb, err := h.S.GetFeedback(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("feedback"))
	if err != nil {
		return err
	}
	return h.renderFeedback(w, r, http.StatusOK, fb, web.NewForm(nil))
}

func (h *Handlers) feedbackMove(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	id := r.PathValue("feedback")
	// Look the item up before reading the form, so another organization's
	// item answers exactly like a missing one.
	if _, err := h.S.GetFeedback(ctx, p, id); err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	fb, err := h.S.MoveFeedback(ctx, p, id, FeedbackState(f.Get("state")), f.Raw("note"))
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		current, gerr := h.S.GetFeedback(ctx, p, id)
		if gerr != nil {
			return gerr
		}
		return h.renderFeedback(w, r, failStatus(err), current, f)
	}
	return h.K.Redirect(w, r, "/cx/feedback/"+fb.ID, "success", "The item is now "+fb.State.Label()+". We told the submitter.")
}

// AgeText shows how long an item has been (or was) open, for tables.
func (f Feedback) AgeText(now time.Time) string { return days(f.Age(now)) }

// MedianText shows the median age of open items.
func (st FeedbackStats) MedianText() string { return days(st.MedianAge) }
