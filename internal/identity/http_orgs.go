package identity

import (
	"net/http"
	"net/url"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
)

var kindOptions = []web.Option{
	{Value: "agency", Label: "Agency", Hint: "A member organization that uses the office's services. It can have sub-organizations."},
	{Value: "provider", Label: "Provider", Hint: "A service provider that lists offerings and serves agencies."},
}

type orgListData struct {
	Orgs    []Org
	Query   url.Values
	Kinds   []web.Option
	Parents map[string]string
}

func (h *Handlers) orgList(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	q := r.URL.Query()
	f := OrgFilter{Kind: authz.OrgKind(q.Get("kind")), Query: q.Get("q"), Status: q.Get("status")}
	if f.Kind != "" && !f.Kind.Valid() {
		f.Kind = ""
	}
	if f.Status != "active" && f.Status != "suspended" {
		f.Status = ""
	}
	orgs, err := h.S.ListOrgs(r.Context(), p, f)
	if err != nil {
		return err
	}
	orgs = TreeOrder(orgs)
	names := map[string]string{}
	all, _ := h.S.ListOrgs(r.Context(), p, OrgFilter{})
	for _, o := range all {
		names[o.ID] = o.Name
	}
	h.V.Render(w, r, http.StatusOK, "orgs", web.Page{Title: "Organizations", Wide: true, Form: web.NewForm(map[string]string{"q": f.Query, "kind": string(f.Kind), "status": f.Status}),
		Data: orgListData{Orgs: orgs, Query: q, Kinds: append([]web.Option{{Value: "office", Label: "Office"}}, kindOptions...), Parents: names}})
	return nil
}

func (h *Handlers) agencyOptions(r *http.Request) []web.Option {
	agencies, _ := h.S.ListOrgs(r.Context(), web.PrincipalFrom(r.Context()), OrgFilter{Kind: authz.Agency, Status: "active"})
	var out []web.Option
	for _, a := range agencies {
		out = append(out, web.Option{Value: a.ID, Label: a.Name})
	}
	return out
}

type orgFormData struct {
	Kinds    []web.Option
	Agencies []web.Option
	Org      Org
}

func (h *Handlers) orgNewForm(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	officeID, err := h.S.OfficeID(r.Context())
	if err != nil {
		return err
	}
	if err := h.S.Authz.Check(r.Context(), p, authz.OrgCreate, officeID); err != nil {
		return err
	}
	f := web.NewForm(map[string]string{"kind": r.URL.Query().Get("kind"), "parent_id": r.URL.Query().Get("parent")})
	h.V.Render(w, r, http.StatusOK, "org_new", web.Page{Title: "New organization", Form: f, Crumbs: []web.Crumb{{Label: "Organizations", Href: "/orgs"}},
		Data: orgFormData{Kinds: kindOptions, Agencies: h.agencyOptions(r)}})
	return nil
}

func orgInputFrom(f *web.Form) OrgInput {
	return OrgInput{Name: f.Get("name"), Slug: f.Get("slug"), Kind: authz.OrgKind(f.Get("kind")), ParentID: f.Get("parent_id"),
		AgencyCode: f.Get("agency_code"), ALC: f.Get("alc"), Description: f.Get("description")}
}

func (h *Handlers) orgCreate(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	o, err := h.S.CreateOrg(r.Context(), web.PrincipalFrom(r.Context()), orgInputFrom(f))
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		h.V.Render(w, r, http.StatusUnprocessableEntity, "org_new", web.Page{Title: "New organization", Form: f, Crumbs: []web.Crumb{{Label: "Organizations", Href: "/orgs"}},
			Data: orgFormData{Kinds: kindOptions, Agencies: h.agencyOptions(r)}})
		return nil
	}
	return h.K.Redirect(w, r, "/orgs/"+o.ID, "success", o.Name+" is created. Invite its first administrator next.")
}

type orgShowData struct {
	Org      Org
	Parent   *Org
	Children []Org
	Members  int
}

func (h *Handlers) loadOrg(r *http.Request) (Org, error) {
	return h.S.GetOrg(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("org"))
}

