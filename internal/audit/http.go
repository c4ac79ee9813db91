package audit

import (
	"embed"
	"net/http"
	"strconv"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Handlers serve the audit log's pages and API. Office staff with
// audit.read see everything; agency and provider admins see their own
// organizations' slice.
type Handlers struct {
	DB    *db.DB
	Authz *authz.Authorizer
	K     *web.Kit
	V     *web.Views
	// OrgName resolves organization IDs to names for display.
	OrgName func(r *http.Request, orgID string) string
}

// NewHandlers parses the templates.
func NewHandlers(d *db.DB, k *web.Kit, orgName func(*http.Request, string) string) *Handlers {
	return &Handlers{DB: d, Authz: k.Authz, K: k, V: k.MustViews(templateFS), OrgName: orgName}
}

// Register adds the audit routes.
func (h *Handlers) Register(r *web.Router) {
	r.Page("GET /audit", h.list)
	r.Page("GET /audit/{event}", h.show)
	r.API("GET /api/v1/audit", web.Doc{Summary: "List audit records visible to the caller, newest first", Tag: "Audit", Response: Page{},
		Query: []web.Param{{Name: "org", Description: "organization ID"}, {Name: "action", Description: "action prefix, e.g. user."},
			{Name: "actor", Description: "actor email, user ID or token ID"}, {Name: "target", Description: "target record ID"},
			{Name: "from", Description: "start date (YYYY-MM-DD, UTC)"}, {Name: "to", Description: "end date (YYYY-MM-DD, UTC), inclusive"},
			{Name: "before", Type: "integer", Description: "paging cursor from next_before"}, {Name: "limit", Type: "integer", Description: "1-500, default 50"}}}, h.apiList)
	r.API("GET /api/v1/audit/{event}", web.Doc{Summary: "Get one audit record", Tag: "Audit", Response: RecordJSON{}}, h.apiShow)
	h.K.AddNav(web.NavItem{Label: "Audit log", Href: "/audit", Order: 90, Visible: func(p *authz.Principal) bool { return authz.CanAnywhere(p, authz.AuditRead) }})
}

// filterFrom reads and checks the query, and narrows it to what the
// principal may read.
func (h *Handlers) filterFrom(r *http.Request) (Filter, error) {
	q := r.URL.Query()
	p := web.PrincipalFrom(r.Context())
	scope, err := h.Authz.ScopeFor(r.Context(), p, authz.AuditRead)
	if err != nil {
		return Filter{}, err
	}
	if !scope.All && len(scope.OrgIDs) == 0 {
		return Filter{}, apperr.New(apperr.Forbidden, "Your role does not include reading the audit log.")
	}
	f := Filter{Action: q.Get("action"), Actor: q.Get("actor"), TargetID: q.Get("target")}
	errs := map[string]string{}
	if org := q.Get("org"); org != "" {
		if !scope.Contains(org) {
			return Filter{}, apperr.NotFoundf("Organization")
		}
		f.OrgIDs = []string{org}
	} else if !scope.All {
		f.OrgIDs = scope.OrgIDs
	}
	if v := q.Get("from"); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			errs["from"] = "Enter the start date as YYYY-MM-DD."
		}
		f.From = t
	}
	if v := q.Get("to"); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			errs["to"] = "Enter the end date as YYYY-MM-DD."
		}
		f.To = t.Add(24 * time.Hour)
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			errs["before"] = "before is a positive record number."
		}
		f.BeforeSeq = n
	}
	f.Limit = 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			errs["limit"] = "limit is between 1 and 500."
		}
		f.Limit = n
	}
	if len(errs) > 0 {
		return f, apperr.Validation(errs)
	}
	return f, nil
}

type listData struct {
	Records []Record
	Next    int64
	NextURL string
	OrgName func(string) string
	Scoped  string
}

