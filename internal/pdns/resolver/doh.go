package resolver

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

const dohContentType = "application/dns-message"

// maxDoHBody bounds a POST body: one DNS message.
const maxDoHBody = 65535

// DoHHandler returns the RFC 8484 handler: GET with ?dns=<base64url> and
// POST with an application/dns-message body, at /dns-query (tenant from the
// client address) and /dns-query/{token} (tenant from the token; an
// unknown token gets REFUSED). Mount it on both paths of an HTTP/2 server;
// it reads the path itself, so any prefix before /dns-query works. A DNS
// node's own listener is better served by NewDoHServer.
func (e *Engine) DoHHandler() http.Handler {
	return http.HandlerFunc(e.serveDoH)
}

// dohInput is what the query path needs of an HTTP request, whichever
// server read it.
type dohInput struct {
	method, path, rawQuery, contentType string
	body                                []byte
	src                                 netip.AddrPort
}

// dohReply is the HTTP answer to a DoH request: a DNS message with status
// 200, or an error status with a message for the client.
type dohReply struct {
	status int
	msg    string // error text, status != 200
	resp   []byte // the DNS reply, status 200; the worker's buffer
	// maxAge is the Cache-Control max-age of a cacheable reply (NOERROR
	// and NXDOMAIN, RFC 8484 §5.1); cacheable says whether it is set.
	maxAge    uint32
	cacheable bool
}

func (e *Engine) serveDoH(rw http.ResponseWriter, r *http.Request) {
	e.activity.read(1)
	req := dohInput{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, contentType: r.Header.Get("Content-Type")}
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxDoHBody+1))
		if err != nil {
			http.Error(rw, "cannot read body", http.StatusBadRequest)
			return
		}
		req.body = body
	}
	var err error
	if req.src, err = netip.ParseAddrPort(r.RemoteAddr); err != nil {
		http.Error(rw, "unknown client address", http.StatusBadRequest)
		return
	}
	// The HTTP server that runs this handler drains it on its own shutdown.
	w := e.getWorker()
	defer putWorker(w)
	rep, _ := e.dohAnswer(w, &req, true)
	h := rw.Header()
	if rep.status != http.StatusOK {
		if rep.status == http.StatusMethodNotAllowed {
			h.Set("Allow", "GET, POST")
		}
		http.Error(rw, rep.msg, rep.status)
		return
	}
	h.Set("Content-Type", dohContentType)
	h.Set("Content-Length", strconv.Itoa(len(rep.resp)))
	if rep.cacheable {
		h.Set("Cache-Control", "max-age="+strconv.FormatUint(uint64(rep.maxAge), 10))
	}
	_, _ = rw.Write(rep.resp)
}

// dohAnswer answers a DoH request. Without wait, a query that needs an
// upstream returns miss=true and nothing else happens: the caller runs it
// again with wait set, off its reading goroutine. The DNS message is
// decoded into the worker's buffer, so r may be reused once dohAnswer
// returns.
func (e *Engine) dohAnswer(w *worker, r *dohInput, wait bool) (rep dohReply, miss bool) {
	token, hasToken, ok := dohToken(r.path)
	if !ok {
		return dohReply{status: http.StatusNotFound, msg: "404 page not found"}, false
	}
	pkt, status, msg := w.readDoH(r)
	if status != 0 {
		return dohReply{status: status, msg: msg}, false
	}
	if e.closing.Load() {
		return dohReply{status: http.StatusServiceUnavailable, msg: "shutting down"}, false
	}
	req := request{pkt: pkt, src: r.src, tr: querylog.DoH, token: token, hasToken: hasToken, wait: wait}
	resp, miss := w.answer(&req)
	if miss {
		return dohReply{}, true
	}
	if resp == nil {
		return dohReply{status: http.StatusBadRequest, msg: "not a DNS query"}, false
	}
	rc := resp[3] & 0xf
	return dohReply{status: http.StatusOK, resp: resp, maxAge: w.ttl, cacheable: rc == 0 || rc == 3}, false
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

// readDoH extracts the DNS message of a DoH request into the worker's
// buffer, or returns an HTTP status and message explaining why there is
// none.
func (w *worker) readDoH(r *dohInput) ([]byte, int, string) {
	switch r.method {
	case http.MethodGet:
		v, ok := queryValue(r.rawQuery, "dns")
		if !ok || v == "" {
			return nil, http.StatusBadRequest, "missing dns parameter"
		}
		v = strings.TrimRight(v, "=")
		if base64.RawURLEncoding.DecodedLen(len(v)) > maxDoHBody {
			return nil, http.StatusBadRequest, "dns parameter is not a DNS message"
		}
		if cap(w.in) < maxDoHBody {
			w.in = make([]byte, maxDoHBody)
		}
		n, err := base64.RawURLEncoding.Decode(w.in[:maxDoHBody], unsafeBytes(v))
		if err != nil {
			return nil, http.StatusBadRequest, "dns parameter is not base64url"
		}
		if n < 12 {
			return nil, http.StatusBadRequest, "dns parameter is not a DNS message"
		}
		return w.in[:n], 0, ""
	case http.MethodPost:
		ct := r.contentType
		if i := strings.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		if strings.TrimSpace(ct) != dohContentType {
			return nil, http.StatusUnsupportedMediaType, "content type must be " + dohContentType
		}
		if len(r.body) > maxDoHBody {
			return nil, http.StatusRequestEntityTooLarge, "request body too large"
		}
		if len(r.body) < 12 {
			return nil, http.StatusBadRequest, "body is not a DNS message"
		}
		return r.body, 0, ""
	}
	return nil, http.StatusMethodNotAllowed, "use GET or POST"
}

// queryValue returns the first value of key in a raw URL query, as
// url.ParseQuery followed by Values.Get would, without building the map:
// pairs are separated by '&', a pair holding ';' is skipped, and keys and
// values are unescaped ('+' is a space). Only escaped pairs allocate.
func queryValue(raw, key string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		return v, true
	}
	return "", false
}
