package marketplace

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
	"github.com/qsmo/qsmo/internal/web"
)

type ordersData struct {
	Orders  []Order
	Total   int
	Pager   pager
	Filter  string
	Filters []web.Option
}

// orderFilter reads the orders list's filter: a state, "waiting" for the
// viewer's side, or "overdue".
func orderFilter(p *authz.Principal, v url.Values) OrderFilter {
	f := OrderFilter{Page: atoi(v.Get("page"), 1)}
	switch s := v.Get("show"); s {
	case "waiting":
		switch activeOrg(p).OrgKind {
		case authz.Office:
			f.Waiting = lifecycle.Office
		case authz.Agency:
			f.Waiting = lifecycle.Agency
		default:
			f.Waiting = lifecycle.Provider
		}
	case "overdue":
		f.Overdue = true
	case "open":
		f.States = openStates
	case "":
	default:
		for _, st := range lifecycle.Orders.Rules() {
			if string(st.From) == s || string(st.To) == s {
				f.States = []lifecycle.State{lifecycle.State(s)}
				break
			}
		}
	}
	return f
}

func (h *Handlers) orders(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	f := orderFilter(p, r.URL.Query())
	list, total, err := h.S.ListOrders(r.Context(), p, f)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	q.Del("page")
	d := ordersData{Orders: list, Total: total, Filter: r.URL.Query().Get("show"),
		Pager: pager{Page: max(1, f.Page), Pages: max(1, (total+49)/50), Base: "/marketplace/orders", Query: q},
		Filters: []web.Option{{Value: "", Label: "All"}, {Value: "waiting", Label: "Waiting for us"}, {Value: "open", Label: "In progress"}, {Value: "overdue", Label: "Overdue"},
			{Value: "active", Label: "Active"}, {Value: "declined", Label: "Declined"}, {Value: "withdrawn", Label: "Withdrawn"}, {Value: "cancelled", Label: "Cancelled"}}}
	h.render(w, r, http.StatusOK, "orders", "Orders", d, web.NewForm(map[string]string{"show": d.Filter}))
	return nil
}

type orderNewData struct {
	Offering Offering
	Agency   authz.Membership
	Tiers    []web.Option
	Advice   *Assessment
}

func (h *Handlers) orderNewPage(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	p := principal(r)
	o, err := h.S.GetOffering(r.Context(), p, r.PathValue("offering"))
	if err != nil {
		return err
	}
	m, err := agencyOf(p)
	if err != nil {
		return err
	}
	if !m.Role.Has(authz.MarketOrderRequest) {
		return apperr.New(apperr.Forbidden, "Your agency's buyers request offerings.")
	}
	if !o.Orderable() {
		return apperr.New(apperr.Conflict, "“%s” is not taking orders (%s).", o.Name, strings.ToLower(o.StatusLabel()))
	}
	d := orderNewData{Offering: o, Agency: m}
	for _, t := range o.ListedTiers() {
		label := fmt.Sprintf("%s: %s a month", t.Tier.Label(), money.Format(t.Monthly()))
		d.Tiers = append(d.Tiers, web.Option{Value: string(t.Tier), Label: label, Hint: t.Availability() + " availability, " + t.Response() + " critical response, " + t.SupportHours})
	}
	if f == nil {
		f = web.NewForm(map[string]string{"quantity": "1", "tier": r.URL.Query().Get("tier"), "offering_id": o.ID})
		if asm, err := h.S.Assessments(r.Context(), p, m.OrgID, o.AreaID); err == nil && len(asm) > 0 {
			d.Advice = &asm[0]
			if f.Get("tier") == "" {
				f.Values.Set("tier", string(bestTier(o, asm[0].Tier)))
			}
		}
	}
	h.render(w, r, status, "order_new", "Request "+o.Name, d, f, web.Crumb{Label: o.Name, Href: OfferingURL(o.ID)})
	return nil
}

func (h *Handlers) orderNew(w http.ResponseWriter, r *http.Request) error {
	return h.orderNewPage(w, r, http.StatusOK, nil)
}

func (h *Handlers) orderCreate(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	m, err := agencyOf(p)
	if err != nil {
		return err
	}
	in := OrderInput{AgencyOrgID: m.OrgID, OfferingID: f.Get("offering_id"), Tier: maturity.Tier(f.Get("tier")), Quantity: f.Int("quantity", "the quantity"), Needs: f.Get("needs")}
	var o Order
	if err = f.Err(); err == nil {
		o, err = h.S.RequestOrder(r.Context(), p, in)
	}
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		r.SetPathValue("offering", in.OfferingID)
		return h.orderNewPage(w, r, http.StatusUnprocessableEntity, f)
	}
	return h.K.Redirect(w, r, OrderURL(o.ID), "success", "Your request is sent to the office for review.")
}

