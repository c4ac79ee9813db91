package authz

import (
	"context"
	"testing"

	"github.com/qsmo/qsmo/internal/apperr"
)

// memDir is an in-memory organization tree for decision tests; the identity
// store's implementation is tested against the same expectations there.
type memDir struct {
	orgs    map[string]OrgInfo
	parent  map[string]string
	engaged map[[2]string]bool
}

func (d memDir) OrgInfo(_ context.Context, id string) (OrgInfo, bool, error) {
	o, ok := d.orgs[id]
	return o, ok, nil
}

func (d memDir) Descendants(_ context.Context, id string) ([]string, error) {
	var out []string
	for child, p := range d.parent {
		if p == id {
			out = append(out, child)
			sub, _ := d.Descendants(context.Background(), child)
			out = append(out, sub...)
		}
	}
	return out, nil
}

func (d memDir) Engaged(_ context.Context, prov, agency string) (bool, error) {
	return d.engaged[[2]string{prov, agency}], nil
}

func (d memDir) Engagements(_ context.Context, prov string) ([]string, error) {
	var out []string
	for k := range d.engaged {
		if k[0] == prov {
			out = append(out, k[1])
		}
	}
	return out, nil
}

func fixture() *Authorizer {
	d := memDir{orgs: map[string]OrgInfo{}, parent: map[string]string{}, engaged: map[[2]string]bool{}}
	add := func(id string, k OrgKind, parent string) {
		var anc []string
		for p := parent; p != ""; p = d.parent[p] {
			anc = append(anc, p)
		}
		d.orgs[id] = OrgInfo{ID: id, Kind: k, Active: true, Ancestors: anc}
		if parent != "" {
			d.parent[id] = parent
		}
	}
	add("office", Office, "")
	add("agencyA", Agency, "")
	add("agencyA-sub", Agency, "agencyA")
	add("agencyB", Agency, "")
	add("prov1", Provider, "")
	add("prov2", Provider, "")
	d.engaged[[2]string{"prov1", "agencyA"}] = true
	return &Authorizer{Dir: d}
}

func who(role Role, org string, kind OrgKind) *Principal {
	return &Principal{UserID: "u", Email: "u@example.gov", Memberships: []Membership{{OrgID: org, OrgKind: kind, Role: role}}, ActiveOrgID: org}
}

func TestCheck(t *testing.T) {
	a := fixture()
	ctx := context.Background()
	cases := []struct {
		name string
		p    *Principal
		perm Permission
		org  string
		want apperr.Code
	}{
		{"office admin manages any agency's users", who(OfficeAdmin, "office", Office), UserManage, "agencyB", ""},
		{"office admin creates orgs", who(OfficeAdmin, "office", Office), OrgCreate, "office", ""},
		{"office analyst reads any agency's audit slice", who(OfficeAnalyst, "office", Office), AuditRead, "agencyA", ""},
		{"office analyst cannot manage users", who(OfficeAnalyst, "office", Office), UserManage, "agencyA", apperr.Forbidden},
		{"agency admin manages own users", who(AgencyAdmin, "agencyA", Agency), UserManage, "agencyA", ""},
		{"agency admin manages sub-organization users", who(AgencyAdmin, "agencyA", Agency), UserManage, "agencyA-sub", ""},
		{"sub-organization admin cannot reach its parent", who(AgencyAdmin, "agencyA-sub", Agency), OrgRead, "agencyA", apperr.NotFound},
		{"agency admin cannot see another agency", who(AgencyAdmin, "agencyA", Agency), OrgRead, "agencyB", apperr.NotFound},
		{"agency admin cannot see the office", who(AgencyAdmin, "agencyA", Agency), OrgRead, "office", apperr.NotFound},
		{"agency viewer sees own org", who(AgencyViewer, "agencyA", Agency), OrgRead, "agencyA", ""},
		{"agency viewer may not manage users", who(AgencyViewer, "agencyA", Agency), UserManage, "agencyA", apperr.Forbidden},
		{"agency admin may not create orgs", who(AgencyAdmin, "agencyA", Agency), OrgCreate, "agencyA", apperr.Forbidden},
		{"provider admin manages own tokens", who(ProviderAdmin, "prov1", Provider), TokenManage, "prov1", ""},
		{"provider cannot see another provider", who(ProviderAdmin, "prov1", Provider), OrgRead, "prov2", apperr.NotFound},
		{"engagement grants nothing the platform does not list", who(ProviderAdmin, "prov1", Provider), UserRead, "agencyA", apperr.NotFound},
		{"missing org is not found even for office admins", who(OfficeAdmin, "office", Office), OrgRead, "nope", apperr.NotFound},
		{"anonymous must sign in", nil, OrgRead, "agencyA", apperr.Unauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := a.Check(ctx, c.p, c.perm, c.org)
			if got := apperr.CodeOf(err); got != c.want {
				t.Errorf("Check = %v (code %q), want code %q", err, got, c.want)
			}
		})
	}
}

