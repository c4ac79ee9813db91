package resolver

import (
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"github.com/qsmo/qsmo/internal/pdns/blocklist"
	"github.com/qsmo/qsmo/internal/pdns/cache"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/wire"
)

// request is one query as a transport hands it to the query path.
type request struct {
	pkt      []byte
	src      netip.AddrPort
	tr       querylog.Transport
	token    string // DoH path token, when hasToken
	hasToken bool
	wait     bool // may wait for an upstream (off the listener goroutine)
	failFast bool // too many queries wait already: no new upstream query
	limit    bool // apply the per-source rate limit
}

// worker holds the scratch space of one goroutine answering queries; the
// query path writes only here, so a cache hit or a block allocates nothing.
type worker struct {
	e   *Engine
	q   wire.Query
	bq  blocklist.Query
	key []byte
	out []byte
	rec querylog.Record
	c   *counters
	// ttl is the smallest TTL of the last answer (DoH Cache-Control).
	ttl uint32
	// in holds a DoH GET query once decoded (allocated on first use).
	in []byte
}

// unsafeBytes views s as a byte slice, for functions that only read it.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func newWorker(e *Engine, shard int) *worker {
	return &worker{
		e:   e,
		key: make([]byte, 0, wire.MaxNameLen+8),
		out: make([]byte, 0, 65535),
		c:   &e.metrics.shards[shard%numShards],
	}
}

var workerPool sync.Pool

// getWorker returns a pooled worker for a short-lived goroutine.
func (e *Engine) getWorker() *worker {
	if w, ok := workerPool.Get().(*worker); ok && w.e == e {
		w.c = e.metrics.shard()
		return w
	}
	return newWorker(e, int(randShard()))
}

func putWorker(w *worker) { workerPool.Put(w) }

// outcome describes how a query was answered, for metrics and the log.
type outcome struct {
	tenant   *tenant
	rcode    int
	action   querylog.Action
	cache    querylog.CacheStatus
	v        verdict
	upstream string
}

