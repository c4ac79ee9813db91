package authz

import (
	"context"
	"fmt"

	"github.com/qsmo/qsmo/internal/apperr"
)

// Membership is a role held in an organization.
type Membership struct {
	OrgID   string
	OrgKind OrgKind
	OrgName string
	OrgSlug string
	Role    Role
}

// Principal is who is asking: a signed-in user, or an API token acting for
// its organization with one role.
type Principal struct {
	UserID  string
	TokenID string
	Email   string
	Name    string
	// Memberships are the principal's roles; for a token, exactly one.
	Memberships []Membership
	// ActiveOrgID is the organization the user is working in now (pages
	// default to it); it is always one of the memberships' organizations.
	ActiveOrgID string
	// MFA reports whether the session passed a second factor.
	MFA bool
}

// IsToken reports whether the principal is an API token.
func (p *Principal) IsToken() bool { return p != nil && p.TokenID != "" }

// Label names the principal for logs and the audit trail.
func (p *Principal) Label() string {
	switch {
	case p == nil:
		return "anonymous"
	case p.TokenID != "":
		return "token " + p.TokenID
	default:
		return p.Email
	}
}

// ActiveMembership returns a membership in the active organization (the
// first one if the principal holds several roles there).
func (p *Principal) ActiveMembership() (Membership, bool) {
	if p == nil {
		return Membership{}, false
	}
	for _, m := range p.Memberships {
		if m.OrgID == p.ActiveOrgID {
			return m, true
		}
	}
	if len(p.Memberships) > 0 {
		return p.Memberships[0], true
	}
	return Membership{}, false
}

// RolesIn returns the roles the principal holds directly in org.
func (p *Principal) RolesIn(orgID string) []Role {
	var out []Role
	if p == nil {
		return nil
	}
	for _, m := range p.Memberships {
		if m.OrgID == orgID {
			out = append(out, m.Role)
		}
	}
	return out
}

// HasRole reports whether the principal holds r anywhere.
func (p *Principal) HasRole(r Role) bool {
	if p == nil {
		return false
	}
	for _, m := range p.Memberships {
		if m.Role == r {
			return true
		}
	}
	return false
}

// IsOffice reports whether the principal holds any office role.
func (p *Principal) IsOffice() bool {
	if p == nil {
		return false
	}
	for _, m := range p.Memberships {
		if m.OrgKind == Office {
			return true
		}
	}
	return false
}

// OrgInfo is what the authorizer needs to know about an organization.
type OrgInfo struct {
	ID        string
	Kind      OrgKind
	Active    bool
	Ancestors []string // parent first, root last
}

// Directory answers questions about organizations. The identity store
// implements it.
type Directory interface {
	// OrgInfo returns the organization; found is false when it does not exist.
	OrgInfo(ctx context.Context, orgID string) (info OrgInfo, found bool, err error)
	// Descendants returns the IDs of every organization below orgID.
	Descendants(ctx context.Context, orgID string) ([]string, error)
	// Engaged reports whether provider serves agency (an active engagement).
	Engaged(ctx context.Context, providerID, agencyID string) (bool, error)
	// Engagements returns the agencies a provider serves.
	Engagements(ctx context.Context, providerID string) ([]string, error)
}

// Authorizer makes access decisions.
type Authorizer struct {
	Dir Directory
}

// Check decides whether p may exercise perm on a record of organization
// orgID. It returns nil when allowed; a NotFound error when the record's
// organization is outside everything p can see (so the record looks as if it
// did not exist); and Forbidden when p can see it but no role grants perm.
func (a *Authorizer) Check(ctx context.Context, p *Principal, perm Permission, orgID string) error {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	info, found, err := a.Dir.OrgInfo(ctx, orgID)
	if err != nil {
		return apperr.Wrap(err, "authz: look up org")
	}
	if !found {
		return apperr.NotFoundf("Record")
	}
	visible := false
	for _, m := range p.Memberships {
		inScope, err := a.inScope(ctx, m, perm, info)
		if err != nil {
			return err
		}
		if !inScope {
			continue
		}
		visible = true
		if m.Role.Has(perm) {
			return nil
		}
	}
	if visible {
		return apperr.New(apperr.Forbidden, "Your role does not allow this. Ask an administrator of your organization if you need it.")
	}
	return apperr.NotFoundf("Record")
}

