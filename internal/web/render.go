package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
)

//go:embed templates/*.html
var layoutFS embed.FS

// Crumb is one step of the breadcrumb trail.
type Crumb struct {
	Label string
	Href  string
}

// NavItem is a header or side navigation entry.
type NavItem struct {
	Label string
	Href  string
	// HrefFor computes the link per principal (e.g. "my organization").
	HrefFor func(p *authz.Principal) string
	// Match marks the item current for paths with this prefix (default Href).
	Match string
	Order int
	// Visible decides whether the principal sees the item; nil means every
	// signed-in user.
	Visible func(p *authz.Principal) bool
	Current bool
}

// SideNav is a section's side navigation.
type SideNav struct {
	Title string
	Items []NavItem
}

// Page is what every template receives.
type Page struct {
	Title  string
	Crumbs []Crumb
	Side   *SideNav
	Form   *Form
	Data   any
	// Wide drops the side column and uses the full grid width.
	Wide bool

	// Filled in by Render.
	P          *authz.Principal
	Session    SessionInfo
	Nav        []NavItem
	Flashes    []FlashMsg
	OfficeName string
	Path       string
	Status     int
	Version    string
	ctx        context.Context
	kit        *Kit
	loc        *time.Location
}

// Can reports whether the viewer may exercise perm on orgID, for showing
// buttons. The services still check every action.
func (p Page) Can(perm string, orgID string) bool {
	if p.kit == nil || p.P == nil {
		return false
	}
	return p.kit.Authz.Can(p.ctx, p.P, authz.Permission(perm), orgID)
}

// CanAnywhere reports whether any of the viewer's roles grants perm.
func (p Page) CanAnywhere(perm string) bool { return authz.CanAnywhere(p.P, authz.Permission(perm)) }

// Active returns the viewer's active membership.
func (p Page) Active() authz.Membership {
	m, _ := p.P.ActiveMembership()
	return m
}

// Time formats t in the viewer's time zone.
func (p Page) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	loc := p.loc
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Jan 2, 2006 3:04 PM MST")
}

// Short formats t compactly for tables: "2026-11-22 08:30".
func (p Page) Short(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	loc := p.loc
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04")
}

// Date formats t's date in the viewer's time zone.
func (p Page) Date(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	loc := p.loc
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Jan 2, 2006")
}

// Views renders a package's pages inside the shared layout.
type Views struct {
	kit   *Kit
	pages map[string]*template.Template
}

// Funcs are the template functions every page can use.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"field":     newField,
		"roleLabel": func(r authz.Role) string { return r.Label() },
		"kindLabel": func(k authz.OrgKind) string { return k.Label() },
		"ago":       ago,
		"join":      strings.Join,
		"lower":     strings.ToLower,
		"title":     func(s string) string { return strings.ToUpper(s[:min(1, len(s))]) + s[min(1, len(s)):] },
		"query":     func(v url.Values) template.URL { return template.URL(v.Encode()) },
		"add":       func(a, b int) int { return a + b },
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return fmt.Sprintf("%d %s", n, one)
			}
			return fmt.Sprintf("%d %s", n, many)
		},
		"cents":   FormatCents,
		"percent": func(part, whole int) string { return Percent(part, whole) },
		"seq": func(n int) []int {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out
		},
		"list": func(pairs ...string) []Option {
			var out []Option
			for i := 0; i+1 < len(pairs); i += 2 {
				out = append(out, Option{Value: pairs[i], Label: pairs[i+1]})
			}
			return out
		},
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		},
	}
}

// FormatCents formats integer cents as dollars: 123456 -> "$1,234.56".
func FormatCents(c int64) string {
	neg := c < 0
	if neg {
		c = -c
	}
	d := fmt.Sprint(c / 100)
	var b strings.Builder
	for i, r := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	s := fmt.Sprintf("$%s.%02d", b.String(), c%100)
	if neg {
		return "−" + s
	}
	return s
}

