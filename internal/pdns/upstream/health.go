package upstream

import (
	"context"
	"sync"
	"time"
)

// rttWeight is the inverse weight of a new sample in the smoothed RTT:
// 1/4, so the ranking follows a change within a few queries without
// jumping at every outlier.
const rttWeight = 4

func (u *upstream) observeRTT(d time.Duration) {
	sample := max(int64(d), 1) // 0 means "not measured"
	for {
		old := u.rtt.Load()
		next := sample
		if old != 0 {
			next = max(old+(sample-old)/rttWeight, 1)
		}
		if u.rtt.CompareAndSwap(old, next) {
			return
		}
	}
}

// succeeded records a good answer: the failure run ends and a down
// upstream is back in service, ranked by this fresh RTT rather than by
// what it measured before it failed.
func (p *Pool) succeeded(u *upstream, rtt time.Duration) {
	u.fails.Store(0)
	u.lastOK.Store(time.Now().UnixNano())
	if u.down.CompareAndSwap(true, false) {
		u.rtt.Store(max(int64(rtt), 1))
		p.log.Info("pdns: upstream back in service", "upstream", u.name, "rtt", rtt)
		return
	}
	u.observeRTT(rtt)
}

// failed records a failure; the FailThreshold-th in a row marks u down.
func (p *Pool) failed(u *upstream, res result, err error) {
	n := u.fails.Add(1)
	if int(n) < p.opts.FailThreshold || !u.down.CompareAndSwap(false, true) {
		return
	}
	attrs := []any{"upstream", u.name, "failures", n, "result", resultNames[res]}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	p.log.Warn("pdns: upstream marked down", attrs...)
}

// Start runs the health prober until ctx ends or Close is called. Every
// ProbeInterval it queries each upstream that is down or has answered
// nothing for a whole interval, all at once and each with ProbeTimeout, and
// waits for them before the next round. A down upstream is back in service
// after one good answer. Without Start, a down upstream comes back only
// when every upstream is down and it answers a real query. Calls after the
// first, or after Close, do nothing.
func (p *Pool) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed.Load() {
		return
	}
	p.started = true
	ctx, p.stopProber = context.WithCancel(ctx)
	p.wg.Add(1)
	go p.probeLoop(ctx)
}

func (p *Pool) probeLoop(ctx context.Context) {
	defer p.wg.Done()
	tick := time.NewTicker(p.opts.ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p.probeRound(ctx)
	}
}

func (p *Pool) probeRound(ctx context.Context) {
	stale := time.Now().Add(-p.opts.ProbeInterval).UnixNano()
	var wg sync.WaitGroup
	for _, u := range p.ups {
		if u.down.Load() || u.lastOK.Load() < stale {
			wg.Go(func() { p.probe(ctx, u) })
		}
	}
	wg.Wait()
}

// probe asks u the probe question. Unlike a real question, SERVFAIL or
// REFUSED for it is the upstream's fault: every resolver can answer it.
func (p *Pool) probe(ctx context.Context, u *upstream) {
	qb := getQuery()
	defer putQuery(qb)
	if err := qb.build(p.opts.ProbeQuestion, p.ids.next()); err != nil {
		return // validated in New
	}
	_, _, res, _ := p.try(ctx, u, qb, p.opts.ProbeTimeout)
	if res == resultServfail || res == resultRefused {
		p.failed(u, res, nil)
	}
}

// Close stops the prober, closes all connections and makes further
// Resolve calls fail with ErrClosed. Queries in flight fail or finish.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed.Swap(true) {
		p.mu.Unlock()
		return nil
	}
	stop := p.stopProber
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	p.wg.Wait()
	for _, u := range p.ups {
		u.ex.close()
		if u.tcp != nil {
			u.tcp.close()
		}
	}
	return nil
}
