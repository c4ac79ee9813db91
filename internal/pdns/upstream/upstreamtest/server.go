// Package upstreamtest runs scriptable DNS servers on loopback (UDP, TCP,
// DNS over TLS and DNS over HTTPS) that stand in for upstream resolvers in
// tests: each answers from a small zone or misbehaves on demand.
package upstreamtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Transport names the way a query reached a Server.
type Transport string

// The transports a Server listens on.
const (
	UDP   Transport = "udp"
	TCP   Transport = "tcp"
	TLS   Transport = "tls"
	HTTPS Transport = "https"
)

var transports = [...]Transport{UDP, TCP, TLS, HTTPS}

func (t Transport) index() int {
	for i, x := range transports {
		if x == t {
			return i
		}
	}
	return -1
}

// Mode is what a Server does with each query it receives; change it at any
// time with SetMode. Queries already being delayed keep the mode they
// arrived under.
type Mode int32

// The modes. Every mode still counts and records the query.
const (
	// Answer replies from the zone.
	Answer Mode = iota
	// Timeout never replies (over DoH the request is held until the client
	// gives up).
	Timeout
	// ServFail replies SERVFAIL.
	ServFail
	// Refused replies REFUSED.
	Refused
	// ForgeID first sends a reply with a different ID whose answer is
	// ForgedA, then the real reply. Over DoH only the forged reply is sent.
	ForgeID
	// ForgeQuestion first sends a reply with the right ID but another
	// question (ForgedName, answered with ForgedA), then the real reply.
	// Over DoH only the forged reply is sent.
	ForgeQuestion
	// Truncate replies over UDP with TC=1 and no records; TCP, DoT and DoH
	// get the full answer.
	Truncate
)

var modeNames = [...]string{"answer", "timeout", "servfail", "refused", "forge-id", "forge-question", "truncate"}

func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", int32(m))
}

// What forged replies carry, so a test can assert they never come out of
// the code under test.
const (
	ForgedA    = "192.0.2.66"
	ForgedName = "forged.invalid."
)

const (
	// maxHandlers bounds queries being handled at once. When it is full,
	// further UDP queries are dropped (as by an overloaded server) and
	// stream connections stop reading until a slot frees.
	maxHandlers = 256
	// logCap bounds the queries kept for Queries; older ones are dropped.
	logCap = 1024
	// forgeGap separates a forged reply from the real one that follows, so
	// the client has read the forgery before the answer arrives.
	forgeGap = 5 * time.Millisecond
	// ioTimeout bounds a stream handshake or write to a client that stopped
	// reading.
	ioTimeout = 5 * time.Second
)

// Config chooses what a Server serves besides UDP and TCP.
type Config struct {
	// Zone holds the records to answer from; nil means DefaultZone().
	Zone *Zone
	// TLS also serves DNS over TLS (RFC 7858) on its own port.
	TLS bool
	// HTTPS also serves DNS over HTTPS (RFC 8484, HTTP/2) at /dns-query.
	HTTPS bool
}

// Query is one query a Server received.
type Query struct {
	Transport Transport
	// Proto is the HTTP protocol of a DoH request ("HTTP/2.0"), else empty.
	Proto string
	Msg   *dns.Msg
}

// Server is a loopback DNS server for tests. UDP and TCP share one port;
// DoT and DoH have their own. Its methods are safe for concurrent use.
type Server struct {
	zone     *Zone
	mode     atomic.Int32
	delay    atomic.Int64 // nanoseconds
	counts   [len(transports)]atomic.Int64
	accepted [len(transports)]atomic.Int64 // connections accepted (TCP, TLS, HTTPS)

	ctx    context.Context // cancelled by Close: ends delays and held requests
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine except the DoH server's own
	sem    chan struct{}  // handler slots, capacity maxHandlers

	addr    string // UDP and TCP
	tlsAddr string
	doh     *httptest.Server

	mu     sync.Mutex // guards the fields below
	closed bool
	dead   bool
	udp    *net.UDPConn
	tcp    net.Listener
	dot    net.Listener
	conns  map[net.Conn]struct{}
	log    []Query // ring of at most logCap, oldest at logAt when full
	logAt  int
}

