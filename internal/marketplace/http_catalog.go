package marketplace

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
	"github.com/qsmo/qsmo/internal/web"
)

// ParseQuery reads a storefront search from URL parameters. It is a parser
// of outside input (fuzzed); Search normalizes what it returns.
func ParseQuery(v url.Values) Query {
	list := func(k string) []string {
		var out []string
		for _, x := range v[k] {
			for _, y := range strings.Split(x, ",") {
				if y = strings.TrimSpace(y); y != "" && len(out) < 50 {
					out = append(out, y)
				}
			}
		}
		return out
	}
	return Query{Text: v.Get("q"), Areas: list("area"), CSF: list("csf"), ProviderTypes: list("provider_type"), Tiers: list("tier"),
		Statuses: list("status"), Pricing: list("pricing"), Sort: v.Get("sort"), Page: atoi(v.Get("page"), 1), PerPage: atoi(v.Get("per_page"), 12)}
}

type storefrontData struct {
	Results    Results
	Sorts      [][2]string
	Pager      pager
	ExportHref string
	CanCreate  bool
}

func (h *Handlers) storefront(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	res, err := h.S.Search(r.Context(), p, ParseQuery(r.URL.Query()))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	q.Del("page")
	d := storefrontData{Results: res, Sorts: SortOptions(), Pager: pager{Page: res.Page, Pages: res.Pages, Base: "/marketplace", Query: q},
		ExportHref: "/marketplace/export.csv?" + q.Encode(), CanCreate: authz.CanAnywhere(p, authz.MarketOfferingManage)}
	h.V.Render(w, r, http.StatusOK, "storefront", web.Page{Title: "Marketplace", Wide: true, Data: d})
	return nil
}

func (h *Handlers) exportCSV(w http.ResponseWriter, r *http.Request) error {
	q := ParseQuery(r.URL.Query())
	q.Page, q.PerPage = 1, 48
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="marketplace-offerings.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "name", "provider", "provider_type", "service_area", "status", "listed_tiers", "pricing_model", "price_from", "agencies_using", "trust_percent", "url"})
	for page := 1; page <= 200; page++ {
		q.Page = page
		res, err := h.S.Search(r.Context(), principal(r), q)
		if err != nil {
			return err
		}
		for _, o := range res.Offerings {
			var tiers []string
			for _, t := range o.ListedTiers() {
				tiers = append(tiers, string(t.Tier))
			}
			trust := ""
			if c := res.CXOf(o.ID); c != nil {
				trust = strconv.Itoa(c.TrustPercent)
			}
			_ = cw.Write([]string{o.ID, csvSafe(o.Name), csvSafe(o.ProviderName), string(o.ProviderType), o.AreaID, string(o.Status), strings.Join(tiers, " "),
				string(o.PricingModel), money.Decimal(o.PriceFrom), strconv.Itoa(o.AgenciesUsing), trust, OfferingURL(o.ID)})
		}
		if page >= res.Pages {
			break
		}
	}
	cw.Flush()
	return cw.Error()
}

type compareData struct {
	Comparison Comparison
	Chosen     []string
	Results    Results
}

func (h *Handlers) compare(w http.ResponseWriter, r *http.Request) error {
	ids := r.URL.Query()["o"]
	d := compareData{Chosen: ids}
	if len(ids) == 0 {
		res, err := h.S.Search(r.Context(), principal(r), Query{PerPage: 48, Sort: "name"})
		if err != nil {
			return err
		}
		d.Results = res
		h.V.Render(w, r, http.StatusOK, "compare", web.Page{Title: "Compare offerings", Side: side(), Crumbs: crumbs, Data: d})
		return nil
	}
	c, err := h.S.Compare(r.Context(), principal(r), ids)
	if err != nil {
		if apperr.Is(err, apperr.Invalid) {
			h.K.Flash(w, "error", apperr.MessageOf(err))
			http.Redirect(w, r, "/marketplace", http.StatusSeeOther)
			return nil
		}
		return err
	}
	d.Comparison = c
	h.V.Render(w, r, http.StatusOK, "compare", web.Page{Title: "Compare offerings", Wide: true, Crumbs: crumbs, Data: d})
	return nil
}

type areasData struct {
	Areas     []ServiceArea
	Standards map[string]Standard
	Counts    map[string]int
}