// Percent formats part/whole as a whole percentage, "—" when whole is 0.
func Percent(part, whole int) string {
	if whole == 0 {
		return "—"
	}
	return fmt.Sprintf("%d%%", (part*100+whole/2)/whole)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	default:
		return plural(int(d.Hours()/24), "day") + " ago"
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// MustViews parses every *.html file of fsys as a page (each defines
// "content", and may define "title" hints), together with the shared layout
// and partials; files named _*.html define partials shared by the package's
// pages. A parse error is a programming error and panics at start.
func (k *Kit) MustViews(fsys fs.FS) *Views {
	base := template.Must(template.New("layout").Funcs(Funcs()).ParseFS(layoutFS, "templates/*.html"))
	v := &Views{kit: k, pages: map[string]*template.Template{}}
	// The layout's own pages (errors) are available from every Views.
	for _, name := range []string{"error"} {
		v.pages[name] = base
	}
	if fsys == nil {
		return v
	}
	files, err := fs.Glob(fsys, "*.html")
	if err != nil {
		panic(err)
	}
	if len(files) == 0 {
		files, _ = fs.Glob(fsys, "templates/*.html")
	}
	// Files whose names start with "_" hold partials shared by the
	// package's pages; every other file is a page.
	for _, f := range files {
		if !strings.HasPrefix(path.Base(f), "_") {
			continue
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			panic(err)
		}
		template.Must(base.New(path.Base(f)).Parse(string(b)))
	}
	for _, f := range files {
		if strings.HasPrefix(path.Base(f), "_") {
			continue
		}
		t := template.Must(base.Clone())
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			panic(err)
		}
		template.Must(t.New(path.Base(f)).Parse(string(b)))
		v.pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return v
}

// Render writes page name with status inside the layout.
func (v *Views) Render(w http.ResponseWriter, r *http.Request, status int, name string, pg Page) {
	t, ok := v.pages[name]
	if !ok {
		v.kit.Error(w, r, apperr.Wrap(fmt.Errorf("no template %q", name), "web: render"))
		return
	}
	v.kit.fillPage(w, r, &pg, status)
	var buf bytes.Buffer
	entry := "page"
	if name == "error" {
		entry = "error-page"
	}
	if err := t.ExecuteTemplate(&buf, entry, pg); err != nil {
		v.kit.Opts.Log.Error("render", "template", name, "err", err)
		http.Error(w, "The page could not be shown. The error has been logged.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (k *Kit) fillPage(w http.ResponseWriter, r *http.Request, pg *Page, status int) {
	pg.P = PrincipalFrom(r.Context())
	pg.Session, _ = SessionFrom(r.Context())
	pg.OfficeName = k.Opts.OfficeName
	pg.Path = r.URL.Path
	pg.Status = status
	pg.Version = k.Opts.Version
	pg.ctx = r.Context()
	pg.kit = k
	pg.Flashes = k.takeFlashes(w, r)
	pg.loc = time.UTC
	if pg.Session.TimeZone != "" {
		if loc, err := time.LoadLocation(pg.Session.TimeZone); err == nil {
			pg.loc = loc
		}
	}
	if pg.P != nil && !pg.P.IsToken() {
		pg.Nav = k.navFor(pg.P, r.URL.Path)
	}
	if pg.Side != nil {
		items := make([]NavItem, 0, len(pg.Side.Items))
		for _, it := range pg.Side.Items {
			if it.Visible != nil && !it.Visible(pg.P) {
				continue
			}
			it.Current = isCurrent(it, r.URL.Path)
			items = append(items, it)
		}
		side := *pg.Side
		side.Items = items
		pg.Side = &side
	}
}

// AddNav adds a header navigation entry.
func (k *Kit) AddNav(items ...NavItem) {
	k.nav = append(k.nav, items...)
	sort.SliceStable(k.nav, func(i, j int) bool { return k.nav[i].Order < k.nav[j].Order })
}

func (k *Kit) navFor(p *authz.Principal, current string) []NavItem {
	var out []NavItem
	for _, it := range k.nav {
		if it.Visible != nil && !it.Visible(p) {
			continue
		}
		if it.HrefFor != nil {
			it.Href = it.HrefFor(p)
		}
		it.Current = isCurrent(it, current)
		out = append(out, it)
	}
	return out
}

func isCurrent(it NavItem, current string) bool {
	m := it.Match
	if m == "" {
		m = it.Href
	}
	if m == "/" {
		return current == "/"
	}
	return current == m || strings.HasPrefix(current, strings.TrimSuffix(m, "/")+"/")
}

// Error renders the error page for err: 404 for things that do not exist
// or are not visible, 403 where the role lacks the function, and 500 with a
// generic message for internal errors (logged with their cause).
func (k *Kit) Error(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errAlreadySignedIn) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	k.logError(r, err)
	code := apperr.CodeOf(err)
	status := Status(code)
	title := map[int]string{
		http.StatusNotFound:            "Page not found",
		http.StatusForbidden:           "You do not have access to this",
		http.StatusUnauthorized:        "Sign in to continue",
		http.StatusConflict:            "This cannot be done now",
		http.StatusUnprocessableEntity: "Check your input",
		http.StatusTooManyRequests:     "Too many requests",
	}[status]
	if title == "" {
		title = "Something went wrong"
	}
	msg := apperr.MessageOf(err)
	if status == http.StatusNotFound {
		msg = "We can’t find the page you’re looking for. It may have moved, or you may not have access to it."
	}
	k.errView.Render(w, r, status, "error", Page{Title: title, Data: map[string]any{"Message": msg, "Code": status}})
}
