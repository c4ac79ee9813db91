// Package resolver is the Protective DNS engine: UDP, TCP, DNS over TLS and
// DNS over HTTPS listeners in front of one query path (tenant, policy, cache,
// upstream, query log) that answers cache hits and blocks without allocating.
package resolver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/qsmo/qsmo/internal/pdns/cache"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/upstream"
)

// Upstream answers the engine's cache misses; *upstream.Pool implements it.
type Upstream interface {
	// ResolveFrom returns the verified answer to q and which upstream gave
	// it, honouring ctx's deadline; see upstream.Resolver for the errors.
	ResolveFrom(ctx context.Context, q upstream.Question) (*dns.Msg, upstream.Info, error)
}

// Config is the engine's static configuration. Policy lives in the
// Snapshot, which changes at run time.
type Config struct {
	// UDPAddr, TCPAddr, DoTAddr and DoHAddr are listen addresses
	// ("127.0.0.1:53"); empty turns a listener off. DoT and the engine's own
	// DoH listener need TLS.
	UDPAddr, TCPAddr, DoTAddr, DoHAddr string
	// TLS is the server configuration of DoT and DoH.
	TLS *tls.Config
	// Upstream resolves cache misses (required).
	Upstream Upstream
	// QueryLog receives one record per query; nil turns logging off.
	QueryLog *querylog.Queue
	// Logger receives operational messages (never per query).
	Logger *slog.Logger

	// CacheBytes bounds the answer cache (default 256 MiB).
	CacheBytes int64
	// TTL clamps answer lifetimes; zero fields take defaults (min 0 s,
	// max 1 day, negative 30 s without SOA and at most 1 h, stale 1 h).
	TTL cache.TTLPolicy
	// StaleTTL is the TTL of answers served stale (default 30 s, RFC 8767).
	StaleTTL uint32
	// StaleAfter is how long a query waits for an upstream before an
	// expired answer is served instead (default 1.8 s, RFC 8767).
	StaleAfter time.Duration
	// ResolveTimeout bounds one upstream resolution; a query without a
	// stale answer gets SERVFAIL then (default 2 s).
	ResolveTimeout time.Duration
	// NoPrefetch turns off refreshing popular entries before they expire.
	NoPrefetch bool
	// PrefetchWorkers and PrefetchQueue bound background refreshes
	// (defaults 2 and 256; a refresh that finds the queue full is skipped).
	PrefetchWorkers, PrefetchQueue int
	// MaxPending bounds queries waiting for an upstream (default 4096);
	// over it a miss is answered SERVFAIL (or stale) at once.
	MaxPending int

	// UDPSockets is the number of SO_REUSEPORT sockets (default
	// GOMAXPROCS: the kernel spreads clients over them) and UDPReaders the
	// goroutines reading each (default 1). On one core, one socket with
	// one reader used the least CPU per query (6.2-6.6 us, against 7.0
	// with two sockets and 7.6 with four readers on one socket).
	UDPSockets, UDPReaders int
	// UDPBatch is how many datagrams one system call reads or writes
	// (recvmmsg/sendmmsg on Linux; default 32, 1 turns batching off).
	UDPBatch int
	// UDPSize is the payload size advertised in our OPT record and the
	// most we send over UDP (default 1232).
	UDPSize uint16
	// RateLimit limits UDP queries per source address.
	RateLimit RateLimit

	// TCPIdleTimeout closes idle TCP/DoT connections (default 10 s);
	// TCPMaxConns bounds open connections (default 1000, new ones beyond
	// are closed at once); TCPMaxInFlight bounds the queries one
	// connection has waiting for upstreams (default 64, reading pauses).
	TCPIdleTimeout time.Duration
	TCPMaxConns    int
	TCPMaxInFlight int

	// TenantMetricsCap is the number of tenants with their own metrics
	// label (default 100); the others count as "other".
	TenantMetricsCap int

	// Now returns the time; tests set it. Defaults to time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = 256 << 20
	}
	if c.TTL.MaxTTL == 0 {
		c.TTL.MaxTTL = 86400
	}
	if c.TTL.NegativeTTL == 0 {
		c.TTL.NegativeTTL = 30
	}
	if c.TTL.NegativeMaxTTL == 0 {
		c.TTL.NegativeMaxTTL = 3600
	}
	if c.TTL.StaleFor == 0 {
		c.TTL.StaleFor = time.Hour
	}
	if c.StaleTTL == 0 {
		c.StaleTTL = 30
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = 1800 * time.Millisecond
	}
	if c.ResolveTimeout == 0 {
		c.ResolveTimeout = 2 * time.Second
	}
	if c.PrefetchWorkers <= 0 {
		c.PrefetchWorkers = 2
	}
	if c.PrefetchQueue <= 0 {
		c.PrefetchQueue = 256
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 4096
	}
	if c.UDPSockets <= 0 {
		c.UDPSockets = runtime.GOMAXPROCS(0)
	}
	if c.UDPReaders <= 0 {
		c.UDPReaders = 1
	}
	if c.UDPBatch <= 0 {
		c.UDPBatch = 32
	}
	if c.UDPSize == 0 {
		c.UDPSize = 1232
	}
	if c.TCPIdleTimeout <= 0 {
		c.TCPIdleTimeout = 10 * time.Second
	}
	if c.TCPMaxConns <= 0 {
		c.TCPMaxConns = 1000
	}
	if c.TCPMaxInFlight <= 0 {
		c.TCPMaxInFlight = 64
	}
	if c.TenantMetricsCap <= 0 {
		c.TenantMetricsCap = 100
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	if c.Upstream == nil {
		return errors.New("resolver: config: no upstream")
	}
	if (c.DoTAddr != "" || c.DoHAddr != "") && c.TLS == nil {
		return errors.New("resolver: config: DoT and DoH listeners need a TLS configuration")
	}
	if c.UDPSize < 512 {
		return fmt.Errorf("resolver: config: UDP size %d below 512", c.UDPSize)
	}
	if c.TTL.MinTTL > c.TTL.MaxTTL {
		return fmt.Errorf("resolver: config: min TTL %d above max TTL %d", c.TTL.MinTTL, c.TTL.MaxTTL)
	}
	if c.StaleAfter > c.ResolveTimeout {
		return fmt.Errorf("resolver: config: stale wait %s longer than the resolve timeout %s", c.StaleAfter, c.ResolveTimeout)
	}
	return nil
}

