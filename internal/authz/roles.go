// Package authz decides, in one place, what a principal (a signed-in user or
// an API token) may do with a record, from the principal's roles in
// organizations, the record's organization and its ancestry, and a
// provider's engagements with agencies.
package authz

import "sort"

// OrgKind is the kind of an organization.
type OrgKind string

// Organization kinds.
const (
	Office   OrgKind = "office"
	Agency   OrgKind = "agency"
	Provider OrgKind = "provider"
)

// Valid reports whether k is a known kind.
func (k OrgKind) Valid() bool { return k == Office || k == Agency || k == Provider }

// Label is the kind's name for people.
func (k OrgKind) Label() string {
	switch k {
	case Office:
		return "Office"
	case Agency:
		return "Agency"
	case Provider:
		return "Provider"
	}
	return string(k)
}

// Article returns the kind with its indefinite article, for sentences:
// "an office", "an agency", "a provider".
func (k OrgKind) Article() string {
	switch k {
	case Office:
		return "an office"
	case Agency:
		return "an agency"
	case Provider:
		return "a provider"
	}
	return "a " + string(k)
}

// Role is a named set of permissions held in one organization.
type Role string

// Roles. Each belongs to one organization kind.
const (
	OfficeAdmin     Role = "office_admin"
	OfficeAnalyst   Role = "office_analyst"
	StandardsLead   Role = "standards_lead"
	AgencyAdmin     Role = "agency_admin"
	AgencyBuyer     Role = "agency_buyer"
	AgencyApprover  Role = "agency_approver"
	AgencyAnalyst   Role = "agency_analyst"
	AgencyViewer    Role = "agency_viewer"
	ProviderAdmin   Role = "provider_admin"
	ProviderAnalyst Role = "provider_analyst"
)

type roleDef struct {
	kind  OrgKind
	label string
	about string
	perms []Permission
}

var roleDefs = map[Role]roleDef{
	OfficeAdmin: {Office, "Office admin", "Runs the office: organizations, users, catalog, approvals, every agency's posture.",
		allPermissions()},
	OfficeAnalyst: {Office, "Office analyst", "Watches every agency's posture and works the office's queues; no user or organization administration.",
		[]Permission{OrgRead, UserRead, AuditRead, DNSRead, DNSConnect, DNSFeeds,
			MarketOfferingRead, MarketCatalogManage, MarketAssessmentRead, MarketOrderRead, MarketOrderReview, MarketOrderFulfil,
			MarketBillingRead, MarketUsageRecord, MarketInsightsRead}},
	StandardsLead: {Office, "Standards lead", "Owns versioned standards and reviews offerings' conformance evidence.",
		[]Permission{OrgRead, MarketOfferingRead, MarketStandardManage, MarketConformanceReview, MarketInsightsRead}},
	AgencyAdmin: {Agency, "Agency admin", "Manages the agency's users, tokens and settings, and can do everything the agency can.",
		[]Permission{OrgRead, OrgUpdate, UserRead, UserManage, TokenRead, TokenManage, AuditRead, DNSRead, DNSConnect, DNSManage,
			MarketAssessmentRead, MarketAssess, MarketOrderRead, MarketOrderRequest, MarketOrderApprove, MarketAgreementSign, MarketBillingRead}},
	AgencyBuyer: {Agency, "Agency buyer", "Assesses maturity, compares offerings and requests orders.",
		[]Permission{OrgRead, MarketAssessmentRead, MarketAssess, MarketOrderRead, MarketOrderRequest, MarketBillingRead}},
	AgencyApprover: {Agency, "Agency approver", "Accepts quotes and signs agreements for the agency.",
		[]Permission{OrgRead, MarketAssessmentRead, MarketOrderRead, MarketOrderApprove, MarketAgreementSign, MarketBillingRead}},
	AgencyAnalyst: {Agency, "Agency analyst", "Uses the services day to day: DNS, disclosures, findings, SOC alerts and cases.",
		[]Permission{OrgRead, DNSRead, DNSConnect, MarketAssessmentRead, MarketOrderRead}},
	AgencyViewer: {Agency, "Agency viewer", "Reads the agency's dashboards and records without changing anything.",
		[]Permission{OrgRead, DNSRead, MarketAssessmentRead, MarketOrderRead, MarketBillingRead}},
	ProviderAdmin: {Provider, "Provider admin", "Manages the provider's users, tokens and offerings.",
		[]Permission{OrgRead, OrgUpdate, UserRead, UserManage, TokenRead, TokenManage, AuditRead,
			MarketOfferingRead, MarketOfferingManage, MarketOrderRead, MarketOrderFulfil, MarketAgreementSign, MarketUsageRecord}},
	ProviderAnalyst: {Provider, "Provider analyst", "Operates services for the agencies the provider serves.",
		[]Permission{OrgRead, MarketOfferingRead, MarketOrderRead, MarketOrderFulfil, MarketUsageRecord}},
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { _, ok := roleDefs[r]; return ok }

// Kind is the organization kind the role belongs to.
func (r Role) Kind() OrgKind { return roleDefs[r].kind }

// Label is the role's name for people.
func (r Role) Label() string {
	if d, ok := roleDefs[r]; ok {
		return d.label
	}
	return string(r)
}

// About is one sentence describing what the role is for.
func (r Role) About() string { return roleDefs[r].about }

// Has reports whether the role grants p.
func (r Role) Has(p Permission) bool {
	for _, q := range roleDefs[r].perms {
		if q == p {
			return true
		}
	}
	return false
}

// RolesFor returns the roles that can be held in an organization of kind k,
// in a stable order.
func RolesFor(k OrgKind) []Role {
	var out []Role
	for r, d := range roleDefs {
		if d.kind == k {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return roleOrder(out[i]) < roleOrder(out[j]) })
	return out
}

// AllRoles returns every role in a stable order.
func AllRoles() []Role {
	return append(append(RolesFor(Office), RolesFor(Agency)...), RolesFor(Provider)...)
}

func roleOrder(r Role) int {
	for i, x := range []Role{OfficeAdmin, OfficeAnalyst, StandardsLead, AgencyAdmin, AgencyBuyer, AgencyApprover, AgencyAnalyst, AgencyViewer, ProviderAdmin, ProviderAnalyst} {
		if x == r {
			return i
		}
	}
	return 99
}
