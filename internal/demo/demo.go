// Package demo fills an empty qsmo with realistic sample data: the office,
// agencies with sub-organizations, providers and people in every role, so
// that a newcomer sees a living system. Service areas add their own sample
// data through Loaders.
package demo

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/identity"
)

// Agency is a sample agency with its sub-organizations.
type Agency struct {
	Slug, Name, Code, ALC string
	Subs                  [][2]string // slug, name
}

// Agencies are the sample agencies (public names, fictional data).
var Agencies = []Agency{
	{"energy", "Department of Energy", "089", "89000001", [][2]string{{"energy-nnsa", "National Nuclear Security Administration"}, {"energy-science", "Office of Science"}}},
	{"treasury", "Department of the Treasury", "020", "20000001", [][2]string{{"treasury-fiscal", "Bureau of the Fiscal Service"}, {"treasury-mint", "United States Mint"}}},
	{"agriculture", "Department of Agriculture", "012", "12000001", [][2]string{{"agriculture-forest", "Forest Service"}}},
	{"interior", "Department of the Interior", "014", "14000001", [][2]string{{"interior-nps", "National Park Service"}, {"interior-usgs", "U.S. Geological Survey"}}},
	{"labor", "Department of Labor", "016", "16000001", nil},
	{"education", "Department of Education", "091", "91000001", nil},
	{"commerce", "Department of Commerce", "013", "13000001", [][2]string{{"commerce-nist", "National Institute of Standards and Technology"}, {"commerce-noaa", "National Oceanic and Atmospheric Administration"}}},
	{"sba", "Small Business Administration", "073", "73000001", nil},
	{"ssa", "Social Security Administration", "028", "28000001", nil},
	{"gsa", "General Services Administration", "047", "47000001", [][2]string{{"gsa-fas", "Federal Acquisition Service"}}},
}

// Providers are the sample providers.
var Providers = [][3]string{
	{"fcssc", "Federal Cyber Shared Services Center", "A federal shared service provider offering SOC and vulnerability management to agencies."},
	{"northwind", "Northwind Security Services", "A commercial managed security provider on the governmentwide cyber contract vehicle."},
	{"bluewater", "Bluewater Cyber", "A commercial provider of penetration testing, incident response and threat intelligence."},
}

// Loader adds a service area's sample data after the organizations and
// people exist.
type Loader func(ctx context.Context, w *World) error

// World is what the demo created, for loaders to build on.
type World struct {
	Office    identity.Org
	Agencies  map[string]identity.Org // by slug, sub-organizations included
	Providers map[string]identity.Org
	Users     map[string]string // email -> user ID
	Password  string
}

type person struct {
	email, name string
	roles       []identity.SeedRole
}