func orgCrumbs(p *authz.Principal) []web.Crumb {
	if p.IsOffice() {
		return []web.Crumb{{Label: "Organizations", Href: "/orgs"}}
	}
	return nil
}

func (h *Handlers) orgShow(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	d := orgShowData{Org: o}
	if o.ParentID != "" {
		if parent, err := h.S.GetOrg(r.Context(), p, o.ParentID); err == nil {
			d.Parent = &parent
		}
	}
	d.Children, err = h.S.ListOrgs(r.Context(), p, OrgFilter{ParentID: o.ID})
	if err != nil {
		return err
	}
	if members, err := h.S.ListMembers(r.Context(), p, o.ID); err == nil {
		d.Members = len(members)
	}
	h.V.Render(w, r, http.StatusOK, "org", web.Page{Title: o.Name, Side: orgSide(o), Crumbs: orgCrumbs(p), Data: d})
	return nil
}

func (h *Handlers) orgEditForm(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if err := h.S.Authz.Check(r.Context(), p, authz.OrgUpdate, o.ID); err != nil {
		return err
	}
	f := web.NewForm(map[string]string{"name": o.Name, "agency_code": o.AgencyCode, "alc": o.ALC, "description": o.Description})
	h.V.Render(w, r, http.StatusOK, "org_edit", web.Page{Title: "Edit " + o.Name, Side: orgSide(o), Form: f,
		Crumbs: append(orgCrumbs(p), web.Crumb{Label: o.Name, Href: "/orgs/" + o.ID}), Data: orgFormData{Org: o}})
	return nil
}

func (h *Handlers) orgUpdate(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if _, err := h.S.UpdateOrg(r.Context(), p, o.ID, orgInputFrom(f)); err != nil {
		if !f.Fail(err) {
			return err
		}
		h.V.Render(w, r, http.StatusUnprocessableEntity, "org_edit", web.Page{Title: "Edit " + o.Name, Side: orgSide(o), Form: f,
			Crumbs: append(orgCrumbs(p), web.Crumb{Label: o.Name, Href: "/orgs/" + o.ID}), Data: orgFormData{Org: o}})
		return nil
	}
	return h.K.Redirect(w, r, "/orgs/"+o.ID, "success", "The organization's profile is saved.")
}

func (h *Handlers) orgSuspend(w http.ResponseWriter, r *http.Request) error {
	return h.orgStatus(w, r, false)
}

func (h *Handlers) orgReactivate(w http.ResponseWriter, r *http.Request) error {
	return h.orgStatus(w, r, true)
}

func (h *Handlers) orgStatus(w http.ResponseWriter, r *http.Request, active bool) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	o, err = h.S.SetOrgStatus(r.Context(), web.PrincipalFrom(r.Context()), o.ID, active)
	if err != nil {
		return err
	}
	msg := o.Name + " is suspended: its people cannot use its roles until it is reactivated."
	if active {
		msg = o.Name + " is active again."
	}
	return h.K.Redirect(w, r, "/orgs/"+o.ID, "success", msg)
}

type membersData struct {
	Org         Org
	Members     []Member
	Invitations []Invitation
}

func (h *Handlers) memberList(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	members, err := h.S.ListMembers(r.Context(), p, o.ID)
	if err != nil {
		return err
	}
	inv, err := h.S.ListInvitations(r.Context(), p, o.ID)
	if err != nil {
		return err
	}
	h.V.Render(w, r, http.StatusOK, "members", web.Page{Title: "People", Side: orgSide(o),
		Crumbs: append(orgCrumbs(p), web.Crumb{Label: o.Name, Href: "/orgs/" + o.ID}), Data: membersData{Org: o, Members: members, Invitations: inv}})
	return nil
}

func roleOptions(k authz.OrgKind) []web.Option {
	var out []web.Option
	for _, r := range authz.RolesFor(k) {
		out = append(out, web.Option{Value: string(r), Label: r.Label(), Hint: r.About()})
	}
	return out
}

type inviteData struct {
	Org   Org
	Roles []web.Option
}

