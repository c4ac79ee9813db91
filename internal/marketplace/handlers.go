package marketplace

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
	"github.com/qsmo/qsmo/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Handlers serve the marketplace's pages and API.
type Handlers struct {
	S *Service
	K *web.Kit
	V *web.Views
	// OfficeName names the office in the public feed.
	OfficeName string

	office officeView
}

// NewHandlers parses the templates.
func NewHandlers(s *Service, k *web.Kit, officeName string) *Handlers {
	return &Handlers{S: s, K: k, V: k.MustViews(templateFS), OfficeName: officeName}
}

func principal(r *http.Request) *authz.Principal { return web.PrincipalFrom(r.Context()) }

// activeOrg is the organization the person works in now (a token's own).
func activeOrg(p *authz.Principal) authz.Membership {
	m, _ := p.ActiveMembership()
	return m
}

// side is the marketplace's side navigation; entries show by role.
func side() *web.SideNav {
	can := func(perm authz.Permission) func(*authz.Principal) bool {
		return func(p *authz.Principal) bool { return authz.CanAnywhere(p, perm) }
	}
	kind := func(k authz.OrgKind, perm authz.Permission) func(*authz.Principal) bool {
		return func(p *authz.Principal) bool {
			m := activeOrg(p)
			return m.OrgKind == k && m.Role.Has(perm)
		}
	}
	return &web.SideNav{Title: "Marketplace", Items: []web.NavItem{
		{Label: "Dashboard", Href: "/marketplace/dashboard"},
		{Label: "Storefront", Href: "/marketplace", Match: "/marketplace/offerings"},
		{Label: "Compare", Href: "/marketplace/compare"},
		{Label: "Service areas", Href: "/marketplace/areas"},
		{Label: "Standards", Href: "/marketplace/standards"},
		{Label: "Maturity assessments", Href: "/marketplace/assessments", Visible: kind(authz.Agency, authz.MarketAssessmentRead)},
		{Label: "Recommendations", Href: "/marketplace/recommendations", Visible: kind(authz.Agency, authz.MarketAssessmentRead)},
		{Label: "Orders", Href: "/marketplace/orders", Visible: can(authz.MarketOrderRead)},
		{Label: "Subscriptions", Href: "/marketplace/subscriptions", Visible: can(authz.MarketOrderRead)},
		{Label: "Go-it-alone requests", Href: "/marketplace/exceptions", Visible: func(p *authz.Principal) bool {
			m := activeOrg(p)
			return m.OrgKind == authz.Office && m.Role.Has(authz.MarketOrderReview) || m.OrgKind == authz.Agency && m.Role.Has(authz.MarketOrderRead)
		}},
		{Label: "Reviews", Href: "/marketplace/reviews", Visible: kind(authz.Office, authz.MarketInsightsRead)},
		{Label: "My offerings", Href: "/marketplace/provider", Visible: func(p *authz.Principal) bool {
			m := activeOrg(p)
			return m.Role.Has(authz.MarketOfferingRead) && (m.OrgKind == authz.Provider || m.Role.Has(authz.MarketOfferingManage))
		}},
		{Label: "Statements", Href: "/marketplace/statements", Visible: can(authz.MarketBillingRead)},
		{Label: "Cost avoidance", Href: "/marketplace/cost-avoidance", Visible: can(authz.MarketBillingRead)},
	}}
}

var crumbs = []web.Crumb{{Label: "Marketplace", Href: "/marketplace"}}

func (h *Handlers) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any, f *web.Form, extra ...web.Crumb) {
	h.V.Render(w, r, status, name, web.Page{Title: title, Side: side(), Crumbs: append(append([]web.Crumb{}, crumbs...), extra...), Data: data, Form: f})
}

// formOr returns the form being redisplayed, or a new one.
func formOr(f *web.Form, values map[string]string) *web.Form {
	if f != nil {
		return f
	}
	return web.NewForm(values)
}

// failOr redisplays a form with the error when it is about the input, and
// returns other errors to the kit.
func failOr(f *web.Form, err error, redisplay func()) error {
	if f.Fail(err) {
		redisplay()
		return nil
	}
	return err
}

