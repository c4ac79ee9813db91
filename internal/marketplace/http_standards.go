package marketplace

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
)

type standardsData struct {
	Standards []Standard
	Areas     []web.Option
	CanManage bool
}

func (h *Handlers) standards(w http.ResponseWriter, r *http.Request) error {
	list, err := h.S.ListStandards(r.Context(), principal(r), "")
	if err != nil {
		return err
	}
	d := standardsData{Standards: list, CanManage: h.S.checkStandardsLead(r.Context(), principal(r)) == nil}
	areas, _ := h.S.Areas(r.Context())
	for _, a := range areas {
		d.Areas = append(d.Areas, web.Option{Value: a.ID, Label: a.Name})
	}
	h.render(w, r, http.StatusOK, "standards", "Standards", d, web.NewForm(nil))
	return nil
}

func (h *Handlers) standardCreate(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	st, err := h.S.CreateDraftStandard(r.Context(), principal(r), f.Get("area"))
	if err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			return h.K.Redirect(w, r, "/marketplace/standards", "error", firstMessage(err))
		}
		return err
	}
	return h.K.Redirect(w, r, StandardURL(st.ID), "success", fmt.Sprintf("Draft version %d is started from the published requirements.", st.Version))
}

func firstMessage(err error) string {
	for _, v := range apperr.FieldsOf(err) {
		return v
	}
	return apperr.MessageOf(err)
}

type standardData struct {
	Standard  Standard
	Previous  *Standard
	Changes   []Change
	Impact    *PublishImpact
	CanManage bool
	Tiers     []web.Option
}

func (h *Handlers) standardPage(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	ctx, p := r.Context(), principal(r)
	st, err := h.S.GetStandard(ctx, p, r.PathValue("standard"))
	if err != nil {
		return err
	}
	d := standardData{Standard: st, CanManage: st.Status == StandardDraft && h.S.checkStandardsLead(ctx, p) == nil, Tiers: tierOptions()}
	if prev, ok := h.S.PreviousVersion(ctx, p, st); ok {
		d.Previous = &prev
		d.Changes = Diff(prev, st)
	}
	if d.CanManage {
		impact, err := h.S.PreviewPublish(ctx, p, st.ID)
		if err != nil {
			return err
		}
		d.Impact = &impact
	}
	if f == nil {
		f = web.NewForm(map[string]string{"title": st.Title, "summary": st.Summary, "mandatory": "on"})
	}
	h.render(w, r, status, "standard", fmt.Sprintf("%s, version %d", st.AreaName, st.Version), d, f, web.Crumb{Label: "Standards", Href: "/marketplace/standards"})
	return nil
}

func (h *Handlers) standardShow(w http.ResponseWriter, r *http.Request) error {
	return h.standardPage(w, r, http.StatusOK, nil)
}

