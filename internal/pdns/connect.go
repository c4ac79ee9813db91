package pdns

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/qsmo/qsmo/internal/authz"
)

// Endpoint is how clients reach one resolver node.
type Endpoint struct {
	Hostname string // the node's host name, for people
	DNS      string // host:port for UDP and TCP ("" when off)
	DNSHost  string
	DNSPort  string
	DoT      string // host:port for DNS over TLS ("" when off)
	DoTHost  string
	DoTPort  string
	// DoHURL is the DNS-over-HTTPS URL; with the agency's token appended
	// when the viewer may see it.
	DoHURL string
}

// ConnectInfo is what an agency needs to point its networks and devices
// at the resolver.
type ConnectInfo struct {
	Policy    Policy
	Endpoints []Endpoint
	// TLSName is the name DoT and DoH clients should verify.
	TLSName string
	// Token is the agency's DoH token; empty when the viewer may not see it.
	Token string
	Demo  bool
}

// Connect returns how an agency reaches the resolvers that reported in the
// last ten minutes. Callers need dns.read; the DoH token comes with
// dns.connect.
func (s *Service) Connect(ctx context.Context, p *authz.Principal, orgID string) (ConnectInfo, error) {
	pol, err := s.GetPolicy(ctx, p, orgID)
	if err != nil {
		return ConnectInfo{}, err
	}
	nodes, err := s.Nodes(ctx)
	if err != nil {
		return ConnectInfo{}, err
	}
	publicHost := ""
	if u, err := url.Parse(s.PublicURL); err == nil {
		publicHost = u.Hostname()
	}
	info := ConnectInfo{Policy: pol, Token: pol.DoHToken, TLSName: publicHost, Demo: s.Demo}
	seen := map[Endpoint]bool{}
	for _, n := range nodes {
		e := Endpoint{Hostname: n.Hostname}
		e.DNSHost, e.DNSPort = publicAddr(n.DNSAddr, publicHost)
		if e.DNSHost != "" {
			e.DNS = net.JoinHostPort(e.DNSHost, e.DNSPort)
		}
		e.DoTHost, e.DoTPort = publicAddr(n.DoTAddr, publicHost)
		if e.DoTHost != "" {
			e.DoT = net.JoinHostPort(e.DoTHost, e.DoTPort)
		}
		if n.DoHURL != "" {
			e.DoHURL = n.DoHURL
			if info.Token != "" {
				e.DoHURL = strings.TrimSuffix(n.DoHURL, "/") + "/" + info.Token
			}
		}
		if !seen[e] {
			seen[e] = true
			info.Endpoints = append(info.Endpoints, e)
		}
	}
	return info, nil
}

// publicAddr turns a listen address into what clients use: a wildcard
// host ("0.0.0.0", "::") becomes the portal's public host name.
func publicAddr(listen, publicHost string) (host, port string) {
	h, p, err := net.SplitHostPort(listen)
	if err != nil || listen == "" {
		return "", ""
	}
	if a, err := netip.ParseAddr(h); (err == nil && a.IsUnspecified()) || h == "" {
		if publicHost == "" {
			return "", ""
		}
		h = publicHost
	}
	return h, p
}
