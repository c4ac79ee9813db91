package resolver

import (
	"context"
	"encoding/base64"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
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
		{"kdig https get", kdig, func(src, q, qt string) []string {
			return []string{"@" + hh, "-p", hp, "-b", src, "+https-get", q, qt, "+time=5"}
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

// TestCurlDoH asks curl, over HTTP/2, what RFC 8484 clients ask: GET and
// POST queries, and the errors of a body too large for a DNS message (sent
// without waiting for the whole of it) and of a wrong content type.
func TestCurlDoH(t *testing.T) {
	curl := testenv.LookPath(t, "curl")
	e := startEngine(t, &fakeUpstream{}, twoTenants(t), nil)
	base := "https://" + e.Addr(querylog.DoH) + "/dns-query"
	dir := t.TempDir()
	q := packed(t, "malware.test.", dns.TypeA)
	qfile := filepath.Join(dir, "q.bin")
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(qfile, q, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, 200_000), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (proto, status, ctype string, body []byte) {
		t.Helper()
		out := filepath.Join(dir, "out")
		_ = os.Remove(out)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		args = append([]string{"-sk", "--http2", "--interface", "127.0.0.2", "-o", out, "-w", "%{http_version} %{http_code} %{content_type}"}, args...)
		w, err := exec.CommandContext(ctx, curl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, w)
		}
		f := strings.SplitN(string(w), " ", 3)
		if len(f) != 3 {
			t.Fatalf("curl %v printed %q", args, w)
		}
		body, _ = os.ReadFile(out)
		return f[0], f[1], f[2], body
	}
	dnsReply := func(t *testing.T, body []byte) *dns.Msg {
		t.Helper()
		var m dns.Msg
		if err := m.Unpack(body); err != nil {
			t.Fatalf("not a DNS reply: %v", err)
		}
		return &m
	}
	t.Run("GET", func(t *testing.T) {
		proto, status, ctype, body := run(base + "?dns=" + base64.RawURLEncoding.EncodeToString(q))
		if proto != "2" || status != "200" || ctype != dohContentType {
			t.Fatalf("HTTP/%s %s %q", proto, status, ctype)
		}
		if m := dnsReply(t, body); m.Rcode != dns.RcodeNameError || m.Id != uint16(q[0])<<8|uint16(q[1]) {
			t.Fatalf("reply %v", m)
		}
	})
	t.Run("POST", func(t *testing.T) {
		proto, status, ctype, body := run("-H", "Content-Type: "+dohContentType, "--data-binary", "@"+qfile, base)
		if proto != "2" || status != "200" || ctype != dohContentType {
			t.Fatalf("HTTP/%s %s %q", proto, status, ctype)
		}
		if m := dnsReply(t, body); m.Rcode != dns.RcodeNameError {
			t.Fatalf("reply %v", m)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		if _, status, _, _ := run("-H", "Content-Type: "+dohContentType, "--data-binary", "@"+big, base); status != "413" {
			t.Fatalf("status %s, want 413", status)
		}
	})
	t.Run("wrong content type", func(t *testing.T) {
		if _, status, _, _ := run("-H", "Content-Type: text/plain", "--data-binary", "@"+qfile, base); status != "415" {
			t.Fatalf("status %s, want 415", status)
		}
	})
}