func TestEngagementScope(t *testing.T) {
	a := fixture()
	ctx := context.Background()
	const perm Permission = "test.operate"
	engagementPermissions[perm] = true
	orig := roleDefs[ProviderAnalyst]
	d := orig
	d.perms = append(append([]Permission{}, orig.perms...), perm)
	roleDefs[ProviderAnalyst] = d
	defer func() {
		delete(engagementPermissions, perm)
		roleDefs[ProviderAnalyst] = orig
	}()
	p := who(ProviderAnalyst, "prov1", Provider)
	if err := a.Check(ctx, p, perm, "agencyA"); err != nil {
		t.Errorf("engaged provider denied: %v", err)
	}
	if err := a.Check(ctx, p, perm, "agencyA-sub"); err != nil {
		t.Errorf("engagement does not reach the sub-organization: %v", err)
	}
	if got := apperr.CodeOf(a.Check(ctx, p, perm, "agencyB")); got != apperr.NotFound {
		t.Errorf("unengaged agency: code %q, want not_found", got)
	}
	s, err := a.ScopeFor(ctx, p, perm)
	if err != nil {
		t.Fatal(err)
	}
	if s.All || !s.Contains("agencyA") || !s.Contains("agencyA-sub") || s.Contains("agencyB") {
		t.Errorf("scope = %+v", s)
	}
}

func TestScopeFor(t *testing.T) {
	a := fixture()
	ctx := context.Background()
	s, _ := a.ScopeFor(ctx, who(OfficeAnalyst, "office", Office), AuditRead)
	if !s.All {
		t.Error("office analyst should read every audit slice")
	}
	s, _ = a.ScopeFor(ctx, who(AgencyAdmin, "agencyA", Agency), AuditRead)
	if s.All || !s.Contains("agencyA") || !s.Contains("agencyA-sub") || s.Contains("agencyB") {
		t.Errorf("agency admin scope = %+v", s)
	}
	s, _ = a.ScopeFor(ctx, who(AgencyViewer, "agencyA", Agency), AuditRead)
	if s.All || len(s.OrgIDs) != 0 {
		t.Errorf("viewer without audit.read has scope %+v", s)
	}
}

func TestCanGrant(t *testing.T) {
	a := fixture()
	ctx := context.Background()
	cases := []struct {
		name string
		p    *Principal
		role Role
		org  string
		want apperr.Code
	}{
		{"office admin grants agency role", who(OfficeAdmin, "office", Office), AgencyBuyer, "agencyB", ""},
		{"office admin grants office role", who(OfficeAdmin, "office", Office), OfficeAnalyst, "office", ""},
		{"agency admin grants agency role at home", who(AgencyAdmin, "agencyA", Agency), AgencyApprover, "agencyA", ""},
		{"agency admin cannot grant office role", who(AgencyAdmin, "agencyA", Agency), OfficeAdmin, "agencyA", apperr.Invalid},
		{"role must match the org kind", who(OfficeAdmin, "office", Office), ProviderAdmin, "agencyA", apperr.Invalid},
		{"agency admin cannot grant in another agency", who(AgencyAdmin, "agencyA", Agency), AgencyViewer, "agencyB", apperr.NotFound},
		{"unknown role", who(OfficeAdmin, "office", Office), Role("root"), "agencyA", apperr.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := apperr.CodeOf(a.CanGrant(ctx, c.p, c.role, c.org)); got != c.want {
				t.Errorf("CanGrant code %q, want %q", got, c.want)
			}
		})
	}
}

func TestEveryRoleBelongsToAKind(t *testing.T) {
	for _, r := range AllRoles() {
		if !r.Kind().Valid() || r.Label() == "" || r.About() == "" {
			t.Errorf("role %q incomplete", r)
		}
	}
	if len(AllRoles()) != 10 {
		t.Errorf("%d roles, want 10", len(AllRoles()))
	}
	for _, p := range permissionList {
		if !OfficeAdmin.Has(p) {
			t.Errorf("office admin lacks %s", p)
		}
	}
}

func TestCheckMember(t *testing.T) {
	a := fixture()
	ctx := context.Background()
	cases := []struct {
		name string
		p    *Principal
		perm Permission
		org  string
		want apperr.Code
	}{
		{"agency approver signs for own agency", who(AgencyApprover, "agencyA", Agency), MarketAgreementSign, "agencyA", ""},
		{"parent agency approver signs for a sub-organization", who(AgencyApprover, "agencyA", Agency), MarketAgreementSign, "agencyA-sub", ""},
		{"sub-organization approver cannot sign for the parent", who(AgencyApprover, "agencyA-sub", Agency), MarketAgreementSign, "agencyA", apperr.NotFound},
		{"agency buyer lacks the signature", who(AgencyBuyer, "agencyA", Agency), MarketAgreementSign, "agencyA", apperr.Forbidden},
		{"office admin sees but does not sign for an agency", who(OfficeAdmin, "office", Office), MarketAgreementSign, "agencyA", apperr.Forbidden},
		{"office admin signs for the office", who(OfficeAdmin, "office", Office), MarketAgreementSign, "office", ""},
		{"provider admin signs for its provider", who(ProviderAdmin, "prov1", Provider), MarketAgreementSign, "prov1", ""},
		{"engaged provider does not sign for the agency", who(ProviderAdmin, "prov1", Provider), MarketAgreementSign, "agencyA", apperr.NotFound},
		{"another agency is not found", who(AgencyAdmin, "agencyB", Agency), MarketOrderApprove, "agencyA", apperr.NotFound},
		{"anonymous must sign in", nil, MarketOrderApprove, "agencyA", apperr.Unauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := apperr.CodeOf(a.CheckMember(ctx, c.p, c.perm, c.org)); got != c.want {
				t.Errorf("CheckMember code %q, want %q", got, c.want)
			}
		})
	}
}
