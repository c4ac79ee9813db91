package resolver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
)

// Static table indexes (RFC 7541 Appendix A) of the header names the
// HTTP/2 server writes.
const (
	hpackStatus        = 8
	hpackAllow         = 22
	hpackCacheControl  = 24
	hpackContentLength = 28
	hpackContentType   = 31
)

// appendHpackInt appends v as an HPACK integer with a prefix of the given
// bits in a first byte that starts with the bits of first (RFC 7541 §5.1).
func appendHpackInt(dst []byte, prefix uint8, first byte, v uint64) []byte {
	limit := uint64(1)<<prefix - 1
	if v < limit {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(limit))
	v -= limit
	for v >= 128 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendHpackString appends s as a string literal without Huffman coding.
func appendHpackString(dst []byte, s string) []byte {
	dst = appendHpackInt(dst, 7, 0, uint64(len(s)))
	return append(dst, s...)
}

// appendStatus appends :status, indexed when the static table has it.
func appendStatus(dst []byte, code int) []byte {
	idx := 0
	switch code {
	case 200:
		idx = 8
	case 204:
		idx = 9
	case 206:
		idx = 10
	case 304:
		idx = 11
	case 400:
		idx = 12
	case 404:
		idx = 13
	case 500:
		idx = 14
	}
	if idx > 0 {
		return appendHpackInt(dst, 7, 0x80, uint64(idx))
	}
	return appendLiteralInt(dst, hpackStatus, "", uint64(code))
}

// appendLiteral appends a header field as a literal without indexing (RFC
// 7541 §6.2.2), its name given by a static table index or, with index 0,
// as a literal: the server keeps no dynamic table.
func appendLiteral(dst []byte, index int, name, value string) []byte {
	if index > 0 {
		dst = appendHpackInt(dst, 4, 0, uint64(index))
	} else {
		dst = append(dst, 0)
		dst = appendHpackString(dst, name)
	}
	return appendHpackString(dst, value)
}

// appendLiteralInt appends a field whose value is prefix then v in decimal,
// without allocating.
func appendLiteralInt(dst []byte, index int, prefix string, v uint64) []byte {
	var num [20]byte
	d := strconv.AppendUint(num[:0], v, 10)
	dst = appendHpackInt(dst, 4, 0, uint64(index))
	dst = appendHpackInt(dst, 7, 0, uint64(len(prefix)+len(d)))
	dst = append(dst, prefix...)
	return append(dst, d...)
}

// serveFallback runs the fallback handler for a request on another path
// than DoH's, on its own goroutine; the reply is buffered whole, then sent.
func (h *h2conn) serveFallback(st *h2stream) {
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	h.wmu.Lock()
	if st.finished {
		h.wmu.Unlock()
		return
	}
	st.cancel = cancel
	h.wmu.Unlock()
	req, err := h.fallbackRequest(ctx, st)
	if err != nil {
		h.respondError(st, http.StatusBadRequest, "malformed request")
		return
	}
	rw := &bufferedResponse{header: make(http.Header)}
	if !h.runHandler(rw, req) {
		h.resetStream(st.id, http2.ErrCodeInternal)
		return
	}
	h.respondFallback(st, req.Method == http.MethodHead, rw)
}

// runHandler calls the fallback handler, reporting false when it panicked
// (net/http's http.ErrAbortHandler included).
func (h *h2conn) runHandler(rw *bufferedResponse, req *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler { //nolint:errorlint // net/http compares the same way
				h.e.cfg.Logger.Error("resolver: doh server: handler panicked", "client_ip", h.src.Addr().String(), "panic", p)
			}
			ok = false
		}
	}()
	h.s.fallback().ServeHTTP(rw, req)
	return true
}

// fallbackRequest builds the *http.Request of a stream.
func (h *h2conn) fallbackRequest(ctx context.Context, st *h2stream) (*http.Request, error) {
	var u *url.URL
	if st.path == "*" {
		u = &url.URL{Path: "*"}
	} else {
		var err error
		if u, err = url.ParseRequestURI(st.path); err != nil {
			return nil, err
		}
	}
	hdr := make(http.Header, len(st.fields))
	for _, f := range st.fields {
		k := http.CanonicalHeaderKey(f.Name)
		if k == "Cookie" && len(hdr[k]) > 0 {
			hdr[k][0] += "; " + f.Value // RFC 9113 §8.2.3
			continue
		}
		hdr[k] = append(hdr[k], f.Value)
	}
	host := st.authority
	if host == "" {
		host = hdr.Get("Host")
	}
	var body io.ReadCloser = http.NoBody
	if len(st.body) > 0 {
		body = io.NopCloser(bytes.NewReader(st.body))
	}
	tlsState := h.tls
	req := &http.Request{
		Method: st.method, URL: u, Proto: "HTTP/2.0", ProtoMajor: 2, Header: hdr, Body: body,
		ContentLength: int64(len(st.body)), Host: host, RemoteAddr: h.src.String(), RequestURI: st.path, TLS: &tlsState,
	}
	return req.WithContext(ctx), nil
}

// respondFallback sends a fallback handler's buffered reply.
func (h *h2conn) respondFallback(st *h2stream, head bool, rw *bufferedResponse) {
	if rw.over {
		h.respondError(st, http.StatusInternalServerError, "response too large")
		return
	}
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	body := rw.body
	noBody := status == http.StatusNoContent || status == http.StatusNotModified || status < 200
	if noBody {
		body = nil
	}
	b := appendStatus(nil, status)
	for k, vs := range rw.header {
		name := strings.ToLower(k)
		switch name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			continue // connection-specific: not in HTTP/2
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vs {
			if httpguts.ValidHeaderFieldValue(v) {
				b = appendLiteral(b, 0, name, v)
			}
		}
	}
	if !noBody && rw.header.Get("Content-Type") == "" && len(body) > 0 {
		b = appendLiteral(b, hpackContentType, "", http.DetectContentType(body))
	}
	if !noBody && rw.header.Get("Content-Length") == "" {
		b = appendLiteralInt(b, hpackContentLength, "", uint64(len(body)))
	}
	if rw.header.Get("Date") == "" {
		b = appendLiteral(b, 0, "date", time.Now().UTC().Format(http.TimeFormat))
	}
	if head {
		body = nil
	}
	h.wmu.Lock()
	h.waitRoom()
	st.cancel = nil
	h.sendLocked(st, b, body)
	h.wmu.Unlock()
	h.signal()
}

var errResponseTooLarge = errors.New("resolver: doh server: response too large")

// bufferedResponse is the http.ResponseWriter of a fallback handler run
// by the HTTP/2 server: the whole reply is kept, then sent.
type bufferedResponse struct {
	header http.Header
	status int
	body   []byte
	over   bool
}

func (r *bufferedResponse) Header() http.Header { return r.header }

func (r *bufferedResponse) WriteHeader(code int) {
	if r.status != 0 || code < 200 {
		return // informational replies are not sent; only the first status counts
	}
	r.status = code
}

func (r *bufferedResponse) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if len(r.body)+len(b) > maxFallbackResponse {
		r.over = true
		return 0, errResponseTooLarge
	}
	r.body = append(r.body, b...)
	return len(b), nil
}

// Flush does nothing: the reply is sent when the handler returns.
func (r *bufferedResponse) Flush() {}