// Start starts a Server and stops it when the test ends; it fails the test
// if the server cannot start.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		tb.Fatalf("start fake upstream: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// NewServer starts a Server; the caller must Close it.
func NewServer(cfg Config) (*Server, error) {
	zone := cfg.Zone
	if zone == nil {
		zone = DefaultZone()
	}
	s := &Server{
		zone:  zone,
		sem:   make(chan struct{}, maxHandlers),
		conns: make(map[net.Conn]struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.bindPlain(); err != nil {
		s.Close()
		return nil, err
	}
	if cfg.TLS {
		if err := s.bindTLS("127.0.0.1:0"); err != nil {
			s.Close()
			return nil, err
		}
		s.tlsAddr = s.dot.Addr().String()
	}
	if cfg.HTTPS {
		if err := s.startDoH(); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.mu.Lock()
	s.serveLocked()
	s.mu.Unlock()
	return s, nil
}

// bindPlain binds UDP and TCP on the same free loopback port. Another
// process may take the TCP port between the two binds, so it tries a few
// ports before giving up.
func (s *Server) bindPlain() error {
	var lastErr error
	for range 20 {
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return fmt.Errorf("upstreamtest: listen udp: %w", err)
		}
		addr := pc.LocalAddr().String()
		l, err := net.Listen("tcp", addr)
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		s.udp, s.tcp, s.addr = pc, l, addr
		return nil
	}
	return fmt.Errorf("upstreamtest: listen tcp beside udp: %w", lastErr)
}

// serveLocked starts the serving goroutines for the bound listeners.
func (s *Server) serveLocked() {
	s.wg.Add(2)
	go s.serveUDP(s.udp)
	go s.serveStream(s.tcp, TCP)
	if s.dot != nil {
		s.wg.Add(1)
		go s.serveStream(s.dot, TLS)
	}
}

// Addr returns the UDP and TCP address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// TLSAddr returns the DoT address, or "" without Config.TLS.
func (s *Server) TLSAddr() string { return s.tlsAddr }

// URL returns the DoH endpoint, or "" without Config.HTTPS.
func (s *Server) URL() string {
	if s.doh == nil {
		return ""
	}
	return s.doh.URL + "/dns-query"
}

// UDPSpec returns the upstream spec for UDP with TCP fallback ("host:port").
func (s *Server) UDPSpec() string { return s.addr }

// TCPSpec returns the upstream spec for TCP only.
func (s *Server) TCPSpec() string { return "tcp://" + s.addr }

// TLSSpec returns the upstream spec for DoT, naming the certificate's
// ServerName; "" without Config.TLS.
func (s *Server) TLSSpec() string {
	if s.tlsAddr == "" {
		return ""
	}
	return "tls://" + s.tlsAddr + "#" + ServerName
}

// HTTPSSpec returns the upstream spec for DoH; "" without Config.HTTPS.
func (s *Server) HTTPSSpec() string { return s.URL() }

// Zone returns the zone the server answers from; records added to it are
// served at once.
func (s *Server) Zone() *Zone { return s.zone }

// SetMode changes how the server treats queries from now on.
func (s *Server) SetMode(m Mode) { s.mode.Store(int32(m)) }

// Mode returns the current mode.
func (s *Server) Mode() Mode { return Mode(s.mode.Load()) }

// SetDelay makes the server wait d before each reply (0 for none).
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// Count returns how many queries arrived over t, including those
// ignored because of the mode.
func (s *Server) Count(t Transport) int64 {
	i := t.index()
	if i < 0 {
		return 0
	}
	return s.counts[i].Load()
}

// Conns returns how many connections the server accepted over t (TCP, TLS
// or HTTPS), so tests can see whether a client reuses them.
func (s *Server) Conns(t Transport) int64 {
	i := t.index()
	if i < 0 {
		return 0
	}
	return s.accepted[i].Load()
}

// Queries returns the most recent queries received (at most 1024), oldest
// first.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Query, 0, len(s.log))
	out = append(out, s.log[s.logAt:]...)
	out = append(out, s.log[:s.logAt]...)
	return out
}

func (s *Server) received(t Transport, proto string, req *dns.Msg) {
	s.counts[t.index()].Add(1)
	q := Query{Transport: t, Proto: proto, Msg: req.Copy()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) < logCap {
		s.log = append(s.log, q)
		return
	}
	s.log[s.logAt] = q
	s.logAt = (s.logAt + 1) % logCap
}

// Kill makes the server dead: its UDP, TCP and DoT sockets are closed (so
// UDP clients typically see "connection refused") and open connections are
// dropped; DoH connections are dropped and new requests aborted. Revive
// brings it back on the same addresses.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.dead {
		return
	}
	s.dead = true
	s.closeSocketsLocked()
	if s.doh != nil {
		s.doh.CloseClientConnections()
	}
}

