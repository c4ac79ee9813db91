package identity

import (
	"net/http"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
)

// OrgJSON is an organization in the API.
type OrgJSON struct {
	ID          string    `json:"id"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind" doc:"office, agency or provider"`
	ParentID    string    `json:"parent_id,omitempty"`
	AgencyCode  string    `json:"agency_code,omitempty"`
	ALC         string    `json:"alc,omitempty" doc:"agency location code (8 digits)"`
	Description string    `json:"description,omitempty"`
	Status      string    `json:"status" doc:"active or suspended"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func orgJSON(o Org) OrgJSON {
	return OrgJSON{ID: o.ID, Slug: o.Slug, Name: o.Name, Kind: string(o.Kind), ParentID: o.ParentID, AgencyCode: o.AgencyCode, ALC: o.ALC,
		Description: o.Description, Status: o.Status, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

// OrgCreateJSON is the body of POST /api/v1/orgs.
type OrgCreateJSON struct {
	Name        string `json:"name"`
	Slug        string `json:"slug,omitempty"`
	Kind        string `json:"kind"`
	ParentID    string `json:"parent_id,omitempty"`
	AgencyCode  string `json:"agency_code,omitempty"`
	ALC         string `json:"alc,omitempty"`
	Description string `json:"description,omitempty"`
}

// OrgUpdateJSON is the body of PATCH /api/v1/orgs/{org}; absent fields keep
// their value.
type OrgUpdateJSON struct {
	Name        *string `json:"name,omitempty"`
	AgencyCode  *string `json:"agency_code,omitempty"`
	ALC         *string `json:"alc,omitempty"`
	Description *string `json:"description,omitempty"`
	Status      *string `json:"status,omitempty" doc:"active or suspended"`
}

// MemberJSON is a person with their roles in one organization.
type MemberJSON struct {
	UserID      string    `json:"user_id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	Roles       []string  `json:"roles"`
	TOTPEnabled bool      `json:"totp_enabled"`
	LastSignIn  time.Time `json:"last_sign_in_at,omitzero"`
}

// UserJSON is a person and the memberships the caller may see.
type UserJSON struct {
	ID          string           `json:"id"`
	Email       string           `json:"email"`
	Name        string           `json:"name"`
	Status      string           `json:"status"`
	TOTPEnabled bool             `json:"totp_enabled"`
	Memberships []MembershipJSON `json:"memberships"`
	CreatedAt   time.Time        `json:"created_at"`
}

// MembershipJSON is a role in an organization.
type MembershipJSON struct {
	OrgID string `json:"org_id"`
	Org   string `json:"org"`
	Role  string `json:"role"`
}

// InviteJSON is the body of POST /api/v1/orgs/{org}/invitations.
type InviteJSON struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
	Role  string `json:"role"`
}

