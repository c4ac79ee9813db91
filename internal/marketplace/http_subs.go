package marketplace

import (
	"fmt"
	"net/http"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
	"github.com/qsmo/qsmo/internal/web"
)

type subsData struct {
	Subs   []Subscription
	Total  int
	Pager  pager
	Status string
}

func (h *Handlers) subscriptions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	status := q.Get("status")
	if status != SubscriptionActive && status != SubscriptionCancelled {
		status = ""
	}
	page := atoi(q.Get("page"), 1)
	subs, total, err := h.S.ListSubscriptions(r.Context(), principal(r), SubscriptionFilter{Status: status, Page: page})
	if err != nil {
		return err
	}
	q.Del("page")
	d := subsData{Subs: subs, Total: total, Status: status, Pager: pager{Page: max(1, page), Pages: max(1, (total+49)/50), Base: "/marketplace/subscriptions", Query: q}}
	h.render(w, r, http.StatusOK, "subscriptions", "Subscriptions", d, web.NewForm(map[string]string{"status": status}))
	return nil
}

type subData struct {
	Sub       Subscription
	Mods      []Modification
	Usage     []UsageTotal
	Month     string
	CanCancel bool
	CanEnd    bool
	Side      lifecycle.Party
	Decide    map[string]lifecycle.Action
	Tiers     []web.Option
	Rows      int
	Kinds     []web.Option
	Units     []web.Option
}

// CanDecide reports the viewer's possible decision on a modification.
func (d subData) CanDecide(modID string) string { return string(d.Decide[modID]) }

func (h *Handlers) subPage(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	ctx, p := r.Context(), principal(r)
	x, err := h.S.GetSubscription(ctx, p, r.PathValue("subscription"))
	if err != nil {
		return err
	}
	d := subData{Sub: x, Decide: map[string]lifecycle.Action{}, Kinds: kindOptions, Units: unitOptions(), Month: h.S.now().Format("January 2006")}
	if d.Mods, err = h.S.Modifications(ctx, p, x.ID); err != nil {
		return err
	}
	if d.Usage, err = h.S.MonthUsage(ctx, p, x.ID, h.S.now()); err != nil {
		return err
	}
	if x.Active() {
		d.CanCancel = h.S.Authz.CheckMember(ctx, p, authz.MarketOrderApprove, x.AgencyOrgID) == nil
		d.CanEnd = h.S.Authz.CheckMember(ctx, p, authz.MarketAgreementSign, x.ProviderOrgID) == nil
		if side, err := h.S.subParty(ctx, p, x, ""); err == nil {
			d.Side = side
		}
	}
	for _, m := range d.Mods {
		if m.Status != lifecycle.Proposed {
			continue
		}
		if side, err := h.S.subParty(ctx, p, x, m.Proposer); err == nil && side == m.Proposer {
			d.Decide[m.ID] = lifecycle.WithdrawModification
		} else if _, err := h.S.subParty(ctx, p, x, otherSide(m.Proposer)); err == nil {
			d.Decide[m.ID] = lifecycle.ApproveModification
		}
	}
	off, err := loadOffering(ctx, h.S.DB, x.OfferingID)
	if err != nil {
		return err
	}
	for _, t := range off.Tiers {
		if t.Listed || t.Tier == x.Tier {
			d.Tiers = append(d.Tiers, web.Option{Value: string(t.Tier), Label: t.Tier.Label()})
		}
	}
	if f == nil {
		vals, rows := lineRows(x.Rates, 2)
		vals["tier"], vals["quantity"] = string(x.Tier), fmt.Sprint(x.Quantity)
		f = web.NewForm(vals)
		d.Rows = rows
	} else {
		d.Rows = atoi(f.Get("rows"), len(x.Rates)+2)
	}
	h.render(w, r, status, "subscription", x.OfferingName+" for "+x.AgencyName, d, f, web.Crumb{Label: "Subscriptions", Href: "/marketplace/subscriptions"})
	return nil
}

func otherSide(p lifecycle.Party) lifecycle.Party {
	if p == lifecycle.Agency {
		return lifecycle.Provider
	}
	return lifecycle.Agency
}

func (h *Handlers) subscriptionShow(w http.ResponseWriter, r *http.Request) error {
	return h.subPage(w, r, http.StatusOK, nil)
}

func (h *Handlers) subscriptionCancel(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	x, err := h.S.GetSubscription(ctx, p, r.PathValue("subscription"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if f.Get("side") == "provider" {
		_, err = h.S.TerminateSubscription(ctx, p, x.ID, f.Get("reason"))
	} else {
		_, err = h.S.CancelSubscription(ctx, p, x.ID, f.Get("reason"))
	}
	if err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			return h.K.Redirect(w, r, SubscriptionURL(x.ID), "error", firstMessage(err))
		}
		return err
	}
	return h.K.Redirect(w, r, SubscriptionURL(x.ID), "success", "The subscription has ended; the other party is notified.")
}

func (h *Handlers) modificationPropose(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	x, err := h.S.GetSubscription(ctx, p, r.PathValue("subscription"))
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
	in := ModificationInput{Side: partyOf(f.Get("side")), Tier: maturity.Tier(f.Get("tier")), Quantity: f.Int("quantity", "the quantity"), Lines: lines,
		Note: f.Get("note"), Tracking: f.Get("tracking")}
	if err = f.Err(); err == nil {
		_, err = h.S.ProposeModification(ctx, p, x.ID, in)
	}
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.subPage(w, r, http.StatusUnprocessableEntity, f)
	}
	return h.K.Redirect(w, r, SubscriptionURL(x.ID), "success", "The modification is proposed; the other party is asked to approve it.")
}

