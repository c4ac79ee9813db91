package pdns

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/web"
)

// DNSPolicyJSON is an agency's Protective DNS policy.
type DNSPolicyJSON struct {
	OrgID                 string    `json:"org_id"`
	Categories            []string  `json:"categories" doc:"threat categories blocked: malware, phishing, c2, cryptomining, newly_registered, ads"`
	BlockMode             string    `json:"block_mode" doc:"nxdomain, refused, nodata or sinkhole"`
	CNAMEInspection       bool      `json:"cname_inspection" doc:"block an answer when any name of its CNAME chain is blocked"`
	EgressNetworks        []string  `json:"egress_networks" doc:"the agency's networks (CIDR): queries from them use this policy"`
	AllowList             []string  `json:"allow_list" doc:"names never blocked (with subdomains; *.name for the subdomains only); wins over every block"`
	DenyList              []string  `json:"deny_list" doc:"names the agency blocks itself"`
	BlockedAnswerNetworks []string  `json:"blocked_answer_networks" doc:"answers holding an address in these networks are blocked"`
	DoHToken              string    `json:"doh_token,omitempty" doc:"routes DNS over HTTPS at /dns-query/{token} to this policy; only for callers with dns.connect"`
	UpdatedAt             time.Time `json:"updated_at"`
}

// DNSPolicyUpdateJSON is the body of PATCH /api/v1/dns/agencies/{org}/policy;
// absent fields keep their value, lists are replaced whole.
type DNSPolicyUpdateJSON struct {
	Categories            *[]string `json:"categories,omitempty"`
	BlockMode             *string   `json:"block_mode,omitempty"`
	CNAMEInspection       *bool     `json:"cname_inspection,omitempty"`
	EgressNetworks        *[]string `json:"egress_networks,omitempty"`
	AllowList             *[]string `json:"allow_list,omitempty"`
	DenyList              *[]string `json:"deny_list,omitempty"`
	BlockedAnswerNetworks *[]string `json:"blocked_answer_networks,omitempty"`
}

// Apply returns in with the fields of u that are present.
func (u DNSPolicyUpdateJSON) Apply(in PolicyInput) PolicyInput {
	if u.Categories != nil {
		in.Categories = *u.Categories
	}
	if u.BlockMode != nil {
		in.Mode = *u.BlockMode
	}
	if u.CNAMEInspection != nil {
		in.CNAMEInspection = *u.CNAMEInspection
	}
	if u.EgressNetworks != nil {
		in.Egress = *u.EgressNetworks
	}
	if u.AllowList != nil {
		in.Allow = *u.AllowList
	}
	if u.DenyList != nil {
		in.Deny = *u.DenyList
	}
	if u.BlockedAnswerNetworks != nil {
		in.BlockedAnswers = *u.BlockedAnswerNetworks
	}
	return in
}