type orderData struct {
	Order       Order
	Timeline    []OrderEvent
	Quotes      []Quote
	Agreement   *Agreement
	Tasks       []Task
	OpenTasks   int
	Can         map[lifecycle.Action]lifecycle.Party
	CanTasks    bool
	CanEdit     bool
	Provisioner bool
	Suggested   []money.Line
}

// CanDo reports whether the viewer may take an action.
func (d orderData) CanDo(a string) bool { _, ok := d.Can[lifecycle.Action(a)]; return ok }

// SideOf returns the side the viewer signs for.
func (d orderData) SideOf(a string) string { return string(d.Can[lifecycle.Action(a)]) }

func (h *Handlers) loadOrderData(r *http.Request) (orderData, error) {
	ctx, p := r.Context(), principal(r)
	o, err := h.S.GetOrder(ctx, p, r.PathValue("order"))
	if err != nil {
		return orderData{}, err
	}
	d := orderData{Order: o, Can: h.S.Available(ctx, p, o)}
	if d.Timeline, err = h.S.Timeline(ctx, p, o.ID); err != nil {
		return d, err
	}
	if d.Quotes, err = h.S.Quotes(ctx, p, o.ID); err != nil {
		return d, err
	}
	if _, a, err := h.S.GetAgreement(ctx, p, o.ID); err == nil {
		d.Agreement = &a
	} else if !apperr.Is(err, apperr.NotFound) {
		return d, err
	}
	if d.Tasks, err = h.S.Tasks(ctx, p, o.ID); err != nil {
		return d, err
	}
	for _, t := range d.Tasks {
		if !t.Done() {
			d.OpenTasks++
		}
	}
	d.CanTasks = o.State == lifecycle.Provisioning && h.S.Authz.CheckMember(ctx, p, authz.MarketOrderFulfil, o.ProviderOrgID) == nil
	d.CanEdit = o.State == lifecycle.AgreementDraft && (h.S.Authz.CheckMember(ctx, p, authz.MarketOrderFulfil, o.ProviderOrgID) == nil ||
		h.S.Authz.CheckMember(ctx, p, authz.MarketOrderApprove, o.AgencyOrgID) == nil)
	d.Provisioner = h.S.HasProvisioner(ctx, o)
	return d, nil
}

func (h *Handlers) orderShow(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadOrderData(r)
	if err != nil {
		return err
	}
	f := web.NewForm(map[string]string{"obligated": money.Decimal(firstYear(d.Quotes))})
	h.render(w, r, http.StatusOK, "order", d.Order.OfferingName+" for "+d.Order.AgencyName, d, f, web.Crumb{Label: "Orders", Href: "/marketplace/orders"})
	return nil
}

func firstYear(qs []Quote) int64 {
	if len(qs) == 0 {
		return 0
	}
	return qs[0].FirstYear()
}

// step runs a simple order step from a form and redirects with its
// outcome; input errors come back as a flash on the order page.
func (h *Handlers) step(w http.ResponseWriter, r *http.Request, done string, fn func(f *web.Form) (Order, error)) error {
	o, err := h.S.GetOrder(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if _, err := fn(f); err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			return h.K.Redirect(w, r, OrderURL(o.ID), "error", firstMessage(err))
		}
		return err
	}
	return h.K.Redirect(w, r, OrderURL(o.ID), "success", done)
}

func (h *Handlers) orderApprove(w http.ResponseWriter, r *http.Request) error {
	return h.step(w, r, "The request is approved; the provider is asked for a quote.", func(f *web.Form) (Order, error) {
		return h.S.ApproveOrder(r.Context(), principal(r), r.PathValue("order"), f.Get("reason"))
	})
}

func (h *Handlers) orderDecline(w http.ResponseWriter, r *http.Request) error {
	return h.step(w, r, "The request is declined; the agency is told why.", func(f *web.Form) (Order, error) {
		return h.S.DeclineOrder(r.Context(), principal(r), r.PathValue("order"), f.Get("reason"))
	})
}

func (h *Handlers) orderWithdraw(w http.ResponseWriter, r *http.Request) error {
	return h.step(w, r, "The order is withdrawn.", func(f *web.Form) (Order, error) {
		return h.S.WithdrawOrder(r.Context(), principal(r), r.PathValue("order"), f.Get("reason"))
	})
}