func (h *Handlers) modificationDecide(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	x, m, err := h.S.GetModification(ctx, p, r.PathValue("modification"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	action := lifecycle.Action(f.Get("action"))
	m, err = h.S.DecideModification(ctx, p, m.ID, action, f.Get("tracking"), f.Get("note"))
	if err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			return h.K.Redirect(w, r, SubscriptionURL(x.ID), "error", firstMessage(err))
		}
		return err
	}
	return h.K.Redirect(w, r, SubscriptionURL(x.ID), "success", fmt.Sprintf("Modification %d is %s.", m.Number, lifecycle.Modifications.Label(m.Status)))
}

type exceptionsData struct {
	List   []Exception
	CanAsk bool
	Status string
}

func (h *Handlers) exceptions(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	status := r.URL.Query().Get("status")
	if status != "submitted" && status != "approved" && status != "declined" && status != "withdrawn" {
		status = ""
	}
	list, err := h.S.ListExceptions(r.Context(), p, status)
	if err != nil {
		return err
	}
	m := activeOrg(p)
	d := exceptionsData{List: list, Status: status, CanAsk: m.OrgKind == authz.Agency && m.Role.Has(authz.MarketOrderRequest)}
	h.render(w, r, http.StatusOK, "exceptions", "Go-it-alone requests", d, web.NewForm(map[string]string{"status": status}))
	return nil
}

type exceptionFormData struct {
	Agency authz.Membership
	Areas  []web.Option
}

func (h *Handlers) exceptionForm(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	m, err := agencyOf(principal(r))
	if err != nil {
		return err
	}
	d := exceptionFormData{Agency: m}
	areas, _ := h.S.Areas(r.Context())
	for _, a := range areas {
		d.Areas = append(d.Areas, web.Option{Value: a.ID, Label: a.Name})
	}
	h.render(w, r, status, "exception_new", "Ask to buy outside the marketplace", d, formOr(f, map[string]string{"area": r.URL.Query().Get("area")}),
		web.Crumb{Label: "Go-it-alone requests", Href: "/marketplace/exceptions"})
	return nil
}

func (h *Handlers) exceptionNew(w http.ResponseWriter, r *http.Request) error {
	return h.exceptionForm(w, r, http.StatusOK, nil)
}

func (h *Handlers) exceptionCreate(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	m, err := agencyOf(p)
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	in := ExceptionInput{AgencyOrgID: m.OrgID, AreaID: f.Get("area"), Vendor: f.Get("vendor"), Description: f.Get("description"),
		Justification: f.Get("justification"), AnnualCost: cents(f, "annual_cost", "the annual cost")}
	var e Exception
	if err = f.Err(); err == nil {
		e, err = h.S.RequestException(r.Context(), p, in)
	}
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.exceptionForm(w, r, http.StatusUnprocessableEntity, f)
	}
	return h.K.Redirect(w, r, ExceptionURL(e.ID), "success", "Your request is sent to the office.")
}

type exceptionData struct {
	Exception   Exception
	CanDecide   bool
	CanWithdraw bool
}

func (h *Handlers) exceptionShow(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	e, err := h.S.GetException(ctx, p, r.PathValue("exception"))
	if err != nil {
		return err
	}
	office, _ := h.S.OfficeID(ctx)
	d := exceptionData{Exception: e,
		CanDecide:   e.Status == lifecycle.Submitted && h.S.Authz.CheckMember(ctx, p, authz.MarketOrderReview, office) == nil,
		CanWithdraw: e.Status == lifecycle.Submitted && h.S.Authz.CheckMember(ctx, p, authz.MarketOrderRequest, e.AgencyOrgID) == nil}
	h.render(w, r, http.StatusOK, "exception", "Go-it-alone request: "+e.Vendor, d, web.NewForm(nil), web.Crumb{Label: "Go-it-alone requests", Href: "/marketplace/exceptions"})
	return nil
}

func (h *Handlers) exceptionDecide(w http.ResponseWriter, r *http.Request) error {
	ctx, p := r.Context(), principal(r)
	e, err := h.S.GetException(ctx, p, r.PathValue("exception"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	e, err = h.S.DecideException(ctx, p, e.ID, lifecycle.Action(f.Get("action")), f.Get("reason"))
	if err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			return h.K.Redirect(w, r, ExceptionURL(r.PathValue("exception")), "error", firstMessage(err))
		}
		return err
	}
	return h.K.Redirect(w, r, ExceptionURL(e.ID), "success", "The request is "+e.StatusLabel()+".")
}

// usageQuantity writes a usage total in its priced unit for people.
func usageQuantity(t UsageTotal) string {
	u := money.Units[t.Metric]
	if u.Scale > 1 {
		return fmt.Sprintf("%.2f %s", float64(t.Quantity)/float64(u.Scale), u.Per[len("per "):])
	}
	return formatInt(t.Quantity) + " " + u.Label
}

// Human writes the usage total for people.
func (t UsageTotal) Human() string { return usageQuantity(t) }