func (h *Handlers) standardUpdate(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStandard(r.Context(), principal(r), r.PathValue("standard"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if _, err := h.S.UpdateStandard(r.Context(), principal(r), st.ID, StandardInput{Title: f.Get("title"), Summary: f.Get("summary")}); err != nil {
		return failOr(f, err, func() { _ = h.standardPage(w, r, http.StatusUnprocessableEntity, f) })
	}
	return h.K.Redirect(w, r, StandardURL(st.ID), "success", "The draft is saved.")
}

func requirementInput(f *web.Form) RequirementInput {
	return RequirementInput{Code: f.Get("code"), Text: f.Get("text"), Mandatory: f.Bool("mandatory"), Tiers: tiersFrom(f.List("tiers"))}
}

func (h *Handlers) requirementAdd(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStandard(r.Context(), principal(r), r.PathValue("standard"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	req, err := h.S.AddRequirement(r.Context(), principal(r), st.ID, requirementInput(f))
	if err != nil {
		return failOr(f, err, func() { _ = h.standardPage(w, r, http.StatusUnprocessableEntity, f) })
	}
	return h.K.Redirect(w, r, StandardURL(st.ID)+"#requirements", "success", req.Code+" is added.")
}

type requirementData struct {
	Standard    Standard
	Requirement Requirement
	Tiers       []web.Option
}

func (h *Handlers) requirementEdit(w http.ResponseWriter, r *http.Request) error {
	st, req, err := h.S.requirementForEdit(r.Context(), principal(r), r.PathValue("requirement"))
	if err != nil {
		return err
	}
	f := web.NewForm(map[string]string{"code": req.Code, "text": req.Text})
	if req.Mandatory {
		f.Values.Set("mandatory", "on")
	}
	for _, t := range req.Tiers {
		f.Values.Add("tiers", string(t))
	}
	h.render(w, r, http.StatusOK, "requirement", "Edit "+req.Code, requirementData{Standard: st, Requirement: req, Tiers: tierOptions()}, f,
		web.Crumb{Label: "Standards", Href: "/marketplace/standards"}, web.Crumb{Label: fmt.Sprintf("%s, version %d", st.AreaName, st.Version), Href: StandardURL(st.ID)})
	return nil
}

func (h *Handlers) requirementUpdate(w http.ResponseWriter, r *http.Request) error {
	st, req, err := h.S.requirementForEdit(r.Context(), principal(r), r.PathValue("requirement"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if _, err := h.S.UpdateRequirement(r.Context(), principal(r), req.ID, requirementInput(f)); err != nil {
		return failOr(f, err, func() {
			h.render(w, r, http.StatusUnprocessableEntity, "requirement", "Edit "+req.Code, requirementData{Standard: st, Requirement: req, Tiers: tierOptions()}, f,
				web.Crumb{Label: "Standards", Href: "/marketplace/standards"})
		})
	}
	return h.K.Redirect(w, r, StandardURL(st.ID)+"#requirements", "success", "The requirement is saved.")
}

func (h *Handlers) requirementDelete(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.DeleteRequirement(r.Context(), principal(r), r.PathValue("requirement"))
	if err != nil {
		return err
	}
	return h.K.Redirect(w, r, StandardURL(st.ID)+"#requirements", "success", "The requirement is removed from the draft.")
}

func (h *Handlers) standardPublish(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStandard(r.Context(), principal(r), r.PathValue("standard"))
	if err != nil {
		return err
	}
	pub, impact, err := h.S.PublishStandard(r.Context(), principal(r), st.ID)
	if err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return h.K.Redirect(w, r, StandardURL(st.ID), "error", apperr.MessageOf(err))
		}
		return err
	}
	msg := fmt.Sprintf("Version %d is published; providers are notified.", pub.Version)
	if impact.TiersUnlisted > 0 {
		msg += fmt.Sprintf(" %s lost their listing until they answer the changed requirements.", plural(impact.TiersUnlisted, "offering tier"))
	}
	return h.K.Redirect(w, r, StandardURL(pub.ID), "success", msg)
}

type diffData struct {
	From, To Standard
	Changes  []Change
	Versions []Standard
}

func (h *Handlers) standardDiff(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	to, err := h.S.GetStandard(ctx, p, r.PathValue("standard"))
	if err != nil {
		return err
	}
	versions, err := h.S.ListStandards(ctx, p, to.AreaID)
	if err != nil {
		return err
	}
	fromID := r.URL.Query().Get("from")
	if fromID == "" {
		if prev, ok := h.S.PreviousVersion(ctx, p, to); ok {
			fromID = prev.ID
		}
	}
	d := diffData{To: to, Versions: versions}
	if fromID != "" {
		if d.From, d.To, d.Changes, err = h.S.DiffStandards(ctx, p, fromID, to.ID); err != nil {
			return err
		}
	}
	h.render(w, r, http.StatusOK, "diff", fmt.Sprintf("What changed in %s, version %d", to.AreaName, to.Version), d, web.NewForm(map[string]string{"from": fromID}),
		web.Crumb{Label: "Standards", Href: "/marketplace/standards"}, web.Crumb{Label: fmt.Sprintf("%s, version %d", to.AreaName, to.Version), Href: StandardURL(to.ID)})
	return nil
}

type conformanceData struct {
	Conformance Conformance
	CanAnswer   bool
	CanReview   bool
	Private     bool
	Statuses    []web.Option
}

func (h *Handlers) conformancePage(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	ctx, p := r.Context(), principal(r)
	c, err := h.S.GetConformance(ctx, p, r.PathValue("offering"))
	if err != nil {
		return err
	}
	office, _ := h.S.OfficeID(ctx)
	d := conformanceData{Conformance: c, CanAnswer: h.S.CanManageOffering(ctx, p, c.Offering) && c.Offering.Status != "retired",
		CanReview: h.S.Authz.CheckMember(ctx, p, authz.MarketConformanceReview, office) == nil,
		Private:   h.S.Authz.Check(ctx, p, authz.MarketOfferingRead, c.Offering.ProviderOrgID) == nil}
	for _, s := range AnswerStatuses {
		d.Statuses = append(d.Statuses, web.Option{Value: s, Label: AnswerLabel(s)})
	}
	if f == nil {
		f = web.NewForm(nil)
	}
	h.render(w, r, status, "conformance", "Conformance of "+c.Offering.Name, d, f, web.Crumb{Label: c.Offering.Name, Href: OfferingURL(c.Offering.ID)})
	return nil
}

func (h *Handlers) conformance(w http.ResponseWriter, r *http.Request) error {
	return h.conformancePage(w, r, http.StatusOK, nil)
}

func (h *Handlers) answerSave(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	o, err := h.S.GetOffering(ctx, p, r.PathValue("offering"))
	if err != nil {
		return err
	}
	reqID := r.PathValue("requirement")
	if _, _, err := h.S.requirementOfCurrent(ctx, o, reqID); err != nil {
		return err
	}
	f, meta, data, err := h.parseUpload(w, r)
	if err != nil {
		return h.K.Redirect(w, r, OfferingURL(o.ID)+"/conformance#req-"+reqID, "error", firstMessage(err))
	}
	if _, err := h.S.SaveAnswer(ctx, p, o.ID, reqID, AnswerInput{Status: f.Get("status"), Evidence: f.Get("evidence")}); err != nil {
		if apperr.Is(err, apperr.Invalid) {
			return h.K.Redirect(w, r, OfferingURL(o.ID)+"/conformance#req-"+reqID, "error", firstMessage(err))
		}
		return err
	}
	msg := "The answer is saved and goes to the standards lead for review."
	if len(data) > 0 {
		if _, err := h.S.UploadFile(ctx, p, UploadInput{OfferingID: o.ID, RequirementID: reqID, Purpose: FileEvidence, Meta: meta, Data: data}); err != nil {
			if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
				return h.K.Redirect(w, r, OfferingURL(o.ID)+"/conformance#req-"+reqID, "error", "The answer is saved, but the file was refused: "+firstMessage(err))
			}
			return err
		}
		msg = "The answer and its evidence file are saved and go to the standards lead for review."
	}
	return h.K.Redirect(w, r, OfferingURL(o.ID)+"/conformance#req-"+reqID, "success", msg)
}

func (h *Handlers) answerReview(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	o, err := h.S.GetOffering(ctx, p, r.PathValue("offering"))
	if err != nil {
		return err
	}
	reqID := r.PathValue("requirement")
	if _, _, err := h.S.requirementOfCurrent(ctx, o, reqID); err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	back := OfferingURL(o.ID) + "/conformance#req-" + reqID
	if f.Get("back") == "reviews" {
		back = "/marketplace/reviews"
	}
	a, err := h.S.ReviewAnswer(ctx, p, o.ID, reqID, f.Get("decision") == "accept", f.Get("note"))
	if err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			return h.K.Redirect(w, r, back, "error", firstMessage(err))
		}
		return err
	}
	return h.K.Redirect(w, r, back, "success", "Review recorded: "+strings.ToLower(a.ReviewLabel())+".")
}

type reviewsData struct {
	Answers []ReviewItem
	Pending []Offering
	CanLead bool
}

func (h *Handlers) reviews(w http.ResponseWriter, r *http.Request) error {
	items, pending, err := h.S.ReviewQueue(r.Context(), principal(r))
	if err != nil {
		return err
	}
	office, _ := h.S.OfficeID(r.Context())
	d := reviewsData{Answers: items, Pending: pending, CanLead: h.S.Authz.CheckMember(r.Context(), principal(r), authz.MarketConformanceReview, office) == nil}
	h.render(w, r, http.StatusOK, "reviews", "Reviews", d, nil)
	return nil
}
