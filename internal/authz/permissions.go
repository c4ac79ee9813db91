package authz

// Permission is one function of the product. Handlers ask for a permission
// on an organization; roles grant permissions (see roleDefs).
type Permission string

// Platform permissions. Service areas add theirs here, so every access rule
// stays in this package.
const (
	OrgRead     Permission = "org.read"     // see the organization's profile
	OrgCreate   Permission = "org.create"   // create organizations (office only)
	OrgUpdate   Permission = "org.update"   // edit the organization's profile
	OrgSuspend  Permission = "org.suspend"  // suspend or reactivate organizations
	UserRead    Permission = "user.read"    // list the organization's users and invitations
	UserManage  Permission = "user.manage"  // invite users, assign roles, suspend users
	TokenRead   Permission = "token.read"   // list the organization's API tokens
	TokenManage Permission = "token.manage" // create and revoke API tokens
	AuditRead   Permission = "audit.read"   // read the organization's slice of the audit log
	OutboxRead  Permission = "outbox.read"  // read outgoing email kept when SMTP is not configured
)

// Marketplace permissions (package marketplace). Acting for an organization
// in a workflow (requesting, quoting, signing) also needs a role held in
// that organization itself: see Authorizer.CheckMember.
const (
	MarketOfferingRead      Permission = "market.offering.read"      // see the organization's offerings that are not listed yet (drafts, in review)
	MarketOfferingManage    Permission = "market.offering.manage"    // create and edit offerings, price books, documents, conformance answers
	MarketCatalogManage     Permission = "market.catalog.manage"     // review, list, pause and retire offerings (office)
	MarketStandardManage    Permission = "market.standard.manage"    // draft and publish standards and their requirements
	MarketConformanceReview Permission = "market.conformance.review" // accept or reject offerings' conformance answers
	MarketAssessmentRead    Permission = "market.assessment.read"    // read maturity assessments and recommendations
	MarketAssess            Permission = "market.assess"             // take maturity assessments
	MarketOrderRead         Permission = "market.order.read"         // read orders, agreements and subscriptions
	MarketOrderRequest      Permission = "market.order.request"      // request offerings, withdraw requests, ask for go-it-alone exceptions
	MarketOrderReview       Permission = "market.order.review"       // approve or decline requests and exception requests (office)
	MarketOrderApprove      Permission = "market.order.approve"      // accept or return quotes, cancel subscriptions (agency)
	MarketOrderFulfil       Permission = "market.order.fulfil"       // quote, prepare agreements, work onboarding checklists (provider)
	MarketAgreementSign     Permission = "market.agreement.sign"     // sign agreements and their modifications for the organization
	MarketBillingRead       Permission = "market.billing.read"       // read chargeback statements and spend
	MarketBillingManage     Permission = "market.billing.manage"     // issue statements and set go-it-alone baselines (office)
	MarketUsageRecord       Permission = "market.usage.record"       // record metered usage of the organization's subscriptions
	MarketInsightsRead      Permission = "market.insights.read"      // read the office's marketplace dashboard
)

// Protective DNS permissions.
const (
	DNSRead      Permission = "dns.read"      // see the agency's DNS policy, dashboards and query log
	DNSConnect   Permission = "dns.connect"   // see the agency's DoH URL with its token (a secret that lets devices use the agency's policy)
	DNSManage    Permission = "dns.manage"    // change the agency's DNS policy and rotate its DoH token
	DNSProvision Permission = "dns.provision" // turn Protective DNS on or off for an agency (office)
	DNSFeeds     Permission = "dns.feeds"     // manage the office's threat feeds, global blocks and block page (checked on the office)
)

// permissionList is every permission, for the office admin role.
var permissionList = []Permission{
	OrgRead, OrgCreate, OrgUpdate, OrgSuspend, UserRead, UserManage, TokenRead, TokenManage, AuditRead, OutboxRead,
	MarketOfferingRead, MarketOfferingManage, MarketCatalogManage, MarketStandardManage, MarketConformanceReview,
	MarketAssessmentRead, MarketAssess, MarketOrderRead, MarketOrderRequest, MarketOrderReview, MarketOrderApprove,
	MarketOrderFulfil, MarketAgreementSign, MarketBillingRead, MarketBillingManage, MarketUsageRecord, MarketInsightsRead,
	DNSRead, DNSConnect, DNSManage, DNSProvision, DNSFeeds,
}

// engagementPermissions are the permissions a provider's role may exercise
// in an agency it is engaged to serve (besides its own organization).
var engagementPermissions = map[Permission]bool{}

func allPermissions() []Permission { return permissionList }