func atoi(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

// pager is the data of the shared pagination partial.
type pager struct {
	Page, Pages int
	Base        string
	Query       url.Values
}

// Href is the link to page n.
func (p pager) Href(n int) string {
	q := url.Values{}
	for k, v := range p.Query {
		q[k] = v
	}
	q.Set("page", strconv.Itoa(n))
	return p.Base + "?" + q.Encode()
}

// Prev and Next are the neighbouring pages, 0 when there is none.
func (p pager) Prev() int {
	if p.Page > 1 {
		return p.Page - 1
	}
	return 0
}

// Next is the following page, 0 when there is none.
func (p pager) Next() int {
	if p.Page < p.Pages {
		return p.Page + 1
	}
	return 0
}

// parseLines reads price lines from a form's rows: kind_N, unit_N, desc_N,
// qty_N, from_N and price_N for N from 0. A row without kind and price is
// skipped. It is a parser of outside input and is fuzzed.
func parseLines(f *web.Form, rows int) ([]money.Line, map[string]string) {
	errs := map[string]string{}
	var out []money.Line
	for i := 0; i < rows && i < 50; i++ {
		n := strconv.Itoa(i)
		kind, price := f.Get("kind_"+n), f.Get("price_"+n)
		if kind == "" && price == "" {
			continue
		}
		l := money.Line{Kind: money.Kind(kind), Unit: f.Get("unit_" + n), Description: f.Get("desc_" + n), Quantity: 1}
		if !l.Kind.Valid() {
			errs["kind_"+n] = fmt.Sprintf("Row %d: choose monthly, one-time or usage.", i+1)
			continue
		}
		c, err := money.Parse(price)
		if err != nil {
			errs["price_"+n] = fmt.Sprintf("Row %d: enter the price in dollars, like 1250.00.", i+1)
			continue
		}
		l.UnitPrice = c
		if q := f.Get("qty_" + n); q != "" {
			v, err := strconv.ParseInt(strings.ReplaceAll(q, ",", ""), 10, 64)
			if err != nil || v < 1 || v > 1_000_000_000 {
				errs["qty_"+n] = fmt.Sprintf("Row %d: the quantity is a whole number from 1.", i+1)
				continue
			}
			l.Quantity = v
		}
		if fr := f.Get("from_" + n); fr != "" {
			v, err := strconv.ParseInt(strings.ReplaceAll(fr, ",", ""), 10, 64)
			if err != nil || v < 0 || v > 1<<53 {
				errs["from_"+n] = fmt.Sprintf("Row %d: the band start is a whole number of units.", i+1)
				continue
			}
			l.FromUnits = v
		}
		out = append(out, l)
	}
	return out, errs
}

// lineRows turns lines into form values for the editor, with extra empty
// rows to add more.
func lineRows(lines []money.Line, extra int) (map[string]string, int) {
	v := map[string]string{}
	for i, l := range lines {
		n := strconv.Itoa(i)
		v["kind_"+n], v["unit_"+n], v["desc_"+n] = string(l.Kind), l.Unit, l.Description
		v["qty_"+n] = strconv.FormatInt(l.Quantity, 10)
		v["from_"+n] = strconv.FormatInt(l.FromUnits, 10)
		v["price_"+n] = money.Decimal(l.UnitPrice)
	}
	return v, len(lines) + extra
}

// unitOptions lists every unit for the line editor.
func unitOptions() []web.Option {
	var out []web.Option
	for _, k := range []string{"month", "seat", "each"} {
		out = append(out, web.Option{Value: k, Label: money.Units[k].Per})
	}
	for _, k := range money.MeteredUnits() {
		out = append(out, web.Option{Value: k, Label: money.Units[k].Per})
	}
	return out
}

var kindOptions = []web.Option{{Value: "recurring", Label: "Monthly"}, {Value: "one_time", Label: "One-time"}, {Value: "usage", Label: "Usage"}}

func tierOptions() []web.Option {
	var out []web.Option
	for _, t := range maturity.Tiers() {
		out = append(out, web.Option{Value: string(t), Label: t.Label()})
	}
	return out
}

func tiersFrom(vals []string) []maturity.Tier {
	var out []maturity.Tier
	for _, v := range vals {
		out = append(out, maturity.Tier(v))
	}
	return out
}

// date parses a yyyy-mm-dd form value.
func date(f *web.Form, name, label string) time.Time { return f.Date(name, label) }

// cents reads a dollar amount from a form.
func cents(f *web.Form, name, label string) int64 {
	v := f.Get(name)
	if v == "" {
		return 0
	}
	c, err := money.Parse(v)
	if err != nil {
		f.Errors[name] = "Enter " + label + " in dollars, like 1250.00."
	}
	return c
}

// maxUpload bounds an upload's request body: the file limit plus room for
// the other fields.
func (h *Handlers) maxUpload() int64 { return h.S.MaxFileBytes + 64<<10 }

// parseUpload reads a multipart form with one file field "file", bounded.
func (h *Handlers) parseUpload(w http.ResponseWriter, r *http.Request) (*web.Form, FileMeta, []byte, error) {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxUpload())
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, FileMeta{}, nil, apperr.Validation(map[string]string{"file": fmt.Sprintf("The file is larger than %d MB.", h.S.MaxFileBytes>>20)})
		}
		return nil, FileMeta{}, nil, apperr.New(apperr.Invalid, "The upload could not be read. Choose the file again.")
	}
	f := &web.Form{Values: r.PostForm, Errors: map[string]string{}}
	file, hdr, err := r.FormFile("file")
	if err != nil {
		return f, FileMeta{}, nil, nil
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, h.S.MaxFileBytes+1))
	if err != nil {
		return f, FileMeta{}, nil, apperr.New(apperr.Invalid, "The upload could not be read. Choose the file again.")
	}
	return f, FileMeta{Name: hdr.Filename, DeclaredType: hdr.Header.Get("Content-Type")}, data, nil
}

// partyOf reads a "side" form value.
func partyOf(v string) lifecycle.Party {
	switch v {
	case "agency":
		return lifecycle.Agency
	case "provider":
		return lifecycle.Provider
	}
	return ""
}
