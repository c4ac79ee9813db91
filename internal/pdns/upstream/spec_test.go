package upstream

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    Spec
		canon   string
		wantErr string // substring of the error; "" means success
	}{
		{in: "192.0.2.1:53", want: Spec{Transport: UDP, Addr: netip.MustParseAddrPort("192.0.2.1:53")}, canon: "192.0.2.1:53"},
		{in: "udp://192.0.2.1:5353", want: Spec{Transport: UDP, Addr: netip.MustParseAddrPort("192.0.2.1:5353")}, canon: "192.0.2.1:5353"},
		{in: "[2001:db8::1]:53", want: Spec{Transport: UDP, Addr: netip.MustParseAddrPort("[2001:db8::1]:53")}, canon: "[2001:db8::1]:53"},
		{in: "TCP://192.0.2.1:53", want: Spec{Transport: TCP, Addr: netip.MustParseAddrPort("192.0.2.1:53")}, canon: "tcp://192.0.2.1:53"},
		{in: "tls://192.0.2.1:853", want: Spec{Transport: TLS, Addr: netip.MustParseAddrPort("192.0.2.1:853"), ServerName: "192.0.2.1"}, canon: "tls://192.0.2.1:853"},
		{in: "tls://192.0.2.1:853#Dns.Example.", want: Spec{Transport: TLS, Addr: netip.MustParseAddrPort("192.0.2.1:853"), ServerName: "dns.example"}, canon: "tls://192.0.2.1:853#dns.example"},
		{in: "tls://[2001:db8::1]:853#dns.example", want: Spec{Transport: TLS, Addr: netip.MustParseAddrPort("[2001:db8::1]:853"), ServerName: "dns.example"}, canon: "tls://[2001:db8::1]:853#dns.example"},
		{in: "https://dns.example/dns-query", want: Spec{Transport: HTTPS, ServerName: "dns.example", URL: "https://dns.example/dns-query"}, canon: "https://dns.example/dns-query"},
		{in: "https://DNS.example:8443/q?tenant=a", want: Spec{Transport: HTTPS, ServerName: "dns.example", URL: "https://dns.example:8443/q?tenant=a"}, canon: "https://dns.example:8443/q?tenant=a"},
		{in: "https://dns.example", want: Spec{Transport: HTTPS, ServerName: "dns.example", URL: "https://dns.example/dns-query"}, canon: "https://dns.example/dns-query"},
		{in: "https://[2001:db8::1]/dns-query", want: Spec{Transport: HTTPS, ServerName: "2001:db8::1", URL: "https://[2001:db8::1]/dns-query"}, canon: "https://[2001:db8::1]/dns-query"},

		{in: "", wantErr: "empty"},
		{in: "192.0.2.1", wantErr: "missing port"},
		{in: "[2001:db8::1]", wantErr: "missing port"},
		{in: "2001:db8::1", wantErr: "missing port"},
		{in: "tls://192.0.2.1", wantErr: "missing port"},
		{in: "192.0.2.1:", wantErr: "missing port"},
		{in: "192.0.2.1:0", wantErr: "bad port"},
		{in: "192.0.2.1:65536", wantErr: "bad port"},
		{in: "192.0.2.1:dns", wantErr: "bad port"},
		{in: "dns.example:53", wantErr: "not an IP address"},
		{in: "0.0.0.0:53", wantErr: "not a unicast address"},
		{in: "[ff02::1]:53", wantErr: "not a unicast address"},
		{in: "quic://192.0.2.1:853", wantErr: `unknown scheme "quic"`},
		{in: "http://dns.example/dns-query", wantErr: `unknown scheme "http"`},
		{in: "192.0.2.1:53#name", wantErr: "tls:// only"},
		{in: "tls://192.0.2.1:853#bad_name", wantErr: "bad server name"},
		{in: "tls://192.0.2.1:853#", wantErr: "bad server name"},
		{in: "https://", wantErr: "missing host"},
		{in: "https://user:secret@dns.example/dns-query", wantErr: "credentials"},
		{in: "https://dns.example/dns-query#frag", wantErr: "fragment"},
		{in: "https://dns.example:0/", wantErr: "bad port"},
		{in: "https://dns.exa mple/", wantErr: "bad URL"},
		{in: "https://bad_host/", wantErr: "bad server name"},
		{in: "/etc/resolv.conf", wantErr: "no scheme"},
		{in: strings.Repeat("a", 2000), wantErr: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSpec(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseSpec(%q) = %+v, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "upstream: spec ") {
					t.Fatalf("error %q, want prefix %q and %q", err, "upstream: spec ", tt.wantErr)
				}
				if got != (Spec{}) {
					t.Errorf("failed parse returned %+v, want zero Spec", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.String() != tt.canon {
				t.Errorf("String() = %q, want %q", got.String(), tt.canon)
			}
		})
	}
}

func TestParseSpecErrorHidesCredentials(t *testing.T) {
	_, err := ParseSpec("https://admin:hunter2@dns.example/dns-query")
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "admin") {
		t.Fatalf("error %v reveals the credentials", err)
	}
}

func TestParseSpecs(t *testing.T) {
	specs, err := ParseSpecs(" 192.0.2.1:53, tls://192.0.2.2:853#dns.example ,https://dns.example/dns-query")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.String())
	}
	want := "192.0.2.1:53 tls://192.0.2.2:853#dns.example https://dns.example/dns-query"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("parsed %q, want %q", got, want)
	}

	bad := []struct{ in, wantErr string }{
		{"", "no upstreams"},
		{"  ", "no upstreams"},
		{"192.0.2.1:53,,192.0.2.2:53", "entry 2 of the upstream list is empty"},
		{"192.0.2.1:53,", "entry 2 of the upstream list is empty"},
		{"192.0.2.1:53, udp://192.0.2.1:53", "entries 1 and 2 are the same upstream"},
		{"192.0.2.1:53,192.0.2.2", "missing port"},
	}
	for _, tt := range bad {
		if _, err := ParseSpecs(tt.in); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseSpecs(%q) error = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}