func (h *Handlers) areas(w http.ResponseWriter, r *http.Request) error {
	areas, err := h.S.Areas(r.Context())
	if err != nil {
		return err
	}
	d := areasData{Areas: areas, Standards: map[string]Standard{}, Counts: map[string]int{}}
	res, err := h.S.Search(r.Context(), principal(r), Query{PerPage: 1})
	if err != nil {
		return err
	}
	for _, f := range res.Facets.Areas {
		d.Counts[f.Value] = f.Count
	}
	stds, err := h.S.ListStandards(r.Context(), principal(r), "")
	if err != nil {
		return err
	}
	for _, st := range stds {
		if st.Status == StandardPublished {
			d.Standards[st.AreaID] = st
		}
	}
	h.render(w, r, http.StatusOK, "areas", "Service areas", d, nil)
	return nil
}

type offeringData struct {
	Offering    Offering
	Documents   []File
	History     []HistoryEntry
	Conformance Conformance
	CX          *CXScore
	CanManage   bool
	CanReview   bool
	CanOrder    bool
	Actions     []lifecycle.Action
	Steps       []Step
	DefaultStep bool
	Provisioned bool
	Questionn   *maturity.Questionnaire
	MoreTiers   []OfferingTier // tiers the office may still list
}

// PrereqLabel names a prerequisite.
func (d offeringData) PrereqLabel(key string) string {
	if d.Questionn != nil {
		return d.Questionn.CapabilityLabel(key)
	}
	return key
}

func (h *Handlers) offeringShow(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	o, err := h.S.GetOffering(ctx, p, r.PathValue("offering"))
	if err != nil {
		return err
	}
	d := offeringData{Offering: o, CanManage: h.S.CanManageOffering(ctx, p, o)}
	if d.Documents, err = h.S.Documents(ctx, p, o.ID); err != nil {
		return err
	}
	if d.History, err = h.S.History(ctx, p, o.ID); err != nil {
		return err
	}
	if d.Conformance, err = h.S.GetConformance(ctx, p, o.ID); err != nil {
		return err
	}
	if d.Steps, d.DefaultStep, err = h.S.OnboardingSteps(ctx, p, o.ID); err != nil {
		return err
	}
	if c, ok := h.S.cxScores(ctx, []string{o.ID})[o.ID]; ok && c.Responses > 0 {
		d.CX = &c
	}
	m := activeOrg(p)
	d.CanOrder = o.Orderable() && m.OrgKind == authz.Agency && m.Role.Has(authz.MarketOrderRequest)
	for _, a := range []lifecycle.Action{lifecycle.SubmitOffering, lifecycle.RecallOffering, lifecycle.ListOffering, lifecycle.ReturnOffering,
		lifecycle.PauseOffering, lifecycle.ResumeOffering, lifecycle.RetireOffering} {
		if _, err := h.S.offeringParty(ctx, p, o, a); err == nil {
			d.Actions = append(d.Actions, a)
		}
	}
	office, _ := h.S.OfficeID(ctx)
	if (o.Status == lifecycle.Listed || o.Status == lifecycle.Paused) && h.S.Authz.CheckMember(ctx, p, authz.MarketCatalogManage, office) == nil {
		for _, t := range o.Tiers {
			if !t.Listed {
				d.MoreTiers = append(d.MoreTiers, t)
			}
		}
	}
	area, _ := h.S.Area(ctx, o.AreaID)
	d.Provisioned = o.ProviderKind == "office" && area.OfficeOperated && h.S.provisionerFor(o.ID, o.AreaID, true) != nil
	d.Questionn, _ = h.S.Questionnaires.Latest(o.AreaID)
	h.render(w, r, http.StatusOK, "offering", o.Name, d, web.NewForm(nil), web.Crumb{Label: o.AreaName, Href: "/marketplace?area=" + o.AreaID})
	return nil
}

// ActionLabel names an offering workflow action for its button.
func (d offeringData) ActionLabel(a lifecycle.Action) string {
	switch a {
	case lifecycle.SubmitOffering:
		return "Submit for listing review"
	case lifecycle.RecallOffering:
		return "Recall to draft"
	case lifecycle.ListOffering:
		return "List it"
	case lifecycle.ReturnOffering:
		return "Return to the provider"
	case lifecycle.PauseOffering:
		return "Pause new orders"
	case lifecycle.ResumeOffering:
		return "Resume listing"
	case lifecycle.RetireOffering:
		return "Retire"
	}
	return string(a)
}

