package pdns

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/pdns/blocklist"
	"github.com/qsmo/qsmo/internal/pdns/feed"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/resolver"
	"github.com/qsmo/qsmo/internal/pdns/upstream"
)

// DefaultPollInterval is how often a node checks whether the policy
// version moved: the longest a change made on another process (another
// portal replica, the marketplace's provisioning, the command line) takes
// to reach this node's resolver.
const DefaultPollInterval = 2 * time.Second

// SuspectThreshold is how many malware or command-and-control lookups a
// device makes within an hour before its agency is told it may be infected.
const SuspectThreshold = 5

// heartbeatEvery is how often a node reports itself in dns_nodes.
const heartbeatEvery = 30 * time.Second

// NodeConfig configures a resolver node.
type NodeConfig struct {
	DB  *db.DB
	Log *slog.Logger
	// DataDir holds the query log (dns-querylog/), the feed cache
	// (dns-feeds/), the node's identity (dns-node-id) and file feeds
	// (feeds/).
	DataDir string
	// DNSAddr is the UDP and TCP listen address; a port of 0 picks a free
	// one, the same for both. DoTAddr is the DNS-over-TLS address (empty:
	// off), served with TLS.
	DNSAddr, DoTAddr string
	TLS              *tls.Config
	// Upstreams are the comma-separated upstream resolvers (host:port,
	// tls://host:port, https://host/dns-query); empty takes the
	// nameservers of /etc/resolv.conf.
	Upstreams string
	// UpstreamTLS is the client TLS configuration for DoT and DoH
	// upstreams (nil: the system roots); tests trust their own server.
	UpstreamTLS *tls.Config
	// QueryLog turns the query log on; Retention is how long it is kept.
	QueryLog  bool
	Retention time.Duration
	// Demo gives loopback clients to the demo agency (see BuildTenants).
	Demo bool
	// Hostname and Version describe the node in dns_nodes.
	Hostname, Version string
	// DoHURL is where the node answers DNS over HTTPS (the portal's
	// /dns-query, or its own listener's), for the how-to-connect page;
	// empty when it does not.
	DoHURL string
	// PollInterval is DefaultPollInterval when zero.
	PollInterval time.Duration
	// Registry receives the engine's, the upstream pool's and the node's
	// metrics (nil: none).
	Registry prometheus.Registerer
	// Engine tunes the resolver; its listen addresses, TLS, upstream,
	// query log and logger are set from the fields above.
	Engine resolver.Config
}

// Node is one resolver: the engine with its listeners, the upstream pool,
// the query log, the feed scheduler, and a loop that rebuilds the engine's
// snapshot from the database whenever the policy or a feed changes. The
// loop goroutine owns the policy state; other goroutines talk to it through
// channels.
type Node struct {
	cfg    NodeConfig
	log    *slog.Logger
	id     string
	engine *resolver.Engine
	pool   *upstream.Pool
	queue  *querylog.Queue
	writer *querylog.Writer
	store  *querylog.Store

	suspect atomic.Pointer[func(querylog.SuspectEvent)]

	trigger chan struct{} // policy changed here; capacity 1, merged
	reload  chan struct{} // rebuild every list (SIGHUP); capacity 1, merged
	feedSig chan struct{} // feed results pending; capacity 1, merged

	feedMu  sync.Mutex
	pending map[string]*feed.Result // newest accepted version per feed, not applied yet

	stop    context.CancelFunc
	done    chan struct{}
	started atomic.Bool
	stopped atomic.Bool

	// Loop state: only the loop goroutine (and Start, before it runs)
	// touches these.
	st          State
	list        *blocklist.List
	listSig     string
	listTime    time.Duration
	feedNums    map[string]uint16
	nextFeedNum uint16
	versions    map[string]cachedFeed // last good version per feed, entries dropped
	inList      map[string]bool       // feeds whose entries the current list holds
	bigBuild    bool                  // a large list was built: release memory when done
	sched       *feed.Scheduler
	schedSig    string
	schedCtx    context.Context
	refreshSeen map[string]int64
	written     map[string]FeedStatus // feed status last written to the database
	lastBeat    time.Time
	beatVersion int64 // policy version and list size last reported
	beatNames   int
	startedAt   time.Time

	metrics *nodeMetrics
}

