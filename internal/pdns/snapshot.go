package pdns

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/pdns/resolver"
)

// State is everything the resolver's policy is built from, as loaded from
// the database in one read.
type State struct {
	Version   int64
	Policies  []Policy
	Feeds     []Feed
	Global    []GlobalBlock
	Settings  Settings
	DemoOrgID string
}

// LoadState reads the whole policy in one transaction, so a snapshot never
// mixes two versions.
func LoadState(ctx context.Context, d *db.DB) (State, error) {
	var st State
	err := d.InTx(ctx, func(tx *db.Tx) error {
		row, err := loadStateRow(ctx, tx)
		if err != nil {
			return err
		}
		st.Version, st.Settings, st.DemoOrgID = row.Version, row.Settings, row.DemoOrgID
		if st.Policies, err = listPolicies(ctx, tx); err != nil {
			return err
		}
		if st.Feeds, err = listFeeds(ctx, tx); err != nil {
			return err
		}
		st.Global, err = listGlobalBlocks(ctx, tx)
		return err
	})
	return st, err
}

// Demo mode: loopback clients belong to the demo agency, which always
// blocks DemoBlockedName and its subdomains.
const DemoBlockedName = "blocked.qsmo.test"

var demoSources = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// BuildTenants turns the stored policies into the engine's tenants. It
// never fails: a policy that cannot be served as stored (a network or
// token claimed twice, which the service prevents but a hand-edited
// database may hold; sinkhole mode without a block page address) is
// repaired, and each repair is returned as a problem for the log, so one
// bad row never stops every agency's updates. With demo set, the demo
// agency also gets the loopback networks (longest prefix still wins, so
// another agency's 127.0.0.2/32 stays its own) and the demo block.
func BuildTenants(st State, demo bool) ([]resolver.TenantConfig, []string) {
	var problems []string
	sources := map[netip.Prefix]string{}
	tokens := map[string]string{}
	out := make([]resolver.TenantConfig, 0, len(st.Policies))
	for _, p := range st.Policies {
		tc := resolver.TenantConfig{
			ID:                p.OrgID,
			Categories:        categoryMask(p.Categories),
			Allow:             p.Allow,
			Deny:              p.Deny,
			NoCNAMEInspection: !p.CNAMEInspection,
			BlockedIPs:        p.BlockedAnswers,
		}
		for _, n := range p.Egress {
			if owner, dup := sources[n]; dup {
				problems = append(problems, fmt.Sprintf("tenant %s: egress network %s already belongs to %s; ignored", p.OrgID, n, owner))
				continue
			}
			sources[n] = p.OrgID
			tc.Sources = append(tc.Sources, n)
		}
		if len(p.DoHToken) >= 16 {
			if owner, dup := tokens[p.DoHToken]; dup {
				problems = append(problems, fmt.Sprintf("tenant %s: DoH token already used by %s; ignored", p.OrgID, owner))
			} else {
				tokens[p.DoHToken] = p.OrgID
				tc.DoHTokens = []string{p.DoHToken}
			}
		}
		switch p.Mode {
		case ModeRefused:
			tc.Mode = resolver.BlockRefused
		case ModeNoData:
			tc.Mode = resolver.BlockNoData
		case ModeSinkhole:
			if st.Settings.SinkholeV4.IsValid() || st.Settings.SinkholeV6.IsValid() {
				tc.Mode, tc.SinkholeV4, tc.SinkholeV6 = resolver.BlockSinkhole, st.Settings.SinkholeV4, st.Settings.SinkholeV6
			} else {
				problems = append(problems, fmt.Sprintf("tenant %s: sinkhole mode without a block page address; answering NXDOMAIN", p.OrgID))
			}
		}
		if demo && p.OrgID == st.DemoOrgID && st.DemoOrgID != "" {
			for _, n := range demoSources {
				if _, dup := sources[n]; !dup {
					sources[n] = p.OrgID
					tc.Sources = append(tc.Sources, n)
				}
			}
			tc.Deny = append(append([]string(nil), tc.Deny...), DemoBlockedName)
		}
		out = append(out, tc)
	}
	return out, problems
}