// NeedsReason reports whether an action asks for a reason.
func (d offeringData) NeedsReason(a lifecycle.Action) bool {
	return a == lifecycle.ReturnOffering || a == lifecycle.PauseOffering || a == lifecycle.RetireOffering
}

type offeringFormData struct {
	Offering  *Offering
	Areas     []web.Option
	Providers []web.Option
	Types     []web.Option
	Caps      []web.Option
	Tiers     []maturity.Tier
}

func (h *Handlers) offeringFormData(r *http.Request, o *Offering, area string) (offeringFormData, error) {
	d := offeringFormData{Offering: o, Tiers: maturity.Tiers()}
	areas, err := h.S.Areas(r.Context())
	if err != nil {
		return d, err
	}
	for _, a := range areas {
		d.Areas = append(d.Areas, web.Option{Value: a.ID, Label: a.Name})
	}
	for _, t := range ProviderTypes {
		d.Types = append(d.Types, web.Option{Value: string(t), Label: t.Label()})
	}
	p := principal(r)
	for _, m := range p.Memberships {
		if m.Role.Has(authz.MarketOfferingManage) && m.OrgKind != authz.Agency {
			d.Providers = append(d.Providers, web.Option{Value: m.OrgID, Label: m.OrgName})
		}
	}
	if o != nil {
		area = o.AreaID
	}
	if q, ok := h.S.Questionnaires.Latest(area); ok {
		for k, l := range q.Capabilities {
			d.Caps = append(d.Caps, web.Option{Value: k, Label: l})
		}
		sortOptions(d.Caps)
	}
	return d, nil
}

func sortOptions(o []web.Option) {
	for i := 1; i < len(o); i++ {
		for j := i; j > 0 && o[j].Label < o[j-1].Label; j-- {
			o[j], o[j-1] = o[j-1], o[j]
		}
	}
}

func (h *Handlers) offeringNew(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	if !authz.CanAnywhere(p, authz.MarketOfferingManage) {
		return apperr.New(apperr.Forbidden, "Providers and the office create offerings.")
	}
	area := r.URL.Query().Get("area")
	d, err := h.offeringFormData(r, nil, area)
	if err != nil {
		return err
	}
	f := web.NewForm(map[string]string{"area": area, "onboarding_days": "14", "provider_org_id": activeOrg(p).OrgID,
		"tier_intermediate": "on", "tier_intermediate_availability": "99.90", "tier_intermediate_response": "60", "tier_intermediate_support": "24x7"})
	if activeOrg(p).OrgKind == authz.Office {
		f.Values.Set("provider_type", string(OfficeOperated))
	}
	h.render(w, r, http.StatusOK, "offering_form", "New offering", d, f)
	return nil
}

// offeringInput reads the offering form. Tiers are the checked
// tier_<tier> boxes with their SLA fields.
func offeringInput(f *web.Form) OfferingInput {
	in := OfferingInput{ProviderOrgID: f.Get("provider_org_id"), AreaID: f.Get("area"), Name: f.Get("name"), Summary: f.Get("summary"),
		Description: f.Get("description"), ProviderType: ProviderType(f.Get("provider_type")), ContractVehicle: f.Get("contract_vehicle"),
		Prerequisites: f.List("prerequisites"), OnboardingDays: int(f.Int("onboarding_days", "the onboarding time"))}
	for _, t := range maturity.Tiers() {
		key := "tier_" + string(t)
		if !f.Bool(key) {
			continue
		}
		ti := TierInput{Tier: t, Description: f.Get(key + "_description"), SupportHours: f.Get(key + "_support"),
			ResponseMinutes: int(f.Int(key+"_response", "the response time"))}
		if v := f.Get(key + "_availability"); v != "" {
			bp, ok := percentBP(v)
			if !ok {
				f.Errors[key+"_availability"] = "Enter the availability as a percentage, like 99.90."
			}
			ti.AvailabilityBP = bp
		}
		in.Tiers = append(in.Tiers, ti)
	}
	return in
}

// percentBP reads "99.9" or "99.95%" as basis points.
func percentBP(v string) (int, bool) {
	v = strings.TrimSuffix(strings.TrimSpace(v), "%")
	c, err := money.Parse(v)
	if err != nil || c > 10000 {
		return 0, false
	}
	return int(c), true
}

