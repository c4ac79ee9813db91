package cx

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/web"
	"github.com/qsmo/qsmo/internal/web/chart"
)

// hubData is the overview of people who answer surveys and give feedback.
type hubData struct {
	Invitations []Invitation
	Feedback    []Feedback
	Changes     []Change
	CanSubmit   bool
	Now         time.Time
}

type overviewData struct {
	Dashboard *dashboardData
	Hub       *hubData
}

func (h *Handlers) overview(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	var d overviewData
	if authz.CanAnywhere(p, authz.CXReportRead) {
		dash, err := h.dashboard(r)
		if err != nil {
			return err
		}
		d.Dashboard = dash
	}
	hub, err := h.hub(r.Context(), p)
	if err != nil {
		return err
	}
	if d.Dashboard == nil || len(hub.Invitations) > 0 {
		d.Hub = hub
	}
	h.V.Render(w, r, http.StatusOK, "overview", web.Page{Title: "Customer experience", Side: side, Form: dashboardForm(r), Data: d})
	return nil
}

func (h *Handlers) hub(ctx context.Context, p *authz.Principal) (*hubData, error) {
	invs, err := h.S.MyInvitations(ctx, p, InvitationFilter{OpenOnly: true, Limit: 10})
	if err != nil {
		return nil, err
	}
	fb, err := h.S.ListFeedback(ctx, p, FeedbackFilter{Limit: 5})
	if err != nil {
		return nil, err
	}
	ch, err := h.S.ListChanges(ctx, p, ChangeFilter{Limit: 3})
	if err != nil {
		return nil, err
	}
	own, err := h.S.ownScope(ctx, p, authz.CXFeedbackSubmit)
	if err != nil {
		return nil, err
	}
	return &hubData{Invitations: invs, Feedback: fb, Changes: ch, CanSubmit: len(own.OrgIDs) > 0, Now: h.S.DB.Now()}, nil
}

// dashboardData is the office's (or a provider's) CX dashboard.
type dashboardData struct {
	Report     Report
	Total      Group
	Latest     Group
	Quarters   []Group
	Stages     []Group
	Classic    []classicRow
	Office     bool
	Feedback   *FeedbackStats
	Now        time.Time
	Trend      chart.Chart
	ByService  chart.Chart
	ByProvider chart.Chart
	ByOffering chart.Chart
	// HasOfferings says whether any survey named an offering.
	HasOfferings bool
	Drivers      chart.Chart
	Asked        chart.Chart
	Ages         chart.Chart
	// Filter choices.
	QuarterOptions  []web.Option
	StageOptions    []web.Option
	ServiceOptions  []web.Option
	ProviderOptions []web.Option
	Query           url.Values
}

type classicRow struct {
	Item  a11.ClassicItem
	Score a11.Scale5
}

// dashboardForm pre-fills the filter form from the query.
func dashboardForm(r *http.Request) *web.Form {
	q := r.URL.Query()
	return web.NewForm(map[string]string{"from": q.Get("from"), "to": q.Get("to"), "stage": q.Get("stage"), "service": q.Get("service"), "provider": q.Get("provider")})
}

// reportFilter reads a report filter from a query; unknown values are
// ignored so a hand-edited address still shows a page.
func reportFilter(q url.Values) ReportFilter {
	var f ReportFilter
	f.From, _ = a11.ParseQuarter(q.Get("from"))
	f.To, _ = a11.ParseQuarter(q.Get("to"))
	if st := Stage(q.Get("stage")); st.Valid() {
		f.Stage = st
	}
	f.ServiceArea = strings.TrimSpace(q.Get("service"))
	f.ProviderID = strings.TrimSpace(q.Get("provider"))
	f.OfferingID = strings.TrimSpace(q.Get("offering"))
	return f
}