// Revive reopens a killed server on the addresses it had.
func (s *Server) Revive() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("upstreamtest: revive: server closed")
	}
	if !s.dead {
		return nil
	}
	udpAddr, err := net.ResolveUDPAddr("udp", s.addr)
	if err != nil {
		return fmt.Errorf("upstreamtest: revive: %w", err)
	}
	pc, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		return fmt.Errorf("upstreamtest: revive udp: %w", err)
	}
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("upstreamtest: revive tcp: %w", err)
	}
	s.udp, s.tcp = pc, l
	if s.tlsAddr != "" {
		if err := s.bindTLS(s.tlsAddr); err != nil {
			pc.Close()
			l.Close()
			return fmt.Errorf("upstreamtest: revive: %w", err)
		}
	}
	s.dead = false
	s.serveLocked()
	return nil
}

func (s *Server) closeSocketsLocked() {
	if s.udp != nil {
		s.udp.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
	if s.dot != nil {
		s.dot.Close()
	}
	for c := range s.conns {
		c.Close()
		delete(s.conns, c)
	}
}

// Close stops the server and waits for all its goroutines to end.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.closeSocketsLocked()
	s.mu.Unlock()
	s.cancel()
	if s.doh != nil {
		s.doh.Close()
	}
	s.wg.Wait()
}

// track registers a stream connection so Kill and Close can drop it.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.dead {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) isDead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

// prepare applies the mode and delay to req and returns the packets to send
// in order, or nil when the server stays silent or ctx ends first.
func (s *Server) prepare(ctx context.Context, req *dns.Msg, t Transport) [][]byte {
	mode := s.Mode()
	if mode == Timeout {
		return nil
	}
	if d := time.Duration(s.delay.Load()); d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil
		}
	}
	msgs := s.replies(req, t, mode)
	out := make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		b, err := m.Pack()
		if err != nil {
			return nil
		}
		out = append(out, b)
	}
	return out
}

// replies builds the messages mode calls for, in sending order.
func (s *Server) replies(req *dns.Msg, t Transport, mode Mode) []*dns.Msg {
	real := s.zone.Reply(req)
	switch mode {
	case ServFail, Refused:
		rcode := dns.RcodeServerFailure
		if mode == Refused {
			rcode = dns.RcodeRefused
		}
		r := new(dns.Msg)
		r.SetRcode(req, rcode)
		r.RecursionAvailable = true
		if req.IsEdns0() != nil {
			r.SetEdns0(1232, false)
		}
		return []*dns.Msg{r}
	case ForgeID, ForgeQuestion:
		f := real.Copy()
		f.Rcode = dns.RcodeSuccess
		f.Ns = nil
		name := real.Question[0].Name
		if mode == ForgeID {
			f.Id = req.Id + 1
		} else {
			name = ForgedName
			f.Question[0].Name = name
		}
		a, _ := dns.NewRR(name + " 86400 IN A " + ForgedA)
		f.Answer = []dns.RR{a}
		if t == HTTPS {
			return []*dns.Msg{f}
		}
		return []*dns.Msg{f, real}
	case Truncate:
		if t == UDP {
			return []*dns.Msg{truncated(req, real)}
		}
	}
	if t == UDP && real.Len() > udpSize(req) {
		return []*dns.Msg{truncated(req, real)}
	}
	return []*dns.Msg{real}
}

// truncated is what a server sends over UDP when the answer does not fit:
// the header with TC=1 and the question, no records (RFC 2181 §9 allows
// dropping them all).
func truncated(req, real *dns.Msg) *dns.Msg {
	t := new(dns.Msg)
	t.SetReply(req)
	t.RecursionAvailable = true
	t.Rcode = real.Rcode
	t.Truncated = true
	if req.IsEdns0() != nil {
		t.SetEdns0(1232, false)
	}
	return t
}

// udpSize is the largest UDP reply req allows: its EDNS0 payload size, or
// 512 bytes without EDNS0 (RFC 1035).
func udpSize(req *dns.Msg) int {
	if opt := req.IsEdns0(); opt != nil {
		return max(512, int(opt.UDPSize()))
	}
	return 512
}

// sendAll sends packets in order with forgeGap between them.
func (s *Server) sendAll(ctx context.Context, pkts [][]byte, send func([]byte) error) {
	for i, p := range pkts {
		if i > 0 {
			timer := time.NewTimer(forgeGap)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
		if send(p) != nil {
			return
		}
	}
}