// InvitationJSON describes an invitation. The link itself is only emailed.
type InvitationJSON struct {
	ID           string    `json:"id,omitempty"`
	Email        string    `json:"email"`
	Role         string    `json:"role"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	ExistingUser bool      `json:"existing_user" doc:"true when the person already had an account and got the role directly"`
}

// RolesJSON is the body of PUT /api/v1/orgs/{org}/members/{user}.
type RolesJSON struct {
	Roles []string `json:"roles" doc:"the complete list of roles; empty removes the person from the organization"`
}

// TokenJSON is an API token's record.
type TokenJSON struct {
	ID         string    `json:"id"`
	OrgID      string    `json:"org_id"`
	Role       string    `json:"role"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// TokenCreateJSON is the body of POST /api/v1/orgs/{org}/tokens.
type TokenCreateJSON struct {
	Name          string `json:"name"`
	Role          string `json:"role"`
	ExpiresInDays int    `json:"expires_in_days,omitempty" doc:"0 or absent: never expires"`
}

// TokenSecretJSON is a created token with its secret, shown once.
type TokenSecretJSON struct {
	TokenJSON
	Token string `json:"token" doc:"the secret; store it now, it is never shown again"`
}

// MeJSON describes the caller.
type MeJSON struct {
	TokenID     string           `json:"token_id,omitempty"`
	UserID      string           `json:"user_id,omitempty"`
	Name        string           `json:"name"`
	Memberships []MembershipJSON `json:"memberships"`
}

func tokenJSON(t Token) TokenJSON {
	return TokenJSON{ID: t.ID, OrgID: t.OrgID, Role: string(t.Role), Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

func (h *Handlers) registerAPI(r *web.Router) {
	r.API("GET /api/v1/me", web.Doc{Summary: "Who am I", Tag: "Identity", Response: MeJSON{}}, h.apiMe)
	r.API("GET /api/v1/orgs", web.Doc{Summary: "List organizations visible to the caller", Tag: "Organizations", Response: []OrgJSON{},
		Query: []web.Param{{Name: "kind", Enum: []string{"office", "agency", "provider"}}, {Name: "q", Description: "matches name or slug"}, {Name: "status", Enum: []string{"active", "suspended"}}}}, h.apiOrgs)
	r.API("POST /api/v1/orgs", web.Doc{Summary: "Create an organization (office admins)", Tag: "Organizations", Request: OrgCreateJSON{}, Response: OrgJSON{}, Status: http.StatusCreated}, h.apiOrgCreate)
	r.API("GET /api/v1/orgs/{org}", web.Doc{Summary: "Get an organization by ID or slug", Tag: "Organizations", Response: OrgJSON{}}, h.apiOrg)
	r.API("PATCH /api/v1/orgs/{org}", web.Doc{Summary: "Update an organization's profile or status", Tag: "Organizations", Request: OrgUpdateJSON{}, Response: OrgJSON{}}, h.apiOrgUpdate)
	r.API("GET /api/v1/orgs/{org}/members", web.Doc{Summary: "List an organization's people and their roles", Tag: "People", Response: []MemberJSON{}}, h.apiMembers)
	r.API("POST /api/v1/orgs/{org}/invitations", web.Doc{Summary: "Invite a person with a role", Tag: "People", Request: InviteJSON{}, Response: InvitationJSON{}, Status: http.StatusCreated}, h.apiInvite)
	r.API("PUT /api/v1/orgs/{org}/members/{user}", web.Doc{Summary: "Set a member's roles", Tag: "People", Request: RolesJSON{}, Response: MemberJSON{}}, h.apiSetRoles)
	r.API("GET /api/v1/users/{user}", web.Doc{Summary: "Get a person", Tag: "People", Response: UserJSON{}}, h.apiUser)
	r.API("POST /api/v1/users/{user}/suspend", web.Doc{Summary: "Suspend a person and end their sessions", Tag: "People", Response: UserJSON{}}, h.apiUserSuspend)
	r.API("POST /api/v1/users/{user}/reactivate", web.Doc{Summary: "Reactivate a suspended person", Tag: "People", Response: UserJSON{}}, h.apiUserReactivate)
	r.API("GET /api/v1/orgs/{org}/tokens", web.Doc{Summary: "List an organization's API tokens", Tag: "Tokens", Response: []TokenJSON{}}, h.apiTokens)
	r.API("POST /api/v1/orgs/{org}/tokens", web.Doc{Summary: "Create an API token (the secret is in this response only)", Tag: "Tokens", Request: TokenCreateJSON{}, Response: TokenSecretJSON{}, Status: http.StatusCreated}, h.apiTokenCreate)
	r.API("DELETE /api/v1/tokens/{token}", web.Doc{Summary: "Revoke an API token", Tag: "Tokens", Status: http.StatusNoContent}, h.apiTokenRevoke)
}

func membershipsJSON(ms []authz.Membership) []MembershipJSON {
	out := []MembershipJSON{}
	for _, m := range ms {
		out = append(out, MembershipJSON{OrgID: m.OrgID, Org: m.OrgName, Role: string(m.Role)})
	}
	return out
}

func (h *Handlers) apiMe(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	web.JSON(w, http.StatusOK, MeJSON{TokenID: p.TokenID, UserID: p.UserID, Name: p.Name, Memberships: membershipsJSON(p.Memberships)})
	return nil
}

func (h *Handlers) apiOrgs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	kind := authz.OrgKind(q.Get("kind"))
	if kind != "" && !kind.Valid() {
		return apperr.Validation(map[string]string{"kind": "kind is office, agency or provider."})
	}
	status := q.Get("status")
	if status != "" && status != "active" && status != "suspended" {
		return apperr.Validation(map[string]string{"status": "status is active or suspended."})
	}
	orgs, err := h.S.ListOrgs(r.Context(), web.PrincipalFrom(r.Context()), OrgFilter{Kind: kind, Query: q.Get("q"), Status: status})
	if err != nil {
		return err
	}
	out := []OrgJSON{}
	for _, o := range orgs {
		out = append(out, orgJSON(o))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiOrgCreate(w http.ResponseWriter, r *http.Request) error {
	var in OrgCreateJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	o, err := h.S.CreateOrg(r.Context(), web.PrincipalFrom(r.Context()), OrgInput{Name: in.Name, Slug: in.Slug, Kind: authz.OrgKind(in.Kind),
		ParentID: in.ParentID, AgencyCode: in.AgencyCode, ALC: in.ALC, Description: in.Description})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/orgs/"+o.ID)
	web.JSON(w, http.StatusCreated, orgJSON(o))
	return nil
}

func (h *Handlers) apiOrg(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, orgJSON(o))
	return nil
}

func (h *Handlers) apiOrgUpdate(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	var in OrgUpdateJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if in.Status != nil && *in.Status != "active" && *in.Status != "suspended" {
		return apperr.Validation(map[string]string{"status": "status is active or suspended."})
	}
	if in.Name != nil || in.AgencyCode != nil || in.ALC != nil || in.Description != nil {
		upd := OrgInput{Name: o.Name, AgencyCode: o.AgencyCode, ALC: o.ALC, Description: o.Description}
		set := func(dst *string, src *string) {
			if src != nil {
				*dst = *src
			}
		}
		set(&upd.Name, in.Name)
		set(&upd.AgencyCode, in.AgencyCode)
		set(&upd.ALC, in.ALC)
		set(&upd.Description, in.Description)
		if o, err = h.S.UpdateOrg(r.Context(), p, o.ID, upd); err != nil {
			return err
		}
	}
	if in.Status != nil {
		if o, err = h.S.SetOrgStatus(r.Context(), p, o.ID, *in.Status == "active"); err != nil {
			return err
		}
	}
	web.JSON(w, http.StatusOK, orgJSON(o))
	return nil
}

func memberJSON(m Member) MemberJSON {
	roles := []string{}
	for _, r := range m.Roles {
		roles = append(roles, string(r))
	}
	return MemberJSON{UserID: m.ID, Email: m.Email, Name: m.Name, Status: m.Status, Roles: roles, TOTPEnabled: m.TOTPEnabled, LastSignIn: m.LastSignInAt}
}

func (h *Handlers) apiMembers(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	ms, err := h.S.ListMembers(r.Context(), web.PrincipalFrom(r.Context()), o.ID)
	if err != nil {
		return err
	}
	out := []MemberJSON{}
	for _, m := range ms {
		out = append(out, memberJSON(m))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiInvite(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	var in InviteJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	res, err := h.S.Invite(r.Context(), web.PrincipalFrom(r.Context()), InviteInput{OrgID: o.ID, Email: in.Email, Name: in.Name, Role: authz.Role(in.Role)})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, InvitationJSON{ID: res.Invitation.ID, Email: normalizeEmail(in.Email), Role: in.Role, ExpiresAt: res.Invitation.ExpiresAt, ExistingUser: res.ExistingUser})
	return nil
}

func (h *Handlers) apiSetRoles(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	var in RolesJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	roles := []authz.Role{}
	for _, x := range in.Roles {
		roles = append(roles, authz.Role(x))
	}
	userID := r.PathValue("user")
	if err := h.S.SetRoles(r.Context(), p, o.ID, userID, roles); err != nil {
		return err
	}
	ms, err := h.S.ListMembers(r.Context(), p, o.ID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.ID == userID {
			web.JSON(w, http.StatusOK, memberJSON(m))
			return nil
		}
	}
	web.JSON(w, http.StatusOK, MemberJSON{UserID: userID, Roles: []string{}})
	return nil
}

func userJSON(u User, ms []authz.Membership) UserJSON {
	return UserJSON{ID: u.ID, Email: u.Email, Name: u.Name, Status: u.Status, TOTPEnabled: u.TOTPEnabled, Memberships: membershipsJSON(ms), CreatedAt: u.CreatedAt}
}

func (h *Handlers) apiUser(w http.ResponseWriter, r *http.Request) error {
	u, ms, err := h.S.GetUser(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("user"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, userJSON(u, ms))
	return nil
}

func (h *Handlers) apiUserSuspend(w http.ResponseWriter, r *http.Request) error {
	return h.apiUserStatus(w, r, false)
}

func (h *Handlers) apiUserReactivate(w http.ResponseWriter, r *http.Request) error {
	return h.apiUserStatus(w, r, true)
}

func (h *Handlers) apiUserStatus(w http.ResponseWriter, r *http.Request, active bool) error {
	p := web.PrincipalFrom(r.Context())
	if _, err := h.S.SetUserStatus(r.Context(), p, r.PathValue("user"), active); err != nil {
		return err
	}
	u, ms, err := h.S.GetUser(r.Context(), p, r.PathValue("user"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, userJSON(u, ms))
	return nil
}

func (h *Handlers) apiTokens(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	ts, err := h.S.ListTokens(r.Context(), web.PrincipalFrom(r.Context()), o.ID)
	if err != nil {
		return err
	}
	out := []TokenJSON{}
	for _, t := range ts {
		out = append(out, tokenJSON(t))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func daysDuration(days int64) time.Duration { return time.Duration(days) * 24 * time.Hour }

func (h *Handlers) apiTokenCreate(w http.ResponseWriter, r *http.Request) error {
	o, err := h.loadOrg(r)
	if err != nil {
		return err
	}
	var in TokenCreateJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.ExpiresInDays < 0 {
		return apperr.Validation(map[string]string{"expires_in_days": "expires_in_days is 0 (never) or a positive number of days."})
	}
	t, err := h.S.CreateToken(r.Context(), web.PrincipalFrom(r.Context()), TokenInput{OrgID: o.ID, Role: authz.Role(in.Role), Name: in.Name, ExpiresIn: daysDuration(int64(in.ExpiresInDays))})
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, TokenSecretJSON{TokenJSON: tokenJSON(t.Token), Token: t.Secret})
	return nil
}

func (h *Handlers) apiTokenRevoke(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.RevokeToken(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("token")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
