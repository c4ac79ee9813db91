package resolver

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// dohClient returns an HTTP client of the engine's DoH listener that
// connects from src and speaks HTTP/2 (h2) or HTTP/1.1.
func dohClient(t testing.TB, src string, h2 bool) *http.Client {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // #nosec G402 -- the test server's own certificate
		ForceAttemptHTTP2: h2,
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}).DialContext,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

type dohResult struct {
	proto                int
	status               int
	ctype, cache, allow  string
	rcode                int
	id                   uint16
	body                 []byte
	contentLengthHeader  string
	contentTypeOptionsOK bool
}

func doDoH(t testing.TB, c *http.Client, method, url, ctype string, body []byte) dohResult {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := dohResult{proto: resp.ProtoMajor, status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), cache: resp.Header.Get("Cache-Control"),
		allow: resp.Header.Get("Allow"), body: b, contentLengthHeader: resp.Header.Get("Content-Length"),
		contentTypeOptionsOK: resp.Header.Get("X-Content-Type-Options") == "nosniff"}
	if resp.StatusCode == 200 && r.ctype == dohContentType {
		var m dns.Msg
		if err := m.Unpack(b); err != nil {
			t.Fatalf("%s %s: reply is not a DNS message: %v", method, url, err)
		}
		r.rcode, r.id = m.Rcode, m.Id
	}
	return r
}

func TestDoHServerAnswersLikeTheHandler(t *testing.T) {
	e := startEngine(t, &fakeUpstream{}, twoTenants(t), nil)
	base := "https://" + e.Addr(querylog.DoH)
	q := packed(t, "malware.test.", dns.TypeA)
	get := "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(q)
	for _, h2 := range []bool{true, false} {
		proto := map[bool]string{true: "HTTP/2", false: "HTTP/1.1"}[h2]
		ca, cb := dohClient(t, "127.0.0.2", h2), dohClient(t, "127.0.0.3", h2)
		tests := []struct {
			name                  string
			c                     *http.Client
			method, target, ctype string
			body                  []byte
			status, rcode         int
		}{
			{"GET from tenant a is blocked", ca, "GET", get, "", nil, 200, dns.RcodeNameError},
			{"GET with a padded parameter", ca, "GET", get + "%3D%3D", "", nil, 200, dns.RcodeNameError},
			{"POST from tenant b is answered", cb, "POST", "/dns-query", dohContentType, q, 200, dns.RcodeSuccess},
			{"token decides the tenant", cb, "POST", "/dns-query/token-aaaaaaaaaaaaaaaa", dohContentType, q, 200, dns.RcodeNameError},
			{"unknown token is refused", ca, "POST", "/dns-query/token-unknown-xxxxxxxx", dohContentType, q, 200, dns.RcodeRefused},
			{"content type with parameters", cb, "POST", "/dns-query", dohContentType + "; charset=binary", q, 200, dns.RcodeSuccess},
			{"wrong content type", ca, "POST", "/dns-query", "text/plain", q, 415, 0},
			{"body too short", ca, "POST", "/dns-query", dohContentType, q[:5], 400, 0},
			{"missing parameter", ca, "GET", "/dns-query", "", nil, 400, 0},
			{"bad base64", ca, "GET", "/dns-query?dns=***", "", nil, 400, 0},
			{"wrong method", ca, "PUT", "/dns-query", dohContentType, q, 405, 0},
			{"deeper path", ca, "GET", "/dns-query/a/b", "", nil, 404, 0},
			{"other path", ca, "GET", "/metrics", "", nil, 404, 0},
		}
		for _, tc := range tests {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				r := doDoH(t, tc.c, tc.method, base+tc.target, tc.ctype, tc.body)
				wantProto := 1
				if h2 {
					wantProto = 2
				}
				if r.proto != wantProto {
					t.Fatalf("served as HTTP/%d", r.proto)
				}
				if r.status != tc.status {
					t.Fatalf("status %d, want %d (%q)", r.status, tc.status, r.body)
				}
				switch {
				case tc.status == 200:
					if r.ctype != dohContentType || r.rcode != tc.rcode || r.id != uint16(q[0])<<8|uint16(q[1]) {
						t.Fatalf("content type %q rcode %s id %#x", r.ctype, dns.RcodeToString[r.rcode], r.id)
					}
					if tc.rcode != dns.RcodeRefused && !strings.HasPrefix(r.cache, "max-age=") {
						t.Fatalf("Cache-Control %q", r.cache)
					}
					if tc.rcode == dns.RcodeRefused && r.cache != "" {
						t.Fatalf("REFUSED is cacheable: %q", r.cache)
					}
				case tc.status == 404:
				default:
					if !strings.HasPrefix(r.ctype, "text/plain") || !r.contentTypeOptionsOK || len(r.body) == 0 {
						t.Fatalf("error reply: content type %q, nosniff %v, body %q", r.ctype, r.contentTypeOptionsOK, r.body)
					}
				}
				if tc.status == 405 && r.allow != "GET, POST" {
					t.Fatalf("Allow %q", r.allow)
				}
			})
		}
	}
}

