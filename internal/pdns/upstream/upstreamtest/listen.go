package upstreamtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/miekg/dns"
)

// serveUDP reads queries until pc is closed; each is handled in its own
// goroutine so a delayed reply does not hold up the others.
func (s *Server) serveUDP(pc *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, dns.MaxMsgSize)
	for {
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed by Kill or Close
		}
		req := new(dns.Msg)
		if req.Unpack(buf[:n]) != nil {
			s.counts[UDP.index()].Add(1)
			continue
		}
		s.received(UDP, "", req)
		select {
		case s.sem <- struct{}{}:
		default:
			continue // full: drop the query, as an overloaded server would
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			pkts := s.prepare(s.ctx, req, UDP)
			s.sendAll(s.ctx, pkts, func(b []byte) error {
				_, err := pc.WriteToUDPAddrPort(b, from)
				return err
			})
		}()
	}
}

// serveStream accepts TCP or DoT connections until l is closed.
func (s *Server) serveStream(l net.Listener, t Transport) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return // closed by Kill or Close
		}
		if !s.track(c) {
			c.Close()
			continue
		}
		s.accepted[t.index()].Add(1)
		s.wg.Add(1)
		go s.serveConn(c, t)
	}
}

// serveConn reads length-prefixed queries from one connection and answers
// each in its own goroutine, so replies may come out of order as RFC 7766
// allows and a client that pipelines gets no head-of-line blocking.
func (s *Server) serveConn(c net.Conn, t Transport) {
	defer s.wg.Done()
	defer s.untrack(c)
	defer c.Close()
	if tc, ok := c.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(s.ctx, ioTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return
		}
	}
	writes := make(chan struct{}, 1) // one writer at a time
	send := func(b []byte) error {
		writes <- struct{}{}
		defer func() { <-writes }()
		out := make([]byte, 2+len(b))
		binary.BigEndian.PutUint16(out, uint16(len(b)))
		copy(out[2:], b)
		c.SetWriteDeadline(time.Now().Add(ioTimeout))
		_, err := c.Write(out)
		return err
	}
	r := bufio.NewReader(c)
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		buf := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		req := new(dns.Msg)
		if req.Unpack(buf) != nil {
			s.counts[t.index()].Add(1)
			return // a stream server drops a connection it cannot parse
		}
		s.received(t, "", req)
		select {
		case s.sem <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			s.sendAll(s.ctx, s.prepare(s.ctx, req, t), send)
		}()
	}
}

// bindTLS listens for DoT on addr with the package certificate.
func (s *Server) bindTLS(addr string) error {
	cert, _, err := loadCert()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.dot = tls.NewListener(l, &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	})
	return nil
}

// startDoH serves RFC 8484 over HTTP/2 with httptest and the package
// certificate, so one RootCAs pool trusts DoT and DoH alike.
func (s *Server) startDoH() error {
	cert, _, err := loadCert()
	if err != nil {
		return err
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	// Aborted requests and clients hanging up are the point of some tests;
	// keep them out of the test output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.accepted[HTTPS.index()].Add(1)
		}
	}
	srv.StartTLS()
	s.doh = srv
	return nil
}

// serveHTTP answers DoH POST requests (RFC 8484 §4.1) at /dns-query.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/dns-query" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "only POST", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/dns-message" {
		http.Error(w, "want application/dns-message", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, dns.MaxMsgSize+1))
	if err != nil || len(body) > dns.MaxMsgSize {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if s.isDead() {
		s.counts[HTTPS.index()].Add(1)
		panic(http.ErrAbortHandler) // drops the connection: a dead server
	}
	req := new(dns.Msg)
	if err := req.Unpack(body); err != nil {
		s.counts[HTTPS.index()].Add(1)
		http.Error(w, "malformed DNS message", http.StatusBadRequest)
		return
	}
	s.received(HTTPS, r.Proto, req)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	pkts := s.prepare(ctx, req, HTTPS)
	if len(pkts) == 0 {
		<-ctx.Done() // silent: hold the request until the client gives up
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", "application/dns-message")
	w.Header().Set("Cache-Control", "max-age=0")
	w.Write(pkts[0])
}