func policyJSON(p Policy) DNSPolicyJSON {
	in := InputOf(p)
	out := DNSPolicyJSON{OrgID: p.OrgID, Categories: nonNil(p.Categories), BlockMode: p.Mode, CNAMEInspection: p.CNAMEInspection,
		EgressNetworks: nonNil(in.Egress), AllowList: nonNil(p.Allow), DenyList: nonNil(p.Deny), BlockedAnswerNetworks: nonNil(in.BlockedAnswers),
		DoHToken: p.DoHToken, UpdatedAt: p.UpdatedAt}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// DNSEndpointJSON is how clients reach one resolver node.
type DNSEndpointJSON struct {
	Hostname string `json:"hostname"`
	DNS      string `json:"dns,omitempty" doc:"host:port for plain DNS over UDP and TCP"`
	DoT      string `json:"dot,omitempty" doc:"host:port for DNS over TLS"`
	DoHURL   string `json:"doh_url,omitempty" doc:"DNS over HTTPS URL, with the agency's token when the caller may see it"`
}

// DNSConnectJSON is what an agency needs to point devices at the resolver.
type DNSConnectJSON struct {
	Endpoints      []DNSEndpointJSON `json:"endpoints"`
	TLSName        string            `json:"tls_name,omitempty" doc:"name DNS-over-TLS and DNS-over-HTTPS clients verify"`
	EgressNetworks []string          `json:"egress_networks"`
	DoHToken       string            `json:"doh_token,omitempty"`
}

// DNSQueryJSON is one query of the log.
type DNSQueryJSON struct {
	Time      time.Time `json:"time"`
	Client    string    `json:"client"`
	QName     string    `json:"qname"`
	QType     string    `json:"qtype"`
	RCode     string    `json:"rcode"`
	Action    string    `json:"action" doc:"allowed, blocked, sinkholed, local_data, refused, rate_limited or failed"`
	Transport string    `json:"transport" doc:"udp, tcp, dot or doh"`
	Cache     string    `json:"cache" doc:"miss, hit, stale or none"`
	Rule      string    `json:"rule,omitempty" doc:"the listed name that matched"`
	Feed      string    `json:"feed,omitempty"`
	Category  string    `json:"category,omitempty"`
	Upstream  string    `json:"upstream,omitempty"`
	LatencyUS uint32    `json:"latency_us"`
}

// DNSQueriesJSON is a page of the query log, newest first.
type DNSQueriesJSON struct {
	Records []DNSQueryJSON `json:"records"`
	Next    string         `json:"next,omitempty" doc:"pass as cursor for the next page"`
}

// QueryJSON turns a query log record into its API form.
func QueryJSON(r *querylog.Record) DNSQueryJSON {
	out := DNSQueryJSON{Time: time.Unix(0, r.Time).UTC(), QName: r.QName(), QType: dns.TypeToString[r.QType], RCode: dns.RcodeToString[int(r.RCode)],
		Action: r.Action.String(), Transport: r.Transport.String(), Cache: r.Cache.String(), Rule: r.Rule, Feed: r.Feed, Category: r.Category,
		Upstream: r.Upstream, LatencyUS: r.Latency}
	if r.Client.IsValid() {
		out.Client = r.Client.String()
	}
	if out.QType == "" {
		out.QType = "TYPE" + itoa(int(r.QType))
	}
	if out.RCode == "" {
		out.RCode = itoa(int(r.RCode))
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// DNSCountsJSON is a number of queries by outcome.
type DNSCountsJSON struct {
	Queries     uint64 `json:"queries"`
	Allowed     uint64 `json:"allowed"`
	Blocked     uint64 `json:"blocked" doc:"blocked and sinkholed"`
	LocalData   uint64 `json:"local_data"`
	Refused     uint64 `json:"refused"`
	RateLimited uint64 `json:"rate_limited"`
	Failed      uint64 `json:"failed"`
}

func countsJSON(c querylog.Counts) DNSCountsJSON {
	return DNSCountsJSON{Queries: c.Queries, Allowed: c.ByAction[querylog.Allowed], Blocked: c.Blocked(), LocalData: c.ByAction[querylog.LocalData],
		Refused: c.ByAction[querylog.Refused], RateLimited: c.ByAction[querylog.RateLimited], Failed: c.ByAction[querylog.Failed]}
}

// DNSPointJSON is one step of the activity series.
type DNSPointJSON struct {
	Start  time.Time     `json:"start"`
	Counts DNSCountsJSON `json:"counts"`
}

// DNSBlockedNameJSON is a blocked name with how often it was blocked.
type DNSBlockedNameJSON struct {
	Domain   string `json:"domain"`
	Count    uint64 `json:"count"`
	Category string `json:"category,omitempty"`
}

// DNSSuspectJSON is a client that resolved malware or command-and-control names.
type DNSSuspectJSON struct {
	Client  string    `json:"client"`
	C2      uint64    `json:"c2"`
	Malware uint64    `json:"malware"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}

// DNSStatsJSON is an agency's activity over a time range.
type DNSStatsJSON struct {
	From        time.Time            `json:"from"`
	To          time.Time            `json:"to"`
	StepSeconds int64                `json:"step_seconds"`
	Totals      DNSCountsJSON        `json:"totals"`
	Series      []DNSPointJSON       `json:"series"`
	TopBlocked  []DNSBlockedNameJSON `json:"top_blocked"`
	Suspects    []DNSSuspectJSON     `json:"suspected_clients"`
}

// DNSAgencyJSON is one agency on the office's overview.
type DNSAgencyJSON struct {
	OrgID          string        `json:"org_id"`
	Name           string        `json:"name"`
	Provisioned    bool          `json:"provisioned"`
	BlockMode      string        `json:"block_mode,omitempty"`
	EgressNetworks int           `json:"egress_networks"`
	Last24h        DNSCountsJSON `json:"last_24h"`
}

// DNSFeedStatusJSON is one resolver node's view of a feed.
type DNSFeedStatusJSON struct {
	NodeID      string    `json:"node_id"`
	Hostname    string    `json:"hostname"`
	State       string    `json:"state" doc:"never_fetched, ok, rejected or error"`
	Entries     int64     `json:"entries"`
	Format      string    `json:"format,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Failures    int64     `json:"failures"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastChange  time.Time `json:"last_change,omitzero"`
}

// DNSFeedJSON is a threat feed with its status on every resolver node.
type DNSFeedJSON struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	Source          string              `json:"source" doc:"URL (credentials and query values redacted) or file name in DATA_DIR/feeds"`
	Format          string              `json:"format"`
	Category        string              `json:"category"`
	IntervalMinutes int                 `json:"interval_minutes"`
	Enabled         bool                `json:"enabled"`
	Status          []DNSFeedStatusJSON `json:"status"`
	UpdatedAt       time.Time           `json:"updated_at"`
}

// DNSFeedInputJSON is the body of POST /api/v1/dns/feeds.
type DNSFeedInputJSON struct {
	Name            string `json:"name"`
	Source          string `json:"source" doc:"an http(s) URL, or the name of a file in DATA_DIR/feeds"`
	Format          string `json:"format,omitempty" doc:"auto (default), plain, hosts, adblock or rpz"`
	Category        string `json:"category"`
	IntervalMinutes int    `json:"interval_minutes,omitempty" doc:"1 to 10080; default 60"`
	Enabled         *bool  `json:"enabled,omitempty" doc:"default true"`
}

// DNSFeedUpdateJSON is the body of PATCH /api/v1/dns/feeds/{feed}; absent
// fields keep their value.
type DNSFeedUpdateJSON struct {
	Name            *string `json:"name,omitempty"`
	Source          *string `json:"source,omitempty"`
	Format          *string `json:"format,omitempty"`
	Category        *string `json:"category,omitempty"`
	IntervalMinutes *int    `json:"interval_minutes,omitempty"`
	Enabled         *bool   `json:"enabled,omitempty"`
}

func feedJSON(f FeedWithStatus) DNSFeedJSON {
	out := DNSFeedJSON{ID: f.ID, Name: f.Name, Source: redactSource(f.Source), Format: f.Format, Category: f.Category,
		IntervalMinutes: int(f.Interval / time.Minute), Enabled: f.Enabled, Status: []DNSFeedStatusJSON{}, UpdatedAt: f.UpdatedAt}
	for _, s := range f.Status {
		out.Status = append(out.Status, DNSFeedStatusJSON{NodeID: s.NodeID, Hostname: s.Hostname, State: s.State, Entries: s.Entries, Format: s.Format,
			Reason: s.Reason, Failures: s.Failures, LastAttempt: s.LastAttempt, LastSuccess: s.LastSuccess, LastChange: s.LastChange})
	}
	return out
}

// DNSGlobalBlockJSON is a name the office blocks for every agency.
type DNSGlobalBlockJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Reason    string    `json:"reason,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// DNSGlobalBlockInputJSON is the body of POST /api/v1/dns/blocks.
type DNSGlobalBlockInputJSON struct {
	Name   string `json:"name" doc:"a domain (with its subdomains), or *.domain for the subdomains only"`
	Reason string `json:"reason,omitempty"`
}

// DNSSettingsJSON are the office's block page addresses.
type DNSSettingsJSON struct {
	BlockPageIPv4 string `json:"block_page_ipv4"`
	BlockPageIPv6 string `json:"block_page_ipv6"`
}

// DNSNodeJSON is a resolver node as it last reported itself.
type DNSNodeJSON struct {
	ID            string    `json:"id"`
	Hostname      string    `json:"hostname"`
	DNS           string    `json:"dns,omitempty"`
	DoT           string    `json:"dot,omitempty"`
	DoHURL        string    `json:"doh_url,omitempty"`
	Version       string    `json:"version"`
	PolicyVersion int64     `json:"policy_version"`
	ListNames     int64     `json:"list_names"`
	StartedAt     time.Time `json:"started_at"`
	SeenAt        time.Time `json:"seen_at"`
}

// DNSActivityEvent is an OCSF 1.8 DNS Activity (class 4003) event, one per
// line of the NDJSON export.
type DNSActivityEvent querylog.OCSFEvent

var queryParams = []web.Param{
	{Name: "domain", Description: "a domain name (see match)"},
	{Name: "match", Enum: []string{"suffix", "exact", "contains"}, Description: "suffix (default): the name and its subdomains"},
	{Name: "client", Description: "a client address or network"},
	{Name: "action", Enum: []string{"allowed", "blocked", "sinkholed", "local_data", "refused", "rate_limited", "failed"}, Description: "repeatable; blocked includes sinkholed"},
	{Name: "qtype", Description: "query type such as A or AAAA; repeatable"},
	{Name: "from", Description: "RFC 3339 time; default 24 hours ago"},
	{Name: "to", Description: "RFC 3339 time (exclusive)"},
}

func (h *Handlers) registerAPI(r *web.Router) {
	const tag = "Protective DNS"
	r.API("GET /api/v1/dns/agencies", web.Doc{Summary: "List agencies with their Protective DNS status and last day's totals", Tag: tag, Response: []DNSAgencyJSON{}}, h.apiAgencies)
	r.API("GET /api/v1/dns/agencies/{org}/policy", web.Doc{Summary: "Get an agency's DNS policy", Tag: tag, Response: DNSPolicyJSON{}}, h.apiPolicy)
	r.API("PATCH /api/v1/dns/agencies/{org}/policy", web.Doc{Summary: "Change an agency's DNS policy (lists are replaced whole)", Tag: tag, Request: DNSPolicyUpdateJSON{}, Response: DNSPolicyJSON{}}, h.apiPolicyUpdate)
	r.API("GET /api/v1/dns/agencies/{org}/connect", web.Doc{Summary: "How the agency's devices reach the resolvers", Tag: tag, Response: DNSConnectJSON{}}, h.apiConnect)
	r.API("POST /api/v1/dns/agencies/{org}/token", web.Doc{Summary: "Replace the agency's DNS-over-HTTPS token (the old one stops working)", Tag: tag, Response: DNSConnectJSON{}}, h.apiRotateToken)
	r.API("POST /api/v1/dns/agencies/{org}/provision", web.Doc{Summary: "Set up Protective DNS for an agency with the default policy (office admins)", Tag: tag, Response: DNSPolicyJSON{}, Status: http.StatusCreated}, h.apiProvision)
	r.API("DELETE /api/v1/dns/agencies/{org}/provision", web.Doc{Summary: "Turn Protective DNS off for an agency (office admins)", Tag: tag, Status: http.StatusNoContent}, h.apiDeprovision)
	r.API("GET /api/v1/dns/agencies/{org}/queries", web.Doc{Summary: "Search the agency's query log, newest first", Tag: tag, Response: DNSQueriesJSON{},
		Query: append(append([]web.Param{}, queryParams...), web.Param{Name: "limit", Type: "integer", Description: "1 to 500, default 50"}, web.Param{Name: "cursor", Description: "next of the previous page"})}, h.apiQueries)
	r.API("GET /api/v1/dns/agencies/{org}/queries/ocsf", web.Doc{Summary: "Export the agency's queries as OCSF 1.8 DNS Activity (class 4003) NDJSON", Tag: tag,
		Response: DNSActivityEvent{}, ContentType: "application/x-ndjson",
		Query: append(append([]web.Param{}, queryParams...), web.Param{Name: "limit", Type: "integer", Description: "most records to export (default and maximum 1,000,000)"})}, h.apiExport)
	r.API("GET /api/v1/dns/agencies/{org}/stats", web.Doc{Summary: "The agency's queries and blocks over time, top blocked names and suspected infected clients", Tag: tag, Response: DNSStatsJSON{},
		Query: []web.Param{{Name: "range", Enum: []string{"24h", "7d", "30d"}, Description: "default 24h"}}}, h.apiStats)
	r.API("GET /api/v1/dns/feeds", web.Doc{Summary: "List the office's threat feeds with their status", Tag: tag, Response: []DNSFeedJSON{}}, h.apiFeeds)
	r.API("POST /api/v1/dns/feeds", web.Doc{Summary: "Add a threat feed", Tag: tag, Request: DNSFeedInputJSON{}, Response: DNSFeedJSON{}, Status: http.StatusCreated}, h.apiFeedCreate)
	r.API("GET /api/v1/dns/feeds/{feed}", web.Doc{Summary: "Get a threat feed with its status", Tag: tag, Response: DNSFeedJSON{}}, h.apiFeed)
	r.API("PATCH /api/v1/dns/feeds/{feed}", web.Doc{Summary: "Change, turn on or turn off a threat feed", Tag: tag, Request: DNSFeedUpdateJSON{}, Response: DNSFeedJSON{}}, h.apiFeedUpdate)
	r.API("DELETE /api/v1/dns/feeds/{feed}", web.Doc{Summary: "Remove a threat feed", Tag: tag, Status: http.StatusNoContent}, h.apiFeedDelete)
	r.API("POST /api/v1/dns/feeds/{feed}/refresh", web.Doc{Summary: "Ask every resolver to fetch the feed now", Tag: tag, Response: DNSFeedJSON{}}, h.apiFeedRefresh)
	r.API("GET /api/v1/dns/blocks", web.Doc{Summary: "List the office's global blocks", Tag: tag, Response: []DNSGlobalBlockJSON{}}, h.apiBlocks)
	r.API("POST /api/v1/dns/blocks", web.Doc{Summary: "Block a name for every agency", Tag: tag, Request: DNSGlobalBlockInputJSON{}, Response: DNSGlobalBlockJSON{}, Status: http.StatusCreated}, h.apiBlockAdd)
	r.API("DELETE /api/v1/dns/blocks/{block}", web.Doc{Summary: "Lift a global block", Tag: tag, Status: http.StatusNoContent}, h.apiBlockRemove)
	r.API("GET /api/v1/dns/settings", web.Doc{Summary: "Get the block page addresses", Tag: tag, Response: DNSSettingsJSON{}}, h.apiSettings)
	r.API("PUT /api/v1/dns/settings", web.Doc{Summary: "Set the block page addresses (empty: none)", Tag: tag, Request: DNSSettingsJSON{}, Response: DNSSettingsJSON{}}, h.apiSettingsUpdate)
	r.API("GET /api/v1/dns/nodes", web.Doc{Summary: "Resolver nodes seen in the last ten minutes", Tag: tag, Response: []DNSNodeJSON{}}, h.apiNodes)
}

// apiAgency resolves {org} for the API.
func (h *Handlers) apiAgency(r *http.Request) (string, error) {
	return h.orgRef(r.Context(), r.PathValue("org"))
}

func (h *Handlers) apiAgencies(w http.ResponseWriter, r *http.Request) error {
	now := time.Now()
	sums, err := h.S.AgencySummaries(r.Context(), web.PrincipalFrom(r.Context()), now.Add(-24*time.Hour), now)
	if err != nil {
		return err
	}
	out := []DNSAgencyJSON{}
	for _, a := range sums {
		out = append(out, DNSAgencyJSON{OrgID: a.OrgID, Name: a.Name, Provisioned: a.Provisioned, BlockMode: a.Mode, EgressNetworks: a.Networks, Last24h: countsJSON(a.Counts)})
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiPolicy(w http.ResponseWriter, r *http.Request) error {
	oid, err := h.apiAgency(r)
	if err != nil {
		return err
	}
	pol, err := h.S.GetPolicy(r.Context(), web.PrincipalFrom(r.Context()), oid)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, policyJSON(pol))
	return nil
}

func (h *Handlers) apiPolicyUpdate(w http.ResponseWriter, r *http.Request) error {
	oid, err := h.apiAgency(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if err := h.S.Authz.Check(r.Context(), p, authz.DNSManage, oid); err != nil {
		return err
	}
	var body DNSPolicyUpdateJSON
	if err := web.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	cur, err := h.S.GetPolicy(r.Context(), p, oid)
	if err != nil {
		return err
	}
	pol, err := h.S.UpdatePolicy(r.Context(), p, oid, body.Apply(InputOf(cur)))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, policyJSON(pol))
	return nil
}

func connectJSON(info ConnectInfo) DNSConnectJSON {
	out := DNSConnectJSON{Endpoints: []DNSEndpointJSON{}, TLSName: info.TLSName, EgressNetworks: []string{}, DoHToken: info.Token}
	for _, e := range info.Endpoints {
		out.Endpoints = append(out.Endpoints, DNSEndpointJSON{Hostname: e.Hostname, DNS: e.DNS, DoT: e.DoT, DoHURL: e.DoHURL})
	}
	for _, n := range info.Policy.Egress {
		out.EgressNetworks = append(out.EgressNetworks, n.String())
	}
	return out
}

func (h *Handlers) apiConnect(w http.ResponseWriter, r *http.Request) error {
	oid, err := h.apiAgency(r)
	if err != nil {
		return err
	}
	info, err := h.S.Connect(r.Context(), web.PrincipalFrom(r.Context()), oid)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, connectJSON(info))
	return nil
}

func (h *Handlers) apiRotateToken(w http.ResponseWriter, r *http.Request) error {
	oid, err := h.apiAgency(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if _, err := h.S.RotateToken(r.Context(), p, oid); err != nil {
		return err
	}
	info, err := h.S.Connect(r.Context(), p, oid)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, connectJSON(info))
	return nil
}

func (h *Handlers) apiProvision(w http.ResponseWriter, r *http.Request) error {
	oid, err := h.apiAgency(r)
	if err != nil {
		return err
	}
	pol, err := h.S.ProvisionAgency(r.Context(), web.PrincipalFrom(r.Context()), oid)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, policyJSON(pol))
	return nil
}

func (h *Handlers) apiDeprovision(w http.ResponseWriter, r *http.Request) error {
	oid, err := h.apiAgency(r)
	if err != nil {
		return err
	}
	if err := h.S.DeprovisionAgency(r.Context(), web.PrincipalFrom(r.Context()), oid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handlers) apiQueries(w http.ResponseWriter, r *http.Request) error {
	oid, err := h.apiAgency(r)
	if err != nil {
		return err
	}
	p := web.PrincipalFrom(r.Context())
	if err := h.S.Authz.Check(r.Context(), p, authz.DNSRead, oid); err != nil {
		return err
	}
	f, errs := ParseQueryFilter(r.URL.Query(), time.UTC, time.Now(), MaxPageSize)
	if len(errs) > 0 {
		return apperr.Validation(errs)
	}
	page, err := h.S.SearchQueries(r.Context(), p, oid, f)
	if err != nil {
		return err
	}
	out := DNSQueriesJSON{Records: []DNSQueryJSON{}, Next: page.Next}
	for i := range page.Records {
		out.Records = append(out.Records, QueryJSON(&page.Records[i]))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiExport(w http.ResponseWriter, r *http.Request) error {
	oid, err := h.apiAgency(r)
	if err != nil {
		return err
	}
	return h.exportOCSF(w, r, oid, time.UTC)
}

func (h *Handlers) apiStats(w http.ResponseWriter, r *http.Request) error {
	oid, err := h.apiAgency(r)
	if err != nil {
		return err
	}
	span := 24 * time.Hour
	if v := r.URL.Query().Get("range"); v != "" {
		found := false
		for _, rg := range ranges {
			if rg.Value == v {
				span, found = rg.Span, true
			}
		}
		if !found {
			return apperr.Validation(map[string]string{"range": "The range is 24h, 7d or 30d."})
		}
	}
	now := time.Now()
	d, err := h.S.Dashboard(r.Context(), web.PrincipalFrom(r.Context()), oid, now.Add(-span), now)
	if err != nil {
		return err
	}
	out := DNSStatsJSON{From: d.From, To: d.To.UTC(), StepSeconds: int64(d.Step / time.Second), Totals: countsJSON(d.Totals),
		Series: []DNSPointJSON{}, TopBlocked: []DNSBlockedNameJSON{}, Suspects: []DNSSuspectJSON{}}
	for _, pt := range d.Series {
		out.Series = append(out.Series, DNSPointJSON{Start: pt.Start, Counts: countsJSON(pt.Counts)})
	}
	for _, t := range d.TopBlocked {
		out.TopBlocked = append(out.TopBlocked, DNSBlockedNameJSON{Domain: t.Domain, Count: t.Count, Category: t.Category})
	}
	for _, s := range d.Suspects {
		out.Suspects = append(out.Suspects, DNSSuspectJSON{Client: addrString(s.Client), C2: s.C2, Malware: s.Malware, First: s.First, Last: s.Last})
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func (h *Handlers) apiFeeds(w http.ResponseWriter, r *http.Request) error {
	feeds, err := h.S.ListFeeds(r.Context(), web.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	out := []DNSFeedJSON{}
	for _, f := range feeds {
		out = append(out, feedJSON(f))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiFeed(w http.ResponseWriter, r *http.Request) error {
	f, err := h.S.GetFeed(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("feed"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, feedJSON(f))
	return nil
}

func (h *Handlers) apiFeedCreate(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	if err := h.S.checkFeeds(r.Context(), p); err != nil {
		return err
	}
	var body DNSFeedInputJSON
	if err := web.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	in := FeedInput{Name: body.Name, Source: body.Source, Format: body.Format, Category: body.Category, Interval: time.Hour, Enabled: true}
	if body.IntervalMinutes != 0 {
		in.Interval = time.Duration(body.IntervalMinutes) * time.Minute
	}
	if body.Enabled != nil {
		in.Enabled = *body.Enabled
	}
	f, err := h.S.CreateFeed(r.Context(), p, in)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, feedJSON(FeedWithStatus{Feed: f}))
	return nil
}

func (h *Handlers) apiFeedUpdate(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	cur, err := h.S.GetFeed(r.Context(), p, r.PathValue("feed"))
	if err != nil {
		return err
	}
	var body DNSFeedUpdateJSON
	if err := web.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	in := FeedInput{Name: cur.Name, Source: cur.Source, Format: cur.Format, Category: cur.Category, Interval: cur.Interval, Enabled: cur.Enabled}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&in.Name, body.Name)
	set(&in.Source, body.Source)
	set(&in.Format, body.Format)
	set(&in.Category, body.Category)
	if body.IntervalMinutes != nil {
		in.Interval = time.Duration(*body.IntervalMinutes) * time.Minute
	}
	if body.Enabled != nil {
		in.Enabled = *body.Enabled
	}
	f, err := h.S.UpdateFeed(r.Context(), p, cur.ID, in)
	if err != nil {
		return err
	}
	fs, err := h.S.GetFeed(r.Context(), p, f.ID)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, feedJSON(fs))
	return nil
}

func (h *Handlers) apiFeedDelete(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.DeleteFeed(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("feed")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handlers) apiFeedRefresh(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	f, err := h.S.RefreshFeed(r.Context(), p, r.PathValue("feed"))
	if err != nil {
		return err
	}
	fs, err := h.S.GetFeed(r.Context(), p, f.ID)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, feedJSON(fs))
	return nil
}

func blockJSON(g GlobalBlock) DNSGlobalBlockJSON { return DNSGlobalBlockJSON(g) }

func (h *Handlers) apiBlocks(w http.ResponseWriter, r *http.Request) error {
	blocks, err := h.S.ListGlobalBlocks(r.Context(), web.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	out := []DNSGlobalBlockJSON{}
	for _, g := range blocks {
		out = append(out, blockJSON(g))
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) apiBlockAdd(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	if err := h.S.checkFeeds(r.Context(), p); err != nil {
		return err
	}
	var body DNSGlobalBlockInputJSON
	if err := web.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	g, err := h.S.AddGlobalBlock(r.Context(), p, body.Name, body.Reason)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, blockJSON(g))
	return nil
}

func (h *Handlers) apiBlockRemove(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.RemoveGlobalBlock(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("block")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handlers) apiSettings(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.checkFeeds(r.Context(), web.PrincipalFrom(r.Context())); err != nil {
		return err
	}
	st, err := h.S.GetSettings(r.Context())
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, DNSSettingsJSON{BlockPageIPv4: addrText(st.SinkholeV4), BlockPageIPv6: addrText(st.SinkholeV6)})
	return nil
}

func (h *Handlers) apiSettingsUpdate(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	if err := h.S.checkFeeds(r.Context(), p); err != nil {
		return err
	}
	var body DNSSettingsJSON
	if err := web.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	st, err := h.S.UpdateSettings(r.Context(), p, body.BlockPageIPv4, body.BlockPageIPv6)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, DNSSettingsJSON{BlockPageIPv4: addrText(st.SinkholeV4), BlockPageIPv6: addrText(st.SinkholeV6)})
	return nil
}

func (h *Handlers) apiNodes(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	office, err := officeID(r.Context(), h.S.DB)
	if err != nil {
		return err
	}
	if err := h.S.Authz.Check(r.Context(), p, authz.DNSRead, office); err != nil {
		return err
	}
	nodes, err := h.S.Nodes(r.Context())
	if err != nil {
		return err
	}
	out := []DNSNodeJSON{}
	for _, n := range nodes {
		out = append(out, DNSNodeJSON{ID: n.ID, Hostname: n.Hostname, DNS: n.DNSAddr, DoT: n.DoTAddr, DoHURL: n.DoHURL, Version: n.Version,
			PolicyVersion: n.PolicyVersion, ListNames: n.ListNames, StartedAt: n.StartedAt, SeenAt: n.SeenAt})
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}
