package upstream

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Transport is how queries travel to an upstream.
type Transport uint8

// The transports. The zero Transport is invalid.
const (
	// UDP sends each query from a fresh socket and retries over TCP when
	// the answer comes back truncated.
	UDP Transport = iota + 1
	// TCP sends queries over reused, pipelined TCP connections (RFC 7766).
	TCP
	// TLS is DNS over TLS (RFC 7858) over reused, pipelined connections.
	TLS
	// HTTPS is DNS over HTTPS (RFC 8484): POST application/dns-message
	// over HTTP/2 when the server offers it.
	HTTPS
)

func (t Transport) String() string {
	switch t {
	case UDP:
		return "udp"
	case TCP:
		return "tcp"
	case TLS:
		return "tls"
	case HTTPS:
		return "https"
	}
	return "transport(" + strconv.Itoa(int(t)) + ")"
}

// Spec is one parsed upstream. Build it with ParseSpec; its String form
// names the upstream in metrics, logs and Info.
type Spec struct {
	Transport Transport
	// Addr is the IP address and port to dial for UDP, TCP and TLS. Host
	// names are refused there: the resolver would need a resolver to find
	// its own upstream. It is zero for HTTPS, whose URL may name a host
	// that the system resolver looks up when connecting.
	Addr netip.AddrPort
	// ServerName is checked against the certificate of a TLS or HTTPS
	// upstream: the name after '#' in a tls:// spec (else the IP address),
	// or the URL's host.
	ServerName string
	// URL is the DoH endpoint, in canonical form (HTTPS only).
	URL string
}

// maxSpecLen bounds one spec; real ones are far shorter.
const maxSpecLen = 1024

// defaultDoHPath is the path RFC 8484 examples and public servers use; it
// is assumed when an https:// spec has none.
const defaultDoHPath = "/dns-query"

// String returns the canonical spec, which ParseSpec parses back to s.
func (s Spec) String() string {
	switch s.Transport {
	case UDP:
		return s.Addr.String()
	case TCP:
		return "tcp://" + s.Addr.String()
	case TLS:
		if s.ServerName == ipName(s.Addr.Addr()) {
			return "tls://" + s.Addr.String()
		}
		return "tls://" + s.Addr.String() + "#" + s.ServerName
	case HTTPS:
		return s.URL
	}
	return ""
}

// ParseSpec parses one upstream:
//
//	host:port                   UDP, retried over TCP on truncation (also udp://host:port)
//	tcp://host:port             TCP only
//	tls://host:port[#name]      DNS over TLS; name is verified in the certificate (default: host)
//	https://host[:port][/path]  DNS over HTTPS, POST to path (default /dns-query)
//
// host is an IP address (IPv6 in brackets), except in https:// URLs.
func ParseSpec(spec string) (Spec, error) {
	s, err := parseSpec(spec)
	if err != nil {
		return Spec{}, fmt.Errorf("upstream: spec %s: %w", quoteSpec(spec), err)
	}
	return s, nil
}

// ParseSpecs parses a comma-separated list of specs, as given to
// --dns-upstream. Blanks around entries are ignored; an empty entry or the
// same upstream twice is an error, as is an empty list. A comma inside a
// DoH URL must be written %2C.
func ParseSpecs(list string) ([]Spec, error) {
	if strings.TrimSpace(list) == "" {
		return nil, errors.New("upstream: no upstreams given")
	}
	parts := strings.Split(list, ",")
	specs := make([]Spec, 0, len(parts))
	seen := make(map[string]int, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("upstream: entry %d of the upstream list is empty", i+1)
		}
		s, err := ParseSpec(p)
		if err != nil {
			return nil, err
		}
		name := s.String()
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("upstream: entries %d and %d are the same upstream %s", j, i+1, name)
		}
		seen[name] = i + 1
		specs = append(specs, s)
	}
	return specs, nil
}

func parseSpec(spec string) (Spec, error) {
	if spec == "" {
		return Spec{}, errors.New("empty")
	}
	if len(spec) > maxSpecLen {
		return Spec{}, fmt.Errorf("longer than %d bytes", maxSpecLen)
	}
	scheme, rest, hasScheme := strings.Cut(spec, "://")
	if !hasScheme {
		if strings.Contains(spec, "/") {
			return Spec{}, errors.New("not host:port and no scheme (want host:port, udp://, tcp://, tls:// or https://)")
		}
		return parsePlain(UDP, spec)
	}
	switch strings.ToLower(scheme) {
	case "udp":
		return parsePlain(UDP, rest)
	case "tcp":
		return parsePlain(TCP, rest)
	case "tls":
		return parseTLS(rest)
	case "https":
		return parseHTTPS(spec)
	}
	return Spec{}, fmt.Errorf("unknown scheme %q (want host:port, udp://, tcp://, tls:// or https://)", scheme)
}

