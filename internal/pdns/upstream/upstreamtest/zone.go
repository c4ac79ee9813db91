package upstreamtest

import (
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// maxChase bounds CNAME chains inside one zone so a loop in test data
// cannot hang a server goroutine.
const maxChase = 8

// Zone is a small in-memory set of records that a Server answers from, the
// way a recursive resolver would answer after resolution: CNAMEs are chased
// inside the zone, a name with no record of the asked type gets NODATA and a
// name with no records at all gets NXDOMAIN, both with the closest enclosing
// SOA in the authority section so negative answers can be cached (RFC 2308).
// A Zone is safe for concurrent use; records may be added while serving.
type Zone struct {
	mu  sync.RWMutex
	rrs map[string][]dns.RR // by lowercase owner name
}

// NewZone returns a zone holding records written in zone-file syntax, one
// per string, each with an explicit owner, TTL, class and type:
// "www.example.test. 300 IN A 192.0.2.10".
func NewZone(records ...string) (*Zone, error) {
	z := &Zone{rrs: make(map[string][]dns.RR)}
	if err := z.Add(records...); err != nil {
		return nil, err
	}
	return z, nil
}

// DefaultZone returns a fresh zone for example.test with one record of each
// common type, short positive TTLs and a SOA whose minimum gives a 60 s
// negative TTL:
//
//	example.test.        SOA   (negative TTL 60)
//	www.example.test.    A 192.0.2.10, AAAA 2001:db8::10 (TTL 300)
//	alias.example.test.  CNAME www.example.test.
//	example.test.        MX 10 mail.example.test., TXT "v=spf1 -all"
//	mail.example.test.   A 192.0.2.25
//	big.example.test.    30 TXT strings (larger than a 512-byte reply)
func DefaultZone() *Zone {
	records := []string{
		"example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 60",
		"example.test. 3600 IN NS ns1.example.test.",
		"ns1.example.test. 3600 IN A 192.0.2.53",
		"www.example.test. 300 IN A 192.0.2.10",
		"www.example.test. 300 IN AAAA 2001:db8::10",
		"alias.example.test. 300 IN CNAME www.example.test.",
		"example.test. 300 IN MX 10 mail.example.test.",
		"example.test. 300 IN TXT \"v=spf1 -all\"",
		"mail.example.test. 300 IN A 192.0.2.25",
	}
	for i := range 30 {
		records = append(records, fmt.Sprintf("big.example.test. 300 IN TXT \"filler record %02d to push the reply past 512 bytes\"", i))
	}
	z, err := NewZone(records...)
	if err != nil {
		panic("upstreamtest: default zone: " + err.Error())
	}
	return z
}

// Add parses records in zone-file syntax and adds them to the zone.
// Nothing is added if any record fails to parse.
func (z *Zone) Add(records ...string) error {
	parsed := make([]dns.RR, 0, len(records))
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			return fmt.Errorf("upstreamtest: parse record %q: %w", s, err)
		}
		if rr == nil {
			return fmt.Errorf("upstreamtest: parse record %q: empty", s)
		}
		parsed = append(parsed, rr)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, rr := range parsed {
		owner := strings.ToLower(rr.Header().Name)
		rr.Header().Name = owner
		z.rrs[owner] = append(z.rrs[owner], rr)
	}
	return nil
}

// Reply builds the answer to req from the zone: a reply carrying req's ID
// and question (as sent, so its case is kept), RA set and, when req had an
// EDNS0 OPT record, an OPT record of our own.
func (z *Zone) Reply(req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	if opt := req.IsEdns0(); opt != nil {
		resp.SetEdns0(1232, false)
	}
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	q := req.Question[0]
	z.mu.RLock()
	defer z.mu.RUnlock()

	name := strings.ToLower(q.Name)
	for range maxChase {
		rrs, exists := z.rrs[name]
		if !exists && !z.hasDescendantLocked(name) {
			resp.Rcode = dns.RcodeNameError
			z.addNegativeLocked(resp, name)
			return resp
		}
		var cname dns.RR
		matched := false
		for _, rr := range rrs {
			h := rr.Header()
			if h.Rrtype == q.Qtype && h.Class == q.Qclass {
				resp.Answer = append(resp.Answer, dns.Copy(rr))
				matched = true
			}
			if h.Rrtype == dns.TypeCNAME {
				cname = rr
			}
		}
		if matched {
			return resp
		}
		if cname == nil || q.Qtype == dns.TypeCNAME {
			z.addNegativeLocked(resp, name) // NODATA
			return resp
		}
		resp.Answer = append(resp.Answer, dns.Copy(cname))
		name = strings.ToLower(cname.(*dns.CNAME).Target)
	}
	resp.Rcode = dns.RcodeServerFailure // CNAME chain too long: what a resolver says too
	return resp
}

// hasDescendantLocked reports whether name is an empty non-terminal, which
// exists (NODATA) even though it owns no record.
func (z *Zone) hasDescendantLocked(name string) bool {
	suffix := "." + name
	if name == "." {
		suffix = "."
	}
	for owner := range z.rrs {
		if owner != name && strings.HasSuffix(owner, suffix) {
			return true
		}
	}
	return false
}

// addNegativeLocked puts the SOA of the closest enclosing zone in the
// authority section with the negative TTL of RFC 2308 §5: the smaller of
// the SOA's own TTL and its MINIMUM field.
func (z *Zone) addNegativeLocked(resp *dns.Msg, name string) {
	for n := name; ; {
		for _, rr := range z.rrs[n] {
			if soa, ok := rr.(*dns.SOA); ok {
				c := dns.Copy(soa).(*dns.SOA)
				c.Hdr.Ttl = min(c.Hdr.Ttl, c.Minttl)
				resp.Ns = append(resp.Ns, c)
				return
			}
		}
		if n == "." {
			return
		}
		i := strings.IndexByte(n, '.')
		if i < 0 || i == len(n)-1 {
			n = "."
		} else {
			n = n[i+1:]
		}
	}
}