func TestDoHServerManyStreamsOnOneConnection(t *testing.T) {
	up := &fakeUpstream{}
	e := startEngine(t, up, twoTenants(t), nil)
	// Fewer requests at once than the server's stream limit (256), so that
	// the client keeps to its one connection.
	var dials atomic.Int32
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}, Timeout: 5 * time.Second}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // #nosec G402 -- the test server's own certificate
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "https://" + e.Addr(querylog.DoH) + "/dns-query?dns="
	// Warm one connection first, so that every request below shares it.
	doDoH(t, c, "GET", url+base64.RawURLEncoding.EncodeToString(packed(t, "warm.test.", dns.TypeA)), "", nil)
	var wg sync.WaitGroup
	errs := make(chan string, 600)
	inFlight := make(chan struct{}, 200)
	for i := 0; i < 600; i++ {
		wg.Add(1)
		inFlight <- struct{}{}
		go func() {
			defer func() {
				<-inFlight
				wg.Done()
			}()
			name := []string{"a.example.", "phish.test.", "malware.test.", "b.example."}[i%4]
			r := doDoH(t, c, "GET", url+base64.RawURLEncoding.EncodeToString(packed(t, name, dns.TypeA)), "", nil)
			if r.status != 200 || r.proto != 2 {
				errs <- name
			}
		}()
	}
	wg.Wait()
	close(errs)
	for name := range errs {
		t.Errorf("%s: not answered over HTTP/2", name)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestDoHServerFallbackHandler(t *testing.T) {
	e := startEngine(t, &fakeUpstream{}, twoTenants(t), func(c *Config) { c.DoHAddr = "" })
	big := bytes.Repeat([]byte("0123456789"), 30_000) // more than the connection window
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(big) })
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	srv, err := e.NewDoHServer(DoHServerConfig{TLS: selfSignedTLS(t), Fallback: mux})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	base := "https://" + l.Addr().String()
	for _, h2 := range []bool{true, false} {
		c := dohClient(t, "127.0.0.2", h2)
		r := doDoH(t, c, "GET", base+"/healthz", "", nil)
		if r.status != 200 || string(r.body) != "ok\n" || r.ctype != "text/plain; charset=utf-8" {
			t.Fatalf("h2 %v: /healthz: %d %q %q", h2, r.status, r.ctype, r.body)
		}
		if r = doDoH(t, c, "GET", base+"/big", "", nil); r.status != 200 || !bytes.Equal(r.body, big) {
			t.Fatalf("h2 %v: /big: status %d, %d bytes", h2, r.status, len(r.body))
		}
		if r = doDoH(t, c, "POST", base+"/echo", "text/plain", []byte("hello")); r.status != 201 || string(r.body) != "hello" {
			t.Fatalf("h2 %v: /echo: %d %q", h2, r.status, r.body)
		}
		if r = doDoH(t, c, "GET", base+"/nothing", "", nil); r.status != 404 {
			t.Fatalf("h2 %v: /nothing: %d", h2, r.status)
		}
		req, _ := http.NewRequest("GET", base+"/panic", nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("h2 %v: a handler that aborts got a reply: %d", h2, resp.StatusCode)
		}
		q := packed(t, "malware.test.", dns.TypeA)
		if r = doDoH(t, c, "POST", base+"/dns-query", dohContentType, q); r.status != 200 || r.rcode != dns.RcodeNameError {
			t.Fatalf("h2 %v: DoH beside the fallback: %d %s", h2, r.status, dns.RcodeToString[r.rcode])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
}
