package resolver

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

const (
	numTransports = 5
	numRcodes     = 24 // rcodes above 23 are counted as 23
	numActions    = int(querylog.NumActions)
	numShards     = 16
)

// Cache results counted in qsmo_dns_cache_total.
const (
	cacheHit = iota
	cacheMiss
	cacheStale
	cachePrefetch
	numCacheResults
)

var cacheResultNames = [numCacheResults]string{"hit", "miss", "stale", "prefetch"}

// counters is one shard of the hot-path counters; each goroutine adds to
// one shard with uncontended atomics and a scrape sums the shards.
type counters struct {
	queries [numTransports][numRcodes][numActions]atomic.Uint64
	cache   [numCacheResults]atomic.Uint64
	tenantQ []atomic.Uint64
	tenantB []atomic.Uint64
	_       [64]byte
}

// metrics holds the sharded counters and the bounded tenant label table.
type metrics struct {
	shards [numShards]counters

	mu        sync.Mutex
	tenantIdx map[string]int
	tenantIDs []string // slot -> label; the last slot is "other"
	cap       int

	listEntries atomic.Pointer[map[string]int]
	reloadSecs  atomic.Uint64 // float64 bits
	dropped     func() uint64

	descQueries, descCache, descEntries, descReload, descDropped, descTenantQ, descTenantB *prometheus.Desc
}

func newMetrics(tenantCap int, dropped func() uint64) *metrics {
	m := &metrics{tenantIdx: make(map[string]int), cap: tenantCap, dropped: dropped}
	for i := range m.shards {
		m.shards[i].tenantQ = make([]atomic.Uint64, tenantCap+1)
		m.shards[i].tenantB = make([]atomic.Uint64, tenantCap+1)
	}
	m.tenantIDs = make([]string, tenantCap+1)
	m.tenantIDs[tenantCap] = "other"
	m.descQueries = prometheus.NewDesc("qsmo_dns_queries_total", "DNS queries answered, by transport, response code and action.", []string{"transport", "rcode", "action"}, nil)
	m.descCache = prometheus.NewDesc("qsmo_dns_cache_total", "Cache lookups by result, and prefetches.", []string{"result"}, nil)
	m.descEntries = prometheus.NewDesc("qsmo_dns_list_entries", "Names in the policy lists of the current snapshot.", []string{"list"}, nil)
	m.descReload = prometheus.NewDesc("qsmo_dns_list_reload_seconds", "Time taken to load the lists and build the current snapshot.", nil, nil)
	m.descDropped = prometheus.NewDesc("qsmo_dns_querylog_dropped_total", "Query log records dropped because the queue was full.", nil, nil)
	m.descTenantQ = prometheus.NewDesc("qsmo_dns_tenant_queries_total", "Queries per tenant (the first tenants up to a cap; the rest as \"other\").", []string{"tenant"}, nil)
	m.descTenantB = prometheus.NewDesc("qsmo_dns_tenant_blocks_total", "Blocked queries per tenant (same labels as qsmo_dns_tenant_queries_total).", []string{"tenant"}, nil)
	return m
}

// slot returns the counter slot of a tenant, giving new tenants a slot of
// their own until the cap is reached. Called when a snapshot is installed.
func (m *metrics) slot(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i, ok := m.tenantIdx[id]; ok {
		return i
	}
	if len(m.tenantIdx) >= m.cap {
		return m.cap
	}
	i := len(m.tenantIdx)
	m.tenantIdx[id] = i
	m.tenantIDs[i] = id
	return i
}

// shard picks a shard for a goroutine without a fixed one.
func (m *metrics) shard() *counters {
	return &m.shards[rand.Uint32()%numShards] // #nosec G404 -- contention spreading, not security
}

func (c *counters) count(tr querylog.Transport, rcode int, a querylog.Action) {
	if rcode >= numRcodes || rcode < 0 {
		rcode = numRcodes - 1
	}
	c.queries[tr%numTransports][rcode][a%querylog.NumActions].Add(1)
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.descQueries, m.descCache, m.descEntries, m.descReload, m.descDropped, m.descTenantQ, m.descTenantB} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it sums the shards.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for tr := 0; tr < numTransports; tr++ {
		for rc := 0; rc < numRcodes; rc++ {
			for a := 0; a < numActions; a++ {
				var n uint64
				for i := range m.shards {
					n += m.shards[i].queries[tr][rc][a].Load()
				}
				if n == 0 {
					continue
				}
				rcName, ok := dns.RcodeToString[rc]
				if !ok {
					rcName = strconv.Itoa(rc)
				}
				ch <- prometheus.MustNewConstMetric(m.descQueries, prometheus.CounterValue, float64(n),
					querylog.Transport(tr).String(), rcName, querylog.Action(a).String())
			}
		}
	}
	for r := 0; r < numCacheResults; r++ {
		var n uint64
		for i := range m.shards {
			n += m.shards[i].cache[r].Load()
		}
		ch <- prometheus.MustNewConstMetric(m.descCache, prometheus.CounterValue, float64(n), cacheResultNames[r])
	}
	if p := m.listEntries.Load(); p != nil {
		for name, n := range *p {
			ch <- prometheus.MustNewConstMetric(m.descEntries, prometheus.GaugeValue, float64(n), name)
		}
	}
	ch <- prometheus.MustNewConstMetric(m.descReload, prometheus.GaugeValue, math.Float64frombits(m.reloadSecs.Load()))
	if m.dropped != nil {
		ch <- prometheus.MustNewConstMetric(m.descDropped, prometheus.CounterValue, float64(m.dropped()))
	}
	m.mu.Lock()
	ids := append([]string(nil), m.tenantIDs...)
	m.mu.Unlock()
	for slot, id := range ids {
		if id == "" {
			continue
		}
		var q, b uint64
		for i := range m.shards {
			q += m.shards[i].tenantQ[slot].Load()
			b += m.shards[i].tenantB[slot].Load()
		}
		ch <- prometheus.MustNewConstMetric(m.descTenantQ, prometheus.CounterValue, float64(q), id)
		ch <- prometheus.MustNewConstMetric(m.descTenantB, prometheus.CounterValue, float64(b), id)
	}
}