func parsePlain(t Transport, rest string) (Spec, error) {
	if strings.Contains(rest, "#") {
		return Spec{}, errors.New("a #server-name applies to tls:// only")
	}
	ap, err := parseAddrPort(rest)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Transport: t, Addr: ap}, nil
}

func parseTLS(rest string) (Spec, error) {
	hostport, name, hasName := strings.Cut(rest, "#")
	ap, err := parseAddrPort(hostport)
	if err != nil {
		return Spec{}, err
	}
	s := Spec{Transport: TLS, Addr: ap, ServerName: ipName(ap.Addr())}
	if hasName {
		n, err := serverName(name)
		if err != nil {
			return Spec{}, err
		}
		s.ServerName = n
	}
	return s, nil
}

func parseHTTPS(spec string) (Spec, error) {
	u, err := url.Parse(spec)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error repeats the whole input
		}
		return Spec{}, fmt.Errorf("bad URL: %w", err)
	}
	switch {
	case u.User != nil:
		return Spec{}, errors.New("credentials in the URL are not allowed (they would reach logs and metrics)")
	case u.Opaque != "":
		return Spec{}, errors.New("bad URL: want https://host[:port]/path")
	case u.Host == "":
		return Spec{}, errors.New("bad URL: missing host")
	case u.Fragment != "" || strings.Contains(spec, "#"):
		return Spec{}, errors.New("bad URL: a fragment is not allowed")
	}
	host := strings.ToLower(u.Hostname())
	hostport := host
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" || !usable(ip) {
			return Spec{}, fmt.Errorf("host %s is not a unicast address without zone", host)
		}
		if ip.Is6() {
			hostport = "[" + host + "]"
		}
	} else if _, err := serverName(host); err != nil {
		return Spec{}, err
	}
	if p := u.Port(); p != "" {
		if _, err := parsePort(p); err != nil {
			return Spec{}, err
		}
		hostport = net.JoinHostPort(host, p)
	}
	path := u.EscapedPath()
	if path == "" {
		path = defaultDoHPath
	}
	canonical := "https://" + hostport + path
	if u.RawQuery != "" {
		if !printableASCII(u.RawQuery) {
			return Spec{}, errors.New("bad URL: query must be printable ASCII without blanks (percent-encode the rest)")
		}
		canonical += "?" + u.RawQuery
	}
	return Spec{Transport: HTTPS, ServerName: host, URL: canonical}, nil
}

func parseAddrPort(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if !strings.Contains(s, ":") || strings.HasSuffix(s, "]") {
			return netip.AddrPort{}, errors.New("missing port")
		}
		if _, perr := netip.ParseAddr(s); perr == nil {
			return netip.AddrPort{}, errors.New("missing port (write IPv6 as [addr]:port)")
		}
		return netip.AddrPort{}, fmt.Errorf("bad address: %w", err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("host %q is not an IP address (name a TLS server with tls://ip:port#name)", host)
	}
	if !usable(ip) {
		return netip.AddrPort{}, fmt.Errorf("host %s is not a unicast address", ip)
	}
	p, err := parsePort(port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ip, p), nil
}

func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, errors.New("missing port")
	}
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("bad port %q (want 1-65535)", s)
	}
	return uint16(p), nil
}

// usable rejects addresses a query cannot usefully be sent to.
func usable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast()
}

// ipName is the name a certificate must carry when the upstream is named
// only by its IP address.
func ipName(ip netip.Addr) string {
	return ip.WithZone("").String()
}

// serverName validates a TLS server name: an IP address or a host name of
// letters, digits and hyphens; it returns the lowercase form without a
// trailing dot.
func serverName(s string) (string, error) {
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		return ip.String(), nil
	}
	n := strings.ToLower(strings.TrimSuffix(s, "."))
	if n == "" || len(n) > 253 {
		return "", fmt.Errorf("bad server name %q", s)
	}
	last := ""
	for label := range strings.SplitSeq(n, ".") {
		if !validLabel(label) {
			return "", fmt.Errorf("bad server name %q", s)
		}
		last = label
	}
	// An all-numeric last label would be read as an IPv4 address by some
	// resolvers ("0", "1.2.3"); no top-level domain is numeric (RFC 3696).
	if strings.Trim(last, "0123456789") == "" {
		return "", fmt.Errorf("bad server name %q (numeric top-level label)", s)
	}
	return n, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// quoteSpec quotes a spec for an error message, hiding URL credentials so
// that a mistaken password never reaches a log.
func quoteSpec(spec string) string {
	if scheme, rest, ok := strings.Cut(spec, "://"); ok {
		authority := rest
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			authority = rest[:i]
		}
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			spec = scheme + "://REDACTED@" + rest[at+1:]
		}
	}
	if len(spec) > 100 {
		spec = spec[:100] + "..."
	}
	return strconv.Quote(spec)
}