// OpenNode prepares a node: the upstream pool, the query log (when on) and
// the engine, with nothing listening yet.
func OpenNode(cfg NodeConfig) (*Node, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.DNSAddr == "" {
		return nil, errors.New("pdns: node: no DNS address")
	}
	if cfg.DoTAddr != "" && cfg.TLS == nil {
		return nil, errors.New("pdns: node: DNS over TLS needs a certificate")
	}
	n := &Node{cfg: cfg, log: cfg.Log, trigger: make(chan struct{}, 1), reload: make(chan struct{}, 1), feedSig: make(chan struct{}, 1),
		pending: map[string]*feed.Result{}, done: make(chan struct{}), feedNums: map[string]uint16{}, nextFeedNum: firstFeedNum,
		versions: map[string]cachedFeed{}, inList: map[string]bool{}, refreshSeen: map[string]int64{}, written: map[string]FeedStatus{}}
	var err error
	if n.id, err = nodeID(cfg.DataDir); err != nil {
		return nil, err
	}
	specs, err := upstreamSpecs(cfg.Upstreams, cfg.DNSAddr)
	if err != nil {
		return nil, err
	}
	if n.pool, err = upstream.New(specs, upstream.Options{Logger: cfg.Log, TLSConfig: cfg.UpstreamTLS}); err != nil {
		return nil, fmt.Errorf("pdns: upstreams: %w", err)
	}
	if cfg.QueryLog {
		retention := cfg.Retention
		if retention <= 0 {
			retention = 30 * 24 * time.Hour
		}
		n.store, err = querylog.OpenStore(filepath.Join(cfg.DataDir, "dns-querylog"), querylog.StoreOptions{
			Retention: retention, Logger: cfg.Log,
			Suspect: querylog.SuspectOptions{Threshold: SuspectThreshold, Notify: n.onSuspect},
		})
		if err != nil {
			n.pool.Close()
			return nil, fmt.Errorf("pdns: open query log: %w", err)
		}
		n.queue = querylog.NewQueue(0)
		n.writer = querylog.NewWriter(n.queue, n.store, querylog.WriterOptions{Logger: cfg.Log})
	}
	ec := cfg.Engine
	ec.UDPAddr, ec.TCPAddr, ec.DoTAddr, ec.TLS = cfg.DNSAddr, cfg.DNSAddr, cfg.DoTAddr, cfg.TLS
	ec.Upstream, ec.QueryLog, ec.Logger = n.pool, n.queue, cfg.Log
	if n.engine, err = resolver.New(ec); err != nil {
		n.closeParts()
		return nil, err
	}
	n.metrics = newNodeMetrics(n)
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{n.engine.Collector(), n.pool, n.metrics} {
			if err := cfg.Registry.Register(c); err != nil {
				n.closeParts()
				return nil, fmt.Errorf("pdns: register metrics: %w", err)
			}
		}
	}
	return n, nil
}

// nodeID returns the node's identity, kept in the data directory so that a
// restart reports as the same node.
func nodeID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "dns-node-id")
	if b, err := os.ReadFile(path); err == nil && id.Valid("dnn", strings.TrimSpace(string(b))) {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("pdns: node id: %w", err)
	}
	v := id.New("dnn")
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("pdns: node id: %w", err)
	}
	return v, nil
}

// upstreamSpecs parses the configured upstreams, or takes the system's
// nameservers when none are configured, leaving out the node's own address
// (forwarding to itself would loop).
func upstreamSpecs(list, self string) ([]upstream.Spec, error) {
	if strings.TrimSpace(list) != "" {
		specs, err := upstream.ParseSpecs(list)
		if err != nil {
			return nil, fmt.Errorf("pdns: --dns-upstream: %w", err)
		}
		return specs, nil
	}
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil, errors.New("pdns: no upstream resolvers: set --dns-upstream (reading /etc/resolv.conf failed)")
	}
	var specs []upstream.Spec
	for _, s := range cc.Servers {
		addr := net.JoinHostPort(s, cc.Port)
		if addr == self {
			continue
		}
		if sp, err := upstream.ParseSpec(addr); err == nil {
			specs = append(specs, sp)
		}
	}
	if len(specs) == 0 {
		return nil, errors.New("pdns: no upstream resolvers: set --dns-upstream (/etc/resolv.conf names none usable)")
	}
	return specs, nil
}

