package marketplace

import (
	"net/http"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
	"github.com/qsmo/qsmo/internal/web"
	"github.com/qsmo/qsmo/internal/web/chart"
)

type statementsData struct {
	List      []Statement
	Period    string
	CanIssue  bool
	LastMonth string
}

func (h *Handlers) statements(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	period := r.URL.Query().Get("period")
	if _, err := time.Parse("2006-01", period); err != nil {
		period = ""
	}
	list, err := h.S.ListStatements(ctx, p, period)
	if err != nil {
		return err
	}
	office, _ := h.S.OfficeID(ctx)
	d := statementsData{List: list, Period: period, CanIssue: h.S.Authz.CheckMember(ctx, p, authz.MarketBillingManage, office) == nil,
		LastMonth: h.S.now().AddDate(0, -1, 0).Format("2006-01")}
	h.render(w, r, http.StatusOK, "statements", "Chargeback statements", d, web.NewForm(map[string]string{"period": period, "month": d.LastMonth}))
	return nil
}

func (h *Handlers) statementsIssue(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	month, perr := time.Parse("2006-01", f.Get("month"))
	if perr != nil {
		return h.K.Redirect(w, r, "/marketplace/statements", "error", "Give the month as YYYY-MM.")
	}
	n, err := h.S.IssueStatements(r.Context(), principal(r), month)
	if err != nil {
		if apperr.Is(err, apperr.Invalid) {
			return h.K.Redirect(w, r, "/marketplace/statements", "error", firstMessage(err))
		}
		return err
	}
	return h.K.Redirect(w, r, "/marketplace/statements?period="+month.Format("2006-01"), "success", plural(n, "statement")+" issued for "+month.Format("January 2006")+".")
}

func (h *Handlers) statementShow(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStatement(r.Context(), principal(r), r.PathValue("statement"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "statement", "Statement for "+st.PeriodLabel(), st, nil, web.Crumb{Label: "Statements", Href: "/marketplace/statements"})
	return nil
}

func (h *Handlers) statementPrint(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStatement(r.Context(), principal(r), r.PathValue("statement"))
	if err != nil {
		return err
	}
	h.V.Render(w, r, http.StatusOK, "statement_print", web.Page{Title: st.AgencyName + " statement for " + st.PeriodLabel(), Wide: true, Data: st})
	return nil
}

func (h *Handlers) statementCSV(w http.ResponseWriter, r *http.Request) error {
	st, err := h.S.GetStatement(r.Context(), principal(r), r.PathValue("statement"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="statement-`+st.Period+`.csv"`)
	return st.WriteCSV(w)
}

type avoidanceData struct {
	Report    CostAvoidance
	Baselines []Baseline
	CanSet    bool
	ByArea    chart.Chart
	ByMonth   chart.Chart
}

func (h *Handlers) costAvoidance(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	now := h.S.now()
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	if _, err := time.Parse("2006-01", from); err != nil {
		from = now.AddDate(0, -12, 0).Format("2006-01")
	}
	if _, err := time.Parse("2006-01", to); err != nil {
		to = now.AddDate(0, -1, 0).Format("2006-01")
	}
	rep, err := h.S.CostAvoidanceReport(ctx, p, from, to)
	if err != nil {
		return err
	}
	office, _ := h.S.OfficeID(ctx)
	d := avoidanceData{Report: rep, CanSet: h.S.Authz.CheckMember(ctx, p, authz.MarketBillingManage, office) == nil}
	if d.CanSet {
		if d.Baselines, err = h.S.Baselines(ctx); err != nil {
			return err
		}
	}
	d.ByArea = avoidanceChart("by-area", "Paid and go-it-alone cost by service area", rep.ByArea, true)
	d.ByMonth = avoidanceChart("by-month", "Paid and go-it-alone cost by month", rep.ByMonth, false)
	h.render(w, r, http.StatusOK, "cost_avoidance", "Cost avoidance", d, web.NewForm(map[string]string{"from": from, "to": to}))
	return nil
}

func avoidanceChart(id, title string, rows []AvoidanceRow, horizontal bool) chart.Chart {
	c := chart.Chart{ID: id, Title: title, Horizontal: horizontal, Format: func(v float64) string { return money.Compact(int64(v)) }}
	paid, alone := chart.Series{Name: "Paid through the marketplace"}, chart.Series{Name: "Go-it-alone baseline"}
	var total, saved int64
	for _, r := range rows {
		c.Labels = append(c.Labels, r.Label)
		paid.Values = append(paid.Values, float64(r.Actual))
		alone.Values = append(alone.Values, float64(r.Baseline))
		total += r.Actual
		saved += r.Avoided()
	}
	c.Series = []chart.Series{paid, alone}
	c.Summary = "Agencies paid " + money.Format(total) + " through the marketplace, " + money.Format(saved) + " less than buying alone."
	return c
}

func (h *Handlers) baselineSave(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	monthly := cents(f, "monthly", "the monthly cost")
	if err := f.Err(); err != nil {
		return h.K.Redirect(w, r, "/marketplace/cost-avoidance#baselines", "error", firstMessage(err))
	}
	if err := h.S.SetBaseline(r.Context(), principal(r), f.Get("area"), maturity.Tier(f.Get("tier")), monthly, f.Get("note")); err != nil {
		if apperr.Is(err, apperr.Invalid) {
			return h.K.Redirect(w, r, "/marketplace/cost-avoidance#baselines", "error", firstMessage(err))
		}
		return err
	}
	return h.K.Redirect(w, r, "/marketplace/cost-avoidance#baselines", "success", "The baseline is saved.")
}

// BaselineValue formats a baseline for its form field.
func (b Baseline) BaselineValue() string {
	if b.Monthly == 0 {
		return ""
	}
	return money.Decimal(b.Monthly)
}

// FieldID is a unique field ID for the baseline's row.
func (b Baseline) FieldID() string { return b.AreaID + "-" + string(b.Tier) }
