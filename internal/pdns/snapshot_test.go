package pdns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/pdns/resolver"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func tenantByID(ts []resolver.TenantConfig, id string) (resolver.TenantConfig, bool) {
	for _, t := range ts {
		if t.ID == id {
			return t, true
		}
	}
	return resolver.TenantConfig{}, false
}

// TestSnapshotFromDatabase stores policies through the service, loads them
// back as the resolver node does, and checks what the engine gets for each
// agency, without and with demo mode.
func TestSnapshotFromDatabase(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		w.provision(w.energy, w.treasury, w.nnsa)
		if _, err := w.svc.UpdateSettings(w.ctx, w.officeAdmin, "192.0.2.80", "2001:db8::80"); err != nil {
			t.Fatal(err)
		}
		set := func(org string, in PolicyInput) {
			t.Helper()
			if _, err := w.svc.UpdatePolicy(w.ctx, w.officeAdmin, org, in); err != nil {
				t.Fatal(err)
			}
		}
		set(w.energy, PolicyInput{Categories: []string{"malware", "c2"}, Mode: ModeRefused, CNAMEInspection: true, Egress: []string{"198.51.100.0/24"},
			Deny: []string{"deny.example"}, Allow: []string{"ok.example"}, BlockedAnswers: []string{"10.0.0.0/8"}})
		set(w.treasury, PolicyInput{Categories: []string{"phishing"}, Mode: ModeSinkhole, CNAMEInspection: true, Egress: []string{"203.0.113.0/24", "127.0.0.2"}})
		set(w.nnsa, PolicyInput{Mode: ModeNoData, CNAMEInspection: false, Egress: []string{"2001:db8:1::/48"}})
		if _, err := d.ExecContext(w.ctx, "UPDATE dns_state SET demo_org_id = ?", w.energy); err != nil {
			t.Fatal(err)
		}
		st, err := LoadState(w.ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Version < 5 || len(st.Policies) != 3 || st.DemoOrgID != w.energy {
			t.Fatalf("state %+v", st)
		}
		cases := []struct {
			name    string
			org     string
			demo    bool
			sources []netip.Prefix
			mask    uint32
			mode    resolver.BlockMode
			sink4   string
			noCNAME bool
			deny    []string
			allow   []string
			blocked []netip.Prefix
		}{
			{"refusing agency", w.energy, false, prefixes("198.51.100.0/24"), 1<<0 | 1<<2, resolver.BlockRefused, "invalid IP", false,
				[]string{"deny.example"}, []string{"ok.example"}, prefixes("10.0.0.0/8")},
			{"sinkhole agency", w.treasury, false, prefixes("127.0.0.2/32", "203.0.113.0/24"), 1 << 1, resolver.BlockSinkhole, "192.0.2.80", false, nil, nil, nil},
			{"sub-organization without CNAME inspection", w.nnsa, false, prefixes("2001:db8:1::/48"), 0, resolver.BlockNoData, "invalid IP", true, nil, nil, nil},
			{"demo agency gets loopback and the demo block", w.energy, true, prefixes("198.51.100.0/24", "127.0.0.0/8", "::1/128"), 1<<0 | 1<<2,
				resolver.BlockRefused, "invalid IP", false, []string{"deny.example", DemoBlockedName}, []string{"ok.example"}, prefixes("10.0.0.0/8")},
			{"demo mode leaves other agencies alone", w.treasury, true, prefixes("127.0.0.2/32", "203.0.113.0/24"), 1 << 1, resolver.BlockSinkhole, "192.0.2.80", false, nil, nil, nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				tenants, problems := BuildTenants(st, c.demo)
				if len(problems) > 0 {
					t.Fatalf("problems: %v", problems)
				}
				tc, ok := tenantByID(tenants, c.org)
				if !ok {
					t.Fatal("tenant missing")
				}
				if !slices.Equal(tc.Sources, c.sources) || tc.Categories != c.mask || tc.Mode != c.mode || tc.SinkholeV4.String() != c.sink4 ||
					tc.NoCNAMEInspection != c.noCNAME || !slices.Equal(tc.Deny, c.deny) || !slices.Equal(tc.Allow, c.allow) || !slices.Equal(tc.BlockedIPs, c.blocked) {
					t.Fatalf("tenant %+v", tc)
				}
				if len(tc.DoHTokens) != 1 || len(tc.DoHTokens[0]) != 32 {
					t.Fatalf("tokens %v", tc.DoHTokens)
				}
			})
		}
		t.Run("the engine takes it and the longest prefix wins", func(t *testing.T) {
			tenants, _ := BuildTenants(st, true)
			snap, err := resolver.NewSnapshot(resolver.SnapshotConfig{Categories: categoryNames(), Global: 1 << globalBit, Tenants: tenants})
			if err != nil {
				t.Fatal(err)
			}
			for addr, want := range map[string]string{"127.0.0.1": w.energy, "127.0.0.2": w.treasury, "127.0.0.3": w.energy, "::1": w.energy,
				"198.51.100.9": w.energy, "203.0.113.200": w.treasury, "2001:db8:1::5": w.nnsa, "192.0.2.1": ""} {
				got, _ := snap.TenantFor(netip.MustParseAddr(addr))
				if got != want {
					t.Errorf("%s belongs to %q, want %q", addr, got, want)
				}
			}
		})
	})
}

// TestBuildTenantsRepairs: rows the service would never store (a hand-edited
// database) are repaired, with a problem each, instead of stopping every
// agency's updates.
func TestBuildTenantsRepairs(t *testing.T) {
	cases := []struct {
		name    string
		st      State
		problem string
		check   func(t *testing.T, ts []resolver.TenantConfig)
	}{
		{"a network claimed twice stays with the first", State{Policies: []Policy{
			{OrgID: "a", Mode: ModeNXDomain, Egress: prefixes("192.0.2.0/24")}, {OrgID: "b", Mode: ModeNXDomain, Egress: prefixes("192.0.2.0/24", "198.51.100.0/24")}}},
			"already belongs to a", func(t *testing.T, ts []resolver.TenantConfig) {
				if b, _ := tenantByID(ts, "b"); !slices.Equal(b.Sources, prefixes("198.51.100.0/24")) {
					t.Fatalf("b sources %v", b.Sources)
				}
			}},
		{"a token used twice", State{Policies: []Policy{
			{OrgID: "a", Mode: ModeNXDomain, DoHToken: "0123456789abcdef0123"}, {OrgID: "b", Mode: ModeNXDomain, DoHToken: "0123456789abcdef0123"}}},
			"DoH token already used by a", func(t *testing.T, ts []resolver.TenantConfig) {
				if b, _ := tenantByID(ts, "b"); len(b.DoHTokens) != 0 {
					t.Fatalf("b tokens %v", b.DoHTokens)
				}
			}},
		{"sinkhole without a block page answers NXDOMAIN", State{Policies: []Policy{{OrgID: "a", Mode: ModeSinkhole}}},
			"sinkhole mode without a block page", func(t *testing.T, ts []resolver.TenantConfig) {
				if ts[0].Mode != resolver.BlockNXDomain {
					t.Fatalf("mode %v", ts[0].Mode)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts, problems := BuildTenants(c.st, false)
			if len(problems) != 1 || !strings.Contains(problems[0], c.problem) {
				t.Fatalf("problems %v", problems)
			}
			c.check(t, ts)
			if _, err := resolver.NewSnapshot(resolver.SnapshotConfig{Tenants: ts}); err != nil {
				t.Fatalf("the engine refuses the repaired tenants: %v", err)
			}
		})
	}
}