func (h *Handlers) inviteForm(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if err := h.S.Authz.Check(r.Context(), p, authz.UserManage, o.ID); err != nil {
		return err
	}
	h.renderInvite(w, r, http.StatusOK, o, web.NewForm(nil))
	return nil
}

func (h *Handlers) renderInvite(w http.ResponseWriter, r *http.Request, status int, o Org, f *web.Form) {
	p := web.PrincipalFrom(r.Context())
	h.V.Render(w, r, status, "member_invite", web.Page{Title: "Invite someone to " + o.Name, Side: orgSide(o), Form: f,
		Crumbs: append(orgCrumbs(p), web.Crumb{Label: o.Name, Href: "/orgs/" + o.ID}, web.Crumb{Label: "People", Href: "/orgs/" + o.ID + "/users"}),
		Data:   inviteData{Org: o, Roles: roleOptions(o.Kind)}})
}

func (h *Handlers) invite(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	res, err := h.S.Invite(r.Context(), web.PrincipalFrom(r.Context()), InviteInput{OrgID: o.ID, Email: f.Get("email"), Name: f.Get("name"), Role: authz.Role(f.Get("role"))})
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		h.renderInvite(w, r, web.Status(apperr.CodeOf(err)), o, f)
		return nil
	}
	msg := "We emailed an invitation to " + f.Get("email") + ". The link works for 7 days."
	if res.ExistingUser {
		msg = res.ExistingEmail + " already had a qsmo account and now has the role in " + o.Name + "."
	}
	return h.K.Redirect(w, r, "/orgs/"+o.ID+"/users", "success", msg)
}

type memberData struct {
	Org         Org
	User        User
	Roles       []authz.Role
	RoleOptions []web.Option
	Others      []authz.Membership
}

func (h *Handlers) memberShow(w http.ResponseWriter, r *http.Request) error {
	return h.renderMember(w, r, http.StatusOK, nil)
}

func (h *Handlers) renderMember(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if err := h.S.Authz.Check(r.Context(), p, authz.UserRead, o.ID); err != nil {
		return err
	}
	u, ms, err := h.S.GetUser(r.Context(), p, r.PathValue("user"))
	if err != nil {
		return err
	}
	d := memberData{Org: o, User: u, RoleOptions: roleOptions(o.Kind)}
	for _, m := range ms {
		if m.OrgID == o.ID {
			d.Roles = append(d.Roles, m.Role)
		} else {
			d.Others = append(d.Others, m)
		}
	}
	if len(d.Roles) == 0 {
		return apperr.NotFoundf("Member")
	}
	if f == nil {
		f = web.NewForm(nil)
		for _, role := range d.Roles {
			f.Values.Add("roles", string(role))
		}
	}
	h.V.Render(w, r, status, "member", web.Page{Title: u.Name, Side: orgSide(o), Form: f,
		Crumbs: append(orgCrumbs(p), web.Crumb{Label: o.Name, Href: "/orgs/" + o.ID}, web.Crumb{Label: "People", Href: "/orgs/" + o.ID + "/users"}), Data: d})
	return nil
}

func (h *Handlers) memberRoles(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	var roles []authz.Role
	for _, v := range f.List("roles") {
		roles = append(roles, authz.Role(v))
	}
	userID := r.PathValue("user")
	if err := h.S.SetRoles(r.Context(), web.PrincipalFrom(r.Context()), o.ID, userID, roles); err != nil {
		if !f.Fail(err) {
			return err
		}
		if msg := f.Errors["role"]; msg != "" {
			delete(f.Errors, "role")
			f.Errors["roles"] = msg
		}
		return h.renderMember(w, r, web.Status(apperr.CodeOf(err)), f)
	}
	if len(roles) == 0 {
		return h.K.Redirect(w, r, "/orgs/"+o.ID+"/users", "success", "The person was removed from "+o.Name+".")
	}
	return h.K.Redirect(w, r, "/orgs/"+o.ID+"/users/"+userID, "success", "Roles saved.")
}

func (h *Handlers) userSuspend(w http.ResponseWriter, r *http.Request) error {
	return h.userStatus(w, r, false)
}

func (h *Handlers) userReactivate(w http.ResponseWriter, r *http.Request) error {
	return h.userStatus(w, r, true)
}

