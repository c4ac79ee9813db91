package pdns

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
	"github.com/qsmo/qsmo/internal/web/chart"
)

// Time ranges of the overview.
var ranges = []struct {
	Value, Label string
	Span         time.Duration
}{
	{"24h", "Last 24 hours", 24 * time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour},
	{"30d", "Last 30 days", 30 * 24 * time.Hour},
}

type overviewData struct {
	viewHelpers
	Agency       agency
	Policy       Policy
	NotSetUp     bool
	NoLog        bool
	Range        string
	RangeLabel   string
	Ranges       []web.Option
	Dash         Dashboard
	Chart        template.HTML
	CategoryText []string
	// Infected counts the devices the agency was told about in the range.
	Infected int
}

func (h *Handlers) overview(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAgency(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	d := overviewData{Agency: a, Range: "24h"}
	for _, rg := range ranges {
		d.Ranges = append(d.Ranges, web.Option{Value: rg.Value, Label: rg.Label})
	}
	span := 24 * time.Hour
	for _, rg := range ranges {
		if rg.Value == r.URL.Query().Get("range") {
			d.Range, span = rg.Value, rg.Span
		}
	}
	for _, rg := range ranges {
		if rg.Value == d.Range {
			d.RangeLabel = rg.Label
		}
	}
	page := web.Page{Title: "Protective DNS: " + a.Name, Side: agencySide(a), Crumbs: agencyCrumbs(p), Data: &d}
	d.Policy, err = h.S.GetPolicy(r.Context(), p, a.ID)
	if errors.Is(err, ErrNotProvisioned) {
		d.NotSetUp = true
		page.Side = nil
		h.V.Render(w, r, http.StatusOK, "dns_not_set_up", page)
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range d.Policy.Categories {
		if cat, ok := CategoryByName(c); ok {
			d.CategoryText = append(d.CategoryText, cat.Label)
		}
	}
	now := time.Now()
	d.Dash, err = h.S.Dashboard(r.Context(), p, a.ID, now.Add(-span), now)
	if errors.Is(err, ErrNoQueryLog) {
		d.NoLog = true
	} else if err != nil {
		return err
	} else {
		d.Chart = activityChart(d.Dash, viewerLocation(r))
		d.Infected = len(d.Dash.Reported)
	}
	h.V.Render(w, r, http.StatusOK, "dns_overview", page)
	return nil
}

// activityChart draws queries and blocks over time, with a summary for
// screen readers and the data as a table.
func activityChart(d Dashboard, loc *time.Location) template.HTML {
	layout := "15:04"
	switch {
	case d.Step >= 24*time.Hour:
		layout = "Jan 2"
	case d.To.Sub(d.From) > 25*time.Hour: // a day, plus the first step's start rounded down
		layout = "Jan 2 15:04"
	}
	c := chart.Chart{ID: "activity", Title: "Queries over time", Whole: true,
		Series: []chart.Series{{Name: "All queries"}, {Name: "Blocked"}}}
	busiest := -1
	for i, pt := range d.Series {
		c.Labels = append(c.Labels, pt.Start.In(loc).Format(layout))
		c.Series[0].Values = append(c.Series[0].Values, float64(pt.Counts.Queries))
		c.Series[1].Values = append(c.Series[1].Values, float64(pt.Counts.Blocked()))
		if busiest < 0 || pt.Counts.Queries > d.Series[busiest].Counts.Queries {
			busiest = i
		}
	}
	c.Summary = fmt.Sprintf("%s queries, %s of them blocked, in steps of %s.", formatCount(d.Totals.Queries), formatCount(d.Totals.Blocked()), stepText(d.Step))
	if busiest >= 0 && d.Series[busiest].Counts.Queries > 0 {
		c.Summary += fmt.Sprintf(" The busiest step began at %s with %s queries.", c.Labels[busiest], formatCount(d.Series[busiest].Counts.Queries))
	}
	return c.LineFigure()
}

func stepText(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return "a day"
	case d >= time.Hour:
		if d == time.Hour {
			return "an hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return fmt.Sprintf("%d minutes", d/time.Minute)
}

type connectData struct {
	viewHelpers
	Agency agency
	Info   ConnectInfo
}

func (h *Handlers) connect(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAgency(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	info, err := h.S.Connect(r.Context(), p, a.ID)
	if err != nil {
		return h.notSetUp(w, r, a, err)
	}
	h.V.Render(w, r, http.StatusOK, "dns_connect", web.Page{Title: "How to connect", Side: agencySide(a),
		Crumbs: append(agencyCrumbs(p), web.Crumb{Label: a.Name, Href: "/dns/agencies/" + a.ID}), Data: connectData{Agency: a, Info: info}})
	return nil
}

// notSetUp renders the "not set up" page for ErrNotProvisioned and returns
// other errors to the kit.
func (h *Handlers) notSetUp(w http.ResponseWriter, r *http.Request, a agency, err error) error {
	if !errors.Is(err, ErrNotProvisioned) {
		return err
	}
	h.V.Render(w, r, http.StatusOK, "dns_not_set_up", web.Page{Title: "Protective DNS: " + a.Name, Crumbs: agencyCrumbs(web.PrincipalFrom(r.Context())),
		Data: &overviewData{Agency: a, NotSetUp: true}})
	return nil
}

func (h *Handlers) rotateToken(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAgency(r)
	if err != nil {
		return err
	}
	if _, err := h.S.RotateToken(r.Context(), web.PrincipalFrom(r.Context()), a.ID); err != nil {
		return err
	}
	return h.K.Redirect(w, r, "/dns/agencies/"+a.ID+"/connect", "success", "The DNS over HTTPS URL has a new token. Update your devices: the old URL no longer works.")
}

func (h *Handlers) provision(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAgency(r)
	if err != nil {
		return err
	}
	if _, err := h.S.ProvisionAgency(r.Context(), web.PrincipalFrom(r.Context()), a.ID); err != nil {
		return err
	}
	return h.K.Redirect(w, r, "/dns/agencies/"+a.ID+"/policy", "success", "Protective DNS is set up for "+a.Name+" with the default policy. Add its egress networks next.")
}

func (h *Handlers) deprovision(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAgency(r)
	if err != nil {
		return err
	}
	if err := h.S.DeprovisionAgency(r.Context(), web.PrincipalFrom(r.Context()), a.ID); err != nil {
		return err
	}
	return h.K.Redirect(w, r, "/dns/agencies/"+a.ID, "success", "Protective DNS is turned off for "+a.Name+": its queries are refused from now on.")
}

type policyData struct {
	viewHelpers
	Agency     agency
	Categories []web.Option
	Modes      []web.Option
	Settings   Settings
	CanManage  bool
}

func policyForm(pol Policy) *web.Form {
	in := InputOf(pol)
	f := web.NewForm(map[string]string{"mode": pol.Mode, "egress": joinLines(in.Egress), "blocked_answers": joinLines(in.BlockedAnswers),
		"allow": joinLines(in.Allow), "deny": joinLines(in.Deny)})
	f.Values["categories"] = pol.Categories
	if pol.CNAMEInspection {
		f.Values.Set("cname_inspection", "on")
	}
	return f
}

func joinLines(xs []string) string {
	s := ""
	for _, x := range xs {
		s += x + "\n"
	}
	return s
}

func (h *Handlers) policyPage(w http.ResponseWriter, r *http.Request, status int, a agency, f *web.Form) {
	p := web.PrincipalFrom(r.Context())
	d := policyData{Agency: a, CanManage: h.S.Authz.Can(r.Context(), p, authz.DNSManage, a.ID)}
	for _, c := range Categories {
		d.Categories = append(d.Categories, web.Option{Value: c.Name, Label: c.Label, Hint: c.About})
	}
	for _, m := range BlockModes {
		d.Modes = append(d.Modes, web.Option{Value: m.Value, Label: m.Label, Hint: m.About})
	}
	d.Settings, _ = h.S.GetSettings(r.Context())
	h.V.Render(w, r, status, "dns_policy", web.Page{Title: "Policy", Side: agencySide(a), Form: f,
		Crumbs: append(agencyCrumbs(p), web.Crumb{Label: a.Name, Href: "/dns/agencies/" + a.ID}), Data: d})
}

func (h *Handlers) policyForm(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAgency(r)
	if err != nil {
		return err
	}
	pol, err := h.S.GetPolicy(r.Context(), web.PrincipalFrom(r.Context()), a.ID)
	if err != nil {
		return h.notSetUp(w, r, a, err)
	}
	h.policyPage(w, r, http.StatusOK, a, policyForm(pol))
	return nil
}

// PolicyInputFrom reads the policy form.
func PolicyInputFrom(f *web.Form) PolicyInput {
	return PolicyInput{
		Categories: f.List("categories"), Mode: f.Get("mode"), CNAMEInspection: f.Bool("cname_inspection"),
		Egress: SplitList(f.Raw("egress")), BlockedAnswers: SplitList(f.Raw("blocked_answers")),
		Allow: SplitList(f.Raw("allow")), Deny: SplitList(f.Raw("deny")),
	}
}

func (h *Handlers) policySave(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAgency(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if err := h.S.Authz.Check(r.Context(), p, authz.DNSManage, a.ID); err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if _, err := h.S.UpdatePolicy(r.Context(), p, a.ID, PolicyInputFrom(f)); err != nil {
		if errors.Is(err, ErrNotProvisioned) || !f.Fail(err) {
			return err
		}
		h.policyPage(w, r, http.StatusUnprocessableEntity, a, f)
		return nil
	}
	return h.K.Redirect(w, r, "/dns/agencies/"+a.ID+"/policy", "success", "The policy is saved. The resolvers apply it within seconds.")
}

type queriesData struct {
	viewHelpers
	Agency  agency
	Rows    []queryRow
	NextURL string
	Export  string
	Actions []web.Option
	Matches []web.Option
	Invalid bool
	NoLog   bool
	Loc     *time.Location
}

// actionOptions are the actions the search offers.
var actionOptions = []web.Option{
	{Value: "allowed", Label: "Allowed"}, {Value: "blocked", Label: "Blocked"}, {Value: "local_data", Label: "Answered by a feed"},
	{Value: "refused", Label: "Refused"}, {Value: "rate_limited", Label: "Rate limited"}, {Value: "failed", Label: "Failed"},
}

func (h *Handlers) queries(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAgency(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	q := r.URL.Query()
	form := web.NewForm(map[string]string{"match": "suffix"})
	for _, k := range []string{"domain", "match", "client", "action", "from", "to"} {
		if v := q.Get(k); v != "" {
			form.Values.Set(k, v)
		}
	}
	d := queriesData{Agency: a, Actions: actionOptions, Loc: viewerLocation(r),
		Matches: []web.Option{{Value: "suffix", Label: "The name and its subdomains"}, {Value: "exact", Label: "Exactly this name"}, {Value: "contains", Label: "Names containing this text"}}}
	page := web.Page{Title: "Query log", Side: agencySide(a), Form: form, Wide: true, // the table needs the width
		Crumbs: append(agencyCrumbs(p), web.Crumb{Label: a.Name, Href: "/dns/agencies/" + a.ID}), Data: &d}
	filter, errs := ParseQueryFilter(q, d.Loc, time.Now(), MaxPageSize)
	if len(errs) > 0 {
		for k, v := range errs {
			form.Errors[k] = v
		}
		d.Invalid = true
		h.V.Render(w, r, http.StatusUnprocessableEntity, "dns_queries", page)
		return nil
	}
	res, err := h.S.SearchQueries(r.Context(), p, a.ID, filter)
	switch {
	case errors.Is(err, ErrNoQueryLog):
		d.NoLog = true
	case apperr.Is(err, apperr.Invalid):
		form.Message = apperr.MessageOf(err)
		d.Invalid = true
		h.V.Render(w, r, http.StatusUnprocessableEntity, "dns_queries", page)
		return nil
	case err != nil:
		return err
	}
	for i := range res.Records {
		d.Rows = append(d.Rows, rowOf(&res.Records[i]))
	}
	if res.Next != "" {
		nq := r.URL.Query()
		nq.Set("cursor", res.Next)
		d.NextURL = "/dns/agencies/" + a.ID + "/queries?" + nq.Encode()
	}
	eq := r.URL.Query()
	eq.Del("cursor")
	eq.Del("limit")
	d.Export = "/dns/agencies/" + a.ID + "/queries/export?" + eq.Encode()
	h.V.Render(w, r, http.StatusOK, "dns_queries", page)
	return nil
}

// queriesExport downloads the search's records as OCSF NDJSON.
func (h *Handlers) queriesExport(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAgency(r)
	if err != nil {
		return err
	}
	return h.exportOCSF(w, r, a.ID, viewerLocation(r))
}

// exportOCSF streams the filtered records as OCSF NDJSON (the page's
// download and the API share it).
func (h *Handlers) exportOCSF(w http.ResponseWriter, r *http.Request, orgID string, loc *time.Location) error {
	p := web.PrincipalFrom(r.Context())
	q := r.URL.Query()
	limit := MaxExport
	q.Del("cursor")
	lq := q.Get("limit")
	q.Del("limit")
	filter, errs := ParseQueryFilter(q, loc, time.Now(), MaxPageSize)
	if len(errs) > 0 {
		return apperr.Validation(errs)
	}
	if lq != "" {
		lf, errs := ParseQueryFilter(map[string][]string{"limit": {lq}}, loc, time.Now(), MaxExport)
		if len(errs) > 0 {
			return apperr.Validation(errs)
		}
		limit = lf.Limit
	}
	// Check access and the log before the headers go out, so an error
	// still gets its proper page.
	if err := h.S.Authz.Check(r.Context(), p, authz.DNSRead, orgID); err != nil {
		return err
	}
	if h.S.QueryLog == nil {
		return ErrNoQueryLog
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="dns-activity-`+time.Now().UTC().Format("20060102T1504")+`.ndjson"`)
	w.Header().Set("Cache-Control", "no-store")
	n, err := h.S.ExportOCSF(r.Context(), p, orgID, w, filter, limit)
	if err != nil {
		h.K.Opts.Log.Warn("dns: export cut short", "org_id", orgID, "records", n, "err", err)
	}
	return nil
}
