package querylog

import (
	"fmt"
	"net/netip"
	"strings"
)

// MaxQNameLen is the longest query name a Record holds. A name in
// presentation form without escapes is at most 253 characters; longer input
// (escaped binary labels) is cut at this length.
const MaxQNameLen = 255

// Transport is how the query reached the resolver.
type Transport uint8

// Transports. The numbering is part of the on-disk format: append only.
const (
	UDP Transport = iota // plain DNS over UDP port 53
	TCP                  // plain DNS over TCP port 53
	DoT                  // DNS over TLS (RFC 7858)
	DoH                  // DNS over HTTPS (RFC 8484)
	DoQ                  // DNS over QUIC (RFC 9250)
	numTransports
)

var transportNames = [numTransports]string{"udp", "tcp", "dot", "doh", "doq"}

// String returns the lower-case name used in filters, exports and the UI.
func (t Transport) String() string {
	if t < numTransports {
		return transportNames[t]
	}
	return fmt.Sprintf("transport(%d)", uint8(t))
}

// Valid reports whether t is one of the defined transports.
func (t Transport) Valid() bool { return t < numTransports }

// ParseTransport is the inverse of Transport.String.
func ParseTransport(s string) (Transport, error) {
	for i, n := range transportNames {
		if strings.EqualFold(s, n) {
			return Transport(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown transport %q", ErrInvalid, s)
}

// Action is what the resolver did with the query.
type Action uint8

// Actions. The numbering is part of the on-disk format: append only.
const (
	Allowed     Action = iota // resolved normally (cache or upstream)
	Blocked                   // policy block answered with NXDOMAIN/REFUSED/NODATA
	Sinkholed                 // policy block answered with the sinkhole address
	LocalData                 // answered from the tenant's local records
	Refused                   // unknown client: no tenant matched the source
	RateLimited               // the client exceeded its rate limit
	Failed                    // SERVFAIL to the client (upstreams failed, timeout)
	NumActions                // number of actions; not an action
)

var actionNames = [NumActions]string{"allowed", "blocked", "sinkholed", "local_data", "refused", "rate_limited", "failed"}

// String returns the lower-case name used in filters, exports and the UI.
func (a Action) String() string {
	if a < NumActions {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Valid reports whether a is one of the defined actions.
func (a Action) Valid() bool { return a < NumActions }

// IsBlock reports whether the action is a policy block, counted as "blocked"
// on dashboards and in the top blocked domains.
func (a Action) IsBlock() bool { return a == Blocked || a == Sinkholed }

// ParseAction is the inverse of Action.String.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if strings.EqualFold(s, n) {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown action %q", ErrInvalid, s)
}

// CacheStatus tells whether the answer came from the cache.
type CacheStatus uint8

// Cache statuses. The numbering is part of the on-disk format: append only.
const (
	Miss  CacheStatus = iota // looked up, not cached: asked an upstream
	Hit                      // answered from a fresh cache entry
	Stale                    // answered from an expired entry (serve-stale, RFC 8767)
	None                     // cache not consulted (refused, blocked before lookup, ...)
	numCacheStatuses
)

var cacheNames = [numCacheStatuses]string{"miss", "hit", "stale", "none"}

// String returns the lower-case name.
func (c CacheStatus) String() string {
	if c < numCacheStatuses {
		return cacheNames[c]
	}
	return fmt.Sprintf("cache(%d)", uint8(c))
}

// Valid reports whether c is one of the defined statuses.
func (c CacheStatus) Valid() bool { return c < numCacheStatuses }

// Record is one answered (or refused) query.
//
// Strings are shared, not copied: tenant IDs, rule, feed, category and
// upstream names come from long-lived snapshots, so producing a record never
// allocates. The query name is copied into a fixed array by SetQName for the
// same reason. A Record is about 400 bytes; pass it by pointer.
type Record struct {
	Time      int64       // unix nanoseconds at which the query was received
	Tenant    string      // organization ID of the agency ("" when unknown/refused)
	Client    netip.Addr  // source address of the query
	Transport Transport   // how the query arrived
	QType     uint16      // query type (1 = A, 28 = AAAA, ...)
	QClass    uint16      // query class (1 = IN); 0 when the producer did not record it
	RCode     uint16      // response code sent to the client (extended codes allowed)
	Action    Action      // what the resolver did
	Cache     CacheStatus // whether the cache answered
	Rule      string      // the listed name that matched (e.g. "evil.example"), "" if none
	Feed      string      // feed or list that held the rule, "" if none
	Category  string      // threat category of the rule ("malware", "phishing", "c2", ...)
	Upstream  string      // upstream that answered, "" for cache hits and blocks
	Latency   uint32      // microseconds from receipt to reply

	qlen  uint8
	qname [MaxQNameLen]byte
}

// SetQName stores the query name given in presentation form ("www.Example.com."
// as printed by dig and github.com/miekg/dns). The name is copied, ASCII
// letters are lower-cased and one trailing dot is removed, so the stored form
// is the one the resolver matches on ("www.example.com"); the root name stays
// ".". Escapes such as "\046" are kept as written. Input longer than
// MaxQNameLen bytes is cut. SetQName never allocates.
func (r *Record) SetQName(name []byte) {
	if len(name) > 1 && name[len(name)-1] == '.' && !escapedDot(name) {
		name = name[:len(name)-1]
	}
	n := copy(r.qname[:], name)
	lowerASCII(r.qname[:n])
	r.qlen = uint8(n)
}

// SetQNameString is SetQName for a name held in a string, as produced by
// github.com/miekg/dns (Question.Name). It never allocates.
func (r *Record) SetQNameString(name string) {
	if len(name) > 1 && name[len(name)-1] == '.' && !escapedDotString(name) {
		name = name[:len(name)-1]
	}
	n := copy(r.qname[:], name)
	lowerASCII(r.qname[:n])
	r.qlen = uint8(n)
}

// QName returns the stored query name. It allocates: it is for readers, not
// for the query path.
func (r *Record) QName() string { return string(r.qname[:r.qlen]) }

// qnameBytes returns the stored name without copying; the slice aliases r.
func (r *Record) qnameBytes() []byte { return r.qname[:r.qlen] }

// setQNameRaw stores an already normalized name (decoder path).
func (r *Record) setQNameRaw(b []byte) {
	n := copy(r.qname[:], b)
	r.qlen = uint8(n)
}

// copyFrom copies src into r touching only the used part of the name array:
// a full struct copy would move ~400 bytes per record on the query path.
func (r *Record) copyFrom(src *Record) {
	r.Time = src.Time
	r.Tenant = src.Tenant
	r.Client = src.Client
	r.Transport = src.Transport
	r.QType = src.QType
	r.QClass = src.QClass
	r.RCode = src.RCode
	r.Action = src.Action
	r.Cache = src.Cache
	r.Rule = src.Rule
	r.Feed = src.Feed
	r.Category = src.Category
	r.Upstream = src.Upstream
	r.Latency = src.Latency
	r.qlen = src.qlen
	copy(r.qname[:src.qlen], src.qname[:src.qlen])
}

// escapedDot reports whether the final dot of name is escaped ("a\."), in
// which case it is part of the last label and must stay.
func escapedDot(name []byte) bool {
	n := 0
	for i := len(name) - 2; i >= 0 && name[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func escapedDotString(name string) bool {
	n := 0
	for i := len(name) - 2; i >= 0 && name[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
}