func (h *Handlers) userStatus(w http.ResponseWriter, r *http.Request, active bool) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	u, err := h.S.SetUserStatus(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("user"), active)
	if err != nil {
		return err
	}
	back := web.SafeNext(f.Get("back"))
	msg := u.Name + " is suspended and signed out everywhere."
	if active {
		msg = u.Name + " can sign in again."
	}
	return h.K.Redirect(w, r, back, "success", msg)
}

func (h *Handlers) invitationRevoke(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if err := h.S.RevokeInvitation(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("invitation")); err != nil {
		return err
	}
	return h.K.Redirect(w, r, web.SafeNext(f.Get("back")), "success", "The invitation is revoked; its link no longer works.")
}

type tokensData struct {
	Org     Org
	Tokens  []Token
	Roles   []web.Option
	Created *NewToken
	Expiry  []web.Option
}

var expiryOptions = []web.Option{{Value: "30", Label: "30 days"}, {Value: "90", Label: "90 days"}, {Value: "365", Label: "1 year"}, {Value: "0", Label: "Never"}}

func (h *Handlers) renderTokens(w http.ResponseWriter, r *http.Request, status int, o Org, f *web.Form, created *NewToken) error {
	p := web.PrincipalFrom(r.Context())
	tokens, err := h.S.ListTokens(r.Context(), p, o.ID)
	if err != nil {
		return err
	}
	if f == nil {
		f = web.NewForm(map[string]string{"expires_in": "90"})
	}
	h.V.Render(w, r, status, "tokens", web.Page{Title: "API tokens", Side: orgSide(o), Form: f,
		Crumbs: append(orgCrumbs(p), web.Crumb{Label: o.Name, Href: "/orgs/" + o.ID}),
		Data:   tokensData{Org: o, Tokens: tokens, Roles: roleOptions(o.Kind), Created: created, Expiry: expiryOptions}})
	return nil
}

func (h *Handlers) tokenList(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	return h.renderTokens(w, r, http.StatusOK, o, nil, nil)
}

func (h *Handlers) tokenCreate(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	days := f.Int("expires_in", "the expiry")
	if err := f.Err(); err != nil {
		return h.renderTokens(w, r, http.StatusUnprocessableEntity, o, f, nil)
	}
	t, err := h.S.CreateToken(r.Context(), web.PrincipalFrom(r.Context()), TokenInput{OrgID: o.ID, Role: authz.Role(f.Get("role")), Name: f.Get("name"), ExpiresIn: daysDuration(days)})
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.renderTokens(w, r, web.Status(apperr.CodeOf(err)), o, f, nil)
	}
	// The secret is shown in this response only; it is stored hashed.
	return h.renderTokens(w, r, http.StatusCreated, o, nil, &t)
}

func (h *Handlers) tokenRevoke(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	t, err := h.S.GetToken(r.Context(), p, r.PathValue("token"))
	if err != nil {
		return err
	}
	if err := h.S.RevokeToken(r.Context(), p, t.ID); err != nil {
		return err
	}
	return h.K.Redirect(w, r, "/orgs/"+t.OrgID+"/tokens", "success", "The token “"+t.Name+"” is revoked and stops working now.")
}

// TreeOrder keeps the list's order but moves each sub-organization right
// after its parent (when the parent is in the list), so tables read as a
// tree.
func TreeOrder(orgs []Org) []Org {
	present := map[string]bool{}
	for _, o := range orgs {
		present[o.ID] = true
	}
	children := map[string][]Org{}
	var roots []Org
	for _, o := range orgs {
		if o.ParentID != "" && present[o.ParentID] {
			children[o.ParentID] = append(children[o.ParentID], o)
			continue
		}
		roots = append(roots, o)
	}
	out := make([]Org, 0, len(orgs))
	var walk func(o Org, depth int)
	walk = func(o Org, depth int) {
		out = append(out, o)
		if depth > 16 {
			return
		}
		for _, c := range children[o.ID] {
			walk(c, depth+1)
		}
	}
	for _, o := range roots {
		walk(o, 0)
	}
	return out
}
