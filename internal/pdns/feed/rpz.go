package feed

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/qsmo/qsmo/internal/pdns/dnsname"
)

// rpzParser reads a Response Policy Zone (draft-vixie-dnsop-dns-rpz) one
// record at a time. It splits the zone file into records itself (comments,
// quotes, parentheses, directives, omitted owners) and hands each record to
// miekg/dns's zone parser, so that one malformed record is reported with
// its line number and the rest of the zone still loads; a single zone
// parser over the whole stream would stop at the first error.
type rpzParser struct {
	c *collector

	rec        []byte // the record being joined across parentheses
	recLine    int    // line it started on
	recText    []byte // that first line, for error reports
	depth      int    // open parentheses
	blankOwner bool   // the record started with white space: owner omitted

	origin    string // $ORIGIN for relative names, absolute
	apex      string // the policy zone, canonical
	apexFixed bool   // apex is settled: an SOA or a first rule was seen
	firstOrig string // the first $ORIGIN, canonical: the zone name if no SOA comes
	ttl       uint32 // default TTL for records without one
	lastOwner string // owner of the previous record
	maxRecord int
}

// defaultRPZTTL is the TTL of local data records that state none and follow
// no $TTL directive (RFC 1035 leaves it to the zone; one hour is common).
const defaultRPZTTL = 3600

func newRPZParser(c *collector) *rpzParser {
	origin := c.opts.Origin
	if origin == "" {
		origin = "."
	}
	return &rpzParser{c: c, origin: origin, ttl: defaultRPZTTL, maxRecord: c.opts.MaxLineLength}
}

// line takes one physical line.
func (p *rpzParser) line(n int, line []byte) error {
	if p.depth == 0 {
		p.rec = p.rec[:0]
		p.recLine = n
		p.recText = append(p.recText[:0], line[:min(len(line), 160)]...)
		p.blankOwner = len(line) > 0 && isSpace(line[0])
	}
	quoted := false
scan:
	for i := 0; i < len(line); i++ {
		b := line[i]
		switch {
		case b == '\\' && i+1 < len(line):
			p.rec = append(p.rec, b, line[i+1])
			i++
		case quoted:
			p.rec = append(p.rec, b)
			quoted = b != '"'
		case b == '"':
			p.rec = append(p.rec, b)
			quoted = true
		case b == ';':
			break scan
		case b == '(':
			p.depth++
			p.rec = append(p.rec, ' ')
		case b == ')':
			if p.depth == 0 {
				return p.fail("')' without '('")
			}
			p.depth--
			p.rec = append(p.rec, ' ')
		default:
			p.rec = append(p.rec, b)
		}
	}
	switch {
	case quoted:
		return p.fail("unterminated quoted string")
	case len(p.rec) > p.maxRecord:
		return p.fail(fmt.Sprintf("record longer than %d bytes", p.maxRecord))
	case p.depth > 0:
		p.rec = append(p.rec, ' ')
		return nil
	}
	rec := trimSpace(p.rec)
	if len(rec) == 0 {
		return nil // blank or comment line
	}
	return p.record(rec)
}

// end finishes the input: a record still inside parentheses is invalid.
func (p *rpzParser) end() error {
	if p.depth > 0 {
		return p.fail("'(' not closed before the end of the input")
	}
	return nil
}

// fail reports the current record invalid and starts afresh.
func (p *rpzParser) fail(reason string) error {
	p.depth = 0
	p.c.at(p.recLine, p.recText)
	p.c.invalid(reason)
	return nil
}

func (p *rpzParser) record(rec []byte) error {
	p.c.at(p.recLine, p.recText)
	if rec[0] == '$' {
		p.directive(rec)
		return nil
	}
	text := string(rec)
	if p.blankOwner {
		if p.lastOwner == "" {
			p.c.invalid("record without an owner name")
			return nil
		}
		text = p.lastOwner + " " + text
	}
	zp := dns.NewZoneParser(strings.NewReader(text+"\n"), p.origin, "")
	zp.SetDefaultTTL(p.ttl)
	rr, ok := zp.Next()
	if !ok {
		if err := zp.Err(); err != nil {
			p.c.invalid(parseErrorReason(err))
		}
		return nil
	}
	p.lastOwner = rr.Header().Name
	if emptyRdata(rr) {
		// The zone parser accepts a type without data (dynamic update
		// syntax); in a zone file that is a truncated record, and "CNAME"
		// alone must not read as "CNAME ." (NXDOMAIN).
		p.c.invalid("record without data")
		return nil
	}
	return p.policy(rr)
}