func (h *Handlers) list(w http.ResponseWriter, r *http.Request) error {
	form := web.NewForm(nil)
	for k, v := range r.URL.Query() {
		form.Values[k] = v
	}
	f, err := h.filterFrom(r)
	if err != nil {
		if !form.Fail(err) || apperr.Is(err, apperr.NotFound) {
			return err
		}
		h.V.Render(w, r, http.StatusUnprocessableEntity, "audit_list", web.Page{Title: "Audit log", Wide: true, Form: form, Data: listData{OrgName: func(string) string { return "" }}})
		return nil
	}
	recs, next, err := List(r.Context(), h.DB, f)
	if err != nil {
		return err
	}
	d := listData{Records: recs, Next: next, OrgName: func(id string) string { return h.OrgName(r, id) }}
	if next > 0 {
		q := r.URL.Query()
		q.Set("before", strconv.FormatInt(next, 10))
		d.NextURL = "/audit?" + q.Encode()
	}
	if org := r.URL.Query().Get("org"); org != "" {
		d.Scoped = h.OrgName(r, org)
	}
	h.V.Render(w, r, http.StatusOK, "audit_list", web.Page{Title: "Audit log", Wide: true, Form: form, Data: d})
	return nil
}

// load returns a record the principal may read; others are "not found".
func (h *Handlers) load(r *http.Request) (Record, error) {
	rec, err := Get(r.Context(), h.DB, r.PathValue("event"))
	if err != nil {
		return Record{}, apperr.NotFoundf("Audit record")
	}
	scope, err := h.Authz.ScopeFor(r.Context(), web.PrincipalFrom(r.Context()), authz.AuditRead)
	if err != nil {
		return Record{}, err
	}
	if !scope.Contains(rec.OrgID) {
		return Record{}, apperr.NotFoundf("Audit record")
	}
	return rec, nil
}

func (h *Handlers) show(w http.ResponseWriter, r *http.Request) error {
	rec, err := h.load(r)
	if err != nil {
		return err
	}
	h.V.Render(w, r, http.StatusOK, "audit_event", web.Page{Title: "Audit record " + strconv.FormatInt(rec.Seq, 10),
		Crumbs: []web.Crumb{{Label: "Audit log", Href: "/audit"}}, Data: map[string]any{"R": rec, "Org": h.OrgName(r, rec.OrgID)}})
	return nil
}

// RecordJSON is an audit record in the API.
type RecordJSON struct {
	Seq        int64     `json:"seq"`
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	ActorUser  string    `json:"actor_user_id,omitempty"`
	ActorToken string    `json:"actor_token_id,omitempty"`
	Actor      string    `json:"actor"`
	IP         string    `json:"ip,omitempty"`
	OrgID      string    `json:"org_id,omitempty"`
	Action     string    `json:"action"`
	TargetType string    `json:"target_type,omitempty"`
	TargetID   string    `json:"target_id,omitempty"`
	Summary    string    `json:"summary"`
	Before     any       `json:"before,omitempty"`
	After      any       `json:"after,omitempty"`
	PrevHash   string    `json:"prev_hash"`
	Hash       string    `json:"hash"`
}

// Page is a page of audit records.
type Page struct {
	Records    []RecordJSON `json:"records"`
	NextBefore int64        `json:"next_before,omitempty" doc:"pass as before= to get the next page"`
}

func recordJSON(r Record) RecordJSON {
	out := RecordJSON{Seq: r.Seq, ID: r.ID, At: r.At, ActorUser: r.Actor.UserID, ActorToken: r.Actor.TokenID, Actor: r.Actor.Label, IP: r.Actor.IP,
		OrgID: r.OrgID, Action: r.Action, TargetType: r.TargetType, TargetID: r.TargetID, Summary: r.Summary, PrevHash: r.PrevHash, Hash: r.Hash}
	if r.BeforeJSON != "" {
		out.Before = rawJSON(r.BeforeJSON)
	}
	if r.AfterJSON != "" {
		out.After = rawJSON(r.AfterJSON)
	}
	return out
}

type rawJSON string

func (j rawJSON) MarshalJSON() ([]byte, error) { return []byte(j), nil }

func (h *Handlers) apiList(w http.ResponseWriter, r *http.Request) error {
	f, err := h.filterFrom(r)
	if err != nil {
		return err
	}
	recs, next, err := List(r.Context(), h.DB, f)
	if err != nil {
		return err
	}
	out := Page{Records: []RecordJSON{}, NextBefore: next}
	for _, rec := range recs {
		out.Records = append(out.Records, recordJSON(rec))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiShow(w http.ResponseWriter, r *http.Request) error {
	rec, err := h.load(r)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, recordJSON(rec))
	return nil
}