func (h *Handlers) offeringCreate(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	in := offeringInput(f)
	var o Offering
	if err = f.Err(); err == nil {
		o, err = h.S.CreateOffering(r.Context(), principal(r), in)
	}
	if err != nil {
		return failOr(f, err, func() {
			d, _ := h.offeringFormData(r, nil, in.AreaID)
			h.render(w, r, http.StatusUnprocessableEntity, "offering_form", "New offering", d, f)
		})
	}
	return h.K.Redirect(w, r, OfferingURL(o.ID)+"/prices", "success", o.Name+" is created as a draft. Add its price book next.")
}

func offeringValues(o Offering) map[string]string {
	v := map[string]string{"name": o.Name, "summary": o.Summary, "description": o.Description, "provider_type": string(o.ProviderType),
		"contract_vehicle": o.ContractVehicle, "onboarding_days": strconv.Itoa(o.OnboardingDays), "area": o.AreaID, "provider_org_id": o.ProviderOrgID}
	for _, t := range o.Tiers {
		key := "tier_" + string(t.Tier)
		v[key] = "on"
		v[key+"_description"] = t.Description
		v[key+"_availability"] = fmt.Sprintf("%d.%02d", t.AvailabilityBP/100, t.AvailabilityBP%100)
		v[key+"_response"] = strconv.Itoa(t.ResponseMinutes)
		v[key+"_support"] = t.SupportHours
	}
	return v
}

func (h *Handlers) offeringEdit(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	if !h.S.CanManageOffering(r.Context(), principal(r), o) {
		return apperr.New(apperr.Forbidden, "Only the provider's own people change its offerings.")
	}
	d, err := h.offeringFormData(r, &o, "")
	if err != nil {
		return err
	}
	f := web.NewForm(offeringValues(o))
	f.Values["prerequisites"] = o.Prerequisites
	h.render(w, r, http.StatusOK, "offering_form", "Edit "+o.Name, d, f, web.Crumb{Label: o.Name, Href: OfferingURL(o.ID)})
	return nil
}

func (h *Handlers) offeringUpdate(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	in := offeringInput(f)
	if err = f.Err(); err == nil {
		_, err = h.S.UpdateOffering(r.Context(), principal(r), o.ID, in)
	}
	if err != nil {
		return failOr(f, err, func() {
			d, _ := h.offeringFormData(r, &o, "")
			h.render(w, r, http.StatusUnprocessableEntity, "offering_form", "Edit "+o.Name, d, f, web.Crumb{Label: o.Name, Href: OfferingURL(o.ID)})
		})
	}
	return h.K.Redirect(w, r, OfferingURL(o.ID), "success", "The offering is saved.")
}

type pricesData struct {
	Offering Offering
	Tier     OfferingTier
	Rows     int
	Kinds    []web.Option
	Units    []web.Option
}

func (h *Handlers) pricesPage(w http.ResponseWriter, r *http.Request, status int, o Offering, tier maturity.Tier, f *web.Form) {
	t, ok := o.Tier(tier)
	if !ok && len(o.Tiers) > 0 {
		t = o.Tiers[0]
	}
	vals, rows := lineRows(t.Prices, 3)
	if f == nil {
		f = web.NewForm(vals)
		f.Values.Set("tier", string(t.Tier))
	} else {
		rows = max(rows, atoi(f.Get("rows"), rows))
	}
	h.render(w, r, status, "prices", "Price book of "+o.Name, pricesData{Offering: o, Tier: t, Rows: rows, Kinds: kindOptions, Units: unitOptions()}, f,
		web.Crumb{Label: o.Name, Href: OfferingURL(o.ID)})
}

func (h *Handlers) pricesEdit(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	if !h.S.CanManageOffering(r.Context(), principal(r), o) {
		return apperr.New(apperr.Forbidden, "Only the provider's own people change its offerings.")
	}
	h.pricesPage(w, r, http.StatusOK, o, maturity.Tier(r.URL.Query().Get("tier")), nil)
	return nil
}

func (h *Handlers) pricesSave(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	tier := maturity.Tier(f.Get("tier"))
	lines, errs := parseLines(f, atoi(f.Get("rows"), 10))
	for k, v := range errs {
		f.Errors[k] = v
	}
	if err = f.Err(); err == nil {
		_, err = h.S.SetPrices(r.Context(), principal(r), o.ID, tier, lines)
	}
	if err != nil {
		return failOr(f, err, func() { h.pricesPage(w, r, http.StatusUnprocessableEntity, o, tier, f) })
	}
	return h.K.Redirect(w, r, OfferingURL(o.ID)+"/prices?tier="+string(tier), "success", "The "+strings.ToLower(tier.Label())+" price book is saved.")
}