type quoteData struct {
	Order Order
	Rows  int
	Kinds []web.Option
	Units []web.Option
}

func (h *Handlers) quotePage(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	ctx, p := r.Context(), principal(r)
	o, err := h.S.GetOrder(ctx, p, r.PathValue("order"))
	if err != nil {
		return err
	}
	if _, err := h.S.orderParty(ctx, p, o, lifecycle.Quote, ""); err != nil {
		return err
	}
	rows := 0
	if f == nil {
		lines, err := h.S.SuggestedQuote(ctx, p, o)
		if err != nil {
			return err
		}
		var vals map[string]string
		vals, rows = lineRows(lines, 3)
		vals["valid_until"] = h.S.now().AddDate(0, 0, 30).Format("2006-01-02")
		f = web.NewForm(vals)
	} else {
		rows = atoi(f.Get("rows"), 5)
	}
	h.render(w, r, status, "quote", "Quote for "+o.AgencyName, quoteData{Order: o, Rows: rows, Kinds: kindOptions, Units: unitOptions()}, f,
		web.Crumb{Label: "Orders", Href: "/marketplace/orders"}, web.Crumb{Label: o.OfferingName + " for " + o.AgencyName, Href: OrderURL(o.ID)})
	return nil
}

func (h *Handlers) quoteForm(w http.ResponseWriter, r *http.Request) error {
	return h.quotePage(w, r, http.StatusOK, nil)
}

func (h *Handlers) quoteSubmit(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOrder(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	lines, errs := parseLines(f, atoi(f.Get("rows"), 10))
	for k, v := range errs {
		f.Errors[k] = v
	}
	valid := date(f, "valid_until", "the validity date")
	if !valid.IsZero() {
		valid = valid.Add(24*time.Hour - time.Second)
	}
	if err = f.Err(); err == nil {
		_, err = h.S.SubmitQuote(r.Context(), principal(r), o.ID, QuoteInput{Lines: lines, Notes: f.Get("notes"), ValidUntil: valid})
	}
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.quotePage(w, r, http.StatusUnprocessableEntity, f)
	}
	return h.K.Redirect(w, r, OrderURL(o.ID), "success", "The quote is sent to the agency.")
}

func (h *Handlers) quoteAccept(w http.ResponseWriter, r *http.Request) error {
	return h.step(w, r, "The quote is accepted and the agreement drafted; the provider sends it for signature.", func(f *web.Form) (Order, error) {
		in := FundingInput{TAS: f.Get("tas"), ObjectClass: f.Get("object_class"), Obligated: cents(f, "obligated", "the amount to obligate"),
			FundsExpire: date(f, "funds_expire", "the funds expiration date")}
		if err := f.Err(); err != nil {
			return Order{}, err
		}
		return h.S.AcceptQuote(r.Context(), principal(r), r.PathValue("order"), in)
	})
}

func (h *Handlers) quoteReturn(w http.ResponseWriter, r *http.Request) error {
	return h.step(w, r, "The quote is returned to the provider.", func(f *web.Form) (Order, error) {
		return h.S.ReturnQuote(r.Context(), principal(r), r.PathValue("order"), f.Get("reason"))
	})
}

type agreementData struct {
	Order       Order
	Agreement   Agreement
	Quote       *Quote
	CanEdit     bool
	Can         map[lifecycle.Action]lifecycle.Party
	Authorities []web.Option
}

// CanDo reports whether the viewer may take an action.
func (d agreementData) CanDo(a string) bool { _, ok := d.Can[lifecycle.Action(a)]; return ok }

// SideOf returns the side the viewer signs for.
func (d agreementData) SideOf(a string) string { return string(d.Can[lifecycle.Action(a)]) }

func termsValues(a Agreement) map[string]string {
	v := map[string]string{"period_start": dateText(a.PeriodStart), "period_end": dateText(a.PeriodEnd), "authority": a.Authority,
		"authority_citation": a.AuthorityCitation, "termination_days": itoa(a.TerminationDays), "requirements": a.Requirements, "tas": a.TAS,
		"object_class": a.ObjectClass, "obligated": money.Decimal(a.Obligated), "funds_expire": dateText(a.FundsExpire), "payment": "reimbursable", "recurring": "no"}
	if a.Advance {
		v["payment"] = "advance"
	}
	if a.Recurring {
		v["recurring"] = "yes"
	}
	return v
}