// ID returns the node's identity.
func (n *Node) ID() string { return n.id }

// Store returns the node's query log, or nil when the log is off.
func (n *Node) Store() *querylog.Store { return n.store }

// DoHHandler returns the engine's DNS-over-HTTPS handler, to be mounted on
// an HTTP listener at /dns-query and /dns-query/{token}.
func (n *Node) DoHHandler() http.Handler { return n.engine.DoHHandler() }

// Engine returns the resolver engine.
func (n *Node) Engine() *resolver.Engine { return n.engine }

// Addr returns the bound address of a transport ("" when off or not
// started).
func (n *Node) Addr(t querylog.Transport) string { return n.engine.Addr(t) }

// OnSuspect sets the function told about suspected infected clients; it
// runs on the query log's goroutine.
func (n *Node) OnSuspect(f func(querylog.SuspectEvent)) { n.suspect.Store(&f) }

func (n *Node) onSuspect(ev querylog.SuspectEvent) {
	if f := n.suspect.Load(); f != nil {
		(*f)(ev)
	}
}

// Trigger asks the node to rebuild its snapshot from the database now
// (the policy changed in this process). It never blocks.
func (n *Node) Trigger() {
	select {
	case n.trigger <- struct{}{}:
	default:
	}
}

// ReloadAll asks the node to rebuild every list and the snapshot now, as
// on SIGHUP. It never blocks.
func (n *Node) ReloadAll() {
	select {
	case n.reload <- struct{}{}:
	default:
	}
}

// Start loads the policy and the cached feeds, installs the first
// snapshot, opens the listeners, and starts the feed scheduler and the
// loop. It returns an error, with nothing left running, when the policy
// cannot be read or a listener cannot bind.
func (n *Node) Start(ctx context.Context) error {
	if !n.started.CompareAndSwap(false, true) {
		return errors.New("pdns: node already started")
	}
	n.startedAt = time.Now().UTC()
	st, err := LoadState(ctx, n.cfg.DB)
	if err != nil {
		return err
	}
	n.st = st
	if err := n.rebuild(n.loadKeptFeeds(), true); err != nil {
		return err
	}
	n.releaseMemory()
	loopCtx, cancel := context.WithCancel(context.Background())
	if n.writer != nil {
		if err := n.writer.Start(context.Background()); err != nil {
			cancel()
			return err
		}
	}
	if err := n.engine.Start(ctx); err != nil {
		cancel()
		return err
	}
	n.pool.Start(loopCtx)
	n.stop = cancel
	n.schedCtx = loopCtx
	n.syncScheduler()
	n.heartbeat(loopCtx)
	n.log.Info("dns resolver listening", "udp", n.engine.Addr(querylog.UDP), "tcp", n.engine.Addr(querylog.TCP),
		"dot", n.engine.Addr(querylog.DoT), "policy_version", n.st.Version, "tenants", len(n.st.Policies), "list_names", n.list.Len())
	// From here on the loop owns the policy state.
	go n.run(loopCtx)
	return nil
}

// Shutdown stops the node in order: the listeners (queries in flight
// finish), the loop and the feed scheduler, then the query log writer
// (everything queued is written), the query log store (sealed) and the
// upstream pool. It is safe to call on a node that never started.
func (n *Node) Shutdown(ctx context.Context) error {
	if !n.stopped.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	if n.started.Load() {
		if err := n.engine.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		if n.stop != nil {
			n.stop()
			<-n.done
		}
		if n.sched != nil {
			n.sched.Stop()
		}
	}
	errs = append(errs, n.closeParts())
	return errors.Join(errs...)
}

// closeParts closes the writer, the store and the pool.
func (n *Node) closeParts() error {
	var errs []error
	if n.writer != nil {
		if err := n.writer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("pdns: query log writer: %w", err))
		}
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("pdns: query log store: %w", err))
		}
	}
	if n.pool != nil {
		n.pool.Close()
	}
	return errors.Join(errs...)
}

