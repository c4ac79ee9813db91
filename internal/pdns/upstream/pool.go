package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Strategy decides the order in which upstreams are tried.
type Strategy uint8

const (
	// Fastest tries healthy upstreams by smoothed round-trip time, fastest
	// first; an upstream not measured yet goes first so it gets measured,
	// and a small share of queries tries another healthy upstream first
	// (Options.ExploreRatio) so the ranking follows changes.
	Fastest Strategy = iota
	// Sequential tries healthy upstreams in configured order: the first is
	// the primary, the others are fallbacks.
	Sequential
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout       = 2 * time.Second
	DefaultTryTimeout    = 700 * time.Millisecond
	DefaultFailThreshold = 3
	DefaultProbeInterval = 2 * time.Second
	DefaultProbeTimeout  = time.Second
	DefaultIdleTimeout   = 10 * time.Second
	DefaultMaxConns      = 4
	DefaultExploreRatio  = 0.01
)

// MaxUpstreams bounds the upstreams of one Pool; a resolver needs a few,
// and the bound keeps per-query bookkeeping in fixed-size values.
const MaxUpstreams = 64

// minTry is the least time worth spending on a try; with less left, the
// pool reports failure instead of sending a query that cannot come back.
const minTry = 5 * time.Millisecond

// Options tune a Pool. The zero value gives the defaults above.
type Options struct {
	// Strategy orders the upstreams; the zero value is Fastest.
	Strategy Strategy
	// Timeout bounds a Resolve whose context has no deadline.
	Timeout time.Duration
	// TryTimeout bounds one try of one upstream, so that a dead upstream
	// not yet marked down cannot use up the caller's whole budget. The
	// last upstream in line gets all the time left instead.
	TryTimeout time.Duration
	// FailThreshold is the number of consecutive failures (timeouts,
	// network errors, failed probes, or SERVFAIL/REFUSED that another
	// upstream then answered) after which an upstream is marked down.
	FailThreshold int
	// ProbeInterval is how often the prober started by Start queries
	// upstreams that are down or have not answered anything for this long.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe.
	ProbeTimeout time.Duration
	// ProbeQuestion is what probes ask; the default ". NS IN" is answered
	// by every recursive resolver from its priming data.
	ProbeQuestion Question
	// IdleTimeout closes TCP, TLS and HTTPS connections unused this long.
	IdleTimeout time.Duration
	// MaxConns bounds the connections kept per TCP, TLS or HTTPS upstream.
	MaxConns int
	// ExploreRatio is the share of queries that first try a random other
	// healthy upstream under Fastest; 0 means DefaultExploreRatio and a
	// negative value turns exploration off.
	ExploreRatio float64
	// TLSConfig is the base client configuration for TLS and HTTPS
	// upstreams, e.g. with RootCAs; nil means the system roots. Each
	// upstream gets a clone with its own ServerName; TLS 1.2 is the minimum.
	TLSConfig *tls.Config
	// Logger receives health changes (keys: upstream, failures, result,
	// error); nil means slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.Strategy != Fastest && o.Strategy != Sequential {
		return o, fmt.Errorf("upstream: unknown strategy %d", o.Strategy)
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"timeout", &o.Timeout, DefaultTimeout},
		{"try timeout", &o.TryTimeout, DefaultTryTimeout},
		{"probe interval", &o.ProbeInterval, DefaultProbeInterval},
		{"probe timeout", &o.ProbeTimeout, DefaultProbeTimeout},
		{"idle timeout", &o.IdleTimeout, DefaultIdleTimeout},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return o, fmt.Errorf("upstream: negative %s %v", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.FailThreshold < 0 || o.MaxConns < 0 {
		return o, errors.New("upstream: negative fail threshold or connection limit")
	}
	if o.FailThreshold == 0 {
		o.FailThreshold = DefaultFailThreshold
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	switch {
	case o.ExploreRatio == 0:
		o.ExploreRatio = DefaultExploreRatio
	case o.ExploreRatio < 0:
		o.ExploreRatio = 0
	case o.ExploreRatio > 1:
		return o, fmt.Errorf("upstream: explore ratio %v above 1", o.ExploreRatio)
	}
	if o.ProbeQuestion == (Question{}) {
		o.ProbeQuestion = Question{Name: ".", Type: dns.TypeNS, Class: dns.ClassINET}
	}
	if err := new(query).build(o.ProbeQuestion, 0); err != nil {
		return o, fmt.Errorf("upstream: probe question: %w", err)
	}
	if o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		o.TLSConfig = o.TLSConfig.Clone()
	}
	if o.TLSConfig.MinVersion < tls.VersionTLS12 {
		o.TLSConfig.MinVersion = tls.VersionTLS12
	}
	if o.TLSConfig.ClientSessionCache == nil {
		// Resumption makes reconnecting after an idle close cheap.
		o.TLSConfig.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Pool forwards questions to a fixed set of upstreams, verifying answers,
// tracking health and failing over. It implements Resolver and
// prometheus.Collector. Create it with New, call Start to run the health
// prober and Close when done; Resolve and ResolveFrom are safe for
// concurrent use.
type Pool struct {
	opts    Options
	ups     []*upstream
	ids     *idSource
	metrics *metrics
	log     *slog.Logger
	closed  atomic.Bool

	mu         sync.Mutex // guards started and stopProber
	started    bool
	stopProber context.CancelFunc
	wg         sync.WaitGroup // the prober
}

// upstream is one configured server with its health and transports.
type upstream struct {
	name    string
	ex      exchanger
	tcp     exchanger // UDP upstreams: for truncated answers
	latency prometheus.Observer
	results [numResults]prometheus.Counter

	fails  atomic.Int32 // consecutive failures
	down   atomic.Bool
	rtt    atomic.Int64 // smoothed RTT in nanoseconds; 0 until measured
	lastOK atomic.Int64 // unix nanoseconds of the last good answer
}

// New creates a Pool for specs (at least one, at most MaxUpstreams, no
// duplicates). It does no network I/O; connections open on first use.
func New(specs []Spec, opts Options) (*Pool, error) {
	if len(specs) == 0 {
		return nil, errors.New("upstream: no upstreams")
	}
	if len(specs) > MaxUpstreams {
		return nil, fmt.Errorf("upstream: %d upstreams, at most %d", len(specs), MaxUpstreams)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{opts: opts, ids: newIDSource(), metrics: newMetrics(), log: opts.Logger}
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		name := s.String()
		if name == "" {
			return nil, errors.New("upstream: invalid spec (use ParseSpec)")
		}
		if seen[name] {
			return nil, fmt.Errorf("upstream: %s configured twice", name)
		}
		seen[name] = true
		u := &upstream{name: name}
		p.metrics.bind(u)
		if err := p.connect(u, s); err != nil {
			return nil, err
		}
		p.ups = append(p.ups, u)
	}
	return p, nil
}

// connect sets up u's transports for spec s.
func (p *Pool) connect(u *upstream, s Spec) error {
	forged := u.results[resultForged]
	stream := func(tlsCfg *tls.Config) *streamExchanger {
		addr := s.Addr.String()
		dial := func(ctx context.Context) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}
		if tlsCfg != nil {
			d := &tls.Dialer{Config: tlsCfg}
			dial = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
		}
		return &streamExchanger{dial: dial, idle: p.opts.IdleTimeout, maxConns: p.opts.MaxConns, ids: p.ids, forged: forged}
	}
	switch s.Transport {
	case UDP:
		if !s.Addr.IsValid() {
			return fmt.Errorf("upstream: %s: no address", u.name)
		}
		u.ex = &udpExchanger{addr: net.UDPAddrFromAddrPort(s.Addr), retransmit: defaultRetransmit, forged: forged}
		u.tcp = stream(nil)
	case TCP:
		u.ex = stream(nil)
	case TLS:
		cfg := p.opts.TLSConfig.Clone()
		cfg.ServerName = s.ServerName
		u.ex = stream(cfg)
	case HTTPS:
		u.ex = newDoH(s, p.opts.TLSConfig, p.opts.IdleTimeout, p.opts.MaxConns, forged)
	default:
		return fmt.Errorf("upstream: %s: unknown transport", u.name)
	}
	return nil
}

// Upstreams returns the canonical names of the configured upstreams, in
// configured order.
func (p *Pool) Upstreams() []string {
	names := make([]string, len(p.ups))
	for i, u := range p.ups {
		names[i] = u.name
	}
	return names
}

// Healthy reports whether the named upstream is in service (not marked
// down); false for an unknown name.
func (p *Pool) Healthy(name string) bool {
	for _, u := range p.ups {
		if u.name == name {
			return !u.down.Load()
		}
	}
	return false
}

// Resolve implements Resolver.
func (p *Pool) Resolve(ctx context.Context, q Question) (*dns.Msg, error) {
	m, _, err := p.ResolveFrom(ctx, q)
	return m, err
}

// ResolveFrom is Resolve that also says which upstream answered and how
// fast, for the query log. Healthy upstreams are tried in strategy order
// (all of them, in that order, when every one is down), each with a fresh
// query and ID, until one answers other than SERVFAIL/REFUSED or ctx's
// deadline (Options.Timeout without one) is near. Each try but the last
// gets at most Options.TryTimeout.
//
// Errors: ErrInvalidQuestion for a name that cannot be sent; ErrClosed
// after Close; ErrServerFailure with the last SERVFAIL/REFUSED response
// and its Info when no upstream did better; otherwise ErrAllUnavailable,
// also wrapping ctx's error when the caller cancelled.
func (p *Pool) ResolveFrom(ctx context.Context, q Question) (*dns.Msg, Info, error) {
	if p.closed.Load() {
		return nil, Info{}, ErrClosed
	}
	qb := getQuery()
	defer putQuery(qb)
	if err := qb.build(q, 0); err != nil {
		return nil, Info{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opts.Timeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()

	var buf [16]*upstream
	order := p.order(buf[:0])
	var (
		attempts  int
		lastErr   error
		failMsg   *dns.Msg
		failInfo  Info
		servfails uint64 // bit i: order[i] said SERVFAIL
		refusals  uint64 // bit i: order[i] said REFUSED
	)
	for i, u := range order {
		remaining := time.Until(deadline)
		if remaining < minTry || ctx.Err() != nil {
			break
		}
		budget := remaining
		if i < len(order)-1 {
			budget = min(budget, p.opts.TryTimeout)
		}
		attempts++
		qb.setID(p.ids.next())
		m, rtt, res, err := p.try(ctx, u, qb, budget)
		switch res {
		case resultOK:
			// Upstreams that failed a question another one answered are
			// failing at something that works: that counts against them.
			// When all fail it, the fault is likely the domain's.
			for j := range i {
				switch {
				case servfails&(1<<j) != 0:
					p.failed(order[j], resultServfail, nil)
				case refusals&(1<<j) != 0:
					p.failed(order[j], resultRefused, nil)
				}
			}
			return m, Info{Upstream: u.name, RTT: rtt, Attempts: attempts}, nil
		case resultServfail, resultRefused:
			if res == resultServfail {
				servfails |= 1 << i
			} else {
				refusals |= 1 << i
			}
			failMsg, failInfo = m, Info{Upstream: u.name, RTT: rtt}
		default:
			lastErr = err
		}
	}
	if failMsg != nil {
		failInfo.Attempts = attempts
		return failMsg, failInfo, fmt.Errorf("%w: %s from %s", ErrServerFailure, dns.RcodeToString[failMsg.Rcode], failInfo.Upstream)
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	if lastErr == nil {
		lastErr = context.DeadlineExceeded
	}
	if ctx.Err() != nil && !errors.Is(lastErr, ctx.Err()) {
		return nil, Info{Attempts: attempts}, fmt.Errorf("%w: %w (last: %v)", ErrAllUnavailable, ctx.Err(), lastErr)
	}
	return nil, Info{Attempts: attempts}, fmt.Errorf("%w: %w", ErrAllUnavailable, lastErr)
}

// order returns the upstreams to try, appended to buf: the healthy ones,
// or all when none is, in strategy order.
func (p *Pool) order(buf []*upstream) []*upstream {
	for _, u := range p.ups {
		if !u.down.Load() {
			buf = append(buf, u)
		}
	}
	if len(buf) == 0 {
		buf = append(buf, p.ups...) // better to try than to fail outright
	}
	if p.opts.Strategy != Fastest || len(buf) < 2 {
		return buf
	}
	// Insertion sort: a handful of items, stable (ties keep configured
	// order) and no allocation. Unmeasured (0) sorts first.
	for i := 1; i < len(buf); i++ {
		u := buf[i]
		r := u.rtt.Load()
		j := i
		for ; j > 0 && buf[j-1].rtt.Load() > r; j-- {
			buf[j] = buf[j-1]
		}
		buf[j] = u
	}
	// Exploration only spreads load to measure other upstreams; the query
	// IDs that matter for spoofing come from crypto/rand.
	explore := rand.Float64() // #nosec G404 -- load spreading, not security
	if p.opts.ExploreRatio > 0 && explore < p.opts.ExploreRatio {
		k := 1 + rand.IntN(len(buf)-1) // #nosec G404 -- load spreading, not security
		u := buf[k]
		copy(buf[1:k+1], buf[:k])
		buf[0] = u
	}
	return buf
}

// try sends qb to u within budget and records the outcome in metrics and
// health. SERVFAIL and REFUSED are left to the caller to judge.
func (p *Pool) try(ctx context.Context, u *upstream, qb *query, budget time.Duration) (*dns.Msg, time.Duration, result, error) {
	tctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	start := time.Now()
	m, err := u.exchange(tctx, qb, p.ids)
	rtt := time.Since(start)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, rtt, resultError, err // the caller left: not the upstream's fault
		}
		res := classify(err)
		u.results[res].Inc()
		if res == resultTimeout {
			u.observeRTT(budget) // rank a silent upstream as slow as it was allowed to be
		}
		p.failed(u, res, err)
		return nil, rtt, res, err
	}
	u.latency.Observe(rtt.Seconds())
	switch m.Rcode {
	case dns.RcodeServerFailure:
		u.results[resultServfail].Inc()
		return m, rtt, resultServfail, nil
	case dns.RcodeRefused:
		u.results[resultRefused].Inc()
		return m, rtt, resultRefused, nil
	}
	u.results[resultOK].Inc()
	p.succeeded(u, rtt)
	return m, rtt, resultOK, nil
}

// exchange sends qb to u, retrying a truncated UDP answer over TCP with a
// new ID.
func (u *upstream) exchange(ctx context.Context, qb *query, ids *idSource) (*dns.Msg, error) {
	m, err := u.ex.exchange(ctx, qb)
	if err != nil || !m.Truncated || u.tcp == nil {
		return m, err
	}
	u.results[resultTruncatedRetry].Inc()
	qb.setID(ids.next())
	return u.tcp.exchange(ctx, qb)
}

func classify(err error) result {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return resultTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return resultTimeout
	}
	return resultError
}
