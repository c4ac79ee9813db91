package resolver

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/testenv"
)

var (
	statusRE = regexp.MustCompile(`status: ([A-Z]+)`)
	addrRE   = regexp.MustCompile(`(?m)\sIN\s+(?:A|AAAA)\s+(\S+)\s*$`)
)

// runClient runs dig or kdig and returns the status and the first address.
func runClient(t *testing.T, prog string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", prog, args, err, out)
	}
	st := statusRE.FindSubmatch(out)
	if st == nil {
		t.Fatalf("%s %v: no status in\n%s", prog, args, out)
	}
	addr := ""
	if m := addrRE.FindSubmatch(out); m != nil {
		addr = string(m[1])
	}
	return string(st[1]), addr
}

// TestRealClients asks dig (UDP, TCP) and kdig (DoT, DoH) the same
// questions from two tenants' source addresses: every transport must apply
// the same per-tenant policy.
func TestRealClients(t *testing.T) {
	dig := testenv.LookPath(t, "dig")
	kdig := testenv.LookPath(t, "kdig")
	e := startEngine(t, &fakeUpstream{}, twoTenants(t), nil)
	hostPort := func(tr querylog.Transport) (string, string) {
		h, p, _ := net.SplitHostPort(e.Addr(tr))
		return h, p
	}
	type client struct {
		name string
		prog string
		args func(src, qname, qtype string) []string
	}
	uh, up := hostPort(querylog.UDP)
	th, tp := hostPort(querylog.TCP)
	dh, dp := hostPort(querylog.DoT)
	hh, hp := hostPort(querylog.DoH)
	clients := []client{
		{"dig udp", dig, func(src, q, qt string) []string {
			return []string{"@" + uh, "-p", up, "-b", src, q, qt, "+tries=1", "+time=5"}
		}},
		{"dig tcp", dig, func(src, q, qt string) []string {
			return []string{"@" + th, "-p", tp, "-b", src, "+tcp", q, qt, "+tries=1", "+time=5"}
		}},
		{"kdig tls", kdig, func(src, q, qt string) []string {
			return []string{"@" + dh, "-p", dp, "-b", src, "+tls", q, qt, "+time=5"}
		}},
		{"kdig https", kdig, func(src, q, qt string) []string {
			return []string{"@" + hh, "-p", hp, "-b", src, "+https", q, qt, "+time=5"}
		}},
	}
	cases := []struct {
		name, src, qname, qtype, status, addr string
	}{
		{"tenant a: malware blocked", "127.0.0.2", "evil.Malware.test", "A", "NXDOMAIN", ""},
		{"tenant b: malware allowed", "127.0.0.3", "evil.malware.test", "A", "NOERROR", "192.0.2.1"},
		{"tenant b: phishing sinkholed", "127.0.0.3", "phish.test", "A", "NOERROR", "192.0.2.99"},
		{"tenant a: phishing allowed", "127.0.0.2", "phish.test", "A", "NOERROR", "192.0.2.1"},
		{"tenant a: own deny list", "127.0.0.2", "denied-a.test", "A", "NXDOMAIN", ""},
		{"tenant b: allow list beats the shared list", "127.0.0.3", "ok.malware.test", "A", "NOERROR", "192.0.2.1"},
		{"unknown source refused", "127.0.0.5", "www.example.com", "A", "REFUSED", ""},
	}
	for _, c := range clients {
		for _, tc := range cases {
			t.Run(c.name+"/"+tc.name, func(t *testing.T) {
				st, addr := runClient(t, c.prog, c.args(tc.src, tc.qname, tc.qtype)...)
				if st != tc.status || addr != tc.addr {
					t.Fatalf("status %s address %q, want %s %q", st, addr, tc.status, tc.addr)
				}
			})
		}
	}
	t.Run("kdig https with a tenant token from an unknown address", func(t *testing.T) {
		st, _ := runClient(t, kdig, "@"+hh, "-p", hp, "-b", "127.0.0.5", "+https=/dns-query/token-aaaaaaaaaaaaaaaa", "malware.test", "A")
		if st != "NXDOMAIN" {
			t.Fatalf("status %s, want tenant a's block NXDOMAIN", st)
		}
		st, _ = runClient(t, kdig, "@"+hh, "-p", hp, "-b", "127.0.0.2", "+https=/dns-query/not-a-known-token-at-all", "www.example.com", "A")
		if st != "REFUSED" {
			t.Fatalf("unknown token: status %s, want REFUSED", st)
		}
	})
}
