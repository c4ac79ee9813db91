package resolver

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

func dohEngine(t testing.TB) *Engine {
	e, err := New(Config{Upstream: &fakeUpstream{}, QueryLog: querylog.NewQueue(1 << 10)})
	if err != nil {
		t.Fatal(err)
	}
	e.SetSnapshot(twoTenants(t))
	return e
}

func dohRequest(method, target, ctype string, body []byte, remote string) *http.Request {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	r.RemoteAddr = remote
	return r
}

func TestDoHHandler(t *testing.T) {
	e := dohEngine(t)
	h := e.DoHHandler()
	q := packed(t, "malware.test.", dns.TypeA)
	get := "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(q)
	tests := []struct {
		name   string
		req    *http.Request
		status int
		rcode  int
	}{
		{"GET from tenant a is blocked", dohRequest("GET", get, "", nil, "127.0.0.2:4000"), 200, dns.RcodeNameError},
		{"POST from tenant b is answered", dohRequest("POST", "/dns-query", dohContentType, q, "127.0.0.3:4000"), 200, dns.RcodeSuccess},
		{"token decides the tenant", dohRequest("POST", "/dns-query/token-aaaaaaaaaaaaaaaa", dohContentType, q, "127.0.0.3:4000"), 200, dns.RcodeNameError},
		{"unknown token is refused", dohRequest("POST", "/dns-query/token-unknown-xxxxxxxx", dohContentType, q, "127.0.0.2:4000"), 200, dns.RcodeRefused},
		{"mounted under a prefix", dohRequest("GET", "/api/v1"+get, "", nil, "127.0.0.2:4000"), 200, dns.RcodeNameError},
		{"wrong content type", dohRequest("POST", "/dns-query", "text/plain", q, "127.0.0.2:4000"), 415, 0},
		{"missing parameter", dohRequest("GET", "/dns-query", "", nil, "127.0.0.2:4000"), 400, 0},
		{"bad base64", dohRequest("GET", "/dns-query?dns=***", "", nil, "127.0.0.2:4000"), 400, 0},
		{"wrong method", dohRequest("PUT", "/dns-query", dohContentType, q, "127.0.0.2:4000"), 405, 0},
		{"other path", dohRequest("GET", "/dns-query/a/b", "", nil, "127.0.0.2:4000"), 404, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tc.req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 200 {
				return
			}
			var m dns.Msg
			if err := m.Unpack(rec.Body.Bytes()); err != nil {
				t.Fatal(err)
			}
			if m.Rcode != tc.rcode || rec.Header().Get("Content-Type") != dohContentType {
				t.Fatalf("rcode %s content type %q, want %s", dns.RcodeToString[m.Rcode], rec.Header().Get("Content-Type"), dns.RcodeToString[tc.rcode])
			}
			if cc := rec.Header().Get("Cache-Control"); tc.rcode != dns.RcodeRefused && !strings.HasPrefix(cc, "max-age=") {
				t.Fatalf("Cache-Control %q", cc)
			}
		})
	}
}

// FuzzDoH feeds arbitrary requests to the handler: it never panics, a 200
// always carries a DNS reply to the query sent, anything else is a 4xx.
func FuzzDoH(f *testing.F) {
	f.Add("GET", "/dns-query", base64.RawURLEncoding.EncodeToString(packed(f, "a.test.", dns.TypeA)), []byte(nil), "")
	f.Add("POST", "/dns-query/token-aaaaaaaaaaaaaaaa", "", packed(f, "malware.test.", dns.TypeAAAA), dohContentType)
	f.Add("POST", "/dns-query", "", []byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0}, dohContentType)
	e := dohEngine(f)
	h := e.DoHHandler()
	f.Fuzz(func(t *testing.T, method, path, param string, body []byte, ctype string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#%\x00\r\n\t") || strings.ContainsAny(method, " /\x00\r\n\t") || method == "" {
			return
		}
		target := path
		if param != "" {
			target += "?dns=" + param
		}
		r, err := http.NewRequest(method, "http://resolver.test"+target, bytes.NewReader(body))
		if err != nil {
			return
		}
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		r.RemoteAddr = "127.0.0.2:4000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 200 {
			if rec.Code < 400 || rec.Code > 499 {
				t.Fatalf("status %d", rec.Code)
			}
			return
		}
		var sent []byte
		if method == "GET" {
			sent, _ = base64.RawURLEncoding.DecodeString(strings.TrimRight(param, "="))
		} else {
			sent = body
		}
		resp := rec.Body.Bytes()
		if len(resp) < 12 || resp[0] != sent[0] || resp[1] != sent[1] || resp[2]&0x80 == 0 {
			t.Fatalf("200 with a body that is not a reply to the query: % x", resp)
		}
		if rec.Header().Get("Content-Type") != dohContentType {
			t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
		}
	})
}
