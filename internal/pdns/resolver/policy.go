package resolver

import (
	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/blocklist"
	"github.com/qsmo/qsmo/internal/pdns/cache"
)

type verdictKind uint8

const (
	vNone     verdictKind = iota // no rule: resolve, then inspect the answer
	vAllow                       // allow list or passthru: resolve, no further checks
	vBlock                       // the tenant's block mode
	vNXDomain                    // NXDOMAIN whatever the mode
	vNoData                      // NOERROR, no records
	vLocal                       // the rule's local records
)

// verdict is the outcome of policy for one query. Its strings point into
// immutable snapshot data: building one never allocates.
type verdict struct {
	kind     verdictKind
	rule     string
	feed     string
	category string
	local    []dns.RR
}

func (v *verdict) blocks() bool { return v.kind >= vBlock }

// Feed names used in the query log for a tenant's own lists and response-IP blocks.
const (
	feedAllow      = "tenant-allow"
	feedDeny       = "tenant-deny"
	feedResponseIP = "tenant-response-ip"
	categoryTenant = "tenant"
)

// checkName applies the tenant's allow list, its deny list and the shared
// list, in that order, to the prepared name.
func (s *Snapshot) checkName(t *tenant, q *blocklist.Query) verdict {
	if m, ok := t.allow.LookupQuery(q, tenantCategory); ok {
		return verdict{kind: vAllow, rule: m.Name, feed: feedAllow}
	}
	if m, ok := t.deny.LookupQuery(q, tenantCategory); ok {
		return verdict{kind: vBlock, rule: m.Name, feed: feedDeny, category: categoryTenant}
	}
	m, ok := s.list.LookupQuery(q, t.mask)
	if !ok {
		return verdict{}
	}
	v := verdict{rule: m.Name, feed: s.feedName(m.Rule.Feed), category: s.categoryName(m.Rule.Category & t.mask)}
	switch m.Rule.Action {
	case blocklist.Passthru:
		v.kind = vAllow
	case blocklist.LocalData:
		v.kind, v.local = vLocal, m.Rule.Local
	case blocklist.NXDomain:
		v.kind = vNXDomain
	case blocklist.NoData:
		v.kind = vNoData
	default:
		v.kind = vBlock
	}
	return v
}

// checkAnswer blocks an answer whose CNAME chain holds a blocked name or
// whose addresses fall in the tenant's blocked networks. q is scratch space.
func (s *Snapshot) checkAnswer(t *tenant, e *cache.Entry, q *blocklist.Query) verdict {
	if t.cname {
		for _, name := range e.Chain {
			q.PrepareString(name)
			v := s.checkName(t, q)
			switch v.kind {
			case vBlock, vNXDomain, vNoData:
				return v
			case vLocal:
				v.kind, v.local = vBlock, nil
				return v
			}
		}
	}
	for _, ip := range e.IPs {
		for i, p := range t.blockedIPs {
			if p.Contains(ip) {
				return verdict{kind: vBlock, rule: t.blockedIPNames[i], feed: feedResponseIP, category: categoryTenant}
			}
		}
	}
	return verdict{}
}