// run is the loop: it owns the policy state and rebuilds the snapshot on a
// trigger, a feed update, a reload request, or when the policy version in
// the database moved.
func (n *Node) run(ctx context.Context) {
	defer close(n.done)
	tick := time.NewTicker(n.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.trigger:
			n.refreshPolicy(ctx, false)
			n.releaseMemory()
		case <-n.reload:
			n.refreshPolicy(ctx, true)
			n.releaseMemory()
		case <-n.feedSig:
			n.applyFeeds()
			n.releaseMemory()
		case <-tick.C:
			if v, err := PolicyVersion(ctx, n.cfg.DB); err != nil {
				if ctx.Err() == nil {
					n.log.Warn("dns: read policy version", "err", err)
				}
			} else if v != n.st.Version {
				n.refreshPolicy(ctx, false)
			}
			n.report(ctx)
		}
	}
}

// refreshPolicy reloads the policy from the database and rebuilds what
// changed; all rebuilds every list.
func (n *Node) refreshPolicy(ctx context.Context, all bool) {
	st, err := LoadState(ctx, n.cfg.DB)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Error("dns: load policy; keeping the current one", "err", err)
		}
		return
	}
	n.st = st
	replace := n.loadKeptFeeds()
	n.syncScheduler()
	if err := n.rebuild(replace, all); err != nil {
		n.log.Error("dns: rebuild snapshot; keeping the current one", "err", err)
	}
	n.report(ctx)
}

// onFeedUpdate receives an accepted feed version from the scheduler. It
// only files the result and wakes the loop, so other feeds never wait.
func (n *Node) onFeedUpdate(res feed.Result) {
	n.feedMu.Lock()
	n.pending[res.Feed] = &res
	n.feedMu.Unlock()
	select {
	case n.feedSig <- struct{}{}:
	default:
	}
}

// applyFeeds swaps the pending feed versions into the list, installs a
// new snapshot, then keeps the versions in the feed cache (serving first:
// writing a million entries takes a while).
func (n *Node) applyFeeds() {
	n.feedMu.Lock()
	pending := n.pending
	n.pending = map[string]*feed.Result{}
	n.feedMu.Unlock()
	replace := map[string][]feed.Entry{}
	var keep []cachedFeed
	for fid, res := range pending {
		f, ok := n.feedByID(fid)
		if !ok || !f.Enabled {
			continue // removed or turned off since the fetch began
		}
		keep = append(keep, cachedFeed{FeedID: fid, Source: f.Source, Format: f.Format, Version: res.Version, Entries: res.Entries})
		replace[fid] = res.Entries
	}
	if len(replace) == 0 {
		return
	}
	if err := n.rebuild(replace, false); err != nil {
		n.log.Error("dns: rebuild snapshot after feed update; keeping the current one", "err", err)
	}
	for _, c := range keep {
		if err := writeFeedCache(n.cacheDir(), c); err != nil {
			n.log.Warn("dns: keep feed version on disk", "feed_id", c.FeedID, "err", err)
		}
		c.Entries = nil
		n.versions[c.FeedID] = c
	}
}

func (n *Node) feedByID(fid string) (Feed, bool) {
	for _, f := range n.st.Feeds {
		if f.ID == fid {
			return f, true
		}
	}
	return Feed{}, false
}

func (n *Node) cacheDir() string { return filepath.Join(n.cfg.DataDir, "dns-feeds") }

// feedsDir is where file feeds live.
func (n *Node) feedsDir() string { return filepath.Join(n.cfg.DataDir, "feeds") }

// loadKeptFeeds reads the kept version of every enabled feed whose entries
// the list does not hold (at start, or a feed turned on again), so that the
// next snapshot blocks them before any fetch. A feed without a usable kept
// version loses its version record: the scheduler then fetches it whole.
func (n *Node) loadKeptFeeds() map[string][]feed.Entry {
	replace := map[string][]feed.Entry{}
	for _, f := range n.st.Feeds {
		if !f.Enabled || n.inList[f.ID] {
			continue
		}
		c, err := readFeedCache(feedCachePath(n.cacheDir(), f.ID))
		if err != nil || c.Source != f.Source || c.Format != f.Format {
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				n.log.Warn("dns: kept feed version unusable; fetching the feed again", "feed", f.Name, "err", err)
			}
			delete(n.versions, f.ID)
			continue
		}
		replace[f.ID] = c.Entries
		c.Entries = nil
		n.versions[f.ID] = c
	}
	return replace
}
