package pdns

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/qsmo/qsmo/internal/pdns/dnsname"
)

// Limits of an agency's lists, so that one policy cannot slow every
// snapshot build or fill the database.
const (
	MaxNetworks    = 256
	MaxListNames   = 10_000
	maxListProblem = 5
	// Egress networks wider than these would claim other people's
	// addresses (and /0 would make the resolver open to everybody).
	minEgressBits4 = 8
	minEgressBits6 = 16
)

// ListError is a list the user typed that has problems; Problems says what
// is wrong with the first few entries, in the words shown to the user.
type ListError struct {
	Problems []string
	More     int // further problems not listed
}

func (e *ListError) Error() string {
	s := strings.Join(e.Problems, " ")
	if e.More > 0 {
		s += fmt.Sprintf(" (and %d more)", e.More)
	}
	return s
}

func (e *ListError) add(format string, args ...any) {
	if len(e.Problems) < maxListProblem {
		e.Problems = append(e.Problems, fmt.Sprintf(format, args...))
		return
	}
	e.More++
}

func (e *ListError) err() error {
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}

// SplitList splits what a person typed into a list box: entries are
// separated by new lines, commas, semicolons or blanks, and "#" starts a
// comment that runs to the end of the line.
func SplitList(text string) []string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		out = append(out, strings.FieldsFunc(line, func(r rune) bool {
			return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\r' || r == '\u00a0'
		})...)
	}
	return out
}

// NetworkKind selects the rules ParseNetworks applies.
type NetworkKind int

// Network list kinds.
const (
	// Egress networks identify an agency's clients; they may not be wider
	// than /8 (IPv4) or /16 (IPv6).
	Egress NetworkKind = iota
	// BlockedAnswers are networks whose addresses in an answer block it;
	// anything but the whole address space is accepted.
	BlockedAnswers
)

// ParseNetworks reads a list of IP networks ("192.0.2.0/24",
// "2001:db8::/32") or single addresses ("192.0.2.7" is 192.0.2.7/32). It
// returns them sorted and without duplicates, or a *ListError naming each
// bad entry. A network with host bits set, a network inside another of the
// list, an address with a zone and, for egress, a network wider than /8 or
// /16 are refused, because each is a typing mistake more often than a wish.
func ParseNetworks(entries []string, kind NetworkKind) ([]netip.Prefix, error) {
	var problems ListError
	var out []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for _, raw := range entries {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		p, err := parseNetwork(s)
		if err != nil {
			problems.add("“%s”: %s.", clip(s), err)
			continue
		}
		min4, min6 := 1, 1
		if kind == Egress {
			min4, min6 = minEgressBits4, minEgressBits6
		}
		if p.Addr().Is4() && p.Bits() < min4 || p.Addr().Is6() && p.Bits() < min6 {
			if kind == Egress {
				problems.add("“%s” is wider than /%d (IPv4) or /%d (IPv6): list the agency's own networks.", clip(s), minEgressBits4, minEgressBits6)
			} else {
				problems.add("“%s” is the whole address space: it would block every answer.", clip(s))
			}
			continue
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) > MaxNetworks {
		problems.add("The list has %d networks; at most %d are allowed.", len(out), MaxNetworks)
	}
	slices.SortFunc(out, comparePrefix)
	for i, p := range out {
		for _, q := range out[:i] {
			if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
				problems.add("%s lies inside %s, also listed: keep one of them.", p, q)
				break
			}
		}
	}
	if err := problems.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func parseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "%") {
		return netip.Prefix{}, errors.New("an address with a zone (%) is not a network")
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address or network (write 192.0.2.0/24, 2001:db8::/48 or 192.0.2.7)")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not an IP network (write 192.0.2.0/24 or 2001:db8::/48)")
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("an IPv4-mapped network must be /96 or longer")
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("has bits set after the prefix length (did you mean %s?)", p.Masked())
	}
	return p, nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// ParseDomains reads an allow or deny list: domain names, each covering
// the name and its subdomains, or "*.example.com" for the subdomains only.
// Names are normalized (lower case, no trailing dot, internationalized
// names as A-labels) and returned sorted without duplicates, or a
// *ListError naming each bad entry.
func ParseDomains(entries []string) ([]string, error) {
	var problems ListError
	seen := map[string]bool{}
	var out []string
	for _, raw := range entries {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		n, err := parseDomain(s)
		if err != nil {
			problems.add("“%s”: %s.", clip(s), err)
			continue
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) > MaxListNames {
		problems.add("The list has %d names; at most %d are allowed.", len(out), MaxListNames)
	}
	if err := problems.err(); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

func parseDomain(s string) (string, error) {
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/?@") {
		return "", errors.New("write the domain name only, without a scheme, path or user (example.com)")
	}
	wild := strings.HasPrefix(s, "*.")
	name := strings.TrimPrefix(s, "*.")
	if strings.Contains(name, "*") {
		return "", errors.New("a wildcard is allowed only as a leading “*.”")
	}
	n, err := dnsname.Normalize(name)
	if err != nil {
		var de *dnsname.Error
		if errors.As(err, &de) {
			return "", errors.New(de.Reason())
		}
		return "", errors.New("not a domain name")
	}
	if !strings.Contains(n, ".") && !wild {
		// A single label would block a whole top-level domain: allowed,
		// but only when written as a wildcard so it is deliberate.
		return "", fmt.Errorf("a single label covers a whole top-level domain; write *.%s if you mean it", n)
	}
	if wild {
		n = "*." + n
	}
	return n, nil
}

// ParseSinkhole reads a block page address of the given family (4 or 6);
// empty means none.
func ParseSinkhole(s string, family int) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("“%s” is not an IP address", clip(s))
	}
	if family == 4 && !a.Unmap().Is4() {
		return netip.Addr{}, fmt.Errorf("“%s” is not an IPv4 address", clip(s))
	}
	if family == 6 && (!a.Is6() || a.Is4In6()) {
		return netip.Addr{}, fmt.Errorf("“%s” is not an IPv6 address", clip(s))
	}
	if a.IsUnspecified() || a.IsMulticast() {
		return netip.Addr{}, fmt.Errorf("“%s” cannot serve a block page", clip(s))
	}
	return a.Unmap(), nil
}

// clip shortens what a person typed for an error message.
func clip(s string) string {
	r := []rune(s)
	if len(r) > 60 {
		return string(r[:57]) + "…"
	}
	return s
}