// Engine is a running resolver. Create it with New, give it a Snapshot,
// then Start; Shutdown stops it.
type Engine struct {
	cfg     Config
	snap    atomic.Pointer[Snapshot]
	swapMu  sync.Mutex // serializes SetSnapshot
	cache   *cache.Cache
	limiter *limiter
	metrics *metrics
	flights flights

	ctx    context.Context // canceled when Shutdown gives up draining
	cancel context.CancelFunc

	pending  chan struct{} // semaphore of queries waiting for upstreams
	prefetch chan prefetchJob
	tcpConns chan struct{}

	mu        sync.Mutex
	udp       []*net.UDPConn
	listeners []net.Listener
	addrs     map[querylog.Transport]net.Addr
	conns     map[net.Conn]struct{}
	doh       *DoHServer // the engine's own DoH listener, if any
	started   bool
	closing   atomic.Bool
	activity  activity // queries read, for Yield

	readers  sync.WaitGroup // listener goroutines
	inflight sync.WaitGroup // queries being answered off the listener goroutines
	workers  sync.WaitGroup // prefetch workers and upstream flights
}

// New checks cfg and returns an engine that refuses every query until a
// snapshot is set.
func New(cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		cache:    cache.New(cfg.CacheBytes),
		limiter:  newLimiter(cfg.RateLimit),
		pending:  make(chan struct{}, cfg.MaxPending),
		prefetch: make(chan prefetchJob, cfg.PrefetchQueue),
		tcpConns: make(chan struct{}, cfg.TCPMaxConns),
		conns:    make(map[net.Conn]struct{}),
		addrs:    make(map[querylog.Transport]net.Addr),
	}
	e.activity.epoch = cfg.Now()
	var dropped func() uint64
	if cfg.QueryLog != nil {
		dropped = cfg.QueryLog.Dropped
	}
	e.metrics = newMetrics(cfg.TenantMetricsCap, dropped)
	e.flights.m = make(map[string]*flight)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	empty, _ := NewSnapshot(SnapshotConfig{})
	e.snap.Store(empty)
	return e, nil
}

