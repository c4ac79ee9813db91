package resolver

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

const dohContentType = "application/dns-message"

// DoHHandler returns the RFC 8484 handler: GET with ?dns=<base64url> and
// POST with an application/dns-message body, at /dns-query (tenant from the
// client address) and /dns-query/{token} (tenant from the token; an
// unknown token gets REFUSED). Mount it on both paths of an HTTP/2 server;
// it reads the path itself, so any prefix before /dns-query works.
func (e *Engine) DoHHandler() http.Handler {
	return http.HandlerFunc(e.serveDoH)
}

func (e *Engine) serveDoH(rw http.ResponseWriter, r *http.Request) {
	token, hasToken, ok := dohToken(r.URL.Path)
	if !ok {
		http.NotFound(rw, r)
		return
	}
	pkt, status, msg := readDoH(r)
	if status != 0 {
		if status == http.StatusMethodNotAllowed {
			rw.Header().Set("Allow", "GET, POST")
		}
		http.Error(rw, msg, status)
		return
	}
	src, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		http.Error(rw, "unknown client address", http.StatusBadRequest)
		return
	}
	if e.closing.Load() {
		http.Error(rw, "shutting down", http.StatusServiceUnavailable)
		return
	}
	// The HTTP server that runs this handler drains it on its own shutdown.
	w := e.getWorker()
	defer putWorker(w)
	req := request{pkt: pkt, src: src, tr: querylog.DoH, token: token, hasToken: hasToken, wait: true}
	resp, _ := w.answer(&req)
	if resp == nil {
		http.Error(rw, "not a DNS query", http.StatusBadRequest)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", dohContentType)
	h.Set("Content-Length", strconv.Itoa(len(resp)))
	if rc := resp[3] & 0xf; rc == 0 || rc == 3 {
		h.Set("Cache-Control", "max-age="+strconv.FormatUint(uint64(w.ttl), 10))
	}
	_, _ = rw.Write(resp)
}

// dohToken finds "/dns-query" or "/dns-query/{token}" at the end of path.
func dohToken(path string) (token string, hasToken, ok bool) {
	i := strings.LastIndex(path, "/dns-query")
	if i < 0 {
		return "", false, false
	}
	rest := path[i+len("/dns-query"):]
	switch {
	case rest == "":
		return "", false, true
	case rest[0] == '/' && len(rest) > 1 && !strings.Contains(rest[1:], "/"):
		return rest[1:], true, true
	}
	return "", false, false
}

// readDoH extracts the DNS message of a DoH request, or an HTTP status and
// message explaining why there is none.
func readDoH(r *http.Request) ([]byte, int, string) {
	switch r.Method {
	case http.MethodGet:
		v := r.URL.Query().Get("dns")
		if v == "" {
			return nil, http.StatusBadRequest, "missing dns parameter"
		}
		pkt, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
		if err != nil {
			return nil, http.StatusBadRequest, "dns parameter is not base64url"
		}
		if len(pkt) < 12 || len(pkt) > 65535 {
			return nil, http.StatusBadRequest, "dns parameter is not a DNS message"
		}
		return pkt, 0, ""
	case http.MethodPost:
		ct := r.Header.Get("Content-Type")
		if i := strings.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		if strings.TrimSpace(ct) != dohContentType {
			return nil, http.StatusUnsupportedMediaType, "content type must be " + dohContentType
		}
		pkt, err := io.ReadAll(io.LimitReader(r.Body, 65536))
		if err != nil {
			return nil, http.StatusBadRequest, "cannot read body"
		}
		if len(pkt) < 12 || len(pkt) > 65535 {
			return nil, http.StatusBadRequest, "body is not a DNS message"
		}
		return pkt, 0, ""
	}
	return nil, http.StatusMethodNotAllowed, "use GET or POST"
}