// Seed creates the demo organizations and people in a database that has
// only the office, then runs the loaders. It is idempotent: a database that
// already has agencies is left alone.
func Seed(ctx context.Context, svc *identity.Service, password string, log *slog.Logger, loaders ...Loader) (*World, bool, error) {
	ctx = actor.With(ctx, actor.Actor{Label: "demo data"})
	orgs, err := svc.ListOrgs(ctx, &authz.Principal{Memberships: []authz.Membership{{OrgKind: authz.Office, Role: authz.OfficeAdmin}}}, identity.OrgFilter{})
	if err != nil {
		return nil, false, err
	}
	w := &World{Agencies: map[string]identity.Org{}, Providers: map[string]identity.Org{}, Users: map[string]string{}, Password: password}
	for _, o := range orgs {
		switch o.Kind {
		case authz.Office:
			w.Office = o
		case authz.Agency:
			w.Agencies[o.Slug] = o
		case authz.Provider:
			w.Providers[o.Slug] = o
		}
	}
	if len(w.Agencies) > 0 || len(w.Providers) > 0 {
		return w, false, nil
	}
	if w.Office.ID == "" {
		if w.Office, err = svc.CreateOffice(ctx, svc.OfficeName); err != nil {
			return nil, false, err
		}
	}
	system := &authz.Principal{Email: "demo", Memberships: []authz.Membership{{OrgID: w.Office.ID, OrgKind: authz.Office, Role: authz.OfficeAdmin}}}
	for _, a := range Agencies {
		o, err := svc.CreateOrg(ctx, system, identity.OrgInput{Name: a.Name, Slug: a.Slug, Kind: authz.Agency, AgencyCode: a.Code, ALC: a.ALC})
		if err != nil {
			return nil, false, fmt.Errorf("demo: agency %s: %w", a.Slug, err)
		}
		w.Agencies[a.Slug] = o
		for _, sub := range a.Subs {
			so, err := svc.CreateOrg(ctx, system, identity.OrgInput{Name: sub[1], Slug: sub[0], Kind: authz.Agency, ParentID: o.ID, AgencyCode: a.Code})
			if err != nil {
				return nil, false, fmt.Errorf("demo: sub-organization %s: %w", sub[0], err)
			}
			w.Agencies[sub[0]] = so
		}
	}
	for _, p := range Providers {
		o, err := svc.CreateOrg(ctx, system, identity.OrgInput{Name: p[1], Slug: p[0], Kind: authz.Provider, Description: p[2]})
		if err != nil {
			return nil, false, fmt.Errorf("demo: provider %s: %w", p[0], err)
		}
		w.Providers[p[0]] = o
	}
	hash, err := svc.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, false, err
	}
	add := func(email, name string, roles ...identity.SeedRole) error {
		uid, err := svc.CreateSeedUser(ctx, identity.SeedUser{Email: email, Name: name, PasswordHash: hash, Roles: roles})
		if err != nil {
			return fmt.Errorf("demo: user %s: %w", email, err)
		}
		w.Users[email] = uid
		return nil
	}
	role := func(o identity.Org, r authz.Role) identity.SeedRole { return identity.SeedRole{OrgID: o.ID, Role: r} }
	people := []person{
		{"admin@office.example.gov", "Olivia Ortiz", []identity.SeedRole{role(w.Office, authz.OfficeAdmin)}},
		{"analyst@office.example.gov", "Marcus Chen", []identity.SeedRole{role(w.Office, authz.OfficeAnalyst)}},
		{"standards@office.example.gov", "Priya Raman", []identity.SeedRole{role(w.Office, authz.StandardsLead)}},
	}
	firstNames := []string{"Avery", "Jordan", "Sam", "Riley", "Casey", "Morgan", "Taylor", "Jamie", "Quinn", "Drew"}
	lastNames := []string{"Johnson", "Garcia", "Williams", "Nguyen", "Patel", "Brown", "Davis", "Lopez", "Kim", "Wilson"}
	agencyRoles := []struct {
		local string
		role  authz.Role
	}{{"admin", authz.AgencyAdmin}, {"buyer", authz.AgencyBuyer}, {"approver", authz.AgencyApprover}, {"analyst", authz.AgencyAnalyst}, {"viewer", authz.AgencyViewer}}
	for i, a := range Agencies {
		for j, ar := range agencyRoles {
			name := firstNames[(i+j)%len(firstNames)] + " " + lastNames[(i*3+j)%len(lastNames)]
			people = append(people, person{fmt.Sprintf("%s@%s.example.gov", ar.local, a.Slug), name, []identity.SeedRole{role(w.Agencies[a.Slug], ar.role)}})
		}
		for k, sub := range a.Subs {
			people = append(people, person{fmt.Sprintf("admin@%s.example.gov", sub[0]), firstNames[(i+k+5)%10] + " " + lastNames[(i+k+7)%10], []identity.SeedRole{role(w.Agencies[sub[0]], authz.AgencyAdmin)}})
		}
	}
	for i, p := range Providers {
		people = append(people,
			person{fmt.Sprintf("admin@%s.example.com", p[0]), firstNames[(i+2)%10] + " " + lastNames[(i+4)%10], []identity.SeedRole{role(w.Providers[p[0]], authz.ProviderAdmin)}},
			person{fmt.Sprintf("analyst@%s.example.com", p[0]), firstNames[(i+6)%10] + " " + lastNames[(i+1)%10], []identity.SeedRole{role(w.Providers[p[0]], authz.ProviderAnalyst)}},
		)
	}
	for _, p := range people {
		if err := add(p.email, p.name, p.roles...); err != nil {
			return nil, false, err
		}
	}
	for _, l := range loaders {
		if err := l(ctx, w); err != nil {
			return nil, false, err
		}
	}
	log.Info("demo data loaded", "agencies", len(w.Agencies), "providers", len(w.Providers), "users", len(w.Users))
	return w, true, nil
}
