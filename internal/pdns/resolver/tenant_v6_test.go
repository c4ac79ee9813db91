package resolver

import (
	"net/netip"
	"testing"
)

// TestTenantForIPv6PrefixLengths covers every IPv6 prefix length, the
// host routes (/128, such as ::1) included.
func TestTenantForIPv6PrefixLengths(t *testing.T) {
	for _, c := range []struct{ src, addr string }{
		{"::1/128", "::1"}, {"2001:db8::7/128", "2001:db8::7"}, {"2001:db8::/127", "2001:db8::1"}, {"2001:db8::/64", "2001:db8::ffff"},
		{"2001:db8::/63", "2001:db8:0:1::1"}, {"2001:db8::/32", "2001:db8:ff::1"}, {"::/0", "2001:db8::1"},
	} {
		s, err := NewSnapshot(SnapshotConfig{Tenants: []TenantConfig{{ID: "a", Sources: []netip.Prefix{netip.MustParsePrefix(c.src)}}}})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := s.TenantFor(netip.MustParseAddr(c.addr)); !ok || got != "a" {
			t.Errorf("source %s: %s belongs to %q", c.src, c.addr, got)
		}
		if got, ok := s.TenantFor(netip.MustParseAddr("fe80::1")); ok && c.src != "::/0" {
			t.Errorf("source %s: fe80::1 belongs to %q", c.src, got)
		}
	}
}
