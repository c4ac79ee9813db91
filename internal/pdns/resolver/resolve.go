package resolver

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/qsmo/qsmo/internal/pdns/cache"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/upstream"
)

// randShard spreads goroutines over counter shards; it is not security.
func randShard() uint32 {
	return rand.Uint32() % numShards // #nosec G404 -- contention spreading, not security
}

// flight is one upstream resolution that every concurrent query for the
// same question waits on.
type flight struct {
	done  chan struct{}
	entry *cache.Entry
	err   error
}

type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

var errOverloaded = errors.New("resolver: too many queries wait for upstreams")

// resolve returns a fresh entry for the question, resolving it upstream
// (joining a resolution already under way), or the stale entry when the
// upstream fails or is slower than StaleAfter (RFC 8767). With failFast
// no upstream query is started.
func (e *Engine) resolve(key []byte, name []byte, qtype, qclass uint16, stale *cache.Entry, failFast bool) (*cache.Entry, querylog.CacheStatus, error) {
	if failFast {
		if stale != nil {
			return stale, querylog.Stale, nil
		}
		return nil, querylog.Miss, errOverloaded
	}
	f := e.startFlight(string(key), string(name), qtype, qclass)
	if stale == nil {
		<-f.done // a flight ends within ResolveTimeout
		if f.err != nil {
			return nil, querylog.Miss, f.err
		}
		return f.entry, querylog.Miss, nil
	}
	t := time.NewTimer(e.cfg.StaleAfter)
	defer t.Stop()
	select {
	case <-f.done:
		if f.err != nil {
			return stale, querylog.Stale, nil
		}
		return f.entry, querylog.Miss, nil
	case <-t.C:
		return stale, querylog.Stale, nil
	}
}

// startFlight joins the resolution of key or starts one on a goroutine
// owned by the engine, bounded by ResolveTimeout.
func (e *Engine) startFlight(key, name string, qtype, qclass uint16) *flight {
	e.flights.mu.Lock()
	if f, ok := e.flights.m[key]; ok {
		e.flights.mu.Unlock()
		return f
	}
	f := &flight{done: make(chan struct{})}
	e.flights.m[key] = f
	e.flights.mu.Unlock()
	e.workers.Add(1)
	go func() {
		defer e.workers.Done()
		f.entry, f.err = e.fetch(name, qtype, qclass)
		if f.err == nil && f.entry.TTL > 0 {
			e.cache.Set([]byte(key), f.entry)
		}
		e.flights.mu.Lock()
		delete(e.flights.m, key)
		e.flights.mu.Unlock()
		close(f.done)
	}()
	return f
}

// fetch asks the upstreams and packs the answer into an entry.
func (e *Engine) fetch(name string, qtype, qclass uint16) (*cache.Entry, error) {
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.ResolveTimeout)
	defer cancel()
	m, info, err := e.cfg.Upstream.ResolveFrom(ctx, upstream.Question{Name: name, Type: qtype, Class: qclass})
	if err != nil {
		return nil, err
	}
	return cache.NewEntry(m, name, qtype, qclass, e.cfg.Now().UnixNano(), e.cfg.TTL, info.Upstream)
}

type prefetchJob struct {
	key, name     string
	qtype, qclass uint16
	entry         *cache.Entry
}

// maybePrefetch queues a refresh of a popular entry in the last tenth of
// its life, so that it never expires for the clients asking for it. Only
// hits in that window are counted, which keeps the hot path free of
// shared writes the rest of the time.
func (e *Engine) maybePrefetch(ent *cache.Entry, key, name []byte, qtype, qclass uint16, now int64) {
	if e.cfg.NoPrefetch || ent.TTL < 10 {
		return
	}
	if ent.Expires-now > int64(ent.TTL)*int64(time.Second)/10 {
		return
	}
	if ent.Hit() < 2 || !ent.ClaimRefresh() {
		return
	}
	select {
	case e.prefetch <- prefetchJob{key: string(key), name: string(name), qtype: qtype, qclass: qclass, entry: ent}:
	default:
		ent.ReleaseRefresh() // queue full: a later hit may try again
	}
}

func (e *Engine) prefetchWorker() {
	defer e.workers.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case job := <-e.prefetch:
			f := e.startFlight(job.key, job.name, job.qtype, job.qclass)
			select {
			case <-f.done:
			case <-e.ctx.Done():
				return
			}
			if f.err != nil {
				job.entry.ReleaseRefresh()
				continue
			}
			e.metrics.shard().cache[cachePrefetch].Add(1)
		}
	}
}