func (h *Handlers) dashboard(r *http.Request) (*dashboardData, error) {
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	rep, err := h.S.Report(ctx, p, reportFilter(r.URL.Query()))
	if err != nil {
		return nil, err
	}
	now := h.S.DB.Now()
	d := &dashboardData{Report: rep, Total: rep.Total(), Latest: rep.Quarter(rep.Filter.To), Quarters: rep.By(ByQuarter), Stages: rep.By(ByStage),
		Office: authz.CanAnywhere(p, authz.CXSurveyRead), Now: now, Query: r.URL.Query()}
	for i, item := range a11.ClassicItems {
		if d.Total.Tally.Classic[i].N > 0 {
			d.Classic = append(d.Classic, classicRow{Item: item, Score: d.Total.Tally.Classic[i]})
		}
	}
	d.Trend = trendChart(rep)
	d.ByService = groupChart("by-service", "Trust by service", rep.By(ByService))
	d.ByProvider = groupChart("by-provider", "Trust by provider", rep.By(ByProvider))
	d.ByOffering = groupChart("by-offering", "Trust by offering", rep.By(ByOffering))
	for _, c := range rep.Cells {
		if c.OfferingID != "" {
			d.HasOfferings = true
		}
	}
	d.Drivers = driverChart(d.Total.Tally)
	d.Asked = askedChart(d.Quarters)
	if authz.CanAnywhere(p, authz.CXFeedbackManage) {
		st, err := h.S.FeedbackStats(ctx, p)
		if err != nil {
			return nil, err
		}
		d.Feedback = &st
		d.Ages = agesChart(st)
	}
	cur := a11.QuarterOf(now)
	for i := 0; i < 12; i++ {
		d.QuarterOptions = append(d.QuarterOptions, web.Option{Value: cur.String(), Label: cur.Label() + " (" + cur.Span() + ")"})
		cur = cur.Prev()
	}
	d.StageOptions = stageOptions()
	if d.ServiceOptions, err = h.serviceOptions(ctx); err != nil {
		return nil, err
	}
	if d.Office {
		if d.ProviderOptions, err = h.orgOptions(ctx, "provider"); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func stageOptions() []web.Option {
	var out []web.Option
	for _, s := range Stages {
		out = append(out, web.Option{Value: string(s), Label: s.Label(), Hint: s.Hint()})
	}
	return out
}

func (h *Handlers) serviceOptions(ctx context.Context) ([]web.Option, error) {
	areas, err := h.S.Catalog.ServiceAreas(ctx)
	if err != nil {
		return nil, err
	}
	var out []web.Option
	for _, a := range areas {
		out = append(out, web.Option{Value: a.Key, Label: a.Name})
	}
	return out, nil
}

// orgOptions lists active organizations of a kind, by name.
func (h *Handlers) orgOptions(ctx context.Context, kind string) ([]web.Option, error) {
	rows, err := h.S.DB.QueryContext(ctx, "SELECT id, name FROM orgs WHERE kind = ? AND status = 'active' ORDER BY LOWER(name)", kind)
	if err != nil {
		return nil, fmt.Errorf("cx: org options: %w", err)
	}
	defer rows.Close()
	var out []web.Option
	for rows.Next() {
		var o web.Option
		if err := rows.Scan(&o.Value, &o.Label); err != nil {
			return nil, fmt.Errorf("cx: scan org option: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// trust returns a tally's trust score as a chart value, Missing without
// answers.
func trust(t a11.Tally) float64 {
	if r := t.Trust(); r.Valid() {
		return r.Float()
	}
	return chart.Missing()
}

func trendChart(rep Report) chart.Chart {
	c := chart.Chart{ID: "trust-trend", Title: "Trust by stage and quarter", Unit: "%", Max: 100, Format: chart.Percent}
	for _, q := range rep.Quarters {
		c.Labels = append(c.Labels, q.Label())
	}
	all := chart.Series{Name: "All stages"}
	for _, g := range rep.By(ByQuarter) {
		all.Values = append(all.Values, trust(g.Tally))
	}
	c.Series = append(c.Series, all)
	for _, row := range rep.Series(ByStage) {
		if row.Total.Tally.Trust().Whole == 0 {
			continue
		}
		s := chart.Series{Name: row.Label}
		for _, g := range row.Quarters {
			s.Values = append(s.Values, trust(g.Tally))
		}
		c.Series = append(c.Series, s)
	}
	c.Summary = trendSummary(c.Labels, all.Values)
	return c
}

func trendSummary(labels []string, vals []float64) string {
	first, last := -1, -1
	for i, v := range vals {
		if v == v { // not NaN
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	switch {
	case first < 0:
		return "Nobody answered the trust question in this period."
	case first == last:
		return fmt.Sprintf("Trust across all stages was %.0f%% in %s.", vals[last], labels[last])
	}
	return fmt.Sprintf("Trust across all stages was %.0f%% in %s and %.0f%% in %s.", vals[first], labels[first], vals[last], labels[last])
}

// groupChart draws trust per group as horizontal bars, naming how many
// people answered the trust question in each label.
func groupChart(id, title string, groups []Group) chart.Chart {
	c := chart.Chart{ID: id, Title: title, Unit: "%", Max: 100, Format: chart.Percent, Horizontal: true}
	s := chart.Series{Name: "Trust"}
	hi, lo := -1, -1
	for _, g := range groups {
		tr := g.Tally.Trust()
		if !tr.Valid() {
			continue
		}
		c.Labels = append(c.Labels, fmt.Sprintf("%s (%d)", g.Label, tr.Whole))
		s.Values = append(s.Values, tr.Float())
		i := len(s.Values) - 1
		if hi < 0 || s.Values[i] > s.Values[hi] {
			hi = i
		}
		if lo < 0 || s.Values[i] < s.Values[lo] {
			lo = i
		}
	}
	c.Series = []chart.Series{s}
	switch {
	case hi < 0:
		c.Summary = "Nobody answered the trust question in this period."
	case hi == lo:
		c.Summary = fmt.Sprintf("Trust for %s: %.0f%%. The number in brackets is how many people answered.", c.Labels[hi], s.Values[hi])
	default:
		c.Summary = fmt.Sprintf("Highest trust: %s at %.0f%%; lowest: %s at %.0f%%. The number in brackets is how many people answered.",
			c.Labels[hi], s.Values[hi], c.Labels[lo], s.Values[lo])
	}
	return c
}

func driverChart(t a11.Tally) chart.Chart {
	c := chart.Chart{ID: "drivers", Title: "What went well and what didn’t", Unit: "%", Max: 100, Format: chart.Percent, Horizontal: true}
	well := chart.Series{Name: "Went well"}
	not := chart.Series{Name: "Didn’t go so well"}
	best, worst := -1, -1
	for _, d := range a11.Drivers {
		c.Labels = append(c.Labels, d.Label())
		if r := t.WentWellShare(d); r.Valid() {
			well.Values = append(well.Values, r.Float())
			if best < 0 || r.Float() > well.Values[best] {
				best = int(d)
			}
		} else {
			well.Values = append(well.Values, chart.Missing())
		}
		if r := t.NotWellShare(d); r.Valid() {
			not.Values = append(not.Values, r.Float())
			if worst < 0 || r.Float() > not.Values[worst] {
				worst = int(d)
			}
		} else {
			not.Values = append(not.Values, chart.Missing())
		}
	}
	c.Series = []chart.Series{well, not}
	var parts []string
	if best >= 0 {
		parts = append(parts, fmt.Sprintf("Most often named as going well: %s (%.0f%% of %d people).", c.Labels[best], well.Values[best], t.WentWellN))
	}
	if worst >= 0 {
		parts = append(parts, fmt.Sprintf("Most often named as not going well: %s (%.0f%% of %d people).", c.Labels[worst], not.Values[worst], t.NotWellN))
	}
	if len(parts) == 0 {
		parts = append(parts, "Nobody answered the driver questions in this period.")
	}
	c.Summary = strings.Join(parts, " ")
	return c
}

func askedChart(quarters []Group) chart.Chart {
	c := chart.Chart{ID: "asked", Title: "People asked and people who answered, by quarter", Whole: true}
	asked := chart.Series{Name: "Asked"}
	answered := chart.Series{Name: "Answered"}
	var tot Group
	for _, g := range quarters {
		c.Labels = append(c.Labels, g.Label)
		asked.Values = append(asked.Values, float64(g.Offered))
		answered.Values = append(answered.Values, float64(g.Tally.Responses))
		tot.Offered += g.Offered
		tot.Tally.Responses += g.Tally.Responses
	}
	c.Series = []chart.Series{asked, answered}
	c.Summary = fmt.Sprintf("In this period %d people were asked and %d answered: a response rate of %s.", tot.Offered, tot.Tally.Responses, tot.ResponseRate())
	return c
}

func agesChart(st FeedbackStats) chart.Chart {
	c := chart.Chart{ID: "feedback-ages", Title: "Open feedback by age", Whole: true}
	s := chart.Series{Name: "Open items"}
	for i, b := range AgeBuckets {
		c.Labels = append(c.Labels, b.Label)
		s.Values = append(s.Values, float64(st.Ages[i]))
	}
	c.Series = []chart.Series{s}
	c.Summary = fmt.Sprintf("%d open feedback items; the median has been open %s.", st.Open, days(st.MedianAge))
	return c
}

// days shows a duration in whole days for people.
func days(d time.Duration) string {
	n := int(d.Hours() / 24)
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