// emptyRdata reports whether rr carries no data: it equals a fresh record
// of its type with the same header.
func emptyRdata(rr dns.RR) bool {
	newRR, ok := dns.TypeToRR[rr.Header().Rrtype]
	if !ok {
		return false
	}
	zero := newRR()
	*zero.Header() = *rr.Header()
	return dns.IsDuplicate(rr, zero)
}

func (p *rpzParser) directive(rec []byte) {
	name, rest := nextField(rec)
	arg, rest := nextField(rest)
	extra, _ := nextField(rest)
	switch strings.ToUpper(string(name)) {
	case "$ORIGIN":
		if len(arg) == 0 || len(extra) != 0 {
			p.c.invalid("$ORIGIN needs exactly one domain name")
			return
		}
		origin := string(arg)
		if !dns.IsFqdn(origin) {
			origin = dns.Fqdn(origin + "." + strings.TrimPrefix(p.origin, "."))
		}
		if _, ok := dns.IsDomainName(origin); !ok {
			p.c.invalid(fmt.Sprintf("$ORIGIN %q is not a domain name", clipText(arg)))
			return
		}
		p.origin = origin
		if p.firstOrig == "" {
			p.firstOrig = dns.CanonicalName(origin)
		}
	case "$TTL":
		ttl, ok := parseTTL(string(arg))
		if !ok || len(extra) != 0 {
			p.c.invalid("$TTL needs one time value")
			return
		}
		p.ttl = ttl
	case "$INCLUDE":
		p.c.invalid("$INCLUDE is not allowed in a feed")
	case "$GENERATE":
		p.c.skip(SkipDirective)
	default:
		p.c.invalid(fmt.Sprintf("unknown directive %q", clipText(name)))
	}
}

// specialTriggers name the RPZ trigger types other than QNAME; they sit
// right under the zone apex.
var specialTriggers = map[string]bool{
	"rpz-ip":        true,
	"rpz-nsdname":   true,
	"rpz-nsip":      true,
	"rpz-client-ip": true,
}

// policy turns one record into a rule.
func (p *rpzParser) policy(rr dns.RR) error {
	h := rr.Header()
	owner := dns.CanonicalName(h.Name)
	if h.Rrtype == dns.TypeSOA {
		switch {
		case !p.apexFixed:
			p.apex, p.apexFixed = owner, true
		case owner != p.apex:
			p.c.invalid(fmt.Sprintf("SOA for %s inside the policy zone %s", owner, p.apex))
		}
		// The same SOA again closes a zone transfer dump: nothing to do.
		return nil
	}
	if !p.apexFixed {
		// No SOA before the first rule: the configured origin names the
		// zone, else the first $ORIGIN, else the root.
		switch {
		case p.c.opts.Origin != "":
			p.apex = dns.CanonicalName(p.c.opts.Origin)
		case p.firstOrig != "":
			p.apex = p.firstOrig
		default:
			p.apex = "."
		}
		p.apexFixed = true
	}
	if owner == p.apex {
		return nil // NS and other zone apex records are not rules
	}
	if !dns.IsSubDomain(p.apex, owner) {
		p.c.invalid(fmt.Sprintf("owner %s is outside the policy zone %s", clipString(owner), p.apex))
		return nil
	}
	rel := strings.TrimSuffix(owner[:len(owner)-len(p.apex)], ".")
	if specialTriggers[rel[strings.LastIndexByte(rel, '.')+1:]] {
		p.c.skip(SkipTrigger)
		return nil
	}
	if h.Class != dns.ClassINET {
		p.c.skip(SkipRecordClass)
		return nil
	}
	if rel == "*" {
		p.c.skip(SkipWholeZone)
		return nil
	}
	wild := strings.HasPrefix(rel, "*.")
	if wild {
		rel = rel[2:]
	}
	name, err := dnsname.Normalize(rel)
	if err != nil {
		p.c.invalid(nameReason(rel, err))
		return nil
	}
	action, skip := rpzAction(rr, name, wild)
	if skip != "" {
		p.c.skip(skip)
		return nil
	}
	if action != LocalData {
		return p.c.addPolicy(name, wild, action, nil)
	}
	h.Name = name + "."
	if wild {
		h.Name = "*." + h.Name
	}
	return p.c.addPolicy(name, wild, LocalData, rr)
}