func (h *Handlers) agreementPage(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	d, err := h.loadOrderData(r)
	if err != nil {
		return err
	}
	if d.Agreement == nil {
		return notFound("Agreement")
	}
	ad := agreementData{Order: d.Order, Agreement: *d.Agreement, CanEdit: d.CanEdit, Can: d.Can}
	for _, q := range d.Quotes {
		if q.Status == "accepted" {
			q := q
			ad.Quote = &q
		}
	}
	for _, k := range []string{"economy_act", "franchise_fund", "revolving_fund", "contract_vehicle", "other"} {
		ad.Authorities = append(ad.Authorities, web.Option{Value: k, Label: Authorities[k]})
	}
	if f == nil {
		f = web.NewForm(termsValues(*d.Agreement))
	}
	h.render(w, r, status, "agreement", "Interagency agreement", ad, f,
		web.Crumb{Label: "Orders", Href: "/marketplace/orders"}, web.Crumb{Label: d.Order.OfferingName + " for " + d.Order.AgencyName, Href: OrderURL(d.Order.ID)})
	return nil
}

func (h *Handlers) agreement(w http.ResponseWriter, r *http.Request) error {
	return h.agreementPage(w, r, http.StatusOK, nil)
}

// termsFrom reads the agreement form.
func termsFrom(f *web.Form) AgreementTerms {
	return AgreementTerms{PeriodStart: date(f, "period_start", "the start date"), PeriodEnd: date(f, "period_end", "the end date"),
		Recurring: f.Get("recurring") == "yes", Authority: f.Get("authority"), AuthorityCitation: f.Get("authority_citation"),
		Advance: f.Get("payment") == "advance", TerminationDays: int(f.Int("termination_days", "the termination notice")),
		Requirements: f.Get("requirements"), TAS: f.Get("tas"), ObjectClass: f.Get("object_class"), Obligated: cents(f, "obligated", "the amount to obligate"),
		FundsExpire: date(f, "funds_expire", "the funds expiration date")}
}

func (h *Handlers) agreementSave(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOrder(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	t := termsFrom(f)
	if err = f.Err(); err == nil {
		_, err = h.S.UpdateAgreement(r.Context(), principal(r), o.ID, t)
	}
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.agreementPage(w, r, http.StatusUnprocessableEntity, f)
	}
	return h.K.Redirect(w, r, OrderURL(o.ID)+"/agreement", "success", "The agreement's terms are saved.")
}

func (h *Handlers) agreementSend(w http.ResponseWriter, r *http.Request) error {
	return h.step(w, r, "The agreement is numbered and sent to both parties for signature.", func(*web.Form) (Order, error) {
		return h.S.SendAgreement(r.Context(), principal(r), r.PathValue("order"))
	})
}

func (h *Handlers) agreementSign(w http.ResponseWriter, r *http.Request) error {
	return h.step(w, r, "Your signature is recorded.", func(f *web.Form) (Order, error) {
		return h.S.SignAgreement(r.Context(), principal(r), r.PathValue("order"), SignInput{Side: partyOf(f.Get("side")), Title: f.Get("title"), Tracking: f.Get("tracking")})
	})
}

func (h *Handlers) agreementReturn(w http.ResponseWriter, r *http.Request) error {
	return h.step(w, r, "The agreement is returned for changes.", func(f *web.Form) (Order, error) {
		return h.S.ReturnAgreement(r.Context(), principal(r), r.PathValue("order"), f.Get("reason"), partyOf(f.Get("side")))
	})
}

func (h *Handlers) taskSet(w http.ResponseWriter, r *http.Request) error {
	o, err := h.S.GetOrder(r.Context(), principal(r), r.PathValue("order"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	t, err := h.S.SetTask(r.Context(), principal(r), o.ID, r.PathValue("task"), f.Get("done") == "yes", f.Get("note"))
	if err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			return h.K.Redirect(w, r, OrderURL(o.ID)+"#onboarding", "error", firstMessage(err))
		}
		return err
	}
	msg := "“" + t.Title + "” is done."
	if !t.Done() {
		msg = "“" + t.Title + "” is open again."
	}
	return h.K.Redirect(w, r, OrderURL(o.ID)+"#onboarding", "success", msg)
}

func (h *Handlers) onboardingComplete(w http.ResponseWriter, r *http.Request) error {
	return h.step(w, r, "Onboarding is complete: the subscription is active.", func(*web.Form) (Order, error) {
		return h.S.CompleteOnboarding(r.Context(), principal(r), r.PathValue("order"))
	})
}

func (h *Handlers) provisionRetry(w http.ResponseWriter, r *http.Request) error {
	return h.step(w, r, "Provisioning was tried again; see the order's status.", func(*web.Form) (Order, error) {
		return h.S.RetryProvisioning(r.Context(), principal(r), r.PathValue("order"))
	})
}
