package resolver

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

func TestTenantsOverUDPAndTCP(t *testing.T) {
	for _, batch := range []int{1, 32} {
		t.Run(fmt.Sprintf("udp batch %d", batch), func(t *testing.T) {
			testTenants(t, startEngine(t, &fakeUpstream{}, twoTenants(t), func(c *Config) { c.UDPBatch = batch }))
		})
	}
}

func testTenants(t *testing.T, e *Engine) {
	tests := []struct {
		name    string
		src     string
		qname   string
		qtype   uint16
		rcode   int
		address string
	}{
		{"a blocks malware with NXDOMAIN", "127.0.0.2", "malware.test.", dns.TypeA, dns.RcodeNameError, ""},
		{"a blocks subdomains too", "127.0.0.2", "x.y.Malware.Test.", dns.TypeA, dns.RcodeNameError, ""},
		{"b does not block malware", "127.0.0.3", "malware.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"},
		{"b sinkholes phishing", "127.0.0.3", "phish.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.99"},
		{"b sinkholes phishing AAAA", "127.0.0.3", "phish.test.", dns.TypeAAAA, dns.RcodeSuccess, "2001:db8::99"},
		{"a does not block phishing", "127.0.0.2", "phish.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"},
		{"a's deny list", "127.0.0.2", "denied-a.test.", dns.TypeA, dns.RcodeNameError, ""},
		{"a's deny list is not b's", "127.0.0.3", "denied-a.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"},
		{"office global block for a", "127.0.0.2", "office.test.", dns.TypeA, dns.RcodeNameError, ""},
		{"office global block for b", "127.0.0.3", "office.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.99"},
		{"unknown source refused", "127.0.0.4", "www.ok.test.", dns.TypeA, dns.RcodeRefused, ""},
		{"plain answer", "127.0.0.2", "www.ok.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"},
	}
	for _, netw := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(netw+"/"+tc.name, func(t *testing.T) {
				for i := 0; i < 2; i++ { // the second answer comes from the cache
					m := exchange(t, e, netw, tc.src, tc.qname, tc.qtype)
					if m.Rcode != tc.rcode || firstA(m) != tc.address {
						t.Fatalf("try %d: rcode %s address %q, want %s %q", i, dns.RcodeToString[m.Rcode], firstA(m), dns.RcodeToString[tc.rcode], tc.address)
					}
					if m.Question[0].Name != tc.qname {
						t.Fatalf("question %q, want the client's own case %q", m.Question[0].Name, tc.qname)
					}
				}
			})
		}
	}
}