// rpzAction reads the policy a record states for a QNAME trigger, or the
// reason to skip it.
//
//	CNAME .              NXDOMAIN
//	CNAME *.             NODATA
//	CNAME rpz-passthru.  PASSTHRU (also the older form: CNAME to the name itself)
//	CNAME rpz-drop.      NXDOMAIN: dropping the query would only make the
//	                     client retry and wait, so the resolver answers at once
//	other CNAME, A, AAAA, TXT, MX, SRV, PTR, NAPTR, CAA, SVCB, HTTPS
//	                     local data
//
// rpz-tcp-only, other rpz-* actions and CNAMEs to "*.name" (which rewrite
// the target with the query name) are skipped.
func rpzAction(rr dns.RR, name string, wild bool) (Action, string) {
	switch rr := rr.(type) {
	case *dns.CNAME:
		target := dns.CanonicalName(rr.Target)
		switch {
		case target == ".":
			return NXDomain, ""
		case target == "*.":
			return NoData, ""
		case target == "rpz-passthru.", !wild && target == name+".":
			return Passthru, ""
		case target == "rpz-drop.":
			return NXDomain, ""
		case strings.HasPrefix(target, "rpz-") && strings.IndexByte(target, '.') == len(target)-1,
			strings.HasPrefix(target, "*."):
			return 0, SkipRPZAction
		}
		return LocalData, ""
	case *dns.A, *dns.AAAA, *dns.TXT, *dns.MX, *dns.SRV, *dns.PTR, *dns.NAPTR,
		*dns.CAA, *dns.SVCB, *dns.HTTPS:
		return LocalData, ""
	}
	return 0, SkipRecordType
}

// parseErrorReason keeps the useful part of a zone parser error: the
// record's line number is already in the report.
func parseErrorReason(err error) string {
	s := strings.TrimPrefix(err.Error(), "dns: ")
	if i := strings.LastIndex(s, " at line: "); i > 0 {
		s = s[:i]
	}
	return s
}

// parseTTL reads a TTL as zone files write it: seconds, or BIND units
// ("1h30m", "2d", "1w").
func parseTTL(s string) (uint32, bool) {
	if s == "" {
		return 0, false
	}
	var total, n uint64
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if '0' <= c && c <= '9' {
			n = n*10 + uint64(c-'0')
			digits = true
			if n > 1<<32 {
				return 0, false
			}
			continue
		}
		if !digits {
			return 0, false
		}
		switch c | 0x20 {
		case 's':
		case 'm':
			n *= 60
		case 'h':
			n *= 3600
		case 'd':
			n *= 86400
		case 'w':
			n *= 604800
		default:
			return 0, false
		}
		total += n
		n, digits = 0, false
		if total > 1<<31-1 {
			return 0, false
		}
	}
	total += n
	if total > 1<<31-1 {
		return 0, false
	}
	return uint32(total), true
}

// isRPZMarker reports lines that only a zone file has, for format detection.
func isRPZMarker(line []byte) bool {
	first, rest := nextField(line)
	if len(first) > 0 && first[0] == '$' {
		d := strings.ToUpper(string(first))
		return d == "$ORIGIN" || d == "$TTL"
	}
	for i := 0; i < 3; i++ {
		var f []byte
		f, rest = nextField(rest)
		if bytes.EqualFold(f, []byte("SOA")) {
			return true
		}
	}
	return false
}
