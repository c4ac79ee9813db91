package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

const dnsMessageType = "application/dns-message"

var errForged = errors.New("upstream: reply does not answer the query")

// dohExchanger speaks RFC 8484: each query is a POST of the wire message.
// The standard library transport keeps connections alive and negotiates
// HTTP/2, where queries share one connection as streams.
//
// The query keeps its random ID. RFC 8484 suggests ID 0 so that GET
// responses cache well in HTTP caches; POST responses are not cached, and
// a random ID lets the reply be checked the same way on every transport.
type dohExchanger struct {
	url       string
	client    *http.Client
	transport *http.Transport
	forged    prometheus.Counter
}

func newDoH(spec Spec, tlsConfig *tls.Config, idle time.Duration, maxConns int, forged prometheus.Counter) *dohExchanger {
	cfg := tlsConfig.Clone()
	cfg.ServerName = spec.ServerName
	tr := &http.Transport{
		Proxy:                  nil, // never from the environment: configuration comes from flags
		DialContext:            (&net.Dialer{}).DialContext,
		TLSClientConfig:        cfg,
		ForceAttemptHTTP2:      true,
		MaxIdleConnsPerHost:    maxConns,
		MaxConnsPerHost:        maxConns,
		IdleConnTimeout:        idle,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 16 << 10,
		// A connection that went silent (path blackholed, server gone)
		// would otherwise swallow every try until TCP keepalive gave up
		// minutes later; a ping on a quiet connection finds out sooner.
		HTTP2: &http.HTTP2Config{SendPingTimeout: 5 * time.Second, PingTimeout: 2 * time.Second},
	}
	return &dohExchanger{
		url:       spec.URL,
		transport: tr,
		client: &http.Client{
			Transport: tr,
			// A redirect would move the question to a server nobody
			// configured; treat it as a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		forged: forged,
	}
}

func (d *dohExchanger) exchange(ctx context.Context, q *query) (*dns.Msg, error) {
	// The transport may read the body after Do returns (HTTP/2 writes it
	// from another goroutine), so it must not be the pooled query buffer.
	body := bytes.Clone(q.wire())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", dnsMessageType)
	req.Header.Set("Accept", dnsMessageType)
	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		return nil, fmt.Errorf("upstream: DoH status %d", resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != dnsMessageType {
		return nil, fmt.Errorf("upstream: DoH content type %q, want %s", resp.Header.Get("Content-Type"), dnsMessageType)
	}
	pkt, err := io.ReadAll(io.LimitReader(resp.Body, dns.MaxMsgSize+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if len(pkt) > dns.MaxMsgSize {
		return nil, fmt.Errorf("%w: DoH body over %d bytes", errMalformed, dns.MaxMsgSize)
	}
	// Unlike UDP there is no later packet to wait for: a reply that does
	// not answer the query ends the try.
	if !matches(pkt, q.id(), q.question()) {
		d.forged.Inc()
		return nil, errForged
	}
	m := new(dns.Msg)
	if err := m.Unpack(pkt); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return m, nil
}

func (d *dohExchanger) close() { d.transport.CloseIdleConnections() }