// answer runs the query path for r and returns the reply (nil: send
// nothing). Without r.wait, a query that needs an upstream returns
// miss=true and nothing else happens (no log, no count): the caller runs
// it again with wait set on another goroutine.
func (w *worker) answer(r *request) (resp []byte, miss bool) {
	e := w.e
	start := e.cfg.Now()
	now := start.UnixNano()
	q := &w.q
	w.ttl = 0
	err := wire.Parse(r.pkt, q)
	if err == wire.ErrDrop {
		return nil, false
	}
	if err != nil {
		rc := wire.RcodeFormErr
		if err == wire.ErrNotImp {
			rc = wire.RcodeNotImp
		}
		w.out = wire.AppendHeader(w.out[:0], q.ID, wire.ReplyFlags(q.Flags, rc), 0, 0, 0, 0)
		w.finishLog(r, start, &outcome{rcode: rc, action: querylog.Failed, cache: querylog.None}, nil)
		return w.out, false
	}
	max := 65535
	if r.tr == querylog.UDP {
		max = 512
		if q.EDNS {
			max = int(min(q.UDPSize, e.cfg.UDPSize))
		}
	}
	if r.limit && e.limiter != nil {
		if ok, logIt := e.limiter.allow(r.src.Addr(), now); !ok {
			o := outcome{action: querylog.RateLimited, cache: querylog.None}
			if e.cfg.RateLimit.Drop {
				resp = nil
			} else {
				resp = w.empty(r.pkt, wire.RcodeSuccess, wire.FlagTC)
			}
			w.count(r, &o)
			if logIt {
				w.log(r, start, &o)
			}
			return resp, false
		}
	}

	snap := e.snap.Load()
	ti := int32(-1)
	if r.hasToken {
		ti = snap.tenantForToken(r.token)
	} else {
		ti = snap.tenantFor(r.src.Addr())
	}
	if ti < 0 {
		resp = w.empty(r.pkt, wire.RcodeRefused, 0)
		return w.finishLog(r, start, &outcome{rcode: wire.RcodeRefused, action: querylog.Refused, cache: querylog.None}, resp), false
	}
	t := &snap.tenants[ti]
	o := outcome{tenant: t, cache: querylog.None}
	if q.EDNS && q.EDNSVersion > 0 {
		o.rcode, o.action = wire.RcodeBadVers, querylog.Failed
		return w.finishLog(r, start, &o, w.empty(r.pkt, wire.RcodeBadVers, 0)), false
	}
	if q.QClass != wire.ClassIN || q.QType == wire.TypeAXFR || q.QType == wire.TypeIXFR || q.QType == wire.TypeOPT {
		o.rcode, o.action = wire.RcodeRefused, querylog.Refused
		return w.finishLog(r, start, &o, w.empty(r.pkt, wire.RcodeRefused, 0)), false
	}

	name := q.Name()
	w.bq.Prepare(name)
	o.v = snap.checkName(t, &w.bq)
	if o.v.blocks() {
		return w.finishLog(r, start, &o, w.block(r.pkt, t, &o, max)), false
	}

	w.key = cache.AppendKey(w.key[:0], name, q.QType, q.QClass)
	ent := e.cache.Get(w.key)
	if ent != nil && now < ent.Expires {
		o.cache = querylog.Hit
		w.c.cache[cacheHit].Add(1)
		if o.v.kind != vAllow {
			if av := snap.checkAnswer(t, ent, &w.bq); av.blocks() {
				o.v = av
				return w.finishLog(r, start, &o, w.block(r.pkt, t, &o, max)), false
			}
		}
		e.maybePrefetch(ent, w.key, name, q.QType, q.QClass, now)
		o.rcode, o.action = ent.RCode, querylog.Allowed
		return w.finishLog(r, start, &o, w.fromEntry(r.pkt, ent, now, 0, max)), false
	}
	if ent != nil && now >= ent.StaleUntil {
		ent = nil
	}
	if !r.wait && !r.failFast {
		return nil, true
	}

	fresh, status, err := e.resolve(w.key, name, q.QType, q.QClass, ent, r.failFast)
	switch {
	case err != nil && ent == nil:
		w.c.cache[cacheMiss].Add(1)
		o.cache, o.rcode, o.action = querylog.Miss, wire.RcodeServFail, querylog.Failed
		return w.finishLog(r, start, &o, w.empty(r.pkt, wire.RcodeServFail, 0)), false
	case status == querylog.Stale:
		w.c.cache[cacheStale].Add(1)
		fresh = ent
	default:
		w.c.cache[cacheMiss].Add(1)
		o.upstream = fresh.Upstream
	}
	o.cache = status
	if o.v.kind != vAllow {
		if av := snap.checkAnswer(t, fresh, &w.bq); av.blocks() {
			o.v = av
			return w.finishLog(r, start, &o, w.block(r.pkt, t, &o, max)), false
		}
	}
	o.rcode, o.action = fresh.RCode, querylog.Allowed
	staleTTL := uint32(0)
	if status == querylog.Stale {
		staleTTL = e.cfg.StaleTTL
	}
	return w.finishLog(r, start, &o, w.fromEntry(r.pkt, fresh, e.cfg.Now().UnixNano(), staleTTL, max)), false
}

// finishLog counts and logs the query, and returns resp.
func (w *worker) finishLog(r *request, start time.Time, o *outcome, resp []byte) []byte {
	w.count(r, o)
	w.log(r, start, o)
	return resp
}

func (w *worker) count(r *request, o *outcome) {
	w.c.count(r.tr, o.rcode, o.action)
	if o.tenant != nil {
		w.c.tenantQ[o.tenant.metric].Add(1)
		if o.action.IsBlock() {
			w.c.tenantB[o.tenant.metric].Add(1)
		}
	}
}

func (w *worker) log(r *request, start time.Time, o *outcome) {
	ql := w.e.cfg.QueryLog
	if ql == nil {
		return
	}
	rec := &w.rec
	rec.Time = start.UnixNano()
	rec.Tenant = ""
	if o.tenant != nil {
		rec.Tenant = o.tenant.id
	}
	rec.Client = r.src.Addr().Unmap()
	rec.Transport = r.tr
	rec.QType, rec.QClass = w.q.QType, w.q.QClass
	rec.RCode = uint16(o.rcode)
	rec.Action = o.action
	rec.Cache = o.cache
	rec.Rule, rec.Feed, rec.Category = o.v.rule, o.v.feed, o.v.category
	rec.Upstream = o.upstream
	rec.Latency = uint32(w.e.cfg.Now().Sub(start) / time.Microsecond)
	rec.SetQName(w.q.Name())
	ql.Push(rec)
}