// SetSnapshot installs s for every query that starts from now on; queries
// already running finish with the snapshot they started with, so a swap
// loses no query. Safe to call at any time from any goroutine.
func (e *Engine) SetSnapshot(s *Snapshot) {
	e.swapMu.Lock()
	defer e.swapMu.Unlock()
	if s.boundTo != e {
		if s.boundTo != nil {
			// Installed in another engine already: its tenants carry that
			// engine's metric slots, so bind a copy.
			c := *s
			c.tenants = append([]tenant(nil), s.tenants...)
			s = &c
		}
		// The snapshot is not visible to any query of this engine yet.
		for i := range s.tenants {
			s.tenants[i].metric = e.metrics.slot(s.tenants[i].id)
		}
		s.boundTo = e
	}
	var allow, deny int
	for i := range s.tenants {
		allow += s.tenants[i].allow.Len()
		deny += s.tenants[i].deny.Len()
	}
	e.metrics.listEntries.Store(&map[string]int{"shared": s.listNames, "tenant_allow": allow, "tenant_deny": deny})
	e.metrics.reloadSecs.Store(math.Float64bits(s.buildSeconds))
	e.snap.Store(s)
}

// Snapshot returns the snapshot in use.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

// Collector returns the engine's Prometheus metrics.
func (e *Engine) Collector() prometheus.Collector { return e.metrics }

// Start opens the configured listeners and serves until Shutdown. It
// returns an error, with nothing left open, when a listener cannot bind.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("resolver: already started")
	}
	e.started = true
	if err := e.listen(ctx); err != nil {
		e.closeListeners()
		return err
	}
	for i := 0; i < e.cfg.PrefetchWorkers; i++ {
		e.workers.Add(1)
		go e.prefetchWorker()
	}
	for _, c := range e.udp {
		for i := 0; i < e.cfg.UDPReaders; i++ {
			e.readers.Add(1)
			if e.cfg.UDPBatch > 1 {
				if b, err := newUDPBatch(c, e.cfg.UDPBatch); err == nil {
					go e.serveUDPBatch(c, b)
					continue
				}
			}
			go e.serveUDP(c)
		}
	}
	return nil
}

func (e *Engine) listen(ctx context.Context) error {
	if err := e.listenPlain(ctx); err != nil {
		return err
	}
	var lc net.ListenConfig
	if e.cfg.DoTAddr != "" {
		l, err := lc.Listen(ctx, "tcp", e.cfg.DoTAddr)
		if err != nil {
			return fmt.Errorf("resolver: listen dot %s: %w", e.cfg.DoTAddr, err)
		}
		e.listeners = append(e.listeners, l)
		e.addrs[querylog.DoT] = l.Addr()
		e.readers.Add(1)
		go e.serveStream(tls.NewListener(l, e.cfg.TLS), querylog.DoT)
	}
	if e.cfg.DoHAddr != "" {
		l, err := lc.Listen(ctx, "tcp", e.cfg.DoHAddr)
		if err != nil {
			return fmt.Errorf("resolver: listen doh %s: %w", e.cfg.DoHAddr, err)
		}
		e.listeners = append(e.listeners, l)
		e.addrs[querylog.DoH] = l.Addr()
		srv, err := e.NewDoHServer(DoHServerConfig{TLS: e.cfg.TLS})
		if err != nil {
			return err
		}
		e.doh = srv
		e.readers.Add(1)
		go func() {
			defer e.readers.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				e.cfg.Logger.Error("resolver: doh listener stopped", "err", err)
			}
			// Shutdown drains the connections; the engine waits for them
			// as for its other listeners.
			srv.wg.Wait()
		}()
	}
	return nil
}