// CheckMember decides whether p may exercise perm as a member of orgID:
// through a role held in orgID itself or, when orgID is an agency, in one of
// its ancestor agencies. Unlike Check, an office role's reach over every
// organization and a provider's engagements do not count, because accepting
// a quote or signing an agreement is done by the organization's own people.
// It returns nil when allowed, NotFound when orgID is outside everything p
// can see, and Forbidden when p can see it but does not act for it with perm.
func (a *Authorizer) CheckMember(ctx context.Context, p *Principal, perm Permission, orgID string) error {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	info, found, err := a.Dir.OrgInfo(ctx, orgID)
	if err != nil {
		return apperr.Wrap(err, "authz: look up org")
	}
	if !found {
		return apperr.NotFoundf("Record")
	}
	visible := false
	for _, m := range p.Memberships {
		member := m.OrgID == info.ID
		if !member && info.Kind == Agency && m.OrgKind == Agency {
			for _, anc := range info.Ancestors {
				if anc == m.OrgID {
					member = true
					break
				}
			}
		}
		if member {
			if m.Role.Has(perm) {
				return nil
			}
			visible = true
			continue
		}
		if !visible {
			inScope, err := a.inScope(ctx, m, perm, info)
			if err != nil {
				return err
			}
			visible = inScope
		}
	}
	if visible {
		return apperr.New(apperr.Forbidden, "Only people of that organization with the right role can do this.")
	}
	return apperr.NotFoundf("Record")
}

// Can is Check as a boolean, for showing or hiding buttons.
func (a *Authorizer) Can(ctx context.Context, p *Principal, perm Permission, orgID string) bool {
	return a.Check(ctx, p, perm, orgID) == nil
}

// CanAnywhere reports whether any of p's roles grants perm at all, for
// navigation: a menu entry appears only for principals who can use it.
func CanAnywhere(p *Principal, perm Permission) bool {
	if p == nil {
		return false
	}
	for _, m := range p.Memberships {
		if m.Role.Has(perm) {
			return true
		}
	}
	return false
}

func (a *Authorizer) inScope(ctx context.Context, m Membership, perm Permission, target OrgInfo) (bool, error) {
	switch m.OrgKind {
	case Office:
		return true, nil
	case Agency:
		if m.OrgID == target.ID {
			return true, nil
		}
		for _, anc := range target.Ancestors {
			if anc == m.OrgID {
				return true, nil
			}
		}
		return false, nil
	case Provider:
		if m.OrgID == target.ID {
			return true, nil
		}
		if !engagementPermissions[perm] || target.Kind != Agency {
			return false, nil
		}
		for _, agency := range append([]string{target.ID}, target.Ancestors...) {
			ok, err := a.Dir.Engaged(ctx, m.OrgID, agency)
			if err != nil {
				return false, apperr.Wrap(err, "authz: engagement")
			}
			if ok {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("authz: membership of unknown kind %q", m.OrgKind)
}

// Scope is the set of organizations where a principal holds a permission.
type Scope struct {
	All    bool     // every organization (office roles)
	OrgIDs []string // otherwise these organizations
}

// Contains reports whether orgID is in the scope.
func (s Scope) Contains(orgID string) bool {
	if s.All {
		return true
	}
	for _, o := range s.OrgIDs {
		if o == orgID {
			return true
		}
	}
	return false
}

// ScopeFor returns the organizations in which p holds perm, for filtering
// lists in one query. Suspended organizations are left out.
func (a *Authorizer) ScopeFor(ctx context.Context, p *Principal, perm Permission) (Scope, error) {
	if p == nil {
		return Scope{OrgIDs: []string{}}, nil
	}
	seen := map[string]bool{}
	out := Scope{OrgIDs: []string{}}
	add := func(ids ...string) {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out.OrgIDs = append(out.OrgIDs, id)
			}
		}
	}
	for _, m := range p.Memberships {
		if !m.Role.Has(perm) {
			continue
		}
		switch m.OrgKind {
		case Office:
			return Scope{All: true}, nil
		case Agency:
			add(m.OrgID)
			desc, err := a.Dir.Descendants(ctx, m.OrgID)
			if err != nil {
				return Scope{}, apperr.Wrap(err, "authz: descendants")
			}
			add(desc...)
		case Provider:
			add(m.OrgID)
			if engagementPermissions[perm] {
				agencies, err := a.Dir.Engagements(ctx, m.OrgID)
				if err != nil {
					return Scope{}, apperr.Wrap(err, "authz: engagements")
				}
				for _, ag := range agencies {
					add(ag)
					desc, err := a.Dir.Descendants(ctx, ag)
					if err != nil {
						return Scope{}, apperr.Wrap(err, "authz: descendants")
					}
					add(desc...)
				}
			}
		}
	}
	return out, nil
}

// CanGrant reports whether p may give role r in organization orgID: only
// office admins grant office roles; organization admins grant their kind's
// roles within their scope; nobody grants a role of another kind than the
// organization's.
func (a *Authorizer) CanGrant(ctx context.Context, p *Principal, r Role, orgID string) error {
	if err := a.Check(ctx, p, UserManage, orgID); err != nil {
		return err
	}
	info, _, err := a.Dir.OrgInfo(ctx, orgID)
	if err != nil {
		return apperr.Wrap(err, "authz: look up org")
	}
	if !r.Valid() || r.Kind() != info.Kind {
		return apperr.Validation(map[string]string{"role": fmt.Sprintf("Choose a role for %s organization.", info.Kind.Article())})
	}
	if r.Kind() == Office && !p.HasRole(OfficeAdmin) {
		return apperr.New(apperr.Forbidden, "Only office admins can give office roles.")
	}
	return nil
}