func (h *Handlers) documentUpload(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	_, meta, data, err := h.parseUpload(w, r)
	if err == nil {
		_, err = h.S.UploadFile(r.Context(), principal(r), UploadInput{OfferingID: o.ID, Purpose: FileDocument, Meta: meta, Data: data})
	}
	if err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			return h.K.Redirect(w, r, OfferingURL(o.ID)+"#documents", "error", apperr.MessageOf(err))
		}
		return err
	}
	return h.K.Redirect(w, r, OfferingURL(o.ID)+"#documents", "success", "The document is uploaded.")
}

func (h *Handlers) offeringTiers(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if _, err := h.S.ListTiers(r.Context(), principal(r), o.ID, tiersFrom(f.List("tiers"))); err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			return h.K.Redirect(w, r, OfferingURL(o.ID), "error", firstMessage(err))
		}
		return err
	}
	return h.K.Redirect(w, r, OfferingURL(o.ID), "success", "The tiers are listed.")
}

func (h *Handlers) offeringStatus(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	action := lifecycle.Action(f.Get("action"))
	o2, err := h.S.OfferingAction(r.Context(), principal(r), o.ID, action, f.Get("reason"), tiersFrom(f.List("tiers")))
	if err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			msg := apperr.MessageOf(err)
			for _, v := range apperr.FieldsOf(err) {
				msg = v
			}
			return h.K.Redirect(w, r, OfferingURL(o.ID), "error", msg)
		}
		return err
	}
	return h.K.Redirect(w, r, OfferingURL(o.ID), "success", fmt.Sprintf("“%s” is now %s.", o2.Name, strings.ToLower(o2.StatusLabel())))
}

type stepsData struct {
	Offering Offering
	Rows     int
	Default  bool
}

func (h *Handlers) stepsEdit(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	if !h.S.CanManageOffering(r.Context(), principal(r), o) {
		return apperr.New(apperr.Forbidden, "Only the provider edits its onboarding checklist.")
	}
	steps, def, err := h.S.OnboardingSteps(r.Context(), principal(r), o.ID)
	if err != nil {
		return err
	}
	v := map[string]string{}
	for i, st := range steps {
		v["title_"+strconv.Itoa(i)], v["detail_"+strconv.Itoa(i)] = st.Title, st.Detail
	}
	h.render(w, r, http.StatusOK, "steps", "Onboarding checklist of "+o.Name, stepsData{Offering: o, Rows: len(steps) + 3, Default: def}, web.NewForm(v),
		web.Crumb{Label: o.Name, Href: OfferingURL(o.ID)})
	return nil
}

func (h *Handlers) stepsSave(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOffering(r.Context(), principal(r), r.PathValue("offering"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	rows := min(atoi(f.Get("rows"), 0), 40)
	var steps []Step
	for i := 0; i < rows; i++ {
		steps = append(steps, Step{Title: f.Get("title_" + strconv.Itoa(i)), Detail: f.Get("detail_" + strconv.Itoa(i))})
	}
	if err := h.S.SetOnboardingSteps(r.Context(), principal(r), o.ID, steps); err != nil {
		return failOr(f, err, func() {
			h.render(w, r, http.StatusUnprocessableEntity, "steps", "Onboarding checklist of "+o.Name, stepsData{Offering: o, Rows: rows}, f,
				web.Crumb{Label: o.Name, Href: OfferingURL(o.ID)})
		})
	}
	return h.K.Redirect(w, r, OfferingURL(o.ID)+"#onboarding", "success", "The onboarding checklist is saved.")
}

func (h *Handlers) fileDownload(w http.ResponseWriter, r *http.Request) error {
	f, data, err := h.S.GetFile(r.Context(), principal(r), r.PathValue("file"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(f.Name))
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = w.Write(data)
	return nil
}

func (h *Handlers) fileDelete(w http.ResponseWriter, r *http.Request) error {
	f, err := h.S.DeleteFile(r.Context(), principal(r), r.PathValue("file"))
	if err != nil {
		return err
	}
	back := OfferingURL(f.OfferingID) + "#documents"
	if f.Purpose == FileEvidence {
		back = OfferingURL(f.OfferingID) + "/conformance"
	}
	return h.K.Redirect(w, r, back, "success", "“"+f.Name+"” is deleted.")
}