// listenPlain opens the UDP and TCP listeners. "host:0" for both picks one
// free port, since plain DNS clients expect UDP and TCP on the same port:
// TCP takes the port the kernel gave UDP, and when another program holds
// that TCP port both are opened again elsewhere (a few times at most).
func (e *Engine) listenPlain(ctx context.Context) error {
	shared := false
	if e.cfg.UDPAddr != "" && e.cfg.TCPAddr == e.cfg.UDPAddr {
		_, port, err := net.SplitHostPort(e.cfg.UDPAddr)
		shared = err == nil && port == "0"
	}
	var lc net.ListenConfig
	for attempt := 1; ; attempt++ {
		if e.cfg.UDPAddr != "" {
			conns, err := listenUDP(ctx, e.cfg.UDPAddr, e.cfg.UDPSockets)
			if err != nil {
				return fmt.Errorf("resolver: listen udp %s: %w", e.cfg.UDPAddr, err)
			}
			e.udp = conns
			e.addrs[querylog.UDP] = conns[0].LocalAddr()
		}
		tcpAddr := e.cfg.TCPAddr
		if shared {
			tcpAddr = e.udp[0].LocalAddr().String()
		}
		if tcpAddr == "" {
			return nil
		}
		l, err := lc.Listen(ctx, "tcp", tcpAddr)
		if err != nil {
			if shared && attempt < 20 && errors.Is(err, syscall.EADDRINUSE) {
				for _, c := range e.udp {
					_ = c.Close()
				}
				e.udp = nil
				continue
			}
			return fmt.Errorf("resolver: listen tcp %s: %w", tcpAddr, err)
		}
		e.listeners = append(e.listeners, l)
		e.addrs[querylog.TCP] = l.Addr()
		e.readers.Add(1)
		go e.serveStream(l, querylog.TCP)
		return nil
	}
}

// Addr returns the bound address of a transport's listener ("" if off),
// useful when the configuration asked for port 0.
func (e *Engine) Addr(t querylog.Transport) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a, ok := e.addrs[t]; ok {
		return a.String()
	}
	return ""
}

func (e *Engine) closeListeners() {
	for _, c := range e.udp {
		_ = c.Close()
	}
	for _, l := range e.listeners {
		_ = l.Close()
	}
}

// Shutdown stops accepting queries, lets the queries in flight finish
// until ctx is done, then stops everything. It returns ctx's error when
// draining did not finish in time.
func (e *Engine) Shutdown(ctx context.Context) error {
	if !e.closing.CompareAndSwap(false, true) {
		return errors.New("resolver: already shut down")
	}
	e.mu.Lock()
	if e.doh != nil {
		// Shutdown closes the DoH listener and lets its connections answer
		// what they have read; the listener goroutine waits for them.
		e.doh.closing.Store(true) // before its listener closes below
		go func() { _ = e.doh.shutdown(ctx) }()
	}
	for _, l := range e.listeners {
		_ = l.Close()
	}
	// Idle stream connections are closed; busy ones close after their
	// current answers (serveConn sees closing).
	for c := range e.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	for _, c := range e.udp {
		_ = c.SetReadDeadline(time.Now()) // readers stop; replies still go out
	}
	e.mu.Unlock()

	// Listener goroutines stop first (UDP readers on their deadline, TCP
	// connections after answering what they read), so that no query is
	// added to inflight once it is waited for.
	drained := make(chan struct{})
	go func() {
		e.readers.Wait()
		e.inflight.Wait()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("resolver: shutdown: %w", ctx.Err())
	}
	e.cancel()
	e.mu.Lock()
	for _, c := range e.udp {
		_ = c.Close()
	}
	for c := range e.conns {
		_ = c.Close()
	}
	e.mu.Unlock()
	e.readers.Wait()
	e.workers.Wait()
	return err
}
