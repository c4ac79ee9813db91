// Package pdns is the Protective DNS service as agencies and the office use
// it: each agency's policy and the office's threat feeds and global blocks,
// kept in the database; the resolver node that turns them into engine
// snapshots and runs the listeners and the query log; and the portal pages
// and API. The engine itself lives in the sub-packages (resolver, blocklist,
// feed, upstream, querylog, cache, wire, dnsname).
package pdns

import (
	"net/netip"
	"time"

	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// Category is a threat category an agency may choose to block. A feed lists
// its names under one category.
type Category struct {
	Name  string // stored and used in the query log, e.g. "c2"
	Label string
	About string
	Bit   uint
}

// Categories is the fixed set of threat categories, in display order. Their
// bits number the rules of the shared list; "c2" and "malware" are the names
// the query log counts towards suspected infected clients.
var Categories = []Category{
	{Name: querylog.CategoryMalware, Label: "Malware", About: "Sites that spread or host malicious software.", Bit: 0},
	{Name: "phishing", Label: "Phishing", About: "Sites that steal passwords or impersonate organizations.", Bit: 1},
	{Name: querylog.CategoryC2, Label: "Command and control", About: "Servers that infected devices call home to.", Bit: 2},
	{Name: "cryptomining", Label: "Cryptomining", About: "Mining pools and in-browser miners.", Bit: 3},
	{Name: "newly_registered", Label: "Newly registered domains", About: "Domains registered in the last 30 days, often used in attacks.", Bit: 4},
	{Name: "ads", Label: "Advertising and tracking", About: "Ad networks and trackers.", Bit: 5},
}

// GlobalCategory names the office's global blocks in the query log; every
// agency blocks them.
const GlobalCategory = "office"

// globalBit is the category bit of the office's global blocks.
const globalBit = 31

// DefaultCategories are blocked by a newly provisioned agency.
var DefaultCategories = []string{querylog.CategoryMalware, "phishing", querylog.CategoryC2, "cryptomining"}

// CategoryByName returns the category with the given name.
func CategoryByName(name string) (Category, bool) {
	for _, c := range Categories {
		if c.Name == name {
			return c, true
		}
	}
	return Category{}, false
}

// categoryNames maps category bits to names, for resolver snapshots.
func categoryNames() [32]string {
	var out [32]string
	for _, c := range Categories {
		out[c.Bit] = c.Name
	}
	out[globalBit] = GlobalCategory
	return out
}

// categoryMask returns the bit mask of the named categories; unknown names
// are ignored (they were validated when stored).
func categoryMask(names []string) uint32 {
	var m uint32
	for _, n := range names {
		if c, ok := CategoryByName(n); ok {
			m |= 1 << c.Bit
		}
	}
	return m
}

// Block modes an agency can choose.
const (
	ModeNXDomain = "nxdomain"
	ModeRefused  = "refused"
	ModeNoData   = "nodata"
	ModeSinkhole = "sinkhole"
)

// BlockModes describes the block modes, in display order.
var BlockModes = []struct{ Value, Label, About string }{
	{ModeNXDomain, "The name does not exist (NXDOMAIN)", "Devices see the site as missing. Works everywhere; the usual choice."},
	{ModeRefused, "Refuse the query (REFUSED)", "Devices see a resolver refusal and may try another resolver."},
	{ModeNoData, "An empty answer (NODATA)", "The name exists but has no address."},
	{ModeSinkhole, "The office's block page (sinkhole)", "Web browsers show the office's block page instead of the site; other query types get an empty answer."},
}

// Policy is one agency's Protective DNS policy.
type Policy struct {
	OrgID string
	// Categories are the threat categories the agency blocks (the office's
	// global blocks apply whatever they are).
	Categories []string
	Mode       string
	// CNAMEInspection blocks an answer when any name of its CNAME chain is
	// blocked.
	CNAMEInspection bool
	// Egress are the agency's networks: queries from them use this policy.
	Egress []netip.Prefix
	// DoHToken picks this policy for DNS over HTTPS at /dns-query/{token}.
	DoHToken string
	// Allow lists names never blocked for the agency; Deny names it blocks
	// itself. "*.example.com" covers only the subdomains.
	Allow, Deny []string
	// BlockedAnswers blocks any answer holding an address in these networks.
	BlockedAnswers []netip.Prefix
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Feed is a threat feed the office manages.
type Feed struct {
	ID       string
	Name     string
	Source   string // an http(s) URL, or a file name inside DATA_DIR/feeds
	Format   string // auto, plain, hosts, adblock, rpz
	Category string
	Interval time.Duration
	Enabled  bool
	// RefreshSeq is raised by "refresh now".
	RefreshSeq int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// FeedStatus is one resolver node's view of a feed.
type FeedStatus struct {
	FeedID      string
	NodeID      string
	Hostname    string
	State       string // never_fetched, ok, rejected, error
	Entries     int64
	Format      string
	Reason      string
	Failures    int64
	Duration    time.Duration
	LastAttempt time.Time
	LastSuccess time.Time
	LastChange  time.Time
	UpdatedAt   time.Time
}

// GlobalBlock is a name the office blocks for every agency.
type GlobalBlock struct {
	ID        string
	Name      string
	Reason    string
	CreatedBy string
	CreatedAt time.Time
}

// Settings are the office's service-wide settings.
type Settings struct {
	// SinkholeV4 and SinkholeV6 are the addresses of the office's block
	// page, answered for blocked names in sinkhole mode.
	SinkholeV4, SinkholeV6 netip.Addr
}

// NodeInfo is a resolver node as it last reported itself.
type NodeInfo struct {
	ID            string
	Hostname      string
	DNSAddr       string
	DoTAddr       string
	DoHURL        string // base DoH URL (append /{token} for token routing); empty: none
	Version       string
	PolicyVersion int64
	ListNames     int64
	StartedAt     time.Time
	SeenAt        time.Time
}
